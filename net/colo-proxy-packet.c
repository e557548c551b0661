/*
 * COLO proxy: bounds-checked frame parsing (no QOM, no I/O)
 *
 * Every read goes through colo_pkt_at(), which returns NULL when the bytes
 * asked for are not all inside the frame; header lengths (IHL, TCP data
 * offset, IPv6 extension lengths, IP total length) are checked before the
 * first use of anything behind them.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "net/colo-proxy-packet.h"

#define ETH_HLEN_        14
#define ETHTYPE_IPV4     0x0800
#define ETHTYPE_IPV6     0x86dd
#define ETHTYPE_8021Q    0x8100
#define ETHTYPE_ARP      0x0806
#define ARP_IPV4_LEN     28
#define IPV6_HLEN        40
/* Longest IPv6 extension header chain we walk before giving up. */
#define IPV6_MAX_EXT     8

static const char *const colo_packet_bad_names[COLO_PKT_BAD__MAX] = {
    [COLO_PKT_BAD_NONE] = "none",
    [COLO_PKT_BAD_SHORT_ETH] = "short-eth",
    [COLO_PKT_BAD_SHORT_IP] = "short-ip",
    [COLO_PKT_BAD_IP_VERSION] = "ip-version",
    [COLO_PKT_BAD_IHL] = "ihl",
    [COLO_PKT_BAD_IP_LEN] = "ip-length",
    [COLO_PKT_BAD_IPV6_EXT] = "ipv6-ext",
    [COLO_PKT_BAD_SHORT_L4] = "short-l4",
    [COLO_PKT_BAD_TCP_DOFF] = "tcp-doff",
};

const char *colo_packet_bad_str(ColoPacketBad bad)
{
    return bad < COLO_PKT_BAD__MAX ? colo_packet_bad_names[bad] : "?";
}

/* @n bytes at @off, or NULL if they are not all inside the frame. */
static const uint8_t *colo_pkt_at(const uint8_t *buf, uint32_t len,
                                  uint32_t off, uint32_t n)
{
    if (off > len || n > len - off) {
        return NULL;
    }
    return buf + off;
}

/* Mark @p malformed for @why; returns false for the callers' convenience. */
static bool colo_pkt_bad(ColoPacket *p, ColoPacketBad why)
{
    p->kind = COLO_PKT_MALFORMED;
    p->bad = why;
    return false;
}

static bool colo_pkt_parse_ipv4(const uint8_t *buf, uint32_t len,
                                ColoPacket *p)
{
    const uint8_t *ip = colo_pkt_at(buf, len, p->l3_off, 20);
    uint32_t ihl, total;

    if (!ip) {
        return colo_pkt_bad(p, COLO_PKT_BAD_SHORT_IP);
    }
    if (ip[0] >> 4 != 4) {
        return colo_pkt_bad(p, COLO_PKT_BAD_IP_VERSION);
    }
    ihl = (ip[0] & 0xf) * 4;
    if (ihl < 20 || !colo_pkt_at(buf, len, p->l3_off, ihl)) {
        return colo_pkt_bad(p, COLO_PKT_BAD_IHL);
    }
    total = lduw_be_p(ip + 2);
    if (total < ihl || !colo_pkt_at(buf, len, p->l3_off, total)) {
        return colo_pkt_bad(p, COLO_PKT_BAD_IP_LEN);
    }
    p->ip_version = 4;
    p->proto = ip[9];
    memcpy(p->src, ip + 12, 4);
    memcpy(p->dst, ip + 16, 4);
    p->l4_off = p->l3_off + ihl;
    p->l4_len = total - ihl;
    p->end = p->l3_off + total;
    /* MF set or a non-zero offset: a fragment, no transport header */
    if (lduw_be_p(ip + 6) & 0x3fff) {
        p->kind = COLO_PKT_FRAGMENT;
    }
    return true;
}

/* Walk hop-by-hop, routing, destination options, AH and fragment headers. */
static bool colo_pkt_parse_ipv6_ext(const uint8_t *buf, ColoPacket *p)
{
    for (int i = 0; i < IPV6_MAX_EXT; i++) {
        const uint8_t *h = colo_pkt_at(buf, p->end, p->l4_off, 8);
        uint32_t hlen;

        switch (p->proto) {
        case 0:     /* hop-by-hop */
        case 43:    /* routing */
        case 60:    /* destination options */
            hlen = h ? (h[1] + 1) * 8 : 0;
            break;
        case 51:    /* AH, RFC 4302: length in 4-octet units, minus 2 */
            hlen = h ? (h[1] + 2) * 4 : 0;
            break;
        case 44:    /* fragment, RFC 8200 4.5 */
            hlen = 8;
            if (h && (lduw_be_p(h + 2) & 0xfff9)) {
                p->kind = COLO_PKT_FRAGMENT;
            }
            break;
        default:
            return true;
        }
        if (!h || !colo_pkt_at(buf, p->end, p->l4_off, hlen)) {
            return colo_pkt_bad(p, COLO_PKT_BAD_IPV6_EXT);
        }
        p->proto = h[0];
        p->l4_off += hlen;
        p->l4_len -= hlen;
        if (p->kind == COLO_PKT_FRAGMENT) {
            return true;
        }
    }
    return colo_pkt_bad(p, COLO_PKT_BAD_IPV6_EXT);
}

