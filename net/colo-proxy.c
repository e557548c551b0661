/*
 * COLO network proxy: one netfilter per host that mirrors, compares and
 * releases the traffic of a COLO primary/secondary pair.
 *
 * It replaces the chain upstream COLO builds from filter-mirror, two
 * filter-redirectors, colo-compare and filter-rewriter (see
 * docs/colo-proxy.txt): one object per host, attached to the netdev that
 * carries the guest's traffic, talking to its peer over one link given by
 * the "addr" property.
 *
 * Primary:   ingress (netdev -> guest) is delivered and mirrored to the
 *            secondary; the guest's output is held until the secondary's
 *            guest sent the same frame, then released in order.
 * Secondary: frames from the link are the guest's ingress (TCP acks moved
 *            into its sequence space); the guest's output goes to the
 *            primary (TCP seqs moved into the primary's space); ingress
 *            from this host's own network is not delivered until failover.
 *
 * Everything runs in the main loop, under the BQL.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/guest-random.h"
#include "qemu/iov.h"
#include "qemu/main-loop.h"
#include "qemu/sockets.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-net.h"
#include "qapi/qapi-events-net.h"
#include "qapi/qapi-types-qom.h"
#include "qapi/qapi-visit-sockets.h"
#include "qapi/visitor.h"
#include "qom/object.h"
#include "qom/object_interfaces.h"
#include "crypto/tlscreds.h"
#include "migration/colo.h"
#include "net/filter.h"
#include "net/net.h"
#include "net/colo-proxy.h"
#include "net/colo-proxy-compare.h"
#include "net/colo-proxy-conn.h"
#include "net/colo-proxy-io.h"
#include "net/colo-proxy-notify.h"
#include "net/colo-proxy-rewrite.h"
#include "trace.h"

enum {
    COLO_PROXY_LINK_TIMEOUT_DEFAULT = 2000,         /* ms */
    COLO_PROXY_LINK_TIMEOUT_MIN = 20,
    COLO_PROXY_COMPARE_TIMEOUT_DEFAULT = 3000,      /* ms */
    COLO_PROXY_MAX_HELD_DEFAULT = 16384,            /* frames */
    COLO_PROXY_MAX_CONN_HELD_DEFAULT = 2048,        /* frames */
    COLO_PROXY_MAX_CONNS_DEFAULT = 65536,
    COLO_PROXY_HTTP_DATE_WINDOW_DEFAULT = 2,        /* s */
    /* A closed connection's entry stays while used, and this long (ms). */
    COLO_PROXY_CLOSED_GRACE_MS = 10000,
    /* At most one warning of refused connections this often (ms). */
    COLO_PROXY_REJECT_WARN_MS = 10000,
};

/* Ingress held per connection until its offset is known (a handshake). */
#define COLO_PROXY_CONN_HOLD_BYTES (256 * KiB)

#define COLO_PROXY_LINK_BUFFER_DEFAULT (16 * MiB)
#define COLO_PROXY_LINK_BUFFER_MIN     (2 * COLO_LINK_MAX_PAYLOAD)
#define COLO_PROXY_FRAME_MAX           COLO_LINK_MAX_PAYLOAD
#define COLO_PROXY_ETH_HLEN            14
#define COLO_PROXY_MAX_HELD_BYTES_DEFAULT      (64 * MiB)
#define COLO_PROXY_MAX_CONN_HELD_BYTES_DEFAULT (16 * MiB)
#define COLO_PROXY_MAX_AHEAD_DEFAULT           (16 * MiB)
#define COLO_PROXY_MAX_AHEAD_TOTAL_DEFAULT     (64 * MiB)

OBJECT_DECLARE_SIMPLE_TYPE(ColoProxyState, COLO_PROXY)

/*
 * Who to tell when a checkpoint is needed: the COLO framework, which is
 * one per process, like colo-compare's notifiers.
 */
static NotifierList colo_proxy_notifiers =
    NOTIFIER_LIST_INITIALIZER(colo_proxy_notifiers);

void colo_proxy_register_notifier(Notifier *notify)
{
    assert(bql_locked());
    notifier_list_add(&colo_proxy_notifiers, notify);
}

void colo_proxy_unregister_notifier(Notifier *notify)
{
    assert(bql_locked());
    notifier_remove(notify);
}

/*
 * Frames passed on at the pace the next hop takes them.  QEMU's net queue
 * holds at most 10000 packets sent without a callback and drops the rest,
 * and refuses everything while the VM is stopped (a checkpoint releases
 * then): a proxy that released thousands of frames at once would lose
 * the tail.  So at most one frame of a ColoProxyTx sits in the receiver's
 * queue, with a sent callback; the others wait here, in order.
 */
typedef enum ColoProxyTxKind {
    COLO_PROXY_TX_RELEASED,     /* primary: a held frame, compared */
    COLO_PROXY_TX_PASSED,       /* unprotected */
    COLO_PROXY_TX_DELIVERED,    /* secondary: ingress for its guest */
} ColoProxyTxKind;

typedef struct ColoProxyTxFrame {
    QSIMPLEQ_ENTRY(ColoProxyTxFrame) next;
    ColoProxyTxKind kind;
    unsigned flags;
    uint32_t len;
    uint8_t data[];
} ColoProxyTxFrame;

typedef struct ColoProxyTx {
    bool to_guest;              /* sender: the netdev; else the NIC */
    bool in_flight;             /* the head is in the receiver's queue */
    uint32_t frames;
    uint64_t bytes;             /* memory of the waiting frames */
    uint64_t max_bytes;
    QSIMPLEQ_HEAD(, ColoProxyTxFrame) queue;
} ColoProxyTx;

struct ColoProxyState {
    NetFilterState parent_obj;

    /* properties */
    bool mode_set;
    ColoProxyMode mode;
    char *addr;
    char *tls_creds;
    char *tls_authz;
    char *notify_dev;
    bool vnet_hdr;
    bool allow_unauth;
    uint32_t link_timeout;
    uint64_t link_buffer;
    uint32_t compare_timeout;
    uint32_t max_held;
    uint64_t max_held_bytes;
    uint32_t max_conn_held;
    uint64_t max_conn_held_bytes;
    uint64_t max_ahead;
    uint64_t max_ahead_total;
    uint32_t max_conns;
    char *http_date_ports;
    uint16_t http_date_port[COLO_CMP_HTTP_DATE_PORTS];
    uint32_t http_date_window;

    /* set up by colo_proxy_setup() */
    SocketAddress *link_addr;
    ColoLinkIO *link;
    uint8_t *scratch;               /* a writable copy of one frame */
    uint8_t *rbuf;                  /* promoted: a released frame, moved */
    ColoProxyTx to_net;             /* the guest's output, to the network */
    ColoProxyTx to_guest;           /* secondary: ingress, to its guest */
    QEMUBH *tx_bh;                  /* resumes both after a callback */
    bool colo_active;               /* COLO runs: protect */
    ColoEpoch epoch;                /* the peer's checkpoints and ours */
    QSIMPLEQ_HEAD(, ColoProxyTxFrame) early;    /* held by the epoch */
    uint64_t early_bytes;
    QEMUTimer *tick_timer;
    bool failover;
    char *reported_error;           /* last link error reported */
    int64_t rejected_warn_ms;       /* last warning of a refused peer */
    uint64_t rejected_quiet;        /* refusals not warned of since */

    /* secondary: the sequence translation */
    ColoRw *rw;
    /* primary: the comparison of the two guests' output */
    ColoCmp *cmp;
    ColoNotify *notify;             /* an external COLO frame, if any */

    ColoProxyStats stats;
    ColoProxyDrops drops;
};

static int64_t colo_proxy_now_ns(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
}

static uint32_t colo_proxy_vnet_len(ColoProxyState *s)
{
    return s->vnet_hdr ? s->parent_obj.netdev->vnet_hdr_len : 0;
}

/* ---- passing frames on, at the next hop's pace ---- */

static NetClientState *colo_proxy_tx_sender(ColoProxyState *s,
                                            ColoProxyTx *tx)
{
    NetClientState *nd = s->parent_obj.netdev;

    return tx->to_guest ? nd : nd->peer;
}

static void colo_proxy_tx_count(ColoProxyState *s, ColoProxyTxKind kind)
{
    switch (kind) {
    case COLO_PROXY_TX_RELEASED:
        s->stats.released++;
        break;
    case COLO_PROXY_TX_PASSED:
        s->stats.passed++;
        break;
    case COLO_PROXY_TX_DELIVERED:
        s->stats.delivered++;
        break;
    }
}

static void colo_proxy_tx_sent(NetClientState *sender, ssize_t ret);

/*
 * Pass one frame to the next filter or the receiver: true if it was
 * taken (or there is no receiver: counted), false if the receiver queued
 * it and colo_proxy_tx_sent() will be called.
 */
static bool colo_proxy_tx_pass(ColoProxyState *s, ColoProxyTx *tx,
                               ColoProxyTxKind kind, const uint8_t *buf,
                               uint32_t len, unsigned flags)
{
    NetClientState *sender = colo_proxy_tx_sender(s, tx);
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

    if (!sender || !sender->peer) {
        s->drops.no_receiver++;
        return true;
    }
    if (!qemu_netfilter_pass_to_next_async(sender, flags, &iov, 1,
                                           &s->parent_obj,
                                           colo_proxy_tx_sent)) {
        return false;
    }
    colo_proxy_tx_count(s, kind);
    return true;
}

