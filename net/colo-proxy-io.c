/*
 * COLO proxy: the link between the primary's and the secondary's proxy
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/iov.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-sockets.h"
#include "qapi/clone-visitor.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "io/net-listener.h"
#include "io/dns-resolver.h"
#include "qemu/sockets.h"
#include "net/colo-proxy-io.h"
#include "trace.h"

enum {
    COLO_LINK_READ_SIZE = 64 * 1024,
    /* The most a TLS record carries (RFC 8446 5.1) */
    COLO_LINK_TLS_RECORD = 16 * 1024,
    /* Reads per wakeup before other sources get their turn. */
    COLO_LINK_READS_PER_WAKEUP = 16,
    COLO_LINK_BACKOFF_MIN_MS = 50,
    COLO_LINK_TICK_MIN_MS = 10,
    /*
     * Secondary: connections accepted that have not finished TLS and
     * HELLO yet.  A few, each with its own deadline: when they are all
     * taken, the oldest is dropped, so that silent or slow connections
     * cannot keep the primary out for longer than it takes to connect.
     */
    COLO_LINK_MAX_PENDING = 4,
    /* Connections the kernel queues for accept(): a stalled secondary's. */
    COLO_LINK_BACKLOG = 16,
    COLO_LINK_HELLO_MSG = COLO_LINK_HDR_LEN + COLO_LINK_HELLO_LEN,
};

/* An in-flight resolution or TLS handshake; outlives its owner if need be. */
typedef struct ColoLinkConnect {
    ColoLinkIO *link;
    struct ColoLinkPeer *peer;
} ColoLinkConnect;

/*
 * Secondary: an accepted connection that has not proved it is the
 * primary yet.  It gets nothing but the TLS handshake and a BYE, and
 * takes the link's one slot only once TLS and its HELLO succeeded.
 */
typedef struct ColoLinkPeer {
    ColoLinkIO *link;
    QIOChannel *ioc;
    guint in_watch;
    int64_t since_ms;
    ColoLinkConnect *tls;       /* TLS handshake in flight */
    uint8_t hello[COLO_LINK_HELLO_MSG];
    uint32_t got;
    QTAILQ_ENTRY(ColoLinkPeer) next;
} ColoLinkPeer;

struct ColoLinkIO {
    ColoLinkIOConfig cfg;
    const ColoLinkIOOps *ops;
    void *opaque;
    ColoLinkIOState state;
    QIONetListener *listener;
    QIOChannel *ioc;            /* the socket, or TLS over it */
    guint in_watch;
    guint out_watch;
    ColoLinkDecoder dec;
    uint8_t *rbuf;
    GByteArray *out;            /* bytes not yet written, from out_off */
    size_t out_off;
    QEMUTimer *timer;
    QEMUBH *close_bh;
    QEMUBH *read_bh;            /* more to read than one wakeup takes */
    QEMUBH *flush_bh;           /* frames queued in this loop iteration */
    bool flush_pending;         /* flush_bh is scheduled */
    int64_t last_rx_ms;
    int64_t last_tx_ms;
    int64_t attempt_ms;         /* when connecting or the handshake began */
    int64_t up_ms;              /* when the link came up */
    int connect_fd;             /* primary: connect(2) in progress */
    uint32_t next_addr;         /* primary: which resolved address next */
    QTAILQ_HEAD(, ColoLinkPeer) peers;  /* secondary: pending handshakes */
    uint32_t npeers;
    int64_t reconnect_ms;       /* primary: when to try again */
    uint32_t backoff_ms;
    ColoLinkConnect *pending;
    char *close_reason;         /* set while decoding or writing fails */
    char *last_error;
    ColoLinkIOStats stats;
};

static void colo_link_io_connect(ColoLinkIO *l);

static int64_t colo_link_io_now(void)
{
    return qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
}

static uint32_t colo_link_io_interval(const ColoLinkIO *l)
{
    return MAX(l->cfg.timeout_ms / 4, COLO_LINK_TICK_MIN_MS);
}

ColoLinkIOState colo_link_io_state(const ColoLinkIO *l)
{
    return l->state;
}

const char *colo_link_io_last_error(const ColoLinkIO *l)
{
    return l->last_error;
}

const ColoLinkIOStats *colo_link_io_stats(const ColoLinkIO *l)
{
    return &l->stats;
}

uint64_t colo_link_io_buffered(const ColoLinkIO *l)
{
    return l->out->len - l->out_off;
}

/* Abandon a connect(2) in progress. */
static void colo_link_io_cancel_connect(ColoLinkIO *l)
{
    if (l->connect_fd >= 0) {
        qemu_set_fd_handler(l->connect_fd, NULL, NULL, NULL);
        close(l->connect_fd);
        l->connect_fd = -1;
    }
}

