/*
 * colo-loop: closed-loop load driver for colo-proxy's benchmark
 *
 * A user's traffic, with fake guests (socket netdevs joined by a hub, no
 * guest OS): a client opens CONNS TCP connections to the guest (a real
 * three-way handshake, the two guests with different ISNs) and sends
 * requests of PAYLOAD bytes on them; each guest answers every request it
 * receives with two segments of PAYLOAD bytes.  The client keeps WINDOW
 * requests in flight per connection and sends the next one when the
 * last segment of an answer is released, as a TCP client does: every
 * answer waits for the client's request to cross the link to the
 * secondary and the secondary's answer to come back.  With RATE the
 * client sends RATE requests/s instead, however many are in flight
 * (latency at a fixed load).
 *
 *   colo-loop MODE QEMU PAYLOAD CONNS REQUESTS RATE WINDOW [LINK [PROPS]]
 *     MODE     none | upstream | proxy | driver (the driver's own
 *              ceiling: no QEMU, client and one guest on a socketpair)
 *     LINK     colo-proxy's link: tls (TCP with TLS and a pre-shared
 *              key, as the docs set it up; the default), tcp (TCP,
 *              allow-unauthenticated=on), unix
 *     PROPS    more colo-proxy properties for both sides, "a=b,c=d"
 *              (the default: none)
 *
 * Upstream's chain is wired as docs/COLO-FT.txt says (TCP chardevs),
 * with nodelay=on on each: its docs leave Nagle on, which stalls a
 * closed loop for 40 ms a round trip.  Every other property, of
 * colo-proxy and of upstream's objects, is the default.
 *
 * Prints one JSON line: released frames/s, Mbit/s, CPU us per released
 * frame of each QEMU and of the driver, RSS and peak RSS, round-trip
 * percentiles (request sent to its answer's last segment released),
 * errors (segments missing, duplicated or out of order), and for the
 * proxy each side's query-colo-proxy stats.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "bench-lib.h"

#include <pthread.h>
#include <sys/prctl.h>

#define CLIENT_ISN 100000u
#define GUEST_ISN 7000000u
#define SVM_ISN_DELTA 0x40000000u   /* the secondary guest's ISNs differ */
#define IO_SIZE (1024 * 1024)

typedef struct Conn {
    uint32_t snd_next;      /* the client's next seq */
    uint32_t rcv_next;      /* the next seq expected from the guest */
    uint32_t sent;          /* requests sent */
    uint32_t done;          /* requests answered */
    bool up;                /* SYN-ACK seen */
} Conn;

typedef struct Guest {
    int fd;
    int conns;
    int payload;
    uint32_t isn_delta;
    uint32_t *next;         /* per connection, the guest's next seq */
    uint64_t frames_in;
} Guest;

/* Parse buffer: whole socket-netdev frames (4-byte length first). */
typedef struct Rx {
    uint8_t *buf;
    size_t len;
} Rx;

typedef struct Loop {
    const char *mode;
    const char *qemu;
    const char *link;
    const char *props;
    int payload;
    int conns;
    int window;
    long per_conn;          /* requests per connection */
    long requests;
    long rate;
    Host pri, sec;
    Guest guest[2];
    int net_fd;             /* the client's side of the network */
    Conn *conn;
    uint64_t *sent_ns;      /* per request */
    uint64_t *rtt;          /* per answered request */
    long answered, up;
    long errors;
    uint8_t *out;           /* the client's frames of this iteration */
    size_t out_len, out_cap;
    Rx *rx;                 /* what the client read and has not parsed */
    char dir[64];
} Loop;


/*
 * A TCP frame between the guest 10.0.0.2:80 and client @c (10.1.x.y,
 * ports 10000-59999) into @f, the length prefix first; @to_guest picks
 * the direction.  The payload is @payload bytes, @tag first (8 bytes)
 * then @idx, zeros after.  Returns the bytes written.
 */
