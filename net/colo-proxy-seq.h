/*
 * COLO proxy: TCP sequence arithmetic, and moving a frame's numbers
 * (no QOM, no I/O)
 *
 * The two VMs pick different initial sequence numbers for the same
 * connection; colo-proxy-rewrite.c translates between them with the
 * helpers here, one frame at a time.
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

/*
 * Move the ack number and every SACK edge (RFC 2018) of the TCP frame
 * @frame (parsed into @p) back by @offset, and its seq forward by it,
 * fixing the TCP checksum unless it is @partial: with a vnet header's
 * VIRTIO_NET_HDR_F_NEEDS_CSUM it holds only the pseudo-header's sum,
 * which none of these fields is part of, and is left alone.
 */
void colo_seq_move_ack(uint8_t *frame, const ColoPacket *p, uint32_t offset,
                       bool partial);
void colo_seq_move_seq(uint8_t *frame, const ColoPacket *p, uint32_t offset,
                       bool partial);

/*
 * The TCP timestamps option (RFC 7323) of @frame: its TSval in *@val and
 * TSecr in *@ecr, or false if it has none.
 */
bool colo_seq_get_ts(const uint8_t *frame, const ColoPacket *p,
                     uint32_t *val, uint32_t *ecr);

/*
 * Move the TSval of @frame's timestamps option forward by @val_add and a
 * non-zero TSecr back by @ecr_sub (the two VMs' timestamp clocks differ
 * as their ISNs do), fixing the checksum unless it is @partial.
 */
void colo_seq_move_ts(uint8_t *frame, const ColoPacket *p, uint32_t val_add,
                      uint32_t ecr_sub, bool partial);

/* Replace a 32-bit big-endian field, fixing @csum (RFC 1624). */
void colo_csum_replace32(uint8_t *csum, uint8_t *field, uint32_t val);

#endif /* QEMU_NET_COLO_PROXY_SEQ_H */
