/*
 * COLO proxy link protocol: framing and handshake (no QOM, no I/O)
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "net/colo-proxy-link.h"

static const uint8_t colo_link_magic[8] = "COLOPRXY";

static const char *const colo_link_errors[COLO_LINK_ERR__MAX] = {
    [COLO_LINK_OK] = "no error",
    [COLO_LINK_ERR_TYPE] = "unknown message type",
    [COLO_LINK_ERR_RESERVED] = "reserved header bytes are not zero",
    [COLO_LINK_ERR_LENGTH] = "message length out of range for its type",
    [COLO_LINK_ERR_NO_HELLO] = "first message is not a handshake",
    [COLO_LINK_ERR_DUP_HELLO] = "second handshake",
    [COLO_LINK_ERR_MAGIC] = "handshake from something that is not colo-proxy",
    [COLO_LINK_ERR_VERSION] = "peer speaks another protocol version",
    [COLO_LINK_ERR_ROLE] = "peer has the same mode (primary/secondary)",
    [COLO_LINK_ERR_VNET_HDR] = "peers disagree on the vnet header setting",
};

const char *colo_link_error_str(ColoLinkError err)
{
    return err < COLO_LINK_ERR__MAX ? colo_link_errors[err] : "bad error";
}

char *colo_link_reason_str(const uint8_t *buf, uint32_t len)
{
    uint32_t n = MIN(len, COLO_LINK_REASON_MAX);
    char *text = g_malloc(n + 1);

    for (uint32_t i = 0; i < n; i++) {
        text[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
    }
    text[n] = 0;
    return text;
}

void colo_link_decoder_init(ColoLinkDecoder *d)
{
    memset(d, 0, sizeof(*d));
    d->payload = g_malloc(COLO_LINK_MAX_PAYLOAD);
}

/* Start over for a new connection; the buffer is kept. */
void colo_link_decoder_reset(ColoLinkDecoder *d)
{
    uint8_t *payload = d->payload;

    memset(d, 0, sizeof(*d));
    d->payload = payload;
}

void colo_link_decoder_destroy(ColoLinkDecoder *d)
{
    g_free(d->payload);
    d->payload = NULL;
}

void colo_link_encode_hdr(uint8_t hdr[COLO_LINK_HDR_LEN], ColoLinkType type,
                          uint32_t len)
{
    hdr[0] = type;
    hdr[1] = 0;
    stw_be_p(hdr + 2, 0);
    stl_be_p(hdr + 4, len);
}

void colo_link_encode_hello(uint8_t buf[COLO_LINK_HELLO_LEN],
                            const ColoLinkHello *h)
{
    memcpy(buf, colo_link_magic, sizeof(colo_link_magic));
    stw_be_p(buf + 8, h->version);
    buf[10] = h->role;
    buf[11] = h->vnet_hdr;
    stl_be_p(buf + 12, h->max_payload);
}

ColoLinkError colo_link_parse_hello(const uint8_t *buf, uint32_t len,
                                    ColoLinkHello *h)
{
    if (len != COLO_LINK_HELLO_LEN) {
        return COLO_LINK_ERR_LENGTH;
    }
    if (memcmp(buf, colo_link_magic, sizeof(colo_link_magic))) {
        return COLO_LINK_ERR_MAGIC;
    }
    h->version = lduw_be_p(buf + 8);
    h->role = buf[10];
    h->vnet_hdr = buf[11] != 0;
    h->max_payload = ldl_be_p(buf + 12);
    if (buf[11] > 1) {
        return COLO_LINK_ERR_VNET_HDR;
    }
    return COLO_LINK_OK;
}

ColoLinkError colo_link_hello_check(const ColoLinkHello *mine,
                                    const ColoLinkHello *peer)
{
    if (peer->version != mine->version) {
        return COLO_LINK_ERR_VERSION;
    }
    /* One primary talks to one secondary: never two of the same kind. */
    if (peer->role > COLO_LINK_ROLE_SECONDARY || peer->role == mine->role) {
        return COLO_LINK_ERR_ROLE;
    }
    /*
     * Both sides must parse frames the same way; upstream's chain silently
     * stops comparing when they do not.
     */
    if (peer->vnet_hdr != mine->vnet_hdr) {
        return COLO_LINK_ERR_VNET_HDR;
    }
    if (peer->max_payload < COLO_LINK_MAX_PAYLOAD) {
        return COLO_LINK_ERR_LENGTH;
    }
    return COLO_LINK_OK;
}

/* Largest payload a message of @type may carry, or -1 for a bad type. */
static int64_t colo_link_max_len(uint8_t type)
{
    switch (type) {
    case COLO_LINK_HELLO:
        return COLO_LINK_HELLO_LEN;
    case COLO_LINK_FRAME:
    case COLO_LINK_OFFSETS:
        return COLO_LINK_MAX_PAYLOAD;
    case COLO_LINK_HEARTBEAT:
    case COLO_LINK_EPOCH:
        return 0;
    case COLO_LINK_BYE:
        return COLO_LINK_REASON_MAX;
    default:
        return -1;
    }
}

/* Validate a complete header before any of its payload is accepted. */
static ColoLinkError colo_link_check_hdr(ColoLinkDecoder *d)
{
    uint8_t type = d->hdr[0];
    int64_t max = colo_link_max_len(type);

    d->len = ldl_be_p(d->hdr + 4);
    if (max < 0) {
        return COLO_LINK_ERR_TYPE;
    }
    if (d->hdr[1] || lduw_be_p(d->hdr + 2)) {
        return COLO_LINK_ERR_RESERVED;
    }
    if (d->len > max || (type == COLO_LINK_FRAME && d->len == 0) ||
        (type == COLO_LINK_HELLO && d->len != COLO_LINK_HELLO_LEN)) {
        return COLO_LINK_ERR_LENGTH;
    }
    /* a BYE may come first: the secondary refuses before its HELLO */
    if (!d->hello_seen && type != COLO_LINK_HELLO && type != COLO_LINK_BYE) {
        return COLO_LINK_ERR_NO_HELLO;
    }
    if (d->hello_seen && type == COLO_LINK_HELLO) {
        return COLO_LINK_ERR_DUP_HELLO;
    }
    return COLO_LINK_OK;
}

