/*
 * COLO proxy: the notify channel of external COLO frames
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "chardev/char-fe.h"
#include "net/colo-proxy-link.h"
#include "net/colo-proxy-notify.h"
#include "trace.h"

/* Bytes of messages waiting for the frame, at most. */
#define COLO_NOTIFY_OUT_MAX 4096

static const char colo_notify_init[] = "COLO_USERSPACE_PROXY_INIT";
static const char colo_notify_init_reply[] = "COLO_COMPARE_GET_XEN_INIT";
static const char colo_notify_do[] = "DO_CHECKPOINT";
static const char colo_notify_done[] = "COLO_CHECKPOINT";

struct ColoNotify {
    CharBackend be;
    void (*checkpoint)(void *opaque);
    void *opaque;
    ColoNotifyDecoder dec;      /* broken: framing lost, read no more */
    GByteArray *out;
    guint watch;
    bool request_queued;        /* a DO_CHECKPOINT is not written yet */
    ColoNotifyStats stats;
    char *last_error;
};

static void G_GNUC_PRINTF(2, 3) colo_notify_error(ColoNotify *n,
                                                  const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_free(n->last_error);
    n->last_error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    n->stats.errors++;
    trace_colo_proxy_notify_error(n->last_error);
    /* a frame that misbehaves must not flood the log */
    warn_report_once("colo-proxy: notify channel: %s", n->last_error);
}

static gboolean colo_notify_writable(void *do_not_use, GIOCondition cond,
                                     void *opaque);

static void colo_notify_flush(ColoNotify *n)
{
    while (n->out->len) {
        int ret = qemu_chr_fe_write(&n->be, n->out->data, n->out->len);

        if (ret > 0) {
            g_byte_array_remove_range(n->out, 0, ret);
            continue;
        }
        if (ret < 0 && errno == EAGAIN) {
            if (!n->watch) {
                n->watch = qemu_chr_fe_add_watch(&n->be, G_IO_OUT | G_IO_HUP,
                                                 colo_notify_writable, n);
            }
            return;
        }
        colo_notify_error(n, "cannot write to the frame");
        g_byte_array_set_size(n->out, 0);
    }
    n->request_queued = false;
}

static gboolean colo_notify_writable(void *do_not_use, GIOCondition cond,
                                     void *opaque)
{
    ColoNotify *n = opaque;

    n->watch = 0;
    colo_notify_flush(n);
    return G_SOURCE_REMOVE;
}

static void colo_notify_send(ColoNotify *n, const char *msg)
{
    uint8_t len[4];

    if (n->out->len + sizeof(len) + strlen(msg) > COLO_NOTIFY_OUT_MAX) {
        colo_notify_error(n, "the frame does not read its messages");
        return;
    }
    stl_be_p(len, strlen(msg));
    g_byte_array_append(n->out, len, sizeof(len));
    g_byte_array_append(n->out, (const uint8_t *)msg, strlen(msg));
    colo_notify_flush(n);
}

void colo_notify_request(ColoNotify *n)
{
    n->stats.requests++;
    if (!n->request_queued) {
        colo_notify_send(n, colo_notify_do);
        n->request_queued = n->out->len > 0;
    }
}

static bool colo_notify_is(const uint8_t *msg, uint32_t len,
                           const char *what)
{
    return len == strlen(what) && !memcmp(msg, what, len);
}

static void colo_notify_dispatch(void *opaque, const uint8_t *msg,
                                 uint32_t len)
{
    ColoNotify *n = opaque;
    g_autofree char *text = g_strndup((const char *)msg, len);

    /* printable in traces and messages, whatever the frame sent */
    g_strcanon(text, G_CSET_A_2_Z G_CSET_a_2_z G_CSET_DIGITS "_-", '?');
    trace_colo_proxy_notify_msg(text);
    if (colo_notify_is(msg, len, colo_notify_init)) {
        n->stats.inits++;
        colo_notify_send(n, colo_notify_init_reply);
    } else if (colo_notify_is(msg, len, colo_notify_done)) {
        n->stats.checkpoints++;
        n->checkpoint(n->opaque);
    } else {
        colo_notify_error(n, "unknown message '%s'", text);
    }
}

static int colo_notify_can_read(void *opaque)
{
    ColoNotify *n = opaque;

    return n->dec.broken ? 0 : sizeof(n->dec.hdr) + COLO_NOTIFY_MSG_MAX;
}

static void colo_notify_read(void *opaque, const uint8_t *buf, int size)
{
    ColoNotify *n = opaque;

    if (!colo_notify_decode(&n->dec, buf, size, colo_notify_dispatch, n)) {
        /* the framing cannot be trusted any more */
        colo_notify_error(n, "message of %u bytes (at most %d)",
                          n->dec.len, COLO_NOTIFY_MSG_MAX);
    }
}

static void colo_notify_event(void *opaque, QEMUChrEvent event)
{
    ColoNotify *n = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        colo_notify_decoder_reset(&n->dec);
        break;
    case CHR_EVENT_CLOSED:
        colo_notify_error(n, "the frame hung up");
        colo_notify_decoder_reset(&n->dec);
        g_byte_array_set_size(n->out, 0);
        n->request_queued = false;
        break;
    default:
        break;
    }
}

ColoNotify *colo_notify_new(const char *chardev,
                            void (*checkpoint)(void *opaque), void *opaque,
                            Error **errp)
{
    Chardev *chr = qemu_chr_find(chardev);
    ColoNotify *n;

    if (!chr) {
        error_setg(errp, "property 'notify-dev': chardev '%s' not found",
                   chardev);
        return NULL;
    }
    n = g_new0(ColoNotify, 1);
    n->checkpoint = checkpoint;
    n->opaque = opaque;
    n->out = g_byte_array_new();
    if (!qemu_chr_fe_init(&n->be, chr, errp)) {
        colo_notify_free(n);
        return NULL;
    }
    qemu_chr_fe_set_handlers(&n->be, colo_notify_can_read, colo_notify_read,
                             colo_notify_event, NULL, n, NULL, true);
    return n;
}

void colo_notify_free(ColoNotify *n)
{
    if (!n) {
        return;
    }
    if (n->watch) {
        g_source_remove(n->watch);
    }
    qemu_chr_fe_deinit(&n->be, false);
    g_byte_array_unref(n->out);
    g_free(n->last_error);
    g_free(n);
}

const ColoNotifyStats *colo_notify_stats(const ColoNotify *n)
{
    return &n->stats;
}

const char *colo_notify_last_error(const ColoNotify *n)
{
    return n->last_error;
}