static void colo_proxy_tx_pop(ColoProxyState *s, ColoProxyTx *tx,
                              bool count)
{
    ColoProxyTxFrame *f = QSIMPLEQ_FIRST(&tx->queue);

    QSIMPLEQ_REMOVE_HEAD(&tx->queue, next);
    tx->frames--;
    tx->bytes -= sizeof(*f) + f->len;
    if (count) {
        colo_proxy_tx_count(s, f->kind);
    }
    g_free(f);
}

/* Pass on what waits, until the receiver queues one. */
static void colo_proxy_tx_drain(ColoProxyState *s, ColoProxyTx *tx)
{
    ColoProxyTxFrame *f;

    while (!tx->in_flight && (f = QSIMPLEQ_FIRST(&tx->queue))) {
        if (!colo_proxy_tx_pass(s, tx, f->kind, f->data, f->len, f->flags)) {
            tx->in_flight = true;
            return;
        }
        colo_proxy_tx_pop(s, tx, false);
    }
}

/*
 * Send @buf on, now or after what waits; false if it cannot even wait
 * (over the bound: counted as pending-full).  @buf is copied if needed.
 */
static bool colo_proxy_tx_send(ColoProxyState *s, ColoProxyTx *tx,
                               ColoProxyTxKind kind, const uint8_t *buf,
                               uint32_t len, unsigned flags)
{
    ColoProxyTxFrame *f;
    bool idle = QSIMPLEQ_EMPTY(&tx->queue);

    if (idle && colo_proxy_tx_pass(s, tx, kind, buf, len, flags)) {
        return true;
    }
    /* queued by the receiver (idle): keep a copy in case it is purged */
    if (!idle && tx->bytes + sizeof(*f) + len > tx->max_bytes) {
        s->drops.pending_full++;
        return false;
    }
    f = g_malloc(sizeof(*f) + len);
    f->kind = kind;
    f->flags = flags;
    f->len = len;
    memcpy(f->data, buf, len);
    QSIMPLEQ_INSERT_TAIL(&tx->queue, f, next);
    tx->frames++;
    tx->bytes += sizeof(*f) + len;
    tx->in_flight |= idle;
    return true;
}

/* The colo-proxy on @sender's side of the netdev, and which queue. */
static ColoProxyTx *colo_proxy_tx_find(NetClientState *sender,
                                       ColoProxyState **ps)
{
    NetClientState *ends[2] = { sender, sender->peer };

    for (int i = 0; i < 2; i++) {
        NetFilterState *nf;

        if (!ends[i]) {
            continue;
        }
        QTAILQ_FOREACH(nf, &ends[i]->filters, next) {
            if (object_dynamic_cast(OBJECT(nf), TYPE_COLO_PROXY)) {
                ColoProxyState *s = COLO_PROXY(nf);

                *ps = s;
                return nf->netdev == sender ? &s->to_guest : &s->to_net;
            }
        }
    }
    return NULL;
}

/*
 * The receiver took the frame in flight (@ret > 0), failed it (< 0), or
 * purged it (0: the VM stopped before it could be sent): then it goes
 * again.  This may run inside the net queue's flush, on any thread
 * holding the BQL: the next frames go from a bottom half.
 */
static void colo_proxy_tx_sent(NetClientState *sender, ssize_t ret)
{
    ColoProxyState *s;
    ColoProxyTx *tx = colo_proxy_tx_find(sender, &s);

    if (!tx || !tx->in_flight) {
        return;             /* handed over at object-del */
    }
    tx->in_flight = false;
    if (ret > 0) {
        colo_proxy_tx_pop(s, tx, true);
    } else if (ret < 0) {
        /* the receiver failed it (a write error): not to be sent again */
        colo_proxy_tx_pop(s, tx, false);
        s->drops.no_receiver++;
    } else {
        s->stats.pending_retries++;
    }
    trace_colo_proxy_tx_sent(s->parent_obj.netdev_id, tx->to_guest, ret,
                             tx->frames);
    qemu_bh_schedule(s->tx_bh);
}

static void colo_proxy_tx_bh(void *opaque)
{
    ColoProxyState *s = opaque;

    colo_proxy_tx_drain(s, &s->to_net);
    colo_proxy_tx_drain(s, &s->to_guest);
}

static void colo_proxy_tx_init(ColoProxyTx *tx, bool to_guest,
                               uint64_t max_bytes)
{
    QSIMPLEQ_INIT(&tx->queue);
    tx->to_guest = to_guest;
    tx->max_bytes = max_bytes;
}

static void colo_proxy_tx_sent_detached(NetClientState *sender, ssize_t ret)
{
}

/*
 * object-del: what still waits is handed to the receiver's net queue, in
 * order behind the frame in flight there (given a callback, the queue
 * takes them all); that queue's next flush sends them.  The callback of
 * the frame in flight finds no ColoProxyTx waiting for it any more.
 */
static void colo_proxy_tx_detach(ColoProxyState *s, ColoProxyTx *tx)
{
    NetClientState *sender = colo_proxy_tx_sender(s, tx);
    ColoProxyTxFrame *f;

    colo_proxy_tx_drain(s, tx);
    if (tx->in_flight) {
        tx->in_flight = false;
        colo_proxy_tx_pop(s, tx, true);
    }
    while ((f = QSIMPLEQ_FIRST(&tx->queue))) {
        struct iovec iov = { .iov_base = f->data, .iov_len = f->len };

        /* queued frames imply a receiver: drain stopped at one */
        qemu_net_queue_append_iov(sender->peer->incoming_queue, sender,
                                  f->flags, &iov, 1,
                                  colo_proxy_tx_sent_detached);
        colo_proxy_tx_pop(s, tx, true);
    }
}

/* The comparison lets a frame of the primary's guest go (primary). */
static void colo_proxy_cmp_release(void *opaque, const uint8_t *buf,
                                   uint32_t len, unsigned flags)
{
    ColoProxyState *s = opaque;

    trace_colo_proxy_release(s->parent_obj.netdev_id, len);
    if (s->rw) {
        /* a former secondary: its guest's numbers are not the clients' */
        memcpy(s->rbuf, buf, len);
        colo_rw_egress(s->rw, s->rbuf, len, colo_proxy_vnet_len(s),
                       colo_proxy_now_ns());
        buf = s->rbuf;
    }
    colo_proxy_tx_send(s, &s->to_net, COLO_PROXY_TX_RELEASED, buf, len,
                       flags);
}

/* A connection as "A:P-B:P/PROTO" (or its ethertype), for people. */
static char *colo_proxy_conn_str(const ColoConnKey *key)
{
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    int af;

    if (!key) {
        return NULL;
    }
    if (!key->ip_version) {
        return g_strdup_printf("ethertype 0x%04x", key->port[0]);
    }
    af = key->ip_version == 6 ? AF_INET6 : AF_INET;
    inet_ntop(af, key->addr[0], a, sizeof(a));
    inet_ntop(af, key->addr[1], b, sizeof(b));
    return g_strdup_printf("%s%s%s:%u-%s%s%s:%u/%u",
                           af == AF_INET6 ? "[" : "", a,
                           af == AF_INET6 ? "]" : "", key->port[0],
                           af == AF_INET6 ? "[" : "", b,
                           af == AF_INET6 ? "]" : "", key->port[1],
                           key->proto);
}

/* The comparison asks for a checkpoint (primary). */
static void colo_proxy_cmp_request(void *opaque, ColoCmpReason why,
                                   const ColoConnKey *key)
{
    ColoProxyState *s = opaque;
    const char *id = object_get_canonical_path_component(OBJECT(s));
    g_autofree char *conn = colo_proxy_conn_str(key);

    trace_colo_proxy_checkpoint_request(id, colo_cmp_reason_str(why),
                                        conn ? conn : "");
    qapi_event_send_colo_proxy_checkpoint_request(id,
        (ColoProxyCheckpointReason)why, conn);
    /*
     * An external frame (notify-dev) is asked instead of QEMU's COLO
     * thread, as colo-compare does.
     */
    if (s->notify) {
        colo_notify_request(s->notify);
    } else {
        notifier_list_notify(&colo_proxy_notifiers, s);
    }
}

/* Two HTTP Date values were let pass as equal (primary). */
static void colo_proxy_cmp_date_equal(void *opaque, const ColoConnKey *key,
                                      uint64_t pos, int64_t delta)
{
    ColoProxyState *s = opaque;

    if (trace_event_get_state_backends(TRACE_COLO_PROXY_CMP_DATE_EQUAL)) {
        g_autofree char *conn = colo_proxy_conn_str(key);

        trace_colo_proxy_cmp_date_equal(
            object_get_canonical_path_component(OBJECT(s)), conn, pos, delta);
    }
}

static const ColoCmpOps colo_proxy_cmp_ops = {
    .release = colo_proxy_cmp_release,
    .request = colo_proxy_cmp_request,
    .date_equal = colo_proxy_cmp_date_equal,
};

/* ---- the secondary's translation ---- */

static bool colo_proxy_protected(ColoProxyState *s);
static void colo_proxy_mirror(ColoProxyState *s, const struct iovec *iov,
                              int iovcnt);

