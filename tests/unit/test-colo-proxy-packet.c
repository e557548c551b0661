/*
 * Unit tests for colo-proxy's frame parser
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-packet.h"
#include "../qtest/colo-proxy-frames.h"

static ColoPacketKind parse(const GByteArray *b, ColoPacket *p)
{
    return colo_packet_parse(b->data, b->len, p);
}

static void test_tcp(const void *opaque)
{
    bool ipv6 = GPOINTER_TO_INT(opaque) & 1;
    uint16_t vlan = GPOINTER_TO_INT(opaque) & 2 ? 4094 : 0;
    CpFlow f = cp_flow(ipv6, vlan, 40000, 80);
    g_autoptr(GByteArray) b = cp_frame_tcp(&f, 0xfffffff6, 7,
                                           CP_TCP_ACK | CP_TCP_PSH, "abc", 3);
    ColoPacket p;

    g_assert_cmpint(parse(b, &p), ==, COLO_PKT_TCP);
    g_assert_cmpuint(p.vlan, ==, vlan);
    g_assert_cmpuint(p.ip_version, ==, ipv6 ? 6 : 4);
    g_assert_cmpuint(p.sport, ==, 40000);
    g_assert_cmpuint(p.dport, ==, 80);
    g_assert_cmpuint(p.seq, ==, 0xfffffff6);
    g_assert_cmpuint(p.ack, ==, 7);
    g_assert_cmpuint(p.tcp_flags, ==, CP_TCP_ACK | CP_TCP_PSH);
    g_assert_cmpuint(p.payload_len, ==, 3);
    g_assert_cmpmem(b->data + p.payload_off, 3, "abc", 3);
    g_assert_cmpmem(p.src, ipv6 ? 16 : 4, f.src_ip, ipv6 ? 16 : 4);
    g_assert_cmpmem(p.dst, ipv6 ? 16 : 4, f.dst_ip, ipv6 ? 16 : 4);
}

static void test_udp_arp(void)
{
    CpFlow f = cp_flow(false, 0, 5353, 53);
    g_autoptr(GByteArray) udp = cp_frame_udp(&f, "query", 5);
    g_autoptr(GByteArray) arp = cp_frame_arp_request(&f);
    ColoPacket p;

    g_assert_cmpint(parse(udp, &p), ==, COLO_PKT_UDP);
    g_assert_cmpuint(p.payload_len, ==, 5);
    g_assert_cmpuint(p.sport, ==, 5353);
    g_assert_cmpint(parse(arp, &p), ==, COLO_PKT_L2);
    g_assert_cmpuint(p.ethertype, ==, 0x0806);
}

/* Ethernet padding after the IP datagram is not payload. */
static void test_padding(void)
{
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) b = cp_frame_tcp(&f, 1, 1, CP_TCP_ACK, NULL, 0);
    uint8_t pad[6] = { 0 };
    ColoPacket p;

    g_byte_array_append(b, pad, sizeof(pad));
    g_assert_cmpint(parse(b, &p), ==, COLO_PKT_TCP);
    g_assert_cmpuint(p.payload_len, ==, 0);
    g_assert_cmpuint(p.end, ==, b->len - sizeof(pad));
}

static void test_fragments(void)
{
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) mf = cp_frame_udp(&f, "12345678", 8);
    g_autoptr(GByteArray) off = cp_frame_udp(&f, "12345678", 8);
    ColoPacket p;

    mf->data[14 + 6] |= 0x20;           /* more fragments */
    g_assert_cmpint(parse(mf, &p), ==, COLO_PKT_FRAGMENT);
    g_assert_cmpuint(p.proto, ==, IPPROTO_UDP);
    off->data[14 + 7] = 1;              /* offset 8 */
    g_assert_cmpint(parse(off, &p), ==, COLO_PKT_FRAGMENT);
}

/* Insert an IPv6 extension header of @type and @len bytes before L4. */
static GByteArray *with_ext(const GByteArray *b, uint8_t type, size_t len,
                            uint16_t frag)
{
    GByteArray *o = g_byte_array_new();
    uint8_t ext[16] = { 0 };
    uint16_t plen = (b->data[18] << 8 | b->data[19]) + len;

    g_byte_array_append(o, b->data, 54);
    ext[0] = o->data[20];               /* the old next header */
    ext[1] = type == 44 ? 0 : len / 8 - 1;
    ext[2] = frag >> 8;
    ext[3] = frag;
    o->data[20] = type;
    o->data[18] = plen >> 8;
    o->data[19] = plen;
    g_byte_array_append(o, ext, len);
    g_byte_array_append(o, b->data + 54, b->len - 54);
    return o;
}

