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
#include "qobject/qlist.h"
#include "qapi/error.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "hw/pci/pci_regs.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_pci.h"
#include <sys/un.h>
#include <poll.h>
#include <netinet/in.h>
#include "net/colo-proxy-link.h"
#ifdef CONFIG_TASN1
#include "tests/unit/crypto-tls-x509-helpers.h"
#endif
#include "colo-proxy-harness.h"

/* A primary whose secondary never answers: it passes traffic unprotected */
#define NO_PEER "unix:/nonexistent/colo-proxy.sock"
#define PROXY_PRIMARY \
    "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=" NO_PEER

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
    assert_props(h.qts, "cp0", "primary", NO_PEER);
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
    g_autofree char *dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    g_autofree char *addr = g_strdup_printf("unix:%s/link", dir);
    CpHost h;

    cp_host_start(&h, NULL);
    for (int i = 0; i < 2; i++) {
        object_add_ok(h.qts, "cp0", "secondary", addr);
        assert_props(h.qts, "cp0", "secondary", addr);
        object_del_ok(h.qts, "cp0");
        object_add_ok(h.qts, "cp1", "primary", addr);
        assert_props(h.qts, "cp1", "primary", addr);
        object_del_ok(h.qts, "cp1");
    }
    cp_host_stop(&h);
    rmdir(dir);
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
    { "tls-authz-alone", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'tls-authz': 'auth0'", "'tls-authz' needs" },
    { "tls-creds-missing", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'tls-creds': 'nosuch'", "'tls-creds': 'nosuch'" },
    { "link-timeout-low", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'link-timeout': 5", "'link-timeout' must be" },
    { "max-held-zero", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'max-held': 0", "'max-held' must be" },
    { "http-date-port-0", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'http-date-ports': '80:0'", "'0' is not a TCP port" },
    { "http-date-port-name", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'http-date-ports': 'http'",
      "'http' is not a TCP port" },
    { "http-date-ports-many", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'http-date-ports': '1:2:3:4:5:6:7:8:9'",
      "at most 8 ports" },
    { "http-date-window-big", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'http-date-window': 86401",
      "'http-date-window' must be" },
    { "notify-dev-secondary", "'netdev': 'hn0', 'mode': 'secondary', "
      "'addr': ':9000', 'notify-dev': 'c0'",
      "'notify-dev' is for the primary" },
    { "notify-dev-missing", "'netdev': 'hn0', 'mode': 'primary', "
      "'addr': '" NO_PEER "', 'notify-dev': 'nosuch'",
      "chardev 'nosuch' not found" },
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
    object_add_ok(h.qts, "cp0", "primary", NO_PEER);
    object_del_ok(h.qts, "cp0");
    cp_host_stop(&h);
}

/* A netdev carries one colo-proxy; deleting it frees the place. */
static void test_reject_second(void)
{
    CpHost h;

    cp_host_start(&h, PROXY_PRIMARY);
    assert_object_add_fails(h.qts, "cp1", "'netdev': 'hn0', "
                            "'mode': 'primary', 'addr': '" NO_PEER "'",
                            "netdev 'hn0' already has colo-proxy 'cp0'");
    object_del_ok(h.qts, "cp0");
    object_add_ok(h.qts, "cp1", "primary", NO_PEER);
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
        /*
         * Mid-stream segments (no handshake for the secondary to learn),
         * contiguous across the 2^32 wrap, each carrying data: every
         * one is held on the primary until the secondary sent it too.
         */
        g_ptr_array_add(frames, cp_frame_tcp(&f, 0xffffff00, 9,
                                             CP_TCP_ACK, big, 0x100 - 4));
        g_ptr_array_add(frames, cp_frame_tcp(&f, 0xfffffffc, 9, CP_TCP_ACK,
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

/* ---- the link and the data paths, with two QEMUs ---- */

/*
 * Primary ingress reaches the primary's guest unchanged and the
 * secondary's guest byte-exact and in order; both guests' identical
 * output leaves the primary once, in order, and never the secondary.
 */
static void test_link_mirror(void)
{
    g_autoptr(GPtrArray) in = sample_frames(false);
    g_autoptr(GPtrArray) out = sample_frames(true);
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    for (guint i = 0; i < in->len; i++) {
        cp_send(p.pri.net_fd, in->pdata[i]);
    }
    for (guint i = 0; i < in->len; i++) {
        cp_expect(p.pri.guest_fd, in->pdata[i]);
        cp_expect(p.sec.guest_fd, in->pdata[i]);
    }
    g_assert_cmpuint(cp_stat(p.pri.qts, "mirrored"), ==, in->len);

    for (guint i = 0; i < out->len; i++) {
        cp_send(p.pri.guest_fd, out->pdata[i]);
    }
    cp_wait_stat(p.pri.qts, "held-frames", out->len);
    g_assert_false(cp_pending(p.pri.net_fd));
    for (guint i = 0; i < out->len; i++) {
        cp_send(p.sec.guest_fd, out->pdata[i]);
    }
    for (guint i = 0; i < out->len; i++) {
        cp_expect(p.pri.net_fd, out->pdata[i]);
    }
    g_assert_cmpuint(cp_stat(p.sec.qts, "to-peer"), ==, out->len);
    g_assert_cmpuint(cp_stat(p.pri.qts, "released"), ==, out->len);
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 0);
    g_assert_false(cp_pending(p.sec.net_fd));
    cp_pair_stop(&p);
}

/*
 * While protected, the secondary's own network does not reach its guest:
 * the next frame its guest sees is the next mirrored one.
 */
static void test_link_secondary_ingress(void)
{
    CpFlow f = cp_flow(false, 0, 1234, 80);
    g_autoptr(GByteArray) stray = cp_frame_udp(&f, "stray", 5);
    g_autoptr(GByteArray) mirrored = cp_frame_udp(&f, "mirrored", 8);
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_send(p.sec.net_fd, stray);
    cp_wait_stat(p.sec.qts, "drops.secondary-ingress", 1);
    cp_send(p.pri.net_fd, mirrored);
    cp_expect(p.sec.guest_fd, mirrored);
    cp_expect(p.pri.guest_fd, mirrored);
    g_assert_cmpuint(cp_stat(p.sec.qts, "delivered"), ==, 1);
    cp_pair_stop(&p);
}

/* A checkpoint releases what was held, exactly once. */
static void test_link_checkpoint_release(void)
{
    CpFlow g = cp_flow(false, 0, 7, 8);
    g_autoptr(GByteArray) a = cp_frame_udp(&g, "pvm-only", 8);
    g_autoptr(GByteArray) b = cp_frame_udp(&g, "after", 5);
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_send(p.pri.guest_fd, a);
    cp_wait_stat(p.pri.qts, "held-frames", 1);
    cp_pair_checkpoint(&p);
    cp_expect(p.pri.net_fd, a);
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 0);
    g_assert_cmpuint(cp_stat(p.pri.qts, "checkpoints"), ==, 2);
    /* the next frame out is the next matched one: nothing twice */
    cp_send(p.pri.guest_fd, b);
    cp_send(p.sec.guest_fd, b);
    cp_expect(p.pri.net_fd, b);
    cp_pair_stop(&p);
}

typedef struct SeqCase {
    bool guest_opens;
    uint32_t cisn;          /* the client's */
    uint32_t pisn;          /* the primary VM's */
    uint32_t sisn;          /* the secondary VM's */
} SeqCase;

static uint32_t tcp_field(const GByteArray *b, size_t off)
{
    const uint8_t *t = b->data + 14 + 20 + off;

    return (uint32_t)t[0] << 24 | t[1] << 16 | t[2] << 8 | t[3];
}

/*
 * The secondary's guest sees the client's acks in its own sequence space
 * and its replies reach the primary in the primary's: its data segment
 * matches the primary's byte for byte and releases it.  The ISNs sit
 * next to 2^32, so every number wraps during the exchange.
 */
static void test_seq_translation(const void *opaque)
{
    const SeqCase *c = opaque;
    CpFlow cli = cp_flow(false, 0, 40000, 80);
    CpFlow vm = cp_flow_reverse(&cli);
    g_autoptr(GByteArray) csyn = NULL, psyn = NULL, ssyn = NULL;
    g_autoptr(GByteArray) cack = NULL, got = NULL, pdata = NULL, sdata = NULL;
    uint8_t syn_flags = c->guest_opens ? CP_TCP_SYN : CP_TCP_SYN | CP_TCP_ACK;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    if (c->guest_opens) {
        /* both VMs' SYNs, then the client's SYN-ACK acks the primary's */
        psyn = cp_frame_tcp(&vm, c->pisn, 0, syn_flags, NULL, 0);
        ssyn = cp_frame_tcp(&vm, c->sisn, 0, syn_flags, NULL, 0);
        cack = cp_frame_tcp(&cli, c->cisn, c->pisn + 1,
                            CP_TCP_SYN | CP_TCP_ACK, NULL, 0);
    } else {
        csyn = cp_frame_tcp(&cli, c->cisn, 0, CP_TCP_SYN, NULL, 0);
        cp_send(p.pri.net_fd, csyn);
        cp_expect(p.pri.guest_fd, csyn);
        cp_expect(p.sec.guest_fd, csyn);
        psyn = cp_frame_tcp(&vm, c->pisn, c->cisn + 1, syn_flags, NULL, 0);
        ssyn = cp_frame_tcp(&vm, c->sisn, c->cisn + 1, syn_flags, NULL, 0);
        cack = cp_frame_tcp(&cli, c->cisn + 1, c->pisn + 1, CP_TCP_ACK,
                            "GET", 3);
    }
    cp_send(p.sec.guest_fd, ssyn);
    cp_wait_stat(p.pri.qts, "from-peer", 1);
    cp_send(p.pri.guest_fd, psyn);
    /* the SYNs differ only in their ISNs: that is a match */
    cp_expect(p.pri.net_fd, psyn);

    cp_send(p.pri.net_fd, cack);
    cp_expect(p.pri.guest_fd, cack);
    got = cp_recv(p.sec.guest_fd, CP_RECV_TIMEOUT_MS);
    g_assert_nonnull(got);
    g_assert_cmpuint(got->len, ==, cack->len);
    g_assert_cmphex(tcp_field(got, 8), ==, c->sisn + 1);
    g_assert_cmphex(tcp_field(got, 4), ==, tcp_field(cack, 4));
    g_assert_true(cp_frame_checksums_ok(got));

    pdata = cp_frame_tcp(&vm, c->pisn + 1, c->cisn + 1 + !c->guest_opens * 3,
                         CP_TCP_ACK | CP_TCP_PSH, "200 OK", 6);
    sdata = cp_frame_tcp(&vm, c->sisn + 1, c->cisn + 1 + !c->guest_opens * 3,
                         CP_TCP_ACK | CP_TCP_PSH, "200 OK", 6);
    cp_send(p.pri.guest_fd, pdata);
    cp_send(p.sec.guest_fd, sdata);
    cp_expect(p.pri.net_fd, pdata);
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 0);
    cp_pair_stop(&p);
}

/*
 * After failover the secondary serves its own network, and the
 * connections it learnt during protection keep their translation: the
 * client's acks (primary's numbers) reach its guest in its numbers, and
 * its guest's segments leave in the primary's numbers.
 */
static void test_seq_after_failover(void)
{
    const uint32_t cisn = 0xfffffff0, pisn = 0xfffffffa, sisn = 0x10;
    CpFlow cli = cp_flow(false, 0, 40000, 80);
    CpFlow vm = cp_flow_reverse(&cli);
    g_autoptr(GByteArray) syn = cp_frame_tcp(&cli, cisn, 0, CP_TCP_SYN,
                                             NULL, 0);
    g_autoptr(GByteArray) ssyn = cp_frame_tcp(&vm, sisn, cisn + 1,
                                              CP_TCP_SYN | CP_TCP_ACK,
                                              NULL, 0);
    g_autoptr(GByteArray) ack = cp_frame_tcp(&cli, cisn + 1, pisn + 1,
                                             CP_TCP_ACK, NULL, 0);
    g_autoptr(GByteArray) late = cp_frame_tcp(&cli, cisn + 1, pisn + 5,
                                              CP_TCP_ACK, "more", 4);
    g_autoptr(GByteArray) sdata = cp_frame_tcp(&vm, sisn + 1, cisn + 5,
                                               CP_TCP_ACK, "data", 4);
    g_autoptr(GByteArray) got = NULL, out = NULL;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_send(p.pri.net_fd, syn);
    cp_expect(p.sec.guest_fd, syn);
    cp_send(p.sec.guest_fd, ssyn);
    cp_wait_stat(p.pri.qts, "from-peer", 1);
    cp_send(p.pri.net_fd, ack);
    got = cp_recv(p.sec.guest_fd, CP_RECV_TIMEOUT_MS);
    g_assert_nonnull(got);
    g_assert_cmphex(tcp_field(got, 8), ==, sisn + 1);

    cp_host_stop(&p.pri);
    cp_event(p.sec.qts, "failover");
    cp_send(p.sec.net_fd, late);
    g_byte_array_unref(got);
    got = cp_recv(p.sec.guest_fd, CP_RECV_TIMEOUT_MS);
    g_assert_nonnull(got);
    g_assert_cmphex(tcp_field(got, 8), ==, sisn + 5);
    g_assert_true(cp_frame_checksums_ok(got));
    cp_send(p.sec.guest_fd, sdata);
    out = cp_recv(p.sec.net_fd, CP_RECV_TIMEOUT_MS);
    g_assert_nonnull(out);
    g_assert_cmphex(tcp_field(out, 4), ==, pisn + 1);
    g_assert_true(cp_frame_checksums_ok(out));
    g_assert_cmpuint(cp_stat(p.sec.qts, "failovers"), ==, 1);
    cp_pair_stop(&p);
}

/* The link over TCP on loopback, on a port the kernel picked. */
static void test_link_tcp(void)
{
    CpFlow f = cp_flow(true, 0, 1, 2);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "over tcp", 8);
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t slen = sizeof(sin);
    g_autofree char *pri = NULL, *sec = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CpHost hp, hs;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &slen), ==, 0);
    close(fd);
    sec = g_strdup_printf("-object colo-proxy,id=cp0,netdev=hn0,"
                          "mode=secondary,addr=127.0.0.1:%d,"
                          "allow-unauthenticated=on", ntohs(sin.sin_port));
    pri = g_strdup_printf("-object colo-proxy,id=cp0,netdev=hn0,"
                          "mode=primary,addr=127.0.0.1:%d,"
                          "allow-unauthenticated=on", ntohs(sin.sin_port));
    cp_host_start(&hs, sec);
    cp_host_start(&hp, pri);
    cp_wait_link_up(hp.qts);
    cp_checkpoint(hp.qts, hs.qts);
    cp_send(hp.net_fd, frame);
    cp_expect(hs.guest_fd, frame);
    cp_host_stop(&hp);
    cp_host_stop(&hs);
}

/* A port on loopback that was free a moment ago. */
static char *free_tcp_addr(void)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &slen), ==, 0);
    close(fd);
    return g_strdup_printf("127.0.0.1:%d", ntohs(sin.sin_port));
}

