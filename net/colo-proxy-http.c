/*
 * COLO proxy: where an HTTP/1.x response stream has its Date fields
 * (no QOM, no I/O)
 *
 * Framing as in RFC 9112: a status line, header fields up to an empty
 * line, then a message body of Content-Length bytes, in chunked coding
 * (sizes, data, trailer fields), none (1xx but 101, 204, 304) or to the
 * end of the connection.  Only what the parser is sure of keeps it on.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/ctype.h"
#include "net/colo-proxy-http.h"

typedef enum ColoHttpState {
    H_OFF,              /* not HTTP, or lost: nothing is equal any more */
    H_STATUS,           /* the status line, at byte len */
    H_LINE,             /* the start of a header line */
    H_LINE_CR,          /* a CR there: the end of the header section */
    H_NAME,             /* a field name */
    H_OWS,              /* after the colon */
    H_VALUE,            /* a field value */
    H_BODY,             /* left bytes of body */
    H_CHUNK_SIZE,
    H_CHUNK_EXT,        /* the rest of a chunk-size line */
    H_CHUNK_DATA,       /* left bytes of chunk */
    H_CHUNK_END,        /* the CRLF after a chunk's data */
    H_TRAILER,          /* the start of a trailer line */
    H_TRAILER_LINE,     /* in a trailer line: not looked at */
    H_CLOSE,            /* a body to the end of the connection */
} ColoHttpState;

/* The header fields that matter, a bit each in ColoHttp.names. */
enum { F_NONE, F_DATE, F_CL, F_TE, F__MAX };
static const char *const colo_http_fields[F__MAX] = {
    [F_DATE] = "date",
    [F_CL] = "content-length",
    [F_TE] = "transfer-encoding",
};

#define COLO_HTTP_CHUNKED "chunked"
/* far beyond any real body, far from overflowing */
#define COLO_HTTP_BODY_MAX (1ULL << 60)

static void colo_http_response(ColoHttp *h)
{
    h->state = H_STATUS;
    h->len = 0;
    h->te_seen = false;
    h->te_chunked = 0;
    h->cl_seen = false;
    h->cl = 0;
}

void colo_http_init(ColoHttp *h, bool from_start)
{
    memset(h, 0, sizeof(*h));
    if (from_start) {
        colo_http_response(h);
    }
}

void colo_http_request(ColoHttp *h, const uint8_t *buf, size_t len)
{
    static const char head[] = "HEAD ";
    uint8_t edge[2 * sizeof(h->req_tail)];
    size_t n = MIN(len, sizeof(h->req_tail));

    /* "HEAD " split between this payload and the one before */
    memcpy(edge, h->req_tail, sizeof(h->req_tail));
    memcpy(edge + sizeof(h->req_tail), buf, n);
    if (memmem(edge, sizeof(h->req_tail) + n, head, strlen(head)) ||
        memmem(buf, len, head, strlen(head))) {
        h->state = H_OFF;
    }
    if (len >= sizeof(h->req_tail)) {
        memcpy(h->req_tail, buf + len - sizeof(h->req_tail),
               sizeof(h->req_tail));
    } else {
        memmove(h->req_tail, h->req_tail + len, sizeof(h->req_tail) - len);
        memcpy(h->req_tail + sizeof(h->req_tail) - len, buf, len);
    }
}

bool colo_http_off(const ColoHttp *h)
{
    return h->state == H_OFF;
}

