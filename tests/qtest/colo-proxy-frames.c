/*
 * Frame builders for colo-proxy tests (qtests and unit tests)
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "colo-proxy-frames.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_ARP_ 0x0806
#define ETH_P_VLAN 0x8100
#define ETH_P_IPV6_ 0x86dd

CpFlow cp_flow(bool ipv6, uint16_t vlan, uint16_t sport, uint16_t dport)
{
    CpFlow f = {
        .src_mac = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 },
        .dst_mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
        .vlan = vlan,
        .ipv6 = ipv6,
        .sport = sport,
        .dport = dport,
    };

    if (ipv6) {
        /* 2001:db8::1 -> 2001:db8::2 (RFC 3849 documentation prefix) */
        static const uint8_t pfx[] = { 0x20, 0x01, 0x0d, 0xb8 };

        memcpy(f.src_ip, pfx, sizeof(pfx));
        memcpy(f.dst_ip, pfx, sizeof(pfx));
        f.src_ip[15] = 1;
        f.dst_ip[15] = 2;
    } else {
        /* 10.0.0.1 -> 10.0.0.2: never leave the fake network */
        static const uint8_t src[] = { 10, 0, 0, 1 }, dst[] = { 10, 0, 0, 2 };

        memcpy(f.src_ip, src, sizeof(src));
        memcpy(f.dst_ip, dst, sizeof(dst));
    }
    return f;
}

CpFlow cp_flow_reverse(const CpFlow *f)
{
    CpFlow r = *f;

    memcpy(r.src_mac, f->dst_mac, 6);
    memcpy(r.dst_mac, f->src_mac, 6);
    memcpy(r.src_ip, f->dst_ip, 16);
    memcpy(r.dst_ip, f->src_ip, 16);
    r.sport = f->dport;
    r.dport = f->sport;
    return r;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static uint32_t cp_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (p[i] << 8) | p[i + 1];
    }
    if (len & 1) {
        sum += p[len - 1] << 8;
    }
    return sum;
}

static uint16_t cp_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

/* Sum of the IPv4/IPv6 pseudo header (RFC 793, RFC 8200 8.1). */
static uint32_t cp_pseudo_sum(bool ipv6, const uint8_t *src,
                              const uint8_t *dst, uint8_t proto, size_t len)
{
    size_t alen = ipv6 ? 16 : 4;
    uint32_t sum = cp_sum(cp_sum(0, src, alen), dst, alen);

    return sum + proto + (uint32_t)len;
}

/* Ethernet header, with an 802.1Q tag when @vlan is set. */
static void cp_put_eth(GByteArray *b, const CpFlow *f, uint16_t type)
{
    uint8_t hdr[18];
    size_t n = 12;

    memcpy(hdr, f->dst_mac, 6);
    memcpy(hdr + 6, f->src_mac, 6);
    if (f->vlan) {
        put16(hdr + n, ETH_P_VLAN);
        put16(hdr + n + 2, f->vlan & 0xfff);
        n += 4;
    }
    put16(hdr + n, type);
    g_byte_array_append(b, hdr, n + 2);
}

/* IP header, then @l4 with its checksum at @csum_off filled in. */
static GByteArray *cp_frame_ip(const CpFlow *f, uint8_t proto, uint8_t *l4,
                               size_t l4len, size_t csum_off)
{
    GByteArray *b = g_byte_array_new();
    uint8_t ip[40] = { 0 };
    size_t alen = f->ipv6 ? 16 : 4;
    uint32_t sum;

    cp_put_eth(b, f, f->ipv6 ? ETH_P_IPV6_ : ETH_P_IPV4);
    if (f->ipv6) {
        ip[0] = 0x60;
        put16(ip + 4, l4len);
        ip[6] = proto;
        ip[7] = 64;
        memcpy(ip + 8, f->src_ip, alen);
        memcpy(ip + 24, f->dst_ip, alen);
    } else {
        ip[0] = 0x45;
        put16(ip + 2, 20 + l4len);
        put16(ip + 4, 0x1234);
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, f->src_ip, alen);
        memcpy(ip + 16, f->dst_ip, alen);
        put16(ip + 10, ~cp_fold(cp_sum(0, ip, 20)));
    }
    g_byte_array_append(b, ip, f->ipv6 ? 40 : 20);

    put16(l4 + csum_off, 0);
    sum = cp_pseudo_sum(f->ipv6, f->src_ip, f->dst_ip, proto, l4len);
    put16(l4 + csum_off, ~cp_fold(cp_sum(sum, l4, l4len)));
    g_byte_array_append(b, l4, l4len);
    return b;
}

