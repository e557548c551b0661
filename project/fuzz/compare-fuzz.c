/*
 * libFuzzer target: colo-proxy's comparison of the two VMs' output.
 *
 * The input is a script of records: one byte (bit 0: which VM; bit 1:
 * a checkpoint after it; bit 2: a timer tick; bit 3: the frame is the
 * client's, to the primary's guest), two bytes of length, then a frame.
 * HTTP Date values may differ on ports 80 and 8080.  Besides the
 * sanitizers, it checks what COLO relies on: every frame of the primary
 * leaves exactly once, whatever the secondary sends, and the bounds hold.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-compare.h"

static uint64_t released;

static void fuzz_release(void *opaque, const uint8_t *buf, uint32_t len,
                         unsigned flags)
{
    released++;
}

static void fuzz_request(void *opaque, ColoCmpReason why,
                         const ColoConnKey *key)
{
    if (why >= COLO_CMP_REASON__MAX) {
        abort();
    }
}

static const ColoCmpOps fuzz_ops = {
    .release = fuzz_release,
    .request = fuzz_request,
};

/* Small bounds, so that fuzzing reaches them. */
static const ColoCmpLimits fuzz_limits = {
    .conn_frames = 8, .conn_bytes = 16 * 1024,
    .total_frames = 32, .total_bytes = 64 * 1024,
    .svm_bytes = 8 * 1024, .svm_total = 32 * 1024, .max_conns = 16,
    .timeout_ns = 100,
    .closed_grace_ns = 200,
    .http_date_ports = { 80, 8080 },
    .http_date_window = 2,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ColoCmp *c = colo_cmp_new(&fuzz_limits, 7, &fuzz_ops, NULL);
    uint64_t sent = 0;
    int64_t now = 0;
    size_t off = 0;

    released = 0;
    while (off + 3 <= size) {
        uint8_t op = data[off];
        size_t len = MIN((size_t)(data[off + 1] << 8 | data[off + 2]),
                         size - off - 3);
        const uint8_t *frame = data + off + 3;

        off += 3 + len;
        now += 10;
        if (op & 8) {
            colo_cmp_ingress(c, frame, len, 0, now);
        } else if (op & 1) {
            colo_cmp_secondary(c, frame, len, 0, now);
        } else {
            colo_cmp_primary(c, frame, len, 0, 0, now);
            sent++;
        }
        if (op & 2) {
            colo_cmp_checkpoint(c);
        }
        if (op & 4) {
            colo_cmp_tick(c, now);
        }
        if (colo_cmp_held_frames(c) > 2 * fuzz_limits.total_frames ||
            released + colo_cmp_held_frames(c) != sent) {
            abort();
        }
    }
    colo_cmp_free(c);
    if (released != sent) {
        abort();
    }
    return 0;
}
