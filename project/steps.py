#!/usr/bin/python3
"""New files as of an earlier commit of the series.

A commit's "Files:" header may name a file as PATH@N: the file as the
series' step N adds it, which a later commit completes (named there
without @).  at_step() computes that earlier version from the file this
repo holds, by taking out what the later steps add.  Each edit is
checked: a file that no longer has the text an edit expects (once) fails
the export loudly.

An edit is ("drop", TEXT), ("rep", TEXT, NEW) or ("cut", START, END):
remove from START up to, not including, the first END after it.
"""


def _cut(text, start, end):
    """Remove from START (which the text holds once) up to, not including,
    the first END after it."""
    assert text.count(start) == 1, start
    a = text.index(start)
    b = text.index(end, a)
    return text[:a] + text[b:]


def _rep(text, old, new):
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _apply(text, edits):
    for e in edits:
        if e[0] == "cut":
            text = _cut(text, e[1], e[2])
        elif e[0] == "rep":
            text = _rep(text, e[1], e[2])
        else:
            text = _rep(text, e[1], "")
    return text


# net/colo-proxy.c, from the last step back:
# the QMP commands and events (27)
QMP = [
    ("cut", "/* ---- QMP ---- */\n", "/* ---- properties ---- */\n"),
    ("drop", '#include "qapi/qapi-commands-net.h"\n'),
    ("drop", '#include "qapi/qapi-events-net.h"\n'),
    ("drop", "    qapi_event_send_colo_proxy_checkpoint_request(id,\n"
             "        (ColoProxyCheckpointReason)why, conn);\n"),
    ("drop", "    qapi_event_send_colo_proxy_link(id, up, reason);\n"),
]

# x-colo-proxy-promote (27): a secondary that took over, made primary
PROMOTION = [
    ('drop', """    uint8_t *rbuf;                  /* promoted: a released frame, moved */
"""),
    ('drop', """    if (s->rw) {
        /* a former secondary: its guest's numbers are not the clients' */
        memcpy(s->rbuf, buf, len);
        colo_rw_egress(s->rw, s->rbuf, len, colo_proxy_vnet_len(s),
                       colo_proxy_now_ns());
        buf = s->rbuf;
    }
"""),
    ('rep', """static bool colo_proxy_protected(ColoProxyState *s);
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
""", """/* Hand a frame to the guest, as if the netdev had sent it. */
static void colo_proxy_deliver(void *opaque, uint8_t *buf, uint32_t len)
{
    ColoProxyState *s = opaque;

"""),
    ('cut', """/*
 * A promoted primary hands the offsets""", 'static void colo_proxy_link_offsets('),
    ('drop', """    if (s->mode == COLO_PROXY_MODE_PRIMARY && s->rw) {
        colo_proxy_send_offsets(s);
    }
"""),
    ('cut', """/*
 * A promoted primary (a secondary that took over) goes on translating""", """/* Primary: mirror ingress, hold egress while protected. */
"""),
    ('drop', """    if (s->rw && (ingress || !colo_proxy_protected(s))) {
        return colo_proxy_promoted_receive(s, ingress, flags, iov, iovcnt);
    }
"""),
    ('drop', """    g_free(s->rbuf);
    s->rbuf = NULL;
"""),
]