static size_t tcp_frame(uint8_t *f, int c, bool to_guest, uint8_t flags,
                        uint32_t seq, uint32_t ack, int payload,
                        uint64_t tag, uint8_t idx)
{
    static const uint8_t guest_mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
    static const uint8_t client_mac[6] = { 0x52, 0x54, 0, 0, 0, 1 };
    uint8_t *eth = f + 4, *ip = eth + 14, *tcp = ip + 20;
    uint32_t client = 0x0a010000 + c / 50000, guest = 0x0a000002;
    uint16_t cport = 10000 + c % 50000;
    size_t len = 54 + payload;

    memset(eth, 0, len);
    memcpy(eth, to_guest ? guest_mac : client_mac, 6);
    memcpy(eth + 6, to_guest ? client_mac : guest_mac, 6);
    put16(eth + 12, 0x0800);
    ip[0] = 0x45;
    put16(ip + 2, 40 + payload);
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, to_guest ? client : guest);
    put32(ip + 16, to_guest ? guest : client);
    put16(tcp, to_guest ? cport : 80);
    put16(tcp + 2, to_guest ? 80 : cport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    if (payload >= 9) {
        memcpy(tcp + 20, &tag, 8);
        tcp[28] = idx;
    }
    tcp_csum(ip, payload);
    put32(f, len);
    return len + 4;
}

/* The connection of a frame of ours, or -1. */
static int frame_conn(const uint8_t *f, uint32_t n, bool to_guest, int conns)
{
    const uint8_t *ip = f + 14;
    int c;

    if (n < 54 || f[12] != 0x08 || f[13] != 0 || ip[9] != 6) {
        return -1;
    }
    c = (get32(ip + (to_guest ? 12 : 16)) & 0xffff) * 50000 +
        (int)get16(ip + 20 + (to_guest ? 0 : 2)) - 10000;
    return c >= 0 && c < conns ? c : -1;
}

/*
 * Read what @fd has into @rx and hand each whole frame to @fn; false
 * once @fd is closed.
 */
static bool rx_frames(int fd, Rx *rx, void (*fn)(void *, uint8_t *, uint32_t),
                      void *opaque)
{
    ssize_t got = read(fd, rx->buf + rx->len, IO_SIZE - rx->len);
    size_t off = 0;

    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        return true;
    }
    if (got <= 0) {
        return false;
    }
    rx->len += got;
    while (rx->len - off >= 4) {
        uint32_t n = get32(rx->buf + off);

        if (n > MAX_FRAME) {
            return false;
        }
        if (rx->len - off - 4 < n) {
            break;
        }
        fn(opaque, rx->buf + off + 4, n);
        off += 4 + n;
    }
    memmove(rx->buf, rx->buf + off, rx->len - off);
    rx->len -= off;
    return true;
}

typedef struct GuestOut {
    Guest *g;
    uint8_t *buf;
    size_t len;
} GuestOut;

/* The fake guest's answer to one frame of the client. */
static void guest_frame(void *opaque, uint8_t *f, uint32_t n)
{
    GuestOut *o = opaque;
    Guest *g = o->g;
    int c = frame_conn(f, n, true, g->conns);
    const uint8_t *tcp = f + 34;
    uint32_t seq = get32(tcp + 4), len = n - 54;
    uint64_t tag = 0;

    if (c < 0) {
        return;
    }
    g->frames_in++;
    if (tcp[13] & 0x02) {           /* SYN: SYN-ACK */
        uint32_t isn = GUEST_ISN + c * 977u + g->isn_delta;

        g->next[c] = isn + 1;
        o->len += tcp_frame(o->buf + o->len, c, false, 0x12, isn, seq + 1,
                            0, 0, 0);
        return;
    }
    if (!len) {
        return;                     /* a pure ack */
    }
    memcpy(&tag, tcp + 20, MIN(len, 8));
    for (uint8_t i = 0; i < 2; i++) {
        o->len += tcp_frame(o->buf + o->len, c, false, 0x18, g->next[c],
                            seq + len, g->payload, tag, i);
        g->next[c] += g->payload;
    }
}

/* A fake guest: answers what it receives, a write per read. */
static void *guest_run(void *opaque)
{
    Guest *g = opaque;
    Rx rx = { .buf = malloc(IO_SIZE) };
    /* at most IO_SIZE / 58 frames in, two answers of MAX_FRAME each */
    GuestOut o = { .g = g, .buf = malloc(IO_SIZE / 58 * 2 * (MAX_FRAME + 4)) };

    while (rx_frames(g->fd, &rx, guest_frame, &o)) {
        write_all(g->fd, o.buf, o.len);
        o.len = 0;
    }
    return NULL;
}

