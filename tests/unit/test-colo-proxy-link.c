/*
 * Unit tests for the colo-proxy link codec
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-link.h"

typedef struct Msg {
    ColoLinkType type;
    GByteArray *data;
} Msg;

typedef struct Sink {
    GArray *msgs;               /* of Msg */
    int stop_after;             /* stop decoding after this many; -1 never */
} Sink;

static bool sink_msg(void *opaque, ColoLinkType type, const uint8_t *payload,
                     uint32_t len)
{
    Sink *s = opaque;
    Msg m = { .type = type, .data = g_byte_array_new() };

    g_byte_array_append(m.data, payload, len);
    g_array_append_val(s->msgs, m);
    return s->stop_after < 0 || s->msgs->len < (guint)s->stop_after;
}

static void sink_init(Sink *s)
{
    s->msgs = g_array_new(false, false, sizeof(Msg));
    s->stop_after = -1;
}

static void sink_destroy(Sink *s)
{
    for (guint i = 0; i < s->msgs->len; i++) {
        g_byte_array_unref(g_array_index(s->msgs, Msg, i).data);
    }
    g_array_free(s->msgs, true);
}

static const ColoLinkHello pri_hello = {
    .version = COLO_LINK_VERSION, .role = COLO_LINK_ROLE_PRIMARY,
    .vnet_hdr = false, .max_payload = COLO_LINK_MAX_PAYLOAD,
};

static const ColoLinkHello sec_hello = {
    .version = COLO_LINK_VERSION, .role = COLO_LINK_ROLE_SECONDARY,
    .vnet_hdr = false, .max_payload = COLO_LINK_MAX_PAYLOAD,
};

static void put_msg(GByteArray *b, ColoLinkType type, const void *p,
                    uint32_t len)
{
    uint8_t hdr[COLO_LINK_HDR_LEN];

    colo_link_encode_hdr(hdr, type, len);
    g_byte_array_append(b, hdr, sizeof(hdr));
    g_byte_array_append(b, p, len);
}

static void put_hello(GByteArray *b, const ColoLinkHello *h)
{
    uint8_t buf[COLO_LINK_HELLO_LEN];

    colo_link_encode_hello(buf, h);
    put_msg(b, COLO_LINK_HELLO, buf, sizeof(buf));
}

/* A stream of every message type, the largest frame included. */
static GByteArray *sample_stream(void)
{
    GByteArray *b = g_byte_array_new();
    g_autofree uint8_t *big = g_malloc(COLO_LINK_MAX_PAYLOAD);

    for (uint32_t i = 0; i < COLO_LINK_MAX_PAYLOAD; i++) {
        big[i] = i * 7;
    }
    put_hello(b, &sec_hello);
    put_msg(b, COLO_LINK_FRAME, "frame-one", 9);
    put_msg(b, COLO_LINK_HEARTBEAT, NULL, 0);
    put_msg(b, COLO_LINK_FRAME, big, COLO_LINK_MAX_PAYLOAD);
    put_msg(b, COLO_LINK_FRAME, "x", 1);
    put_msg(b, COLO_LINK_BYE, "shutting down", 13);
    return b;
}

static void check_sample(Sink *s)
{
    Msg *m = (Msg *)s->msgs->data;
    ColoLinkHello h;

    g_assert_cmpuint(s->msgs->len, ==, 6);
    g_assert_cmpint(m[0].type, ==, COLO_LINK_HELLO);
    g_assert_cmpint(colo_link_parse_hello(m[0].data->data, m[0].data->len,
                                          &h), ==, COLO_LINK_OK);
    g_assert_cmpint(colo_link_hello_check(&pri_hello, &h), ==, COLO_LINK_OK);
    g_assert_cmpint(m[1].type, ==, COLO_LINK_FRAME);
    g_assert_cmpmem(m[1].data->data, m[1].data->len, "frame-one", 9);
    g_assert_cmpint(m[2].type, ==, COLO_LINK_HEARTBEAT);
    g_assert_cmpuint(m[2].data->len, ==, 0);
    g_assert_cmpuint(m[3].data->len, ==, COLO_LINK_MAX_PAYLOAD);
    g_assert_cmpuint(m[3].data->data[COLO_LINK_MAX_PAYLOAD - 1], ==,
                     (uint8_t)((COLO_LINK_MAX_PAYLOAD - 1) * 7));
    g_assert_cmpmem(m[4].data->data, m[4].data->len, "x", 1);
    g_assert_cmpint(m[5].type, ==, COLO_LINK_BYE);
}

