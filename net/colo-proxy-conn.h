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
    uint8_t proto;
    uint8_t ip_version;         /* 4 or 6; 0 for non-IP (one "connection") */
} ColoConnKey;

QEMU_BUILD_BUG_ON(sizeof(ColoConnKey) % 4 != 0);

typedef enum ColoConnState {
    COLO_CONN_NEW,              /* no handshake completed (or not TCP yet) */
    COLO_CONN_ESTABLISHED,
    COLO_CONN_CLOSED,           /* FIN both ways or RST: reaped after grace */
} ColoConnState;

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
    int64_t closed_ns;
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
 * Non-IP frames, fragments and malformed frames share per-ethertype keys.
 */
int colo_conn_key_from_packet(const ColoPacket *p, ColoConnKey *key);

ColoConn *colo_conn_lookup(ColoConnTable *t, const ColoConnKey *key);
/*
 * Follow a TCP connection's state from one of its frames (either side):
 * FIN or RST closes it (the grace period starts), a SYN on a closed one
 * starts it anew, anything else after the handshake establishes it.
 */
void colo_conn_track(ColoConn *c, const ColoPacket *p, int64_t now);
/*
 * Look up, or insert (evicting if full); marks the entry used at @now.
 * *@created says whether the entry is new (and zeroed but for its key).
 */
ColoConn *colo_conn_get(ColoConnTable *t, const ColoConnKey *key,
                        int64_t now, bool *created);
void colo_conn_remove(ColoConnTable *t, ColoConn *c);
/* Remove closed entries older than @grace_ns and idle ones over @idle_ns. */
void colo_conn_reap(ColoConnTable *t, int64_t now, int64_t grace_ns,
                    int64_t idle_ns);
void colo_conn_foreach(ColoConnTable *t, void (*fn)(void *, ColoConn *),
                       void *opaque);

uint32_t colo_conn_count(const ColoConnTable *t);
uint64_t colo_conn_evictions(const ColoConnTable *t, ColoConnEvictWhy why);
void colo_conn_set_idle(ColoConnTable *t, int64_t idle_ns);

#endif /* QEMU_NET_COLO_PROXY_CONN_H */