static void client_frame(void *opaque, uint8_t *f, uint32_t n);

/*
 * Write this iteration's frames, reading what comes back meanwhile: a
 * client that only wrote would wedge the loop once every buffer on the
 * way is full (its answers back up to the guests, which then stop
 * reading).  What is read may queue more frames: they go too.
 */
static void client_flush(Loop *l)
{
    size_t off = 0;

    while (off < l->out_len) {
        ssize_t w = write(l->net_fd, l->out + off, l->out_len - off);
        struct pollfd pfd = { .fd = l->net_fd, .events = POLLIN | POLLOUT };

        if (w > 0) {
            off += w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            die("write");
        }
        if (poll(&pfd, 1, 20000) != 1) {
            fprintf(stderr, "colo-loop: the network neither reads nor "
                    "writes for 20 s\n");
            exit(2);
        }
        if ((pfd.revents & POLLIN) &&
            !rx_frames(l->net_fd, l->rx, client_frame, l)) {
            die("read");
        }
    }
    l->out_len = 0;
}

/* Room for one more frame in this iteration's frames. */
static void client_room(Loop *l)
{
    if (l->out_len + MAX_FRAME + 4 > l->out_cap) {
        l->out_cap *= 2;
        l->out = realloc(l->out, l->out_cap);
        if (!l->out) {
            die("realloc");
        }
    }
}

/* The next request of connection @c, into this iteration's frames. */
static void client_send(Loop *l, int c)
{
    Conn *k = &l->conn[c];
    uint64_t id = (uint64_t)c * l->per_conn + k->sent;

    client_room(l);
    l->sent_ns[id] = now_ns();
    l->out_len += tcp_frame(l->out + l->out_len, c, true, 0x18, k->snd_next,
                            k->rcv_next, l->payload, id, 0);
    k->snd_next += l->payload;
    k->sent++;
}

/* A frame the primary released to the network. */
static void client_frame(void *opaque, uint8_t *f, uint32_t n)
{
    Loop *l = opaque;
    int c = frame_conn(f, n, false, l->conns);
    const uint8_t *tcp = f + 34;
    Conn *k;
    uint64_t id = 0;

    if (c < 0) {
        l->errors++;
        return;
    }
    k = &l->conn[c];
    if (tcp[13] & 0x02) {
        if (k->up) {
            l->errors++;
        }
        k->up = true;
        k->rcv_next = get32(tcp + 4) + 1;
        l->up++;
        return;
    }
    if (get32(tcp + 4) != k->rcv_next || n - 54 != (uint32_t)l->payload) {
        l->errors++;            /* out of order, duplicated or foreign */
        return;
    }
    k->rcv_next += l->payload;
    if (tcp[20 + 8] != 1) {
        return;                 /* the answer's first segment */
    }
    memcpy(&id, tcp + 20, 8);
    if (id >= (uint64_t)l->requests) {
        l->errors++;
        return;
    }
    l->rtt[l->answered++] = now_ns() - l->sent_ns[id];
    k->done++;
    if (!l->rate && k->sent < l->per_conn) {
        client_send(l, c);
    }
}

/* Every connection's handshake, then the first window of each. */
static bool client_open(Loop *l, Rx *rx)
{
    for (int c = 0; c < l->conns; c++) {
        l->conn[c].snd_next = CLIENT_ISN + c + 1;
        client_room(l);
        l->out_len += tcp_frame(l->out + l->out_len, c, true, 0x02,
                                CLIENT_ISN + c, 0, 0, 0, 0);
    }
    client_flush(l);
    while (l->up < l->conns) {
        struct pollfd pfd = { .fd = l->net_fd, .events = POLLIN };

        if (poll(&pfd, 1, 20000) != 1 ||
            !rx_frames(l->net_fd, rx, client_frame, l)) {
            fprintf(stderr, "colo-loop: %ld of %d connections up\n",
                    l->up, l->conns);
            return false;
        }
    }
    return true;
}

/* Paced: the requests due by now, round-robin over the connections. */
static void client_pace(Loop *l, uint64_t t0, long *next)
{
    uint64_t now = now_ns();

    while (*next < l->requests &&
           t0 + (uint64_t)*next * 1000000000ull / l->rate <= now) {
        client_send(l, *next % l->conns);
        (*next)++;
    }
}

