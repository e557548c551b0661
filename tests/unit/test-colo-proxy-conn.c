/*
 * Unit tests for colo-proxy's connection table
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-conn.h"
#include "../qtest/colo-proxy-frames.h"

typedef struct TestConn {
    ColoConn conn;
    int id;
} TestConn;

typedef struct Released {
    GArray *ids;
} Released;

static void on_release(void *opaque, ColoConn *c)
{
    Released *r = opaque;

    g_array_append_val(r->ids, ((TestConn *)c)->id);
}

static int key_of(const GByteArray *b, ColoConnKey *key)
{
    ColoPacket p;

    colo_packet_parse(b->data, b->len, &p);
    return colo_conn_key_from_packet(&p, key);
}

/* Both directions of a flow share a key; anything else does not. */
static void test_key(void)
{
    CpFlow f = cp_flow(true, 0, 40000, 80), r = cp_flow_reverse(&f);
    CpFlow v = cp_flow(true, 9, 40000, 80), o = cp_flow(true, 0, 40001, 80);
    CpFlow same = cp_flow(false, 0, 1000, 2000);
    g_autoptr(GByteArray) a = cp_frame_tcp(&f, 1, 0, CP_TCP_SYN, NULL, 0);
    g_autoptr(GByteArray) b = cp_frame_tcp(&r, 1, 2, CP_TCP_ACK, NULL, 0);
    g_autoptr(GByteArray) c = cp_frame_tcp(&v, 1, 0, CP_TCP_SYN, NULL, 0);
    g_autoptr(GByteArray) d = cp_frame_tcp(&o, 1, 0, CP_TCP_SYN, NULL, 0);
    g_autoptr(GByteArray) u = cp_frame_udp(&f, "u", 1);
    g_autoptr(GByteArray) s1 = NULL, s2 = NULL;
    ColoConnKey ka, kb, kc, kd, ku;

    g_assert_cmpint(key_of(a, &ka), !=, key_of(b, &kb));
    g_assert_cmpmem(&ka, sizeof(ka), &kb, sizeof(kb));
    key_of(c, &kc);
    key_of(d, &kd);
    key_of(u, &ku);
    g_assert_true(memcmp(&ka, &kc, sizeof(ka)) != 0);
    g_assert_true(memcmp(&ka, &kd, sizeof(ka)) != 0);
    g_assert_true(memcmp(&ka, &ku, sizeof(ka)) != 0);

    /* same address both ends: the ports decide the direction */
    memcpy(same.dst_ip, same.src_ip, 16);
    s1 = cp_frame_udp(&same, "x", 1);
    same = cp_flow_reverse(&same);
    s2 = cp_frame_udp(&same, "y", 1);
    g_assert_cmpint(key_of(s1, &ka), !=, key_of(s2, &kb));
    g_assert_cmpmem(&ka, sizeof(ka), &kb, sizeof(kb));
}

static ColoConnKey nth_key(int i)
{
    ColoConnKey k = { 0 };

    k.ip_version = 4;
    k.proto = IPPROTO_TCP;
    k.port[0] = i;
    k.port[1] = 80;
    return k;
}

static TestConn *get(ColoConnTable *t, int i, int64_t now)
{
    ColoConnKey k = nth_key(i);
    bool created;
    TestConn *c = (TestConn *)colo_conn_get(t, &k, now, &created);

    g_assert_true(created || c->id == i);

    c->id = i;
    return c;
}

/*
 * A full table evicts closed entries first, then idle ones, then ones
 * not established, then the least recently used; it never holds more than
 * its maximum and every victim is released before it is freed.
 */