/*
 * Hand a frame to the guest, as if the netdev had sent it; a promoted
 * primary mirrors it first, in its guest's numbers, as its new secondary
 * is a copy of that guest.
 */
static void colo_proxy_deliver(void *opaque, uint8_t *buf, uint32_t len)
{
    ColoProxyState *s = opaque;
    struct iovec iov = { .iov_base = buf, .iov_len = len };

    if (s->mode == COLO_PROXY_MODE_PRIMARY && colo_proxy_protected(s)) {
        colo_proxy_mirror(s, &iov, 1);
    }
    colo_proxy_tx_send(s, &s->to_guest, COLO_PROXY_TX_DELIVERED, buf, len, 0);
}

static const ColoRwOps colo_proxy_rw_ops = {
    .deliver = colo_proxy_deliver,
};

/* ---- the link ---- */

static void colo_proxy_link_event(ColoProxyState *s, bool up,
                                  const char *reason)
{
    const char *id = object_get_canonical_path_component(OBJECT(s));

    trace_colo_proxy_link_event(id, up, reason);
    qapi_event_send_colo_proxy_link(id, up, reason);
    if (!up && g_strcmp0(reason, s->reported_error)) {
        /* once per distinct cause: a retrying primary must not flood */
        warn_report("colo-proxy %s: link to the %s: %s", id,
                    s->mode == COLO_PROXY_MODE_PRIMARY ? "secondary"
                                                       : "primary", reason);
        g_free(s->reported_error);
        s->reported_error = g_strdup(reason);
    }
}

/* A frame of the peer, in its epoch: compared, or the guest's ingress. */
static void colo_proxy_peer_frame(ColoProxyState *s, const uint8_t *buf,
                                  uint32_t len)
{
    uint32_t vlen = colo_proxy_vnet_len(s);

    if (len < vlen + COLO_PROXY_ETH_HLEN) {
        s->drops.runt++;
        return;
    }
    if (s->mode == COLO_PROXY_MODE_PRIMARY) {
        colo_cmp_secondary(s->cmp, buf, len, vlen, colo_proxy_now_ns());
    } else {
        memcpy(s->scratch, buf, len);
        colo_rw_ingress(s->rw, s->scratch, len, vlen, colo_proxy_now_ns());
    }
}

/* Drop what the epoch held: counted as stale. */
static void colo_proxy_early_drop(ColoProxyState *s)
{
    ColoProxyTxFrame *f;

    while ((f = QSIMPLEQ_FIRST(&s->early))) {
        QSIMPLEQ_REMOVE_HEAD(&s->early, next);
        s->drops.stale++;
        g_free(f);
    }
    s->early_bytes = 0;
}

/* What the peer sent after its marker may be handled now, in order. */
static void colo_proxy_early_flush(ColoProxyState *s)
{
    ColoProxyTxFrame *f;

    while ((f = QSIMPLEQ_FIRST(&s->early))) {
        QSIMPLEQ_REMOVE_HEAD(&s->early, next);
        s->early_bytes -= sizeof(*f) + f->len;
        colo_proxy_peer_frame(s, f->data, f->len);
        g_free(f);
    }
}

static void colo_proxy_early_hold(ColoProxyState *s, const uint8_t *buf,
                                  uint32_t len)
{
    ColoProxyTxFrame *f;

    if (s->early_bytes + sizeof(*f) + len > s->link_buffer) {
        s->drops.pending_full++;
        return;
    }
    f = g_malloc(sizeof(*f) + len);
    f->len = len;
    memcpy(f->data, buf, len);
    QSIMPLEQ_INSERT_TAIL(&s->early, f, next);
    s->early_bytes += sizeof(*f) + len;
}

static void colo_proxy_epoch_expire(ColoProxyState *s, int64_t now)
{
    if (colo_epoch_expire(&s->epoch, now,
                          (int64_t)s->compare_timeout * SCALE_MS)) {
        colo_proxy_early_flush(s);
    }
}

/*
 * A promoted primary hands the offsets of the connections it translates
 * to its (new) secondary, which needs them once it takes over in turn.
 */
static void colo_proxy_send_offsets(ColoProxyState *s)
{
    enum { CHUNK = COLO_LINK_MAX_PAYLOAD / COLO_RW_ENTRY_LEN *
                   COLO_RW_ENTRY_LEN };
    g_autofree uint8_t *buf = g_malloc(CHUNK);
    uint32_t cursor = 0;

    do {
        size_t len = colo_rw_export(s->rw, buf, CHUNK, &cursor);

        if (len && !colo_link_io_send_offsets(s->link, buf, len)) {
            warn_report("colo-proxy %s: the link has no room for the "
                        "sequence offsets of its connections",
                        object_get_canonical_path_component(OBJECT(s)));
            return;
        }
    } while (cursor);
}

static void colo_proxy_link_offsets(void *opaque, const uint8_t *buf,
                                    uint32_t len)
{
    ColoProxyState *s = opaque;

    if (s->mode != COLO_PROXY_MODE_SECONDARY ||
        !colo_rw_import(s->rw, buf, len, colo_proxy_now_ns())) {
        s->drops.malformed_offsets++;
    }
}

static void colo_proxy_link_up(void *opaque)
{
    ColoProxyState *s = opaque;

    g_free(s->reported_error);
    s->reported_error = NULL;
    colo_epoch_reset(&s->epoch);
    colo_proxy_early_drop(s);
    colo_proxy_link_event(s, true, "handshake complete");
    if (s->mode == COLO_PROXY_MODE_PRIMARY && s->rw) {
        colo_proxy_send_offsets(s);
    }
    if (s->mode == COLO_PROXY_MODE_PRIMARY && s->colo_active &&
        !s->failover) {
        /* back during COLO: the secondary missed what went by meanwhile */
        colo_cmp_request_resync(s->cmp);
    }
}

static void colo_proxy_link_down(void *opaque, const char *reason)
{
    ColoProxyState *s = opaque;

    /* Unprotected from here: what the primary's guest sent goes out. */
    if (s->mode == COLO_PROXY_MODE_PRIMARY) {
        colo_cmp_release_all(s->cmp);
    }
    colo_epoch_reset(&s->epoch);
    colo_proxy_early_drop(s);
    colo_proxy_link_event(s, false, reason);
}

static void colo_proxy_link_refused(void *opaque, const char *reason)
{
    colo_proxy_link_event(opaque, false, reason);
}

/*
 * A connection refused before it took the link: no event (the link's
 * state did not change), and one warning per COLO_PROXY_REJECT_WARN_MS
 * at most: whoever can reach the port must not be able to flood the log.
 * query-colo-proxy counts them all.
 */
static void colo_proxy_link_rejected(void *opaque, const char *reason)
{
    ColoProxyState *s = opaque;
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

    if (s->rejected_warn_ms &&
        now - s->rejected_warn_ms < COLO_PROXY_REJECT_WARN_MS) {
        s->rejected_quiet++;
        return;
    }
    warn_report("colo-proxy %s: refused a connection: %s (%" PRIu64
                " more refused since the last warning)",
                object_get_canonical_path_component(OBJECT(s)), reason,
                s->rejected_quiet);
    s->rejected_warn_ms = now;
    s->rejected_quiet = 0;
}

static void colo_proxy_link_frame(void *opaque, const uint8_t *buf,
                                  uint32_t len)
{
    ColoProxyState *s = opaque;

    s->stats.from_peer++;
    if (s->failover) {
        s->drops.link_down++;
        return;
    }
    trace_colo_proxy_link_frame(s->parent_obj.netdev_id, len);
    colo_proxy_epoch_expire(s, colo_proxy_now_ns());
    switch (colo_epoch_verdict(&s->epoch)) {
    case COLO_EPOCH_DROP:
        s->drops.stale++;
        break;
    case COLO_EPOCH_HOLD:
        colo_proxy_early_hold(s, buf, len);
        break;
    case COLO_EPOCH_PASS:
        colo_proxy_peer_frame(s, buf, len);
        break;
    }
}

static void colo_proxy_link_epoch(void *opaque)
{
    ColoProxyState *s = opaque;

    s->stats.peer_checkpoints++;
    colo_epoch_marker(&s->epoch, colo_proxy_now_ns());
}

static const ColoLinkIOOps colo_proxy_link_ops = {
    .up = colo_proxy_link_up,
    .down = colo_proxy_link_down,
    .refused = colo_proxy_link_refused,
    .rejected = colo_proxy_link_rejected,
    .frame = colo_proxy_link_frame,
    .epoch = colo_proxy_link_epoch,
    .offsets = colo_proxy_link_offsets,
};

/*
 * Protected while COLO runs, and the link is up: nobody checkpoints a
 * primary outside COLO, so holding its output would only stall it.  An
 * external frame (notify-dev) runs COLO on its own: it is taken as
 * running.
 */
static bool colo_proxy_protected(ColoProxyState *s)
{
    return (s->colo_active || s->notify) && !s->failover &&
           colo_link_io_state(s->link) == COLO_LINK_IO_UP;
}

/* ---- the filter ---- */

