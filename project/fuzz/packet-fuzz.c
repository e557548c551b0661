/*
 * libFuzzer target: colo-proxy's frame parser, connection keys and the
 * secondary's sequence rewriting on arbitrary frames.
 *
 * The parser must never read outside the frame, and whatever it reports
 * (offsets, lengths) must lie inside it: the rewriting then writes into
 * a copy of exactly the frame's size, so ASan catches any offset the
 * parser got wrong.  Frames go both ways through one rewriting state
 * that lives across inputs, with a vnet header or without.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-conn.h"
#include "net/colo-proxy-rewrite.h"

static void deliver(void *opaque, uint8_t *buf, uint32_t len)
{
}

static const ColoRwOps ops = { .deliver = deliver };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ColoRwLimits lim = {
        .max_conns = 64, .conn_hold_bytes = 4096, .hold_bytes = 65536,
        .closed_grace_ns = 100,
    };
    static ColoRw *rw;
    static int64_t now;
    ColoConnKey key;
    ColoPacket p;
    uint8_t *copy;
    uint32_t vnet;

    if (size > 65536 + 256) {
        return 0;
    }
    if (!rw) {
        rw = colo_rw_new(&lim, 1, &ops, NULL);
    }
    /* never NULL, as no netdev's buffer is */
    copy = g_malloc(MAX(size, 1));
    memcpy(copy, data, size);
    colo_packet_parse(copy, size, &p);
    if (p.end > size || p.payload_off + p.payload_len > size ||
        (p.kind == COLO_PKT_TCP && p.l4_off + p.tcp_hdr_len > size)) {
        abort();
    }
    colo_conn_key_from_packet(&p, &key);
    /* the low bits of the first byte pick a vnet header and a direction */
    vnet = size && (data[0] & 1) ? 12 : 0;
    if (size && (data[0] & 2)) {
        colo_rw_egress(rw, copy, size, vnet, now++);
    } else {
        colo_rw_ingress(rw, copy, size, vnet, now++);
    }
    if (size && data[size - 1] == 0x5a) {
        colo_rw_checkpoint(rw);
    }
    colo_rw_tick(rw, now);
    g_free(copy);
    return 0;
}