/* Tear the connection down; tell the owner; plan the next attempt. */
static void colo_link_io_close(ColoLinkIO *l, const char *reason)
{
    bool was_up = l->state == COLO_LINK_IO_UP;

    trace_colo_proxy_link_close(l->cfg.name, was_up, reason);
    if (l->pending) {
        /* a resolution or TLS handshake in flight no longer concerns us */
        l->pending->link = NULL;
        l->pending = NULL;
    }
    colo_link_io_cancel_connect(l);
    if (l->in_watch) {
        g_source_remove(l->in_watch);
        l->in_watch = 0;
    }
    if (l->out_watch) {
        g_source_remove(l->out_watch);
        l->out_watch = 0;
    }
    if (l->ioc) {
        qio_channel_close(l->ioc, NULL);
        object_unref(OBJECT(l->ioc));
        l->ioc = NULL;
    }
    qemu_bh_cancel(l->read_bh);
    qemu_bh_cancel(l->flush_bh);
    l->flush_pending = false;
    g_byte_array_set_size(l->out, 0);
    l->out_off = 0;
    g_free(l->last_error);
    l->last_error = g_strdup(reason);
    l->stats.failures++;
    if (l->cfg.listen) {
        l->state = COLO_LINK_IO_LISTENING;
    } else {
        l->state = COLO_LINK_IO_IDLE;
        l->reconnect_ms = colo_link_io_now() + l->backoff_ms;
        l->backoff_ms = MIN(l->backoff_ms * 2, MAX(l->cfg.timeout_ms,
                                                  COLO_LINK_BACKOFF_MIN_MS));
    }
    if (was_up) {
        l->ops->down(l->opaque, reason);
    } else {
        l->ops->refused(l->opaque, reason);
    }
}

/* Close outside of the caller's stack (a write or decode callback). */
static void colo_link_io_close_later(ColoLinkIO *l, const char *reason)
{
    if (!l->close_reason) {
        l->close_reason = g_strdup(reason);
        qemu_bh_schedule(l->close_bh);
    }
}

static void colo_link_io_close_bh(void *opaque)
{
    ColoLinkIO *l = opaque;
    g_autofree char *reason = g_steal_pointer(&l->close_reason);

    if (reason && l->ioc) {
        colo_link_io_close(l, reason);
    }
}

/*
 * Watch @ioc for @cond in the main loop.  The source may recurse: GLib
 * blocks a source that may not while it dispatches it, and blocking
 * takes its fd out of the poll set and puts it back, each time writing
 * the context's wakeup eventfd, which the next poll reads: three
 * syscalls and a wakeup for every dispatch.  No link handler iterates
 * the main loop, so none is ever entered twice.
 */
static guint colo_link_io_watch(QIOChannel *ioc, GIOCondition cond,
                                QIOChannelFunc fn, gpointer opaque)
{
    GSource *src = qio_channel_create_watch(ioc, cond);
    guint tag;

    g_source_set_callback(src, (GSourceFunc)fn, opaque, NULL);
    g_source_set_can_recurse(src, true);
    tag = g_source_attach(src, NULL);
    g_source_unref(src);
    return tag;
}

static gboolean colo_link_io_writable(QIOChannel *ioc, GIOCondition cond,
                                      gpointer opaque);

/* Write what is buffered; returns false if the connection broke. */
static bool colo_link_io_flush(ColoLinkIO *l)
{
    while (l->out_off < l->out->len) {
        g_autoptr(Error) err = NULL;
        ssize_t n = qio_channel_write(l->ioc,
                                      (char *)l->out->data + l->out_off,
                                      l->out->len - l->out_off, &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            break;
        }
        if (n < 0) {
            colo_link_io_close_later(l, error_get_pretty(err));
            return false;
        }
        l->out_off += n;
    }
    if (l->out_off == l->out->len) {
        g_byte_array_set_size(l->out, 0);
        l->out_off = 0;
    } else if (l->out_off >= l->out->len / 2) {
        /*
         * Under a lasting backlog the buffer never empties: drop what was
         * written once it is half of it (what is moved is at most as much
         * as was written), so that the buffer stays within twice what
         * waits instead of growing with everything ever sent.
         */
        g_byte_array_remove_range(l->out, 0, l->out_off);
        l->out_off = 0;
    }
    if (l->out_off < l->out->len && !l->out_watch) {
        l->out_watch = colo_link_io_watch(l->ioc, G_IO_OUT,
                                          colo_link_io_writable, l);
    }
    l->last_tx_ms = colo_link_io_now();
    return true;
}

static gboolean colo_link_io_writable(QIOChannel *ioc, GIOCondition cond,
                                      gpointer opaque)
{
    ColoLinkIO *l = opaque;

    l->out_watch = 0;
    colo_link_io_flush(l);
    return G_SOURCE_REMOVE;
}

/*
 * Frames go out together, one write for all that the handlers of one
 * main loop wakeup queued (a netdev read brings many, a link read as
 * many answers), from a bottom half: it runs before the loop sleeps
 * again, so a frame waits no longer than the handlers of the wakeup
 * that brought it.
 */
static void colo_link_io_flush_bh(void *opaque)
{
    ColoLinkIO *l = opaque;

    l->flush_pending = false;
    if (l->ioc && !l->out_watch && !l->close_reason) {
        colo_link_io_flush(l);
    }
}