/* Primary: ingress to the secondary too, and to the comparison. */
static void colo_proxy_mirror(ColoProxyState *s, const struct iovec *iov,
                              int iovcnt)
{
    if (colo_link_io_send(s->link, iov, iovcnt)) {
        s->stats.mirrored++;
    } else {
        /* The secondary misses input: only a checkpoint mends that. */
        s->drops.link_full++;
    }
    /* the client's FINs, RSTs and SYNs say how connections live */
    if (iovcnt == 1) {
        colo_cmp_ingress(s->cmp, iov->iov_base, iov->iov_len,
                         colo_proxy_vnet_len(s), colo_proxy_now_ns());
    } else {
        size_t len = iov_to_buf(iov, iovcnt, 0, s->scratch,
                                COLO_PROXY_FRAME_MAX);

        colo_cmp_ingress(s->cmp, s->scratch, len, colo_proxy_vnet_len(s),
                         colo_proxy_now_ns());
    }
}

/*
 * A promoted primary (a secondary that took over) goes on translating
 * the numbers of the connections it served: ingress is translated, then
 * mirrored and delivered (colo_proxy_deliver()); unprotected egress is
 * translated and passed on.
 */
static ssize_t colo_proxy_promoted_receive(ColoProxyState *s, bool ingress,
                                           unsigned flags,
                                           const struct iovec *iov,
                                           int iovcnt)
{
    size_t len = iov_size(iov, iovcnt);
    int64_t now = colo_proxy_now_ns();

    if (len > COLO_PROXY_FRAME_MAX) {
        s->drops.oversized++;
        return len;
    }
    iov_to_buf(iov, iovcnt, 0, s->scratch, len);
    if (ingress) {
        colo_rw_ingress(s->rw, s->scratch, len, colo_proxy_vnet_len(s), now);
    } else {
        colo_rw_egress(s->rw, s->scratch, len, colo_proxy_vnet_len(s), now);
        colo_proxy_tx_send(s, &s->to_net, COLO_PROXY_TX_PASSED, s->scratch,
                           len, flags);
    }
    return len;
}

/* Primary: mirror ingress, hold egress while protected. */
static ssize_t colo_proxy_primary_receive(ColoProxyState *s, bool ingress,
                                          unsigned flags,
                                          const struct iovec *iov,
                                          int iovcnt)
{
    size_t len = iov_size(iov, iovcnt);

    if (s->rw && (ingress || !colo_proxy_protected(s))) {
        return colo_proxy_promoted_receive(s, ingress, flags, iov, iovcnt);
    }
    if (!colo_proxy_protected(s)) {
        if (ingress || QSIMPLEQ_EMPTY(&s->to_net.queue)) {
            s->stats.passed += !ingress;
            return 0;
        }
        /* released frames still wait: this one goes after them */
        if (len > COLO_PROXY_FRAME_MAX) {
            s->drops.oversized++;
            return len;
        }
        iov_to_buf(iov, iovcnt, 0, s->scratch, len);
        colo_proxy_tx_send(s, &s->to_net, COLO_PROXY_TX_PASSED, s->scratch,
                           len, flags);
        return len;
    }
    if (ingress) {
        colo_proxy_mirror(s, iov, iovcnt);
        return 0;
    }
    if (iovcnt == 1) {
        colo_cmp_primary(s->cmp, iov->iov_base, iov->iov_len,
                         colo_proxy_vnet_len(s), flags, colo_proxy_now_ns());
    } else {
        len = iov_to_buf(iov, iovcnt, 0, s->scratch, COLO_PROXY_FRAME_MAX);
        colo_cmp_primary(s->cmp, s->scratch, len, colo_proxy_vnet_len(s),
                         flags, colo_proxy_now_ns());
    }
    return iov_size(iov, iovcnt);
}

/*
 * A checkpoint on the secondary: ingress still waiting for its guest came
 * before it; the reloaded guest has its effect already.
 */
static void colo_proxy_secondary_checkpoint(ColoProxyState *s)
{
    ColoProxyTx *tx = &s->to_guest;
    NetClientState *sender = colo_proxy_tx_sender(s, tx);

    colo_rw_checkpoint(s->rw);
    if (tx->in_flight && sender->peer) {
        /* the one in the NIC's queue: its callback finds nothing waiting */
        tx->in_flight = false;
        qemu_net_queue_purge(sender->peer->incoming_queue, sender);
    }
    while (!QSIMPLEQ_EMPTY(&tx->queue)) {
        colo_proxy_tx_pop(s, tx, false);
        s->drops.stale++;
    }
}

/* Secondary: the guest's output goes to the primary, host ingress stops. */
static ssize_t colo_proxy_secondary_receive(ColoProxyState *s, bool ingress,
                                            NetClientState *sender,
                                            unsigned flags,
                                            const struct iovec *iov,
                                            int iovcnt)
{
    size_t len = iov_size(iov, iovcnt);
    struct iovec copy = { .iov_base = s->scratch, .iov_len = len };

    if (len > COLO_PROXY_FRAME_MAX) {
        s->drops.oversized++;
        return len;
    }
    if (ingress && !s->failover) {
        s->drops.secondary_ingress++;
        return len;
    }
    iov_to_buf(iov, iovcnt, 0, s->scratch, len);
    if (ingress) {
        colo_rw_ingress(s->rw, s->scratch, len, colo_proxy_vnet_len(s),
                        colo_proxy_now_ns());
        return len;
    }
    colo_rw_egress(s->rw, s->scratch, len, colo_proxy_vnet_len(s),
                   colo_proxy_now_ns());
    if (s->failover) {
        colo_proxy_tx_send(s, &s->to_net, COLO_PROXY_TX_PASSED, s->scratch,
                           len, flags);
    } else if (colo_link_io_send(s->link, &copy, 1)) {
        s->stats.to_peer++;
    } else if (colo_link_io_state(s->link) == COLO_LINK_IO_UP) {
        s->drops.link_full++;
    } else {
        s->drops.link_down++;
    }
    return len;
}

static ssize_t colo_proxy_receive_iov(NetFilterState *nf,
                                      NetClientState *sender,
                                      unsigned flags,
                                      const struct iovec *iov,
                                      int iovcnt,
                                      NetPacketSent *sent_cb)
{
    /* no checked QOM cast here: this runs for every frame */
    ColoProxyState *s = container_of(nf, ColoProxyState, parent_obj);
    bool ingress = sender == nf->netdev;
    size_t len = iov_size(iov, iovcnt);

    trace_colo_proxy_receive_iov(nf->netdev_id, ingress, len);
    if (len < colo_proxy_vnet_len(s) + COLO_PROXY_ETH_HLEN) {
        /* not even an Ethernet header: nothing to compare or deliver */
        s->drops.runt++;
        return len;
    }
    if (s->mode == COLO_PROXY_MODE_PRIMARY) {
        return colo_proxy_primary_receive(s, ingress, flags, iov, iovcnt);
    }
    return colo_proxy_secondary_receive(s, ingress, sender, flags, iov,
                                        iovcnt);
}

static void colo_proxy_do_event(ColoProxyState *s, int event)
{
    trace_colo_proxy_event(NETFILTER(s)->netdev_id, event);
    switch (event) {
    case COLO_EVENT_CHECKPOINT:
        s->stats.checkpoints++;
        s->colo_active = true;
        /* what we send from here on belongs to the state after it */
        colo_link_io_send_epoch(s->link);
        if (s->mode == COLO_PROXY_MODE_PRIMARY) {
            /* COLO runs (again) with a new secondary: protect again */
            s->failover = false;
            colo_cmp_checkpoint(s->cmp);
        } else if (!s->failover) {
            colo_proxy_secondary_checkpoint(s);
        }
        if (colo_epoch_local(&s->epoch, colo_proxy_now_ns())) {
            colo_proxy_early_flush(s);
        }
        break;
    case COLO_EVENT_FAILOVER:
        s->stats.failovers++;
        s->failover = true;
        s->colo_active = false;
        if (s->mode == COLO_PROXY_MODE_PRIMARY) {
            colo_cmp_release_all(s->cmp);
        } else {
            /* it talks to the clients itself now */
            colo_rw_failover(s->rw);
        }
        break;
    default:
        break;
    }
}

static void colo_proxy_handle_event(NetFilterState *nf, int event,
                                    Error **errp)
{
    colo_proxy_do_event(COLO_PROXY(nf), event);
}

/*
 * Parse the link address: "unix:PATH" or a path containing '/' is a unix
 * socket, anything else must be "HOST:PORT" (IPv6 as "[HOST]:PORT") with a
 * numeric port.  The primary connects to HOST, so it needs one; the
 * secondary may leave it empty to listen on every address.
 */
static SocketAddress *colo_proxy_parse_addr(const char *str,
                                            ColoProxyMode mode,
                                            Error **errp)
{
    g_autoptr(SocketAddress) addr = g_new0(SocketAddress, 1);
    unsigned int port;

    if (g_str_has_prefix(str, "unix:") || strchr(str, '/')) {
        const char *path = g_str_has_prefix(str, "unix:") ? str + 5 : str;

        if (!*path) {
            error_setg(errp, "property 'addr' has an empty socket path");
            return NULL;
        }
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->u.q_unix.path = g_strdup(path);
        return g_steal_pointer(&addr);
    }

    addr->type = SOCKET_ADDRESS_TYPE_INET;
    if (strchr(str, ',') || inet_parse(&addr->u.inet, str, NULL) < 0) {
        error_setg(errp, "property 'addr' must be HOST:PORT or a unix "
                   "socket path, not '%s'", str);
        return NULL;
    }
    if (qemu_strtoui(addr->u.inet.port, NULL, 10, &port) < 0 ||
        port == 0 || port > 65535) {
        error_setg(errp, "property 'addr' port '%s' is not a number "
                   "from 1 to 65535", addr->u.inet.port);
        return NULL;
    }
    if (mode == COLO_PROXY_MODE_PRIMARY && !*addr->u.inet.host) {
        error_setg(errp, "property 'addr' needs a host in primary mode, "
                   "the address of the secondary to connect to");
        return NULL;
    }
    return g_steal_pointer(&addr);
}