/* The same stream decodes the same whatever the read boundaries. */
static void test_split(const void *opaque)
{
    size_t chunk = GPOINTER_TO_SIZE(opaque);
    g_autoptr(GByteArray) b = sample_stream();
    ColoLinkDecoder d;
    Sink s;

    colo_link_decoder_init(&d);
    sink_init(&s);
    for (size_t off = 0; off < b->len; off += chunk) {
        size_t n = MIN(chunk, b->len - off);

        g_assert_cmpuint(colo_link_decode(&d, b->data + off, n, sink_msg, &s),
                         ==, n);
    }
    g_assert_cmpint(d.error, ==, COLO_LINK_OK);
    check_sample(&s);
    sink_destroy(&s);
    colo_link_decoder_destroy(&d);
}

/* Returning false stops after the message; the rest is fed again. */
static void test_stop(void)
{
    g_autoptr(GByteArray) b = sample_stream();
    ColoLinkDecoder d;
    size_t off = 0;
    Sink s;

    colo_link_decoder_init(&d);
    sink_init(&s);
    s.stop_after = 1;
    while (off < b->len) {
        size_t n = colo_link_decode(&d, b->data + off, b->len - off,
                                    sink_msg, &s);

        g_assert_cmpuint(n, >, 0);
        off += n;
        s.stop_after = s.msgs->len + 1;
    }
    check_sample(&s);
    sink_destroy(&s);
    colo_link_decoder_destroy(&d);
}

/* A secondary refuses a primary with a BYE before any HELLO of its own. */
static void test_bye_first(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    ColoLinkDecoder d;
    Sink s;

    put_msg(b, COLO_LINK_BYE, "busy", 4);
    colo_link_decoder_init(&d);
    sink_init(&s);
    g_assert_cmpuint(colo_link_decode(&d, b->data, b->len, sink_msg, &s),
                     ==, b->len);
    g_assert_cmpint(d.error, ==, COLO_LINK_OK);
    g_assert_cmpuint(s.msgs->len, ==, 1);
    sink_destroy(&s);
    colo_link_decoder_destroy(&d);
}

/* A peer's text is printable ASCII once shown, and bounded. */
static void test_reason_str(void)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        { "peer going away", "peer going away" },
        { "\x1b[31mred", "?[31mred" },
        { "a\nqemu: forged", "a?qemu: forged" },
        { "tab\there\r", "tab?here?" },
        { "caf\xc3\xa9", "caf??" },
        { "", "" },
    };
    g_autofree uint8_t *big = g_malloc(COLO_LINK_REASON_MAX * 2);
    g_autofree char *cut = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *t = colo_link_reason_str(
            (const uint8_t *)cases[i].in, strlen(cases[i].in));

        g_assert_cmpstr(t, ==, cases[i].out);
    }
    memset(big, 'x', COLO_LINK_REASON_MAX * 2);
    big[3] = 0;
    cut = colo_link_reason_str(big, COLO_LINK_REASON_MAX * 2);
    g_assert_cmpuint(strlen(cut), ==, COLO_LINK_REASON_MAX);
    g_assert_cmpint(cut[3], ==, '?');
}

static void notify_msg(void *opaque, const uint8_t *msg, uint32_t len)
{
    g_string_append_len(opaque, (const char *)msg, len);
    g_string_append_c(opaque, '|');
}

/*
 * The notify channel: messages come out whole whatever the read
 * boundaries; a length over the maximum loses the framing for good,
 * until a reset.
 */
static void test_notify_decode(void)
{
    static const uint8_t stream[] = {
        0, 0, 0, 4, 'I', 'N', 'I', 'T', 0, 0, 0, 0, 0, 0, 0, 2, 'C', 'P',
        0, 0, 0, COLO_NOTIFY_MSG_MAX + 1, 'x', 0, 0, 0, 1, 'y',
    };
    g_autoptr(GString) got = g_string_new("");
    ColoNotifyDecoder d;

    for (size_t cut = 1; cut <= sizeof(stream); cut++) {
        bool ok = true;

        colo_notify_decoder_reset(&d);
        g_string_truncate(got, 0);
        for (size_t off = 0; off < sizeof(stream); off += cut) {
            ok = colo_notify_decode(&d, stream + off,
                                    MIN(cut, sizeof(stream) - off),
                                    notify_msg, got);
        }
        g_assert_false(ok);
        g_assert_cmpstr(got->str, ==, "INIT||CP|");
    }
    colo_notify_decoder_reset(&d);
    g_assert_true(colo_notify_decode(&d, stream, 8, notify_msg, got));
}