/*
 * Queue a whole message (header + @iov); control messages are written at
 * once, frames when the loop iteration's handlers are done.
 */
static void colo_link_io_queue(ColoLinkIO *l, ColoLinkType type,
                               const struct iovec *iov, int iovcnt)
{
    uint8_t hdr[COLO_LINK_HDR_LEN];
    size_t len = iov_size(iov, iovcnt);

    colo_link_encode_hdr(hdr, type, len);
    /* Drop what was written already before the buffer grows. */
    if (l->out_off && l->out_off == l->out->len) {
        g_byte_array_set_size(l->out, 0);
        l->out_off = 0;
    }
    g_byte_array_append(l->out, hdr, sizeof(hdr));
    for (int i = 0; i < iovcnt; i++) {
        g_byte_array_append(l->out, iov[i].iov_base, iov[i].iov_len);
    }
    if (l->out_watch) {
        return;                 /* the socket is full: G_IO_OUT writes */
    }
    if (type == COLO_LINK_FRAME) {
        if (!l->flush_pending) {
            l->flush_pending = true;
            qemu_bh_schedule(l->flush_bh);
        }
    } else {
        colo_link_io_flush(l);
    }
}

bool colo_link_io_send(ColoLinkIO *l, const struct iovec *iov, int iovcnt)
{
    size_t len = iov_size(iov, iovcnt);

    if (l->state != COLO_LINK_IO_UP || l->close_reason) {
        return false;
    }
    if (colo_link_io_buffered(l) + COLO_LINK_HDR_LEN + len >
        l->cfg.max_buffer || len == 0 || len > COLO_LINK_MAX_PAYLOAD) {
        l->stats.buffer_full++;
        return false;
    }
    colo_link_io_queue(l, COLO_LINK_FRAME, iov, iovcnt);
    l->stats.tx_frames++;
    l->stats.tx_bytes += len;
    return true;
}

bool colo_link_io_send_epoch(ColoLinkIO *l)
{
    if (l->state != COLO_LINK_IO_UP || l->close_reason) {
        return false;
    }
    /* a marker is never refused for room: it is what makes frames safe */
    colo_link_io_queue(l, COLO_LINK_EPOCH, NULL, 0);
    return true;
}

bool colo_link_io_send_offsets(ColoLinkIO *l, const uint8_t *buf,
                               uint32_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

    if (l->state != COLO_LINK_IO_UP || l->close_reason ||
        len > COLO_LINK_MAX_PAYLOAD ||
        colo_link_io_buffered(l) + COLO_LINK_HDR_LEN + len >
        l->cfg.max_buffer) {
        return false;
    }
    colo_link_io_queue(l, COLO_LINK_OFFSETS, &iov, 1);
    return true;
}

static void colo_link_io_bye(ColoLinkIO *l, const char *reason)
{
    struct iovec iov = {
        .iov_base = (void *)reason,
        .iov_len = MIN(strlen(reason), COLO_LINK_REASON_MAX),
    };

    colo_link_io_queue(l, COLO_LINK_BYE, &iov, 1);
}

static bool colo_link_io_hello(ColoLinkIO *l, const uint8_t *buf,
                               uint32_t len)
{
    ColoLinkHello peer;
    ColoLinkError err = colo_link_parse_hello(buf, len, &peer);

    if (err == COLO_LINK_OK) {
        err = colo_link_hello_check(&l->cfg.hello, &peer);
    }
    if (err != COLO_LINK_OK) {
        g_autofree char *why = g_strdup_printf("handshake refused: %s",
                                               colo_link_error_str(err));

        /* the cause, not a failure to write the BYE, is what is reported */
        colo_link_io_close_later(l, why);
        colo_link_io_bye(l, why);
        return false;
    }
    /*
     * The backoff is reset only once the link has stayed up for a link
     * timeout (colo_link_io_tick()): a peer that handshakes and then
     * breaks the link at once must not make the primary reconnect at
     * full speed.
     */
    l->state = COLO_LINK_IO_UP;
    l->up_ms = colo_link_io_now();
    l->stats.connects++;
    trace_colo_proxy_link_up(l->cfg.name);
    l->ops->up(l->opaque);
    return true;
}

static bool colo_link_io_msg(void *opaque, ColoLinkType type,
                             const uint8_t *payload, uint32_t len)
{
    ColoLinkIO *l = opaque;
    g_autofree char *why = NULL;
    g_autofree char *text = NULL;

    switch (type) {
    case COLO_LINK_HELLO:
        return colo_link_io_hello(l, payload, len);
    case COLO_LINK_FRAME:
        l->stats.rx_frames++;
        l->stats.rx_bytes += len;
        l->ops->frame(l->opaque, payload, len);
        return !l->close_reason;
    case COLO_LINK_EPOCH:
        l->ops->epoch(l->opaque);
        return !l->close_reason;
    case COLO_LINK_OFFSETS:
        l->ops->offsets(l->opaque, payload, len);
        return !l->close_reason;
    case COLO_LINK_BYE:
        text = colo_link_reason_str(payload, len);
        why = g_strdup_printf("peer closed the link: %s", text);
        colo_link_io_close_later(l, why);
        return false;
    default:
        return true;        /* heartbeat: last_rx_ms is all it is for */
    }
}

