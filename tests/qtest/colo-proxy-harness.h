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
#include "colo-proxy-frames.h"

/* Longest a test waits for a frame before it fails (a guard, not a sync). */
#define CP_RECV_TIMEOUT_MS 30000

typedef struct CpHost {
    QTestState *qts;
    int net_fd;
    int guest_fd;
} CpHost;

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

#endif /* COLO_PROXY_HARNESS_H */
