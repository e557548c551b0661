/*
 * COLO proxy: the secondary's TCP sequence translation (no QOM, no I/O)
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

/* Learn the offset, or decide it cannot be learnt yet. */
static bool colo_seq_learn(ColoSeq *s, const ColoPacket *p)
{
    if (!s->svm_isn_known) {
        /*
         * In a handshake the secondary VM has not sent its SYN yet: the
         * ack names a number it has not chosen.  Outside one, this is a
         * connection the last checkpoint copied: both VMs agree.
         */
        if (s->handshake || (p->tcp_flags & COLO_TCP_SYN)) {
            return false;
        }
        s->offset = 0;
    } else {
        /* The first ack after the SYNs acknowledges the primary's ISN. */
        s->offset = p->ack - 1 - s->svm_isn;
    }
    s->offset_known = true;
    s->handshake = false;
    return true;
}

ColoSeqVerdict colo_seq_ingress(ColoSeq *s, uint8_t *frame,
                                const ColoPacket *p, bool partial)
{
    uint8_t *tcp = frame + p->l4_off;

    if ((p->tcp_flags & (COLO_TCP_SYN | COLO_TCP_ACK)) == COLO_TCP_SYN) {
        if (s->offset_known) {
            /* a client reusing the 4-tuple: a new connection */
            memset(s, 0, sizeof(*s));
        }
        s->handshake = true;
        return COLO_SEQ_PASS;
    }
    if (!(p->tcp_flags & COLO_TCP_ACK)) {
        return COLO_SEQ_PASS;
    }
    if (!s->offset_known && !colo_seq_learn(s, p)) {
        return COLO_SEQ_HOLD;
    }
    if (s->offset) {
        colo_seq_set32(tcp, 8, p->ack - s->offset, partial);
        colo_seq_sack(tcp, p->tcp_hdr_len, s->offset, partial);
    }
    return COLO_SEQ_PASS;
}

void colo_seq_egress(ColoSeq *s, uint8_t *frame, const ColoPacket *p,
                     bool partial)
{
    uint8_t *tcp = frame + p->l4_off;

    if (p->tcp_flags & COLO_TCP_SYN) {
        if (s->offset_known && s->svm_isn_known && p->seq != s->svm_isn) {
            /* a new connection on the same 4-tuple, not a retransmission */
            memset(s, 0, sizeof(*s));
        }
        if (!s->offset_known) {
            s->svm_isn = p->seq;
            s->svm_isn_known = true;
            s->handshake = true;
        }
    }
    if (s->offset_known && s->offset) {
        colo_seq_set32(tcp, 4, p->seq + s->offset, partial);
    }
}

void colo_seq_checkpoint(ColoSeq *s)
{
    s->offset_known = true;
    s->offset = 0;
    s->handshake = false;
}
