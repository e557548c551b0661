/*
 * Frame builders for colo-proxy tests (qtests and unit tests)
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef COLO_PROXY_FRAMES_H
#define COLO_PROXY_FRAMES_H

/* Addresses of one flow, as the sender of a frame sees them. */
typedef struct CpFlow {
    uint8_t src_mac[6];
    uint8_t dst_mac[6];
    uint16_t vlan;          /* 802.1Q VID, 0 for an untagged frame */
    bool ipv6;
    uint8_t src_ip[16];     /* IPv4 uses the first four bytes */
    uint8_t dst_ip[16];
    uint16_t sport;
    uint16_t dport;
} CpFlow;

enum {
    CP_TCP_FIN = 0x01,
    CP_TCP_SYN = 0x02,
    CP_TCP_RST = 0x04,
    CP_TCP_PSH = 0x08,
    CP_TCP_ACK = 0x10,
};

/* A client-to-guest flow on IPv4 or IPv6, optionally VLAN-tagged. */
CpFlow cp_flow(bool ipv6, uint16_t vlan, uint16_t sport, uint16_t dport);
/* The same flow seen from the other end. */
CpFlow cp_flow_reverse(const CpFlow *f);

GByteArray *cp_frame_tcp(const CpFlow *f, uint32_t seq, uint32_t ack,
                         uint8_t flags, const void *data, size_t len);
/* A TCP frame with @optlen bytes of options (a multiple of 4). */
GByteArray *cp_frame_tcp_opts(const CpFlow *f, uint32_t seq, uint32_t ack,
                              uint8_t flags, const void *opts, size_t optlen,
                              const void *data, size_t len);
GByteArray *cp_frame_udp(const CpFlow *f, const void *data, size_t len);
GByteArray *cp_frame_arp_request(const CpFlow *f);

/* Checks used by the tests of the frame builders themselves. */
bool cp_frame_checksums_ok(const GByteArray *frame);

#endif /* COLO_PROXY_FRAMES_H */
