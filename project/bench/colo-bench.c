/*
 * colo-bench: load driver for colo-proxy's benchmark (fake guests)
 *
 * It plays both guests and the network of one or two QEMUs in the
 * fake-guest topology of the qtests (socket netdevs joined by a hub, no
 * guest OS): it writes the same TCP segments as the primary's and the
 * secondary's guest output and reads what the primary releases, checking
 * that every frame leaves exactly once and in order per connection.
 *
 *   colo-bench MODE QEMU PAYLOAD CONNS FRAMES RATE
 *     MODE     none | upstream | proxy | driver (the driver's own ceiling:
 *              no QEMU, the frames loop back through a socketpair)
 *     PAYLOAD  TCP payload bytes per frame
 *     CONNS    connections the frames are spread over
 *     FRAMES   frames per run
 *     RATE     frames/s to send at (latency); 0: as fast as possible
 *
 * Prints one JSON line: frames/s, Mbit/s, CPU us per frame of each QEMU,
 * latency percentiles (for RATE > 0), errors.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 1600
#define BUF_SIZE (8 * 1024 * 1024)

typedef struct Host {
    pid_t pid;
    int net_fd;         /* the network side of hn0 */
    int guest_fd;       /* the fake guest's NIC */
} Host;

typedef struct Bench {
    const char *mode;
    const char *qemu;
    int payload;
    int conns;
    long frames;
    long rate;
    Host pri, sec;
    int out_fd;         /* where released frames come out */
    uint64_t *sent_ns;  /* per frame, for latency */
    uint32_t *next_seq; /* per connection, for order checks */
    long errors;
    char dir[64];
} Bench;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *msg)
{
    perror(msg);
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

/* Start a QEMU with the fake-guest topology and @extra options. */
static void start(Bench *b, Host *h, const char *extra)
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
             b->qemu, net[1], guest[1], extra);
    h->pid = fork();
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

static uint32_t sum(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        s += p[n - 1] << 8;
    }
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return ~s;
}

/*
 * Frame @i: a TCP segment of connection i % conns, the next in its stream;
 * the frame number rides in the payload for the latency measurement.
 * Returns the length; the 4-byte socket-netdev length prefix comes first.
 */
static size_t frame(Bench *b, long i, uint8_t *f)
{
    int conn = i % b->conns;
    uint32_t seq = 1000 + (uint32_t)(i / b->conns) * b->payload;
    uint8_t *eth = f + 4, *ip = eth + 14, *tcp = ip + 20;
    size_t len = 14 + 20 + 20 + b->payload;
    uint32_t ps;

    memset(eth, 0, len);
    memcpy(eth, "\x52\x54\x00\x00\x00\x01\x52\x54\x00\x12\x34\x56", 12);
    put16(eth + 12, 0x0800);
    ip[0] = 0x45;
    put16(ip + 2, 40 + b->payload);
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, 0x0a000002);
    put32(ip + 16, 0x0a000001);
    put16(ip + 10, fold(sum(0, ip, 20)));
    put16(tcp, 80);
    put16(tcp + 2, 10000 + conn);
    put32(tcp + 4, seq);
    put32(tcp + 8, 1);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    put16(tcp + 14, 65535);
    memcpy(tcp + 20, &i, sizeof(i) < (size_t)b->payload ?
           sizeof(i) : (size_t)b->payload);
    ps = sum(sum(0, ip + 12, 8), (uint8_t[]){ 0, 6 }, 2) + 20 + b->payload;
    put16(tcp + 16, fold(sum(ps, tcp, 20 + b->payload)));
    put32(f, len);
    return len + 4;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            die("write");
        }
        p += w;
        n -= w;
    }
}

static void *sender(void *opaque)
{
    Bench *b = opaque;
    uint8_t f[MAX_FRAME + 4];
    uint64_t t0 = now_ns();

    for (long i = 0; i < b->frames; i++) {
        size_t n = frame(b, i, f);

        if (b->rate) {
            uint64_t due = t0 + (uint64_t)i * 1000000000ull / b->rate;

            while (now_ns() < due) {
                /* pace: spin, the run is short */
            }
        }
        b->sent_ns[i] = now_ns();
        if (b->sec.pid) {
            /* the secondary's copy first: the primary's may then go */
            write_all(b->sec.guest_fd, f, n);
        }
        write_all(b->pri.guest_fd, f, n);
    }
    return NULL;
}

