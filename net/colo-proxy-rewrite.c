/*
 * COLO proxy: the secondary's rewriting of TCP sequence numbers, per
 * connection (no QOM, no I/O)
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "net/colo-proxy-rewrite.h"
#include "net/colo-proxy-seq.h"
#include "standard-headers/linux/virtio_net.h"

/* Who sent a frame: the index into a connection's side[]. */
enum { CLIENT = 0, GUEST = 1 };

/* What the translation knows of one endpoint, as pf's pf_state_peer. */
typedef struct ColoRwSide {
    bool syn;                   /* its SYN was seen */
    bool ts;                    /* with a timestamps option */
    uint32_t isn;               /* in its own number space */
    uint32_t tsval;             /* its SYN's TSval */
} ColoRwSide;

/* A frame of the client waiting for its connection's offset. */
typedef struct ColoRwFrame {
    QSIMPLEQ_ENTRY(ColoRwFrame) next;
    uint32_t len;
    uint32_t vnet_len;
    uint8_t data[];
} ColoRwFrame;

typedef struct ColoRwConn {
    ColoConn conn;              /* the table's part, first */
    ColoRwSide side[2];         /* CLIENT, GUEST */
    uint8_t client_end;         /* the client's endpoint index in the key */
    bool offset_known;
    uint32_t offset;            /* primary's seq - secondary's, mod 2^32 */
    uint32_t base;              /* clients' seq - primary's (handed over) */
    uint32_t ts_offset;         /* primary's TSval - secondary's */
    uint32_t ts_base;           /* as base, for TSval */
    QSIMPLEQ_HEAD(, ColoRwFrame) hold;
    uint64_t held_bytes;
} ColoRwConn;

struct ColoRw {
    ColoRwLimits lim;
    const ColoRwOps *ops;
    void *opaque;
    ColoConnTable *conns;
    uint64_t held_bytes;
    bool direct;                /* taken over: the base offsets apply */
    ColoRwStats stats;
};

/* What moves a connection's numbers: its own offset, and the base. */
static uint32_t colo_rw_offset(const ColoRw *rw, const ColoRwConn *rc)
{
    return rc->offset + (rw->direct ? rc->base : 0);
}

/* The same for its timestamps (RFC 7323): each VM has its own clock. */
static uint32_t colo_rw_ts_offset(const ColoRw *rw, const ColoRwConn *rc)
{
    return rc->ts_offset + (rw->direct ? rc->ts_base : 0);
}

static size_t colo_rw_frame_size(const ColoRwFrame *f)
{
    return sizeof(*f) + f->len;
}

static void colo_rw_unhold(ColoRw *rw, ColoRwConn *rc)
{
    ColoRwFrame *f = QSIMPLEQ_FIRST(&rc->hold);

    QSIMPLEQ_REMOVE_HEAD(&rc->hold, next);
    rc->held_bytes -= colo_rw_frame_size(f);
    rw->held_bytes -= colo_rw_frame_size(f);
    g_free(f);
}

static void colo_rw_drop_held(ColoRw *rw, ColoRwConn *rc, uint64_t *counter)
{
    while (!QSIMPLEQ_EMPTY(&rc->hold)) {
        colo_rw_unhold(rw, rc);
        (*counter)++;
    }
}

/*
 * Forgetting @rc loses a translation: it has an offset other than zero,
 * or it is in a handshake the secondary VM answered, whose offset only
 * the client's next ack would teach (a connection seen again without
 * its SYNs is taken for one the last checkpoint copied: offset zero).
 */
static bool colo_rw_conn_needs_offset(const ColoRwConn *rc)
{
    if (rc->conn.state == COLO_CONN_CLOSED) {
        return false;
    }
    if (!rc->offset_known) {
        return rc->side[GUEST].syn;
    }
    return rc->offset || rc->base || rc->ts_offset || rc->ts_base;
}

/* The table evicts or forgets @conn. */
static void colo_rw_conn_release(void *opaque, ColoConn *conn)
{
    ColoRw *rw = opaque;
    ColoRwConn *rc = (ColoRwConn *)conn;

    /*
     * Its frames can no longer be translated: the secondary VM's view of
     * it diverges, which the primary's comparison turns into a checkpoint.
     */
    rw->stats.offsets_lost += colo_rw_conn_needs_offset(rc);
    colo_rw_drop_held(rw, rc, &rw->stats.evicted);
}