/* tchar of RFC 9110, 5.6.2 */
static bool colo_http_tchar(uint8_t c)
{
    return qemu_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "HTTP/1.x NNN" and the rest of the line */
static void colo_http_status(ColoHttp *h, uint8_t c)
{
    static const char start[] = "HTTP/1.";
    unsigned i = h->len;

    if (i >= 12) {
        if (c == '\n') {
            h->state = H_LINE;
        }
        return;
    }
    if ((i < 7 && c != start[i]) || (i == 7 && c != '0' && c != '1') ||
        (i == 8 && c != ' ') || (i > 8 && !qemu_isdigit(c))) {
        h->state = H_OFF;
        return;
    }
    if (i == 9) {
        h->status = 0;
    }
    if (i > 8) {
        h->status = h->status * 10 + (c - '0');
    }
    h->len++;
}

/* The header section ended: what the body is. */
static void colo_http_body(ColoHttp *h)
{
    if (h->status == 101) {
        h->state = H_OFF;       /* another protocol from here */
    } else if (h->status < 200 || h->status == 204 || h->status == 304) {
        colo_http_response(h);
    } else if (h->te_seen) {
        /* chunked must be the final coding; else the body runs to close */
        h->state = h->te_chunked == strlen(COLO_HTTP_CHUNKED) ?
                   H_CHUNK_SIZE : H_CLOSE;
        h->left = 0;
        h->digits = false;
    } else if (h->cl_seen && h->cl) {
        h->state = H_BODY;
        h->left = h->cl;
    } else if (h->cl_seen) {
        colo_http_response(h);
    } else {
        h->state = H_CLOSE;
    }
}

/* Narrow the candidate names by byte @c at index len; ':' ends the name. */
static void colo_http_name(ColoHttp *h, uint8_t c)
{
    if (c == ':') {
        for (int f = F_DATE; f < F__MAX; f++) {
            if ((h->names & (1 << f)) && strlen(colo_http_fields[f]) ==
                h->len) {
                h->field = f;
            }
        }
        h->state = H_OWS;
        h->len = 0;
        return;
    }
    if (!colo_http_tchar(c)) {
        h->state = H_OFF;
        return;
    }
    for (int f = F_DATE; f < F__MAX; f++) {
        if (h->len >= strlen(colo_http_fields[f]) ||
            qemu_tolower(c) != colo_http_fields[f][h->len]) {
            h->names &= ~(1 << f);
        }
    }
    h->len = MIN(h->len + 1, UINT8_MAX);
}

static void colo_http_line(ColoHttp *h, uint8_t c)
{
    if (c == '\r') {
        h->state = H_LINE_CR;
    } else if (c == '\n') {
        colo_http_body(h);
    } else if (colo_http_tchar(c)) {
        /* obs-fold, a colon or anything else first is not understood */
        h->state = H_NAME;
        h->names = (1 << F__MAX) - 2;
        h->len = 0;
        h->field = F_NONE;
        colo_http_name(h, c);
    } else {
        h->state = H_OFF;
    }
}

static void colo_http_value_cl(ColoHttp *h, uint8_t c)
{
    if (qemu_isdigit(c) && !h->cl_done) {
        h->cl = h->cl * 10 + (c - '0');
        if (h->cl > COLO_HTTP_BODY_MAX) {
            h->state = H_OFF;
        }
    } else if (c == ' ' || c == '\t' || c == '\r') {
        h->cl_done = true;
    } else {
        h->state = H_OFF;       /* a list, or not a number */
    }
}

static void colo_http_value_te(ColoHttp *h, uint8_t c)
{
    const char *chunked = COLO_HTTP_CHUNKED;

    if (c == ' ' || c == '\t' || c == '\r') {
        return;                 /* trailing whitespace keeps the match */
    }
    if (h->te_chunked < strlen(chunked) &&
        qemu_tolower(c) == chunked[h->te_chunked]) {
        h->te_chunked++;
    } else {
        h->te_chunked = qemu_tolower(c) == chunked[0];
    }
}

/* The field's line ended. */
static void colo_http_field_end(ColoHttp *h)
{
    if (h->field == F_CL) {
        if (!h->len || h->cl_seen) {
            h->state = H_OFF;   /* empty, or a second one */
            return;
        }
        h->cl_seen = true;
    } else if (h->field == F_TE) {
        h->te_seen = true;
    }
    h->state = H_LINE;
}

static void colo_http_value(ColoHttp *h, uint8_t c)
{
    if (c == '\n') {
        colo_http_field_end(h);
        return;
    }
    if (h->field == F_DATE && h->len < COLO_HTTP_DATE_LEN) {
        h->date[h->len] = c;
    } else if (h->field == F_CL) {
        colo_http_value_cl(h, c);
    } else if (h->field == F_TE) {
        colo_http_value_te(h, c);
    }
    h->len = MIN(h->len + 1, UINT8_MAX);
}

static void colo_http_ows(ColoHttp *h, uint8_t c)
{
    if (c == ' ' || c == '\t') {
        return;
    }
    h->state = H_VALUE;
    h->len = 0;
    if (h->field == F_CL) {
        h->cl = 0;
        h->cl_done = false;
    } else if (h->field == F_TE) {
        h->te_chunked = 0;      /* the last field's codings count */
    }
    colo_http_value(h, c);
}

static void colo_http_chunk_size(ColoHttp *h, uint8_t c, bool ext)
{
    if (c == '\n') {
        if (!h->digits) {
            h->state = H_OFF;
        } else if (h->left) {
            h->state = H_CHUNK_DATA;
        } else {
            h->state = H_TRAILER;
        }
        h->digits = false;
    } else if (ext || c == '\r') {
        /* chunk extensions and the CR are not looked at */
    } else if (qemu_isxdigit(c)) {
        h->left = h->left * 16 + (qemu_isdigit(c) ? c - '0' :
                                  qemu_tolower(c) - 'a' + 10);
        h->digits = true;
        if (h->left > COLO_HTTP_BODY_MAX) {
            h->state = H_OFF;
        }
    } else if (h->digits && (c == ';' || c == ' ' || c == '\t')) {
        h->state = H_CHUNK_EXT;
    } else {
        h->state = H_OFF;
    }
}

static void colo_http_chunk_digits(ColoHttp *h, uint8_t c)
{
    colo_http_chunk_size(h, c, false);
}

static void colo_http_chunk_ext(ColoHttp *h, uint8_t c)
{
    colo_http_chunk_size(h, c, true);
}

static void colo_http_line_cr(ColoHttp *h, uint8_t c)
{
    if (c == '\n') {
        colo_http_body(h);
    } else {
        h->state = H_OFF;
    }
}

/* The CRLF after a chunk's data. */
static void colo_http_chunk_end(ColoHttp *h, uint8_t c)
{
    if (c == '\n') {
        h->state = H_CHUNK_SIZE;
        h->left = 0;
    } else if (c != '\r') {
        h->state = H_OFF;
    }
}

/* Trailer fields are not looked at; an empty line ends the message. */
static void colo_http_trailer(ColoHttp *h, uint8_t c)
{
    if (c == '\n') {
        colo_http_response(h);
    } else if (c != '\r') {
        h->state = H_TRAILER_LINE;
    }
}

static void colo_http_trailer_line(ColoHttp *h, uint8_t c)
{
    if (c == '\n') {
        h->state = H_TRAILER;
    }
}

/* What a byte does in each state; bodies are passed over in bulk. */
static void (*const colo_http_step[])(ColoHttp *h, uint8_t c) = {
    [H_STATUS] = colo_http_status,
    [H_LINE] = colo_http_line,
    [H_LINE_CR] = colo_http_line_cr,
    [H_NAME] = colo_http_name,
    [H_OWS] = colo_http_ows,
    [H_VALUE] = colo_http_value,
    [H_CHUNK_SIZE] = colo_http_chunk_digits,
    [H_CHUNK_EXT] = colo_http_chunk_ext,
    [H_CHUNK_END] = colo_http_chunk_end,
    [H_TRAILER] = colo_http_trailer,
    [H_TRAILER_LINE] = colo_http_trailer_line,
};

void colo_http_feed(ColoHttp *h, const uint8_t *buf, size_t len)
{
    while (len && h->state != H_OFF && h->state != H_CLOSE) {
        if (h->state == H_BODY || h->state == H_CHUNK_DATA) {
            /* a body is passed over whole, not parsed */
            size_t n = MIN(len, h->left);

            h->left -= n;
            buf += n;
            len -= n;
            if (!h->left) {
                if (h->state == H_BODY) {
                    colo_http_response(h);
                } else {
                    h->state = H_CHUNK_END;
                }
            }
            continue;
        }
        colo_http_step[h->state](h, *buf++);
        len--;
    }
}

uint32_t colo_http_date_need(const ColoHttp *h)
{
    if (h->field != F_DATE) {
        return 0;
    }
    if (h->state == H_OWS) {
        return COLO_HTTP_DATE_FIELD;
    }
    if (h->state == H_VALUE && h->len < COLO_HTTP_DATE_LEN) {
        return COLO_HTTP_DATE_FIELD - h->len;
    }
    return 0;
}

/* Days from 1970-01-01 to @y-@m-@d of the proleptic Gregorian calendar. */
static int64_t colo_http_days(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy;

    y -= m <= 2;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* @n decimal digits at @s, or -1 */
static int colo_http_num(const uint8_t *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!qemu_isdigit(s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int colo_http_index(const uint8_t *s, const char *names)
{
    for (int i = 0; names[i * 3]; i++) {
        if (!memcmp(s, names + i * 3, 3)) {
            return i;
        }
    }
    return -1;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", the weekday the date's */
bool colo_http_fixdate(const uint8_t *s, int64_t *t)
{
    static const uint8_t mdays[12] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    int wday = colo_http_index(s, "ThuFriSatSunMonTueWed");
    int mon = colo_http_index(s + 8, "JanFebMarAprMayJunJulAugSepOctNovDec");
    int day = colo_http_num(s + 5, 2), year = colo_http_num(s + 12, 4);
    int hh = colo_http_num(s + 17, 2), mm = colo_http_num(s + 20, 2);
    int ss = colo_http_num(s + 23, 2);
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    int64_t days;

    if (wday < 0 || mon < 0 || day < 1 || year < 0 || hh < 0 || hh > 23 ||
        mm < 0 || mm > 59 || ss < 0 || ss > 60 || day > mdays[mon] ||
        (mon == 1 && day == 29 && !leap) ||
        memcmp(s + 3, ", ", 2) || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
        memcmp(s + 25, " GMT", 4)) {
        return false;
    }
    days = colo_http_days(year, mon + 1, day);
    if (((days % 7) + 7) % 7 != wday) {
        return false;
    }
    *t = days * 86400 + hh * 3600 + mm * 60 + ss;
    return true;
}

/* The side's value, what was read of it and then @rest, with its CRLF. */
static bool colo_http_side(const ColoHttp *h, const uint8_t *rest,
                           int64_t *t)
{
    uint8_t v[COLO_HTTP_DATE_FIELD];
    uint32_t have = COLO_HTTP_DATE_FIELD - colo_http_date_need(h);

    memcpy(v, h->date, have);
    memcpy(v + have, rest, COLO_HTTP_DATE_FIELD - have);
    return colo_http_fixdate(v, t) &&
           !memcmp(v + COLO_HTTP_DATE_LEN, "\r\n", 2);
}

bool colo_http_date_equal(const ColoHttp *h, const uint8_t *a,
                          const uint8_t *b, uint32_t window, int64_t *delta)
{
    int64_t ta, tb;

    if (!colo_http_date_need(h) || !colo_http_side(h, a, &ta) ||
        !colo_http_side(h, b, &tb)) {
        return false;
    }
    *delta = tb - ta;
    return *delta <= window && -*delta <= window;
}