/* One colo-proxy per netdev: two would each hold and release its frames. */
static bool colo_proxy_check_unique(NetFilterState *nf, Error **errp)
{
    NetFilterState *other;

    QTAILQ_FOREACH(other, &nf->netdev->filters, next) {
        if (other != nf && object_dynamic_cast(OBJECT(other),
                                               TYPE_COLO_PROXY)) {
            error_setg(errp, "netdev '%s' already has colo-proxy '%s'",
                       nf->netdev_id,
                       object_get_canonical_path_component(OBJECT(other)));
            return false;
        }
    }
    return true;
}

/*
 * The TLS credentials @creds (an object id, or NULL) for a link to
 * @addr, checked for the role: an endpoint server for the secondary,
 * which listens, a client for the primary.
 */
static bool colo_proxy_tls(ColoProxyState *s, const char *creds,
                           const char *authz, bool server,
                           const SocketAddress *addr, ColoLinkIOConfig *cfg,
                           Error **errp)
{
    Object *obj;

    if (!creds) {
        if (authz) {
            error_setg(errp, "property 'tls-authz' needs 'tls-creds'");
            return false;
        }
        return true;
    }
    if (authz && !server) {
        error_setg(errp, "property 'tls-authz' is for the secondary, "
                   "which accepts the connection");
        return false;
    }
    obj = object_resolve_path_component(object_get_objects_root(), creds);
    cfg->tls_creds = obj ? (QCryptoTLSCreds *)
                     object_dynamic_cast(obj, TYPE_QCRYPTO_TLS_CREDS) : NULL;
    if (!cfg->tls_creds) {
        error_setg(errp, "property 'tls-creds': '%s' is not a TLS "
                   "credentials object", creds);
        return false;
    }
    if (!qcrypto_tls_creds_check_endpoint(cfg->tls_creds, server ?
                                          QCRYPTO_TLS_CREDS_ENDPOINT_SERVER :
                                          QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                          errp)) {
        return false;
    }
    cfg->tls_authz = authz;
    if (addr->type == SOCKET_ADDRESS_TYPE_INET) {
        cfg->tls_hostname = addr->u.inet.host;
    }
    return true;
}

/*
 * Whoever reaches a TCP port can claim to be the peer: without TLS it
 * would get the mirrored client traffic or the secondary VM's output and
 * inject frames into a VM.  So TCP needs tls-creds, or the operator's
 * word that only the pair can reach the network (allow-unauthenticated).
 * A unix socket is reachable only through the file system: the
 * secondary's is made 0600.
 */
static bool colo_proxy_check_auth(ColoProxyState *s,
                                  const SocketAddress *addr, bool tls,
                                  Error **errp)
{
    if (addr->type != SOCKET_ADDRESS_TYPE_INET || tls || s->allow_unauth) {
        return true;
    }
    error_setg(errp, "colo-proxy '%s': a TCP link without 'tls-creds' lets "
               "anyone who can reach it act as the peer",
               object_get_canonical_path_component(OBJECT(s)));
    error_append_hint(errp, "Set 'tls-creds', use a unix socket, or set "
                      "'allow-unauthenticated=on' if only the two hosts "
                      "can reach the network.\n");
    return false;
}

static bool colo_proxy_check(ColoProxyState *s, Error **errp)
{
    NetFilterState *nf = NETFILTER(s);

    if (!s->mode_set) {
        error_setg(errp, "property 'mode' is required "
                   "(primary or secondary)");
        return false;
    }
    if (!nf->on) {
        error_setg(errp, "property 'status' must be 'on': off, the "
                   "secondary VM's output would reach its network");
        return false;
    }
    if (nf->direction != NET_FILTER_DIRECTION_ALL) {
        error_setg(errp, "property 'queue' must be 'all': "
                   "the proxy needs the traffic in both directions");
        return false;
    }
    if (s->notify_dev && s->mode == COLO_PROXY_MODE_SECONDARY) {
        error_setg(errp, "property 'notify-dev' is for the primary, which "
                   "asks for checkpoints");
        return false;
    }
    if (!s->addr) {
        error_setg(errp, "property 'addr' is required "
                   "(HOST:PORT or a unix socket path)");
        return false;
    }
    s->link_addr = colo_proxy_parse_addr(s->addr, s->mode, errp);
    return s->link_addr && colo_proxy_check_unique(nf, errp);
}

/* The external frame reports a completed checkpoint. */
static void colo_proxy_notify_checkpoint(void *opaque)
{
    colo_proxy_do_event(opaque, COLO_EVENT_CHECKPOINT);
}

static void colo_proxy_cmp_setup(ColoProxyState *s, uint32_t seed)
{
    ColoCmpLimits lim = {
        .conn_frames = s->max_conn_held,
        .conn_bytes = s->max_conn_held_bytes,
        .total_frames = s->max_held,
        .total_bytes = s->max_held_bytes,
        .svm_bytes = s->max_ahead,
        .svm_total = s->max_ahead_total,
        .max_conns = s->max_conns,
        .timeout_ns = (int64_t)s->compare_timeout * SCALE_MS,
        .closed_grace_ns = (int64_t)COLO_PROXY_CLOSED_GRACE_MS * SCALE_MS,
        .http_date_window = s->http_date_window,
    };

    memcpy(lim.http_date_ports, s->http_date_port,
           sizeof(lim.http_date_ports));
    s->cmp = colo_cmp_new(&lim, seed ^ 0x9e3779b9, &colo_proxy_cmp_ops, s);
}

static void colo_proxy_rw_setup(ColoProxyState *s, uint32_t seed)
{
    ColoRwLimits lim = {
        .max_conns = s->max_conns,
        .conn_hold_bytes = COLO_PROXY_CONN_HOLD_BYTES,
        .hold_bytes = s->link_buffer,
        .closed_grace_ns = (int64_t)COLO_PROXY_CLOSED_GRACE_MS * SCALE_MS,
    };

    s->rw = colo_rw_new(&lim, seed, &colo_proxy_rw_ops, s);
}

/* A quarter of compare-timeout, in 64 bits: it goes up to an hour. */
static int64_t colo_proxy_tick_ns(ColoProxyState *s)
{
    return (int64_t)s->compare_timeout * SCALE_MS / 4;
}

/*
 * Every quarter of compare-timeout: the comparison's timeouts, waits
 * for the peer's checkpoint marker, closed connections to forget.
 */
static void colo_proxy_tick(void *opaque)
{
    ColoProxyState *s = opaque;
    int64_t now = colo_proxy_now_ns();

    colo_proxy_epoch_expire(s, now);
    if (s->cmp) {
        colo_cmp_tick(s->cmp, now);
    }
    if (s->rw) {
        colo_rw_tick(s->rw, now);
    }
    timer_mod_ns(s->tick_timer, now + colo_proxy_tick_ns(s));
}

/* The link's configuration for this side's (current) role. */
static void colo_proxy_link_cfg(ColoProxyState *s, ColoLinkIOConfig *cfg)
{
    *cfg = (ColoLinkIOConfig) {
        .name = object_get_canonical_path_component(OBJECT(s)),
        .listen = s->mode == COLO_PROXY_MODE_SECONDARY,
        .hello = {
            .version = COLO_LINK_VERSION,
            .role = s->mode == COLO_PROXY_MODE_PRIMARY ?
                    COLO_LINK_ROLE_PRIMARY : COLO_LINK_ROLE_SECONDARY,
            .vnet_hdr = s->vnet_hdr,
            .max_payload = COLO_LINK_MAX_PAYLOAD,
        },
        .timeout_ms = s->link_timeout,
        .max_buffer = s->link_buffer,
    };
}

