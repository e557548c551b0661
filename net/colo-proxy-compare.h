/*
 * COLO proxy: per-connection comparison of the two VMs' output
 * (no QOM, no I/O)
 *
 * The primary VM's frames are held per connection; the secondary VM's
 * output only has to be remembered until it is compared.  A primary frame
 * is released, once and in order per connection, as soon as the secondary
 * produced the same output, or on a checkpoint.
 *
 * TCP is compared as a byte stream, by position in the sequence space:
 * both sides' data [a, b) must be the same bytes, whatever the segments
 * that carried it, and SYN, FIN and RST must agree.  IP ID, TTL,
 * checksums, TCP window, timestamps and other options are never compared;
 * on the ports configured for it, HTTP responses' Date values may differ;
 * the secondary's sequence numbers reach the primary already translated
 * (colo-proxy-rewrite.c), only its SYN carries its own ISN.  UDP, ICMP
 * and other IP protocols are compared datagram by datagram in order, by
 * payload (not the header fields an ICMPv4 error quotes that a guest may
 * choose); IP fragments by fragment offset and payload; anything else
 * (ARP per exchange, malformed frames per ethertype) as whole frames, in
 * order.  TCP output only the secondary sends, unmatched for the compare
 * timeout, is a divergence too.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_COMPARE_H
#define QEMU_NET_COLO_PROXY_COMPARE_H

#include "qemu/queue.h"
#include "net/colo-proxy-conn.h"

/* Why a checkpoint is requested; a counter each. */
typedef enum ColoCmpReason {
    COLO_CMP_MISMATCH_PAYLOAD,  /* different bytes at the same position */
    COLO_CMP_MISMATCH_FLAGS,    /* SYN, FIN or RST disagree */
    COLO_CMP_MISMATCH_FRAME,    /* datagram or whole frame differs */
    COLO_CMP_TIMEOUT,           /* a primary frame waited too long */
    COLO_CMP_QUEUE_CONN,        /* a connection holds too much */
    COLO_CMP_QUEUE_TOTAL,       /* everything held is too much */
    COLO_CMP_SECONDARY_AHEAD,   /* the secondary's output is too far ahead */
    COLO_CMP_EVICTED,           /* the table evicted a connection that held */
    COLO_CMP_SECONDARY_ONLY,    /* TCP output only the secondary sent */
    COLO_CMP_RESYNC,            /* the link came back during COLO */
    COLO_CMP_SECONDARY_TOTAL,   /* the secondary's output kept, in all */
    COLO_CMP_REASON__MAX,
} ColoCmpReason;

/* The guest's TCP ports whose HTTP Date fields may differ, at most. */
#define COLO_CMP_HTTP_DATE_PORTS 8

typedef struct ColoCmpLimits {
    /* byte bounds count memory: a copy's block and its bookkeeping */
    uint32_t conn_frames;       /* primary frames held per connection */
    uint64_t conn_bytes;
    uint32_t total_frames;      /* primary frames held in all */
    uint64_t total_bytes;
    uint64_t svm_bytes;         /* secondary output kept per connection */
    uint64_t svm_total;         /* ... over all connections */
    uint32_t max_conns;
    int64_t timeout_ns;         /* compare timeout */
    int64_t closed_grace_ns;    /* closed connections kept this long */
    /*
     * HTTP/1.x responses from these ports of the guest may differ in the
     * value of a Date field, by @http_date_window seconds at most: the
     * primary's is released (see colo-proxy-http.h).  Port 0 is none.
     */
    uint16_t http_date_ports[COLO_CMP_HTTP_DATE_PORTS];
    uint32_t http_date_window;
} ColoCmpLimits;

/* A primary frame, held until it can be released. */
typedef struct ColoCmpFrame {
    QTAILQ_ENTRY(ColoCmpFrame) conn_next;   /* in its connection, in order */
    QTAILQ_ENTRY(ColoCmpFrame) all_next;    /* all held, oldest first */
    struct ColoCmpConn *conn;
    int64_t arrival_ns;
    unsigned flags;             /* the net layer's, for sending it on */
    uint32_t vnet_len;
    uint32_t len;
    /* what the comparison needs, from the parse */
    uint64_t start;             /* TCP: stream position of the payload */
    uint64_t end;
    uint32_t payload_off;       /* TCP: where the payload is in data[] */
    uint32_t ack;               /* TCP: its ack number, if ACK is set */
    uint8_t tcp_flags;
    bool matched;               /* datagrams: the secondary sent it too */
    uint8_t data[];
} ColoCmpFrame;

