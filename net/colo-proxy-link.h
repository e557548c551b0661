/*
 * COLO proxy link protocol: framing and handshake (no QOM, no I/O)
 *
 * Every message on the link between the primary's and the secondary's
 * colo-proxy is an 8-byte header followed by a payload:
 *
 *   0      1      2      4                 8
 *   +------+------+------+-----------------+------------------+
 *   | type | 0    | 0    | payload length  | payload ...      |
 *   +------+------+------+-----------------+------------------+
 *
 * (length big-endian, at most COLO_LINK_MAX_PAYLOAD).  The first message
 * each way is HELLO, or a BYE refusing the link; a peer that sends
 * anything else first, an unknown
 * type, non-zero reserved bytes or a length over the maximum is a protocol
 * error and the link is closed.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_LINK_H
#define QEMU_NET_COLO_PROXY_LINK_H

#define COLO_LINK_VERSION       3
#define COLO_LINK_HDR_LEN       8
#define COLO_LINK_HELLO_LEN     16
/* A 64 KiB frame plus room for a vnet header. */
#define COLO_LINK_MAX_PAYLOAD   (64 * 1024 + 256)
#define COLO_LINK_REASON_MAX    256

typedef enum ColoLinkType {
    COLO_LINK_HELLO = 1,        /* handshake: ColoLinkHello */
    COLO_LINK_FRAME = 2,        /* a guest frame as the netdev saw it */
    COLO_LINK_HEARTBEAT = 3,    /* liveness; empty */
    COLO_LINK_BYE = 4,          /* orderly close; a reason in UTF-8 */
    COLO_LINK_EPOCH = 5,        /* a checkpoint was handled; empty */
    COLO_LINK_OFFSETS = 6,      /* sequence offsets handed on (primary) */
    COLO_LINK_TYPE__MAX,
} ColoLinkType;

typedef enum ColoLinkRole {
    COLO_LINK_ROLE_PRIMARY = 0,
    COLO_LINK_ROLE_SECONDARY = 1,
} ColoLinkRole;

typedef struct ColoLinkHello {
    uint16_t version;
    uint8_t role;               /* ColoLinkRole */
    bool vnet_hdr;              /* frames carry a virtio-net header */
    uint32_t max_payload;       /* the largest payload the sender accepts */
} ColoLinkHello;

typedef enum ColoLinkError {
    COLO_LINK_OK = 0,
    COLO_LINK_ERR_TYPE,         /* unknown message type */
    COLO_LINK_ERR_RESERVED,     /* reserved header bytes not zero */
    COLO_LINK_ERR_LENGTH,       /* payload longer than allowed for the type */
    COLO_LINK_ERR_NO_HELLO,     /* first message is not HELLO */
    COLO_LINK_ERR_DUP_HELLO,    /* a second HELLO */
    COLO_LINK_ERR_MAGIC,        /* HELLO without the protocol's magic */
    COLO_LINK_ERR_VERSION,      /* HELLO of another protocol version */
    COLO_LINK_ERR_ROLE,         /* peer has the same role, or an unknown one */
    COLO_LINK_ERR_VNET_HDR,     /* peers disagree on the vnet header */
    COLO_LINK_ERR__MAX,
} ColoLinkError;

/* Incremental decoder: holds at most one message, never more. */
typedef struct ColoLinkDecoder {
    uint8_t hdr[COLO_LINK_HDR_LEN];
    uint32_t hdr_got;
    uint32_t len;               /* payload length of the current message */
    uint32_t got;               /* payload bytes received so far */
    uint8_t *payload;           /* COLO_LINK_MAX_PAYLOAD bytes */
    bool hello_seen;
    ColoLinkError error;        /* sticky: once set, nothing more is decoded */
} ColoLinkDecoder;

/*
 * Called for each complete message; @payload is valid only during the
 * call.  Return false to stop decoding (the rest stays unconsumed).
 */
typedef bool ColoLinkMsgFn(void *opaque, ColoLinkType type,
                           const uint8_t *payload, uint32_t len);

void colo_link_decoder_init(ColoLinkDecoder *d);
void colo_link_decoder_reset(ColoLinkDecoder *d);
void colo_link_decoder_destroy(ColoLinkDecoder *d);

/*
 * Feed @len bytes.  Returns how many were consumed: all of them unless a
 * protocol error was found (d->error is set) or @fn returned false.
 * HELLO is checked for format here; colo_link_hello_check() checks it
 * against this side's own.
 */
size_t colo_link_decode(ColoLinkDecoder *d, const uint8_t *buf, size_t len,
                        ColoLinkMsgFn *fn, void *opaque);

