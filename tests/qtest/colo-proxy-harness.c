/*
 * Fake-guest harness for colo-proxy qtests
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "colo-proxy-harness.h"

/*
 * Socket buffers of the fake guests: when a socket fills, the hub's queue
 * flush can reorder frames, so give them room for a whole test's traffic.
 */
#define CP_SOCK_BUF (4 * 1024 * 1024)

/* Send buffer of QEMU's end of the next hosts' network sockets, or 0. */
static int cp_net_buf;

void cp_set_net_buf(int bytes)
{
    cp_net_buf = bytes;
}

static void cp_socketpair(int sv[2], int qemu_sndbuf)
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
    if (qemu_sndbuf) {
        /* a unix stream socket's sender is limited by its own buffer */
        g_assert_cmpint(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &qemu_sndbuf,
                                   sizeof(qemu_sndbuf)), ==, 0);
    }
}

void cp_host_start(CpHost *h, const char *extra)
{
    int net[2], guest[2];

    cp_socketpair(net, cp_net_buf);
    cp_socketpair(guest, 0);
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

void cp_pair_start_secondary(CpPair *p, const char *sec_opts)
{
    g_autofree char *sec = g_strdup_printf(
        "-object colo-proxy,id=cp0,netdev=hn0,mode=secondary,addr=%s%s%s",
        p->addr, sec_opts ? "," : "", sec_opts ? sec_opts : "");

    cp_host_start(&p->sec, sec);
}

void cp_pair_start(CpPair *p, const char *pri_opts, const char *sec_opts)
{
    cp_pair_start_link(p, pri_opts, sec_opts);
    /* COLO starts: a checkpoint of two identical VMs, both sides */
    cp_pair_checkpoint(p);
}

void cp_pair_start_link(CpPair *p, const char *pri_opts,
                        const char *sec_opts)
{
    g_autofree char *pri = NULL;

    p->dir = g_dir_make_tmp("colo-proxy-XXXXXX", NULL);
    g_assert_nonnull(p->dir);
    p->addr = g_strdup_printf("unix:%s/link", p->dir);
    pri = g_strdup_printf(
        "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=%s%s%s",
        p->addr, pri_opts ? "," : "", pri_opts ? pri_opts : "");
    cp_pair_start_secondary(p, sec_opts);
    cp_host_start(&p->pri, pri);
    cp_wait_link_up(p->pri.qts);
    cp_wait_link_up(p->sec.qts);
}

void cp_pair_stop(CpPair *p)
{
    g_autofree char *sock = g_strdup_printf("%s/link", p->dir);

    if (p->pri.qts) {
        cp_host_stop(&p->pri);
    }
    if (p->sec.qts) {
        cp_host_stop(&p->sec);
    }
    unlink(sock);
    rmdir(p->dir);
    g_free(p->dir);
    g_free(p->addr);
}

/*
 * The next COLO_PROXY_LINK event.  QEMU throttles it to one a second of
 * QEMU_CLOCK_VIRTUAL, which stands still under qtest: step it past the
 * throttle's period first, so that an event held back goes out now and
 * the next one is not held.
 */
QDict *cp_link_event(QTestState *qts)
{
    qtest_clock_step(qts, 1000 * 1000 * 1000);
    return qtest_qmp_eventwait_ref(qts, "COLO_PROXY_LINK");
}

char *cp_wait_link(QTestState *qts, bool up)
{
    for (;;) {
        g_autoptr(QDict) ev = cp_link_event(qts);
        QDict *data = qdict_get_qdict(ev, "data");

        if (qdict_get_bool(data, "up") == up) {
            return g_strdup(qdict_get_str(data, "reason"));
        }
    }
}

uint64_t cp_stat(QTestState *qts, const char *name)
{
    g_autoptr(QDict) rsp = qtest_qmp(qts, "{ 'execute': 'query-colo-proxy' }");
    QList *list = qdict_get_qlist(rsp, "return");
    QDict *info, *stats;

    g_assert_nonnull(list);
    info = qobject_to(QDict, qlist_peek(list));
    g_assert_nonnull(info);
    stats = qdict_get_qdict(info, "stats");
    for (const char *dot; (dot = strchr(name, '.')); name = dot + 1) {
        g_autofree char *member = g_strndup(name, dot - name);

        stats = qdict_get_qdict(stats, member);
        g_assert_nonnull(stats);
    }
    g_assert_true(qdict_haskey(stats, name));
    return qdict_get_int(stats, name);
}

void cp_wait_stat(QTestState *qts, const char *name, uint64_t value)
{
    gint64 deadline = g_get_monotonic_time() +
                      CP_RECV_TIMEOUT_MS * (gint64)1000;

    while (cp_stat(qts, name) < value) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
}

char *cp_info_str(QTestState *qts, const char *member)
{
    g_autoptr(QDict) rsp = qtest_qmp(qts, "{ 'execute': 'query-colo-proxy' }");
    QDict *info = qobject_to(QDict, qlist_peek(qdict_get_qlist(rsp,
                                                                "return")));

    return g_strdup(qdict_get_try_str(info, member));
}

char *cp_link_state(QTestState *qts)
{
    return cp_info_str(qts, "link");
}

/*
 * The state is asked first: the event may have gone out before the test
 * connected to QMP.  If it is not up yet, the event is still to come.
 */
void cp_wait_link_up(QTestState *qts)
{
    for (;;) {
        g_autofree char *state = cp_link_state(qts);

        if (!strcmp(state, "up")) {
            return;
        }
        qobject_unref(cp_link_event(qts));
    }
}

char *cp_wait_link_error(QTestState *qts, const char *part)
{
    for (;;) {
        char *err = cp_info_str(qts, "link-error");

        if (err && strstr(err, part)) {
            return err;
        }
        g_free(err);
        qobject_unref(cp_link_event(qts));
    }
}

void cp_event(QTestState *qts, const char *event)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'x-colo-proxy-event', "
                             "'arguments': { 'id': 'cp0', 'event': %s } }",
                             event);
}

void cp_checkpoint(QTestState *pri, QTestState *sec)
{
    uint64_t pri_peer = cp_stat(pri, "peer-checkpoints");
    uint64_t sec_peer = cp_stat(sec, "peer-checkpoints");

    cp_event(pri, "checkpoint");
    cp_event(sec, "checkpoint");
    cp_wait_stat(pri, "peer-checkpoints", pri_peer + 1);
    cp_wait_stat(sec, "peer-checkpoints", sec_peer + 1);
}

void cp_pair_checkpoint(CpPair *p)
{
    cp_checkpoint(p->pri.qts, p->sec.qts);
}

bool cp_pending(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, 0) == 1;
}
