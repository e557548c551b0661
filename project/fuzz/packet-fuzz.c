/*
 * libFuzzer target: colo-proxy's frame parser, connection keys and TCP
 * sequence translation on arbitrary frames.
 *
 * The parser must never read outside the frame, and whatever it reports
 * (offsets, lengths) must lie inside it: the translation then writes into
 * a copy of exactly the frame's size, so ASan catches any offset the
 * parser got wrong.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-conn.h"
#include "net/colo-proxy-seq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ColoSeq seq;
    ColoConnKey key;
    ColoPacket p;
    uint8_t *copy;

    if (size > 65536 + 256) {
        return 0;
    }
    copy = g_memdup2(data, size);
    colo_packet_parse(copy, size, &p);
    if (p.end > size || p.payload_off + p.payload_len > size ||
        (p.kind == COLO_PKT_TCP && p.l4_off + p.tcp_hdr_len > size)) {
        abort();
    }
    colo_conn_key_from_packet(&p, &key);
    if (p.kind == COLO_PKT_TCP) {
        /* both directions, with whatever state earlier inputs left */
        if (colo_seq_ingress(&seq, copy, &p, size & 1) == COLO_SEQ_PASS) {
            colo_seq_egress(&seq, copy, &p, size & 1);
        }
        if (size && data[size - 1] == 0x5a) {
            colo_seq_checkpoint(&seq);
        }
    }
    g_free(copy);
    return 0;
}
