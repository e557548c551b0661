/*
 * Unit tests for colo-proxy's per-connection comparison
 *
 * Stream cases are scripts: frames of the primary (P) and the secondary
 * (S) with sequence numbers relative to each VM's ISN, then what must have
 * been released and which checkpoints requested.  Every script runs with
 * ISNs 0, 1, 2^32 - 1 and 2^32 - 10 (and the secondary's ISN different
 * from the primary's), so wraparound is covered everywhere.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "net/colo-proxy-compare.h"
#include "../qtest/colo-proxy-frames.h"

static const uint32_t isns[] = { 0, 1, UINT32_MAX, UINT32_MAX - 10 };

typedef struct T {
    ColoCmp *c;
    GString *released;          /* ids of released frames, "1 2 3 " */
    unsigned requests[COLO_CMP_REASON__MAX];
    uint32_t pisn;
    uint32_t sisn;
    CpFlow vm;                  /* the guest's side of the connection */
    int64_t now;
} T;

/*
 * The ID of a frame is carried where the comparison never looks: in the
 * IPv4 ID, or the low bits of the IPv6 flow label.
 */
static uint8_t *id_field(uint8_t *frame)
{
    uint8_t *ip = frame + 14 + (frame[12] == 0x81 ? 4 : 0);

    return (ip[0] >> 4) == 6 ? ip + 2 : ip + 4;
}

static void on_release(void *opaque, const uint8_t *buf, uint32_t len,
                       unsigned flags)
{
    T *t = opaque;

    g_string_append_printf(t->released, "%u ",
                           lduw_be_p(id_field((uint8_t *)buf)));
}

static void on_request(void *opaque, ColoCmpReason why,
                       const ColoConnKey *key)
{
    T *t = opaque;

    t->requests[why]++;
}

static const ColoCmpOps ops = {
    .release = on_release,
    .request = on_request,
};

static const ColoCmpLimits default_limits = {
    .conn_frames = 64, .conn_bytes = 1 << 20,
    .total_frames = 256, .total_bytes = 4 << 20,
    .svm_bytes = 1 << 20, .svm_total = 4 << 20, .max_conns = 64,
    .timeout_ns = 1000,
    .closed_grace_ns = 5000,
};

static void t_init(T *t, uint32_t pisn, uint32_t sisn,
                   const ColoCmpLimits *lim)
{
    memset(t, 0, sizeof(*t));
    t->c = colo_cmp_new(lim ? lim : &default_limits, 42, &ops, t);
    t->released = g_string_new("");
    t->pisn = pisn;
    t->sisn = sisn;
    t->vm = cp_flow(false, 0, 40000, 80);
    t->vm = cp_flow_reverse(&t->vm);
}

static void t_free(T *t)
{
    colo_cmp_free(t->c);
    g_string_free(t->released, true);
}

/* Byte @i of the guest's stream: the same on both sides. */
static uint8_t stream_byte(uint32_t i)
{
    return (i * 7 + 3) & 0xff;
}

static GByteArray *tcp(T *t, const CpFlow *f, uint32_t seq, uint8_t flags,
                       uint32_t rel, uint32_t len, int flip, uint16_t id)
{
    g_autofree uint8_t *data = g_malloc(len + 1);
    GByteArray *b;

    for (uint32_t i = 0; i < len; i++) {
        data[i] = stream_byte(rel + i);
    }
    if (flip >= 0) {
        data[flip] ^= 0x40;
    }
    b = cp_frame_tcp(f, seq, 1, flags, data, len);
    stw_be_p(id_field(b->data), id);
    return b;
}

/* The primary sends frame @id: @flags, payload [rel, rel + len). */
static void P(T *t, uint16_t id, uint8_t flags, uint32_t rel, uint32_t len)
{
    g_autoptr(GByteArray) b = tcp(t, &t->vm, t->pisn + rel, flags, rel, len,
                                  -1, id);
    colo_cmp_primary(t->c, b->data, b->len, 0, 0, t->now);
}

/*
 * The secondary sends the same, its seqs already translated into the
 * primary's space by its proxy, but for a SYN, which keeps its own ISN.
 * @flip >= 0 changes that byte of the payload.
 */
static void S_flip(T *t, uint8_t flags, uint32_t rel, uint32_t len, int flip)
{
    uint32_t seq = (flags & CP_TCP_SYN) ? t->sisn + rel : t->pisn + rel;
    g_autoptr(GByteArray) b = tcp(t, &t->vm, seq, flags, rel, len, flip,
                                  0xffff);

    colo_cmp_secondary(t->c, b->data, b->len, 0, t->now);
}

static void S(T *t, uint8_t flags, uint32_t rel, uint32_t len)
{
    S_flip(t, flags, rel, len, -1);
}

static void expect(T *t, const char *released, ColoCmpReason why,
                   unsigned n)
{
    g_assert_cmpstr(t->released->str, ==, released);
    for (int i = 0; i < COLO_CMP_REASON__MAX; i++) {
        g_assert_cmpuint(t->requests[i], ==, i == why ? n : 0);
    }
}

#define NONE COLO_CMP_REASON__MAX
#define SA (CP_TCP_SYN | CP_TCP_ACK)
#define A CP_TCP_ACK
#define PA (CP_TCP_PSH | CP_TCP_ACK)
#define FA (CP_TCP_FIN | CP_TCP_ACK)
#define RA (CP_TCP_RST | CP_TCP_ACK)

/* Each case: a handshake, then its script.  Offsets start at 1. */
static void handshake(T *t)
{
    P(t, 1, SA, 0, 0);
    S(t, SA, 0, 0);
}

static void case_split_1_1(T *t)
{
    handshake(t);
    P(t, 2, PA, 1, 2);
    S(t, PA, 1, 1);
    S(t, PA, 2, 1);
    expect(t, "1 2 ", NONE, 0);
}

static void case_3000_vs_1460s(T *t)
{
    handshake(t);
    P(t, 2, PA, 1, 3000);
    S(t, A, 1, 1460);
    S(t, A, 1461, 1460);
    expect(t, "1 ", NONE, 0);
    S(t, PA, 2921, 80);
    expect(t, "1 2 ", NONE, 0);
}

static void case_1460s_vs_3000(T *t)
{
    handshake(t);
    P(t, 2, A, 1, 1460);
    P(t, 3, A, 1461, 1460);
    P(t, 4, PA, 2921, 80);
    S(t, PA, 1, 3000);
    expect(t, "1 2 3 4 ", NONE, 0);
}