typedef struct BadCase {
    const char *name;
    uint8_t hdr[COLO_LINK_HDR_LEN];
    bool hello_first;           /* a valid HELLO precedes hdr */
    ColoLinkError error;
} BadCase;

static const BadCase bad_cases[] = {
    { "type-0", { 0, 0, 0, 0, 0, 0, 0, 1 }, true, COLO_LINK_ERR_TYPE },
    { "type-99", { 99, 0, 0, 0, 0, 0, 0, 1 }, true, COLO_LINK_ERR_TYPE },
    { "reserved", { COLO_LINK_FRAME, 1, 0, 0, 0, 0, 0, 1 }, true,
      COLO_LINK_ERR_RESERVED },
    { "reserved-16", { COLO_LINK_FRAME, 0, 0, 1, 0, 0, 0, 1 }, true,
      COLO_LINK_ERR_RESERVED },
    { "frame-4GiB", { COLO_LINK_FRAME, 0, 0, 0, 0xff, 0xff, 0xff, 0xff }, true,
      COLO_LINK_ERR_LENGTH },
    { "frame-max+1", { COLO_LINK_FRAME, 0, 0, 0, 0, 1, 1, 1 }, true,
      COLO_LINK_ERR_LENGTH },
    { "frame-empty", { COLO_LINK_FRAME, 0, 0, 0, 0, 0, 0, 0 }, true,
      COLO_LINK_ERR_LENGTH },
    { "heartbeat-data", { COLO_LINK_HEARTBEAT, 0, 0, 0, 0, 0, 0, 1 }, true,
      COLO_LINK_ERR_LENGTH },
    { "bye-long", { COLO_LINK_BYE, 0, 0, 0, 0, 0, 1, 1 }, true,
      COLO_LINK_ERR_LENGTH },
    { "hello-short", { COLO_LINK_HELLO, 0, 0, 0, 0, 0, 0, 15 }, false,
      COLO_LINK_ERR_LENGTH },
    { "no-hello", { COLO_LINK_FRAME, 0, 0, 0, 0, 0, 0, 1 }, false,
      COLO_LINK_ERR_NO_HELLO },
    { "heartbeat-first", { COLO_LINK_HEARTBEAT, 0, 0, 0, 0, 0, 0, 0 }, false,
      COLO_LINK_ERR_NO_HELLO },
    { "dup-hello", { COLO_LINK_HELLO, 0, 0, 0, 0, 0, 0, 16 }, true,
      COLO_LINK_ERR_DUP_HELLO },
};

/*
 * A bad header is refused as soon as it is complete: no payload is read,
 * nothing is delivered, and the error sticks.
 */
static void test_bad_header(const void *opaque)
{
    const BadCase *c = opaque;
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint8_t junk[64] = { 0 };
    ColoLinkDecoder d;
    size_t n, hello_len = 0;
    Sink s;

    if (c->hello_first) {
        put_hello(b, &sec_hello);
        hello_len = b->len;
    }
    g_byte_array_append(b, c->hdr, sizeof(c->hdr));
    g_byte_array_append(b, junk, sizeof(junk));
    colo_link_decoder_init(&d);
    sink_init(&s);
    n = colo_link_decode(&d, b->data, b->len, sink_msg, &s);
    g_assert_cmpint(d.error, ==, c->error);
    g_assert_cmpuint(n, ==, hello_len + COLO_LINK_HDR_LEN);
    g_assert_cmpuint(s.msgs->len, ==, c->hello_first ? 1 : 0);
    g_assert_cmpuint(colo_link_decode(&d, junk, sizeof(junk), sink_msg, &s),
                     ==, 0);
    g_assert_nonnull(colo_link_error_str(d.error));
    colo_link_decoder_reset(&d);
    g_assert_cmpint(d.error, ==, COLO_LINK_OK);
    sink_destroy(&s);
    colo_link_decoder_destroy(&d);
}