/* A directory with a PSK for the user "qemu", for tls-creds-psk. */
static char *make_psk_dir(void)
{
    char *dir = g_dir_make_tmp("colo-proxy-psk-XXXXXX", NULL);
    g_autofree char *file = g_strdup_printf("%s/keys.psk", dir);

    g_assert_true(g_file_set_contents(file,
        "qemu:9d65162a4b2b3a39d9f94c9a6e5cf4d5c4ea8b6ed5bb6c3a\n", -1, NULL));
    return dir;
}

static void rm_psk_dir(char *dir)
{
    g_autofree char *file = g_strdup_printf("%s/keys.psk", dir);

    unlink(file);
    rmdir(dir);
    g_free(dir);
}

/* The link over TLS (PSK credentials): frames flow as without it. */
static void test_link_tls(void)
{
    char *psk = make_psk_dir();
    g_autofree char *pri = g_strdup_printf(
        "tls-creds=tls0 -object tls-creds-psk,id=tls0,endpoint=client,"
        "dir=%s,username=qemu", psk);
    g_autofree char *sec = g_strdup_printf(
        "tls-creds=tls0 -object tls-creds-psk,id=tls0,endpoint=server,"
        "dir=%s", psk);
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "secret", 6);
    CpPair p;

    cp_pair_start(&p, pri, sec);
    cp_send(p.pri.net_fd, frame);
    cp_expect(p.sec.guest_fd, frame);
    cp_expect(p.pri.guest_fd, frame);
    cp_pair_stop(&p);
    rm_psk_dir(psk);
}

/* A primary without TLS cannot talk to a secondary that requires it. */
static void test_link_tls_refused(void)
{
    char *psk = make_psk_dir();
    g_autofree char *sec = g_strdup_printf(
        "tls-creds=tls0 -object tls-creds-psk,id=tls0,endpoint=server,"
        "dir=%s", psk);
    g_autofree char *pri = NULL;
    CpPair p;

    p.dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    p.addr = g_strdup_printf("unix:%s/link", p.dir);
    cp_pair_start_secondary(&p, sec);
    pri = g_strdup_printf("-object colo-proxy,id=cp0,netdev=hn0,"
                          "mode=primary,addr=%s", p.addr);
    cp_host_start(&p.pri, pri);
    g_free(cp_wait_link_error(p.sec.qts, "TLS handshake failed"));
    cp_pair_stop(&p);
    rm_psk_dir(psk);
}

/* ---- the comparison, end to end ---- */

static char *wait_request(QTestState *qts)
{
    g_autoptr(QDict) ev = NULL;

    /* throttled per second of the virtual clock, as cp_link_event() */
    qtest_clock_step(qts, 1000 * 1000 * 1000);
    ev = qtest_qmp_eventwait_ref(qts, "COLO_PROXY_CHECKPOINT_REQUEST");

    return g_strdup(qdict_get_str(qdict_get_qdict(ev, "data"), "reason"));
}

static uint64_t requests(QTestState *qts)
{
    static const char *const reasons[] = {
        "mismatch-payload", "mismatch-flags", "mismatch-frame", "timeout",
        "queue-connection", "queue-total", "secondary-ahead",
        "connection-evicted", "secondary-only", "resync",
    };
    uint64_t n = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(reasons); i++) {
        g_autofree char *name = g_strdup_printf("checkpoint-requests.%s",
                                                reasons[i]);

        n += cp_stat(qts, name);
    }
    return n;
}

static GByteArray *stream_seg(const CpFlow *f, uint32_t isn, uint32_t off,
                              uint32_t len, int flip)
{
    g_autofree uint8_t *data = g_malloc(len);

    for (uint32_t i = 0; i < len; i++) {
        data[i] = (off + i) * 13;
    }
    if (flip >= 0) {
        data[flip] ^= 1;
    }
    return cp_frame_tcp(f, isn + off, 1, CP_TCP_ACK, data, len);
}

/*
 * The same 3000 bytes, one segment from the primary's guest and three
 * from the secondary's, across the 2^32 wrap: released, no checkpoint.
 */
static void test_cmp_segmentation(void)
{
    CpFlow vm = cp_flow(false, 0, 80, 40000);
    const uint32_t isn = 0xfffffa00;
    g_autoptr(GByteArray) p3000 = stream_seg(&vm, isn, 0, 3000, -1);
    GByteArray *s[] = {
        stream_seg(&vm, isn, 0, 1460, -1),
        stream_seg(&vm, isn, 1460, 1460, -1),
        stream_seg(&vm, isn, 2920, 80, -1),
    };
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_send(p.pri.guest_fd, p3000);
    for (int i = 0; i < 3; i++) {
        cp_send(p.sec.guest_fd, s[i]);
        g_byte_array_unref(s[i]);
    }
    cp_expect(p.pri.net_fd, p3000);
    g_assert_cmpuint(cp_stat(p.pri.qts, "matched-bytes"), ==, 3000);
    g_assert_cmpuint(requests(p.pri.qts), ==, 0);
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 0);
    cp_pair_stop(&p);
}

/* One byte differs: one request, the frame held until the checkpoint. */
static void test_cmp_one_byte(void)
{
    CpFlow vm = cp_flow(false, 0, 80, 40000);
    g_autoptr(GByteArray) a = stream_seg(&vm, 1000, 0, 500, -1);
    g_autoptr(GByteArray) b = stream_seg(&vm, 1000, 0, 500, 321);
    g_autofree char *why = NULL;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_send(p.pri.guest_fd, a);
    cp_send(p.sec.guest_fd, b);
    why = wait_request(p.pri.qts);
    g_assert_cmpstr(why, ==, "mismatch-payload");
    g_assert_cmpuint(requests(p.pri.qts), ==, 1);
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 1);
    g_assert_false(cp_pending(p.pri.net_fd));
    cp_event(p.pri.qts, "checkpoint");
    cp_expect(p.pri.net_fd, a);
    g_assert_cmpuint(cp_stat(p.pri.qts, "released-checkpoint"), ==, 1);
    cp_pair_stop(&p);
}

#define HTTP_RESPONSE(date, body) \
    "HTTP/1.1 200 OK\r\nDate: " date "\r\nContent-Length: 5\r\n\r\n" body

/*
 * An HTTP response whose Date differs by a second: released without a
 * checkpoint on an http-date-ports port, not on another, and a byte of
 * the body still counts.
 */
static void test_cmp_http_date(const void *opaque)
{
    const char *svm = opaque;
    static const char pvm[] = HTTP_RESPONSE("Tue, 01 Dec 2026 05:57:13 GMT",
                                            "hello");
    bool same_body = !strcmp(svm + strlen(svm) - 5, "hello");
    CpFlow vm = cp_flow(false, 0, 80, 40000);
    g_autoptr(GByteArray) syn = cp_frame_tcp(&vm, 999, 1, CP_TCP_SYN |
                                             CP_TCP_ACK, NULL, 0);
    g_autoptr(GByteArray) a = cp_frame_tcp(&vm, 1000, 1, CP_TCP_ACK, pvm,
                                           strlen(pvm));
    g_autoptr(GByteArray) b = cp_frame_tcp(&vm, 1000, 1, CP_TCP_ACK, svm,
                                           strlen(svm));
    CpPair p;

    for (int on = 0; on < 2; on++) {
        cp_pair_start(&p, on ? "http-date-ports=8080:80" : NULL, NULL);
        cp_send(p.pri.guest_fd, syn);
        cp_send(p.sec.guest_fd, syn);
        cp_expect(p.pri.net_fd, syn);
        cp_send(p.pri.guest_fd, a);
        cp_send(p.sec.guest_fd, b);
        if (on && same_body) {
            cp_expect(p.pri.net_fd, a);
            g_assert_cmpuint(cp_stat(p.pri.qts, "http-date-equal"), ==, 1);
            g_assert_cmpuint(requests(p.pri.qts), ==, 0);
        } else {
            g_autofree char *why = wait_request(p.pri.qts);

            g_assert_cmpstr(why, ==, "mismatch-payload");
            g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 1);
        }
        cp_pair_stop(&p);
    }
}

/* Nothing from the secondary: the compare timeout asks for a checkpoint. */
static void test_cmp_timeout(void)
{
    CpFlow vm = cp_flow(true, 0, 80, 40000);
    g_autoptr(GByteArray) a = cp_frame_udp(&vm, "alone", 5);
    g_autofree char *why = NULL;
    CpPair p;

    cp_pair_start(&p, "compare-timeout=50", NULL);
    cp_send(p.pri.guest_fd, a);
    why = wait_request(p.pri.qts);
    g_assert_cmpstr(why, ==, "timeout");
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 1);
    cp_pair_stop(&p);
}

/*
 * A compare timeout past 4294 ms does not overflow 32 bits of
 * nanoseconds (4295 ms would wrap to 27 ms): a frame waits the whole
 * timeout, not a wrapped fraction of it.  Half a second is ten times
 * that fraction and an eighth of the timeout.
 */
static void test_cmp_timeout_long(void)
{
    CpFlow vm = cp_flow(true, 0, 80, 40000);
    g_autoptr(GByteArray) a = cp_frame_udp(&vm, "alone", 5);
    CpPair p;

    cp_pair_start(&p, "compare-timeout=4295", NULL);
    cp_send(p.pri.guest_fd, a);
    cp_wait_stat(p.pri.qts, "held-frames", 1);
    g_usleep(500 * 1000);       /* the time under test, not a wait */
    g_assert_cmpuint(cp_stat(p.pri.qts, "checkpoint-requests.timeout"), ==,
                     0);
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 1);
    cp_event(p.pri.qts, "checkpoint");
    cp_expect(p.pri.net_fd, a);
    cp_pair_stop(&p);
}

/* A connection over its bound asks for a checkpoint; nothing is lost. */
static void test_cmp_queue_bound(void)
{
    CpFlow vm = cp_flow(false, 0, 80, 40000);
    g_autofree char *why = NULL;
    GByteArray *segs[5];
    CpPair p;

    cp_pair_start(&p, "max-conn-held=2", NULL);
    for (int i = 0; i < 5; i++) {
        segs[i] = stream_seg(&vm, 7, i * 10, 10, -1);
        cp_send(p.pri.guest_fd, segs[i]);
    }
    why = wait_request(p.pri.qts);
    g_assert_cmpstr(why, ==, "queue-connection");
    /* past twice the bound the oldest left unmatched, in order */
    cp_expect(p.pri.net_fd, segs[0]);
    cp_event(p.pri.qts, "checkpoint");
    for (int i = 1; i < 5; i++) {
        cp_expect(p.pri.net_fd, segs[i]);
    }
    for (int i = 0; i < 5; i++) {
        g_byte_array_unref(segs[i]);
    }
    g_assert_cmpuint(cp_stat(p.pri.qts, "released-forced"), ==, 1);
    cp_pair_stop(&p);
}

