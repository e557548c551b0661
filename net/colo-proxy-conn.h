/*
 * COLO proxy: bounded connection table (no QOM, no I/O)
 *
 * Connections are keyed by a direction-independent 5-tuple (plus VLAN and
 * IP version), hashed with jhash under a random per-table seed so that
 * guest- or client-chosen addresses cannot pick buckets.  The table has a
 * fixed maximum; when it is full, inserting evicts one entry (closed, then
 * idle, then not established, then the least recently used), after the
 * owner's evict callback has released whatever the entry holds.  It is
 * never wiped.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_CONN_H
#define QEMU_NET_COLO_PROXY_CONN_H

#include "qemu/queue.h"
#include "net/colo-proxy-packet.h"

/* Canonical key: endpoint 0 is the lower of the two (address, port). */
typedef struct ColoConnKey {
    uint8_t addr[2][COLO_PKT_ADDR_LEN];
    uint16_t port[2];
    uint16_t vlan;
    uint8_t proto;              /* ARP: the opcode */
    uint8_t ip_version;         /* 4 or 6; 0 for non-IP */
    uint8_t kind;               /* ColoPacketKind: fragments apart */
    uint8_t pad[3];
} ColoConnKey;

QEMU_BUILD_BUG_ON(sizeof(ColoConnKey) % 4 != 0);

typedef enum ColoConnState {
    COLO_CONN_NEW,              /* no handshake completed (or not TCP yet) */
    COLO_CONN_ESTABLISHED,      /* a half-closed connection still is */
    COLO_CONN_CLOSED,           /* both FINs acked, or an in-window RST */
} ColoConnState;

/*
 * What one endpoint of a TCP connection sent, in its own sequence space
 * (the table's user feeds both endpoints' frames in one space each).
 */
typedef struct ColoConnPeer {
    bool syn;
    bool fin;
    bool fin_acked;             /* the other endpoint acked the FIN */
    bool ack_seen;
    uint32_t isn;
    uint32_t fin_end;           /* the FIN's sequence number + 1 */
    uint32_t ack;               /* the last ack it sent */
} ColoConnPeer;

typedef enum ColoConnEvictWhy {
    COLO_EVICT_CLOSED,
    COLO_EVICT_IDLE,
    COLO_EVICT_NEW,
    COLO_EVICT_LRU,
    COLO_EVICT__MAX,
} ColoConnEvictWhy;

typedef struct ColoConn {
    ColoConnKey key;
    ColoConnState state;
    int64_t last_ns;            /* last frame seen, in the caller's clock */
    ColoConnPeer peer[2];       /* by the endpoint index of the key */
    QLIST_ENTRY(ColoConn) hnext;
    QTAILQ_ENTRY(ColoConn) lru; /* oldest first */
} ColoConn;

typedef struct ColoConnTable ColoConnTable;

/* Release what @c holds before it is freed (evicted or reaped). */
typedef void ColoConnReleaseFn(void *opaque, ColoConn *c);

/*
 * @conn_size: size of the owner's per-connection struct, which starts with
 * a ColoConn and is zeroed at insertion.
 */
ColoConnTable *colo_conn_table_new(uint32_t max, size_t conn_size,
                                   uint32_t seed, ColoConnReleaseFn *release,
                                   void *opaque);
void colo_conn_table_free(ColoConnTable *t);

/*
 * Key of @p's connection; returns which endpoint sent @p (0 or 1).
 * Fragments have keys of their own (they carry no ports), apart from the
 * flows of the same addresses; an ARP exchange is keyed by its opcode and
 * addresses (sender, target: not made symmetric); other non-IP and
 * malformed frames share per-ethertype keys.
 */
int colo_conn_key_from_packet(const ColoPacket *p, ColoConnKey *key);

ColoConn *colo_conn_lookup(ColoConnTable *t, const ColoConnKey *key);
/*
 * Follow a TCP connection's state from a frame its endpoint @side (as
 * colo_conn_key_from_packet() returned it) sent.  It is closed once both
 * FINs are acked (a half-closed connection is not), or by an RST whose
 * sequence number is in the receiver's window (RFC 793; a stale RST from
 * behind what the receiver acked is not).  Returns true if @p is a SYN
 * that starts a new connection on the entry: the old one was closed, or
 * the SYN has another ISN than the one seen before (the 5-tuple was
 * reused); the per-peer state then starts over.
 */
bool colo_conn_track(ColoConn *c, const ColoPacket *p, int side);
/*
 * Look up, or insert (evicting if full); marks the entry used at @now.
 * *@created says whether the entry is new (and zeroed but for its key).
 */
ColoConn *colo_conn_get(ColoConnTable *t, const ColoConnKey *key,
                        int64_t now, bool *created);
void colo_conn_remove(ColoConnTable *t, ColoConn *c);
/*
 * Remove closed entries unused for @grace_ns (a late retransmission or
 * ack keeps one) and any entry unused for @idle_ns (0: never).
 */
void colo_conn_reap(ColoConnTable *t, int64_t now, int64_t grace_ns,
                    int64_t idle_ns);
void colo_conn_foreach(ColoConnTable *t, void (*fn)(void *, ColoConn *),
                       void *opaque);

uint32_t colo_conn_count(const ColoConnTable *t);
uint64_t colo_conn_evictions(const ColoConnTable *t, ColoConnEvictWhy why);
void colo_conn_set_idle(ColoConnTable *t, int64_t idle_ns);

#endif /* QEMU_NET_COLO_PROXY_CONN_H */