# the secondary's path (26): delivery and sequence translation
SECONDARY = [
    ('rep', """ * Secondary: frames from the link are the guest's ingress (TCP acks moved
 *            into its sequence space); the guest's output goes to the
 *            primary (TCP seqs moved into the primary's space); ingress
 *            from this host's own network is not delivered until failover.
""", """ * Secondary: frames pass through; what the link brings is counted (the
 *            secondary's path comes next).
"""),
    ('drop', """#include "net/colo-proxy-rewrite.h"
"""),
    ('drop', """/* Ingress held per connection until its offset is known (a handshake). */
#define COLO_PROXY_CONN_HOLD_BYTES (256 * KiB)

"""),
    ('drop', """    /* secondary: the sequence translation */
    ColoRw *rw;
"""),
    ('cut', """/* ---- the secondary's translation ---- */
""", """/* ---- the link ---- */
"""),
    ('rep', """    if (s->mode == COLO_PROXY_MODE_PRIMARY) {
        colo_cmp_secondary(s->cmp, buf, len, vlen, colo_proxy_now_ns());
    } else {
        memcpy(s->scratch, buf, len);
        colo_rw_ingress(s->rw, s->scratch, len, vlen, colo_proxy_now_ns());
    }
""", """    if (s->mode == COLO_PROXY_MODE_PRIMARY) {
        colo_cmp_secondary(s->cmp, buf, len, vlen, colo_proxy_now_ns());
    }
"""),
    ('rep', """    ColoProxyState *s = opaque;

    if (s->mode != COLO_PROXY_MODE_SECONDARY ||
        !colo_rw_import(s->rw, buf, len, colo_proxy_now_ns())) {
        s->drops.malformed_offsets++;
    }
""", """    ColoProxyState *s = opaque;

    /* nothing translates sequence numbers yet */
    s->drops.malformed_offsets++;
"""),
    ('cut', """/*
 * A checkpoint on the secondary: ingress""", 'static ssize_t colo_proxy_receive_iov('),
    ('rep', """        return colo_proxy_primary_receive(s, ingress, flags, iov, iovcnt);
    }
    return colo_proxy_secondary_receive(s, ingress, sender, flags, iov,
                                        iovcnt);
""", """        return colo_proxy_primary_receive(s, ingress, flags, iov, iovcnt);
    }
    return 0;
"""),
    ('drop', """        } else if (!s->failover) {
            colo_proxy_secondary_checkpoint(s);
"""),
    ('drop', """        } else {
            /* it talks to the clients itself now */
            colo_rw_failover(s->rw);
"""),
    ('cut', 'static void colo_proxy_rw_setup(', '/* A quarter of compare-timeout'),
    ('drop', """    } else {
        colo_proxy_rw_setup(s, seed);
"""),
    ('drop', """    if (s->rw) {
        colo_rw_tick(s->rw, now);
    }
"""),
    ('drop', """    /* ingress waiting for an offset is not delivered untranslated */
    colo_rw_free(s->rw);
    s->rw = NULL;
"""),
]