/*
 * Whether to read again after @n bytes came, or let the next poll say
 * (it is level-triggered: nothing is missed).  A short read of a
 * socket took all it had: another would only say EAGAIN.  TLS reads
 * the socket a record at a time: a record less than full ends a burst
 * more often than not, unless TLS holds bytes it has already read.
 */
static bool colo_link_io_more(ColoLinkIO *l, ssize_t n)
{
    if (!l->cfg.tls_creds) {
        return n == COLO_LINK_READ_SIZE;
    }
    return n >= COLO_LINK_TLS_RECORD ||
           qcrypto_tls_session_check_pending(QIO_CHANNEL_TLS(l->ioc)->session);
}

/* Read and decode what the peer sent; false once the link is closing. */
static bool colo_link_io_read_once(ColoLinkIO *l, bool *more)
{
    g_autoptr(Error) err = NULL;
    ssize_t n;
    size_t used;

    n = qio_channel_read(l->ioc, (char *)l->rbuf, COLO_LINK_READ_SIZE, &err);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        *more = false;
        return true;
    }
    if (n <= 0) {
        colo_link_io_close_later(l, n == 0 ? "peer closed the connection"
                                           : error_get_pretty(err));
        return false;
    }
    l->last_rx_ms = colo_link_io_now();
    *more = colo_link_io_more(l, n);
    used = colo_link_decode(&l->dec, l->rbuf, n, colo_link_io_msg, l);
    if (l->dec.error) {
        const char *cause = colo_link_error_str(l->dec.error);
        g_autofree char *why = g_strdup_printf("protocol error: %s", cause);

        colo_link_io_close_later(l, why);
        colo_link_io_bye(l, why);
    } else if (used < (size_t)n && !l->close_reason) {
        colo_link_io_close_later(l, "protocol error: trailing bytes");
    }
    return !l->close_reason;
}

/*
 * Read until the channel would block (TLS may hold decrypted bytes the
 * socket no longer signals), but only so much per wakeup: the rest is
 * picked up by a bottom half, so a flooding peer cannot starve the loop.
 */
static void colo_link_io_drain(ColoLinkIO *l)
{
    bool more = true;

    for (int i = 0; i < COLO_LINK_READS_PER_WAKEUP && more; i++) {
        if (!colo_link_io_read_once(l, &more)) {
            return;
        }
    }
    if (more) {
        qemu_bh_schedule(l->read_bh);
    }
}

static void colo_link_io_read_bh(void *opaque)
{
    ColoLinkIO *l = opaque;

    if (l->ioc && !l->close_reason) {
        colo_link_io_drain(l);
    }
}

