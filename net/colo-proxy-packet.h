/*
 * COLO proxy: bounds-checked frame parsing (no QOM, no I/O)
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_NET_COLO_PROXY_PACKET_H
#define QEMU_NET_COLO_PROXY_PACKET_H

/* What the parser made of a frame. */
typedef enum ColoPacketKind {
    COLO_PKT_L2,            /* not IP (ARP, ...): compared as a whole frame */
    COLO_PKT_IP,            /* IP, a protocol without ports */
    COLO_PKT_TCP,
    COLO_PKT_UDP,
    COLO_PKT_FRAGMENT,      /* an IP fragment: no transport header to use */
    COLO_PKT_MALFORMED,     /* see ColoPacket.bad */
} ColoPacketKind;

/* Why a frame is malformed; a counter each in query-colo-proxy. */
typedef enum ColoPacketBad {
    COLO_PKT_BAD_NONE,
    COLO_PKT_BAD_SHORT_ETH,     /* shorter than its Ethernet/802.1Q header */
    COLO_PKT_BAD_SHORT_IP,      /* shorter than the IP header */
    COLO_PKT_BAD_IP_VERSION,    /* version field disagrees with ethertype */
    COLO_PKT_BAD_IHL,           /* IPv4 header length < 20 or past the end */
    COLO_PKT_BAD_IP_LEN,        /* IP total/payload length past the frame */
    COLO_PKT_BAD_IPV6_EXT,      /* IPv6 extension header chain broken */
    COLO_PKT_BAD_SHORT_L4,      /* shorter than the TCP/UDP header */
    COLO_PKT_BAD_TCP_DOFF,      /* TCP data offset < 5 or past the end */
    COLO_PKT_BAD__MAX,
} ColoPacketBad;

#define COLO_PKT_ADDR_LEN 16

typedef struct ColoPacket {
    ColoPacketKind kind;
    ColoPacketBad bad;
    uint16_t vlan;              /* VID, or 0 */
    uint16_t ethertype;         /* after any 802.1Q tag */
    uint8_t ip_version;         /* 4, 6 or 0 */
    uint8_t proto;              /* IP protocol / IPv6 next header */
    uint32_t l3_off;
    uint32_t l4_off;
    uint32_t l4_len;            /* transport header + payload */
    uint32_t end;               /* end of the IP datagram in the frame */
    uint8_t src[COLO_PKT_ADDR_LEN];  /* IPv4 in the first four bytes */
    uint8_t dst[COLO_PKT_ADDR_LEN];
    uint16_t sport;
    uint16_t dport;
    /* ARP for IPv4 over Ethernet: its opcode; src and dst are SPA, TPA */
    uint16_t arp_op;
    /* TCP only */
    uint32_t seq;
    uint32_t ack;
    uint8_t tcp_flags;
    uint32_t tcp_hdr_len;
    /* TCP and UDP: the payload [payload_off, payload_off + payload_len) */
    uint32_t payload_off;
    uint32_t payload_len;
} ColoPacket;

#define COLO_TCP_FIN 0x01
#define COLO_TCP_SYN 0x02
#define COLO_TCP_RST 0x04
#define COLO_TCP_PSH 0x08
#define COLO_TCP_ACK 0x10

/*
 * Parse @len bytes at @buf (the Ethernet frame, after any vnet header).
 * Never reads outside [buf, buf + len); returns p->kind.
 */
ColoPacketKind colo_packet_parse(const uint8_t *buf, uint32_t len,
                                 ColoPacket *p);

const char *colo_packet_bad_str(ColoPacketBad bad);

#endif /* QEMU_NET_COLO_PROXY_PACKET_H */
