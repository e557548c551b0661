/*
 * COLO proxy: the link between the primary's and the secondary's proxy
 *
 * The secondary listens, the primary connects and reconnects with backoff.
 * Everything runs in the main loop on non-blocking QIOChannels: a slow or
 * stuck peer never blocks the main loop, a vCPU or QMP.  Messages are
 * framed by colo-proxy-link.c; heartbeats keep an idle link alive and a
 * silent peer is declared down after the link timeout.
 *
 * The secondary gives a connection nothing before it proved to be the
 * primary: TLS (when configured) and then a valid HELLO, within the link
 * timeout; only then does it take the link's one slot.  A few such
 * handshakes may be pending at once, the oldest dropped for a new one.
 * The primary's connection attempts, TLS and HELLO included, have the
 * same deadline.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_IO_H
#define QEMU_NET_COLO_PROXY_IO_H

#include "qapi/qapi-types-sockets.h"
#include "crypto/tlscreds.h"
#include "net/colo-proxy-link.h"

typedef struct ColoLinkIO ColoLinkIO;

typedef enum ColoLinkIOState {
    COLO_LINK_IO_IDLE,          /* primary: waiting to reconnect */
    COLO_LINK_IO_LISTENING,     /* secondary: waiting for the primary */
    COLO_LINK_IO_CONNECTING,
    COLO_LINK_IO_HANDSHAKE,
    COLO_LINK_IO_UP,
} ColoLinkIOState;

typedef struct ColoLinkIOOps {
    /* The handshake succeeded. */
    void (*up)(void *opaque);
    /* The link went down (it had been up); @reason says why. */
    void (*down)(void *opaque, const char *reason);
    /* A connection attempt or handshake failed while the link is down. */
    void (*refused)(void *opaque, const char *reason);
    /*
     * Secondary: a connection was refused while the link is up (another
     * primary, a stranger): counted in the stats already.
     */
    void (*rejected)(void *opaque, const char *reason);
    /* A frame from the peer; valid only during the call. */
    void (*frame)(void *opaque, const uint8_t *buf, uint32_t len);
    /* The peer's checkpoint marker (COLO_LINK_EPOCH). */
    void (*epoch)(void *opaque);
    /* Sequence offsets the primary hands on (COLO_LINK_OFFSETS). */
    void (*offsets)(void *opaque, const uint8_t *buf, uint32_t len);
} ColoLinkIOOps;

typedef struct ColoLinkIOConfig {
    const char *name;           /* for traces and messages */
    SocketAddress *addr;
    bool listen;
    ColoLinkHello hello;        /* what this side announces */
    uint32_t timeout_ms;        /* peer silent this long: down */
    QCryptoTLSCreds *tls_creds; /* NULL: no TLS */
    const char *tls_authz;      /* secondary: authz object id, or NULL */
    const char *tls_hostname;   /* primary: name to check the cert for */
    uint64_t max_buffer;        /* bytes queued for sending, at most */
} ColoLinkIOConfig;

typedef struct ColoLinkIOStats {
    uint64_t tx_frames;
    uint64_t rx_frames;
    uint64_t tx_bytes;
    uint64_t rx_bytes;
    uint64_t buffer_full;       /* frames refused: send buffer full */
    uint64_t connects;          /* handshakes completed */
    uint64_t failures;          /* links lost or refused */
    /* connections refused before the link was theirs, by cause */
    uint64_t refused_busy;      /* a live primary holds the link */
    uint64_t refused_handshake; /* TLS or HELLO failed */
    uint64_t refused_timeout;   /* not connected and through in time */
    uint64_t refused_evicted;   /* pending, dropped for a newer one */
} ColoLinkIOStats;

/* Open the link (listening or first connection attempt). */
ColoLinkIO *colo_link_io_new(const ColoLinkIOConfig *cfg,
                             const ColoLinkIOOps *ops, void *opaque,
                             Error **errp);
void colo_link_io_free(ColoLinkIO *l);

/*
 * Queue one frame for the peer.  Returns false, sending nothing, when the
 * link is not up or the send buffer would go over its bound: the caller
 * decides what that means for the frame.
 */
bool colo_link_io_send(ColoLinkIO *l, const struct iovec *iov, int iovcnt);

/* Queue a checkpoint marker, in order with the frames; false if down. */
bool colo_link_io_send_epoch(ColoLinkIO *l);
/* Queue sequence offsets (at most COLO_LINK_MAX_PAYLOAD); false if not. */
bool colo_link_io_send_offsets(ColoLinkIO *l, const uint8_t *buf,
                               uint32_t len);

ColoLinkIOState colo_link_io_state(const ColoLinkIO *l);
const char *colo_link_io_last_error(const ColoLinkIO *l);
const ColoLinkIOStats *colo_link_io_stats(const ColoLinkIO *l);
uint64_t colo_link_io_buffered(const ColoLinkIO *l);

#endif /* QEMU_NET_COLO_PROXY_IO_H */
