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
/*
 * Give QEMU's end of the network socket of the hosts started from now on
 * a send buffer of @bytes (0: the large default), so that the "network"
 * takes frames only as fast as the test reads them.
 */
void cp_set_net_buf(int bytes);
void cp_host_stop(CpHost *h);

/* Write one frame with the socket netdev's framing. */
void cp_send(int fd, const GByteArray *frame);
/* Read one frame; NULL if none arrived within @timeout_ms. */
GByteArray *cp_recv(int fd, int timeout_ms);
/* Read one frame and check it is byte-for-byte @expected. */
void cp_expect(int fd, const GByteArray *expected);

/* A primary and a secondary QEMU joined by colo-proxy over a unix socket. */
typedef struct CpPair {
    CpHost pri;
    CpHost sec;
    char *dir;              /* temporary directory of the link socket */
    char *addr;             /* "unix:PATH" */
} CpPair;

/*
 * Start the secondary, then the primary, each with colo-proxy "cp0" on
 * hn0 plus @pri_opts / @sec_opts appended to its -object (may be NULL),
 * wait until both report the link up, then start COLO as QEMU's COLO
 * threads do: a checkpoint event on each side (cp_pair_checkpoint()),
 * from which on the proxies protect.
 */
void cp_pair_start(CpPair *p, const char *pri_opts, const char *sec_opts);
/* The same with the link up, but COLO not started. */
void cp_pair_start_link(CpPair *p, const char *pri_opts,
                        const char *sec_opts);
void cp_pair_stop(CpPair *p);
/* (Re)start the secondary of @p alone, not waiting for the link. */
void cp_pair_start_secondary(CpPair *p, const char *sec_opts);

/* Wait for a COLO_PROXY_LINK event with up == @up; returns its reason. */
/* The next COLO_PROXY_LINK event (throttled by QEMU, see the code). */
QDict *cp_link_event(QTestState *qts);
char *cp_wait_link(QTestState *qts, bool up);
/* Wait until the link of the first colo-proxy is up. */
void cp_wait_link_up(QTestState *qts);
/* Wait until its last link error contains @part; returns the error. */
char *cp_wait_link_error(QTestState *qts, const char *part);

/*
 * A counter of the first colo-proxy, from query-colo-proxy: @name is a
 * member of "stats", or a path into it such as "drops.link-full".
 */
uint64_t cp_stat(QTestState *qts, const char *name);
/* Ask QMP until the counter reaches @value (fails after a long guard). */
void cp_wait_stat(QTestState *qts, const char *name, uint64_t value);
/* A string member of the first colo-proxy's query-colo-proxy entry. */
char *cp_info_str(QTestState *qts, const char *member);
/* The link state of the first colo-proxy, e.g. "up". */
char *cp_link_state(QTestState *qts);
/* Deliver a COLO event ("checkpoint", "failover") to colo-proxy cp0. */
void cp_event(QTestState *qts, const char *event);
/*
 * A checkpoint as COLO makes one: the event on both sides (the primary's
 * first), then wait until each side has the other's checkpoint marker.
 */
void cp_pair_checkpoint(CpPair *p);
/* The same for any two QEMUs with colo-proxy "cp0" linked together. */
void cp_checkpoint(QTestState *pri, QTestState *sec);
/* True if a frame is ready to be read on @fd right now. */
bool cp_pending(int fd);

#endif /* COLO_PROXY_HARNESS_H */