static void test_bad_magic(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint8_t buf[COLO_LINK_HELLO_LEN];
    ColoLinkDecoder d;
    Sink s;

    colo_link_encode_hello(buf, &pri_hello);
    buf[0] ^= 0x20;
    put_msg(b, COLO_LINK_HELLO, buf, sizeof(buf));
    colo_link_decoder_init(&d);
    sink_init(&s);
    colo_link_decode(&d, b->data, b->len, sink_msg, &s);
    g_assert_cmpint(d.error, ==, COLO_LINK_ERR_MAGIC);
    g_assert_cmpuint(s.msgs->len, ==, 0);
    sink_destroy(&s);
    colo_link_decoder_destroy(&d);
}

/*
 * The secondary checks a connection's first message whole before the
 * connection gets anything: a HELLO, header checked as the decoder does.
 */
static void test_hello_msg(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    ColoLinkHello back;
    uint8_t msg[COLO_LINK_HDR_LEN + COLO_LINK_HELLO_LEN];

    put_hello(b, &pri_hello);
    g_assert_cmpuint(b->len, ==, sizeof(msg));
    memcpy(msg, b->data, sizeof(msg));
    g_assert_cmpint(colo_link_parse_hello_msg(msg, &back), ==, COLO_LINK_OK);
    g_assert_cmpmem(&back, sizeof(back), &pri_hello, sizeof(pri_hello));
    msg[2] = 1;
    g_assert_cmpint(colo_link_parse_hello_msg(msg, &back), ==,
                    COLO_LINK_ERR_RESERVED);
    msg[2] = 0;
    msg[7] = COLO_LINK_HELLO_LEN - 1;
    g_assert_cmpint(colo_link_parse_hello_msg(msg, &back), ==,
                    COLO_LINK_ERR_LENGTH);
    msg[7] = COLO_LINK_HELLO_LEN;
    msg[COLO_LINK_HDR_LEN] ^= 0xff;
    g_assert_cmpint(colo_link_parse_hello_msg(msg, &back), ==,
                    COLO_LINK_ERR_MAGIC);
    msg[0] = COLO_LINK_BYE;
    g_assert_cmpint(colo_link_parse_hello_msg(msg, &back), ==,
                    COLO_LINK_ERR_NO_HELLO);
    msg[0] = 'G';
    g_assert_cmpint(colo_link_parse_hello_msg(msg, &back), ==,
                    COLO_LINK_ERR_TYPE);
}

/* Handshake: one primary with one secondary, same vnet header, version. */
static void test_hello_check(void)
{
    ColoLinkHello h = sec_hello;
    uint8_t buf[COLO_LINK_HELLO_LEN];
    ColoLinkHello back;

    colo_link_encode_hello(buf, &h);
    g_assert_cmpint(colo_link_parse_hello(buf, sizeof(buf), &back), ==,
                    COLO_LINK_OK);
    g_assert_cmpmem(&back, sizeof(back), &h, sizeof(h));

    g_assert_cmpint(colo_link_hello_check(&pri_hello, &sec_hello), ==,
                    COLO_LINK_OK);
    g_assert_cmpint(colo_link_hello_check(&sec_hello, &pri_hello), ==,
                    COLO_LINK_OK);
    g_assert_cmpint(colo_link_hello_check(&pri_hello, &pri_hello), ==,
                    COLO_LINK_ERR_ROLE);
    g_assert_cmpint(colo_link_hello_check(&sec_hello, &sec_hello), ==,
                    COLO_LINK_ERR_ROLE);
    h.role = 7;
    g_assert_cmpint(colo_link_hello_check(&pri_hello, &h), ==,
                    COLO_LINK_ERR_ROLE);
    h = sec_hello;
    h.vnet_hdr = true;
    g_assert_cmpint(colo_link_hello_check(&pri_hello, &h), ==,
                    COLO_LINK_ERR_VNET_HDR);
    h = sec_hello;
    h.version = COLO_LINK_VERSION + 1;
    g_assert_cmpint(colo_link_hello_check(&pri_hello, &h), ==,
                    COLO_LINK_ERR_VERSION);
    h = sec_hello;
    h.max_payload = 1500;
    g_assert_cmpint(colo_link_hello_check(&pri_hello, &h), ==,
                    COLO_LINK_ERR_LENGTH);

    colo_link_encode_hello(buf, &sec_hello);
    buf[11] = 2;
    g_assert_cmpint(colo_link_parse_hello(buf, sizeof(buf), &back), ==,
                    COLO_LINK_ERR_VNET_HDR);
    g_assert_cmpint(colo_link_parse_hello(buf, sizeof(buf) - 1, &back), ==,
                    COLO_LINK_ERR_LENGTH);
}