/* ARP and IPv6 are compared, not passed: same passes, different asks. */
static void test_cmp_arp_ipv6(void)
{
    CpFlow v4 = cp_flow(false, 0, 0, 0);
    CpFlow v6 = cp_flow(true, 0, 546, 547);
    g_autoptr(GByteArray) arp = cp_frame_arp_request(&v4);
    g_autoptr(GByteArray) arp2 = cp_frame_arp_request(&v4);
    g_autoptr(GByteArray) u6 = cp_frame_udp(&v6, "dhcpv6", 6);
    g_autoptr(GByteArray) u6b = cp_frame_udp(&v6, "DHCPv6", 6);
    g_autofree char *why = NULL;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_send(p.pri.guest_fd, arp);
    cp_send(p.sec.guest_fd, arp);
    cp_expect(p.pri.net_fd, arp);
    cp_send(p.pri.guest_fd, u6);
    cp_send(p.sec.guest_fd, u6b);
    why = wait_request(p.pri.qts);
    g_assert_cmpstr(why, ==, "mismatch-frame");
    /* the same exchange (opcode and addresses), another sender MAC */
    arp2->data[14 + 8 + 5] ^= 1;
    cp_send(p.pri.guest_fd, arp);
    cp_send(p.sec.guest_fd, arp2);
    cp_wait_stat(p.pri.qts, "checkpoint-requests.mismatch-frame", 2);
    /*
     * The event is throttled to one a second; under qtest the monitor
     * measures that on the virtual clock, which the test steps.
     */
    qtest_clock_step(p.pri.qts, 1000 * 1000 * 1000);
    g_free(why);
    why = wait_request(p.pri.qts);
    g_assert_cmpstr(why, ==, "mismatch-frame");
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 2);
    cp_pair_stop(&p);
}

/* ---- an external COLO frame on the notify channel (Xen's protocol) ---- */

static void notify_send(int fd, const char *msg)
{
    uint8_t len[4];

    stl_be_p(len, strlen(msg));
    g_assert_cmpint(write(fd, len, 4), ==, 4);
    g_assert_cmpint(write(fd, msg, strlen(msg)), ==, strlen(msg));
}

/* The next message from the proxy (the frame's socket is blocking). */
static char *notify_recv(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    uint8_t len[4];
    char *msg;

    g_assert_cmpint(poll(&pfd, 1, CP_RECV_TIMEOUT_MS), ==, 1);
    g_assert_cmpint(read(fd, len, 4), ==, 4);
    g_assert_cmpuint(ldl_be_p(len), <, 64);
    msg = g_malloc0(ldl_be_p(len) + 1);
    g_assert_cmpint(read(fd, msg, ldl_be_p(len)), ==, ldl_be_p(len));
    return msg;
}

/* The INIT handshake doubles as a marker: whatever came before it, came. */
static void notify_expect_init(int fd)
{
    g_autofree char *reply = NULL;

    notify_send(fd, "COLO_USERSPACE_PROXY_INIT");
    reply = notify_recv(fd);
    g_assert_cmpstr(reply, ==, "COLO_COMPARE_GET_XEN_INIT");
}

/* A pair whose primary answers to a frame on @frame_fd. */
static void notify_pair_start(CpPair *p, int *frame_fd)
{
    g_autofree char *opts = NULL;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    opts = g_strdup_printf("notify-dev=notify0 -chardev socket,id=notify0,"
                           "fd=%d", sv[1]);
    cp_pair_start(p, opts, NULL);
    close(sv[1]);
    *frame_fd = sv[0];
}

static void test_notify_init(void)
{
    CpPair p;
    int fd;

    notify_pair_start(&p, &fd);
    notify_expect_init(fd);
    g_assert_cmpuint(cp_stat(p.pri.qts, "notify.inits"), ==, 1);
    close(fd);
    cp_pair_stop(&p);
}

/*
 * A one-byte difference: exactly one DO_CHECKPOINT, the frame held;
 * COLO_CHECKPOINT from the frame releases it, once.
 */
static void test_notify_checkpoint(void)
{
    CpFlow vm = cp_flow(false, 0, 80, 40000);
    g_autoptr(GByteArray) a = stream_seg(&vm, 5, 0, 100, -1);
    g_autoptr(GByteArray) b = stream_seg(&vm, 5, 0, 100, 7);
    g_autoptr(GByteArray) next = stream_seg(&vm, 5, 100, 10, -1);
    g_autofree char *msg = NULL;
    CpPair p;
    int fd;

    notify_pair_start(&p, &fd);
    cp_send(p.pri.guest_fd, a);
    cp_send(p.sec.guest_fd, b);
    msg = notify_recv(fd);
    g_assert_cmpstr(msg, ==, "DO_CHECKPOINT");
    notify_expect_init(fd);         /* and no second DO_CHECKPOINT */
    g_assert_cmpuint(cp_stat(p.pri.qts, "held-frames"), ==, 1);
    g_assert_false(cp_pending(p.pri.net_fd));

    notify_send(fd, "COLO_CHECKPOINT");
    /* the external frame checkpoints the secondary too (filters' event) */
    cp_event(p.sec.qts, "checkpoint");
    cp_wait_stat(p.pri.qts, "peer-checkpoints", 2);
    cp_expect(p.pri.net_fd, a);
    /* the next frame out is the next matched one: released once */
    cp_send(p.pri.guest_fd, next);
    cp_send(p.sec.guest_fd, next);
    cp_expect(p.pri.net_fd, next);
    g_assert_cmpuint(cp_stat(p.pri.qts, "notify.checkpoints"), ==, 1);
    g_assert_cmpuint(cp_stat(p.pri.qts, "notify.requests"), ==, 1);
    close(fd);
    cp_pair_stop(&p);
}

/* Same bytes, other segments: no DO_CHECKPOINT. */
static void test_notify_no_request(void)
{
    CpFlow vm = cp_flow(false, 0, 80, 40000);
    g_autoptr(GByteArray) whole = stream_seg(&vm, 9, 0, 2000, -1);
    g_autoptr(GByteArray) s1 = stream_seg(&vm, 9, 0, 1448, -1);
    g_autoptr(GByteArray) s2 = stream_seg(&vm, 9, 1448, 552, -1);
    CpPair p;
    int fd;

    notify_pair_start(&p, &fd);
    cp_send(p.pri.guest_fd, whole);
    cp_send(p.sec.guest_fd, s1);
    cp_send(p.sec.guest_fd, s2);
    cp_expect(p.pri.net_fd, whole);
    notify_expect_init(fd);         /* the first message is the reply */
    g_assert_cmpuint(cp_stat(p.pri.qts, "notify.requests"), ==, 0);
    close(fd);
    cp_pair_stop(&p);
}

/* Garbage is counted and reported; an oversized length ends reading. */
static void test_notify_garbage(void)
{
    uint8_t huge[4] = { 0, 1, 0, 0 };
    g_autofree char *err = NULL;
    CpPair p;
    int fd;

    notify_pair_start(&p, &fd);
    notify_send(fd, "PLEASE_CRASH");
    cp_wait_stat(p.pri.qts, "notify.errors", 1);
    notify_expect_init(fd);         /* still serving */
    g_assert_cmpint(write(fd, huge, 4), ==, 4);
    cp_wait_stat(p.pri.qts, "notify.errors", 2);
    err = cp_info_str(p.pri.qts, "notify-error");
    g_assert_cmpstr(err, ==, "message of 65536 bytes (at most 64)");
    /* the one COLO started with, none of the garbage's making */
    g_assert_cmpuint(cp_stat(p.pri.qts, "checkpoints"), ==, 1);
    close(fd);
    cp_pair_stop(&p);
}

/* ---- real COLO: two QEMUs under TCG, checkpoints and failover ---- */

static QTestState *colo_qemu_args(const char *dir, bool secondary,
                                  const char *args)
{
    return qtest_initf("-M pc -accel tcg -m 64 -nodefaults "
                       "-netdev hubport,id=hn0,hubid=0 "
                       "-object colo-proxy,id=cp0,netdev=hn0,mode=%s,"
                       "addr=unix:%s/link "
                       "%s%s%s %s",
                       secondary ? "secondary" : "primary", dir,
                       secondary ? "-incoming unix:" : "",
                       secondary ? dir : "",
                       secondary ? "/migrate" : "", args);
}

static QTestState *colo_qemu(const char *dir, bool secondary)
{
    return colo_qemu_args(dir, secondary, "");
}

/* no qtest clock to step under -accel tcg (see cp_link_event()) */
static void colo_wait_link_up(QTestState *pri)
{
    for (gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;;) {
        g_autofree char *state = cp_link_state(pri);

        if (!strcmp(state, "up")) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
    }
}

static void colo_caps(QTestState *qts)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate-set-capabilities', "
                             "'arguments': { 'capabilities': [ "
                             "{ 'capability': 'x-colo', 'state': true } ] } }");
}

/*
 * A diskless COLO pair under TCG checkpoints again and again, and each
 * checkpoint reaches colo-proxy on both sides.  Without the BQL for the
 * dirty bitmap's sync in qemu_savevm_live_state() the primary deadlocks
 * at the first one, and this test hangs.  Then the secondary takes over.
 */
static void test_colo_tcg(void)
{
    g_autofree char *dir = g_dir_make_tmp("colo-proxy-colo-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s/migrate", dir);
    g_autofree char *link = g_strdup_printf("%s/link", dir);
    QTestState *pri, *sec;

    sec = colo_qemu(dir, true);
    colo_caps(sec);
    pri = colo_qemu(dir, false);
    colo_wait_link_up(pri);
    colo_caps(pri);
    qtest_qmp_assert_success(pri, "{ 'execute': 'migrate-set-parameters', "
                             "'arguments': { 'x-checkpoint-delay': 100 } }");
    qtest_qmp_assert_success(pri, "{ 'execute': 'migrate', "
                             "'arguments': { 'uri': %s } }", uri);
    cp_wait_stat(pri, "checkpoints", 3);
    cp_wait_stat(sec, "checkpoints", 3);

    qtest_quit(pri);
    qtest_qmp_assert_success(sec, "{ 'execute': 'x-colo-lost-heartbeat' }");
    cp_wait_stat(sec, "failovers", 1);
    qtest_quit(sec);
    unlink(link);
    unlink(uri + strlen("unix:"));
    rmdir(dir);
}

#ifdef __x86_64__
/* Where the guest of tsc_bios() keeps writing its TSC. */
#define TSC_AT 0x5000
/* a guest that stopped counting, or COLO that never started: a failure */
#define COLO_WAIT_US (60 * G_USEC_PER_SEC)

/*
 * A 64 KiB BIOS that loops reading the TSC into TSC_AT: the reset
 * vector jumps to F000:0000.
 */
static char *tsc_bios(const char *dir)
{
    static const uint8_t code[] = {
        0x31, 0xc0,                     /* xor ax, ax */
        0x8e, 0xd8,                     /* mov ds, ax */
        0x0f, 0x31,                     /* 1: rdtsc */
        0x66, 0xa3, 0x00, 0x50,         /* mov [0x5000], eax */
        0x66, 0x89, 0x16, 0x04, 0x50,   /* mov [0x5004], edx */
        0xeb, 0xf3,                     /* jmp 1b */
    };
    static const uint8_t reset[] = { 0xea, 0x00, 0x00, 0x00, 0xf0 };
    g_autofree uint8_t *rom = g_malloc0(64 * KiB);
    char *path = g_strdup_printf("%s/tsc.bin", dir);

    memcpy(rom, code, sizeof(code));
    memcpy(rom + 64 * KiB - 16, reset, sizeof(reset));
    g_assert_true(g_file_set_contents(path, (char *)rom, 64 * KiB, NULL));
    return path;
}

/* The guest's TSC, once it wrote one other than @old. */
static uint64_t tsc_read_new(QTestState *qts, uint64_t old)
{
    gint64 end = g_get_monotonic_time() + COLO_WAIT_US;
    uint64_t v;

    while ((v = qtest_readq(qts, TSC_AT)) == old) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);     /* polling guest memory: nothing to wait on */
    }
    return v;
}

static void colo_wait_mode(QTestState *qts, const char *mode)
{
    for (gint64 end = g_get_monotonic_time() + COLO_WAIT_US;;) {
        g_autoptr(QDict) rsp = qtest_qmp(qts, "{ 'execute': "
                                         "'query-colo-status' }");

        if (!strcmp(qdict_get_str(qdict_get_qdict(rsp, "return"), "mode"),
                    mode)) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(10000);
    }
}

