/*
 * libFuzzer target: the secondary's rewriting as a state machine.
 *
 * The input is a script of steps, each an opcode byte and, for frames and
 * offsets, a 2-byte big-endian length and that many bytes: client frames
 * (ingress) and guest frames (egress) of a few connections, checkpoints,
 * failover, imported offsets (what a promoted primary hands on, from the
 * link: arbitrary bytes), export, ticks.  Nothing may read or write
 * outside a frame, the hold must stay within its bounds, and an export
 * must import again.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-rewrite.h"

enum { OP_INGRESS, OP_EGRESS, OP_CHECKPOINT, OP_FAILOVER, OP_IMPORT,
       OP_EXPORT, OP_TICK, OP__MAX };

static const ColoRwLimits lim = {
    .max_conns = 32, .conn_hold_bytes = 4096, .hold_bytes = 16384,
    .closed_grace_ns = 100,
};

static void deliver(void *opaque, uint8_t *buf, uint32_t len)
{
    /* volatile: the reads of every byte stay, for ASan to check */
    volatile uint8_t sum = 0;

    for (uint32_t i = 0; i < len; i++) {
        sum += buf[i];
    }
}

static const ColoRwOps ops = { .deliver = deliver };

/* Export everything and import it into a fresh state: it must take it. */
static void export_import(ColoRw *rw, int64_t now)
{
    uint8_t buf[COLO_RW_ENTRY_LEN * 8];
    ColoRw *copy = colo_rw_new(&lim, 2, &ops, NULL);
    uint32_t cursor = 0;

    do {
        size_t n = colo_rw_export(rw, buf, sizeof(buf), &cursor);

        if (n % COLO_RW_ENTRY_LEN || !colo_rw_import(copy, buf, n, now)) {
            abort();
        }
    } while (cursor);
    colo_rw_free(copy);
}

static void step(ColoRw *rw, uint8_t op, const uint8_t *data, size_t len,
                 int64_t now)
{
    uint8_t *copy = g_malloc(MAX(len, 1));
    uint32_t vnet = op & 0x80 ? 12 : 0;

    memcpy(copy, data, len);
    switch ((op & 0x7f) % OP__MAX) {
    case OP_INGRESS:
        colo_rw_ingress(rw, copy, len, vnet, now);
        break;
    case OP_EGRESS:
        colo_rw_egress(rw, copy, len, vnet, now);
        break;
    case OP_CHECKPOINT:
        colo_rw_checkpoint(rw);
        break;
    case OP_FAILOVER:
        colo_rw_failover(rw);
        break;
    case OP_IMPORT:
        colo_rw_import(rw, copy, len, now);
        break;
    case OP_EXPORT:
        export_import(rw, now);
        break;
    default:
        colo_rw_tick(rw, now);
        break;
    }
    g_free(copy);
    if (colo_rw_held_bytes(rw) > lim.hold_bytes) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ColoRw *rw = colo_rw_new(&lim, 1, &ops, NULL);
    int64_t now = 0;

    while (size) {
        uint8_t op = data[0];
        size_t len = size >= 3 ? (data[1] << 8 | data[2]) : 0;

        data++, size--;
        if (size >= 2) {
            data += 2, size -= 2;
        }
        len = MIN(len, size);
        step(rw, op, data, len, now);
        data += len, size -= len;
        now += 7;
    }
    colo_rw_free(rw);
    return 0;
}