static bool colo_pkt_parse_ipv6(const uint8_t *buf, uint32_t len,
                                ColoPacket *p)
{
    const uint8_t *ip = colo_pkt_at(buf, len, p->l3_off, IPV6_HLEN);
    uint32_t plen;

    if (!ip) {
        return colo_pkt_bad(p, COLO_PKT_BAD_SHORT_IP);
    }
    if (ip[0] >> 4 != 6) {
        return colo_pkt_bad(p, COLO_PKT_BAD_IP_VERSION);
    }
    plen = lduw_be_p(ip + 4);
    /* plen 0 means a jumbogram, which no Ethernet NIC can carry */
    if (plen == 0 || !colo_pkt_at(buf, len, p->l3_off + IPV6_HLEN, plen)) {
        return colo_pkt_bad(p, COLO_PKT_BAD_IP_LEN);
    }
    p->ip_version = 6;
    p->proto = ip[6];
    memcpy(p->src, ip + 8, 16);
    memcpy(p->dst, ip + 24, 16);
    p->l4_off = p->l3_off + IPV6_HLEN;
    p->l4_len = plen;
    p->end = p->l4_off + plen;
    return colo_pkt_parse_ipv6_ext(buf, p);
}

static ColoPacketKind colo_pkt_parse_l4(const uint8_t *buf, ColoPacket *p)
{
    const uint8_t *l4 = buf + p->l4_off;
    uint32_t hlen = p->proto == IPPROTO_TCP ? 20 : 8;

    if (p->l4_len < hlen) {
        colo_pkt_bad(p, COLO_PKT_BAD_SHORT_L4);
        return p->kind;
    }
    p->sport = lduw_be_p(l4);
    p->dport = lduw_be_p(l4 + 2);
    if (p->proto == IPPROTO_TCP) {
        hlen = (l4[12] >> 4) * 4;
        if (hlen < 20 || hlen > p->l4_len) {
            colo_pkt_bad(p, COLO_PKT_BAD_TCP_DOFF);
            return p->kind;
        }
        p->seq = ldl_be_p(l4 + 4);
        p->ack = ldl_be_p(l4 + 8);
        p->tcp_flags = l4[13];
        p->tcp_hdr_len = hlen;
    }
    p->payload_off = p->l4_off + hlen;
    p->payload_len = p->l4_len - hlen;
    p->kind = p->proto == IPPROTO_TCP ? COLO_PKT_TCP : COLO_PKT_UDP;
    return p->kind;
}

/* ARP for IPv4 over Ethernet (RFC 826): note its opcode and addresses. */
static void colo_pkt_parse_arp(const uint8_t *buf, uint32_t len,
                               ColoPacket *p)
{
    const uint8_t *arp = colo_pkt_at(buf, len, p->l3_off, ARP_IPV4_LEN);

    if (!arp || lduw_be_p(arp) != 1 || lduw_be_p(arp + 2) != ETHTYPE_IPV4 ||
        arp[4] != 6 || arp[5] != 4 || !lduw_be_p(arp + 6)) {
        return;
    }
    p->arp_op = lduw_be_p(arp + 6);
    memcpy(p->src, arp + 14, 4);
    memcpy(p->dst, arp + 24, 4);
}

ColoPacketKind colo_packet_parse(const uint8_t *buf, uint32_t len,
                                 ColoPacket *p)
{
    const uint8_t *eth = colo_pkt_at(buf, len, 0, ETH_HLEN_);
    bool ok;

    memset(p, 0, sizeof(*p));
    p->kind = COLO_PKT_L2;
    p->end = len;
    if (!eth) {
        colo_pkt_bad(p, COLO_PKT_BAD_SHORT_ETH);
        return p->kind;
    }
    p->ethertype = lduw_be_p(eth + 12);
    p->l3_off = ETH_HLEN_;
    if (p->ethertype == ETHTYPE_8021Q) {
        const uint8_t *tag = colo_pkt_at(buf, len, ETH_HLEN_, 4);

        if (!tag) {
            colo_pkt_bad(p, COLO_PKT_BAD_SHORT_ETH);
            return p->kind;
        }
        p->vlan = lduw_be_p(tag) & 0xfff;
        p->ethertype = lduw_be_p(tag + 2);
        p->l3_off += 4;
    }
    if (p->ethertype == ETHTYPE_IPV4) {
        ok = colo_pkt_parse_ipv4(buf, len, p);
    } else if (p->ethertype == ETHTYPE_IPV6) {
        ok = colo_pkt_parse_ipv6(buf, len, p);
    } else {
        if (p->ethertype == ETHTYPE_ARP) {
            colo_pkt_parse_arp(buf, len, p);
        }
        return p->kind;
    }
    if (!ok || p->kind == COLO_PKT_FRAGMENT) {
        return p->kind;
    }
    p->kind = COLO_PKT_IP;
    p->payload_off = p->l4_off;
    p->payload_len = p->l4_len;
    if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
        return colo_pkt_parse_l4(buf, p);
    }
    return p->kind;
}