static void test_evict(void)
{
    Released r = { g_array_new(false, false, sizeof(int)) };
    ColoConnTable *t = colo_conn_table_new(4, sizeof(TestConn), 1234,
                                           on_release, &r);
    ColoConnKey k;

    colo_conn_set_idle(t, 1000);
    for (int i = 0; i < 4; i++) {
        get(t, i, 100 * i)->conn.state = COLO_CONN_ESTABLISHED;
    }
    get(t, 2, 5000)->conn.state = COLO_CONN_CLOSED;
    get(t, 1, 5000)->conn.state = COLO_CONN_NEW;
    get(t, 3, 5000);
    /* closed first, though 0 is older and idle */
    get(t, 10, 5000)->conn.state = COLO_CONN_ESTABLISHED;
    /* then idle (0, unused since 0), before new (1) */
    get(t, 11, 5001)->conn.state = COLO_CONN_ESTABLISHED;
    /* then not established */
    get(t, 12, 5002)->conn.state = COLO_CONN_ESTABLISHED;
    /* then the least recently used */
    get(t, 14, 5003)->conn.state = COLO_CONN_ESTABLISHED;
    g_assert_cmpuint(colo_conn_count(t), ==, 4);
    g_assert_cmpuint(r.ids->len, ==, 4);
    g_assert_cmpint(g_array_index(r.ids, int, 0), ==, 2);
    g_assert_cmpint(g_array_index(r.ids, int, 1), ==, 0);
    g_assert_cmpint(g_array_index(r.ids, int, 2), ==, 1);
    g_assert_cmpint(g_array_index(r.ids, int, 3), ==, 3);
    g_assert_cmpuint(colo_conn_evictions(t, COLO_EVICT_CLOSED), ==, 1);
    g_assert_cmpuint(colo_conn_evictions(t, COLO_EVICT_IDLE), ==, 1);
    g_assert_cmpuint(colo_conn_evictions(t, COLO_EVICT_NEW), ==, 1);
    g_assert_cmpuint(colo_conn_evictions(t, COLO_EVICT_LRU), ==, 1);
    k = nth_key(14);
    g_assert_nonnull(colo_conn_lookup(t, &k));
    k = nth_key(2);
    g_assert_null(colo_conn_lookup(t, &k));
    colo_conn_table_free(t);
    g_assert_cmpuint(r.ids->len, ==, 8);
    g_array_free(r.ids, true);
}

/* Closed entries go after the grace period, idle ones after idle time. */
static void test_reap(void)
{
    Released r = { g_array_new(false, false, sizeof(int)) };
    ColoConnTable *t = colo_conn_table_new(100, sizeof(TestConn), 1,
                                           on_release, &r);
    TestConn *c;

    c = get(t, 1, 0);
    c->conn.state = COLO_CONN_CLOSED;
    get(t, 2, 0)->conn.state = COLO_CONN_ESTABLISHED;
    get(t, 3, 900)->conn.state = COLO_CONN_ESTABLISHED;
    colo_conn_reap(t, 50, 100, 1000);
    g_assert_cmpuint(colo_conn_count(t), ==, 3);
    colo_conn_reap(t, 100, 100, 1000);
    g_assert_cmpuint(colo_conn_count(t), ==, 2);
    colo_conn_reap(t, 1000, 100, 1000);
    g_assert_cmpuint(colo_conn_count(t), ==, 1);
    colo_conn_reap(t, 1000, 100, 0);        /* idle 0: never idle */
    g_assert_cmpuint(colo_conn_count(t), ==, 1);
    colo_conn_table_free(t);
    g_array_free(r.ids, true);
}

/* Many connections: every one is found again, none is lost. */
static void test_many(void)
{
    enum { N = 100000 };
    bool created;
    ColoConnTable *t = colo_conn_table_new(N, sizeof(TestConn), 99, NULL,
                                           NULL);

    for (int i = 0; i < N; i++) {
        ColoConnKey k = nth_key(i);

        k.port[1] = i >> 16;
        colo_conn_get(t, &k, i, &created);
        g_assert_true(created);
    }
    for (int i = 0; i < N; i++) {
        ColoConnKey k = nth_key(i);

        k.port[1] = i >> 16;
        g_assert_nonnull(colo_conn_lookup(t, &k));
    }
    g_assert_cmpuint(colo_conn_count(t), ==, N);
    colo_conn_table_free(t);
}

/* Feed @b as sent by endpoint @side; returns colo_conn_track()'s word. */
static bool track(ColoConn *c, GByteArray *b, int side)
{
    ColoPacket p;
    bool reopen;

    colo_packet_parse(b->data, b->len, &p);
    reopen = colo_conn_track(c, &p, side);
    g_byte_array_unref(b);
    return reopen;
}

/*
 * Data establishes; a half-close (one FIN, acked) does not close; both
 * FINs acked do; a SYN then starts a new connection.
 */