/* Write a header for a @type message with a @len payload into @hdr. */
void colo_link_encode_hdr(uint8_t hdr[COLO_LINK_HDR_LEN], ColoLinkType type,
                          uint32_t len);
void colo_link_encode_hello(uint8_t buf[COLO_LINK_HELLO_LEN],
                            const ColoLinkHello *h);
ColoLinkError colo_link_parse_hello(const uint8_t *buf, uint32_t len,
                                    ColoLinkHello *h);
/*
 * A peer's first message, whole (COLO_LINK_HDR_LEN + COLO_LINK_HELLO_LEN
 * bytes at @msg), checked as the decoder checks it: it must be a HELLO.
 */
ColoLinkError colo_link_parse_hello_msg(const uint8_t *msg,
                                        ColoLinkHello *h);
/* Is the peer's HELLO compatible with ours? */
ColoLinkError colo_link_hello_check(const ColoLinkHello *mine,
                                    const ColoLinkHello *peer);

const char *colo_link_error_str(ColoLinkError err);

/*
 * A peer's BYE reason as text fit for a log line: at most
 * COLO_LINK_REASON_MAX bytes of printable ASCII; any other byte (an
 * escape sequence, a newline that would forge a log line, UTF-8) is
 * shown as '?'.  The caller frees it.
 */
char *colo_link_reason_str(const uint8_t *buf, uint32_t len);

/*
 * Checkpoint epochs.  Each side sends COLO_LINK_EPOCH, in order with its
 * frames, when it handles a checkpoint: what it sent before the marker
 * belongs to the state before the checkpoint.  So a side that handled a
 * checkpoint drops what the peer sent before the peer's marker (stale: the
 * secondary's output from before it was reloaded, ingress the reloaded
 * secondary already has the effect of), and a side that got the peer's
 * marker before its own checkpoint holds what follows the marker until
 * then (the reloaded secondary's output, early).  Neither waits for
 * ever: after a timeout the peer's frames are current again.
 */
typedef enum ColoEpochState {
    COLO_EPOCH_CURRENT,         /* both sides are at the same checkpoint */
    COLO_EPOCH_STALE,           /* ours handled, the peer's marker to come */
    COLO_EPOCH_EARLY,           /* the peer's marker came first */
} ColoEpochState;

typedef enum ColoEpochVerdict {
    COLO_EPOCH_PASS,            /* a frame of the peer: handle it */
    COLO_EPOCH_DROP,            /* ... drop it, stale */
    COLO_EPOCH_HOLD,            /* ... hold it until our checkpoint */
} ColoEpochVerdict;

typedef struct ColoEpoch {
    ColoEpochState state;
    int64_t since_ns;
    uint64_t timeouts;          /* waits given up */
} ColoEpoch;

/* A new link: nothing is known of the peer's checkpoints. */
void colo_epoch_reset(ColoEpoch *e);
/* We handled a checkpoint; true if the frames held as early may go. */
bool colo_epoch_local(ColoEpoch *e, int64_t now);
/* The peer's marker arrived. */
void colo_epoch_marker(ColoEpoch *e, int64_t now);
/* Give up a wait older than @timeout_ns; true if held frames may go. */
bool colo_epoch_expire(ColoEpoch *e, int64_t now, int64_t timeout_ns);
ColoEpochVerdict colo_epoch_verdict(const ColoEpoch *e);

/*
 * The notify channel of external COLO frames (colo-compare's notify_dev
 * protocol, see colo-proxy-notify.h): a 4-byte big-endian length and
 * that many bytes of text per message.  A length over
 * COLO_NOTIFY_MSG_MAX loses the framing for good: nothing more is
 * decoded until colo_notify_decoder_reset() (a new connection).
 */
#define COLO_NOTIFY_MSG_MAX 64

typedef struct ColoNotifyDecoder {
    uint8_t hdr[4];
    uint32_t hdr_got;
    uint32_t len;
    uint32_t got;
    uint8_t msg[COLO_NOTIFY_MSG_MAX];
    bool broken;
} ColoNotifyDecoder;

typedef void ColoNotifyMsgFn(void *opaque, const uint8_t *msg, uint32_t len);

void colo_notify_decoder_reset(ColoNotifyDecoder *d);
/*
 * Feed @len bytes; @fn is called for each whole message.  Returns false
 * if the framing is lost (now or before): the rest is ignored.
 */
bool colo_notify_decode(ColoNotifyDecoder *d, const uint8_t *buf,
                        size_t len, ColoNotifyMsgFn *fn, void *opaque);

#endif /* QEMU_NET_COLO_PROXY_LINK_H */
