/*
 * colo-bench: load driver for colo-proxy's benchmark (fake guests)
 *
 * It plays both guests and the network of one or two QEMUs in the
 * fake-guest topology of the qtests (socket netdevs joined by a hub, no
 * guest OS): it writes the same TCP segments as the primary's and the
 * secondary's guest output and reads what the primary releases, checking
 * that every frame leaves exactly once and in order per connection.
 *
 *   colo-bench MODE QEMU PAYLOAD CONNS FRAMES RATE [SCENARIO]
 *     MODE     none | upstream | proxy | driver (the driver's own ceiling:
 *              no QEMU, the frames loop back through a socketpair)
 *     PAYLOAD  TCP payload bytes per frame
 *     CONNS    connections the frames are spread over
 *     FRAMES   frames per run
 *     RATE     frames/s to send at (latency); 0: as fast as possible
 *     SCENARIO same (default): both guests send the same segments, the
 *              bounds are raised so that no checkpoint would be asked for;
 *              mismatch: every payload of the secondary differs (a
 *              mismatch storm with no checkpoint coming), default bounds;
 *              synflood: every frame a new connection: a SYN from the
 *              network, a SYN-ACK from each guest (other ISNs), default
 *              bounds.  The last two wait only until nothing more comes.
 *
 * Prints one JSON line: frames/s, Mbit/s, CPU us per frame of each QEMU
 * and of the driver (from /proc/PID/task/{*}/schedstat: nanoseconds),
 * RSS and peak RSS of each QEMU, latency percentiles (for RATE > 0),
 * errors, and for the proxy each side's query-colo-proxy stats.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "bench-lib.h"

#include <pthread.h>
#include <sys/prctl.h>

enum { SAME, MISMATCH, SYNFLOOD };

typedef struct Bench {
    const char *mode;
    const char *qemu;
    int payload;
    int conns;
    int scenario;
    long frames;
    long rate;
    Host pri, sec;
    int out_fd;         /* where released frames come out */
    uint64_t *sent_ns;  /* per frame, for latency */
    uint32_t *next_seq; /* per connection, for order checks */
    long errors;
    uint64_t last_rx_ns;
    char dir[64];
} Bench;

/*
 * Frame @i: a TCP segment of connection i % conns, the next in its stream;
 * the frame number rides in the payload for the latency measurement.
 * Returns the length; the 4-byte socket-netdev length prefix comes first.
 */
static size_t frame(Bench *b, long i, uint8_t *f, int who)
{
    int conn = i % b->conns;
    uint32_t seq = 1000 + (uint32_t)(i / b->conns) * b->payload;
    uint8_t *eth = f + 4, *ip = eth + 14, *tcp = ip + 20;
    int payload = b->scenario == SYNFLOOD ? 0 : b->payload;
    size_t len = 14 + 20 + 20 + payload;
    uint32_t ps;

    memset(eth, 0, len);
    memcpy(eth, "\x52\x54\x00\x00\x00\x01\x52\x54\x00\x12\x34\x56", 12);
    put16(eth + 12, 0x0800);
    ip[0] = 0x45;
    put16(ip + 2, 40 + payload);
    ip[8] = 64;
    ip[9] = 6;
    /* the guest 10.0.0.2:80, the clients 10.1.x.y:10000-59999 */
    put32(ip + 12, 0x0a000002);
    put32(ip + 16, 0x0a010000 + conn / 50000);
    put16(tcp, 80);
    put16(tcp + 2, 10000 + conn % 50000);
    put32(tcp + 4, seq);
    put32(tcp + 8, 1);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    put16(tcp + 14, 65535);
    if (b->scenario == SYNFLOOD) {
        tcp[13] = 0x12;                         /* SYN-ACK */
        put32(tcp + 4, who == 1 ? 777777 : seq); /* the secondary's ISN */
        if (who == 2) {
            /* the client's SYN, from the network */
            memcpy(eth, "\x52\x54\x00\x12\x34\x56\x52\x54\x00\x00\x00\x01",
                   12);
            put32(ip + 12, 0x0a010000 + conn / 50000);
            put32(ip + 16, 0x0a000002);
            put16(tcp, 10000 + conn % 50000);
            put16(tcp + 2, 80);
            put32(tcp + 4, 0);
            put32(tcp + 8, 0);
            tcp[13] = 0x02;
        }
    }
    put16(ip + 10, fold(sum(0, ip, 20)));
    memcpy(tcp + 20, &i, sizeof(i) < (size_t)payload ?
           sizeof(i) : (size_t)payload);
    if (b->scenario == MISMATCH && who == 1 && payload > 8) {
        tcp[20 + 8] ^= 0xff;
    }
    ps = sum(sum(0, ip + 12, 8), (uint8_t[]){ 0, 6 }, 2) + 20 + payload;
    put16(tcp + 16, fold(sum(ps, tcp, 20 + payload)));
    put32(f, len);
    return len + 4;
}