static void test_track_close(void)
{
    CpFlow cl = cp_flow(false, 0, 1, 2), vm = cp_flow_reverse(&cl);
    ColoConn c = { .state = COLO_CONN_NEW };

    g_assert_false(track(&c, cp_frame_tcp(&cl, 100, 0, CP_TCP_SYN, NULL, 0),
                         0));
    g_assert_false(track(&c, cp_frame_tcp(&vm, 500, 101,
                                          CP_TCP_SYN | CP_TCP_ACK, NULL, 0),
                         1));
    /* a retransmitted SYN is the same connection */
    g_assert_false(track(&c, cp_frame_tcp(&cl, 100, 0, CP_TCP_SYN, NULL, 0),
                         0));
    track(&c, cp_frame_tcp(&cl, 101, 501, CP_TCP_ACK, "GET", 3), 0);
    g_assert_cmpint(c.state, ==, COLO_CONN_ESTABLISHED);
    /* the client half-closes; the guest acks and goes on sending */
    track(&c, cp_frame_tcp(&cl, 104, 501, CP_TCP_FIN | CP_TCP_ACK, NULL, 0),
          0);
    track(&c, cp_frame_tcp(&vm, 501, 105, CP_TCP_ACK, "data", 4), 1);
    track(&c, cp_frame_tcp(&cl, 105, 505, CP_TCP_ACK, NULL, 0), 0);
    g_assert_cmpint(c.state, ==, COLO_CONN_ESTABLISHED);
    /* the guest's FIN, not acked yet: still open */
    track(&c, cp_frame_tcp(&vm, 505, 105, CP_TCP_FIN | CP_TCP_ACK, NULL, 0),
          1);
    g_assert_cmpint(c.state, ==, COLO_CONN_ESTABLISHED);
    track(&c, cp_frame_tcp(&cl, 105, 506, CP_TCP_ACK, NULL, 0), 0);
    g_assert_cmpint(c.state, ==, COLO_CONN_CLOSED);
    /* reuse of the 5-tuple */
    g_assert_true(track(&c, cp_frame_tcp(&cl, 9000, 0, CP_TCP_SYN, NULL, 0),
                        0));
    g_assert_cmpint(c.state, ==, COLO_CONN_NEW);
    g_assert_false(c.peer[1].syn);
}

/* An RST closes only in the receiver's window; a new ISN reopens. */
static void test_track_rst(void)
{
    CpFlow cl = cp_flow(false, 0, 1, 2), vm = cp_flow_reverse(&cl);
    ColoConn c = { .state = COLO_CONN_NEW };

    track(&c, cp_frame_tcp(&cl, 0xfffffff0, 0, CP_TCP_SYN, NULL, 0), 0);
    track(&c, cp_frame_tcp(&vm, 7, 0xfffffff1, CP_TCP_SYN | CP_TCP_ACK,
                           NULL, 0), 1);
    track(&c, cp_frame_tcp(&cl, 0xfffffff1, 8, CP_TCP_ACK, "0123456789"
                           "abcdef0123", 20), 0);
    track(&c, cp_frame_tcp(&vm, 8, 5, CP_TCP_ACK, NULL, 0), 1);
    /* stale: behind what the guest acked (across 2^32) */
    track(&c, cp_frame_tcp(&cl, 0xfffffff5, 8, CP_TCP_RST, NULL, 0), 0);
    g_assert_cmpint(c.state, ==, COLO_CONN_ESTABLISHED);
    track(&c, cp_frame_tcp(&cl, 5, 8, CP_TCP_RST, NULL, 0), 0);
    g_assert_cmpint(c.state, ==, COLO_CONN_CLOSED);

    /* without a close, a SYN with another ISN is a new connection too */
    c = (ColoConn) { .state = COLO_CONN_NEW };
    track(&c, cp_frame_tcp(&vm, 100, 0, CP_TCP_SYN, NULL, 0), 1);
    track(&c, cp_frame_tcp(&cl, 50, 101, CP_TCP_SYN | CP_TCP_ACK, NULL, 0),
          0);
    g_assert_true(track(&c, cp_frame_tcp(&vm, 99, 0, CP_TCP_SYN, NULL, 0),
                        1));
    g_assert_false(c.peer[0].syn);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/colo-proxy-conn/key", test_key);
    g_test_add_func("/colo-proxy-conn/evict", test_evict);
    g_test_add_func("/colo-proxy-conn/reap", test_reap);
    g_test_add_func("/colo-proxy-conn/many", test_many);
    g_test_add_func("/colo-proxy-conn/track/close", test_track_close);
    g_test_add_func("/colo-proxy-conn/track/rst", test_track_rst);
    return g_test_run();
}
