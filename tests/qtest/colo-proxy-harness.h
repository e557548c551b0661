/*
 * Fake-guest harness for colo-proxy qtests
 *
 * A test plays the network and the guest of one or two QEMU processes.  In
 * each QEMU the filtered netdev (hn0) is a socket netdev whose other end is
 * the test's "network" fd, and an emulated hub joins it to a second socket
 * netdev whose other end is the test's "guest" fd:
 *
 *   net_fd <-> hn0 [colo-proxy] <-> hub <-> guest0 <-> guest_fd
 *
 * A frame written to net_fd is ingress (it leaves through guest_fd), a
 * frame written to guest_fd is egress (it passes hn0's filters and leaves
 * through net_fd).  Frames on the sockets are framed as the socket netdev
 * frames them: a 4-byte big-endian length, then the frame.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef COLO_PROXY_HARNESS_H
#define COLO_PROXY_HARNESS_H

#include "libqtest.h"

/* Longest a test waits for a frame before it fails (a guard, not a sync). */
#define CP_RECV_TIMEOUT_MS 30000

typedef struct CpHost {
    QTestState *qts;
    int net_fd;
    int guest_fd;
} CpHost;

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

/*
 * Start a QEMU with the fake-guest topology.  @extra is appended to the
 * command line (e.g. "-object colo-proxy,id=cp0,netdev=hn0,..."), may be
 * NULL.
 */
void cp_host_start(CpHost *h, const char *extra);
void cp_host_stop(CpHost *h);

/* Write one frame with the socket netdev's framing. */
void cp_send(int fd, const GByteArray *frame);
/* Read one frame; NULL if none arrived within @timeout_ms. */
GByteArray *cp_recv(int fd, int timeout_ms);
/* Read one frame and check it is byte-for-byte @expected. */
void cp_expect(int fd, const GByteArray *expected);

/* A client-to-guest flow on IPv4 or IPv6, optionally VLAN-tagged. */
CpFlow cp_flow(bool ipv6, uint16_t vlan, uint16_t sport, uint16_t dport);
/* The same flow seen from the other end. */
CpFlow cp_flow_reverse(const CpFlow *f);

GByteArray *cp_frame_tcp(const CpFlow *f, uint32_t seq, uint32_t ack,
                         uint8_t flags, const void *data, size_t len);
GByteArray *cp_frame_udp(const CpFlow *f, const void *data, size_t len);
GByteArray *cp_frame_arp_request(const CpFlow *f);

/* Checks used by the tests of the frame builders themselves. */
bool cp_frame_checksums_ok(const GByteArray *frame);

#endif /* COLO_PROXY_HARNESS_H */