static gboolean colo_link_io_readable(QIOChannel *ioc, GIOCondition cond,
                                      gpointer opaque)
{
    ColoLinkIO *l = opaque;

    colo_link_io_drain(l);
    if (l->close_reason) {
        l->in_watch = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* The channel is ready (TLS done if any): exchange HELLOs. */
static void colo_link_io_start(ColoLinkIO *l)
{
    uint8_t hello[COLO_LINK_HELLO_LEN];
    struct iovec iov = { .iov_base = hello, .iov_len = sizeof(hello) };

    colo_link_decoder_reset(&l->dec);
    l->last_rx_ms = colo_link_io_now();
    l->in_watch = colo_link_io_watch(l->ioc, G_IO_IN,
                                     colo_link_io_readable, l);
    colo_link_encode_hello(hello, &l->cfg.hello);
    colo_link_io_queue(l, COLO_LINK_HELLO, &iov, 1);
    /* bytes that came with the TLS handshake's last record */
    qemu_bh_schedule(l->read_bh);
}

static void colo_link_io_tls_done(QIOTask *task, gpointer opaque)
{
    ColoLinkConnect *pc = opaque;
    ColoLinkIO *l = pc->link;
    g_autoptr(Error) err = NULL;

    if (!l) {
        return;
    }
    l->pending = NULL;
    if (qio_task_propagate_error(task, &err)) {
        g_autofree char *why = g_strdup_printf("TLS handshake failed: %s",
                                               error_get_pretty(err));

        l->stats.refused_handshake++;
        colo_link_io_close(l, why);
        return;
    }
    colo_link_io_start(l);
}

static void colo_link_io_prepare(ColoLinkIO *l, QIOChannel *ioc)
{
    qio_channel_set_blocking(ioc, false, NULL);
    qio_channel_set_delay(ioc, false);
    qio_channel_set_name(ioc, l->cfg.name);
}

/* TLS over @ioc for this side's role; NULL (and @errp) if it cannot. */
static QIOChannel *colo_link_io_tls(ColoLinkIO *l, QIOChannel *ioc,
                                    Error **errp)
{
    QIOChannelTLS *tioc;

    if (l->cfg.listen) {
        tioc = qio_channel_tls_new_server(ioc, l->cfg.tls_creds,
                                          l->cfg.tls_authz, errp);
    } else {
        tioc = qio_channel_tls_new_client(ioc, l->cfg.tls_creds,
                                          l->cfg.tls_hostname, errp);
    }
    if (!tioc) {
        return NULL;
    }
    qio_channel_set_name(QIO_CHANNEL(tioc), l->cfg.name);
    return QIO_CHANNEL(tioc);
}

/* Primary: take over the connected socket; TLS first if configured. */
static void colo_link_io_attach(ColoLinkIO *l, QIOChannelSocket *sioc)
{
    g_autoptr(Error) err = NULL;
    QIOChannel *tioc;

    colo_link_io_prepare(l, QIO_CHANNEL(sioc));
    object_ref(OBJECT(sioc));
    l->ioc = QIO_CHANNEL(sioc);
    l->state = COLO_LINK_IO_HANDSHAKE;
    l->last_rx_ms = colo_link_io_now();
    if (!l->cfg.tls_creds) {
        colo_link_io_start(l);
        return;
    }
    tioc = colo_link_io_tls(l, l->ioc, &err);
    if (!tioc) {
        colo_link_io_close(l, error_get_pretty(err));
        return;
    }
    object_unref(OBJECT(l->ioc));
    l->ioc = tioc;
    l->pending = g_new0(ColoLinkConnect, 1);
    l->pending->link = l;
    qio_channel_tls_handshake(QIO_CHANNEL_TLS(tioc), colo_link_io_tls_done,
                              l->pending, g_free, NULL);
}

/* ---- secondary: connections on probation ---- */

static void colo_link_io_peer_free(ColoLinkPeer *p)
{
    ColoLinkIO *l = p->link;

    QTAILQ_REMOVE(&l->peers, p, next);
    l->npeers--;
    if (p->tls) {
        p->tls->peer = NULL;
    }
    if (p->in_watch) {
        g_source_remove(p->in_watch);
    }
    if (p->ioc) {
        qio_channel_close(p->ioc, NULL);
        object_unref(OBJECT(p->ioc));
    }
    g_free(p);
}

/*
 * Count, trace and tell of a refused connection; the link is not
 * affected.  While the link is down this is its news (its last error,
 * an event); while it is up, only a warning, rate-limited.
 */
static void colo_link_io_refuse(ColoLinkIO *l, uint64_t *counter,
                                const char *reason)
{
    (*counter)++;
    trace_colo_proxy_link_refuse(l->cfg.name, reason);
    if (l->state == COLO_LINK_IO_UP) {
        l->ops->rejected(l->opaque, reason);
        return;
    }
    g_free(l->last_error);
    l->last_error = g_strdup(reason);
    l->ops->refused(l->opaque, reason);
}

/* Say why, best effort (the socket may be full), and hang up. */
static void colo_link_io_peer_bye(ColoLinkPeer *p, const char *reason)
{
    uint8_t hdr[COLO_LINK_HDR_LEN];
    size_t len = MIN(strlen(reason), COLO_LINK_REASON_MAX);
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)reason, .iov_len = len },
    };

    colo_link_encode_hdr(hdr, COLO_LINK_BYE, len);
    qio_channel_writev(p->ioc, iov, 2, NULL);
    colo_link_io_peer_free(p);
}

/*
 * An authenticated primary's HELLO: it takes the slot, unless a live
 * primary holds it.  One that has been silent for half the link timeout
 * (two heartbeats missed) is taken to be gone: a primary that lost the
 * link and came back must not wait for the old one's timeout.
 */
static void colo_link_io_peer_adopt(ColoLinkPeer *p)
{
    ColoLinkIO *l = p->link;
    uint8_t hello[COLO_LINK_HELLO_MSG];

    if (l->ioc && colo_link_io_now() - l->last_rx_ms <= l->cfg.timeout_ms / 2) {
        colo_link_io_refuse(l, &l->stats.refused_busy,
                            "secondary already has a primary");
        colo_link_io_peer_bye(p, "secondary already has a primary");
        return;
    }
    if (l->ioc) {
        colo_link_io_close(l, "replaced by a new connection of the primary");
    }
    memcpy(hello, p->hello, sizeof(hello));
    l->ioc = g_steal_pointer(&p->ioc);
    colo_link_io_peer_free(p);
    l->state = COLO_LINK_IO_HANDSHAKE;
    l->attempt_ms = colo_link_io_now();
    colo_link_io_start(l);
    /* its HELLO, checked already, through the link's own decoder */
    colo_link_decode(&l->dec, hello, sizeof(hello), colo_link_io_msg, l);
}