static void test_ipv6_ext(void)
{
    CpFlow f = cp_flow(true, 0, 1000, 2000);
    g_autoptr(GByteArray) b = cp_frame_tcp(&f, 5, 6, CP_TCP_ACK, "z", 1);
    g_autoptr(GByteArray) hbh = with_ext(b, 0, 16, 0);
    g_autoptr(GByteArray) atomic = with_ext(b, 44, 8, 0);
    g_autoptr(GByteArray) frag = with_ext(b, 44, 8, 1);
    ColoPacket p;

    g_assert_cmpint(parse(hbh, &p), ==, COLO_PKT_TCP);
    g_assert_cmpuint(p.sport, ==, 1000);
    g_assert_cmpuint(p.payload_len, ==, 1);
    /* an atomic fragment (offset 0, M clear) is a whole datagram */
    g_assert_cmpint(parse(atomic, &p), ==, COLO_PKT_TCP);
    g_assert_cmpint(parse(frag, &p), ==, COLO_PKT_FRAGMENT);
    /* an extension header running past the datagram */
    hbh->data[55] = 200;
    g_assert_cmpint(parse(hbh, &p), ==, COLO_PKT_MALFORMED);
    g_assert_cmpint(p.bad, ==, COLO_PKT_BAD_IPV6_EXT);
}

typedef struct BadCase {
    const char *name;
    size_t off;                 /* byte to overwrite in a TCP/IPv4 frame */
    uint8_t val;
    ColoPacketBad bad;
} BadCase;

static const BadCase bad_cases[] = {
    { "version", 14, 0x65, COLO_PKT_BAD_IP_VERSION },
    { "ihl-4", 14, 0x44, COLO_PKT_BAD_IHL },
    { "ihl-15", 14, 0x4f, COLO_PKT_BAD_IHL },
    { "total-short", 17, 19, COLO_PKT_BAD_IP_LEN },
    { "total-long", 16, 0x40, COLO_PKT_BAD_IP_LEN },
    { "doff-4", 46, 0x40, COLO_PKT_BAD_TCP_DOFF },
    { "doff-15", 46, 0xf0, COLO_PKT_BAD_TCP_DOFF },
};

static void test_bad(const void *opaque)
{
    const BadCase *c = opaque;
    CpFlow f = cp_flow(false, 0, 1, 2);
    g_autoptr(GByteArray) b = cp_frame_tcp(&f, 1, 1, CP_TCP_ACK, "data", 4);
    ColoPacket p;

    b->data[c->off] = c->val;
    g_assert_cmpint(parse(b, &p), ==, COLO_PKT_MALFORMED);
    g_assert_cmpint(p.bad, ==, c->bad);
    g_assert_cmpstr(colo_packet_bad_str(p.bad), !=, "?");
}

/*
 * Every truncation of every kind of frame parses without reading past the
 * end (the copy has no slack for ASan/valgrind to hide an overread in).
 */
static void test_truncated(void)
{
    CpFlow f4 = cp_flow(false, 7, 1, 2), f6 = cp_flow(true, 0, 1, 2);
    g_autoptr(GByteArray) tcp6 = cp_frame_tcp(&f6, 1, 1, CP_TCP_ACK, "x", 1);
    GByteArray *frames[] = {
        cp_frame_tcp(&f4, 1, 1, CP_TCP_ACK, "data", 4),
        cp_frame_udp(&f6, "data", 4),
        with_ext(tcp6, 60, 8, 0),
    };

    for (size_t i = 0; i < G_N_ELEMENTS(frames); i++) {
        for (uint32_t len = 0; len < frames[i]->len; len++) {
            g_autofree uint8_t *copy = g_memdup2(frames[i]->data, len);
            ColoPacket p;

            g_assert_cmpint(colo_packet_parse(copy, len, &p), ==,
                            COLO_PKT_MALFORMED);
            g_assert_cmpint(p.bad, !=, COLO_PKT_BAD_NONE);
        }
        g_byte_array_unref(frames[i]);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/colo-proxy-packet/tcp/ipv4", GINT_TO_POINTER(0),
                         test_tcp);
    g_test_add_data_func("/colo-proxy-packet/tcp/ipv6", GINT_TO_POINTER(1),
                         test_tcp);
    g_test_add_data_func("/colo-proxy-packet/tcp/ipv4-vlan",
                         GINT_TO_POINTER(2), test_tcp);
    g_test_add_data_func("/colo-proxy-packet/tcp/ipv6-vlan",
                         GINT_TO_POINTER(3), test_tcp);
    g_test_add_func("/colo-proxy-packet/udp-arp", test_udp_arp);
    g_test_add_func("/colo-proxy-packet/padding", test_padding);
    g_test_add_func("/colo-proxy-packet/fragments", test_fragments);
    g_test_add_func("/colo-proxy-packet/ipv6-ext", test_ipv6_ext);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/colo-proxy-packet/bad/%s",
                                                bad_cases[i].name);
        g_test_add_data_func(path, &bad_cases[i], test_bad);
    }
    g_test_add_func("/colo-proxy-packet/truncated", test_truncated);
    return g_test_run();
}
