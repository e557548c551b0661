/*
 * COLO proxy: where an HTTP/1.x response stream has its Date fields
 * (no QOM, no I/O)
 *
 * The comparison feeds a guest's TCP output to a ColoHttp as far as both
 * guests sent the same bytes.  The parser follows responses as a client
 * would (status line, header fields, a body by Content-Length, chunked
 * coding or to the end of the connection) to tell, at the first byte
 * that differs, whether it lies inside the value of a response's Date
 * field.  Then colo_http_date_equal() says whether both values are valid
 * IMF-fixdates (RFC 9110, 5.6.7) close enough to be treated as equal.
 *
 * Anything the parser does not understand stops it for the rest of the
 * connection: from there on nothing is treated as equal.  Of the client's
 * requests it only looks for "HEAD ": a response to HEAD announces a body
 * it does not send, so the parser stops at the first request that may be
 * one.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_HTTP_H
#define QEMU_NET_COLO_PROXY_HTTP_H

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define COLO_HTTP_DATE_LEN 29
/* the value and the CRLF that ends the field */
#define COLO_HTTP_DATE_FIELD (COLO_HTTP_DATE_LEN + 2)

typedef struct ColoHttp {
    uint8_t state;
    uint8_t field;              /* the header field being read */
    uint8_t names;              /* field names the name read may still be */
    uint8_t len;                /* of the name, status line or value read */
    uint8_t te_chunked;         /* bytes of "chunked" matched at the end */
    bool te_seen;
    bool cl_seen;
    bool cl_done;               /* Content-Length: its digits are over */
    bool digits;                /* a chunk size has digits */
    uint16_t status;
    uint8_t req_tail[4];        /* the client's last bytes, for a split */
    uint64_t cl;
    uint64_t left;              /* bytes of body or chunk still to come */
    uint8_t date[COLO_HTTP_DATE_LEN];   /* the Date value read so far */
} ColoHttp;

/*
 * A response stream from its first byte (@from_start), or from a point
 * the parser cannot know: then it stays off.
 */
void colo_http_init(ColoHttp *h, bool from_start);
/* The next @len bytes of the stream. */
void colo_http_feed(ColoHttp *h, const uint8_t *buf, size_t len);
/*
 * The client sent @len bytes of requests: if they may hold a HEAD
 * request, stop.  Order does not matter; false positives only stop the
 * parser.
 */
void colo_http_request(ColoHttp *h, const uint8_t *buf, size_t len);
/* The parser gave up, or was never on. */
bool colo_http_off(const ColoHttp *h);
/*
 * Inside the value of a Date field (or the whitespace before it): how
 * many bytes from here the two sides' fields need to be compared, with
 * the CRLF after the value; 0 elsewhere.
 */
uint32_t colo_http_date_need(const ColoHttp *h);
/*
 * @a and @b, colo_http_date_need() bytes each, are what the two sides
 * sent from here: both complete the Date value to a valid IMF-fixdate
 * followed by CRLF, and the two times are at most @window seconds
 * apart.  *@delta is b's time less a's.
 */
bool colo_http_date_equal(const ColoHttp *h, const uint8_t *a,
                          const uint8_t *b, uint32_t window, int64_t *delta);
/* An IMF-fixdate @s, COLO_HTTP_DATE_LEN bytes, as seconds since 1970. */
bool colo_http_fixdate(const uint8_t *s, int64_t *t);

#endif /* QEMU_NET_COLO_PROXY_HTTP_H */