/*
 * Frames per write: as fast as possible (RATE 0), the driver writes them
 * in batches, as a busy NIC hands them over, so that its own syscalls
 * cost less than the QEMUs' it measures; paced, one at a time.
 */
#define BATCH 32

static void *sender(void *opaque)
{
    Bench *b = opaque;
    static uint8_t f[3][BATCH * (MAX_FRAME + 4)];
    size_t n[3] = { 0 };
    int batch = b->rate ? 1 : BATCH;
    uint64_t t0 = now_ns();

    /* sleep to the due time, not spin: the 2 cores are the QEMUs' */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    for (long i = 0; i < b->frames; i++) {
        if (b->rate) {
            uint64_t due = t0 + (uint64_t)i * 1000000000ull / b->rate;
            struct timespec ts = {
                .tv_sec = due / 1000000000ull,
                .tv_nsec = due % 1000000000ull,
            };

            /* late (a sleep overshoots): catch up without sleeping */
            while (now_ns() < due &&
                   clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
                                   NULL) == EINTR) {
                /* again */
            }
        }
        b->sent_ns[i] = now_ns();
        if (b->scenario == SYNFLOOD && b->sec.pid) {
            n[2] += frame(b, i, f[2] + n[2], 2);
        }
        if (b->sec.pid) {
            n[1] += frame(b, i, f[1] + n[1], 1);
        }
        n[0] += frame(b, i, f[0] + n[0], 0);
        if ((i + 1) % batch && i + 1 < b->frames) {
            continue;
        }
        if (n[2]) {
            write_all(b->pri.net_fd, f[2], n[2]);
        }
        if (n[1]) {
            /* the secondary's copy first: the primary's may then go */
            write_all(b->sec.guest_fd, f[1], n[1]);
        }
        write_all(b->pri.guest_fd, f[0], n[0]);
        n[0] = n[1] = n[2] = 0;
    }
    return NULL;
}

/*
 * What the network sends reaches the guests: in a SYN flood nothing else
 * reads it, so this thread does, lest the QEMUs stop on full sockets.
 */
static void *drain(void *opaque)
{
    Bench *b = opaque;
    static uint8_t buf[256 * 1024];
    struct pollfd pfd[2] = {
        { .fd = b->pri.guest_fd, .events = POLLIN },
        { .fd = b->sec.guest_fd, .events = POLLIN },
    };

    while (poll(pfd, 2, -1) > 0) {
        for (int i = 0; i < 2; i++) {
            if ((pfd[i].revents & POLLIN) &&
                read(pfd[i].fd, buf, sizeof(buf)) <= 0) {
                return NULL;
            }
            if (pfd[i].revents & (POLLHUP | POLLERR)) {
                return NULL;
            }
        }
    }
    return NULL;
}

/* Buffered reads of what the primary releases: many frames a syscall. */
typedef struct Reader {
    int fd;
    size_t off, len;
    uint8_t buf[256 * 1024];
} Reader;

static int read_full(Reader *r, uint8_t *p, size_t n, int timeout_ms)
{
    while (n) {
        size_t take = MIN(n, r->len - r->off);
        ssize_t got;

        memcpy(p, r->buf + r->off, take);
        r->off += take;
        p += take;
        n -= take;
        if (!n) {
            break;
        }
        r->off = r->len = 0;
        got = read(r->fd, r->buf, sizeof(r->buf));
        if (got < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = r->fd, .events = POLLIN };

            if (poll(&pfd, 1, timeout_ms) != 1) {
                return -1;
            }
            got = read(r->fd, r->buf, sizeof(r->buf));
        }
        if (got <= 0) {
            return -1;
        }
        r->len = got;
    }
    return 0;
}

/*
 * Read every released frame; check order; latency per frame.  Returns
 * how many came out.  SAME waits 20 s for a missing frame, the other
 * scenarios (frames may stay held) stop after 1 s without one.
 */