/* Check a complete HELLO message; refuse the peer or adopt it. */
static void colo_link_io_peer_hello(ColoLinkPeer *p)
{
    ColoLinkIO *l = p->link;
    ColoLinkHello peer;
    ColoLinkError err = colo_link_parse_hello_msg(p->hello, &peer);
    g_autofree char *why = NULL;

    if (err == COLO_LINK_OK) {
        err = colo_link_hello_check(&l->cfg.hello, &peer);
    }
    if (err == COLO_LINK_OK) {
        colo_link_io_peer_adopt(p);
        return;
    }
    why = g_strdup_printf("handshake refused: %s", colo_link_error_str(err));
    colo_link_io_refuse(l, &l->stats.refused_handshake, why);
    colo_link_io_peer_bye(p, why);
}

/* Read the HELLO, and not a byte more: nothing else is taken from it. */
static gboolean colo_link_io_peer_readable(QIOChannel *ioc,
                                           GIOCondition cond, gpointer opaque)
{
    ColoLinkPeer *p = opaque;
    ColoLinkIO *l = p->link;
    ssize_t n;

    do {
        n = qio_channel_read(p->ioc, (char *)p->hello + p->got,
                             sizeof(p->hello) - p->got, NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return G_SOURCE_CONTINUE;
        }
        if (n <= 0) {
            p->in_watch = 0;
            colo_link_io_refuse(l, &l->stats.refused_handshake,
                                "connection closed before its handshake");
            colo_link_io_peer_free(p);
            return G_SOURCE_REMOVE;
        }
        p->got += n;
    } while (p->got < sizeof(p->hello));
    p->in_watch = 0;
    colo_link_io_peer_hello(p);
    return G_SOURCE_REMOVE;
}

static void colo_link_io_peer_tls_done(QIOTask *task, gpointer opaque)
{
    ColoLinkConnect *pc = opaque;
    ColoLinkPeer *p = pc->peer;
    g_autoptr(Error) err = NULL;
    g_autofree char *why = NULL;

    if (!p) {
        return;
    }
    p->tls = NULL;
    if (qio_task_propagate_error(task, &err)) {
        why = g_strdup_printf("TLS handshake failed: %s",
                              error_get_pretty(err));
        colo_link_io_refuse(p->link, &p->link->stats.refused_handshake, why);
        colo_link_io_peer_free(p);
        return;
    }
    p->in_watch = colo_link_io_watch(p->ioc, G_IO_IN,
                                     colo_link_io_peer_readable, p);
}

static void colo_link_io_accept(QIONetListener *listener,
                                QIOChannelSocket *sioc, gpointer opaque)
{
    ColoLinkIO *l = opaque;
    ColoLinkPeer *p;
    g_autoptr(Error) err = NULL;
    QIOChannel *tioc = NULL;

    if (l->npeers >= COLO_LINK_MAX_PENDING) {
        p = QTAILQ_FIRST(&l->peers);
        colo_link_io_refuse(l, &l->stats.refused_evicted,
                            "handshake pending while newer connections "
                            "came");
        colo_link_io_peer_free(p);
    }
    colo_link_io_prepare(l, QIO_CHANNEL(sioc));
    if (l->cfg.tls_creds) {
        tioc = colo_link_io_tls(l, QIO_CHANNEL(sioc), &err);
        if (!tioc) {
            colo_link_io_refuse(l, &l->stats.refused_handshake,
                                error_get_pretty(err));
            return;
        }
    }
    if (!tioc) {
        object_ref(OBJECT(sioc));     /* the listener drops its own */
    }
    p = g_new0(ColoLinkPeer, 1);
    p->link = l;
    p->since_ms = colo_link_io_now();
    p->ioc = tioc ? tioc : QIO_CHANNEL(sioc);
    QTAILQ_INSERT_TAIL(&l->peers, p, next);
    l->npeers++;
    trace_colo_proxy_link_accept(l->cfg.name, l->npeers);
    if (!tioc) {
        p->in_watch = colo_link_io_watch(p->ioc, G_IO_IN,
                                         colo_link_io_peer_readable, p);
        return;
    }
    p->tls = g_new0(ColoLinkConnect, 1);
    p->tls->peer = p;
    qio_channel_tls_handshake(QIO_CHANNEL_TLS(tioc),
                              colo_link_io_peer_tls_done, p->tls, g_free,
                              NULL);
}

/* Drop the pending connections that ran out of time. */
static void colo_link_io_peers_expire(ColoLinkIO *l, int64_t now)
{
    ColoLinkPeer *p, *pn;

    QTAILQ_FOREACH_SAFE(p, &l->peers, next, pn) {
        if (now - p->since_ms > l->cfg.timeout_ms) {
            colo_link_io_refuse(l, &l->stats.refused_timeout,
                                "handshake not complete within the link "
                                "timeout");
            colo_link_io_peer_free(p);
        }
    }
}

/* ---- primary: connecting ---- */