ColoLinkError colo_link_parse_hello_msg(const uint8_t *msg,
                                        ColoLinkHello *h)
{
    ColoLinkDecoder d = { .hello_seen = false };
    ColoLinkError err;

    memcpy(d.hdr, msg, COLO_LINK_HDR_LEN);
    err = colo_link_check_hdr(&d);
    if (err == COLO_LINK_OK && d.hdr[0] != COLO_LINK_HELLO) {
        err = COLO_LINK_ERR_NO_HELLO;       /* a BYE, from a primary */
    }
    return err ? err : colo_link_parse_hello(msg + COLO_LINK_HDR_LEN, d.len,
                                             h);
}

static size_t colo_link_take(uint8_t *dst, uint32_t *have, uint32_t want,
                             const uint8_t *src, size_t avail)
{
    size_t n = MIN((size_t)(want - *have), avail);

    memcpy(dst + *have, src, n);
    *have += n;
    return n;
}

size_t colo_link_decode(ColoLinkDecoder *d, const uint8_t *buf, size_t len,
                        ColoLinkMsgFn *fn, void *opaque)
{
    size_t off = 0;

    while (off < len && d->error == COLO_LINK_OK) {
        const uint8_t *payload;

        if (d->hdr_got < COLO_LINK_HDR_LEN) {
            off += colo_link_take(d->hdr, &d->hdr_got, COLO_LINK_HDR_LEN,
                                  buf + off, len - off);
            if (d->hdr_got < COLO_LINK_HDR_LEN) {
                break;
            }
            d->error = colo_link_check_hdr(d);
            d->got = 0;
            if (d->error) {
                break;
            }
        }
        if (d->got == 0 && len - off >= d->len) {
            /* the whole payload is in @buf: hand it over without a copy */
            payload = buf + off;
            off += d->len;
            d->got = d->len;
        } else {
            off += colo_link_take(d->payload, &d->got, d->len, buf + off,
                                  len - off);
            if (d->got < d->len) {
                break;
            }
            payload = d->payload;
        }
        d->hdr_got = 0;
        if (d->hdr[0] == COLO_LINK_HELLO) {
            ColoLinkHello h;

            d->error = colo_link_parse_hello(payload, d->len, &h);
            if (d->error) {
                break;
            }
            d->hello_seen = true;
        }
        if (!fn(opaque, d->hdr[0], payload, d->len)) {
            break;
        }
    }
    return off;
}

void colo_epoch_reset(ColoEpoch *e)
{
    e->state = COLO_EPOCH_CURRENT;
}

bool colo_epoch_local(ColoEpoch *e, int64_t now)
{
    if (e->state == COLO_EPOCH_EARLY) {
        e->state = COLO_EPOCH_CURRENT;
        return true;
    }
    e->state = COLO_EPOCH_STALE;
    e->since_ns = now;
    return false;
}

void colo_epoch_marker(ColoEpoch *e, int64_t now)
{
    if (e->state == COLO_EPOCH_STALE) {
        e->state = COLO_EPOCH_CURRENT;
    } else if (e->state == COLO_EPOCH_CURRENT) {
        e->state = COLO_EPOCH_EARLY;
        e->since_ns = now;
    }
    /* a second marker while early: the frames held stay held, in order */
}

bool colo_epoch_expire(ColoEpoch *e, int64_t now, int64_t timeout_ns)
{
    bool early = e->state == COLO_EPOCH_EARLY;

    if (e->state == COLO_EPOCH_CURRENT || now - e->since_ns < timeout_ns) {
        return false;
    }
    e->state = COLO_EPOCH_CURRENT;
    e->timeouts++;
    return early;
}

ColoEpochVerdict colo_epoch_verdict(const ColoEpoch *e)
{
    static const ColoEpochVerdict verdicts[] = {
        [COLO_EPOCH_CURRENT] = COLO_EPOCH_PASS,
        [COLO_EPOCH_STALE] = COLO_EPOCH_DROP,
        [COLO_EPOCH_EARLY] = COLO_EPOCH_HOLD,
    };

    return verdicts[e->state];
}

/* ---- the notify channel's framing ---- */

void colo_notify_decoder_reset(ColoNotifyDecoder *d)
{
    memset(d, 0, sizeof(*d));
}

bool colo_notify_decode(ColoNotifyDecoder *d, const uint8_t *buf,
                        size_t len, ColoNotifyMsgFn *fn, void *opaque)
{
    for (size_t i = 0; i < len && !d->broken; i++) {
        if (d->hdr_got < sizeof(d->hdr)) {
            d->hdr[d->hdr_got++] = buf[i];
            if (d->hdr_got < sizeof(d->hdr)) {
                continue;
            }
            d->len = ldl_be_p(d->hdr);
            d->got = 0;
            if (d->len > COLO_NOTIFY_MSG_MAX) {
                d->broken = true;
                break;
            }
        } else {
            d->msg[d->got++] = buf[i];
        }
        if (d->got == d->len) {
            d->hdr_got = 0;
            fn(opaque, d->msg, d->len);
        }
    }
    return !d->broken;
}