GByteArray *cp_frame_tcp_opts(const CpFlow *f, uint32_t seq, uint32_t ack,
                              uint8_t flags, const void *opts, size_t optlen,
                              const void *data, size_t len)
{
    size_t hlen = 20 + optlen;
    g_autofree uint8_t *tcp = g_malloc0(hlen + len);

    g_assert(optlen % 4 == 0 && optlen <= 40);
    put16(tcp, f->sport);
    put16(tcp + 2, f->dport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = (hlen / 4) << 4;
    tcp[13] = flags;
    put16(tcp + 14, 64240);
    if (optlen) {
        memcpy(tcp + 20, opts, optlen);
    }
    if (len) {
        memcpy(tcp + hlen, data, len);
    }
    return cp_frame_ip(f, IPPROTO_TCP, tcp, hlen + len, 16);
}

GByteArray *cp_frame_tcp(const CpFlow *f, uint32_t seq, uint32_t ack,
                         uint8_t flags, const void *data, size_t len)
{
    return cp_frame_tcp_opts(f, seq, ack, flags, NULL, 0, data, len);
}

GByteArray *cp_frame_udp(const CpFlow *f, const void *data, size_t len)
{
    g_autofree uint8_t *udp = g_malloc0(8 + len);

    put16(udp, f->sport);
    put16(udp + 2, f->dport);
    put16(udp + 4, 8 + len);
    if (len) {
        memcpy(udp + 8, data, len);
    }
    return cp_frame_ip(f, IPPROTO_UDP, udp, 8 + len, 6);
}

GByteArray *cp_frame_arp_request(const CpFlow *f)
{
    CpFlow bcast = *f;
    GByteArray *b = g_byte_array_new();
    uint8_t arp[28] = { 0 };

    memset(bcast.dst_mac, 0xff, 6);
    cp_put_eth(b, &bcast, ETH_P_ARP_);
    put16(arp, 1);              /* Ethernet */
    put16(arp + 2, ETH_P_IPV4);
    arp[4] = 6;
    arp[5] = 4;
    put16(arp + 6, 1);          /* request */
    memcpy(arp + 8, f->src_mac, 6);
    memcpy(arp + 14, f->src_ip, 4);
    memcpy(arp + 24, f->dst_ip, 4);
    g_byte_array_append(b, arp, sizeof(arp));
    return b;
}

/*
 * Verify IPv4 header and TCP/UDP checksums of a frame the builders made:
 * summing a header including its checksum gives 0xffff.
 */
bool cp_frame_checksums_ok(const GByteArray *frame)
{
    const uint8_t *p = frame->data;
    size_t off = 12, l3, l4len;
    uint16_t type;
    uint8_t proto;
    bool ipv6;

    type = (p[off] << 8) | p[off + 1];
    if (type == ETH_P_VLAN) {
        off += 4;
        type = (p[off] << 8) | p[off + 1];
    }
    l3 = off + 2;
    ipv6 = type == ETH_P_IPV6_;
    if (ipv6) {
        proto = p[l3 + 6];
        l4len = frame->len - l3 - 40;
        off = l3 + 40;
    } else {
        if (cp_fold(cp_sum(0, p + l3, 20)) != 0xffff) {
            return false;
        }
        proto = p[l3 + 9];
        l4len = frame->len - l3 - 20;
        off = l3 + 20;
    }
    return cp_fold(cp_sum(cp_pseudo_sum(ipv6, p + l3 + (ipv6 ? 8 : 12),
                                        p + l3 + (ipv6 ? 24 : 16),
                                        proto, l4len),
                          p + off, l4len)) == 0xffff;
}
