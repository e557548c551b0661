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
#define TCPOPT_TS       8
#define TCPOLEN_TS      10
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

/*
 * The offset in @tcp of the first option of @kind, whose length is
 * at least @min, or 0: a broken option list ends the search.
 */
static uint32_t colo_seq_option(const uint8_t *tcp, uint32_t hdr_len,
                                uint8_t kind, uint8_t min)
{
    uint32_t i = 20;

    while (i < hdr_len) {
        uint8_t k = tcp[i], len;

        if (k == TCPOPT_EOL) {
            return 0;
        }
        if (k == TCPOPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= hdr_len) {
            return 0;
        }
        len = tcp[i + 1];
        if (len < 2 || i + len > hdr_len) {
            return 0;
        }
        if (k == kind && len >= min) {
            return i;
        }
        i += len;
    }
    return 0;
}

/* Move every SACK edge (RFC 2018) back by @offset: they name our data. */
static void colo_seq_sack(uint8_t *tcp, uint32_t hdr_len, uint32_t offset,
                          bool partial)
{
    uint32_t i = colo_seq_option(tcp, hdr_len, TCPOPT_SACK, 2);

    if (i) {
        for (uint32_t e = i + 2; e + 4 <= i + tcp[i + 1]; e += 4) {
            colo_seq_set32(tcp, e, ldl_be_p(tcp + e) - offset, partial);
        }
    }
}

/* The offset in @tcp of its timestamps option (RFC 7323), or 0. */
static uint32_t colo_seq_ts_at(const uint8_t *tcp, uint32_t hdr_len)
{
    uint32_t i = colo_seq_option(tcp, hdr_len, TCPOPT_TS, TCPOLEN_TS);

    return i && tcp[i + 1] == TCPOLEN_TS ? i : 0;
}

bool colo_seq_get_ts(const uint8_t *frame, const ColoPacket *p,
                     uint32_t *val, uint32_t *ecr)
{
    const uint8_t *tcp = frame + p->l4_off;
    uint32_t i = colo_seq_ts_at(tcp, p->tcp_hdr_len);

    if (!i) {
        return false;
    }
    *val = ldl_be_p(tcp + i + 2);
    *ecr = ldl_be_p(tcp + i + 6);
    return true;
}

void colo_seq_move_ts(uint8_t *frame, const ColoPacket *p, uint32_t val_add,
                      uint32_t ecr_sub, bool partial)
{
    uint8_t *tcp = frame + p->l4_off;
    uint32_t i, ecr;

    if (!val_add && !ecr_sub) {
        return;
    }
    i = colo_seq_ts_at(tcp, p->tcp_hdr_len);
    if (!i) {
        return;
    }
    if (val_add) {
        colo_seq_set32(tcp, i + 2, ldl_be_p(tcp + i + 2) + val_add, partial);
    }
    /* a zero TSecr (no echo yet, RFC 7323 3.2) stays zero */
    ecr = ldl_be_p(tcp + i + 6);
    if (ecr_sub && ecr) {
        colo_seq_set32(tcp, i + 6, ecr - ecr_sub, partial);
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
