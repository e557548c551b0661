/*
 * QTest testcases for the colo-proxy netfilter
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "qapi/error.h"
#include "colo-proxy-harness.h"

#define PROXY_PRIMARY \
    "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=127.0.0.1:9"

/* A TCP/IPv4 frame built outside the harness (Python's struct module). */
static const uint8_t ref_tcp4[] = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x2d, 0x12, 0x34, 0x00, 0x00, 0x40, 0x06,
    0x54, 0x95, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x9c, 0x40,
    0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x50, 0x18,
    0xfa, 0xf0, 0xc0, 0x6e, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
};

/* The frame builders agree with an independent encoder, checksums too. */
static void test_frame_builders(void)
{
    CpFlow f4 = cp_flow(false, 0, 40000, 80);
    CpFlow f6 = cp_flow(true, 100, 40000, 80);
    g_autoptr(GByteArray) tcp4 = cp_frame_tcp(&f4, 1, 2,
                                              CP_TCP_PSH | CP_TCP_ACK,
                                              "hello", 5);
    g_autoptr(GByteArray) udp4 = cp_frame_udp(&f4, "odd", 3);
    g_autoptr(GByteArray) tcp6 = cp_frame_tcp(&f6, 0xfffffff0, 0,
                                              CP_TCP_SYN, NULL, 0);
    g_autoptr(GByteArray) udp6 = cp_frame_udp(&f6, "datagram", 8);
    g_autoptr(GByteArray) bad = cp_frame_udp(&f4, "odd", 3);

    g_assert_cmpmem(tcp4->data, tcp4->len, ref_tcp4, sizeof(ref_tcp4));
    g_assert_true(cp_frame_checksums_ok(tcp4));
    g_assert_true(cp_frame_checksums_ok(udp4));
    g_assert_true(cp_frame_checksums_ok(tcp6));
    g_assert_true(cp_frame_checksums_ok(udp6));
    /* 14 + 4 (802.1Q) + 40 + 8 + 8 */
    g_assert_cmpuint(udp6->len, ==, 74);
    g_assert_cmpuint(tcp6->data[12], ==, 0x81);

    bad->data[bad->len - 1] ^= 1;
    g_assert_false(cp_frame_checksums_ok(bad));
}

static char *qom_get_str(QTestState *qts, const char *path, const char *prop)
{
    g_autoptr(QDict) rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', "
                                     "'arguments': { 'path': %s, "
                                     "'property': %s } }", path, prop);

    g_assert_true(qdict_haskey(rsp, "return"));
    return g_strdup(qdict_get_str(rsp, "return"));
}

static void assert_props(QTestState *qts, const char *id, const char *mode,
                         const char *addr)
{
    g_autofree char *path = g_strdup_printf("/objects/%s", id);
    g_autofree char *m = qom_get_str(qts, path, "mode");
    g_autofree char *a = qom_get_str(qts, path, "addr");
    g_autofree char *q = qom_get_str(qts, path, "queue");

    g_assert_cmpstr(m, ==, mode);
    g_assert_cmpstr(a, ==, addr);
    g_assert_cmpstr(q, ==, "all");
}

static void test_create_cmdline(void)
{
    CpHost h;

    cp_host_start(&h, PROXY_PRIMARY);
    assert_props(h.qts, "cp0", "primary", "127.0.0.1:9");
    cp_host_stop(&h);
}

static void object_add_ok(QTestState *qts, const char *id, const char *mode,
                          const char *addr)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-add', 'arguments': "
                             "{ 'qom-type': 'colo-proxy', 'id': %s, "
                             "'netdev': 'hn0', 'mode': %s, 'addr': %s } }",
                             id, mode, addr);
}

static void object_del_ok(QTestState *qts, const char *id)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'object-del', "
                             "'arguments': { 'id': %s } }", id);
}

/* Create and delete at run time, twice, in both modes. */
static void test_create_qmp(void)
{
    CpHost h;

    cp_host_start(&h, NULL);
    for (int i = 0; i < 2; i++) {
        object_add_ok(h.qts, "cp0", "secondary", ":9000");
        assert_props(h.qts, "cp0", "secondary", ":9000");
        object_del_ok(h.qts, "cp0");
        object_add_ok(h.qts, "cp1", "primary", "unix:/tmp/colo-proxy.sock");
        assert_props(h.qts, "cp1", "primary", "unix:/tmp/colo-proxy.sock");
        object_del_ok(h.qts, "cp1");
    }
    cp_host_stop(&h);
}

