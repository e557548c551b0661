/*
 * COLO proxy: TCP sequence arithmetic and the secondary's sequence
 * translation (no QOM, no I/O)
 *
 * The two VMs pick different initial sequence numbers for the same
 * connection.  The client only ever sees the primary's, so on the
 * secondary every TCP frame is translated: acknowledgements (and SACK
 * blocks) the client sends are moved from the primary's number space into
 * the secondary VM's, and the secondary VM's sequence numbers are moved
 * into the primary's.  The offset is learnt in the handshake, and is zero
 * for connections the last checkpoint copied into the secondary VM.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_SEQ_H
#define QEMU_NET_COLO_PROXY_SEQ_H

#include "net/colo-proxy-packet.h"

/* Modular comparisons, RFC 1982 style: never compare raw with < or -. */
static inline bool seq_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool seq_after(uint32_t a, uint32_t b)
{
    return seq_before(b, a);
}

/* a <= x < b, modulo 2^32 */
static inline bool seq_between(uint32_t x, uint32_t a, uint32_t b)
{
    return x - a < b - a;
}

typedef enum ColoSeqVerdict {
    COLO_SEQ_PASS,      /* translated (or nothing to do): deliver it */
    COLO_SEQ_HOLD,      /* the offset is not known yet: hold the frame */
} ColoSeqVerdict;

/* Translation state of one connection on the secondary. */
typedef struct ColoSeq {
    bool svm_isn_known;     /* the secondary VM's SYN was seen */
    bool offset_known;
    bool handshake;         /* a SYN was seen and the offset is not known */
    uint32_t svm_isn;
    uint32_t offset;        /* primary's seq - secondary's seq, mod 2^32 */
} ColoSeq;

/*
 * A frame from the client to the secondary VM (mirrored by the primary):
 * translate ack and SACK blocks in place, fixing the TCP checksum unless
 * it is @partial (the vnet header says VIRTIO_NET_HDR_F_NEEDS_CSUM: it
 * holds only the pseudo-header's sum, which is left alone).
 * @p must be the parse of @frame and of kind COLO_PKT_TCP.
 */
ColoSeqVerdict colo_seq_ingress(ColoSeq *s, uint8_t *frame,
                                const ColoPacket *p, bool partial);
/* A frame the secondary VM sends: translate seq in place. */
void colo_seq_egress(ColoSeq *s, uint8_t *frame, const ColoPacket *p,
                     bool partial);
/* A checkpoint made the secondary VM a copy of the primary: offset 0. */
void colo_seq_checkpoint(ColoSeq *s);

/* Replace a 32-bit big-endian field, fixing @csum (RFC 1624). */
void colo_csum_replace32(uint8_t *csum, uint8_t *field, uint32_t val);

#endif /* QEMU_NET_COLO_PROXY_SEQ_H */