static int read_full(int fd, uint8_t *p, size_t n, int timeout_ms)
{
    while (n) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t r;

        if (poll(&pfd, 1, timeout_ms) != 1) {
            return -1;
        }
        r = read(fd, p, n);
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= r;
    }
    return 0;
}

static double cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long ut, st;
    FILE *f;
    char *p;

    if (!pid) {
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof(buf), f)) {
        return 0;
    }
    fclose(f);
    p = strrchr(buf, ')');
    /* fields 14 and 15: utime, stime, after the command name */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%lu %lu", &ut, &st) != 2) {
        return 0;
    }
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Read every released frame; check order; latency per frame. */
static void receive(Bench *b, uint64_t *lat)
{
    uint8_t f[MAX_FRAME];

    for (long got = 0; got < b->frames; got++) {
        uint8_t len[4];
        uint32_t n, seq;
        long id = 0;
        int conn;

        n = read_full(b->out_fd, len, 4, 20000) ? 0 : ntohl(*(uint32_t *)len);
        if (!n || n > MAX_FRAME || read_full(b->out_fd, f, n, 20000)) {
            fprintf(stderr, "colo-bench: %ld of %ld frames came out\n",
                    got, b->frames);
            b->errors += b->frames - got;
            return;
        }
        conn = (f[34 + 2] << 8 | f[34 + 3]) - 10000;
        seq = f[38] << 24 | f[39] << 16 | f[40] << 8 | f[41];
        memcpy(&id, f + 54, sizeof(id) < (size_t)b->payload ?
               sizeof(id) : (size_t)b->payload);
        if (conn < 0 || conn >= b->conns || seq != b->next_seq[conn]) {
            b->errors++;        /* out of order, duplicated or foreign */
        } else {
            b->next_seq[conn] += b->payload;
        }
        if (id >= 0 && id < b->frames) {
            lat[got] = now_ns() - b->sent_ns[id];
        }
    }
}

static void setup(Bench *b)
{
    char pri[2048], sec[1024];
    int lp[2];

    if (!strcmp(b->mode, "driver")) {
        pair(lp);
        b->pri.guest_fd = lp[0];
        b->out_fd = lp[1];
        return;
    }
    snprintf(b->dir, sizeof(b->dir), "/tmp/colo-bench-XXXXXX");
    if (!mkdtemp(b->dir)) {
        die("mkdtemp");
    }
    if (!strcmp(b->mode, "proxy")) {
        /*
         * No checkpoint ever comes here: bounds large enough for a run,
         * so that what is measured is the comparison, not its bounds.
         * The driver writes a run's frames (up to 30 MB) in one burst, far
         * more than a guest's TCP sends unacknowledged: the secondary's
         * link buffer takes the burst (with the default 16 MiB it drops
         * the excess, counted, which under COLO means a checkpoint).
         */
        snprintf(sec, sizeof(sec), "-object colo-proxy,id=cp0,netdev=hn0,"
                 "mode=secondary,addr=unix:%s/link,link-buffer=1073741824",
                 b->dir);
        snprintf(pri, sizeof(pri), "-object colo-proxy,id=cp0,netdev=hn0,"
                 "mode=primary,addr=unix:%s/link,max-held=1048576,"
                 "max-conn-held=1048576,max-held-bytes=4294967296,"
                 "max-conn-held-bytes=4294967296,compare-timeout=60000",
                 b->dir);
        start(b, &b->sec, sec);
        start(b, &b->pri, pri);
    } else if (!strcmp(b->mode, "upstream")) {
        /* docs/COLO-FT.txt's chain, with unix sockets for the chardevs */
        const char *d = b->dir;

        snprintf(pri, sizeof(pri),
                 "-chardev socket,id=mirror0,path=%s/m,server=on,wait=off "
                 "-chardev socket,id=compare1,path=%s/c1,server=on,wait=off "
                 "-chardev socket,id=compare0,path=%s/c0,server=on,wait=off "
                 "-chardev socket,id=compare0-0,path=%s/c0 "
                 "-chardev socket,id=compare_out,path=%s/co,server=on,"
                 "wait=off "
                 "-chardev socket,id=compare_out0,path=%s/co "
                 "-object iothread,id=iothread1 "
                 "-object filter-mirror,id=m0,netdev=hn0,queue=tx,"
                 "outdev=mirror0 "
                 "-object filter-redirector,netdev=hn0,id=redire0,queue=rx,"
                 "indev=compare_out "
                 "-object filter-redirector,netdev=hn0,id=redire1,queue=rx,"
                 "outdev=compare0 "
                 "-object colo-compare,id=comp0,primary_in=compare0-0,"
                 "secondary_in=compare1,outdev=compare_out0,"
                 "iothread=iothread1,max_queue_size=1048576,"
                 "compare_timeout=60000", d, d, d, d, d, d);
        snprintf(sec, sizeof(sec),
                 "-chardev socket,id=red0,path=%s/m,reconnect-ms=100 "
                 "-chardev socket,id=red1,path=%s/c1,reconnect-ms=100 "
                 "-object filter-redirector,id=f1,netdev=hn0,queue=tx,"
                 "indev=red0 "
                 "-object filter-redirector,id=f2,netdev=hn0,queue=rx,"
                 "outdev=red1 "
                 "-object filter-rewriter,id=rew0,netdev=hn0,queue=all", d, d);
        start(b, &b->pri, pri);
        usleep(300 * 1000);     /* the primary's chardev servers first */
        start(b, &b->sec, sec);
    } else {
        start(b, &b->pri, "");
    }
    b->out_fd = b->pri.net_fd;
    /* let the link come up: a warm-up frame through the whole path */
    sleep(1);
}