static void colo_proxy_setup(NetFilterState *nf, Error **errp)
{
    ColoProxyState *s = COLO_PROXY(nf);
    ColoLinkIOConfig cfg;
    uint32_t seed;

    colo_proxy_link_cfg(s, &cfg);
    if (!colo_proxy_check(s, errp) ||
        !colo_proxy_tls(s, s->tls_creds, s->tls_authz,
                        s->mode == COLO_PROXY_MODE_SECONDARY, s->link_addr,
                        &cfg, errp) ||
        !colo_proxy_check_auth(s, s->link_addr, s->tls_creds, errp)) {
        return;
    }
    cfg.addr = s->link_addr;
    qemu_guest_getrandom_nofail(&seed, sizeof(seed));
    s->scratch = g_malloc(COLO_PROXY_FRAME_MAX);
    QSIMPLEQ_INIT(&s->early);
    colo_epoch_reset(&s->epoch);
    /* room for all the comparison may release at once, and a link's worth */
    colo_proxy_tx_init(&s->to_net, false,
                       2 * s->max_held_bytes + s->link_buffer);
    colo_proxy_tx_init(&s->to_guest, true, s->link_buffer);
    s->tx_bh = qemu_bh_new(colo_proxy_tx_bh, s);
    if (s->mode == COLO_PROXY_MODE_PRIMARY) {
        colo_proxy_cmp_setup(s, seed);
    } else {
        colo_proxy_rw_setup(s, seed);
    }
    s->tick_timer = timer_new_ns(QEMU_CLOCK_REALTIME, colo_proxy_tick, s);
    timer_mod_ns(s->tick_timer, colo_proxy_now_ns() + colo_proxy_tick_ns(s));
    if (s->notify_dev) {
        s->notify = colo_notify_new(s->notify_dev,
                                    colo_proxy_notify_checkpoint, s, errp);
        if (!s->notify) {
            return;
        }
    }
    s->link = colo_link_io_new(&cfg, &colo_proxy_link_ops, s, errp);
    if (!s->link) {
        return;
    }
    trace_colo_proxy_setup(nf->netdev_id, ColoProxyMode_str(s->mode),
                           s->addr);
}

static void colo_proxy_cleanup(NetFilterState *nf)
{
    ColoProxyState *s = COLO_PROXY(nf);

    trace_colo_proxy_cleanup(nf->netdev_id);
    colo_link_io_free(s->link);
    s->link = NULL;
    colo_notify_free(s->notify);
    s->notify = NULL;
    if (s->tick_timer) {
        timer_free(s->tick_timer);
        s->tick_timer = NULL;
    }
    colo_proxy_early_drop(s);
    /* what the primary's guest sent still leaves, unprotected */
    colo_cmp_free(s->cmp);
    s->cmp = NULL;
    if (s->tx_bh) {
        colo_proxy_tx_detach(s, &s->to_net);
        colo_proxy_tx_detach(s, &s->to_guest);
        qemu_bh_delete(s->tx_bh);
        s->tx_bh = NULL;
    }
    /* ingress waiting for an offset is not delivered untranslated */
    colo_rw_free(s->rw);
    s->rw = NULL;
    g_free(s->scratch);
    s->scratch = NULL;
    g_free(s->rbuf);
    s->rbuf = NULL;
    qapi_free_SocketAddress(s->link_addr);
    s->link_addr = NULL;
    g_free(s->reported_error);
    s->reported_error = NULL;
}

/* ---- the COLO framework ---- */

static const ColoProxyLinkState colo_proxy_link_states[] = {
    [COLO_LINK_IO_IDLE] = COLO_PROXY_LINK_STATE_DOWN,
    [COLO_LINK_IO_LISTENING] = COLO_PROXY_LINK_STATE_LISTENING,
    [COLO_LINK_IO_CONNECTING] = COLO_PROXY_LINK_STATE_CONNECTING,
    [COLO_LINK_IO_HANDSHAKE] = COLO_PROXY_LINK_STATE_HANDSHAKE,
    [COLO_LINK_IO_UP] = COLO_PROXY_LINK_STATE_UP,
};

static int colo_proxy_event_one(Object *obj, void *opaque)
{
    ColoProxyState *s = (ColoProxyState *)object_dynamic_cast(obj,
                                                              TYPE_COLO_PROXY);

    if (s && s->link) {
        colo_proxy_do_event(s, *(int *)opaque);
    }
    return 0;
}

void colo_proxy_notify_event(int event, Error **errp)
{
    assert(bql_locked());
    object_child_foreach(object_get_objects_root(), colo_proxy_event_one,
                         &event);
}

/* A colo-proxy that cannot protect: its link is not up. */
static int colo_proxy_check_start(Object *obj, void *opaque)
{
    ColoProxyState *s = (ColoProxyState *)object_dynamic_cast(obj,
                                                              TYPE_COLO_PROXY);
    Error **errp = opaque;

    if (s && s->link && colo_link_io_state(s->link) != COLO_LINK_IO_UP) {
        const char *err = colo_link_io_last_error(s->link);

        error_setg(errp, "colo-proxy '%s': the link to the %s is %s%s%s: "
                   "COLO would run unprotected",
                   object_get_canonical_path_component(obj),
                   s->mode == COLO_PROXY_MODE_PRIMARY ? "secondary" :
                                                        "primary",
                   ColoProxyLinkState_str(
                       colo_proxy_link_states[colo_link_io_state(s->link)]),
                   err ? ", last error: " : "", err ? err : "");
        return 1;
    }
    return 0;
}

void colo_proxy_start(Error **errp)
{
    int event = COLO_EVENT_CHECKPOINT;

    assert(bql_locked());
    if (object_child_foreach(object_get_objects_root(),
                             colo_proxy_check_start, errp)) {
        return;
    }
    object_child_foreach(object_get_objects_root(), colo_proxy_event_one,
                         &event);
}

/* ---- QMP ---- */

static void colo_proxy_cmp_info(ColoCmp *cmp, ColoProxyStats *st)
{
    const ColoCmpStats *cs = colo_cmp_stats(cmp);
    ColoProxyCheckpointRequests *r = g_new0(ColoProxyCheckpointRequests, 1);

    st->held_frames = colo_cmp_held_frames(cmp);
    st->held_bytes = colo_cmp_held_bytes(cmp);
    st->secondary_kept_bytes = colo_cmp_svm_bytes(cmp);
    st->connections = colo_cmp_conns(cmp);
    st->compared = cs->compared;
    st->matched_bytes = cs->matched_bytes;
    st->released_checkpoint = cs->released_checkpoint;
    st->released_forced = cs->released_forced;
    st->secondary_dropped = cs->svm_dropped;
    st->malformed = cs->malformed;
    st->evictions = cs->evictions;
    st->http_date_equal = cs->http_date_equal;
    r->mismatch_payload = cs->requests[COLO_CMP_MISMATCH_PAYLOAD];
    r->mismatch_flags = cs->requests[COLO_CMP_MISMATCH_FLAGS];
    r->mismatch_frame = cs->requests[COLO_CMP_MISMATCH_FRAME];
    r->timeout = cs->requests[COLO_CMP_TIMEOUT];
    r->queue_connection = cs->requests[COLO_CMP_QUEUE_CONN];
    r->queue_total = cs->requests[COLO_CMP_QUEUE_TOTAL];
    r->secondary_ahead = cs->requests[COLO_CMP_SECONDARY_AHEAD];
    r->connection_evicted = cs->requests[COLO_CMP_EVICTED];
    r->secondary_only = cs->requests[COLO_CMP_SECONDARY_ONLY];
    r->resync = cs->requests[COLO_CMP_RESYNC];
    r->secondary_total = cs->requests[COLO_CMP_SECONDARY_TOTAL];
    st->checkpoint_requests = r;
}

static void colo_proxy_rw_info(ColoRw *rw, ColoProxyStats *st)
{
    const ColoRwStats *rs = colo_rw_stats(rw);

    st->connections = colo_rw_conns(rw);
    st->evictions = colo_rw_evictions(rw);
    st->translated = rs->translated;
    st->offsets_lost = rs->offsets_lost;
    st->offsets_imported = rs->imported;
    st->drops->hold_overflow = rs->hold_overflow;
    st->drops->evicted = rs->evicted;
    st->drops->stale += rs->stale;
}

static ColoProxyInfo *colo_proxy_info(ColoProxyState *s)
{
    NetFilterState *nf = NETFILTER(s);
    ColoProxyInfo *info = g_new0(ColoProxyInfo, 1);
    const char *err = colo_link_io_last_error(s->link);
    const ColoLinkIOStats *ls = colo_link_io_stats(s->link);

    info->id = g_strdup(object_get_canonical_path_component(OBJECT(s)));
    info->netdev = g_strdup(nf->netdev_id);
    info->mode = s->mode;
    info->link = colo_proxy_link_states[colo_link_io_state(s->link)];
    info->link_error = g_strdup(err);
    info->failover = s->failover;
    info->stats = g_memdup2(&s->stats, sizeof(s->stats));
    info->stats->drops = g_memdup2(&s->drops, sizeof(s->drops));
    if (s->rw) {
        colo_proxy_rw_info(s->rw, info->stats);
    }
    if (s->cmp) {
        colo_proxy_cmp_info(s->cmp, info->stats);
    }
    info->stats->epoch_timeouts = s->epoch.timeouts;
    info->stats->link_failures = ls->failures;
    info->stats->link_refusals = g_new0(ColoProxyLinkRefusals, 1);
    info->stats->link_refusals->busy = ls->refused_busy;
    info->stats->link_refusals->handshake = ls->refused_handshake;
    info->stats->link_refusals->timeout = ls->refused_timeout;
    info->stats->link_refusals->evicted = ls->refused_evicted;
    info->stats->link_buffered = colo_link_io_buffered(s->link);
    info->stats->pending_frames = s->to_net.frames + s->to_guest.frames;
    info->stats->pending_bytes = s->to_net.bytes + s->to_guest.bytes;
    if (s->notify) {
        const ColoNotifyStats *ns = colo_notify_stats(s->notify);

        info->stats->notify = g_new0(ColoProxyNotifyStats, 1);
        info->stats->notify->requests = ns->requests;
        info->stats->notify->checkpoints = ns->checkpoints;
        info->stats->notify->inits = ns->inits;
        info->stats->notify->errors = ns->errors;
        info->notify_error = g_strdup(colo_notify_last_error(s->notify));
    }
    if (!info->stats->checkpoint_requests) {
        info->stats->checkpoint_requests =
            g_new0(ColoProxyCheckpointRequests, 1);
    }
    return info;
}

