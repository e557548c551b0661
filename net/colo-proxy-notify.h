/*
 * COLO proxy: the notify channel of external COLO frames (Xen's libxl,
 * management tools), the protocol colo-compare's notify_dev speaks
 *
 * Each message is a 4-byte big-endian length and that many bytes of text:
 *
 *   frame -> proxy   COLO_USERSPACE_PROXY_INIT   hello
 *   proxy -> frame   COLO_COMPARE_GET_XEN_INIT   its answer
 *   proxy -> frame   DO_CHECKPOINT               please checkpoint
 *   frame -> proxy   COLO_CHECKPOINT             a checkpoint completed
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_NOTIFY_H
#define QEMU_NET_COLO_PROXY_NOTIFY_H

/* The framing is decoded by colo_notify_decode() (colo-proxy-link.h). */

typedef struct ColoNotify ColoNotify;

typedef struct ColoNotifyStats {
    uint64_t requests;          /* DO_CHECKPOINT sent */
    uint64_t checkpoints;       /* COLO_CHECKPOINT received */
    uint64_t inits;             /* COLO_USERSPACE_PROXY_INIT received */
    uint64_t errors;            /* bad messages, failed writes, hang-ups */
} ColoNotifyStats;

/*
 * Serve the protocol on chardev @chardev; @checkpoint is called when the
 * frame reports a completed checkpoint.
 */
ColoNotify *colo_notify_new(const char *chardev,
                            void (*checkpoint)(void *opaque), void *opaque,
                            Error **errp);
void colo_notify_free(ColoNotify *n);
/* Ask the frame for a checkpoint (one request while one is unsent). */
void colo_notify_request(ColoNotify *n);
const ColoNotifyStats *colo_notify_stats(const ColoNotify *n);
const char *colo_notify_last_error(const ColoNotify *n);

#endif /* QEMU_NET_COLO_PROXY_NOTIFY_H */