/* Start connect(2) to the numeric @addr without waiting for it. */
static int colo_link_io_connect_fd(const SocketAddress *addr, Error **errp)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t sslen;
    struct addrinfo hints = {
        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
        .ai_socktype = SOCK_STREAM,
    };
    struct addrinfo *res = NULL;
    int fd;

    if (addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;

        if (strlen(addr->u.q_unix.path) >= sizeof(un->sun_path)) {
            error_setg(errp, "socket path '%s' is too long",
                       addr->u.q_unix.path);
            return -1;
        }
        un->sun_family = AF_UNIX;
        pstrcpy(un->sun_path, sizeof(un->sun_path), addr->u.q_unix.path);
        sslen = sizeof(*un);
    } else {
        if (addr->type != SOCKET_ADDRESS_TYPE_INET ||
            getaddrinfo(addr->u.inet.host, addr->u.inet.port, &hints,
                        &res) || !res) {
            error_setg(errp, "cannot use the resolved address");
            return -1;
        }
        sslen = MIN(res->ai_addrlen, sizeof(ss));
        memcpy(&ss, res->ai_addr, sslen);
        freeaddrinfo(res);
    }
    fd = qemu_socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot create a socket");
        return -1;
    }
    qemu_socket_set_nonblock(fd);
    if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 &&
        errno != EINPROGRESS) {
        error_setg_errno(errp, errno, "cannot connect");
        close(fd);
        return -1;
    }
    return fd;
}

/* connect(2) finished, one way or the other. */
static void colo_link_io_connect_done(void *opaque)
{
    ColoLinkIO *l = opaque;
    int fd = l->connect_fd, err = 0;
    socklen_t len = sizeof(err);
    g_autoptr(Error) local_err = NULL;
    QIOChannelSocket *sioc;

    qemu_set_fd_handler(fd, NULL, NULL, NULL);
    l->connect_fd = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    sioc = err ? NULL : qio_channel_socket_new_fd(fd, &local_err);
    if (!sioc) {
        close(fd);
        colo_link_io_close(l, err ? g_strerror(err)
                                  : error_get_pretty(local_err));
        return;
    }
    colo_link_io_attach(l, sioc);
    object_unref(OBJECT(sioc));
}

static void colo_link_io_resolved(QIOTask *task, gpointer opaque)
{
    ColoLinkConnect *pc = opaque;
    ColoLinkIO *l = pc->link;
    QIODNSResolver *dns = QIO_DNS_RESOLVER(qio_task_get_source(task));
    g_autoptr(Error) err = NULL;
    SocketAddress **addrs = NULL;
    size_t naddrs = 0;

    if (!l) {
        return;
    }
    l->pending = NULL;
    if (qio_task_propagate_error(task, &err)) {
        colo_link_io_close(l, error_get_pretty(err));
        return;
    }
    qio_dns_resolver_lookup_result(dns, task, &naddrs, &addrs);
    if (naddrs) {
        l->connect_fd = colo_link_io_connect_fd(
            addrs[l->next_addr++ % naddrs], &err);
    } else {
        error_setg(&err, "no address to connect to");
    }
    for (size_t i = 0; i < naddrs; i++) {
        qapi_free_SocketAddress(addrs[i]);
    }
    g_free(addrs);
    if (l->connect_fd < 0) {
        colo_link_io_close(l, error_get_pretty(err));
        return;
    }
    qemu_set_fd_handler(l->connect_fd, NULL, colo_link_io_connect_done, l);
}

/*
 * A connection attempt: the name is resolved in a thread, connect(2)
 * runs without blocking and, like the handshake after it, within the
 * link timeout (colo_link_io_tick()): a peer that does not answer is
 * tried again, not waited for.
 */
static void colo_link_io_connect(ColoLinkIO *l)
{
    QIODNSResolver *dns = qio_dns_resolver_get_instance();

    l->state = COLO_LINK_IO_CONNECTING;
    l->attempt_ms = colo_link_io_now();
    l->pending = g_new0(ColoLinkConnect, 1);
    l->pending->link = l;
    trace_colo_proxy_link_connect(l->cfg.name);
    /*
     * qio_dns_resolver_lookup_worker() drops a reference to the resolver
     * that the task, which holds its own, never took: without one more
     * here the shared resolver is freed by the first lookup.
     */
    object_ref(OBJECT(dns));
    qio_dns_resolver_lookup_async(dns, l->cfg.addr, colo_link_io_resolved,
                                  l->pending, g_free);
}