static void case_overlap(T *t)
{
    handshake(t);
    S(t, A, 1, 100);
    S(t, A, 50, 150);
    P(t, 2, A, 1, 199);
    expect(t, "1 2 ", NONE, 0);
}

static void case_retransmit(T *t)
{
    handshake(t);
    P(t, 2, A, 1, 100);
    S(t, A, 1, 100);
    P(t, 3, A, 1, 100);         /* the primary resends: already matched */
    S(t, A, 1, 100);            /* and so does the secondary */
    P(t, 4, A, 101, 10);
    S(t, A, 101, 10);
    expect(t, "1 2 3 4 ", NONE, 0);
}

static void case_reorder(T *t)
{
    handshake(t);
    S(t, A, 101, 100);
    S(t, A, 1, 100);
    P(t, 3, A, 101, 100);
    P(t, 2, A, 1, 100);
    /* released in the order the primary sent them, once both are there */
    expect(t, "1 3 2 ", NONE, 0);
}

static void case_flipped(T *t)
{
    handshake(t);
    P(t, 2, PA, 1, 500);
    S_flip(t, PA, 1, 500, 250);
    expect(t, "1 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
    /* more of the same connection is held too, without more requests */
    P(t, 3, PA, 501, 10);
    S(t, PA, 501, 10);
    expect(t, "1 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
    g_assert_cmpuint(colo_cmp_held_frames(t->c), ==, 2);
    colo_cmp_checkpoint(t->c);
    expect(t, "1 2 3 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
    /* compared again from the primary's snd_nxt on */
    P(t, 4, PA, 511, 5);
    S(t, PA, 511, 5);
    expect(t, "1 2 3 4 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
}

static void case_missing_tail(T *t)
{
    handshake(t);
    P(t, 2, PA, 1, 100);
    S(t, PA, 1, 60);
    expect(t, "1 ", NONE, 0);
    t->now += 999;
    colo_cmp_tick(t->c, t->now);
    expect(t, "1 ", NONE, 0);
    t->now += 1;
    colo_cmp_tick(t->c, t->now);
    expect(t, "1 ", COLO_CMP_TIMEOUT, 1);
    colo_cmp_tick(t->c, t->now);
    expect(t, "1 ", COLO_CMP_TIMEOUT, 1);
    t->now += 1000;
    colo_cmp_tick(t->c, t->now);   /* no checkpoint came: asked again */
    expect(t, "1 ", COLO_CMP_TIMEOUT, 2);
}

/* The secondary's segment runs past the primary's: the rest is kept. */
static void case_svm_past_pvm(T *t)
{
    handshake(t);
    P(t, 2, PA, 1, 100);
    S(t, PA, 1, 150);
    expect(t, "1 2 ", NONE, 0);
    P(t, 3, PA, 101, 30);
    expect(t, "1 2 3 ", NONE, 0);
    P(t, 4, PA, 131, 20);
    S(t, PA, 151, 10);
    expect(t, "1 2 3 4 ", NONE, 0);
    /* a difference in the part that was kept */
    P(t, 5, PA, 151, 5);
    expect(t, "1 2 3 4 5 ", NONE, 0);
    S_flip(t, PA, 161, 20, 15);
    P(t, 6, PA, 156, 25);
    expect(t, "1 2 3 4 5 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
}

/* The secondary ahead: the primary's frames go at once, or wait. */
static void case_svm_first(T *t)
{
    handshake(t);
    S(t, PA, 1, 100);
    S(t, PA, 101, 50);
    P(t, 2, PA, 1, 120);        /* covered by both segments */
    expect(t, "1 2 ", NONE, 0);
    P(t, 3, PA, 121, 40);       /* only 30 of it so far: held */
    expect(t, "1 2 ", NONE, 0);
    S(t, PA, 151, 10);
    expect(t, "1 2 3 ", NONE, 0);
    P(t, 4, A, 161, 0);         /* a bare ACK */
    P(t, 5, PA, 1, 100);        /* a retransmission */
    expect(t, "1 2 3 4 5 ", NONE, 0);
    S_flip(t, PA, 161, 20, 5);
    P(t, 6, PA, 161, 20);       /* covered, but not the same */
    expect(t, "1 2 3 4 5 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
}

static void case_fin_same(T *t)
{
    handshake(t);
    P(t, 2, PA, 1, 10);
    P(t, 3, FA, 11, 0);
    S(t, PA | CP_TCP_FIN, 1, 10);
    expect(t, "1 2 3 ", NONE, 0);
}

static void case_fin_early(T *t)
{
    handshake(t);
    P(t, 2, PA | CP_TCP_FIN, 1, 5);
    S(t, PA, 1, 10);
    expect(t, "1 ", COLO_CMP_MISMATCH_FLAGS, 1);
}

static void case_fin_late(T *t)
{
    handshake(t);
    S(t, FA, 1, 5);
    P(t, 2, PA, 1, 10);
    expect(t, "1 ", COLO_CMP_MISMATCH_FLAGS, 1);
}

static void case_rst(T *t)
{
    handshake(t);
    P(t, 2, RA, 1, 0);
    expect(t, "1 ", NONE, 0);
    S(t, RA, 1, 0);
    expect(t, "1 2 ", NONE, 0);
}

/* An RST against a FIN is a difference at once, not after a timeout. */
static void case_rst_vs_fin(T *t)
{
    handshake(t);
    P(t, 2, FA, 1, 0);
    S(t, RA, 1, 0);
    expect(t, "1 ", COLO_CMP_MISMATCH_FLAGS, 1);
}

/* An RST's place and payload are compared like the rest of the stream. */
static void case_rst_payload(T *t)
{
    handshake(t);
    P(t, 2, RA, 1, 8);
    S_flip(t, RA, 1, 8, 5);
    expect(t, "1 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
}

static void case_rst_same_payload(T *t)
{
    handshake(t);
    P(t, 2, RA, 1, 8);
    S(t, RA, 1, 8);
    expect(t, "1 2 ", NONE, 0);
}

static void case_rst_place(T *t)
{
    handshake(t);
    P(t, 2, PA, 1, 4);
    S(t, PA, 1, 4);
    P(t, 3, RA, 5, 0);
    S(t, RA, 1, 0);
    expect(t, "1 2 ", COLO_CMP_MISMATCH_FLAGS, 1);
}

static void case_pure_ack(T *t)
{
    handshake(t);
    P(t, 2, A, 1, 0);
    P(t, 3, A, 1, 0);
    expect(t, "1 2 3 ", NONE, 0);
}

/* Frame @id of the primary (or the secondary's, id 0xffff) acking @ack. */
static void send_ack(T *t, bool primary, uint16_t id, uint8_t flags,
                     uint32_t rel, uint32_t len, uint32_t ack)
{
    g_autoptr(GByteArray) b = tcp(t, &t->vm, t->pisn + rel, flags, rel, len,
                                  -1, id);
    ColoPacket p;

    colo_packet_parse(b->data, b->len, &p);
    stl_be_p(b->data + p.l4_off + 8, ack);
    if (primary) {
        colo_cmp_primary(t->c, b->data, b->len, 0, 0, t->now);
    } else {
        colo_cmp_secondary(t->c, b->data, b->len, 0, t->now);
    }
}

/*
 * The primary's ack may not run ahead of the secondary's: the client
 * would take bytes for received that the secondary never got (a frame
 * that reached the primary's guest only), and a failover would lose
 * them.  Pure ACKs and data alike wait, at the client's numbers around
 * the wrap too; a checkpoint releases them and makes the secondary a
 * copy that holds what the primary acked.
 */
static void case_ack_ahead(T *t)
{
    uint32_t c0 = UINT32_MAX - 50 + t->pisn % 7;

    handshake(t);
    send_ack(t, true, 2, A, 1, 0, c0 + 100);
    expect(t, "1 ", NONE, 0);
    send_ack(t, false, 0, A, 1, 0, c0 + 60);
    expect(t, "1 ", NONE, 0);
    send_ack(t, false, 0, A, 1, 0, c0 + 100);
    expect(t, "1 2 ", NONE, 0);
    /* the same bytes, but the primary acks more with them */
    send_ack(t, false, 0, PA, 1, 10, c0 + 100);
    send_ack(t, true, 3, PA, 1, 10, c0 + 200);
    expect(t, "1 2 ", NONE, 0);
    t->now += 2000;
    colo_cmp_tick(t->c, t->now);
    expect(t, "1 2 ", COLO_CMP_TIMEOUT, 1);
    colo_cmp_checkpoint(t->c);
    expect(t, "1 2 3 ", COLO_CMP_TIMEOUT, 1);
    send_ack(t, true, 4, A, 11, 0, c0 + 200);
    expect(t, "1 2 3 4 ", COLO_CMP_TIMEOUT, 1);
}

static void case_syn_flags(T *t)
{
    P(t, 1, SA, 0, 0);
    S(t, CP_TCP_SYN, 0, 0);
    expect(t, "", COLO_CMP_MISMATCH_FLAGS, 1);
}

/*
 * The secondary's FIN, sent before a checkpoint, arrives after it: the
 * stream up to there is settled, the primary's next ACK goes out.
 */
static void case_stale_fin(T *t)
{
    handshake(t);
    P(t, 2, FA, 1, 10);
    S(t, PA, 1, 4);
    colo_cmp_checkpoint(t->c);
    expect(t, "1 2 ", NONE, 0);
    S(t, FA, 5, 6);             /* late: before the checkpoint */
    P(t, 3, A, 12, 0);
    P(t, 4, FA, 1, 10);         /* a retransmission of the settled FIN */
    expect(t, "1 2 3 4 ", NONE, 0);
}

/* A connection the proxy first sees mid-stream (after a checkpoint). */
static void case_midstream(T *t)
{
    S(t, A, 1000, 10);
    P(t, 1, A, 1000, 20);
    S(t, A, 1010, 10);
    expect(t, "1 ", NONE, 0);
}

/*
 * A checkpoint right after the SYN: compared again from the first byte
 * of data, not from the one after it.
 */
static void case_syn_checkpoint(T *t)
{
    handshake(t);
    colo_cmp_checkpoint(t->c);
    P(t, 2, PA, 1, 10);
    S_flip(t, PA, 1, 10, 0);
    expect(t, "1 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
}

typedef void Case(T *t);

static void run_case(const void *opaque)
{
    Case *fn = (Case *)opaque;

    for (size_t i = 0; i < G_N_ELEMENTS(isns); i++) {
        T t;

        t_init(&t, isns[i], isns[(i + 1) % G_N_ELEMENTS(isns)] ^ 0x5a5a,
               NULL);
        fn(&t);
        t_free(&t);
    }
}

/* ---- HTTP Date fields ---- */

/*
 * ISNs that put the 2^32 wrap before the stream, inside the first
 * response's Date value and inside the second response.
 */
static const uint32_t http_isns[] = {
    0, UINT32_MAX, UINT32_MAX - 39, UINT32_MAX - 130
};

/* The default limits, with HTTP Dates on ports 8080 and 80. */
static ColoCmpLimits http_limits_get(void)
{
    ColoCmpLimits lim = default_limits;

    lim.http_date_ports[0] = 8080;
    lim.http_date_ports[1] = 80;
    lim.http_date_window = 5;
    return lim;
}

#define D1 "Tue, 01 Dec 2026 05:57:13 GMT"
#define D2 "Tue, 01 Dec 2026 05:57:14 GMT"
#define D7 "Tue, 01 Dec 2026 05:57:20 GMT"
#define D9 "Tue, 01 Dec 2026 05:57:22 GMT"
#define R200 "HTTP/1.1 200 OK\r\n"
#define RESP(d, body) R200 "Date: " d "\r\nContent-Length: 5\r\n\r\n" body

/* Stream bytes [@from, @from + @len) of @s, as frame @id of a side. */
static void text(T *t, bool pvm, uint16_t id, const char *s, size_t from,
                 size_t len)
{
    g_autoptr(GByteArray) b = cp_frame_tcp(&t->vm, t->pisn + 1 + from, 1, PA,
                                           (const uint8_t *)s + from, len);

    stw_be_p(id_field(b->data), pvm ? id : 0xffff);
    if (pvm) {
        colo_cmp_primary(t->c, b->data, b->len, 0, 0, t->now);
    } else {
        colo_cmp_secondary(t->c, b->data, b->len, 0, t->now);
    }
}

/*
 * All of @s in segments of @step bytes from frame @id on, in order or
 * the last first; the released list they make, appended to @ids.
 */
static void text_split(T *t, bool pvm, uint16_t id, const char *s,
                       size_t step, bool reverse, GString *ids)
{
    size_t len = strlen(s), n = DIV_ROUND_UP(len, step);

    for (size_t i = 0; i < n; i++) {
        size_t k = reverse ? n - 1 - i : i;

        text(t, pvm, id + k, s, k * step, MIN(step, len - k * step));
    }
    for (size_t k = 0; ids && k < n; k++) {
        /* released in the order sent, once all before them matched */
        g_string_append_printf(ids, "%zu ", id + (reverse ? n - 1 - k : k));
    }
}

typedef struct HttpCase {
    const char *pvm;
    const char *svm;
    size_t pvm_step, svm_step;
    bool svm_first, svm_reverse;
    uint16_t port;              /* the guest's; 80 if 0 */
    bool pvm_reverse;
    bool off;                   /* default limits: the rule is off */
    unsigned equal;             /* Date fields treated as equal */
    bool pass;                  /* all released, no checkpoint asked for */
} HttpCase;

static const HttpCase http_cases[] = {
    /* equal but for the dates, whatever the segments and their order */
    { RESP(D1, "hello"), RESP(D2, "hello"), 1000, 1000, .equal = 1,
      .pass = true },
    { RESP(D2, "hello"), RESP(D1, "hello"), 7, 5, .equal = 1, .pass = true },
    { RESP(D1, "hello"), RESP(D2, "hello"), 3, 11, true, true, .equal = 1,
      .pass = true },
    { RESP(D1, "hello"), RESP(D2, "hello"), 2, 1, false, true, .equal = 1,
      .pass = true },
    { RESP(D1, "hello"), RESP(D2, "hello"), 9, 4, true, true,
      .pvm_reverse = true, .equal = 1, .pass = true },
    /* pipelined, HTTP/1.0, port 8080 */
    { RESP(D1, "hello") RESP(D9, "world"), RESP(D2, "hello") RESP(D7, "world"),
      13, 17, .equal = 2, .pass = true },
    { "HTTP/1.0 200 OK\r\nDate: " D1 "\r\n\r\nbody",
      "HTTP/1.0 200 OK\r\nDate: " D2 "\r\n\r\nbody", 9, 4, .equal = 1,
      .pass = true },
    { RESP(D1, "hello"), RESP(D2, "hello"), 6, 6, .port = 8080, .equal = 1,
      .pass = true },
    /* a byte of the body, past the window, invalid, another length */
    { RESP(D1, "hello"), RESP(D2, "hellO"), 1000, 1000, .equal = 1 },
    { RESP(D1, "hello"), RESP(D9, "hello"), 1000, 1000 },
    { RESP(D1, "hello"), RESP("Tue, 01 Dec 2026 05:57:1x GMT", "hello"),
      1000, 1000 },
    { RESP(D1, "hello"), RESP("Tue, 1 Dec 2026 05:57:14 GMT", "hello"),
      1000, 1000 },
    /* off by default and on other ports */
    { RESP(D1, "hello"), RESP(D2, "hello"), 1000, 1000, .off = true },
    { RESP(D1, "hello"), RESP(D2, "hello"), 1000, 1000, .port = 81 },
    /* "Date:" in a chunk, in a body to the end, in no HTTP at all */
    { R200 "Transfer-Encoding: chunked\r\n\r\n27\r\n\r\nDate: " D1 "\r\n"
      "\r\n0\r\n\r\n",
      R200 "Transfer-Encoding: chunked\r\n\r\n27\r\n\r\nDate: " D2 "\r\n"
      "\r\n0\r\n\r\n", 10, 10 },
    { "HTTP/1.0 200 OK\r\n\r\nHTTP/1.0 200 OK\r\nDate: " D1 "\r\n",
      "HTTP/1.0 200 OK\r\n\r\nHTTP/1.0 200 OK\r\nDate: " D2 "\r\n",
      1000, 1000 },
    { "+OK\r\nDate: " D1 "\r\n", "+OK\r\nDate: " D2 "\r\n", 1000, 1000 },
};

/*
 * Each side's stream in segments; all released with no request if the
 * two differ only in Date values treated as equal, else one
 * mismatch-payload request.
 */
static void run_http_case(const void *opaque)
{
    const HttpCase *hc = opaque;
    ColoCmpLimits lim = http_limits_get();

    for (size_t i = 0; i < G_N_ELEMENTS(http_isns); i++) {
        g_autoptr(GString) ids = g_string_new("1 ");
        T t;

        t_init(&t, http_isns[i], http_isns[i] ^ 0x5a5a,
               hc->off ? NULL : &lim);
        if (hc->port) {
            t.vm = cp_flow(false, 0, hc->port, 40000);
        }
        handshake(&t);
        if (hc->svm_first) {
            text_split(&t, false, 0, hc->svm, hc->svm_step, hc->svm_reverse,
                       NULL);
        }
        text_split(&t, true, 2, hc->pvm, hc->pvm_step, hc->pvm_reverse, ids);
        if (!hc->svm_first) {
            text_split(&t, false, 0, hc->svm, hc->svm_step, hc->svm_reverse,
                       NULL);
        }
        g_assert_cmpuint(colo_cmp_stats(t.c)->http_date_equal, ==,
                         hc->equal);
        if (hc->pass) {
            expect(&t, ids->str, NONE, 0);
        } else {
            g_assert_cmpuint(t.requests[COLO_CMP_MISMATCH_PAYLOAD], ==, 1);
        }
        t_free(&t);
    }
}

/*
 * A checkpoint inside a response's header section: the parser reads what
 * it releases, and the next response's Date may differ.
 */
static void test_http_checkpoint(void)
{
    static const char r1[] = RESP(D1, "hello");
    static const char r2[] = RESP(D1, "world");
    static const char r2s[] = RESP(D2, "world");
    ColoCmpLimits lim = http_limits_get();

    for (size_t i = 0; i < G_N_ELEMENTS(http_isns); i++) {
        T t;

        t_init(&t, http_isns[i], http_isns[i] ^ 0x5a5a, &lim);
        handshake(&t);
        text(&t, true, 2, r1, 0, 10);
        colo_cmp_checkpoint(t.c);
        text(&t, true, 3, r1, 10, strlen(r1) - 10);
        text(&t, false, 0, r1, 10, strlen(r1) - 10);
        t.pisn += strlen(r1);
        text(&t, true, 4, r2, 0, strlen(r2));
        text(&t, false, 0, r2s, 0, strlen(r2s));
        expect(&t, "1 2 3 4 ", NONE, 0);
        g_assert_cmpuint(colo_cmp_stats(t.c)->http_date_equal, ==, 1);
        t_free(&t);
    }
}

/* A response to what may be a HEAD request: its Date must be the same. */
static void test_http_head(void)
{
    static const char req[] = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char r[] = RESP(D1, ""), rs[] = RESP(D2, "");
    ColoCmpLimits lim = http_limits_get();

    for (size_t i = 0; i < G_N_ELEMENTS(http_isns); i++) {
        g_autoptr(GByteArray) b = NULL;
        CpFlow client;
        T t;

        t_init(&t, http_isns[i], http_isns[i] ^ 0x5a5a, &lim);
        client = cp_flow_reverse(&t.vm);
        handshake(&t);
        b = cp_frame_tcp(&client, 1, t.pisn + 1, PA, req, strlen(req));
        colo_cmp_ingress(t.c, b->data, b->len, 0, t.now);
        text(&t, true, 2, r, 0, strlen(r));
        text(&t, false, 0, rs, 0, strlen(rs));
        expect(&t, "1 ", COLO_CMP_MISMATCH_PAYLOAD, 1);
        t_free(&t);
    }
}

/* One side's Date value comes only in part: held until the timeout. */
static void test_http_undecided(void)
{
    static const char r[] = RESP(D1, "hello"), rs[] = RESP(D2, "hello");
    ColoCmpLimits lim = http_limits_get();

    for (size_t i = 0; i < G_N_ELEMENTS(http_isns); i++) {
        T t;

        t_init(&t, http_isns[i], http_isns[i] ^ 0x5a5a, &lim);
        handshake(&t);
        text(&t, true, 2, r, 0, strlen(r));
        text(&t, false, 0, rs, 0, 40);
        expect(&t, "1 ", NONE, 0);
        t.now += lim.timeout_ns;
        colo_cmp_tick(t.c, t.now);
        g_assert_cmpstr(t.released->str, ==, "1 ");
        g_assert_cmpuint(colo_cmp_stats(t.c)->requests[COLO_CMP_TIMEOUT] +
                         colo_cmp_stats(t.c)->requests[COLO_CMP_SECONDARY_ONLY],
                         ==, 1);
        t_free(&t);
    }
}

/* ---- datagrams, whole frames, IPv6, VLAN ---- */

static void send_frame(T *t, bool primary, GByteArray *b, uint16_t id)
{
    if (primary) {
        colo_cmp_primary(t->c, b->data, b->len, 0, 0, t->now);
    } else {
        colo_cmp_secondary(t->c, b->data, b->len, 0, t->now);
    }
    g_byte_array_unref(b);
    (void)id;
}

static GByteArray *udp(const CpFlow *f, const char *s, uint16_t id,
                       uint8_t ttl)
{
    GByteArray *b = cp_frame_udp(f, s, strlen(s));
    size_t ip = 14 + (f->vlan ? 4 : 0);

    stw_be_p(id_field(b->data), id);
    /* TTL or hop limit; the IPv4 checksum is now stale, as it may be */
    b->data[ip + (f->ipv6 ? 7 : 8)] = ttl;
    return b;
}

static void test_udp(void)
{
    CpFlow f = cp_flow(false, 0, 53, 5353);
    T t;

    t_init(&t, 0, 0, NULL);
    /* IP ID, TTL and checksum differ, the payload does not */
    send_frame(&t, true, udp(&f, "one", 1, 64), 1);
    send_frame(&t, true, udp(&f, "two", 2, 64), 2);
    send_frame(&t, false, udp(&f, "one", 77, 63), 0);
    expect(&t, "1 ", NONE, 0);
    send_frame(&t, false, udp(&f, "two", 78, 63), 0);
    expect(&t, "1 2 ", NONE, 0);
    /* out of order is a difference */
    send_frame(&t, true, udp(&f, "three", 3, 64), 3);
    send_frame(&t, true, udp(&f, "four", 4, 64), 4);
    send_frame(&t, false, udp(&f, "four", 5, 64), 0);
    expect(&t, "1 2 ", COLO_CMP_MISMATCH_FRAME, 1);
    t_free(&t);
}

/* Each kind compared: identical passes, a changed byte requests. */
static void check_kind(GByteArray *(*make)(bool variant, uint16_t id),
                       bool malformed)
{
    T t;

    /* frames compared whole have their id compared too: pair equal ids */
    t_init(&t, 0, 0, NULL);
    send_frame(&t, true, make(false, 1), 1);
    send_frame(&t, false, make(false, 1), 0);
    expect(&t, "1 ", NONE, 0);
    send_frame(&t, true, make(false, 2), 2);
    send_frame(&t, false, make(true, 2), 0);
    expect(&t, "1 ", COLO_CMP_MISMATCH_FRAME, 1);
    g_assert_cmpuint(colo_cmp_stats(t.c)->malformed, ==, malformed ? 4 : 0);
    t_free(&t);
}

static GByteArray *make_udp6_vlan(bool variant, uint16_t id)
{
    CpFlow f = cp_flow(true, 12, 1000, 2000);

    return udp(&f, variant ? "payloaD" : "payload", id, 64);
}

static GByteArray *make_icmp(bool variant, uint16_t id)
{
    CpFlow f = cp_flow(false, 0, 0, 0);
    GByteArray *b = cp_frame_udp(&f, variant ? "pong!" : "ping!", 5);

    b->data[14 + 9] = 1;            /* ICMP: the whole message compared */
    stw_be_p(id_field(b->data), id);
    return b;
}

static GByteArray *make_arp(bool variant, uint16_t id)
{
    CpFlow f = cp_flow(false, 0, 0, 0);
    GByteArray *b = cp_frame_arp_request(&f);

    b->data[b->len - 1] ^= variant;
    /* no IP ID in ARP: the id goes where the tests look for it */
    stw_be_p(id_field(b->data), id);
    return b;
}

static GByteArray *make_fragment(bool variant, uint16_t id)
{
    CpFlow f = cp_flow(false, 0, 1, 2);
    GByteArray *b = cp_frame_udp(&f, variant ? "fragmenT" : "fragment", 8);

    b->data[14 + 6] = 0x20;         /* MF */
    stw_be_p(id_field(b->data), id);
    return b;
}

static GByteArray *make_malformed(bool variant, uint16_t id)
{
    CpFlow f = cp_flow(false, 0, 1, 2);
    GByteArray *b = cp_frame_tcp(&f, 1, 1, CP_TCP_ACK, "data", 4);

    b->data[14 + 20 + 12] = 0x40;   /* data offset 4: malformed */
    b->data[b->len - 1] ^= variant;
    stw_be_p(id_field(b->data), id);
    return b;
}

static void test_kinds(void)
{
    check_kind(make_udp6_vlan, false);
    check_kind(make_icmp, false);
    check_kind(make_arp, false);
    check_kind(make_fragment, false);
    check_kind(make_malformed, true);
}

/* TCP over IPv6 with a VLAN tag, compared as a stream like IPv4. */
static void test_tcp6_vlan(void)
{
    T t;

    t_init(&t, UINT32_MAX - 3, 77, NULL);
    t.vm = cp_flow(true, 100, 40000, 443);
    t.vm = cp_flow_reverse(&t.vm);
    P(&t, 1, SA, 0, 0);
    S(&t, SA, 0, 0);
    P(&t, 2, PA, 1, 1000);
    S(&t, PA, 1, 400);
    S(&t, PA, 401, 600);
    expect(&t, "1 2 ", NONE, 0);
    g_assert_cmpuint(colo_cmp_stats(t.c)->matched_bytes, ==, 1000);
    t_free(&t);
}

/* ---- bounds ---- */

static void test_bound_conn(void)
{
    ColoCmpLimits lim = default_limits;
    T t;

    lim.conn_frames = 4;
    t_init(&t, 0, 0, &lim);
    handshake(&t);
    for (int i = 0; i < 5; i++) {
        P(&t, 2 + i, PA, 1 + i, 1);
    }
    expect(&t, "1 ", COLO_CMP_QUEUE_CONN, 1);
    for (int i = 5; i < 9; i++) {
        P(&t, 2 + i, PA, 1 + i, 1);
    }
    /* past twice the bound the oldest goes out: nothing is dropped */
    expect(&t, "1 2 ", COLO_CMP_QUEUE_CONN, 1);
    g_assert_cmpuint(colo_cmp_held_frames(t.c), ==, 8);
    g_assert_cmpuint(colo_cmp_stats(t.c)->released_forced, ==, 1);
    t_free(&t);
}

static void test_bound_total(void)
{
    ColoCmpLimits lim = default_limits;
    T t;

    lim.total_frames = 3;
    t_init(&t, 0, 0, &lim);
    for (int i = 0; i < 7; i++) {
        CpFlow f = cp_flow(false, 0, 1000 + i, 53);

        send_frame(&t, true, udp(&f, "q", 10 + i, 64), 0);
    }
    expect(&t, "10 ", COLO_CMP_QUEUE_TOTAL, 1);
    t_free(&t);
}

/* What one secondary segment of @len bytes, kept, costs in memory. */
static uint64_t svm_cost(uint32_t len)
{
    T t;
    uint64_t cost;

    t_init(&t, 5, 6, &default_limits);
    handshake(&t);
    S(&t, PA, 1, len);
    cost = colo_cmp_svm_bytes(t.c);
    t_free(&t);
    return cost;
}

static void test_bound_svm(void)
{
    ColoCmpLimits lim = default_limits;
    T t;

    lim.svm_bytes = 2 * svm_cost(60) - 1;
    t_init(&t, 5, 6, &lim);
    handshake(&t);
    S(&t, PA, 1, 60);
    S(&t, PA, 61, 60);
    expect(&t, "1 ", COLO_CMP_SECONDARY_AHEAD, 1);
    t_free(&t);
}

/*
 * What the secondary's output costs is its memory, not its payload: a
 * one-byte segment costs more than a hundred bytes, an empty datagram
 * is not free.
 */
static void test_bound_svm_cost(void)
{
    T t;
    CpFlow f = cp_flow(false, 0, 2000, 53);

    g_assert_cmpuint(svm_cost(1), >, 100);
    t_init(&t, 5, 6, &default_limits);
    send_frame(&t, false, udp(&f, "", 7, 64), 0);
    g_assert_cmpuint(colo_cmp_svm_bytes(t.c), >, 0);
    t_free(&t);
}

/*
 * The secondary's kept output has a bound over all connections: a fake
 * secondary running ahead on many connections at once cannot make the
 * primary keep max-ahead for each of them.
 */
static void test_bound_svm_total(void)
{
    ColoCmpLimits lim = default_limits;
    T t;

    lim.svm_total = 3 * svm_cost(1);
    t_init(&t, 5, 6, &lim);
    for (int i = 0; i < 4; i++) {
        t.vm = cp_flow(false, 0, 3000 + i, 80);
        t.vm = cp_flow_reverse(&t.vm);
        handshake(&t);
        S(&t, PA, 1, 1);
    }
    g_assert_cmpuint(t.requests[COLO_CMP_SECONDARY_TOTAL], ==, 1);
    g_assert_cmpuint(colo_cmp_svm_bytes(t.c), <=, lim.svm_total);
    colo_cmp_checkpoint(t.c);
    g_assert_cmpuint(colo_cmp_svm_bytes(t.c), ==, 0);
    t_free(&t);
}

/*
 * A full table evicts; what an evicted connection held goes out first,
 * unmatched: a checkpoint is asked for, once until the next one.
 */
static void test_evict(void)
{
    ColoCmpLimits lim = default_limits;
    T t;

    lim.max_conns = 16;
    t_init(&t, 0, 0, &lim);
    for (int i = 0; i < 20; i++) {
        CpFlow f = cp_flow(false, 0, 2000 + i, 53);

        send_frame(&t, true, udp(&f, "q", 100 + i, 64), 0);
        t.now++;
    }
    expect(&t, "100 101 102 103 ", COLO_CMP_EVICTED, 1);
    g_assert_cmpuint(colo_cmp_conns(t.c), ==, 16);
    g_assert_cmpuint(colo_cmp_stats(t.c)->evictions, ==, 4);
    /*
     * The checkpoint releases the 16 held: evicting those connections
     * then asks for nothing; after them, one that holds asks again.
     */
    colo_cmp_checkpoint(t.c);
    for (int i = 0; i < 16; i++) {
        CpFlow f = cp_flow(false, 0, 3000 + i, 53);

        send_frame(&t, true, udp(&f, "q", 200 + i, 64), 0);
        t.now++;
    }
    g_assert_cmpuint(t.requests[COLO_CMP_EVICTED], ==, 1);
    {
        CpFlow f = cp_flow(false, 0, 4000, 53);

        send_frame(&t, true, udp(&f, "q", 300, 64), 0);
    }
    g_assert_cmpuint(t.requests[COLO_CMP_EVICTED], ==, 2);
    g_assert_cmpuint(colo_cmp_stats(t.c)->evictions, ==, 21);
    t_free(&t);
}

/*
 * The client's frame, to the guest: seq @seq, ack @ack (relative to the
 * primary's ISN).
 */
static void C(T *t, uint8_t flags, uint32_t seq, uint32_t ack)
{
    CpFlow cl = cp_flow_reverse(&t->vm);
    g_autoptr(GByteArray) b = cp_frame_tcp(&cl, seq, t->pisn + ack, flags,
                                           NULL, 0);

    colo_cmp_ingress(t->c, b->data, b->len, 0, t->now);
}

/*
 * A connection is closed once both FINs are acked (the guest acks with
 * 1: the client's FIN sits at 0), then forgotten after the grace; the
 * guest's FIN alone (a half-close) does not end it.
 */
static void test_reap(void)
{
    T t;

    t_init(&t, 10, 20, NULL);
    handshake(&t);
    P(&t, 2, FA, 1, 0);
    S(&t, FA, 1, 0);
    expect(&t, "1 2 ", NONE, 0);
    t.now += 10000;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(colo_cmp_conns(t.c), ==, 1);
    C(&t, FA, 0, 2);
    P(&t, 3, A, 2, 0);
    S(&t, A, 2, 0);
    expect(&t, "1 2 3 ", NONE, 0);
    g_assert_cmpuint(colo_cmp_conns(t.c), ==, 1);
    t.now += 4999;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(colo_cmp_conns(t.c), ==, 1);
    t.now += 1;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(colo_cmp_conns(t.c), ==, 0);
    t_free(&t);
}

/*
 * A 5-tuple reused with new ISNs, higher and lower, after a close: the
 * new connection is compared from scratch.  Its SYN-ACK waits for the
 * secondary's, what the secondary still sends of the old connection is
 * dropped, and a difference in the new one's data is found.
 */
static void test_reuse(void)
{
    static const uint32_t next[][2] = {
        { 0x10000, 0x50000 }, { 0xfff00000, 0x5 },
    };
    T t;

    t_init(&t, 0x80000000, 0x1234, NULL);
    for (int i = 0; i < G_N_ELEMENTS(next); i++) {
        uint16_t id = 10 * (i + 1);
        g_autofree char *want = NULL;

        g_string_truncate(t.released, 0);
        handshake(&t);
        P(&t, id, PA, 1, 10);
        S(&t, PA, 1, 10);
        P(&t, id + 1, FA, 11, 0);
        S(&t, FA, 11, 0);
        C(&t, FA, 0, 12);
        P(&t, id + 2, A, 12, 0);
        want = g_strdup_printf("1 %u %u %u ", id, id + 1, id + 2);
        g_assert_cmpstr(t.released->str, ==, want);
        g_free(want);
        g_string_truncate(t.released, 0);
        t.pisn += next[i][0];
        t.sisn += next[i][1];
        C(&t, CP_TCP_SYN, 5000, 0);
        P(&t, id + 3, SA, 0, 0);
        g_assert_cmpstr(t.released->str, ==, "");
        /* the old connection's last ACK, late */
        S(&t, A, 12 - next[i][0], 0);
        S(&t, SA, 0, 0);
        want = g_strdup_printf("%u ", id + 3);
        g_assert_cmpstr(t.released->str, ==, want);
        P(&t, id + 4, PA, 1, 20);
        S_flip(&t, PA, 1, 20, 3);
        g_assert_cmpstr(t.released->str, ==, want);
        g_assert_cmpuint(t.requests[COLO_CMP_MISMATCH_PAYLOAD], ==, i + 1);
        colo_cmp_checkpoint(t.c);
    }
    g_assert_cmpuint(t.requests[COLO_CMP_MISMATCH_FLAGS], ==, 0);
    t_free(&t);
}

/* TCP output only the secondary sends asks for a checkpoint after a timeout. */
static void test_secondary_only(void)
{
    CpFlow f = cp_flow(false, 0, 53, 5353);
    T t;

    t_init(&t, 100, 200, NULL);
    /* a datagram waits to be paired: timer-driven ones come early */
    send_frame(&t, false, udp(&f, "only-svm", 1, 64), 0);
    t.now += 5000;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(t.requests[COLO_CMP_SECONDARY_ONLY], ==, 0);
    send_frame(&t, true, udp(&f, "only-svm", 1, 64), 1);
    expect(&t, "1 ", NONE, 0);

    /* TCP: bytes only the secondary sends, past the timeout */
    t.vm = cp_flow(false, 0, 80, 1000);
    handshake(&t);
    S(&t, PA, 1, 5);
    t.now += 999;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(t.requests[COLO_CMP_SECONDARY_ONLY], ==, 0);
    t.now += 1;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(t.requests[COLO_CMP_SECONDARY_ONLY], ==, 1);

    /* TCP bytes the primary never sends */
    t.vm = cp_flow(false, 0, 80, 1001);
    handshake(&t);
    S(&t, PA, 1, 5);
    t.now += 1000;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(t.requests[COLO_CMP_SECONDARY_ONLY], ==, 2);

    /* a FIN the primary never sends */
    t.vm = cp_flow(false, 0, 80, 1002);
    handshake(&t);
    P(&t, 2, PA, 1, 5);
    S(&t, PA, 1, 5);
    S(&t, FA, 6, 0);
    t.now += 1000;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(t.requests[COLO_CMP_SECONDARY_ONLY], ==, 3);

    /* what the primary matches in time is no divergence */
    t.vm = cp_flow(false, 0, 80, 1003);
    handshake(&t);
    S(&t, PA, 1, 5);
    t.now += 500;
    colo_cmp_tick(t.c, t.now);
    P(&t, 3, PA, 1, 5);
    t.now += 1000;
    colo_cmp_tick(t.c, t.now);
    g_assert_cmpuint(t.requests[COLO_CMP_SECONDARY_ONLY], ==, 3);
    g_assert_cmpuint(t.requests[COLO_CMP_TIMEOUT], ==, 0);
    t_free(&t);
}

static GByteArray *arp(const CpFlow *f, uint16_t op, uint16_t id)
{
    GByteArray *b = cp_frame_arp_request(f);

    stw_be_p(b->data + 14 + 6, op);
    /* the id in the target hardware address, which is not keyed on */
    stw_be_p(b->data + 14 + 18, id);
    return b;
}

static void on_release_arp(void *opaque, const uint8_t *buf, uint32_t len,
                           unsigned flags)
{
    T *t = opaque;

    g_string_append_printf(t->released, "%u ", lduw_be_p(buf + 14 + 18));
}

/*
 * ARP is compared per exchange: a request only the primary's kernel
 * sends does not hold up its reply to the client's request, nor do two
 * peers' exchanges wait on each other.
 */
static void test_arp_exchange(void)
{
    static const ColoCmpOps arp_ops = {
        .release = on_release_arp, .request = on_request,
    };
    CpFlow a = cp_flow(false, 0, 0, 0), b = a;
    T t;

    memset(&t, 0, sizeof(t));
    t.c = colo_cmp_new(&default_limits, 42, &arp_ops, &t);
    t.released = g_string_new("");
    b.dst_ip[3]++;
    send_frame(&t, true, arp(&a, 1, 1), 0);       /* the PVM's own */
    send_frame(&t, true, arp(&a, 2, 2), 0);
    send_frame(&t, true, arp(&b, 2, 3), 0);
    send_frame(&t, false, arp(&b, 2, 3), 0);
    send_frame(&t, false, arp(&a, 2, 2), 0);
    expect(&t, "3 2 ", NONE, 0);
    g_assert_cmpuint(colo_cmp_held_frames(t.c), ==, 1);
    t_free(&t);
}

/*
 * An ICMPv4 error quotes the offending packet's IP header: its ID, TTL
 * and checksum (and so the ICMP checksum) may differ between the guests;
 * the rest of the quote may not.
 */
static GByteArray *icmp_error(uint16_t qid, uint8_t qttl, uint16_t qsum,
                              uint8_t qdst, uint16_t id)
{
    CpFlow f = cp_flow(false, 0, 0, 0);
    uint8_t msg[8 + 20 + 8] = { 3, 3, 0, 0 };     /* port unreachable */
    GByteArray *b;
    uint8_t *q = msg + 8;

    q[0] = 0x45;
    stw_be_p(q + 2, 20 + 8);
    stw_be_p(q + 4, qid);
    q[8] = qttl;
    q[9] = 17;
    stw_be_p(q + 10, qsum);
    q[19] = qdst;
    stw_be_p(msg + 2, qid ^ qsum ^ qttl);          /* "its checksum" */
    b = cp_frame_udp(&f, msg, sizeof(msg));
    /* make the UDP frame an ICMP one: the IP payload is the message */
    b->data[14 + 9] = 1;
    memmove(b->data + 14 + 20, b->data + 14 + 28, sizeof(msg));
    g_byte_array_set_size(b, 14 + 20 + sizeof(msg));
    stw_be_p(b->data + 14 + 2, 20 + sizeof(msg));
    stw_be_p(id_field(b->data), id);
    return b;
}

static void test_icmp_quote(void)
{
    T t;

    t_init(&t, 0, 0, NULL);
    send_frame(&t, true, icmp_error(0x1111, 64, 0xaaaa, 7, 1), 0);
    send_frame(&t, false, icmp_error(0x2222, 63, 0xbbbb, 7, 0), 0);
    expect(&t, "1 ", NONE, 0);
    send_frame(&t, true, icmp_error(0x1111, 64, 0xaaaa, 7, 2), 0);
    send_frame(&t, false, icmp_error(0x1111, 64, 0xaaaa, 8, 0), 0);
    expect(&t, "1 ", COLO_CMP_MISMATCH_FRAME, 1);
    t_free(&t);
}

/*
 * A fragment between two addresses that also carry a TCP flow on port 0
 * is a datagram of its own kind: compared, never released by the TCP
 * path unmatched.
 */
static void test_fragment_port0(void)
{
    T t;
    GByteArray *frag[2];

    t_init(&t, 5, 6, NULL);
    t.vm = cp_flow(false, 0, 0, 0);
    handshake(&t);
    expect(&t, "1 ", NONE, 0);
    for (int i = 0; i < 2; i++) {
        frag[i] = tcp(&t, &t.vm, t.pisn + 1, A, 1, 16, -1, 2);
        frag[i]->data[14 + 6] = 0x20;                /* MF */
    }
    send_frame(&t, true, frag[0], 0);
    expect(&t, "1 ", NONE, 0);
    send_frame(&t, false, frag[1], 0);
    expect(&t, "1 2 ", NONE, 0);
    t_free(&t);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        Case *fn;
    } cases[] = {
        { "split-1+1", case_split_1_1 },
        { "3000-vs-1460+1460+80", case_3000_vs_1460s },
        { "1460+1460+80-vs-3000", case_1460s_vs_3000 },
        { "overlap", case_overlap },
        { "retransmit", case_retransmit },
        { "reorder", case_reorder },
        { "byte-flipped", case_flipped },
        { "missing-tail", case_missing_tail },
        { "secondary-first", case_svm_first },
    { "secondary-past-primary", case_svm_past_pvm },
        { "fin-same", case_fin_same },
        { "fin-early", case_fin_early },
        { "fin-late", case_fin_late },
        { "rst", case_rst },
        { "rst-vs-fin", case_rst_vs_fin },
        { "rst-payload", case_rst_payload },
        { "rst-same-payload", case_rst_same_payload },
        { "rst-place", case_rst_place },
        { "pure-ack", case_pure_ack },
        { "ack-ahead", case_ack_ahead },
        { "syn-flags", case_syn_flags },
        { "midstream", case_midstream },
        { "stale-fin", case_stale_fin },
        { "syn-checkpoint", case_syn_checkpoint },
    };

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/colo-proxy-compare/tcp/%s",
                                                cases[i].name);
        g_test_add_data_func(path, cases[i].fn, run_case);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(http_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/colo-proxy-compare/http-date/%zu", i);
        g_test_add_data_func(path, &http_cases[i], run_http_case);
    }
    g_test_add_func("/colo-proxy-compare/http-date/checkpoint",
                    test_http_checkpoint);
    g_test_add_func("/colo-proxy-compare/http-date/undecided",
                    test_http_undecided);
    g_test_add_func("/colo-proxy-compare/http-date/head", test_http_head);
    g_test_add_func("/colo-proxy-compare/tcp6-vlan", test_tcp6_vlan);
    g_test_add_func("/colo-proxy-compare/udp", test_udp);
    g_test_add_func("/colo-proxy-compare/kinds", test_kinds);
    g_test_add_func("/colo-proxy-compare/bound/connection", test_bound_conn);
    g_test_add_func("/colo-proxy-compare/bound/total", test_bound_total);
    g_test_add_func("/colo-proxy-compare/bound/secondary", test_bound_svm);
    g_test_add_func("/colo-proxy-compare/bound/secondary-cost",
                    test_bound_svm_cost);
    g_test_add_func("/colo-proxy-compare/bound/secondary-total",
                    test_bound_svm_total);
    g_test_add_func("/colo-proxy-compare/evict", test_evict);
    g_test_add_func("/colo-proxy-compare/reap", test_reap);
    g_test_add_func("/colo-proxy-compare/reuse", test_reuse);
    g_test_add_func("/colo-proxy-compare/secondary-only",
                    test_secondary_only);
    g_test_add_func("/colo-proxy-compare/arp-exchange", test_arp_exchange);
    g_test_add_func("/colo-proxy-compare/icmp-quote", test_icmp_quote);
    g_test_add_func("/colo-proxy-compare/fragment-port0",
                    test_fragment_port0);
    return g_test_run();
}