static long receive(Bench *b, uint64_t *lat)
{
    int wait_ms = b->scenario == SAME ? 20000 : 1000;
    static Reader r;
    uint8_t f[MAX_FRAME];
    long got;

    r.fd = b->out_fd;
    fcntl(r.fd, F_SETFL, fcntl(r.fd, F_GETFL) | O_NONBLOCK);
    for (got = 0; got < b->frames; got++) {
        uint8_t len[4];
        uint32_t n, seq;
        long id = 0;
        int conn;

        n = read_full(&r, len, 4, wait_ms) ? 0 : ntohl(*(uint32_t *)len);
        if (!n || n > MAX_FRAME || read_full(&r, f, n, wait_ms)) {
            if (b->scenario == SAME) {
                fprintf(stderr, "colo-bench: %ld of %ld frames came out\n",
                        got, b->frames);
                b->errors += b->frames - got;
            }
            return got;
        }
        if (f[12] != 0x08 || f[13] != 0 || f[23] != 6) {
            b->errors++;        /* not one of ours */
            continue;
        }
        conn = (f[32] << 8 | f[33]) * 50000 +
               (f[34 + 2] << 8 | f[34 + 3]) - 10000;
        seq = f[38] << 24 | f[39] << 16 | f[40] << 8 | f[41];
        memcpy(&id, f + 54, sizeof(id) < (size_t)b->payload ?
               sizeof(id) : (size_t)b->payload);
        if (conn < 0 || conn >= b->conns || seq != b->next_seq[conn]) {
            b->errors++;        /* out of order, duplicated or foreign */
        } else {
            b->next_seq[conn] += b->payload;
        }
        b->last_rx_ns = now_ns();
        if (id >= 0 && id < b->frames) {
            lat[got] = b->last_rx_ns - b->sent_ns[id];
        }
    }
    return got;
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
    if (!strcmp(b->mode, "proxy") && b->scenario != SAME) {
        /* the defaults */
        snprintf(b->sec.qmp, sizeof(b->sec.qmp), "%s/sec.qmp", b->dir);
        snprintf(b->pri.qmp, sizeof(b->pri.qmp), "%s/pri.qmp", b->dir);
        snprintf(sec, sizeof(sec), "-qmp unix:%s,server=on,wait=off "
                 "-object colo-proxy,id=cp0,netdev=hn0,"
                 "mode=secondary,addr=unix:%s/link", b->sec.qmp, b->dir);
        snprintf(pri, sizeof(pri), "-qmp unix:%s,server=on,wait=off "
                 "-object colo-proxy,id=cp0,netdev=hn0,"
                 "mode=primary,addr=unix:%s/link", b->pri.qmp, b->dir);
        start_qemu(b->qemu, &b->sec, 1, sec);
        start_qemu(b->qemu, &b->pri, 0, pri);
    } else if (!strcmp(b->mode, "proxy")) {
        snprintf(b->sec.qmp, sizeof(b->sec.qmp), "%s/sec.qmp", b->dir);
        snprintf(b->pri.qmp, sizeof(b->pri.qmp), "%s/pri.qmp", b->dir);
        /*
         * No checkpoint ever comes here: bounds large enough for a run,
         * so that what is measured is the comparison, not its bounds
         * (the secondary's copy of a run, written first, arrives as a
         * burst, and up to 30 MB of it is kept at once: max-ahead).
         * The driver writes a run's frames (up to 30 MB) in one burst, far
         * more than a guest's TCP sends unacknowledged: the secondary's
         * link buffer takes the burst (with the default 16 MiB it drops
         * the excess, counted, which under COLO means a checkpoint).
         */
        snprintf(sec, sizeof(sec), "-qmp unix:%s,server=on,wait=off "
                 "-object colo-proxy,id=cp0,netdev=hn0,"
                 "mode=secondary,addr=unix:%s/link,link-buffer=1073741824,"
                 "max-connections=262144", b->sec.qmp, b->dir);
        snprintf(pri, sizeof(pri), "-qmp unix:%s,server=on,wait=off "
                 "-object colo-proxy,id=cp0,netdev=hn0,"
                 "mode=primary,addr=unix:%s/link,max-held=1048576,"
                 "max-conn-held=1048576,max-held-bytes=4294967296,"
                 "max-conn-held-bytes=4294967296,compare-timeout=60000,"
                 "max-ahead=4294967296,max-ahead-total=17179869184,"
                 "max-connections=262144", b->pri.qmp, b->dir);
        start_qemu(b->qemu, &b->sec, 1, sec);
        start_qemu(b->qemu, &b->pri, 0, pri);
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
                 "iothread=iothread1%s", d, d, d, d, d, d,
                 b->scenario == SAME ? ",max_queue_size=1048576,"
                 "compare_timeout=60000" : "");
        snprintf(sec, sizeof(sec),
                 "-chardev socket,id=red0,path=%s/m,reconnect-ms=100 "
                 "-chardev socket,id=red1,path=%s/c1,reconnect-ms=100 "
                 "-object filter-redirector,id=f1,netdev=hn0,queue=tx,"
                 "indev=red0 "
                 "-object filter-redirector,id=f2,netdev=hn0,queue=rx,"
                 "outdev=red1 "
                 "-object filter-rewriter,id=rew0,netdev=hn0,queue=all", d, d);
        start_qemu(b->qemu, &b->pri, 0, pri);
        usleep(300 * 1000);     /* the primary's chardev servers first */
        start_qemu(b->qemu, &b->sec, 1, sec);
    } else {
        start_qemu(b->qemu, &b->pri, 0, "");
    }
    b->out_fd = b->pri.net_fd;
    /* let the link come up: a warm-up frame through the whole path */
    sleep(1);
    if (!strcmp(b->mode, "proxy")) {
        colo_start(&b->pri, &b->sec);
    }
}