static void colo_set_delay(QTestState *pri, unsigned ms)
{
    /* setting the delay also checkpoints at once */
    qtest_qmp_assert_success(pri, "{ 'execute': 'migrate-set-parameters', "
                             "'arguments': { 'x-checkpoint-delay': %u } }",
                             ms);
}

/* One checkpoint asked for now, and loaded by the secondary. */
static void colo_checkpoint_now(QTestState *pri, QTestState *sec)
{
    uint64_t n = cp_stat(sec, "checkpoints");

    colo_set_delay(pri, 3600000);
    cp_wait_stat(sec, "checkpoints", n + 1);
}

/*
 * A COLO pair under TCG, both QEMUs with @args, that checkpoints only
 * when asked to, from the moment COLO's start counted as one on both.
 */
static void colo_start_pair(const char *dir, const char *args,
                            QTestState **pri, QTestState **sec)
{
    g_autofree char *uri = g_strdup_printf("unix:%s/migrate", dir);

    *sec = colo_qemu_args(dir, true, args);
    colo_caps(*sec);
    *pri = colo_qemu_args(dir, false, args);
    colo_wait_link_up(*pri);
    colo_caps(*pri);
    qtest_qmp_assert_success(*pri, "{ 'execute': 'migrate-set-parameters', "
                             "'arguments': { 'x-checkpoint-delay': "
                             "3600000 } }");
    qtest_qmp_assert_success(*pri, "{ 'execute': 'migrate', "
                             "'arguments': { 'uri': %s } }", uri);
    colo_wait_mode(*pri, "primary");
    colo_wait_mode(*sec, "secondary");
    /*
     * COLO's start counts as one, and may come after the mode shows; the
     * primary's runs its VM in the same critical section
     */
    cp_wait_stat(*pri, "checkpoints", 1);
    cp_wait_stat(*sec, "checkpoints", 1);
}

/*
 * A checkpoint gives the secondary the primary's TSC, even when the
 * secondary's guest read a later one before: the secondary runs ahead
 * while the primary is stopped, then loads it.  Without forgetting its
 * own history at the load (cpu_timers_post_load()), cpu_get_ticks()
 * takes the loaded TSC for time going backwards and keeps the
 * secondary's: the guest's clock then stays ahead by all that.
 *
 * Not a timing assertion: with the fix the secondary's TSC is at most
 * the primary's frozen one plus the host's ticks since the checkpoint
 * was asked for; the bug leaves it BIG ticks ahead, which the test
 * waited for.
 */
static void test_colo_tsc(void)
{
    const uint64_t big = 4000000000ULL;
    g_autofree char *dir = g_dir_make_tmp("colo-proxy-colo-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s/migrate", dir);
    g_autofree char *link = g_strdup_printf("%s/link", dir);
    g_autofree char *bios = tsc_bios(dir);
    g_autofree char *args = g_strdup_printf("-bios %s", bios);
    uint64_t pvm, svm, host, gap;
    QTestState *pri, *sec;

    colo_start_pair(dir, args, &pri, &sec);

    /*
     * The primary stops; the secondary runs on, far ahead of it.  The
     * stop freezes the primary's TSC at most @gap host ticks after its
     * guest's last rdtsc: its guest read the second new value after it
     * wrote the first, which was after the first rdtsc here.
     */
    host = __builtin_ia32_rdtsc();
    tsc_read_new(pri, tsc_read_new(pri, qtest_readq(pri, TSC_AT)));
    qtest_qmp_assert_success(pri, "{ 'execute': 'stop' }");
    gap = __builtin_ia32_rdtsc() - host;
    pvm = tsc_read_new(pri, 0);
    while (qtest_readq(sec, TSC_AT) < pvm + big) {
        tsc_read_new(sec, qtest_readq(sec, TSC_AT));
    }

    host = __builtin_ia32_rdtsc();
    colo_checkpoint_now(pri, sec);
    svm = tsc_read_new(sec, pvm);
    g_assert_cmpuint(svm - pvm, <=, gap + __builtin_ia32_rdtsc() - host);

    qtest_quit(pri);
    qtest_quit(sec);
    unlink(link);
    unlink(bios);
    unlink(uri + strlen("unix:"));
    rmdir(dir);
}
/* The NIC's legacy I/O BAR and its transmit ring, as a guest sets them */
#define VNET_IO 0xc000
#define VNET_RING 0x100000
#define VNET_PATH "/machine/peripheral/nic0/virtio-backend"

/* A register of the NIC at 00:04.0's config space, written as a guest does */
static void vnet_config_write(QTestState *qts, uint8_t reg, uint32_t val)
{
    qtest_outl(qts, 0xcf8, 0x80000000 | (4 << 11) | reg);
    qtest_outl(qts, 0xcfc, val);
}

static void vnet_set_bus_master(QTestState *qts, bool on)
{
    vnet_config_write(qts, PCI_COMMAND, on ? PCI_COMMAND_MASTER : 0);
}

/* A legacy driver's setup: the transmit queue's ring, then DRIVER_OK. */
static void vnet_driver_ok(QTestState *qts)
{
    vnet_config_write(qts, PCI_BASE_ADDRESS_0, VNET_IO);
    vnet_config_write(qts, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
    qtest_outw(qts, VNET_IO + VIRTIO_PCI_QUEUE_SEL, 1);
    qtest_outl(qts, VNET_IO + VIRTIO_PCI_QUEUE_PFN,
               VNET_RING >> VIRTIO_PCI_QUEUE_ADDR_SHIFT);
    qtest_outb(qts, VNET_IO + VIRTIO_PCI_STATUS,
               VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
               VIRTIO_CONFIG_S_DRIVER_OK);
}

/*
 * Offer the transmit queue one buffer whose descriptor is all zeroes:
 * the device marks itself broken ("zero sized buffers are not allowed").
 */
static void vnet_break(QTestState *qts)
{
    g_autoptr(QDict) rsp = qtest_qmp(qts, "{ 'execute': "
                                     "'x-query-virtio-queue-status', "
                                     "'arguments': { 'path': %s, "
                                     "'queue': 1 } }", VNET_PATH);
    uint64_t avail = qdict_get_int(qdict_get_qdict(rsp, "return"),
                                   "vring-avail");

    qtest_writew(qts, avail + 2, 1);    /* the available ring's index */
    qtest_outw(qts, VNET_IO + VIRTIO_PCI_QUEUE_NOTIFY, 1);
}

static bool vnet_flag(QTestState *qts, const char *name)
{
    g_autoptr(QDict) rsp = qtest_qmp(qts, "{ 'execute': "
                                     "'x-query-virtio-status', 'arguments': "
                                     "{ 'path': %s } }", VNET_PATH);

    return qdict_get_bool(qdict_get_qdict(rsp, "return"), name);
}

static void vnet_wait_flag(QTestState *qts, const char *name)
{
    for (gint64 end = g_get_monotonic_time() + COLO_WAIT_US;;) {
        if (vnet_flag(qts, name)) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(10000);    /* the device's bottom half: nothing to wait on */
    }
}

/*
 * The secondary's virtio-net takes the primary's "disabled" (bus
 * mastering off), "broken" and "started" at every checkpoint, back to
 * false too.  Their subsections are sent only when they are set: without
 * clearing them before the load, the secondary keeps its own, and a NIC
 * that is disabled or broken there sends and takes nothing for good.
 */
static void test_colo_virtio_flags(void)
{
    g_autofree char *dir = g_dir_make_tmp("colo-proxy-colo-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s/migrate", dir);
    g_autofree char *link = g_strdup_printf("%s/link", dir);
    g_autofree char *bios = tsc_bios(dir);
    g_autofree char *args = g_strdup_printf(
        "-bios %s -device virtio-net-pci,id=nic0,netdev=hn0,addr=04.0,"
        "romfile=", bios);
    QTestState *pri, *sec;

    if (!qtest_has_device("virtio-net-pci")) {
        g_test_skip("no virtio-net-pci");
        unlink(bios);
        rmdir(dir);
        return;
    }
    colo_start_pair(dir, args, &pri, &sec);

    vnet_set_bus_master(pri, false);
    g_assert_true(vnet_flag(pri, "disabled"));
    colo_checkpoint_now(pri, sec);
    g_assert_true(vnet_flag(sec, "disabled"));

    vnet_driver_ok(pri);
    g_assert_false(vnet_flag(pri, "disabled"));
    colo_checkpoint_now(pri, sec);
    g_assert_false(vnet_flag(sec, "disabled"));
    g_assert_true(vnet_flag(sec, "started"));

    /* the secondary's own guest breaks its NIC; the primary's is fine */
    vnet_break(sec);
    vnet_wait_flag(sec, "broken");
    colo_checkpoint_now(pri, sec);
    g_assert_false(vnet_flag(sec, "broken"));

    /* the primary's guest resets its NIC */
    qtest_outb(pri, VNET_IO + VIRTIO_PCI_STATUS, 0);
    g_assert_false(vnet_flag(pri, "started"));
    colo_checkpoint_now(pri, sec);
    g_assert_false(vnet_flag(sec, "started"));

    qtest_quit(pri);
    qtest_quit(sec);
    unlink(link);
    unlink(bios);
    unlink(uri + strlen("unix:"));
    rmdir(dir);
}

#endif

/*
 * COLO whose primary colo-proxy has no link (nobody listens) would run
 * unprotected: it does not start, COLO_EXIT says so, the VM stays
 * stopped until the management fails over.
 */
static void test_colo_refused(void)
{
    g_autofree char *dir = g_dir_make_tmp("colo-proxy-colo-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s/migrate", dir);
    g_autoptr(QDict) ev = NULL;
    g_autoptr(QDict) st = NULL;
    QTestState *pri, *sec;

    sec = qtest_initf("-M pc -accel tcg -m 64 -nodefaults "
                      "-netdev hubport,id=hn0,hubid=0 -incoming %s", uri);
    colo_caps(sec);
    pri = colo_qemu(dir, false);
    colo_caps(pri);
    qtest_qmp_assert_success(pri, "{ 'execute': 'migrate', "
                             "'arguments': { 'uri': %s } }", uri);
    ev = qtest_qmp_eventwait_ref(pri, "COLO_EXIT");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "reason"),
                    ==, "error");
    st = qtest_qmp(pri, "{ 'execute': 'query-status' }");
    g_assert_false(qdict_get_bool(qdict_get_qdict(st, "return"),
                                  "running"));
    g_assert_cmpuint(cp_stat(pri, "checkpoints"), ==, 0);
    qtest_qmp_assert_success(pri, "{ 'execute': 'x-colo-lost-heartbeat' }");
    qtest_qmp_assert_success(sec, "{ 'execute': 'x-colo-lost-heartbeat' }");
    qtest_quit(pri);
    qtest_quit(sec);
    unlink(uri + strlen("unix:"));
    rmdir(dir);
}

/* ---- a fake peer speaking the link protocol, to test refusals ---- */

enum { MSG_HELLO = 1, MSG_FRAME = 2, MSG_HEARTBEAT = 3, MSG_BYE = 4 };

/* Append one message of the link protocol to @buf. */
static void peer_msg(GByteArray *buf, uint8_t type, const void *data,
                     uint32_t len)
{
    uint8_t hdr[8] = { type, 0, 0, 0, len >> 24, len >> 16, len >> 8, len };

    g_byte_array_append(buf, hdr, sizeof(hdr));
    g_byte_array_append(buf, data, len);
}

/*
 * Write @buf in one call: a proxy that refuses the first bytes it reads
 * closes the socket, and a later write of the same message would fail.
 */
static void peer_write(int fd, GByteArray *buf)
{
    g_assert_cmpint(send(fd, buf->data, buf->len, MSG_NOSIGNAL), ==,
                    buf->len);
}

static void peer_send(int fd, uint8_t type, const void *data, uint32_t len)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    peer_msg(buf, type, data, len);
    peer_write(fd, buf);
}

/* HELLO: magic, version, role (0 primary, 1 secondary), vnet, max */
static void peer_hello_msg(GByteArray *buf, uint8_t role, bool vnet)
{
    uint8_t h[16] = { 'C', 'O', 'L', 'O', 'P', 'R', 'X', 'Y', 0,
                      COLO_LINK_VERSION, role, vnet, 0, 1, 1, 0 };

    peer_msg(buf, MSG_HELLO, h, sizeof(h));
}

static void peer_hello(int fd, uint8_t role, bool vnet)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();

    peer_hello_msg(buf, role, vnet);
    peer_write(fd, buf);
}

static int peer_connect(const char *addr)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_assert_true(g_str_has_prefix(addr, "unix:"));
    g_strlcpy(un.sun_path, addr + 5, sizeof(un.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    return fd;
}

/* Read what the proxy says until it closes; true if it sent a BYE. */
static bool peer_read_until_closed(int fd)
{
    bool bye = false;
    uint8_t buf[4096];
    ssize_t n;
    GByteArray *all = g_byte_array_new();

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        g_byte_array_append(all, buf, n);
    }
    /* messages: the proxy's HELLO, then maybe BYE */
    for (size_t off = 0; off + 8 <= all->len;) {
        uint32_t len = ldl_be_p(all->data + off + 4);

        bye |= all->data[off] == MSG_BYE;
        off += 8 + len;
    }
    g_byte_array_unref(all);
    close(fd);
    return bye;
}