/* Until every request is answered, or nothing comes for 20 s. */
static void client_run(Loop *l, Rx *rx)
{
    uint64_t t0 = now_ns();
    long next = 0;

    if (!l->rate) {
        for (int c = 0; c < l->conns; c++) {
            for (int i = 0; i < l->window && i < l->per_conn; i++) {
                client_send(l, c);
            }
        }
    }
    while (l->answered < l->requests) {
        struct pollfd pfd = { .fd = l->net_fd, .events = POLLIN };
        struct timespec ts = { .tv_sec = 20 };

        if (l->rate) {
            client_pace(l, t0, &next);
            if (next < l->requests) {
                uint64_t due = t0 + (uint64_t)next * 1000000000ull / l->rate;
                uint64_t now = now_ns(), wait = due > now ? due - now : 0;

                ts.tv_sec = wait / 1000000000ull;
                ts.tv_nsec = wait % 1000000000ull;
            }
        }
        client_flush(l);
        if (ppoll(&pfd, 1, &ts, NULL) < 0) {
            die("ppoll");
        }
        if (pfd.revents && !rx_frames(l->net_fd, rx, client_frame, l)) {
            break;
        }
        if (!pfd.revents && (!l->rate || next >= l->requests)) {
            break;              /* 20 s and nothing */
        }
    }
    client_flush(l);
    if (l->answered < l->requests) {
        fprintf(stderr, "colo-loop: %ld of %ld requests answered\n",
                l->answered, l->requests);
        l->errors += l->requests - l->answered;
    }
}

static void guest_start(Loop *l, int i, int fd)
{
    Guest *g = &l->guest[i];
    pthread_t th;

    g->fd = fd;
    g->conns = l->conns;
    g->payload = l->payload;
    g->isn_delta = i ? SVM_ISN_DELTA : 0;
    g->next = calloc(l->conns, sizeof(uint32_t));
    pthread_create(&th, NULL, guest_run, g);
    pthread_detach(th);
}

/* A fresh pre-shared key (user "qemu") for both colo-proxies' TLS. */
static void psk_write(Loop *l)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/keys.psk", l->dir);
    f = fopen(path, "w");
    if (!f) {
        die("keys.psk");
    }
    chmod(path, 0600);
    fprintf(f, "qemu:");
    for (int i = 0; i < 32; i++) {
        fprintf(f, "%02x", rand() & 0xff);
    }
    fprintf(f, "\n");
    fclose(f);
}

static void setup_proxy(Loop *l)
{
    char pri[2048], sec[2048], addr[128], creds[2][256] = { "", "" };
    const char *auth = "";

    snprintf(l->sec.qmp, sizeof(l->sec.qmp), "%s/sec.qmp", l->dir);
    snprintf(l->pri.qmp, sizeof(l->pri.qmp), "%s/pri.qmp", l->dir);
    if (!strcmp(l->link, "unix")) {
        snprintf(addr, sizeof(addr), "unix:%s/link", l->dir);
    } else {
        snprintf(addr, sizeof(addr), "127.0.0.1:%d",
                 20000 + getpid() % 20000);
    }
    if (!strcmp(l->link, "tls")) {
        psk_write(l);
        snprintf(creds[1], sizeof(creds[1]), "-object tls-creds-psk,id=tls0,"
                 "endpoint=server,dir=%s", l->dir);
        snprintf(creds[0], sizeof(creds[0]), "-object tls-creds-psk,id=tls0,"
                 "endpoint=client,dir=%s,username=qemu", l->dir);
        auth = ",tls-creds=tls0";
    } else if (!strcmp(l->link, "tcp")) {
        auth = ",allow-unauthenticated=on";
    }
    snprintf(sec, sizeof(sec), "-qmp unix:%s,server=on,wait=off %s "
             "-object colo-proxy,id=cp0,netdev=hn0,mode=secondary,addr=%s%s"
             "%s%s", l->sec.qmp, creds[1], addr, auth, *l->props ? "," : "",
             l->props);
    snprintf(pri, sizeof(pri), "-qmp unix:%s,server=on,wait=off %s "
             "-object colo-proxy,id=cp0,netdev=hn0,mode=primary,addr=%s%s"
             "%s%s", l->pri.qmp, creds[0], addr, auth, *l->props ? "," : "",
             l->props);
    start_qemu(l->qemu, &l->sec, 1, sec);
    usleep(300 * 1000);         /* the secondary listens first */
    start_qemu(l->qemu, &l->pri, 0, pri);
    colo_start(&l->pri, &l->sec);
}