int main(int argc, char **argv)
{
    static const char *const scenarios[] = { "same", "mismatch",
                                             "synflood" };
    Bench b = { 0 };
    pthread_t th;
    uint64_t *lat, t0;
    double c0p, c0s, c0d, secs;
    char *stats[2];
    long got;

    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: colo-bench MODE QEMU PAYLOAD CONNS FRAMES "
                "RATE [same|mismatch|synflood]\n");
        return 2;
    }
    b.scenario = -1;
    for (int i = 0; i < 3; i++) {
        if (!strcmp(argc == 8 ? argv[7] : "same", scenarios[i])) {
            b.scenario = i;
        }
    }
    b.mode = argv[1];
    b.qemu = argv[2];
    b.payload = atoi(argv[3]);
    b.conns = atoi(argv[4]);
    b.frames = atol(argv[5]);
    b.rate = atol(argv[6]);
    if (b.scenario == SYNFLOOD) {
        b.conns = b.frames;     /* a new connection every frame */
    }
    if (b.payload < 8 || b.payload > 1460 || b.conns < 1 || b.frames < 1 ||
        b.scenario < 0 || b.conns > 50000 * 256) {
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
    c0p = b.pri.pid ? cpu_s(b.pri.pid) : 0;
    c0s = b.sec.pid ? cpu_s(b.sec.pid) : 0;
    c0d = cpu_s(getpid());
    t0 = now_ns();
    if (b.scenario == SYNFLOOD && b.sec.pid) {
        pthread_t dr;

        pthread_create(&dr, NULL, drain, &b);
        pthread_detach(dr);
    }
    pthread_create(&th, NULL, sender, &b);
    got = receive(&b, lat);
    pthread_join(th, NULL);
    secs = ((got ? b.last_rx_ns : now_ns()) - t0) / 1e9;
    qsort(lat, got, sizeof(*lat), cmp_u64);
    stats[0] = qmp_stats(&b.pri);
    stats[1] = qmp_stats(&b.sec);
    printf("{\"mode\": \"%s\", \"scenario\": \"%s\", \"payload\": %d, "
           "\"conns\": %d, \"frames\": %ld, \"rate\": %ld, "
           "\"released\": %ld, \"fps\": %.0f, \"mbps\": %.1f, "
           "\"pri_us\": %.3f, \"sec_us\": %.3f, \"drv_us\": %.3f, "
           "\"pri_rss_kb\": %ld, \"pri_hwm_kb\": %ld, "
           "\"sec_rss_kb\": %ld, \"sec_hwm_kb\": %ld, "
           "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
           "\"errors\": %ld, \"pri_stats\": %s, \"sec_stats\": %s}\n",
           b.mode, scenarios[b.scenario], b.payload, b.conns, b.frames,
           b.rate, got, got / secs,
           got * (54.0 + b.payload) * 8 / secs / 1e6,
           b.pri.pid ? (cpu_s(b.pri.pid) - c0p) * 1e6 / b.frames : 0,
           b.sec.pid ? (cpu_s(b.sec.pid) - c0s) * 1e6 / b.frames : 0,
           (cpu_s(getpid()) - c0d) * 1e6 / b.frames,
           rss_kb(b.pri.pid, "VmRSS"), rss_kb(b.pri.pid, "VmHWM"),
           rss_kb(b.sec.pid, "VmRSS"), rss_kb(b.sec.pid, "VmHWM"),
           got ? lat[got / 2] / 1e3 : 0, got ? lat[got * 99 / 100] / 1e3 : 0,
           got ? lat[got * 999 / 1000] / 1e3 : 0, b.errors,
           stats[0], stats[1]);
    free(stats[0]);
    free(stats[1]);
    stop_qemu(&b.pri);
    stop_qemu(&b.sec);
    remove_dir(b.dir);
    return b.errors ? 1 : 0;
}