typedef struct ColoCmpStats {
    uint64_t compared;          /* frames of either side compared */
    uint64_t matched_bytes;     /* bytes found equal on both sides */
    uint64_t released;          /* primary frames released after a match */
    uint64_t released_checkpoint;   /* ... on a checkpoint */
    uint64_t released_forced;   /* ... unmatched, past twice a bound */
    uint64_t svm_dropped;       /* secondary output dropped, not needed */
    uint64_t malformed;         /* frames compared whole: malformed */
    uint64_t requests[COLO_CMP_REASON__MAX];
    uint64_t evictions;
    uint64_t http_date_equal;   /* Date fields that differed, let pass */
} ColoCmpStats;

typedef struct ColoCmp ColoCmp;
typedef struct ColoCmpConn ColoCmpConn;

typedef struct ColoCmpOps {
    /* Send the frame @buf on; it is valid only during the call. */
    void (*release)(void *opaque, const uint8_t *buf, uint32_t len,
                    unsigned flags);
    /* Ask for a checkpoint; @conn may be NULL (total bounds). */
    void (*request)(void *opaque, ColoCmpReason why,
                    const ColoConnKey *conn);
    /*
     * Optional: the two guests' HTTP Date fields at stream position @pos
     * of @conn differed by @delta seconds (the secondary's less the
     * primary's) and were treated as equal.
     */
    void (*date_equal)(void *opaque, const ColoConnKey *conn, uint64_t pos,
                       int64_t delta);
} ColoCmpOps;

ColoCmp *colo_cmp_new(const ColoCmpLimits *lim, uint32_t seed,
                      const ColoCmpOps *ops, void *opaque);
void colo_cmp_free(ColoCmp *c);

/*
 * A frame the primary VM sent (@vnet_len bytes of vnet header first).
 * It is copied and held, or released at once.
 */
void colo_cmp_primary(ColoCmp *c, const uint8_t *buf, uint32_t len,
                      uint32_t vnet_len, unsigned flags, int64_t now);
/* A frame the secondary VM sent; only compared, never sent on. */
void colo_cmp_secondary(ColoCmp *c, const uint8_t *buf, uint32_t len,
                        uint32_t vnet_len, int64_t now);
/*
 * A frame of the client's, to the primary's guest: it only tells how
 * the connection lives (a half-close, an RST, a SYN reusing the 5-tuple).
 */
void colo_cmp_ingress(ColoCmp *c, const uint8_t *buf, uint32_t len,
                      uint32_t vnet_len, int64_t now);
/*
 * The secondary missed frames (the link was down during COLO): ask for
 * a checkpoint, which makes it a copy again.
 */
void colo_cmp_request_resync(ColoCmp *c);
/* A checkpoint completed: release everything held, forget the rest. */
void colo_cmp_checkpoint(ColoCmp *c);
/* Unprotected from now on (link lost, failover): release everything. */
void colo_cmp_release_all(ColoCmp *c);
/*
 * Raise the timeout request if the oldest held frame is too old; forget
 * connections closed longer than the grace period ago.
 */
void colo_cmp_tick(ColoCmp *c, int64_t now);

const ColoCmpStats *colo_cmp_stats(ColoCmp *c);
uint32_t colo_cmp_held_frames(const ColoCmp *c);
/* Memory the held primary frames take (what the byte bounds count). */
uint64_t colo_cmp_held_bytes(const ColoCmp *c);
/* Memory the secondary's output kept for comparison takes. */
uint64_t colo_cmp_svm_bytes(const ColoCmp *c);
uint32_t colo_cmp_conns(const ColoCmp *c);
const char *colo_cmp_reason_str(ColoCmpReason why);

#endif /* QEMU_NET_COLO_PROXY_COMPARE_H */