/* Start a secondary alone and connect to it as a fake primary. */
static int fake_primary(CpPair *p)
{
    p->dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    p->addr = g_strdup_printf("unix:%s/link", p->dir);
    p->pri.qts = NULL;
    cp_pair_start_secondary(p, NULL);
    return peer_connect(p->addr);
}

static void assert_refused(QTestState *qts, const char *why)
{
    g_free(cp_wait_link_error(qts, why));
    g_assert_cmpuint(cp_stat(qts, "link-failures") +
                     cp_stat(qts, "link-refusals.handshake"), >=, 1);
}

/* Another secondary: the same role on both ends is refused. */
static void test_reject_same_role(void)
{
    CpPair p;
    int fd = fake_primary(&p);

    peer_hello(fd, 1, false);
    g_assert_true(peer_read_until_closed(fd));
    assert_refused(p.sec.qts, "same mode");
    cp_pair_stop(&p);
}

static void test_reject_vnet_hdr(void)
{
    CpPair p;
    int fd = fake_primary(&p);

    peer_hello(fd, 0, true);
    g_assert_true(peer_read_until_closed(fd));
    assert_refused(p.sec.qts, "vnet header");
    cp_pair_stop(&p);
}

static void test_reject_garbage(void)
{
    static const char junk[] = "GET / HTTP/1.1\r\nHost: colo\r\n\r\n";
    CpPair p;
    int fd = fake_primary(&p);

    g_assert_cmpint(write(fd, junk, sizeof(junk)), ==, sizeof(junk));
    g_assert_true(peer_read_until_closed(fd));
    assert_refused(p.sec.qts, "handshake refused: unknown message type");
    cp_pair_stop(&p);
}

static void test_reject_oversized(void)
{
    uint8_t hdr[8] = { MSG_FRAME, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
    CpPair p;
    int fd = fake_primary(&p);

    peer_hello(fd, 0, false);
    cp_wait_link_up(p.sec.qts);
    g_assert_cmpint(write(fd, hdr, sizeof(hdr)), ==, sizeof(hdr));
    g_assert_true(peer_read_until_closed(fd));
    assert_refused(p.sec.qts, "protocol error: message length");
    g_assert_cmpuint(cp_stat(p.sec.qts, "from-peer"), ==, 0);
    cp_pair_stop(&p);
}

/* Two real proxies that disagree on the vnet header never link up. */
static void test_reject_vnet_pair(void)
{
    CpPair p;
    g_autofree char *pri = NULL;

    p.dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    p.addr = g_strdup_printf("unix:%s/link", p.dir);
    cp_pair_start_secondary(&p, "vnet-hdr-support=on");
    pri = g_strdup_printf("-object colo-proxy,id=cp0,netdev=hn0,"
                          "mode=primary,addr=%s", p.addr);
    cp_host_start(&p.pri, pri);
    assert_refused(p.pri.qts, "vnet header");
    assert_refused(p.sec.qts, "vnet header");
    cp_pair_stop(&p);
}

/*
 * While a primary is linked, a second one is turned away, after its
 * HELLO, counted, and the first keeps the link.
 */
static void test_reject_busy(void)
{
    CpFlow f = cp_flow(false, 0, 5000, 6000);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "still", 5);
    CpPair p;
    int fd;

    cp_pair_start(&p, NULL, NULL);
    fd = peer_connect(p.addr);
    peer_hello(fd, 0, false);
    g_assert_true(peer_read_until_closed(fd));
    g_assert_cmpuint(cp_stat(p.sec.qts, "link-refusals.busy"), ==, 1);
    g_assert_cmpuint(cp_stat(p.pri.qts, "link-failures"), ==, 0);
    cp_send(p.pri.net_fd, frame);
    cp_expect(p.sec.guest_fd, frame);
    cp_pair_stop(&p);
}

/* ---- hostile peers ---- */

/*
 * A stranger on a TLS secondary's port that speaks the protocol in the
 * clear: its HELLO fails the TLS handshake; the frame after it never
 * reaches the secondary's guest, and nothing of the guest reaches it.
 */
static void test_hostile_no_creds(void)
{
    char *psk = make_psk_dir();
    g_autofree char *sec = g_strdup_printf(
        "tls-creds=tls0 -object tls-creds-psk,id=tls0,endpoint=server,"
        "dir=%s", psk);
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "inject", 6);
    g_autoptr(GByteArray) out = cp_frame_udp(&f, "leak", 4);
    g_autoptr(GByteArray) msgs = g_byte_array_new();
    g_autofree char *state = NULL;
    CpPair p;
    int fd;

    p.dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    p.addr = g_strdup_printf("unix:%s/link", p.dir);
    p.pri.qts = NULL;
    cp_pair_start_secondary(&p, sec);
    fd = peer_connect(p.addr);
    /* one write: the secondary closes once it has read a few bytes */
    peer_hello_msg(msgs, 0, false);
    peer_msg(msgs, MSG_FRAME, frame->data, frame->len);
    peer_write(fd, msgs);
    cp_send(p.sec.guest_fd, out);
    peer_read_until_closed(fd);
    cp_wait_stat(p.sec.qts, "link-refusals.handshake", 1);
    state = cp_link_state(p.sec.qts);
    g_assert_cmpstr(state, ==, "listening");
    g_assert_cmpuint(cp_stat(p.sec.qts, "from-peer"), ==, 0);
    g_assert_cmpuint(cp_stat(p.sec.qts, "to-peer"), ==, 0);
    g_assert_false(cp_pending(p.sec.guest_fd));
    cp_pair_stop(&p);
    rm_psk_dir(psk);
}

/* A unix socket listening at @path, where a fake secondary waits. */
static int fake_listen(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_strlcpy(un.sun_path, path, sizeof(un.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    g_assert_cmpint(listen(fd, 4), ==, 0);
    return fd;
}

/*
 * A fake secondary in front of a TLS primary: it answers the TLS hello
 * with a plain HELLO, the primary's handshake fails, and it gets none
 * of the client ingress the primary's guest receives.
 */
static void test_hostile_fake_secondary(void)
{
    char *psk = make_psk_dir();
    g_autofree char *dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    g_autofree char *path = g_strdup_printf("%s/link", dir);
    g_autofree char *pri = g_strdup_printf(
        "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=unix:%s,"
        "tls-creds=tls0 -object tls-creds-psk,id=tls0,endpoint=client,"
        "dir=%s,username=qemu", path, psk);
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "private", 7);
    int lfd = fake_listen(path);
    g_autofree char *state = NULL;
    uint8_t buf[4096];
    CpHost h;
    int fd;

    cp_host_start(&h, pri);
    fd = accept(lfd, NULL, NULL);
    g_assert_cmpint(read(fd, buf, sizeof(buf)), >, 0);  /* ClientHello */
    peer_hello(fd, 1, false);
    cp_wait_stat(h.qts, "link-refusals.handshake", 1);
    cp_event(h.qts, "checkpoint");
    cp_send(h.net_fd, frame);
    cp_expect(h.guest_fd, frame);
    g_assert_cmpuint(cp_stat(h.qts, "mirrored"), ==, 0);
    state = cp_link_state(h.qts);
    g_assert_cmpstr(state, !=, "up");
    close(fd);
    cp_host_stop(&h);
    close(lfd);
    unlink(path);
    rmdir(dir);
    rm_psk_dir(psk);
}

#ifdef CONFIG_TASN1
/*
 * A CA, a server certificate for 127.0.0.1 and a client certificate
 * named @client in a new directory, as tls-creds-x509 reads them.
 */
static char *make_x509_dir(const char *client)
{
    char *dir = g_dir_make_tmp("colo-proxy-x509-XXXXXX", NULL);
    g_autofree char *key = g_strdup_printf("%s/key.pem", dir);
    g_autofree char *ca = g_strdup_printf("%s/ca-cert.pem", dir);
    g_autofree char *skey = g_strdup_printf("%s/server-key.pem", dir);
    g_autofree char *scert = g_strdup_printf("%s/server-cert.pem", dir);
    g_autofree char *ckey = g_strdup_printf("%s/client-key.pem", dir);
    g_autofree char *ccert = g_strdup_printf("%s/client-cert.pem", dir);

    test_tls_init(key);
    g_assert_cmpint(link(key, skey), ==, 0);
    g_assert_cmpint(link(key, ckey), ==, 0);
    {
        TLS_ROOT_REQ_SIMPLE(careq, ca);
        TLS_CERT_REQ_SIMPLE_CLIENT(creq, careq, client, ccert);
        TLS_CERT_REQ_SIMPLE_SERVER(sreq, careq, scert, NULL, "127.0.0.1");

        test_tls_deinit_cert(&creq);
        test_tls_deinit_cert(&sreq);
        test_tls_deinit_cert(&careq);
    }
    return dir;
}

static void rm_x509_dir(char *dir)
{
    static const char *const files[] = {
        "key.pem", "ca-cert.pem", "server-key.pem", "server-cert.pem",
        "client-key.pem", "client-cert.pem",
    };
    g_autofree char *key = g_strdup_printf("%s/key.pem", dir);

    test_tls_cleanup(key);
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *f = g_strdup_printf("%s/%s", dir, files[i]);

        unlink(f);
    }
    rmdir(dir);
    g_free(dir);
}

/*
 * x509 over TCP, the production setup: the primary checks the
 * secondary's certificate against addr's host, the secondary checks the
 * primary's client certificate and, with tls-authz, its name.  A client
 * certificate of the same CA with another name is refused.
 */
static void test_link_x509(const void *opaque)
{
    const char *client = opaque;
    bool good = !strcmp(client, QCRYPTO_TLS_TEST_CLIENT_NAME);
    char *x509 = make_x509_dir(client);
    g_autofree char *addr = free_tcp_addr();
    g_autofree char *sec = g_strdup_printf(
        "-object tls-creds-x509,id=tls0,endpoint=server,dir=%s,"
        "verify-peer=on -object 'authz-simple,id=auth0,identity=CN=%s' "
        "-object colo-proxy,id=cp0,netdev=hn0,mode=secondary,addr=%s,"
        "tls-creds=tls0,tls-authz=auth0", x509,
        QCRYPTO_TLS_TEST_CLIENT_NAME, addr);
    g_autofree char *pri = g_strdup_printf(
        "-object tls-creds-x509,id=tls0,endpoint=client,dir=%s "
        "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=%s,"
        "tls-creds=tls0", x509, addr);
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "x509", 4);
    g_autofree char *state = NULL;
    CpHost hp, hs;

    cp_host_start(&hs, sec);
    cp_host_start(&hp, pri);
    if (good) {
        cp_wait_link_up(hp.qts);
        cp_wait_link_up(hs.qts);
        cp_checkpoint(hp.qts, hs.qts);
        cp_send(hp.net_fd, frame);
        cp_expect(hs.guest_fd, frame);
    } else {
        g_autofree char *why = NULL;

        cp_wait_stat(hs.qts, "link-refusals.handshake", 2);
        why = cp_info_str(hs.qts, "link-error");
        g_test_message("refused: %s", why);
        g_assert_nonnull(strstr(why, "TLS handshake failed"));
        state = cp_link_state(hs.qts);
        g_assert_cmpstr(state, ==, "listening");
        g_assert_cmpuint(cp_stat(hs.qts, "from-peer"), ==, 0);
    }
    cp_host_stop(&hp);
    cp_host_stop(&hs);
    rm_x509_dir(x509);
}
#endif

/* A primary with the wrong key never gets the link. */
static void test_hostile_wrong_creds(void)
{
    char *psk = make_psk_dir();
    char *bad = g_dir_make_tmp("colo-proxy-psk-XXXXXX", NULL);
    g_autofree char *badfile = g_strdup_printf("%s/keys.psk", bad);
    g_autofree char *sec = g_strdup_printf(
        "tls-creds=tls0 -object tls-creds-psk,id=tls0,endpoint=server,"
        "dir=%s", psk);
    g_autofree char *pri = NULL, *state = NULL;
    CpPair p;

    g_assert_true(g_file_set_contents(badfile,
        "qemu:00112233445566778899aabbccddeeff0011223344556677\n", -1,
        NULL));
    p.dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    p.addr = g_strdup_printf("unix:%s/link", p.dir);
    cp_pair_start_secondary(&p, sec);
    pri = g_strdup_printf("-object colo-proxy,id=cp0,netdev=hn0,"
                          "mode=primary,addr=%s,tls-creds=tls0 "
                          "-object tls-creds-psk,id=tls0,endpoint=client,"
                          "dir=%s,username=qemu", p.addr, bad);
    cp_host_start(&p.pri, pri);
    cp_wait_stat(p.sec.qts, "link-refusals.handshake", 2);
    state = cp_link_state(p.sec.qts);
    g_assert_cmpstr(state, ==, "listening");
    g_assert_cmpuint(cp_stat(p.sec.qts, "from-peer"), ==, 0);
    cp_pair_stop(&p);
    rm_psk_dir(psk);
    rm_psk_dir(bad);
}

