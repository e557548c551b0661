/*
 * COLO proxy: moving a TCP frame's sequence numbers (no QOM, no I/O)
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "net/colo-proxy-seq.h"

#define TCPOPT_EOL      0
#define TCPOPT_NOP      1
#define TCPOPT_SACK     5
#define TCP_CSUM_OFF    16

static void colo_csum_replace16(uint8_t *csum, uint16_t old, uint16_t val)
{
    uint32_t sum = (uint16_t)~lduw_be_p(csum) + (uint16_t)~old + val;

    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    stw_be_p(csum, ~sum);
}

void colo_csum_replace32(uint8_t *csum, uint8_t *field, uint32_t val)
{
    uint32_t old = ldl_be_p(field);

    colo_csum_replace16(csum, old >> 16, val >> 16);
    colo_csum_replace16(csum, old & 0xffff, val & 0xffff);
    stl_be_p(field, val);
}

/*
 * Rewrite a 32-bit field of the TCP header.  A partial checksum (a vnet
 * header's VIRTIO_NET_HDR_F_NEEDS_CSUM) holds only the pseudo-header's
 * sum, which the field is not part of: it stays as it is, as Linux's
 * inet_proto_csum_replace4() leaves a CHECKSUM_PARTIAL skb's.
 */
static void colo_seq_set32(uint8_t *tcp, uint32_t off, uint32_t val,
                           bool partial)
{
    if (partial) {
        stl_be_p(tcp + off, val);
    } else {
        colo_csum_replace32(tcp + TCP_CSUM_OFF, tcp + off, val);
    }
}

/* Move every SACK edge (RFC 2018) back by @offset: they name our data. */
static void colo_seq_sack(uint8_t *tcp, uint32_t hdr_len, uint32_t offset,
                          bool partial)
{
    uint32_t i = 20;

    while (i < hdr_len) {
        uint8_t kind = tcp[i], len;

        if (kind == TCPOPT_EOL) {
            return;
        }
        if (kind == TCPOPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= hdr_len) {
            return;
        }
        len = tcp[i + 1];
        if (len < 2 || i + len > hdr_len) {
            return;                 /* a broken option list: leave the rest */
        }
        if (kind == TCPOPT_SACK) {
            for (uint32_t e = i + 2; e + 4 <= i + len; e += 4) {
                colo_seq_set32(tcp, e, ldl_be_p(tcp + e) - offset, partial);
            }
        }
        i += len;
    }
}

void colo_seq_move_ack(uint8_t *frame, const ColoPacket *p, uint32_t offset,
                       bool partial)
{
    uint8_t *tcp = frame + p->l4_off;

    if (offset) {
        colo_seq_set32(tcp, 8, p->ack - offset, partial);
        colo_seq_sack(tcp, p->tcp_hdr_len, offset, partial);
    }
}

void colo_seq_move_seq(uint8_t *frame, const ColoPacket *p, uint32_t offset,
                       bool partial)
{
    if (offset) {
        colo_seq_set32(frame + p->l4_off, 4, p->seq + offset, partial);
    }
}