/* docs/COLO-FT.txt's chain: TCP chardevs, nodelay added. */
static void setup_upstream(Loop *l)
{
    int p = 20000 + getpid() % 20000;
    char pri[2048], sec[1024];

    snprintf(pri, sizeof(pri),
             "-chardev socket,id=mirror0,host=127.0.0.1,port=%d,server=on,"
             "wait=off,nodelay=on "
             "-chardev socket,id=compare1,host=127.0.0.1,port=%d,server=on,"
             "wait=off,nodelay=on "
             "-chardev socket,id=compare0,host=127.0.0.1,port=%d,server=on,"
             "wait=off,nodelay=on "
             "-chardev socket,id=compare0-0,host=127.0.0.1,port=%d,"
             "nodelay=on "
             "-chardev socket,id=compare_out,host=127.0.0.1,port=%d,"
             "server=on,wait=off,nodelay=on "
             "-chardev socket,id=compare_out0,host=127.0.0.1,port=%d,"
             "nodelay=on "
             "-object iothread,id=iothread1 "
             "-object filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=mirror0 "
             "-object filter-redirector,netdev=hn0,id=redire0,queue=rx,"
             "indev=compare_out "
             "-object filter-redirector,netdev=hn0,id=redire1,queue=rx,"
             "outdev=compare0 "
             "-object colo-compare,id=comp0,primary_in=compare0-0,"
             "secondary_in=compare1,outdev=compare_out0,iothread=iothread1",
             p, p + 1, p + 2, p + 2, p + 3, p + 3);
    snprintf(sec, sizeof(sec),
             "-chardev socket,id=red0,host=127.0.0.1,port=%d,"
             "reconnect-ms=100,nodelay=on "
             "-chardev socket,id=red1,host=127.0.0.1,port=%d,"
             "reconnect-ms=100,nodelay=on "
             "-object filter-redirector,id=f1,netdev=hn0,queue=tx,indev=red0 "
             "-object filter-redirector,id=f2,netdev=hn0,queue=rx,outdev=red1 "
             "-object filter-rewriter,id=rew0,netdev=hn0,queue=all", p, p + 1);
    start_qemu(l->qemu, &l->pri, 0, pri);
    usleep(300 * 1000);         /* the primary's chardev servers first */
    start_qemu(l->qemu, &l->sec, 1, sec);
    sleep(1);                   /* the secondary's chardevs connect */
}

static void setup(Loop *l)
{
    int lp[2];

    if (!strcmp(l->mode, "driver")) {
        pair(lp);
        l->net_fd = lp[1];
        fcntl(l->net_fd, F_SETFL, fcntl(l->net_fd, F_GETFL) | O_NONBLOCK);
        guest_start(l, 0, lp[0]);
        return;
    }
    snprintf(l->dir, sizeof(l->dir), "/tmp/colo-loop-XXXXXX");
    if (!mkdtemp(l->dir)) {
        die("mkdtemp");
    }
    if (!strcmp(l->mode, "proxy")) {
        setup_proxy(l);
    } else if (!strcmp(l->mode, "upstream")) {
        setup_upstream(l);
    } else {
        start_qemu(l->qemu, &l->pri, 0, "");
    }
    l->net_fd = l->pri.net_fd;
    fcntl(l->net_fd, F_SETFL, fcntl(l->net_fd, F_GETFL) | O_NONBLOCK);
    guest_start(l, 0, l->pri.guest_fd);
    if (l->sec.pid) {
        guest_start(l, 1, l->sec.guest_fd);
    }
}