/*
 * Checkpoint epochs, as numbered steps: an event (L: our checkpoint, M:
 * the peer's marker, X: expire at @now), then what a frame of the peer
 * gets, and whether held frames are let go.
 */
typedef struct EpochStep {
    char ev;
    int64_t now;
    bool release;
    ColoEpochVerdict verdict;
} EpochStep;

static void run_epoch(const EpochStep *steps, size_t n)
{
    ColoEpoch e = { 0 };

    colo_epoch_reset(&e);
    for (size_t i = 0; i < n; i++) {
        bool release = false;

        switch (steps[i].ev) {
        case 'L':
            release = colo_epoch_local(&e, steps[i].now);
            break;
        case 'M':
            colo_epoch_marker(&e, steps[i].now);
            break;
        case 'X':
            release = colo_epoch_expire(&e, steps[i].now, 100);
            break;
        }
        g_assert_cmpint(release, ==, steps[i].release);
        g_assert_cmpint(colo_epoch_verdict(&e), ==, steps[i].verdict);
    }
}

static void test_epoch(void)
{
    /* ours first: the peer's frames until its marker are stale */
    static const EpochStep ours_first[] = {
        { 'L', 0, false, COLO_EPOCH_DROP },
        { 'X', 99, false, COLO_EPOCH_DROP },
        { 'M', 99, false, COLO_EPOCH_PASS },
        { 'X', 500, false, COLO_EPOCH_PASS },
    };
    /* the peer's marker first: what follows waits for our checkpoint */
    static const EpochStep peer_first[] = {
        { 'M', 0, false, COLO_EPOCH_HOLD },
        { 'M', 10, false, COLO_EPOCH_HOLD },
        { 'L', 20, true, COLO_EPOCH_PASS },
        { 'L', 30, false, COLO_EPOCH_DROP },
        { 'L', 40, false, COLO_EPOCH_DROP },
        { 'M', 50, false, COLO_EPOCH_PASS },
    };
    /* nobody waits for ever: stale, then early, each given up */
    static const EpochStep give_up[] = {
        { 'L', 0, false, COLO_EPOCH_DROP },
        { 'X', 100, false, COLO_EPOCH_PASS },
        { 'M', 200, false, COLO_EPOCH_HOLD },
        { 'X', 299, false, COLO_EPOCH_HOLD },
        { 'X', 300, true, COLO_EPOCH_PASS },
    };
    ColoEpoch e = { 0 };

    run_epoch(ours_first, G_N_ELEMENTS(ours_first));
    run_epoch(peer_first, G_N_ELEMENTS(peer_first));
    run_epoch(give_up, G_N_ELEMENTS(give_up));
    colo_epoch_reset(&e);
    colo_epoch_local(&e, 0);
    colo_epoch_expire(&e, 100, 100);
    g_assert_cmpuint(e.timeouts, ==, 1);
}

int main(int argc, char **argv)
{
    static const size_t chunks[] = { 1, 2, 3, 7, 8, 9, 1500, 65536, 1 << 20 };

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(chunks); i++) {
        g_autofree char *path = g_strdup_printf("/colo-proxy-link/split/%zu",
                                                chunks[i]);
        g_test_add_data_func(path, GSIZE_TO_POINTER(chunks[i]), test_split);
    }
    g_test_add_func("/colo-proxy-link/stop", test_stop);
    g_test_add_func("/colo-proxy-link/bye-first", test_bye_first);
    g_test_add_func("/colo-proxy-link/reason-str", test_reason_str);
    g_test_add_func("/colo-proxy-link/notify-decode", test_notify_decode);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/colo-proxy-link/bad/%s",
                                                bad_cases[i].name);
        g_test_add_data_func(path, &bad_cases[i], test_bad_header);
    }
    g_test_add_func("/colo-proxy-link/bad/magic", test_bad_magic);
    g_test_add_func("/colo-proxy-link/hello", test_hello_check);
    g_test_add_func("/colo-proxy-link/hello-msg", test_hello_msg);
    g_test_add_func("/colo-proxy-link/epoch", test_epoch);
    return g_test_run();
}