static int colo_proxy_collect(Object *obj, void *opaque)
{
    ColoProxyInfoList ***tail = opaque;
    ColoProxyState *s = (ColoProxyState *)object_dynamic_cast(obj,
                                                              TYPE_COLO_PROXY);

    if (s && s->link) {
        QAPI_LIST_APPEND(*tail, colo_proxy_info(s));
    }
    return 0;
}

ColoProxyInfoList *qmp_query_colo_proxy(Error **errp)
{
    ColoProxyInfoList *head = NULL, **tail = &head;

    object_child_foreach(object_get_objects_root(), colo_proxy_collect,
                         &tail);
    return head;
}

/*
 * A secondary that took over becomes the primary of a new pair: it
 * connects to @addr, where the new secondary listens, compares from the
 * start of the new COLO session on, and goes on translating the numbers
 * of the connections it served, which it hands to the new secondary.
 */
void qmp_x_colo_proxy_promote(const char *id, const char *addr,
                              const char *tls_creds, Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);
    ColoProxyState *s = obj ? (ColoProxyState *)
                        object_dynamic_cast(obj, TYPE_COLO_PROXY) : NULL;
    g_autoptr(SocketAddress) link_addr = NULL;
    ColoLinkIOConfig cfg;
    ColoLinkIO *link;
    uint32_t seed;

    if (!s || !s->link) {
        error_setg(errp, "'%s' is not a colo-proxy object", id);
        return;
    }
    if (s->mode != COLO_PROXY_MODE_SECONDARY || !s->failover) {
        error_setg(errp, "colo-proxy '%s' is no secondary that took over "
                   "(failover)", id);
        return;
    }
    link_addr = colo_proxy_parse_addr(addr, COLO_PROXY_MODE_PRIMARY, errp);
    colo_proxy_link_cfg(s, &cfg);
    cfg.hello.role = COLO_LINK_ROLE_PRIMARY;
    cfg.listen = false;
    if (!link_addr ||
        !colo_proxy_tls(s, tls_creds, NULL, false, link_addr, &cfg, errp) ||
        !colo_proxy_check_auth(s, link_addr, tls_creds, errp)) {
        return;
    }
    s->mode = COLO_PROXY_MODE_PRIMARY;
    cfg.addr = link_addr;
    link = colo_link_io_new(&cfg, &colo_proxy_link_ops, s, errp);
    if (!link) {
        s->mode = COLO_PROXY_MODE_SECONDARY;
        return;
    }
    colo_link_io_free(s->link);
    s->link = link;
    qapi_free_SocketAddress(s->link_addr);
    s->link_addr = g_steal_pointer(&link_addr);
    g_free(s->addr);
    s->addr = g_strdup(addr);
    g_free(s->tls_creds);
    s->tls_creds = g_strdup(tls_creds);
    g_free(s->tls_authz);
    s->tls_authz = NULL;
    colo_epoch_reset(&s->epoch);
    colo_proxy_early_drop(s);
    s->rbuf = g_malloc(COLO_PROXY_FRAME_MAX);
    qemu_guest_getrandom_nofail(&seed, sizeof(seed));
    colo_proxy_cmp_setup(s, seed);
    trace_colo_proxy_promote(s->parent_obj.netdev_id, addr);
}

void qmp_x_colo_proxy_event(const char *id, ColoProxyEvent event,
                            Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);
    ColoProxyState *s = obj ? (ColoProxyState *)
                        object_dynamic_cast(obj, TYPE_COLO_PROXY) : NULL;

    if (!s || !s->link) {
        error_setg(errp, "'%s' is not a colo-proxy object", id);
        return;
    }
    colo_proxy_do_event(s, event == COLO_PROXY_EVENT_CHECKPOINT ?
                        COLO_EVENT_CHECKPOINT : COLO_EVENT_FAILOVER);
}

/* ---- properties ---- */

/*
 * Properties are set before the proxy runs: once it does, a change would
 * be ignored or pull its state from under it (a secondary made primary
 * has no comparison).  Refuse it.
 */
static bool colo_proxy_settable(Object *obj, const char *name, Error **errp)
{
    if (COLO_PROXY(obj)->link) {
        error_setg(errp, "property '%s' of colo-proxy '%s' cannot be "
                   "changed while it runs", name,
                   object_get_canonical_path_component(obj));
        return false;
    }
    return true;
}

/*
 * "status=off" would let the secondary VM's output out to its own
 * network and stop the primary's comparison without a word: refused
 * once the proxy runs, as its own properties are.  (Before, with no
 * netdev yet, this is not called.)
 */
static void colo_proxy_status_changed(NetFilterState *nf, Error **errp)
{
    if (!colo_proxy_settable(OBJECT(nf), "status", errp)) {
        nf->on = !nf->on;
    }
}

static int colo_proxy_get_mode(Object *obj, Error **errp)
{
    return COLO_PROXY(obj)->mode;
}

static void colo_proxy_set_mode(Object *obj, int value, Error **errp)
{
    ColoProxyState *s = COLO_PROXY(obj);

    if (!colo_proxy_settable(obj, "mode", errp)) {
        return;
    }
    s->mode = value;
    s->mode_set = true;
}

static char *colo_proxy_get_addr(Object *obj, Error **errp)
{
    return g_strdup(COLO_PROXY(obj)->addr);
}

static void colo_proxy_set_addr(Object *obj, const char *value, Error **errp)
{
    ColoProxyState *s = COLO_PROXY(obj);

    if (!colo_proxy_settable(obj, "addr", errp)) {
        return;
    }
    g_free(s->addr);
    s->addr = g_strdup(value);
}

static char *colo_proxy_get_tls_creds(Object *obj, Error **errp)
{
    return g_strdup(COLO_PROXY(obj)->tls_creds);
}

static void colo_proxy_set_tls_creds(Object *obj, const char *value,
                                     Error **errp)
{
    ColoProxyState *s = COLO_PROXY(obj);

    if (!colo_proxy_settable(obj, "tls-creds", errp)) {
        return;
    }
    g_free(s->tls_creds);
    s->tls_creds = g_strdup(value);
}

static char *colo_proxy_get_http_date_ports(Object *obj, Error **errp)
{
    return g_strdup(COLO_PROXY(obj)->http_date_ports);
}

/* "PORT[:PORT]...": up to COLO_CMP_HTTP_DATE_PORTS of them; "" for none */
static bool colo_proxy_parse_ports(const char *value, uint16_t *port,
                                   Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(value, ":", -1);
    int n = *value ? g_strv_length(parts) : 0;

    if (n > COLO_CMP_HTTP_DATE_PORTS) {
        error_setg(errp, "property 'http-date-ports' takes at most %d ports",
                   COLO_CMP_HTTP_DATE_PORTS);
        return false;
    }
    memset(port, 0, sizeof(*port) * COLO_CMP_HTTP_DATE_PORTS);
    for (int i = 0; i < n; i++) {
        uint64_t v;

        if (qemu_strtou64(parts[i], NULL, 10, &v) < 0 || !v || v > 65535) {
            error_setg(errp, "property 'http-date-ports': '%s' is not a "
                       "TCP port", parts[i]);
            return false;
        }
        port[i] = v;
    }
    return true;
}

static void colo_proxy_set_http_date_ports(Object *obj, const char *value,
                                           Error **errp)
{
    ColoProxyState *s = COLO_PROXY(obj);
    uint16_t port[COLO_CMP_HTTP_DATE_PORTS];

    if (!colo_proxy_settable(obj, "http-date-ports", errp) ||
        !colo_proxy_parse_ports(value, port, errp)) {
        return;
    }
    memcpy(s->http_date_port, port, sizeof(port));
    g_free(s->http_date_ports);
    s->http_date_ports = g_strdup(value);
}

static char *colo_proxy_get_tls_authz(Object *obj, Error **errp)
{
    return g_strdup(COLO_PROXY(obj)->tls_authz);
}

static void colo_proxy_set_tls_authz(Object *obj, const char *value,
                                     Error **errp)
{
    ColoProxyState *s = COLO_PROXY(obj);

    if (!colo_proxy_settable(obj, "tls-authz", errp)) {
        return;
    }
    g_free(s->tls_authz);
    s->tls_authz = g_strdup(value);
}

static char *colo_proxy_get_notify_dev(Object *obj, Error **errp)
{
    return g_strdup(COLO_PROXY(obj)->notify_dev);
}

static void colo_proxy_set_notify_dev(Object *obj, const char *value,
                                      Error **errp)
{
    ColoProxyState *s = COLO_PROXY(obj);

    if (!colo_proxy_settable(obj, "notify-dev", errp)) {
        return;
    }
    g_free(s->notify_dev);
    s->notify_dev = g_strdup(value);
}

static bool colo_proxy_get_allow_unauth(Object *obj, Error **errp)
{
    return COLO_PROXY(obj)->allow_unauth;
}