# the primary's path (25): mirroring, comparison, release, epochs,
# notify-dev
PRIMARY = [
    ('rep', """ * Primary:   ingress (netdev -> guest) is delivered and mirrored to the
 *            secondary; the guest's output is held until the secondary's
 *            guest sent the same frame, then released in order.
 * Secondary: frames pass through; what the link brings is counted (the
 *            secondary's path comes next).
""", """ * For now both pass every frame through: the link comes up and both
 * follow COLO's checkpoints and failover; the primary's and the
 * secondary's paths come next.
"""),
    ('drop', """#include "qemu/guest-random.h"
"""),
    ('drop', """#include "net/colo-proxy-notify.h"
"""),
    ('cut', """/*
 * Frames passed on at the pace the next hop""", """struct ColoProxyState {
"""),
    ('drop', """    uint8_t *scratch;               /* a writable copy of one frame */
    ColoProxyTx to_net;             /* the guest's output, to the network */
    ColoProxyTx to_guest;           /* secondary: ingress, to its guest */
    QEMUBH *tx_bh;                  /* resumes both after a callback */
"""),
    ('drop', """    ColoEpoch epoch;                /* the peer's checkpoints and ours */
    QSIMPLEQ_HEAD(, ColoProxyTxFrame) early;    /* held by the epoch */
    uint64_t early_bytes;
    QEMUTimer *tick_timer;
"""),
    ('drop', """    /* primary: the comparison of the two guests' output */
    ColoCmp *cmp;
    ColoNotify *notify;             /* an external COLO frame, if any */

"""),
    ('cut', 'static int64_t colo_proxy_now_ns(void)', """/* ---- the link ---- */
"""),
    ('cut', '/* A frame of the peer, in its epoch', 'static void colo_proxy_link_offsets('),
    ('rep', """    s->reported_error = NULL;
    colo_epoch_reset(&s->epoch);
    colo_proxy_early_drop(s);
    colo_proxy_link_event(s, true, "handshake complete");
    if (s->mode == COLO_PROXY_MODE_PRIMARY && s->colo_active &&
        !s->failover) {
        /* back during COLO: the secondary missed what went by meanwhile */
        colo_cmp_request_resync(s->cmp);
    }
}
""", """    s->reported_error = NULL;
    colo_proxy_link_event(s, true, "handshake complete");
}
"""),
    ('rep', """    ColoProxyState *s = opaque;

    /* Unprotected from here: what the primary's guest sent goes out. */
    if (s->mode == COLO_PROXY_MODE_PRIMARY) {
        colo_cmp_release_all(s->cmp);
    }
    colo_epoch_reset(&s->epoch);
    colo_proxy_early_drop(s);
    colo_proxy_link_event(s, false, reason);
""", """    colo_proxy_link_event(opaque, false, reason);
"""),
    ('rep', """    trace_colo_proxy_link_frame(s->parent_obj.netdev_id, len);
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
""", """    trace_colo_proxy_link_frame(s->parent_obj.netdev_id, len);
    /* counted only: neither side sends frames yet */
}
"""),
    ('rep', """    s->stats.peer_checkpoints++;
    colo_epoch_marker(&s->epoch, colo_proxy_now_ns());
""", """    s->stats.peer_checkpoints++;
"""),
    ('cut', """/*
 * Protected while COLO runs, and the link is up""", """/* ---- the filter ---- */
"""),
    ('cut', '/* Primary: ingress to the secondary too, and to the comparison. */', 'static ssize_t colo_proxy_receive_iov('),
    ('rep', """    /* no checked QOM cast here: this runs for every frame */
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
    return 0;
""", """    trace_colo_proxy_receive_iov(nf->netdev_id, sender == nf->netdev,
                                 iov_size(iov, iovcnt));
    return 0;
"""),
    ('rep', """        s->colo_active = true;
        /* what we send from here on belongs to the state after it */
        colo_link_io_send_epoch(s->link);
        if (s->mode == COLO_PROXY_MODE_PRIMARY) {
            /* COLO runs (again) with a new secondary: protect again */
            s->failover = false;
            colo_cmp_checkpoint(s->cmp);
        }
        if (colo_epoch_local(&s->epoch, colo_proxy_now_ns())) {
            colo_proxy_early_flush(s);
        }
        break;
""", """        s->colo_active = true;
        if (s->mode == COLO_PROXY_MODE_PRIMARY) {
            /* COLO runs (again) with a new secondary */
            s->failover = false;
        }
        break;
"""),
    ('drop', """        if (s->mode == COLO_PROXY_MODE_PRIMARY) {
            colo_cmp_release_all(s->cmp);
        }
"""),
    ('cut', '/* The external frame reports a completed checkpoint. */', "/* The link's configuration for this side's (current) role. */"),
    ('rep', """    ColoLinkIOConfig cfg;
    uint32_t seed;
""", """    ColoLinkIOConfig cfg;
"""),
    ('cut', """    qemu_guest_getrandom_nofail(&seed, sizeof(seed));
""", '    s->link = colo_link_io_new('),
    ('rep', """    s->link = NULL;
    colo_notify_free(s->notify);
    s->notify = NULL;
    if (s->tick_timer) {
""", """    s->link = NULL;
    if (s->tick_timer) {
"""),
    ('cut', """    if (s->tick_timer) {
""", """    qapi_free_SocketAddress(s->link_addr);
"""),
]


def _colo_proxy_c(text, step):
    for first, edits in ((27, QMP + PROMOTION), (26, SECONDARY),
                         (25, PRIMARY)):
        if step < first:
            text = _apply(text, edits)
    return text


STEPS = {
    "net/colo-proxy.c": _colo_proxy_c,
}


def at_step(path, step, text):
    return STEPS[path](text, step)