static void report(Loop *l, double secs, double cpu[3])
{
    long n = l->answered, frames = 2 * n;
    char *stats[2] = { qmp_stats(&l->pri), qmp_stats(&l->sec) };

    qsort(l->rtt, n, sizeof(*l->rtt), cmp_u64);
    printf("{\"mode\": \"%s\", \"link\": \"%s\", \"payload\": %d, "
           "\"conns\": %d, \"window\": %d, \"requests\": %ld, "
           "\"rate\": %ld, \"released\": %ld, \"fps\": %.0f, "
           "\"mbps\": %.1f, \"pri_us\": %.3f, \"sec_us\": %.3f, "
           "\"drv_us\": %.3f, \"pri_rss_kb\": %ld, \"pri_hwm_kb\": %ld, "
           "\"sec_rss_kb\": %ld, \"sec_hwm_kb\": %ld, "
           "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
           "\"errors\": %ld, \"pri_stats\": %s, \"sec_stats\": %s}\n",
           l->mode, l->sec.pid && !strcmp(l->mode, "proxy") ? l->link : "-",
           l->payload, l->conns, l->window, l->requests, l->rate, frames,
           frames / secs, frames * (54.0 + l->payload) * 8 / secs / 1e6,
           cpu[0] * 1e6 / MAX(frames, 1), cpu[1] * 1e6 / MAX(frames, 1),
           cpu[2] * 1e6 / MAX(frames, 1),
           rss_kb(l->pri.pid, "VmRSS"), rss_kb(l->pri.pid, "VmHWM"),
           rss_kb(l->sec.pid, "VmRSS"), rss_kb(l->sec.pid, "VmHWM"),
           n ? l->rtt[n / 2] / 1e3 : 0, n ? l->rtt[n * 99 / 100] / 1e3 : 0,
           n ? l->rtt[n * 999 / 1000] / 1e3 : 0, l->errors,
           stats[0], stats[1]);
    free(stats[0]);
    free(stats[1]);
}

static double cpu_of(pid_t pid)
{
    return pid ? cpu_s(pid) : 0;
}

int main(int argc, char **argv)
{
    Loop l = { 0 };
    Rx rx;
    double cpu[3];
    uint64_t t0;

    if (argc < 8 || argc > 10) {
        fprintf(stderr, "usage: colo-loop MODE QEMU PAYLOAD CONNS REQUESTS "
                "RATE WINDOW [tls|tcp|unix [PROPS]]\n");
        return 2;
    }
    l.mode = argv[1];
    l.qemu = argv[2];
    l.payload = atoi(argv[3]);
    l.conns = atoi(argv[4]);
    l.per_conn = (atol(argv[5]) + l.conns - 1) / MAX(l.conns, 1);
    l.rate = atol(argv[6]);
    l.window = atoi(argv[7]);
    l.link = argc > 8 ? argv[8] : "tls";
    l.props = argc > 9 ? argv[9] : "";
    l.requests = l.per_conn * l.conns;
    if (l.payload < 9 || l.payload > 1460 || l.conns < 1 ||
        l.conns > 50000 * 256 || l.per_conn < 1 || l.window < 1 ||
        (strcmp(l.link, "tls") && strcmp(l.link, "tcp") &&
         strcmp(l.link, "unix"))) {
        fprintf(stderr, "colo-loop: bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    srand(getpid() ^ time(NULL));
    l.conn = calloc(l.conns, sizeof(Conn));
    l.sent_ns = calloc(l.requests, sizeof(uint64_t));
    l.rtt = calloc(l.requests, sizeof(uint64_t));
    l.out_cap = IO_SIZE;
    l.out = malloc(l.out_cap);
    rx.buf = malloc(IO_SIZE);
    rx.len = 0;
    l.rx = &rx;
    setup(&l);
    if (!client_open(&l, &rx)) {
        l.errors += l.requests;
    } else {
        cpu[0] = cpu_of(l.pri.pid);
        cpu[1] = cpu_of(l.sec.pid);
        cpu[2] = cpu_s(getpid());
        t0 = now_ns();
        client_run(&l, &rx);
        cpu[0] = cpu_of(l.pri.pid) - cpu[0];
        cpu[1] = cpu_of(l.sec.pid) - cpu[1];
        cpu[2] = cpu_s(getpid()) - cpu[2];
        report(&l, (now_ns() - t0) / 1e9, cpu);
    }
    stop_qemu(&l.pri);
    stop_qemu(&l.sec);
    remove_dir(l.dir);
    return l.errors ? 1 : 0;
}