int main(int argc, char **argv)
{
    Bench b = { 0 };
    pthread_t th;
    uint64_t *lat, t0, t1;
    double c0p, c0s, secs;

    if (argc != 7) {
        fprintf(stderr, "usage: colo-bench MODE QEMU PAYLOAD CONNS FRAMES "
                "RATE\n");
        return 2;
    }
    b.mode = argv[1];
    b.qemu = argv[2];
    b.payload = atoi(argv[3]);
    b.conns = atoi(argv[4]);
    b.frames = atol(argv[5]);
    b.rate = atol(argv[6]);
    if (b.payload < 8 || b.payload > 1460 || b.conns < 1 || b.frames < 1) {
        fprintf(stderr, "colo-bench: bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    b.sent_ns = calloc(b.frames, sizeof(uint64_t));
    b.next_seq = calloc(b.conns, sizeof(uint32_t));
    lat = calloc(b.frames, sizeof(uint64_t));
    for (int i = 0; i < b.conns; i++) {
        b.next_seq[i] = 1000;
    }
    setup(&b);
    c0p = cpu_s(b.pri.pid);
    c0s = cpu_s(b.sec.pid);
    t0 = now_ns();
    pthread_create(&th, NULL, sender, &b);
    receive(&b, lat);
    t1 = now_ns();
    pthread_join(th, NULL);
    secs = (t1 - t0) / 1e9;
    qsort(lat, b.frames, sizeof(*lat), cmp_u64);
    printf("{\"mode\": \"%s\", \"payload\": %d, \"conns\": %d, "
           "\"frames\": %ld, \"rate\": %ld, \"fps\": %.0f, \"mbps\": %.1f, "
           "\"pri_us\": %.2f, \"sec_us\": %.2f, \"p50_us\": %.1f, "
           "\"p99_us\": %.1f, \"p999_us\": %.1f, \"errors\": %ld}\n",
           b.mode, b.payload, b.conns, b.frames, b.rate, b.frames / secs,
           b.frames * (54.0 + b.payload) * 8 / secs / 1e6,
           (cpu_s(b.pri.pid) - c0p) * 1e6 / b.frames,
           (cpu_s(b.sec.pid) - c0s) * 1e6 / b.frames,
           lat[b.frames / 2] / 1e3, lat[b.frames * 99 / 100] / 1e3,
           lat[b.frames * 999 / 1000] / 1e3, b.errors);
    if (b.pri.pid) {
        kill(b.pri.pid, SIGTERM);
        waitpid(b.pri.pid, NULL, 0);
    }
    if (b.sec.pid) {
        kill(b.sec.pid, SIGTERM);
        waitpid(b.sec.pid, NULL, 0);
    }
    if (b.dir[0]) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", b.dir);
        if (system(cmd)) {
            /* leftovers in /tmp only */
        }
    }
    return b.errors ? 1 : 0;
}