typedef struct RejectCase {
    const char *name;
    const char *args;       /* JSON members after qom-type and id */
    const char *message;    /* a part of the error naming the cause */
} RejectCase;

static const RejectCase reject_cases[] = {
    { "no-mode", "'netdev': 'hn0', 'addr': ':9000'", "'mode'" },
    { "bad-mode", "'netdev': 'hn0', 'mode': 'tertiary', 'addr': ':9000'",
      "'mode'" },
    { "no-addr", "'netdev': 'hn0', 'mode': 'primary'", "'addr'" },
    { "queue-rx", "'netdev': 'hn0', 'mode': 'primary', 'queue': 'rx', "
      "'addr': '127.0.0.1:9000'", "'queue' must be 'all'" },
    { "queue-tx", "'netdev': 'hn0', 'mode': 'secondary', 'queue': 'tx', "
      "'addr': ':9000'", "'queue' must be 'all'" },
    { "addr-no-port", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': 'localhost'", "property 'addr' must be HOST:PORT" },
    { "addr-port-0", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':0'", "property 'addr' port '0'" },
    { "addr-port-big", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':65536'", "property 'addr' port '65536'" },
    { "addr-port-name", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': 'localhost:http'", "property 'addr' port 'http'" },
    { "addr-primary-no-host", "'netdev': 'hn0', 'mode': 'primary', "
      "'addr': ':9000'", "property 'addr' needs a host" },
    { "addr-empty-unix", "'netdev': 'hn0', 'mode': 'primary', "
      "'addr': 'unix:'", "property 'addr' has an empty socket path" },
    { "addr-comma", "'netdev': 'hn0', 'mode': 'primary', "
      "'addr': '127.0.0.1:9000,to=9010'", "property 'addr' must be" },
    { "no-netdev", "'mode': 'primary', 'addr': '127.0.0.1:9000'",
      "'netdev'" },
    { "unknown-netdev", "'netdev': 'nosuch', 'mode': 'primary', "
      "'addr': '127.0.0.1:9000'", "'netdev'" },
};

static void assert_object_add_fails(QTestState *qts, const char *id,
                                    const char *args, const char *message)
{
    g_autofree char *json = g_strdup_printf(
        "{ 'qom-type': 'colo-proxy', 'id': '%s', %s }", id, args);
    QObject *arguments = qobject_from_json(json, &error_abort);
    g_autoptr(QDict) rsp = qtest_qmp(qts, "{ 'execute': 'object-add', "
                                     "'arguments': %p }", arguments);
    QDict *err = qdict_get_qdict(rsp, "error");
    const char *desc;

    g_assert_nonnull(err);
    desc = qdict_get_str(err, "desc");
    if (!strstr(desc, message)) {
        g_test_message("error '%s' does not contain '%s'", desc, message);
        g_assert_not_reached();
    }
}

static void test_reject(const void *opaque)
{
    const RejectCase *c = opaque;
    CpHost h;

    cp_host_start(&h, NULL);
    assert_object_add_fails(h.qts, "cp0", c->args, c->message);
    /* The failed object left nothing behind: the id is free again. */
    object_add_ok(h.qts, "cp0", "primary", "127.0.0.1:9");
    object_del_ok(h.qts, "cp0");
    cp_host_stop(&h);
}

/* A netdev carries one colo-proxy; deleting it frees the place. */
static void test_reject_second(void)
{
    CpHost h;

    cp_host_start(&h, PROXY_PRIMARY);
    assert_object_add_fails(h.qts, "cp1", "'netdev': 'hn0', "
                            "'mode': 'secondary', 'addr': ':9000'",
                            "netdev 'hn0' already has colo-proxy 'cp0'");
    object_del_ok(h.qts, "cp0");
    object_add_ok(h.qts, "cp1", "secondary", ":9000");
    cp_host_stop(&h);
}

/* A bad -object stops QEMU at start-up with the same kind of message. */
static void test_reject_cmdline(void)
{
    static const struct {
        const char *object;
        const char *message;
    } cases[] = {
        { "colo-proxy,id=cp0,netdev=hn0,addr=:9000", "'mode'" },
        { "colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=:9000",
          "needs a host" },
        { "colo-proxy,id=cp0,netdev=hn0,mode=primary,queue=rx,addr=h:1",
          "'queue' must be 'all'" },
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");

    g_assert_nonnull(qemu);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *argv[] = {
            qemu, "-M", "none", "-nodefaults", "-display", "none",
            "-netdev", "hubport,id=hn0,hubid=0",
            "-object", cases[i].object, NULL,
        };
        g_autofree char *err = NULL;
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                                   G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                   NULL, &err, &status, NULL));
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        if (!strstr(err, cases[i].message)) {
            g_test_message("stderr '%s' lacks '%s'", err, cases[i].message);
            g_assert_not_reached();
        }
    }
}

/* The frames of every kind the next tests need, in order, both ways. */
static GPtrArray *sample_frames(bool from_guest)
{
    GPtrArray *frames = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_byte_array_unref);
    static const uint8_t big[1460] = { [0] = 1, [1459] = 0xee };

    for (int kind = 0; kind < 4; kind++) {
        bool ipv6 = kind & 1;
        uint16_t vlan = kind & 2 ? 42 : 0;
        CpFlow f = cp_flow(ipv6, vlan, 40000 + kind, 80);

        if (from_guest) {
            f = cp_flow_reverse(&f);
        }
        g_ptr_array_add(frames, cp_frame_tcp(&f, 0xfffffff0, 0,
                                             CP_TCP_SYN, NULL, 0));
        g_ptr_array_add(frames, cp_frame_tcp(&f, 7, 9, CP_TCP_ACK,
                                             big, sizeof(big)));
        g_ptr_array_add(frames, cp_frame_udp(&f, "ping", 4));
    }
    g_ptr_array_add(frames, cp_frame_arp_request(&(CpFlow){
        .src_mac = { 0x52, 0x54, 0, 0, 0, 1 }, .src_ip = { 10, 0, 0, 1 },
        .dst_ip = { 10, 0, 0, 2 } }));
    return frames;
}

static void check_both_ways(CpHost *h)
{
    g_autoptr(GPtrArray) in = sample_frames(false);
    g_autoptr(GPtrArray) out = sample_frames(true);

    for (guint i = 0; i < in->len; i++) {
        cp_send(h->net_fd, in->pdata[i]);
    }
    for (guint i = 0; i < out->len; i++) {
        cp_send(h->guest_fd, out->pdata[i]);
    }
    for (guint i = 0; i < in->len; i++) {
        cp_expect(h->guest_fd, in->pdata[i]);
    }
    for (guint i = 0; i < out->len; i++) {
        cp_expect(h->net_fd, out->pdata[i]);
    }
}

/* Frames cross a netdev carrying colo-proxy unchanged and in order. */
static void test_frames_both_ways(void)
{
    CpHost h;

    cp_host_start(&h, PROXY_PRIMARY);
    check_both_ways(&h);
    cp_host_stop(&h);
}

/* The two-QEMU topology: a primary and a secondary, each with its guest. */
static void test_pair(void)
{
    g_autofree char *dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/link", dir);
    g_autofree char *addr = g_strdup_printf("unix:%s", sock);
    g_autofree char *pri_opts = g_strdup_printf(
        "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=%s", addr);
    g_autofree char *sec_opts = g_strdup_printf(
        "-object colo-proxy,id=cp0,netdev=hn0,mode=secondary,addr=%s", addr);
    CpHost pri, sec;

    cp_host_start(&sec, sec_opts);
    cp_host_start(&pri, pri_opts);
    assert_props(pri.qts, "cp0", "primary", addr);
    assert_props(sec.qts, "cp0", "secondary", addr);
    check_both_ways(&pri);
    check_both_ways(&sec);
    cp_host_stop(&pri);
    cp_host_stop(&sec);
    unlink(sock);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/colo-proxy/harness/frame-builders", test_frame_builders);
    qtest_add_func("/colo-proxy/create/cmdline", test_create_cmdline);
    qtest_add_func("/colo-proxy/create/qmp", test_create_qmp);
    for (size_t i = 0; i < G_N_ELEMENTS(reject_cases); i++) {
        g_autofree char *path = g_strdup_printf("/colo-proxy/reject/%s",
                                                reject_cases[i].name);
        qtest_add_data_func(path, &reject_cases[i], test_reject);
    }
    qtest_add_func("/colo-proxy/reject/second-on-netdev", test_reject_second);
    qtest_add_func("/colo-proxy/reject/cmdline", test_reject_cmdline);
    qtest_add_func("/colo-proxy/frames/both-ways", test_frames_both_ways);
    qtest_add_func("/colo-proxy/frames/pair", test_pair);
    return g_test_run();
}
