/*
 * COLO proxy: the secondary's rewriting of TCP sequence numbers, per
 * connection (no QOM, no I/O)
 *
 * The client only ever sees the primary VM's sequence numbers.  On the
 * secondary every TCP frame is translated: what the client sends (acks,
 * SACK edges, TSecr) is moved from the primary's number space into the
 * secondary VM's, what the secondary VM sends (seq, TSval) into the
 * primary's.  The offsets between the two, for sequence numbers and for
 * RFC 7323 timestamps, are learnt in the handshake; they are zero for
 * connections the last checkpoint copied into the secondary VM.  Until it
 * is known, the client's frames of a connection are held, in order,
 * within a bound in bytes.
 *
 * A connection's life (colo-proxy-conn.c) is followed in the secondary
 * VM's number space: a half-close does not end it, both FINs acked or an
 * in-window RST do, and a SYN on a closed or reused 5-tuple starts it
 * afresh.  A closed connection is forgotten once unused for a grace
 * period.  After failover the same translation goes on for the
 * connections that have an offset.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_REWRITE_H
#define QEMU_NET_COLO_PROXY_REWRITE_H

#include "net/colo-proxy-conn.h"

typedef struct ColoRw ColoRw;

typedef struct ColoRwOps {
    /* Hand a translated frame of the client to the secondary VM. */
    void (*deliver)(void *opaque, uint8_t *buf, uint32_t len);
} ColoRwOps;

typedef struct ColoRwLimits {
    uint32_t max_conns;
    uint64_t conn_hold_bytes;   /* held per connection, memory */
    uint64_t hold_bytes;        /* held in all, memory */
    int64_t closed_grace_ns;    /* a closed connection unused this long goes */
} ColoRwLimits;

typedef struct ColoRwStats {
    uint64_t translated;        /* frames whose numbers were moved */
    uint64_t held;              /* frames held for an offset */
    uint64_t hold_overflow;     /* frames refused: over a hold bound */
    uint64_t evicted;           /* held frames of an evicted connection */
    uint64_t offsets_lost;      /* evicted with an offset, or in a handshake */
    uint64_t stale;             /* held frames dropped by a checkpoint */
    uint64_t imported;          /* offsets handed over by a primary */
} ColoRwStats;

ColoRw *colo_rw_new(const ColoRwLimits *lim, uint32_t seed,
                    const ColoRwOps *ops, void *opaque);
/* Held frames are dropped (counted as evicted). */
void colo_rw_free(ColoRw *rw);

/*
 * A frame of the client for the secondary VM, @vnet_len bytes of vnet
 * header first; @buf is writable.  It is translated and delivered (at
 * once or once its connection's offset is known), or refused (counted).
 */
void colo_rw_ingress(ColoRw *rw, uint8_t *buf, uint32_t len,
                     uint32_t vnet_len, int64_t now);
/* A frame the secondary VM sent: translated in place. */
void colo_rw_egress(ColoRw *rw, uint8_t *buf, uint32_t len,
                    uint32_t vnet_len, int64_t now);
/*
 * A checkpoint made the secondary VM a copy of the primary: every
 * offset is zero, and what was held came before it (its effect is in
 * the copy): it is dropped, counted as stale.
 */
void colo_rw_checkpoint(ColoRw *rw);
/* Forget connections closed and unused longer than the grace period. */
void colo_rw_tick(ColoRw *rw, int64_t now);
/*
 * The secondary took over: from now on it talks to the clients itself,
 * and the offsets a primary handed it (colo_rw_import()) apply too.
 */
void colo_rw_failover(ColoRw *rw);

/*
 * Handing the translation on.  A secondary that took over and became
 * the primary of a new pair goes on translating the connections it
 * served; its new secondary, a copy of it, needs those offsets once it
 * takes over in turn.  colo_rw_export() writes, from connection
 * @*cursor on, the offsets between the clients' numbers and the guest's
 * (sequence numbers and timestamps) of every connection that has one,
 * COLO_RW_ENTRY_LEN bytes each, into @buf of @len bytes; it returns
 * the bytes written and moves @*cursor on (to 0 once all are written).
 * colo_rw_import() takes them; false if @len is no whole number of
 * entries.
 */
#define COLO_RW_ENTRY_LEN 52
size_t colo_rw_export(ColoRw *rw, uint8_t *buf, size_t len,
                      uint32_t *cursor);
bool colo_rw_import(ColoRw *rw, const uint8_t *buf, size_t len,
                    int64_t now);

const ColoRwStats *colo_rw_stats(const ColoRw *rw);
uint32_t colo_rw_conns(const ColoRw *rw);
uint64_t colo_rw_evictions(const ColoRw *rw);
uint64_t colo_rw_held_bytes(const ColoRw *rw);

#endif /* QEMU_NET_COLO_PROXY_REWRITE_H */