static void colo_proxy_set_allow_unauth(Object *obj, bool value,
                                        Error **errp)
{
    if (!colo_proxy_settable(obj, "allow-unauthenticated", errp)) {
        return;
    }
    COLO_PROXY(obj)->allow_unauth = value;
}

static bool colo_proxy_get_vnet_hdr(Object *obj, Error **errp)
{
    return COLO_PROXY(obj)->vnet_hdr;
}

static void colo_proxy_set_vnet_hdr(Object *obj, bool value, Error **errp)
{
    if (!colo_proxy_settable(obj, "vnet-hdr-support", errp)) {
        return;
    }
    COLO_PROXY(obj)->vnet_hdr = value;
}

/* A uint32/uint64 property with a lower bound, checked when it is set. */
typedef struct ColoProxyUintProp {
    const char *name;
    const char *desc;
    size_t offset;
    bool is64;
    uint64_t min;
    uint64_t max;
    uint64_t def;
} ColoProxyUintProp;

static const ColoProxyUintProp colo_proxy_uint_props[] = {
    { "link-timeout", "ms without a word from the peer before the link is "
      "declared down; heartbeats go every quarter of it",
      offsetof(ColoProxyState, link_timeout), false,
      COLO_PROXY_LINK_TIMEOUT_MIN, 3600 * 1000,
      COLO_PROXY_LINK_TIMEOUT_DEFAULT },
    { "link-buffer", "bytes of frames queued for the peer, at most",
      offsetof(ColoProxyState, link_buffer), true,
      COLO_PROXY_LINK_BUFFER_MIN, 1 * GiB, COLO_PROXY_LINK_BUFFER_DEFAULT },
    { "compare-timeout", "ms a frame of the primary may wait for the "
      "secondary's before a checkpoint is asked for",
      offsetof(ColoProxyState, compare_timeout), false, 10, 3600 * 1000,
      COLO_PROXY_COMPARE_TIMEOUT_DEFAULT },
    { "max-held", "frames of the primary held in all, at most",
      offsetof(ColoProxyState, max_held), false, 1, 1 << 20,
      COLO_PROXY_MAX_HELD_DEFAULT },
    { "max-held-bytes", "bytes of the primary's frames held in all",
      offsetof(ColoProxyState, max_held_bytes), true, 64 * KiB, 4 * GiB,
      COLO_PROXY_MAX_HELD_BYTES_DEFAULT },
    { "max-conn-held", "frames of the primary held per connection",
      offsetof(ColoProxyState, max_conn_held), false, 1, 1 << 20,
      COLO_PROXY_MAX_CONN_HELD_DEFAULT },
    { "max-conn-held-bytes", "bytes of the primary held per connection",
      offsetof(ColoProxyState, max_conn_held_bytes), true, 64 * KiB,
      4 * GiB, COLO_PROXY_MAX_CONN_HELD_BYTES_DEFAULT },
    { "max-ahead", "bytes of the secondary's output kept per connection "
      "while the primary's lags",
      offsetof(ColoProxyState, max_ahead), true, 64 * KiB, 4 * GiB,
      COLO_PROXY_MAX_AHEAD_DEFAULT },
    { "max-ahead-total", "bytes of the secondary's output kept in all",
      offsetof(ColoProxyState, max_ahead_total), true, 64 * KiB, 16 * GiB,
      COLO_PROXY_MAX_AHEAD_TOTAL_DEFAULT },
    { "max-connections", "connections tracked, at most",
      offsetof(ColoProxyState, max_conns), false, 16, 1 << 24,
      COLO_PROXY_MAX_CONNS_DEFAULT },
    { "http-date-window", "seconds two HTTP Date values on the "
      "http-date-ports may be apart and still be equal",
      offsetof(ColoProxyState, http_date_window), false, 0, 86400,
      COLO_PROXY_HTTP_DATE_WINDOW_DEFAULT },
};

static void colo_proxy_get_uint(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    const ColoProxyUintProp *p = opaque;
    uint8_t *field = (uint8_t *)obj + p->offset;
    uint64_t value = p->is64 ? *(uint64_t *)field : *(uint32_t *)field;

    visit_type_uint64(v, name, &value, errp);
}

static void colo_proxy_set_uint(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    const ColoProxyUintProp *p = opaque;
    uint8_t *field = (uint8_t *)obj + p->offset;
    uint64_t value;

    if (!colo_proxy_settable(obj, name, errp) ||
        !visit_type_uint64(v, name, &value, errp)) {
        return;
    }
    if (value < p->min || value > p->max) {
        error_setg(errp, "property '%s' must be between %" PRIu64
                   " and %" PRIu64, name, p->min, p->max);
        return;
    }
    if (p->is64) {
        *(uint64_t *)field = value;
    } else {
        *(uint32_t *)field = value;
    }
}

static void colo_proxy_init(Object *obj)
{
    for (size_t i = 0; i < ARRAY_SIZE(colo_proxy_uint_props); i++) {
        const ColoProxyUintProp *p = &colo_proxy_uint_props[i];
        uint8_t *field = (uint8_t *)obj + p->offset;

        if (p->is64) {
            *(uint64_t *)field = p->def;
        } else {
            *(uint32_t *)field = p->def;
        }
    }
}

static void colo_proxy_finalize(Object *obj)
{
    ColoProxyState *s = COLO_PROXY(obj);

    g_free(s->addr);
    g_free(s->tls_creds);
    g_free(s->tls_authz);
    g_free(s->notify_dev);
    g_free(s->http_date_ports);
}

static void colo_proxy_class_init(ObjectClass *oc, void *data)
{
    NetFilterClass *nfc = NETFILTER_CLASS(oc);

    object_class_property_add_enum(oc, "mode", "ColoProxyMode",
                                   &ColoProxyMode_lookup,
                                   colo_proxy_get_mode, colo_proxy_set_mode);
    object_class_property_set_description(oc, "mode",
        "role of this host in the COLO pair: primary or secondary");
    object_class_property_add_str(oc, "addr", colo_proxy_get_addr,
                                  colo_proxy_set_addr);
    object_class_property_set_description(oc, "addr",
        "link to the peer: HOST:PORT or a unix socket path; the secondary "
        "listens there, the primary connects");
    object_class_property_add_str(oc, "tls-creds", colo_proxy_get_tls_creds,
                                  colo_proxy_set_tls_creds);
    object_class_property_set_description(oc, "tls-creds",
        "id of the TLS credentials object protecting the link (endpoint "
        "server on the secondary, client on the primary)");
    object_class_property_add_str(oc, "tls-authz", colo_proxy_get_tls_authz,
                                  colo_proxy_set_tls_authz);
    object_class_property_set_description(oc, "tls-authz",
        "secondary: id of the authorization object the primary's client "
        "certificate is checked against");
    object_class_property_add_bool(oc, "allow-unauthenticated",
                                   colo_proxy_get_allow_unauth,
                                   colo_proxy_set_allow_unauth);
    object_class_property_set_description(oc, "allow-unauthenticated",
        "accept a TCP link without tls-creds: anyone who reaches addr can "
        "act as the peer; only for a network no one else can reach");
    object_class_property_add_str(oc, "notify-dev", colo_proxy_get_notify_dev,
                                  colo_proxy_set_notify_dev);
    object_class_property_set_description(oc, "notify-dev",
        "primary: id of the chardev of an external COLO frame (Xen), which "
        "is asked for checkpoints instead of QEMU's COLO thread");
    object_class_property_add_bool(oc, "vnet-hdr-support",
                                   colo_proxy_get_vnet_hdr,
                                   colo_proxy_set_vnet_hdr);
    object_class_property_set_description(oc, "vnet-hdr-support",
        "frames carry a virtio-net header; both proxies must agree");
    object_class_property_add_str(oc, "http-date-ports",
                                  colo_proxy_get_http_date_ports,
                                  colo_proxy_set_http_date_ports);
    object_class_property_set_description(oc, "http-date-ports",
        "primary: PORT[:PORT]..., TCP ports of HTTP/1.x servers in the guest "
        "whose responses' Date values may differ between the two guests by "
        "http-date-window seconds; the primary's is released (default: "
        "none)");
    for (size_t i = 0; i < ARRAY_SIZE(colo_proxy_uint_props); i++) {
        const ColoProxyUintProp *p = &colo_proxy_uint_props[i];

        object_class_property_add(oc, p->name, "uint64",
                                  colo_proxy_get_uint, colo_proxy_set_uint,
                                  NULL, (void *)p);
        object_class_property_set_description(oc, p->name, p->desc);
    }

    nfc->setup = colo_proxy_setup;
    nfc->cleanup = colo_proxy_cleanup;
    nfc->receive_iov = colo_proxy_receive_iov;
    nfc->handle_event = colo_proxy_handle_event;
    nfc->status_changed = colo_proxy_status_changed;
    nfc->fixed_direction = true;
}

static const TypeInfo colo_proxy_types[] = {
    {
        .name = TYPE_COLO_PROXY,
        .parent = TYPE_NETFILTER,
        .class_init = colo_proxy_class_init,
        .instance_size = sizeof(ColoProxyState),
        .instance_init = colo_proxy_init,
        .instance_finalize = colo_proxy_finalize,
    },
};

DEFINE_TYPES(colo_proxy_types)