/*
 * Silent connections hold no slot: more of them than may be pending
 * evict each other, time out on their own, and the real primary links
 * up while they are there.
 */
static void test_hostile_silent(void)
{
    g_autofree char *pri = NULL;
    int fds[6];
    CpPair p;

    p.dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    p.addr = g_strdup_printf("unix:%s/link", p.dir);
    cp_pair_start_secondary(&p, NULL);
    for (int i = 0; i < 6; i++) {
        fds[i] = peer_connect(p.addr);
    }
    cp_wait_stat(p.sec.qts, "link-refusals.evicted", 2);
    pri = g_strdup_printf("-object colo-proxy,id=cp0,netdev=hn0,"
                          "mode=primary,addr=%s", p.addr);
    cp_host_start(&p.pri, pri);
    cp_wait_link_up(p.sec.qts);
    cp_wait_link_up(p.pri.qts);
    cp_wait_stat(p.sec.qts, "link-refusals.timeout", 1);
    for (int i = 0; i < 6; i++) {
        close(fds[i]);
    }
    cp_pair_stop(&p);
}

/*
 * A slowloris: a HELLO a byte at a time, each within the link timeout
 * of the one before.  The deadline runs from the connection, whatever
 * trickles in: no "up" ever.
 */
static void test_hostile_slowloris(void)
{
    uint8_t h[16] = { 'C', 'O', 'L', 'O', 'P', 'R', 'X', 'Y', 0,
                      COLO_LINK_VERSION, 0, 0, 0, 1, 1, 0 };
    uint8_t hdr[8] = { MSG_HELLO, 0, 0, 0, 0, 0, 0, sizeof(h) };
    g_autofree char *state = NULL;
    CpPair p;
    int fd;

    p.dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    p.addr = g_strdup_printf("unix:%s/link", p.dir);
    p.pri.qts = NULL;
    cp_pair_start_secondary(&p, NULL);
    fd = peer_connect(p.addr);
    g_assert_cmpint(write(fd, hdr, sizeof(hdr)), ==, sizeof(hdr));
    /* a byte every half link timeout (2 s): each in time, all too late */
    for (size_t i = 0; i < sizeof(h); i++) {
        g_usleep(1000 * 1000);
        if (send(fd, h + i, 1, MSG_NOSIGNAL) != 1) {
            break;
        }
    }
    g_assert_false(peer_read_until_closed(fd));
    g_assert_cmpuint(cp_stat(p.sec.qts, "link-refusals.timeout"), ==, 1);
    state = cp_link_state(p.sec.qts);
    g_assert_cmpstr(state, ==, "listening");
    cp_pair_stop(&p);
}

/*
 * A peer's BYE reason reaches QMP and the log as printable ASCII only:
 * no escape sequence, no newline to forge a line of QEMU's.
 */
static void test_hostile_bye_text(void)
{
    static const char evil[] = "\x1b[31mred\nqemu-system-x86_64: forged";
    g_autofree char *err = NULL;
    CpPair p;
    int fd = fake_primary(&p);

    peer_hello(fd, 0, false);
    cp_wait_link_up(p.sec.qts);
    peer_send(fd, MSG_BYE, evil, sizeof(evil) - 1);
    err = cp_wait_link_error(p.sec.qts, "forged");
    g_assert_cmpstr(err, ==, "peer closed the link: "
                    "?[31mred?qemu-system-x86_64: forged");
    close(fd);
    cp_pair_stop(&p);
}

/* A value for qom-set of each property, other than its default. */
static const struct {
    const char *name;
    const char *value;      /* JSON */
} live_props[] = {
    { "mode", "'secondary'" }, { "addr", "'unix:/tmp/x'" },
    { "tls-creds", "'t'" }, { "tls-authz", "'a'" },
    { "allow-unauthenticated", "true" }, { "notify-dev", "'n'" },
    { "vnet-hdr-support", "true" }, { "link-timeout", "5000" },
    { "link-buffer", "33554432" }, { "compare-timeout", "5000" },
    { "max-held", "100" }, { "max-held-bytes", "1048576" },
    { "max-conn-held", "100" }, { "max-conn-held-bytes", "1048576" },
    { "max-ahead", "1048576" }, { "max-ahead-total", "1048576" },
    { "max-connections", "100" }, { "http-date-ports", "'80'" },
    { "http-date-window", "10" }, { "netdev", "'hn1'" },
    { "queue", "'rx'" }, { "status", "'off'" }, { "position", "'head'" },
    { "insert", "'before'" },
};

/*
 * No property of a running proxy can change: each qom-set is refused
 * with an error naming it, and the proxy goes on as before.  Every
 * writable property is in the table: qom-list is checked against it.
 */
static void test_qom_set_live(void)
{
    CpFlow f = cp_flow(false, 0, 5000, 6000);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "same", 4);
    g_autoptr(QDict) list = NULL;
    QListEntry *e;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    list = qtest_qmp(p.pri.qts, "{ 'execute': 'qom-list', "
                     "'arguments': { 'path': '/objects/cp0' } }");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(list, "return"), e) {
        QDict *prop = qobject_to(QDict, qlist_entry_obj(e));
        const char *name = qdict_get_str(prop, "name");
        bool known = !strcmp(name, "type");

        for (size_t i = 0; i < G_N_ELEMENTS(live_props); i++) {
            known |= !strcmp(name, live_props[i].name);
        }
        g_assert_true(known);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(live_props); i++) {
        QObject *value = qobject_from_json(live_props[i].value,
                                           &error_abort);
        g_autoptr(QDict) rsp = qtest_qmp(p.pri.qts,
            "{ 'execute': 'qom-set', 'arguments': { 'path': "
            "'/objects/cp0', 'property': %s, 'value': %p } }",
            live_props[i].name, value);
        QDict *err = qdict_get_qdict(rsp, "error");

        g_test_message("qom-set %s", live_props[i].name);
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(qdict_get_str(err, "desc"),
                                live_props[i].name));
    }
    g_assert_false(qtest_qom_get_bool(p.pri.qts, "/objects/cp0",
                                      "vnet-hdr-support"));
    cp_send(p.pri.net_fd, frame);
    cp_expect(p.sec.guest_fd, frame);
    cp_expect(p.pri.guest_fd, frame);
    cp_pair_stop(&p);
}

/*
 * A secondary whose guest runs ahead on many connections at once (a
 * fake secondary would do the same): what the primary keeps of it is
 * bounded in all, in memory, and a checkpoint is asked for.
 */
static void test_flood_secondary_ahead(void)
{
    g_autofree char *why = NULL;
    CpPair p;

    cp_pair_start(&p, "max-ahead-total=65536", NULL);
    for (int i = 0; i < 400; i++) {
        CpFlow f = cp_flow(false, 0, 80, 10000 + i);
        g_autoptr(GByteArray) seg = cp_frame_tcp(&f, 1000, 1, CP_TCP_ACK |
                                                 CP_TCP_PSH, "x", 1);

        cp_send(p.sec.guest_fd, seg);
    }
    cp_wait_stat(p.pri.qts, "from-peer", 400);
    why = wait_request(p.pri.qts);
    g_assert_cmpstr(why, ==, "secondary-total");
    g_assert_cmpuint(cp_stat(p.pri.qts, "secondary-kept-bytes"), <=, 65536);
    g_assert_cmpuint(cp_stat(p.pri.qts,
                             "checkpoint-requests.secondary-total"), >=, 1);
    cp_pair_stop(&p);
}


/*
 * The secondary stalls (SIGSTOP) for a minute, over TCP: the primary's
 * attempts meanwhile (each with its deadline) must not leave it unable
 * to link once the secondary resumes.  How long that took is printed;
 * the target is two link timeouts (a benchmark's matter, not asserted).
 */
static void test_stall_recover(void)
{
    g_autofree char *addr = free_tcp_addr();
    g_autofree char *sec = g_strdup_printf(
        "-object colo-proxy,id=cp0,netdev=hn0,mode=secondary,addr=%s,"
        "allow-unauthenticated=on", addr);
    g_autofree char *pri = g_strdup_printf(
        "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=%s,"
        "allow-unauthenticated=on", addr);
    const char *env = g_getenv("CP_STALL_S");
    int stall_s = env ? atoi(env) : 60;
    g_autofree char *why = NULL;
    CpFlow f = cp_flow(false, 0, 5000, 6000);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "back", 4);
    gint64 resumed;
    CpHost hp, hs;

    cp_host_start(&hs, sec);
    cp_host_start(&hp, pri);
    cp_wait_link_up(hp.qts);
    kill(qtest_pid(hs.qts), SIGSTOP);
    why = cp_wait_link(hp.qts, false);
    g_usleep(stall_s * G_USEC_PER_SEC);     /* the stall itself */
    kill(qtest_pid(hs.qts), SIGCONT);
    resumed = g_get_monotonic_time();
    cp_wait_link_up(hp.qts);
    cp_wait_link_up(hs.qts);
    g_test_message("link back %" PRId64 " ms after a %d s stall (link "
                   "timeout 2000 ms, the default)",
                   (g_get_monotonic_time() - resumed) / 1000, stall_s);
    cp_checkpoint(hp.qts, hs.qts);
    cp_send(hp.net_fd, frame);
    cp_expect(hs.guest_fd, frame);
    cp_host_stop(&hp);
    cp_host_stop(&hs);
}

/*
 * A fake secondary that completes the handshake and then sends garbage:
 * the primary's backoff must go on growing (50, 100, 200, 400 ms), not
 * start again at every handshake and reconnect ten times a second.
 * Only a lower bound on the time is checked: a slow machine only makes
 * it longer.
 */
static void test_hostile_garbage_after_hello(void)
{
    g_autofree char *dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    g_autofree char *path = g_strdup_printf("%s/link", dir);
    g_autofree char *pri = g_strdup_printf(
        "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=unix:%s,"
        "link-timeout=2000", path);
    static const char junk[] = "\xff\xff garbage";
    int lfd = fake_listen(path);
    gint64 first = 0;
    CpHost h;

    cp_host_start(&h, pri);
    for (int i = 0; i < 5; i++) {
        int fd = accept(lfd, NULL, NULL);
        uint8_t hello[24];

        g_assert_cmpint(fd, >=, 0);
        first = first ? first : g_get_monotonic_time();
        g_assert_cmpint(read(fd, hello, sizeof(hello)), ==, sizeof(hello));
        peer_hello(fd, 1, false);
        g_assert_cmpint(write(fd, junk, sizeof(junk)), ==, sizeof(junk));
        peer_read_until_closed(fd);
    }
    g_assert_cmpint(g_get_monotonic_time() - first, >=, 700 * 1000);
    g_assert_cmpuint(cp_stat(h.qts, "link-failures"), >=, 4);
    cp_host_stop(&h);
    close(lfd);
    unlink(path);
    rmdir(dir);
}

/* A TCP link needs TLS, or the operator's word that the network is safe. */
static void test_auth_required(void)
{
    g_autofree char *addr = free_tcp_addr();
    CpHost h;
    QDict *rsp;

    cp_host_start(&h, NULL);
    rsp = qtest_qmp(h.qts, "{ 'execute': 'object-add', 'arguments': {"
                    " 'qom-type': 'colo-proxy', 'id': 'cp0', "
                    "'netdev': 'hn0', 'mode': 'secondary', "
                    "'addr': %s } }", addr);
    g_assert_true(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "tls-creds"));
    qobject_unref(rsp);
    qtest_qmp_assert_success(h.qts, "{ 'execute': 'object-add', "
                             "'arguments': { 'qom-type': 'colo-proxy', "
                             "'id': 'cp0', 'netdev': 'hn0', "
                             "'mode': 'secondary', 'addr': %s, "
                             "'allow-unauthenticated': true } }", addr);
    cp_host_stop(&h);
}

/*
 * The secondary QEMU goes away and comes back: the primary sees the link
 * go down, passes its guest's output unprotected meanwhile, reconnects by
 * itself, and mirrors again.
 */