/* A new connection on the 5-tuple: nothing of the old one applies. */
static void colo_rw_restart(ColoRw *rw, ColoRwConn *rc)
{
    memset(rc->side, 0, sizeof(rc->side));
    rc->offset_known = false;
    rc->offset = 0;
    rc->base = 0;
    rc->ts_offset = 0;
    rc->ts_base = 0;
}

static bool colo_rw_partial(const uint8_t *buf, uint32_t vnet_len)
{
    return vnet_len && (buf[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM);
}

/*
 * The connection of @p (TCP), created if need be; *@from: the endpoint
 * index of its sender, which is the client's for @ingress.
 */
static ColoRwConn *colo_rw_conn(ColoRw *rw, const ColoPacket *p,
                                bool ingress, int64_t now, int *from)
{
    ColoConnKey key;
    ColoRwConn *rc;
    bool created;

    *from = colo_conn_key_from_packet(p, &key);
    rc = (ColoRwConn *)colo_conn_get(rw->conns, &key, now, &created);
    if (created) {
        QSIMPLEQ_INIT(&rc->hold);
        rc->client_end = ingress ? *from : !*from;
    }
    return rc;
}

/*
 * The timestamp offset: the client's first ack echoes the primary's SYN's
 * TSval, the secondary VM's SYN had its own.  Both VMs' clocks then run
 * at the same rate, so after a failover the client sees the secondary's
 * timestamps go on from the primary's instead of jumping back (which
 * PAWS, RFC 7323 5, would take for old duplicates and drop).
 */
static void colo_rw_learn_ts(ColoRwConn *rc, const uint8_t *frame,
                             const ColoPacket *p)
{
    uint32_t val, ecr;

    if (rc->side[GUEST].ts && colo_seq_get_ts(frame, p, &val, &ecr)) {
        rc->ts_offset = ecr - rc->side[GUEST].tsval - rc->ts_base;
    }
}

/*
 * Learn the offset from an ack of the client, or say it cannot be learnt
 * yet: the secondary VM has not sent its SYN.
 */
static bool colo_rw_learn(ColoRwConn *rc, const uint8_t *frame,
                          const ColoPacket *p)
{
    if (!rc->side[GUEST].syn) {
        /*
         * In a handshake the ack names a number the secondary VM has not
         * chosen yet.  Outside one, this is a connection the last
         * checkpoint copied: both VMs agree.
         */
        if (rc->side[CLIENT].syn || (p->tcp_flags & COLO_TCP_SYN)) {
            return false;
        }
        rc->offset = 0;
    } else {
        /* the first ack after the SYNs acknowledges the primary's ISN */
        rc->offset = p->ack - 1 - rc->side[GUEST].isn - rc->base;
        colo_rw_learn_ts(rc, frame, p);
    }
    rc->offset_known = true;
    return true;
}

/*
 * Translate a frame of the client (@p, its parse after the vnet header)
 * in place; false if it must wait for the offset.  Its ack then names
 * the secondary VM's numbers: the connection's life is followed from
 * there.
 */
static bool colo_rw_translate_in(ColoRw *rw, ColoRwConn *rc, uint8_t *buf,
                                 uint32_t vnet_len, ColoPacket *p)
{
    uint32_t offset, ts;

    if (p->tcp_flags & COLO_TCP_ACK) {
        if (!rc->offset_known && !colo_rw_learn(rc, buf + vnet_len, p)) {
            return false;
        }
        offset = colo_rw_offset(rw, rc);
        ts = colo_rw_ts_offset(rw, rc);
        colo_seq_move_ack(buf + vnet_len, p, offset,
                          colo_rw_partial(buf, vnet_len));
        colo_seq_move_ts(buf + vnet_len, p, 0, ts,
                         colo_rw_partial(buf, vnet_len));
        rw->stats.translated += offset || ts;
        p->ack -= offset;
    }
    if (!(p->tcp_flags & COLO_TCP_SYN)) {
        colo_conn_track(&rc->conn, p, rc->client_end);
    }
    return true;
}

/* Hold a frame of the client until its connection's offset is known. */
static void colo_rw_hold(ColoRw *rw, ColoRwConn *rc, const uint8_t *buf,
                         uint32_t len, uint32_t vnet_len)
{
    size_t size = sizeof(ColoRwFrame) + len;
    ColoRwFrame *f;

    if (rc->held_bytes + size > rw->lim.conn_hold_bytes ||
        rw->held_bytes + size > rw->lim.hold_bytes) {
        rw->stats.hold_overflow++;
        return;
    }
    f = g_malloc(size);
    f->len = len;
    f->vnet_len = vnet_len;
    memcpy(f->data, buf, len);
    QSIMPLEQ_INSERT_TAIL(&rc->hold, f, next);
    rc->held_bytes += size;
    rw->held_bytes += size;
    rw->stats.held++;
}

/* Deliver what a connection held, in order, as far as it now can. */
static void colo_rw_flush(ColoRw *rw, ColoRwConn *rc)
{
    ColoRwFrame *f;
    ColoPacket p;

    while ((f = QSIMPLEQ_FIRST(&rc->hold))) {
        colo_packet_parse(f->data + f->vnet_len, f->len - f->vnet_len, &p);
        if (!colo_rw_translate_in(rw, rc, f->data, f->vnet_len, &p)) {
            return;
        }
        rw->ops->deliver(rw->opaque, f->data, f->len);
        colo_rw_unhold(rw, rc);
    }
}

void colo_rw_ingress(ColoRw *rw, uint8_t *buf, uint32_t len,
                     uint32_t vnet_len, int64_t now)
{
    ColoRwConn *rc;
    ColoPacket p;
    int from;

    vnet_len = MIN(vnet_len, len);
    if (colo_packet_parse(buf + vnet_len, len - vnet_len, &p) !=
        COLO_PKT_TCP) {
        rw->ops->deliver(rw->opaque, buf, len);
        return;
    }
    rc = colo_rw_conn(rw, &p, true, now, &from);
    /* a SYN on a closed or reused 5-tuple starts over before anything */
    if ((p.tcp_flags & COLO_TCP_SYN) &&
        colo_conn_track(&rc->conn, &p, from)) {
        colo_rw_restart(rw, rc);
    }
    if ((p.tcp_flags & COLO_TCP_SYN) && !(p.tcp_flags & COLO_TCP_RST)) {
        rc->side[CLIENT].syn = true;
        rc->side[CLIENT].isn = p.seq;
    }
    if (!QSIMPLEQ_EMPTY(&rc->hold) ||
        !colo_rw_translate_in(rw, rc, buf, vnet_len, &p)) {
        colo_rw_hold(rw, rc, buf, len, vnet_len);
        return;
    }
    rw->ops->deliver(rw->opaque, buf, len);
}

void colo_rw_egress(ColoRw *rw, uint8_t *buf, uint32_t len,
                    uint32_t vnet_len, int64_t now)
{
    uint8_t *frame;
    ColoRwConn *rc;
    ColoPacket p;
    int from;

    vnet_len = MIN(vnet_len, len);
    frame = buf + vnet_len;
    if (colo_packet_parse(frame, len - vnet_len, &p) != COLO_PKT_TCP) {
        return;
    }
    rc = colo_rw_conn(rw, &p, false, now, &from);
    /* in the secondary VM's own numbers, before they are moved */
    if (colo_conn_track(&rc->conn, &p, from)) {
        colo_rw_restart(rw, rc);
    }
    if ((p.tcp_flags & COLO_TCP_SYN) && !rc->offset_known) {
        uint32_t ecr;

        rc->side[GUEST].syn = true;
        rc->side[GUEST].isn = p.seq;
        rc->side[GUEST].ts = colo_seq_get_ts(frame, &p,
                                             &rc->side[GUEST].tsval, &ecr);
    }
    if (rc->offset_known) {
        uint32_t offset = colo_rw_offset(rw, rc);
        uint32_t ts = colo_rw_ts_offset(rw, rc);
        bool partial = colo_rw_partial(buf, vnet_len);

        colo_seq_move_seq(frame, &p, offset, partial);
        colo_seq_move_ts(frame, &p, ts, 0, partial);
        rw->stats.translated += offset || ts;
    }
    if (!QSIMPLEQ_EMPTY(&rc->hold)) {
        colo_rw_flush(rw, rc);
    }
}

static void colo_rw_conn_checkpoint(void *opaque, ColoConn *conn)
{
    ColoRw *rw = opaque;
    ColoRwConn *rc = (ColoRwConn *)conn;

    rc->offset_known = true;
    rc->offset = 0;
    rc->ts_offset = 0;
    colo_rw_drop_held(rw, rc, &rw->stats.stale);
}

void colo_rw_checkpoint(ColoRw *rw)
{
    colo_conn_foreach(rw->conns, colo_rw_conn_checkpoint, rw);
}

void colo_rw_tick(ColoRw *rw, int64_t now)
{
    colo_conn_reap(rw->conns, now, rw->lim.closed_grace_ns, 0);
}

void colo_rw_failover(ColoRw *rw)
{
    rw->direct = true;
}

typedef struct ColoRwExport {
    ColoRw *rw;
    uint8_t *buf;
    size_t len;
    size_t used;
    uint32_t index;             /* of the connection looked at */
    uint32_t from;              /* the first to write */
    bool full;
} ColoRwExport;

/*
 * One entry: the key's fields in network order, then the offset and the
 * timestamp offset.
 */
static void colo_rw_export_one(void *opaque, ColoConn *conn)
{
    ColoRwExport *x = opaque;
    ColoRwConn *rc = (ColoRwConn *)conn;
    uint32_t offset = colo_rw_offset(x->rw, rc);
    uint32_t ts = colo_rw_ts_offset(x->rw, rc);
    uint8_t *e;

    if (x->full || x->index++ < x->from || !rc->offset_known ||
        (!offset && !ts) || conn->state == COLO_CONN_CLOSED) {
        return;
    }
    if (x->used + COLO_RW_ENTRY_LEN > x->len) {
        x->full = true;
        x->index--;
        return;
    }
    e = x->buf + x->used;
    memset(e, 0, COLO_RW_ENTRY_LEN);
    memcpy(e, conn->key.addr, sizeof(conn->key.addr));
    stw_be_p(e + 32, conn->key.port[0]);
    stw_be_p(e + 34, conn->key.port[1]);
    stw_be_p(e + 36, conn->key.vlan);
    e[38] = conn->key.proto;
    e[39] = conn->key.ip_version;
    e[40] = conn->key.kind;
    e[41] = rc->client_end;
    stl_be_p(e + 44, offset);
    stl_be_p(e + 48, ts);
    x->used += COLO_RW_ENTRY_LEN;
}

size_t colo_rw_export(ColoRw *rw, uint8_t *buf, size_t len,
                      uint32_t *cursor)
{
    ColoRwExport x = { .rw = rw, .buf = buf, .len = len, .from = *cursor };

    colo_conn_foreach(rw->conns, colo_rw_export_one, &x);
    *cursor = x.full ? x.index : 0;
    return x.used;
}

bool colo_rw_import(ColoRw *rw, const uint8_t *buf, size_t len,
                    int64_t now)
{
    if (len % COLO_RW_ENTRY_LEN) {
        return false;
    }
    for (const uint8_t *e = buf; e < buf + len; e += COLO_RW_ENTRY_LEN) {
        ColoConnKey key = { 0 };
        ColoRwConn *rc;
        bool created;

        memcpy(key.addr, e, sizeof(key.addr));
        key.port[0] = lduw_be_p(e + 32);
        key.port[1] = lduw_be_p(e + 34);
        key.vlan = lduw_be_p(e + 36);
        key.proto = e[38];
        key.ip_version = e[39];
        key.kind = e[40];
        rc = (ColoRwConn *)colo_conn_get(rw->conns, &key, now, &created);
        if (created) {
            QSIMPLEQ_INIT(&rc->hold);
            rc->conn.state = COLO_CONN_ESTABLISHED;
            rc->client_end = e[41] & 1;
        }
        rc->base = ldl_be_p(e + 44);
        rc->ts_base = ldl_be_p(e + 48);
        rw->stats.imported++;
    }
    return true;
}

ColoRw *colo_rw_new(const ColoRwLimits *lim, uint32_t seed,
                    const ColoRwOps *ops, void *opaque)
{
    ColoRw *rw = g_new0(ColoRw, 1);

    rw->lim = *lim;
    rw->ops = ops;
    rw->opaque = opaque;
    rw->conns = colo_conn_table_new(lim->max_conns, sizeof(ColoRwConn), seed,
                                    colo_rw_conn_release, rw);
    return rw;
}

void colo_rw_free(ColoRw *rw)
{
    if (rw) {
        colo_conn_table_free(rw->conns);
        g_free(rw);
    }
}

const ColoRwStats *colo_rw_stats(const ColoRw *rw)
{
    return &rw->stats;
}

uint32_t colo_rw_conns(const ColoRw *rw)
{
    return colo_conn_count(rw->conns);
}

uint64_t colo_rw_evictions(const ColoRw *rw)
{
    uint64_t n = 0;

    for (int i = 0; i < COLO_EVICT__MAX; i++) {
        n += colo_conn_evictions(rw->conns, i);
    }
    return n;
}

uint64_t colo_rw_held_bytes(const ColoRw *rw)
{
    return rw->held_bytes;
}
