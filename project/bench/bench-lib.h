/*
 * Helpers shared by colo-proxy's benchmark drivers: the QEMUs with fake
 * guests, frames, CPU and memory readings, QMP.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef COLO_BENCH_LIB_H
#define COLO_BENCH_LIB_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 1600
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define BUF_SIZE (8 * 1024 * 1024)

typedef struct Host {
    pid_t pid;
    char qmp[128];      /* the QMP socket, proxy mode */
    int net_fd;         /* the network side of hn0 */
    int guest_fd;       /* the fake guest's NIC */
} Host;

static inline uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static pid_t children[2];

/* Give up: the QEMUs started go too. */
static void die(const char *msg)
{
    perror(msg);
    for (int i = 0; i < 2; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGTERM);
        }
    }
    exit(2);
}

static void bigbuf(int fd)
{
    int size = BUF_SIZE;

    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
}

static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        die("socketpair");
    }
    bigbuf(sv[0]);
    bigbuf(sv[1]);
}

/*
 * Start @qemu with the fake-guest topology and @extra options as
 * child @idx (0 the primary, 1 the secondary).
 */
static void start_qemu(const char *qemu, Host *h, int idx, const char *extra)
{
    int net[2], guest[2];
    char cmd[4096];

    pair(net);
    pair(guest);
    snprintf(cmd, sizeof(cmd),
             "exec %s -M none -nodefaults -display none "
             "-netdev socket,id=hn0,fd=%d -netdev socket,id=guest0,fd=%d "
             "-netdev hubport,id=hp0,hubid=0,netdev=hn0 "
             "-netdev hubport,id=hp1,hubid=0,netdev=guest0 %s",
             qemu, net[1], guest[1], extra);
    h->pid = fork();
    children[idx] = h->pid;
    if (h->pid == 0) {
        close(net[0]);
        close(guest[0]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(net[1]);
    close(guest[1]);
    h->net_fd = net[0];
    h->guest_fd = guest[0];
}

static void stop_qemu(Host *h)
{
    if (h->pid) {
        kill(h->pid, SIGTERM);
        waitpid(h->pid, NULL, 0);
        h->pid = 0;
    }
}

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static inline uint32_t get16(const uint8_t *p)
{
    return p[0] << 8 | p[1];
}

static inline uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}

static inline uint32_t sum(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        s += p[n - 1] << 8;
    }
    return s;
}

static inline uint16_t fold(uint32_t s)
{
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return ~s;
}

/* IPv4 and TCP checksums of a frame of @payload bytes of TCP payload. */
static inline void tcp_csum(uint8_t *ip, int payload)
{
    uint8_t *tcp = ip + 20;
    uint32_t ps;

    put16(ip + 10, 0);
    put16(ip + 10, fold(sum(0, ip, 20)));
    put16(tcp + 16, 0);
    ps = sum(sum(0, ip + 12, 8), (uint8_t[]){ 0, 6 }, 2) + 20 + payload;
    put16(tcp + 16, fold(sum(ps, tcp, 20 + payload)));
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };

            poll(&pfd, 1, -1);
            continue;
        }
        if (w <= 0) {
            die("write");
        }
        p += w;
        n -= w;
    }
}

/*
 * CPU seconds of all threads of @pid so far, in nanoseconds from
 * schedstat (/proc/PID/stat counts in clock ticks: too coarse here).
 */
static double cpu_s(pid_t pid)
{
    char path[64];
    struct dirent *e;
    double total = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    d = opendir(path);
    if (!d) {
        return 0;
    }
    while ((e = readdir(d))) {
        char p[320];
        unsigned long long ns;
        FILE *f;

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, e->d_name);
        f = fopen(p, "r");
        if (f && fscanf(f, "%llu", &ns) == 1) {
            total += ns / 1e9;
        }
        if (f) {
            fclose(f);
        }
    }
    closedir(d);
    return total;
}

/* VmRSS or VmHWM of @pid, in KiB. */
static long rss_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    long kb = 0;
    FILE *f;

    if (!pid) {
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, field, strlen(field))) {
            sscanf(line + strlen(field) + 1, "%ld", &kb);
        }
    }
    fclose(f);
    return kb;
}

/* One line from @fd into @buf (NUL-terminated, newline dropped). */
static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char c;

        if (poll(&pfd, 1, 10000) != 1 || read(fd, &c, 1) != 1) {
            return -1;
        }
        if (c == '\n') {
            break;
        }
        buf[n++] = c;
    }
    buf[n] = 0;
    return 0;
}

/* @query's answer on @h's QMP socket, the part after "return", or "null" */
static char *qmp_exec(Host *h, const char *query)
{
    static const char caps[] = "{\"execute\": \"qmp_capabilities\"}\n";
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t size = 1 << 20;
    char *line = malloc(size);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0), step = 0;

    if (strlen(h->qmp) >= sizeof(sa.sun_path)) {
        h->qmp[0] = 0;
    }
    memcpy(sa.sun_path, h->qmp, strlen(h->qmp));
    if (!h->qmp[0] || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        strcpy(line, "null");
        return line;
    }
    while (!read_line(fd, line, size)) {
        if (strstr(line, "\"event\"")) {
            continue;
        }
        if (step == 0) {
            write_all(fd, (const uint8_t *)caps, strlen(caps));
        } else if (step == 1) {
            write_all(fd, (const uint8_t *)query, strlen(query));
        } else {
            char *r = strstr(line, "\"return\": ");

            close(fd);
            if (!r) {
                break;
            }
            memmove(line, r + 10, strlen(r + 10) + 1);
            /* the closing brace, after the \r QMP may end lines with */
            *strrchr(line, '}') = 0;
            return line;
        }
        step++;
    }
    close(fd);
    strcpy(line, "null");
    return line;
}

/*
 * query-colo-proxy's answer on @h's QMP socket, the part inside
 * {"return": [...]}, or "null".  Events on the way are skipped.
 */
static char *qmp_stats(Host *h)
{
    return qmp_exec(h, "{\"execute\": \"query-colo-proxy\"}\n");
}

/* Until @h's proxy says @what (a bounded wait: the bench goes on). */
static void wait_for_stat(Host *h, const char *what)
{
    for (int i = 0; i < 200; i++) {
        char *st = qmp_stats(h);
        bool found = strstr(st, what) != NULL;

        free(st);
        if (found) {
            return;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "colo-bench: no %s\n", what);
}

/*
 * COLO starts, as QEMU's COLO threads tell colo-proxy: a checkpoint
 * event on each side, from which on they protect.
 */
static void colo_start(Host *pri, Host *sec)
{
    static const char ev[] = "{\"execute\": \"x-colo-proxy-event\", "
        "\"arguments\": {\"id\": \"cp0\", \"event\": \"checkpoint\"}}\n";
    Host *hosts[] = { pri, sec };

    for (int i = 0; i < 2; i++) {
        wait_for_stat(hosts[i], "\"link\": \"up\"");
    }
    for (int i = 0; i < 2; i++) {
        free(qmp_exec(hosts[i], ev));
    }
    for (int i = 0; i < 2; i++) {
        wait_for_stat(hosts[i], "\"peer-checkpoints\": 1");
    }
}

/* A run's temporary directory, if it made one, goes (leftovers: /tmp). */
static void remove_dir(const char *dir)
{
    char cmd[128];

    if (!dir[0]) {
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd)) {
        /* leftovers in /tmp only */
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

#endif /* COLO_BENCH_LIB_H */