static void test_link_recover(void)
{
    CpFlow f = cp_flow(false, 0, 5000, 6000);
    CpFlow r = cp_flow_reverse(&f);
    g_autoptr(GByteArray) alone = cp_frame_udp(&r, "a", 1);
    g_autoptr(GByteArray) again = cp_frame_udp(&f, "again", 5);
    g_autofree char *why = NULL, *state = NULL;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_host_stop(&p.sec);
    why = cp_wait_link(p.pri.qts, false);
    g_assert_cmpstr(why, ==, "peer closed the connection");
    cp_send(p.pri.guest_fd, alone);
    cp_expect(p.pri.net_fd, alone);

    cp_pair_start_secondary(&p, NULL);
    cp_wait_link_up(p.pri.qts);
    cp_wait_link_up(p.sec.qts);
    state = cp_link_state(p.pri.qts);
    g_assert_cmpstr(state, ==, "up");
    g_assert_cmpuint(cp_stat(p.pri.qts, "link-failures"), >=, 1);
    cp_send(p.pri.net_fd, again);
    cp_expect(p.sec.guest_fd, again);
    cp_pair_stop(&p);
}

/*
 * A secondary that stops answering (SIGSTOP) is declared down after the
 * link timeout, and the link comes back when it resumes.
 */
static void test_link_silent_peer(void)
{
    g_autofree char *why = NULL;
    CpPair p;

    cp_pair_start(&p, "link-timeout=300", "link-timeout=300");
    kill(qtest_pid(p.sec.qts), SIGSTOP);
    why = cp_wait_link(p.pri.qts, false);
    g_assert_true(g_str_has_prefix(why, "peer silent for"));
    kill(qtest_pid(p.sec.qts), SIGCONT);
    cp_wait_link_up(p.pri.qts);
    cp_pair_stop(&p);
}

/*
 * A client's ACK that overtakes the secondary guest's SYN-ACK is held on
 * the secondary (its ack names a number the guest has not chosen yet);
 * removing the proxy with frames held leaks nothing and crashes nothing.
 */
static void test_seq_held_at_exit(void)
{
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) syn = cp_frame_tcp(&f, 5, 0, CP_TCP_SYN, NULL, 0);
    g_autoptr(GByteArray) ack = cp_frame_tcp(&f, 6, 9, CP_TCP_ACK, "x", 1);
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_send(p.pri.net_fd, syn);
    cp_send(p.pri.net_fd, ack);
    cp_expect(p.sec.guest_fd, syn);
    cp_wait_stat(p.sec.qts, "from-peer", 2);
    g_assert_cmpuint(cp_stat(p.sec.qts, "delivered"), ==, 1);
    qtest_qmp_assert_success(p.sec.qts, "{ 'execute': 'object-del', "
                             "'arguments': { 'id': 'cp0' } }");
    g_assert_false(cp_pending(p.sec.guest_fd));
    cp_pair_stop(&p);
}

/* ---- protection follows COLO ---- */

/*
 * A primary whose link is up but on which COLO does not run holds
 * nothing: nobody would checkpoint it.  From COLO's start it does.
 */
static void test_protect_colo_only(void)
{
    CpFlow vm = cp_flow(false, 0, 53, 1234);
    g_autoptr(GByteArray) a = cp_frame_udp(&vm, "before-colo", 11);
    g_autoptr(GByteArray) b = cp_frame_udp(&vm, "under-colo", 10);
    CpPair p;

    cp_pair_start_link(&p, NULL, NULL);
    cp_send(p.pri.guest_fd, a);
    cp_expect(p.pri.net_fd, a);
    g_assert_cmpuint(cp_stat(p.pri.qts, "passed"), ==, 1);
    g_assert_cmpuint(cp_stat(p.pri.qts, "mirrored"), ==, 0);
    cp_pair_checkpoint(&p);
    cp_send(p.pri.guest_fd, b);
    cp_wait_stat(p.pri.qts, "held-frames", 1);
    cp_send(p.sec.guest_fd, b);
    cp_expect(p.pri.net_fd, b);
    g_assert_cmpuint(cp_stat(p.pri.qts, "released"), ==, 1);
    cp_pair_stop(&p);
}

/*
 * The link lost during COLO and back: the secondary missed ingress in
 * between, so the primary asks for a checkpoint at once.
 */
static void test_protect_resync(void)
{
    g_autofree char *why = NULL;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_host_stop(&p.sec);
    g_free(cp_wait_link(p.pri.qts, false));
    cp_pair_start_secondary(&p, NULL);
    cp_wait_link_up(p.pri.qts);
    why = wait_request(p.pri.qts);
    g_assert_cmpstr(why, ==, "resync");
    g_assert_cmpuint(cp_stat(p.pri.qts, "checkpoint-requests.resync"), ==, 1);
    cp_pair_stop(&p);
}

/*
 * Properties of a running proxy cannot change: qom-set of mode on a
 * live secondary used to be accepted, and the next frame crashed QEMU.
 */
static void test_qom_set_refused(void)
{
    static const char *const sets[][2] = {
        { "mode", "'primary'" }, { "addr", "'unix:/tmp/x'" },
        { "compare-timeout", "5000" }, { "vnet-hdr-support", "true" },
    };
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) frame = cp_frame_udp(&f, "after", 5);
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(sets); i++) {
        QObject *value = qobject_from_json(sets[i][1], &error_abort);
        g_autoptr(QDict) rsp = qtest_qmp(p.sec.qts, "{ 'execute': 'qom-set',"
                                         " 'arguments': { 'path': "
                                         "'/objects/cp0', 'property': %s, "
                                         "'value': %p } }", sets[i][0],
                                         value);

        g_assert_true(qdict_haskey(rsp, "error"));
        g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                              "desc"), "while it runs"));
    }
    cp_send(p.sec.guest_fd, frame);
    cp_send(p.pri.net_fd, frame);
    cp_expect(p.sec.guest_fd, frame);
    g_assert_cmpuint(cp_stat(p.sec.qts, "to-peer"), ==, 1);
    cp_pair_stop(&p);
}

/* The TCP numbers of a frame. */
static void tcp_numbers(const GByteArray *b, uint32_t *seq, uint32_t *ack)
{
    const uint8_t *t = b->data + 14 + 20;

    *seq = ldl_be_p(t + 4);
    *ack = ldl_be_p(t + 8);
}

static void expect_numbers(int fd, uint32_t seq, uint32_t ack)
{
    g_autoptr(GByteArray) got = cp_recv(fd, CP_RECV_TIMEOUT_MS);
    uint32_t s, a;

    g_assert_nonnull(got);
    tcp_numbers(got, &s, &a);
    g_assert_cmphex(s, ==, seq);
    g_assert_cmphex(a, ==, ack);
    g_assert_true(cp_frame_checksums_ok(got));
}

/*
 * Re-protection of a surviving secondary, and a second failover: a
 * connection opened under the first pair (the secondary's ISN differs
 * from the primary's) keeps its numbers through the survivor's promotion
 * to primary, the new pair's comparison, and the new secondary's
 * takeover, which uses the offsets the promoted primary handed it.
 */
static void test_promote(void)
{
    const uint32_t cisn = 0xfffffff0, pisn = 0x7ffffffe, sisn = 0x1000;
    CpFlow cli = cp_flow(false, 0, 40000, 80), vm = cp_flow_reverse(&cli);
    g_autofree char *addr2 = NULL, *sec2 = NULL, *mode = NULL;
    g_autoptr(GByteArray) f = NULL;
    CpHost s2;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    addr2 = g_strdup_printf("unix:%s/link2", p.dir);
    /* the handshake: the primary's ISN and the secondary's differ */
    f = cp_frame_tcp(&cli, cisn, 0, CP_TCP_SYN, NULL, 0);
    cp_send(p.pri.net_fd, f);
    cp_expect(p.pri.guest_fd, f);
    cp_expect(p.sec.guest_fd, f);
    g_byte_array_unref(f);
    f = cp_frame_tcp(&vm, pisn, cisn + 1, CP_TCP_SYN | CP_TCP_ACK, NULL, 0);
    cp_send(p.pri.guest_fd, f);
    g_byte_array_unref(f);
    f = cp_frame_tcp(&vm, sisn, cisn + 1, CP_TCP_SYN | CP_TCP_ACK, NULL, 0);
    cp_send(p.sec.guest_fd, f);
    expect_numbers(p.pri.net_fd, pisn, cisn + 1);
    g_byte_array_unref(f);
    f = cp_frame_tcp(&cli, cisn + 1, pisn + 1, CP_TCP_ACK, "ab", 2);
    cp_send(p.pri.net_fd, f);
    g_byte_array_unref(f);
    expect_numbers(p.sec.guest_fd, cisn + 1, sisn + 1);

    /* the primary is lost: the secondary takes over */
    cp_host_stop(&p.pri);
    cp_event(p.sec.qts, "failover");
    f = cp_frame_tcp(&vm, sisn + 1, cisn + 3, CP_TCP_ACK, "0123", 4);
    cp_send(p.sec.guest_fd, f);
    g_byte_array_unref(f);
    expect_numbers(p.sec.net_fd, pisn + 1, cisn + 3);

    /* protected again by a new secondary */
    sec2 = g_strdup_printf("-object colo-proxy,id=cp0,netdev=hn0,"
                           "mode=secondary,addr=%s", addr2);
    cp_host_start(&s2, sec2);
    qtest_qmp_assert_success(p.sec.qts, "{ 'execute': 'x-colo-proxy-promote',"
                             " 'arguments': { 'id': 'cp0', 'addr': %s } }",
                             addr2);
    cp_wait_link_up(p.sec.qts);
    cp_checkpoint(p.sec.qts, s2.qts);
    mode = cp_info_str(p.sec.qts, "mode");
    g_assert_cmpstr(mode, ==, "primary");
    cp_wait_stat(s2.qts, "offsets-imported", 1);
    /* the client's ack, in the survivor's numbers, to both guests */
    f = cp_frame_tcp(&cli, cisn + 3, pisn + 5, CP_TCP_ACK, "cd", 2);
    cp_send(p.sec.net_fd, f);
    g_byte_array_unref(f);
    expect_numbers(p.sec.guest_fd, cisn + 3, sisn + 5);
    expect_numbers(s2.guest_fd, cisn + 3, sisn + 5);
    /* both guests' output compared, released in the client's numbers */
    f = cp_frame_tcp(&vm, sisn + 5, cisn + 5, CP_TCP_ACK, "efgh", 4);
    cp_send(p.sec.guest_fd, f);
    cp_wait_stat(p.sec.qts, "held-frames", 1);
    cp_send(s2.guest_fd, f);
    g_byte_array_unref(f);
    expect_numbers(p.sec.net_fd, pisn + 5, cisn + 5);

    /* the promoted primary is lost: the new secondary takes over */
    cp_host_stop(&p.sec);
    cp_event(s2.qts, "failover");
    f = cp_frame_tcp(&cli, cisn + 5, pisn + 9, CP_TCP_ACK, "ij", 2);
    cp_send(s2.net_fd, f);
    g_byte_array_unref(f);
    expect_numbers(s2.guest_fd, cisn + 5, sisn + 9);
    f = cp_frame_tcp(&vm, sisn + 9, cisn + 7, CP_TCP_ACK, "klmn", 4);
    cp_send(s2.guest_fd, f);
    expect_numbers(s2.net_fd, pisn + 9, cisn + 7);
    cp_host_stop(&s2);
    cp_pair_stop(&p);
}

