/*
 * Fake-guest harness for colo-proxy qtests
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "colo-proxy-harness.h"

/*
 * Socket buffers of the fake guests: when a socket fills, the hub's queue
 * flush can reorder frames, so give them room for a whole test's traffic.
 */
#define CP_SOCK_BUF (4 * 1024 * 1024)

static void cp_socketpair(int sv[2])
{
    int size = CP_SOCK_BUF;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    for (int i = 0; i < 2; i++) {
        /* FORCE works as root past wmem_max; fall back for other users. */
        if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &size,
                       sizeof(size)) < 0) {
            setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        }
        if (setsockopt(sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &size,
                       sizeof(size)) < 0) {
            setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        }
    }
}

void cp_host_start(CpHost *h, const char *extra)
{
    int net[2], guest[2];

    cp_socketpair(net);
    cp_socketpair(guest);
    h->qts = qtest_initf("-M none "
                         "-netdev socket,id=hn0,fd=%d "
                         "-netdev socket,id=guest0,fd=%d "
                         "-netdev hubport,id=hp0,hubid=0,netdev=hn0 "
                         "-netdev hubport,id=hp1,hubid=0,netdev=guest0 "
                         "%s",
                         net[1], guest[1], extra ? extra : "");
    close(net[1]);
    close(guest[1]);
    h->net_fd = net[0];
    h->guest_fd = guest[0];
}

void cp_host_stop(CpHost *h)
{
    qtest_quit(h->qts);
    close(h->net_fd);
    close(h->guest_fd);
    h->qts = NULL;
}

static void cp_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        g_assert_cmpint(n, >, 0);
        p += n;
        len -= n;
    }
}

void cp_send(int fd, const GByteArray *frame)
{
    uint32_t be_len = htonl(frame->len);

    cp_write_all(fd, &be_len, sizeof(be_len));
    cp_write_all(fd, frame->data, frame->len);
}

/* Read exactly @len bytes; false if the deadline passed first. */
static bool cp_read_all(int fd, void *buf, size_t len, gint64 deadline)
{
    uint8_t *p = buf;

    while (len) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, left) == 0) {
            return false;
        }
        n = read(fd, p, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        g_assert_cmpint(n, >, 0);
        p += n;
        len -= n;
    }
    return true;
}

GByteArray *cp_recv(int fd, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * (gint64)1000;
    uint32_t be_len;
    GByteArray *frame;

    if (!cp_read_all(fd, &be_len, sizeof(be_len), deadline)) {
        return NULL;
    }
    g_assert_cmpuint(ntohl(be_len), <=, 65536 + 64);
    frame = g_byte_array_sized_new(ntohl(be_len));
    g_byte_array_set_size(frame, ntohl(be_len));
    /* Once the length is in, the rest is on its way: no early timeout. */
    g_assert_true(cp_read_all(fd, frame->data, frame->len,
                              g_get_monotonic_time() +
                              CP_RECV_TIMEOUT_MS * (gint64)1000));
    return frame;
}

void cp_expect(int fd, const GByteArray *expected)
{
    g_autoptr(GByteArray) got = cp_recv(fd, CP_RECV_TIMEOUT_MS);

    g_assert_nonnull(got);
    g_assert_cmpmem(got->data, got->len, expected->data, expected->len);
}