/* Heartbeats, the timeouts and reconnection, on one timer. */
static void colo_link_io_tick(void *opaque)
{
    ColoLinkIO *l = opaque;
    int64_t now = colo_link_io_now();
    uint32_t interval = colo_link_io_interval(l);
    bool trying = l->state == COLO_LINK_IO_CONNECTING ||
                  l->state == COLO_LINK_IO_HANDSHAKE;

    colo_link_io_peers_expire(l, now);
    if (l->close_reason) {
        /* closing already */
    } else if (trying && now - l->attempt_ms > l->cfg.timeout_ms) {
        /* a deadline from the start: a peer dribbling bytes is no help */
        l->stats.refused_timeout++;
        colo_link_io_close(l, l->state == COLO_LINK_IO_CONNECTING ?
                           "connection attempt timed out" :
                           "handshake not complete within the link timeout");
    } else if (l->state == COLO_LINK_IO_UP &&
               now - l->last_rx_ms > l->cfg.timeout_ms) {
        g_autofree char *why = g_strdup_printf("peer silent for %" PRId64
                                               " ms", now - l->last_rx_ms);

        colo_link_io_close(l, why);
    } else if (l->state == COLO_LINK_IO_UP) {
        if (now - l->up_ms >= l->cfg.timeout_ms) {
            l->backoff_ms = COLO_LINK_BACKOFF_MIN_MS;
        }
        if (now - l->last_tx_ms >= interval) {
            colo_link_io_queue(l, COLO_LINK_HEARTBEAT, NULL, 0);
        }
    } else if (l->state == COLO_LINK_IO_IDLE && now >= l->reconnect_ms) {
        colo_link_io_connect(l);
    }
    timer_mod(l->timer, now + MIN(interval, l->backoff_ms));
}

ColoLinkIO *colo_link_io_new(const ColoLinkIOConfig *cfg,
                             const ColoLinkIOOps *ops, void *opaque,
                             Error **errp)
{
    ColoLinkIO *l = g_new0(ColoLinkIO, 1);

    l->cfg = *cfg;
    l->cfg.name = g_strdup(cfg->name);
    l->cfg.addr = QAPI_CLONE(SocketAddress, cfg->addr);
    l->ops = ops;
    l->opaque = opaque;
    l->rbuf = g_malloc(COLO_LINK_READ_SIZE);
    l->out = g_byte_array_new();
    l->backoff_ms = COLO_LINK_BACKOFF_MIN_MS;
    l->connect_fd = -1;
    QTAILQ_INIT(&l->peers);
    colo_link_decoder_init(&l->dec);
    l->close_bh = qemu_bh_new(colo_link_io_close_bh, l);
    l->read_bh = qemu_bh_new(colo_link_io_read_bh, l);
    l->flush_bh = qemu_bh_new(colo_link_io_flush_bh, l);
    if (cfg->tls_creds) {
        object_ref(OBJECT(cfg->tls_creds));
    }
    l->cfg.tls_authz = g_strdup(cfg->tls_authz);
    l->cfg.tls_hostname = g_strdup(cfg->tls_hostname);
    l->timer = timer_new_ms(QEMU_CLOCK_REALTIME, colo_link_io_tick, l);
    if (cfg->listen) {
        l->listener = qio_net_listener_new();
        qio_net_listener_set_name(l->listener, cfg->name);
        if (qio_net_listener_open_sync(l->listener, l->cfg.addr,
                                       COLO_LINK_BACKLOG, errp) < 0) {
            colo_link_io_free(l);
            return NULL;
        }
        /* only this user (and root) may connect to a unix socket */
        if (l->cfg.addr->type == SOCKET_ADDRESS_TYPE_UNIX &&
            chmod(l->cfg.addr->u.q_unix.path, 0600) < 0) {
            error_setg_errno(errp, errno, "cannot restrict access to '%s'",
                             l->cfg.addr->u.q_unix.path);
            colo_link_io_free(l);
            return NULL;
        }
        qio_net_listener_set_client_func(l->listener, colo_link_io_accept,
                                         l, NULL);
        l->state = COLO_LINK_IO_LISTENING;
    } else {
        colo_link_io_connect(l);
    }
    timer_mod(l->timer, colo_link_io_now() + colo_link_io_interval(l));
    return l;
}

void colo_link_io_free(ColoLinkIO *l)
{
    if (!l) {
        return;
    }
    if (l->pending) {
        l->pending->link = NULL;
    }
    while (!QTAILQ_EMPTY(&l->peers)) {
        colo_link_io_peer_free(QTAILQ_FIRST(&l->peers));
    }
    colo_link_io_cancel_connect(l);
    if (l->in_watch) {
        g_source_remove(l->in_watch);
    }
    if (l->out_watch) {
        g_source_remove(l->out_watch);
    }
    if (l->ioc) {
        qio_channel_close(l->ioc, NULL);
        object_unref(OBJECT(l->ioc));
    }
    if (l->listener) {
        qio_net_listener_disconnect(l->listener);
        object_unref(OBJECT(l->listener));
        if (l->cfg.addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
            unlink(l->cfg.addr->u.q_unix.path);
        }
    }
    timer_free(l->timer);
    qemu_bh_delete(l->close_bh);
    qemu_bh_delete(l->read_bh);
    qemu_bh_delete(l->flush_bh);
    if (l->cfg.tls_creds) {
        object_unref(OBJECT(l->cfg.tls_creds));
    }
    g_free((char *)l->cfg.tls_authz);
    g_free((char *)l->cfg.tls_hostname);
    colo_link_decoder_destroy(&l->dec);
    g_byte_array_unref(l->out);
    g_free(l->rbuf);
    g_free(l->close_reason);
    g_free(l->last_error);
    qapi_free_SocketAddress(l->cfg.addr);
    g_free((char *)l->cfg.name);
    g_free(l);
}