/* Only a secondary that took over can be promoted. */
static void test_promote_refused(void)
{
    g_autoptr(QDict) rsp = NULL;
    g_autofree char *mode = NULL;
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    rsp = qtest_qmp(p.sec.qts, "{ 'execute': 'x-colo-proxy-promote', "
                    "'arguments': { 'id': 'cp0', 'addr': 'unix:/x/y' } }");
    g_assert_true(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    rsp = qtest_qmp(p.pri.qts, "{ 'execute': 'x-colo-proxy-promote', "
                    "'arguments': { 'id': 'cp0', 'addr': 'unix:/x/y' } }");
    g_assert_true(qdict_haskey(rsp, "error"));
    mode = cp_info_str(p.sec.qts, "mode");
    g_assert_cmpstr(mode, ==, "secondary");
    cp_pair_stop(&p);
}

/* ---- checkpoint epochs on the link ---- */

/*
 * Ingress the primary mirrored before its checkpoint, arriving after the
 * secondary's: the reloaded guest has its effect already, it is dropped;
 * what follows the primary's marker is delivered.
 */
static void test_epoch_stale_ingress(void)
{
    CpFlow f = cp_flow(false, 0, 1234, 53);
    g_autoptr(GByteArray) before = cp_frame_udp(&f, "before", 6);
    g_autoptr(GByteArray) after = cp_frame_udp(&f, "after", 5);
    CpPair p;

    cp_pair_start(&p, NULL, NULL);
    cp_event(p.sec.qts, "checkpoint");
    cp_send(p.pri.net_fd, before);
    cp_expect(p.pri.guest_fd, before);
    cp_wait_stat(p.sec.qts, "drops.stale", 1);
    cp_event(p.pri.qts, "checkpoint");
    cp_send(p.pri.net_fd, after);
    cp_expect(p.sec.guest_fd, after);
    g_assert_cmpuint(cp_stat(p.sec.qts, "delivered"), ==, 1);
    cp_pair_stop(&p);
}

/*
 * The secondary's output: from before its reload (it arrives after the
 * primary's checkpoint) it is dropped; from after it (it arrives before
 * the primary's checkpoint) it waits for it, then matches the primary's.
 */
static void test_epoch_secondary_output(void)
{
    CpFlow vm = cp_flow(false, 0, 53, 1234);
    g_autoptr(GByteArray) old = cp_frame_udp(&vm, "old", 3);
    g_autoptr(GByteArray) early = cp_frame_udp(&vm, "early", 5);
    g_autoptr(GByteArray) next = cp_frame_udp(&vm, "next", 4);
    CpPair p;

    cp_pair_start(&p, "compare-timeout=3600000", NULL);
    cp_event(p.pri.qts, "checkpoint");
    cp_send(p.sec.guest_fd, old);
    cp_wait_stat(p.pri.qts, "drops.stale", 1);
    cp_event(p.sec.qts, "checkpoint");
    cp_wait_stat(p.pri.qts, "peer-checkpoints", 2);

    /* the next checkpoint: the secondary is reloaded first and runs */
    cp_event(p.sec.qts, "checkpoint");
    cp_send(p.sec.guest_fd, early);
    cp_wait_stat(p.pri.qts, "from-peer", 2);
    cp_event(p.pri.qts, "checkpoint");
    cp_send(p.pri.guest_fd, early);
    cp_expect(p.pri.net_fd, early);
    cp_send(p.pri.guest_fd, next);
    cp_send(p.sec.guest_fd, next);
    cp_expect(p.pri.net_fd, next);
    g_assert_cmpuint(cp_stat(p.pri.qts, "drops.stale"), ==, 1);
    g_assert_cmpuint(cp_stat(p.pri.qts, "secondary-dropped"), ==, 0);
    cp_pair_stop(&p);
}

/* Frames shorter than an Ethernet header go nowhere, and are counted. */
static void test_frames_runt(void)
{
    g_autoptr(GByteArray) runt = g_byte_array_new();
    g_autoptr(GByteArray) tiny = g_byte_array_new();
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) ok = cp_frame_udp(&f, "ok", 2);
    CpPair p;

    g_byte_array_append(runt, (const uint8_t *)"0123456789", 10);
    g_byte_array_append(tiny, (const uint8_t *)"", 1);
    cp_pair_start(&p, NULL, NULL);
    cp_send(p.pri.guest_fd, runt);
    cp_send(p.pri.guest_fd, tiny);
    cp_send(p.pri.net_fd, runt);
    cp_send(p.sec.guest_fd, runt);
    cp_send(p.sec.net_fd, runt);
    cp_wait_stat(p.pri.qts, "drops.runt", 3);
    cp_wait_stat(p.sec.qts, "drops.runt", 2);
    /* nothing of them anywhere: the next frames out are the good ones */
    cp_send(p.pri.net_fd, ok);
    cp_expect(p.pri.guest_fd, ok);
    cp_expect(p.sec.guest_fd, ok);
    cp_send(p.pri.guest_fd, ok);
    cp_send(p.sec.guest_fd, ok);
    cp_expect(p.pri.net_fd, ok);
    g_assert_false(cp_pending(p.sec.net_fd));
    cp_pair_stop(&p);
}

/* ---- large releases, at the pace the network takes them ---- */

typedef enum BurstEnd {
    BURST_CHECKPOINT,       /* a checkpoint releases them */
    BURST_STOPPED,          /* ... while the VM is stopped, as under COLO */
    BURST_LINK_LOST,        /* the secondary dies: released unprotected */
    BURST_OBJECT_DEL,       /* the proxy is deleted */
} BurstEnd;

enum { BURST_FRAMES = 50000 };

static GByteArray *burst_frame(const CpFlow *f, uint32_t i)
{
    char tag[16];

    snprintf(tag, sizeof(tag), "%08" PRIu32, i);
    return cp_frame_udp(f, tag, 8);
}

/*
 * 50000 frames of the primary's guest are held, then let go at once;
 * the network takes them only as fast as the test reads (a small socket
 * buffer), while QEMU's net queue would keep just 10000.  Every frame
 * arrives, once, in order, and "released" counts what really left.
 */
static void test_release_burst(const void *opaque)
{
    BurstEnd end = GPOINTER_TO_INT(opaque);
    CpFlow vm = cp_flow(false, 0, 80, 40000);
    CpPair p;

    cp_set_net_buf(16 * 1024);
    cp_pair_start(&p, "max-held=60000,max-conn-held=60000", NULL);
    cp_set_net_buf(0);
    for (uint32_t i = 0; i < BURST_FRAMES; i++) {
        g_autoptr(GByteArray) f = burst_frame(&vm, i);

        cp_send(p.pri.guest_fd, f);
    }
    cp_wait_stat(p.pri.qts, "held-frames", BURST_FRAMES);
    switch (end) {
    case BURST_CHECKPOINT:
        cp_event(p.pri.qts, "checkpoint");
        break;
    case BURST_STOPPED:
        qtest_qmp_assert_success(p.pri.qts, "{ 'execute': 'stop' }");
        cp_event(p.pri.qts, "checkpoint");
        qtest_qmp_assert_success(p.pri.qts, "{ 'execute': 'cont' }");
        break;
    case BURST_LINK_LOST:
        cp_host_stop(&p.sec);
        break;
    case BURST_OBJECT_DEL:
        qtest_qmp_assert_success(p.pri.qts, "{ 'execute': 'object-del', "
                                 "'arguments': { 'id': 'cp0' } }");
        break;
    }
    for (uint32_t i = 0; i < BURST_FRAMES; i++) {
        g_autoptr(GByteArray) want = burst_frame(&vm, i);

        cp_expect(p.pri.net_fd, want);
    }
    if (end != BURST_OBJECT_DEL) {
        g_assert_cmpuint(cp_stat(p.pri.qts, "released"), ==, BURST_FRAMES);
        g_assert_cmpuint(cp_stat(p.pri.qts, "pending-frames"), ==, 0);
        g_assert_cmpuint(cp_stat(p.pri.qts, "drops.pending-full"), ==, 0);
    }
    g_assert_false(cp_pending(p.pri.net_fd));
    cp_pair_stop(&p);
}

static const SeqCase seq_cases[] = {
    { false, 0xfffffffe, 0xfffffff0, 0x7ffffff8 },
    { false, 0x00000001, 0xffffffff, 0xfffffff6 },
    { true, 0xfffffff6, 0xfffffffe, 0xffffffff },
    { true, 0x7fffffff, 0x00000000, 0xfffffff0 },
};

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
    qtest_add_func("/colo-proxy/link/mirror", test_link_mirror);
    qtest_add_func("/colo-proxy/link/secondary-ingress",
                   test_link_secondary_ingress);
    qtest_add_func("/colo-proxy/link/checkpoint-release",
                   test_link_checkpoint_release);
    for (size_t i = 0; i < G_N_ELEMENTS(seq_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/colo-proxy/seq/%s-open/%08x-%08x-%08x",
            seq_cases[i].guest_opens ? "guest" : "client",
            seq_cases[i].cisn, seq_cases[i].pisn, seq_cases[i].sisn);
        qtest_add_data_func(path, &seq_cases[i], test_seq_translation);
    }
    qtest_add_func("/colo-proxy/seq/held-at-exit", test_seq_held_at_exit);
    qtest_add_func("/colo-proxy/seq/after-failover", test_seq_after_failover);
    qtest_add_func("/colo-proxy/link/tcp", test_link_tcp);
    qtest_add_func("/colo-proxy/compare/segmentation", test_cmp_segmentation);
    qtest_add_func("/colo-proxy/compare/one-byte", test_cmp_one_byte);
    qtest_add_data_func("/colo-proxy/compare/http-date",
                        HTTP_RESPONSE("Tue, 01 Dec 2026 05:57:14 GMT", "hello"),
                        test_cmp_http_date);
    qtest_add_data_func("/colo-proxy/compare/http-date-body",
                        HTTP_RESPONSE("Tue, 01 Dec 2026 05:57:14 GMT", "hellO"),
                        test_cmp_http_date);
    qtest_add_func("/colo-proxy/compare/timeout", test_cmp_timeout);
    qtest_add_func("/colo-proxy/compare/queue-bound", test_cmp_queue_bound);
    qtest_add_func("/colo-proxy/compare/arp-ipv6", test_cmp_arp_ipv6);
    qtest_add_func("/colo-proxy/colo/tcg", test_colo_tcg);
#ifdef __x86_64__
    qtest_add_func("/colo-proxy/colo/tsc", test_colo_tsc);
    qtest_add_func("/colo-proxy/colo/virtio-flags", test_colo_virtio_flags);
#endif
    qtest_add_func("/colo-proxy/colo/refused", test_colo_refused);
    qtest_add_func("/colo-proxy/protect/colo-only", test_protect_colo_only);
    qtest_add_func("/colo-proxy/protect/resync", test_protect_resync);
    qtest_add_func("/colo-proxy/qom-set/refused", test_qom_set_refused);
    qtest_add_func("/colo-proxy/promote/two-failovers", test_promote);
    qtest_add_func("/colo-proxy/promote/refused", test_promote_refused);
    qtest_add_func("/colo-proxy/notify/init", test_notify_init);
    qtest_add_func("/colo-proxy/notify/checkpoint", test_notify_checkpoint);
    qtest_add_func("/colo-proxy/notify/no-request", test_notify_no_request);
    qtest_add_func("/colo-proxy/notify/garbage", test_notify_garbage);
    qtest_add_func("/colo-proxy/link/tls", test_link_tls);
    qtest_add_func("/colo-proxy/link/tls-refused", test_link_tls_refused);
    qtest_add_func("/colo-proxy/security/auth-required", test_auth_required);
    qtest_add_func("/colo-proxy/security/no-creds", test_hostile_no_creds);
    qtest_add_func("/colo-proxy/security/wrong-creds",
                   test_hostile_wrong_creds);
    qtest_add_func("/colo-proxy/security/fake-secondary",
                   test_hostile_fake_secondary);
#ifdef CONFIG_TASN1
    qtest_add_data_func("/colo-proxy/security/x509",
                        QCRYPTO_TLS_TEST_CLIENT_NAME, test_link_x509);
    qtest_add_data_func("/colo-proxy/security/x509-wrong-name",
                        QCRYPTO_TLS_TEST_CLIENT_HOSTILE_NAME, test_link_x509);
#endif
    qtest_add_func("/colo-proxy/security/silent", test_hostile_silent);
    qtest_add_func("/colo-proxy/security/slowloris", test_hostile_slowloris);
    qtest_add_func("/colo-proxy/security/bye-text", test_hostile_bye_text);
    qtest_add_func("/colo-proxy/security/garbage-after-hello",
                   test_hostile_garbage_after_hello);
    qtest_add_func("/colo-proxy/security/qom-set-live", test_qom_set_live);
    qtest_add_func("/colo-proxy/security/flood-secondary-ahead",
                   test_flood_secondary_ahead);
    qtest_add_func("/colo-proxy/security/stall-recover", test_stall_recover);
    qtest_add_func("/colo-proxy/security/compare-timeout-long",
                   test_cmp_timeout_long);
    qtest_add_func("/colo-proxy/link/reject/same-role", test_reject_same_role);
    qtest_add_func("/colo-proxy/link/reject/vnet-hdr", test_reject_vnet_hdr);
    qtest_add_func("/colo-proxy/link/reject/vnet-hdr-pair",
                   test_reject_vnet_pair);
    qtest_add_func("/colo-proxy/link/reject/garbage", test_reject_garbage);
    qtest_add_func("/colo-proxy/link/reject/oversized",
                   test_reject_oversized);
    qtest_add_func("/colo-proxy/link/reject/busy", test_reject_busy);
    qtest_add_func("/colo-proxy/link/recover", test_link_recover);
    qtest_add_func("/colo-proxy/link/silent-peer", test_link_silent_peer);
    qtest_add_func("/colo-proxy/epoch/stale-ingress",
                   test_epoch_stale_ingress);
    qtest_add_func("/colo-proxy/epoch/secondary-output",
                   test_epoch_secondary_output);
    qtest_add_func("/colo-proxy/frames/runt", test_frames_runt);
    qtest_add_data_func("/colo-proxy/release/burst/checkpoint",
                        GINT_TO_POINTER(BURST_CHECKPOINT), test_release_burst);
    qtest_add_data_func("/colo-proxy/release/burst/vm-stopped",
                        GINT_TO_POINTER(BURST_STOPPED), test_release_burst);
    qtest_add_data_func("/colo-proxy/release/burst/link-lost",
                        GINT_TO_POINTER(BURST_LINK_LOST), test_release_burst);
    qtest_add_data_func("/colo-proxy/release/burst/object-del",
                        GINT_TO_POINTER(BURST_OBJECT_DEL), test_release_burst);
    return g_test_run();
}
