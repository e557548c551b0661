/*
 * COLO proxy: per-connection comparison of the two VMs' output
 * (no QOM, no I/O)
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "net/colo-proxy-compare.h"
#include "net/colo-proxy-seq.h"
#include "net/colo-proxy-http.h"

enum { PVM = 0, SVM = 1 };

/*
 * The memory of released frames and of compared segments and datagrams is
 * kept for reuse, up to a bound: holding a frame or a secondary's segment
 * then costs no allocation in the steady state.  Up to a full Ethernet
 * frame with a vnet header and a VLAN tag fits; bigger ones are allocated.
 */
enum {
    COLO_CMP_CACHE_SMALL = 192,     /* bare ACKs, small requests */
    COLO_CMP_CACHE_DATA = 1600,
    COLO_CMP_CACHE_MAX = 1024,      /* blocks kept, per size */
    COLO_CMP_MALLOC_OVERHEAD = 16,  /* glibc's chunk header, rounded up */
};

/* Bytes of the secondary's TCP stream not compared yet. */
typedef struct ColoCmpSeg {
    QTAILQ_ENTRY(ColoCmpSeg) next;
    int64_t arrival_ns;
    uint64_t start;
    uint64_t end;
    uint8_t data[];
} ColoCmpSeg;

/* A datagram (or whole frame) of the secondary not compared yet. */
typedef struct ColoCmpDgram {
    QTAILQ_ENTRY(ColoCmpDgram) next;
    int64_t arrival_ns;
    uint32_t len;
    uint8_t data[];
} ColoCmpDgram;

struct ColoCmpConn {
    ColoConn conn;                  /* the table's part, first */
    bool tcp;
    bool mismatched;                /* a request is out: hold until reset */
    bool queue_requested;           /* asked for over a bound, still over */
    bool restarted;                 /* reused: the secondary's SYN to come */
    int64_t requested_ns;
    /* the secondary sent what the primary did not match yet */
    bool svm_waiting;
    int64_t svm_flag_ns;            /* a SYN, FIN or RST of it, unmatched */
    QTAILQ_ENTRY(ColoCmpConn) wait_next;
    QTAILQ_HEAD(, ColoCmpFrame) held;
    uint32_t held_frames;
    uint64_t held_bytes;            /* memory, see colo_cmp_cost() */
    /*
     * TCP: positions are sequence numbers unwrapped to 64 bits around
     * @ref, so comparisons after that are plain integer ones.
     */
    bool ref_known;
    uint64_t ref;
    bool pos_known;
    uint64_t pos;                   /* both sides agree on all before it */
    uint64_t pvm_next;              /* the primary's highest end: snd_nxt */
    uint64_t pvm_data_end;          /* ... of its data, without a FIN */
    bool syn[2];
    uint8_t syn_flags[2];
    bool fin[2];
    uint64_t fin_pos[2];
    bool fin_matched;
    bool rst[2];
    uint64_t rst_pos[2];
    /* the highest ack each guest sent: the client's numbers, shared */
    bool ack_known[2];
    uint32_t ack[2];
    /* the stream both sides agree on, on an HTTP Date port */
    bool http_on;
    ColoHttp http;
    QTAILQ_HEAD(, ColoCmpSeg) segs; /* sorted by start */
    uint64_t svm_bytes;             /* memory, see colo_cmp_cost() */
    /* datagrams */
    QTAILQ_HEAD(, ColoCmpDgram) dgrams;
};

struct ColoCmp {
    ColoCmpLimits lim;
    const ColoCmpOps *ops;
    void *opaque;
    ColoConnTable *conns;
    QTAILQ_HEAD(, ColoCmpFrame) all;
    QTAILQ_HEAD(, ColoCmpConn) waiting;     /* svm_waiting, unordered */
    uint32_t frames;
    uint64_t bytes;                 /* memory of the held frames */
    uint64_t svm_bytes;             /* memory of the secondary's kept */
    int64_t now;                    /* of the call being handled */
    bool total_requested;
    bool evict_requested;           /* since the last checkpoint */
    ColoCmpStats stats;
    QSLIST_HEAD(, ColoCmpCached) cache[2];     /* small, full-size */
    uint32_t cached[2];
};

/* A frame's memory while in the cache. */
typedef struct ColoCmpCached {
    QSLIST_ENTRY(ColoCmpCached) next;
} ColoCmpCached;

static const char *const colo_cmp_reasons[COLO_CMP_REASON__MAX] = {
    [COLO_CMP_MISMATCH_PAYLOAD] = "mismatch-payload",
    [COLO_CMP_MISMATCH_FLAGS] = "mismatch-flags",
    [COLO_CMP_MISMATCH_FRAME] = "mismatch-frame",
    [COLO_CMP_TIMEOUT] = "timeout",
    [COLO_CMP_QUEUE_CONN] = "queue-connection",
    [COLO_CMP_QUEUE_TOTAL] = "queue-total",
    [COLO_CMP_SECONDARY_AHEAD] = "secondary-ahead",
    [COLO_CMP_EVICTED] = "connection-evicted",
    [COLO_CMP_SECONDARY_ONLY] = "secondary-only",
    [COLO_CMP_RESYNC] = "resync",
    [COLO_CMP_SECONDARY_TOTAL] = "secondary-total",
};

const char *colo_cmp_reason_str(ColoCmpReason why)
{
    return why < COLO_CMP_REASON__MAX ? colo_cmp_reasons[why] : "?";
}

/* ---- holding and releasing the primary's frames ---- */

static uint64_t colo_cmp_cost(size_t len);

static void colo_cmp_unlink(ColoCmp *c, ColoCmpFrame *f)
{
    ColoCmpConn *cc = f->conn;

    QTAILQ_REMOVE(&cc->held, f, conn_next);
    QTAILQ_REMOVE(&c->all, f, all_next);
    cc->held_frames--;
    cc->held_bytes -= colo_cmp_cost(f->len);
    c->frames--;
    c->bytes -= colo_cmp_cost(f->len);
}

/*
 * What a frame, segment or datagram with @len bytes of data costs in
 * memory: the block colo_cmp_alloc() takes and malloc's header.  The
 * byte bounds count this, not payload: a flood of one-byte segments or
 * of empty datagrams is bounded as tightly as one of full frames.
 */
static uint64_t colo_cmp_cost(size_t len)
{
    size_t data = len > COLO_CMP_CACHE_DATA ? len :
                  len > COLO_CMP_CACHE_SMALL ? COLO_CMP_CACHE_DATA :
                  COLO_CMP_CACHE_SMALL;

    return sizeof(ColoCmpFrame) + data + COLO_CMP_MALLOC_OVERHEAD;
}

static void colo_cmp_mismatch(ColoCmp *c, ColoCmpConn *cc,
                              ColoCmpReason why);

/* The secondary's output kept by @cc grows or shrinks by @len's cost. */
static void colo_cmp_svm_charge(ColoCmp *c, ColoCmpConn *cc, size_t len,
                                bool add)
{
    uint64_t cost = colo_cmp_cost(len);

    cc->svm_bytes = add ? cc->svm_bytes + cost : cc->svm_bytes - cost;
    c->svm_bytes = add ? c->svm_bytes + cost : c->svm_bytes - cost;
}

/*
 * Room for @len more bytes of the secondary's output in @cc?  If not,
 * the connection cannot be compared any more: a checkpoint is asked for.
 */
static bool colo_cmp_svm_room(ColoCmp *c, ColoCmpConn *cc, size_t len)
{
    uint64_t cost = colo_cmp_cost(len);

    if (cc->svm_bytes + cost > c->lim.svm_bytes) {
        colo_cmp_mismatch(c, cc, COLO_CMP_SECONDARY_AHEAD);
        return false;
    }
    if (c->svm_bytes + cost > c->lim.svm_total) {
        colo_cmp_mismatch(c, cc, COLO_CMP_SECONDARY_TOTAL);
        return false;
    }
    return true;
}

/*
 * Memory for a frame, segment or datagram with @len bytes of data; the
 * largest header of the three is the frame's.
 */
static void *colo_cmp_alloc(ColoCmp *c, size_t len)
{
    int k = len > COLO_CMP_CACHE_SMALL;
    ColoCmpCached *m = QSLIST_FIRST(&c->cache[k]);

    if (len > COLO_CMP_CACHE_DATA) {
        return g_malloc(sizeof(ColoCmpFrame) + len);
    }
    if (!m) {
        return g_malloc(sizeof(ColoCmpFrame) +
                        (k ? COLO_CMP_CACHE_DATA : COLO_CMP_CACHE_SMALL));
    }
    QSLIST_REMOVE_HEAD(&c->cache[k], next);
    c->cached[k]--;
    return m;
}

/* Give back what colo_cmp_alloc(@c, @len) returned. */
static void colo_cmp_free_mem(ColoCmp *c, void *p, size_t len)
{
    int k = len > COLO_CMP_CACHE_SMALL;

    if (len > COLO_CMP_CACHE_DATA || c->cached[k] >= COLO_CMP_CACHE_MAX) {
        g_free(p);
        return;
    }
    QSLIST_INSERT_HEAD(&c->cache[k], (ColoCmpCached *)p, next);
    c->cached[k]++;
}

static void colo_cmp_send(ColoCmp *c, ColoCmpFrame *f)
{
    colo_cmp_unlink(c, f);
    c->ops->release(c->opaque, f->data, f->len, f->flags);
    colo_cmp_free_mem(c, f, f->len);
}

static void colo_cmp_free_svm(ColoCmp *c, ColoCmpConn *cc, bool counted)
{
    ColoCmpSeg *s, *sn;
    ColoCmpDgram *d, *dn;

    QTAILQ_FOREACH_SAFE(s, &cc->segs, next, sn) {
        QTAILQ_REMOVE(&cc->segs, s, next);
        colo_cmp_free_mem(c, s, s->end - s->start);
        c->stats.svm_dropped += counted;
    }
    QTAILQ_FOREACH_SAFE(d, &cc->dgrams, next, dn) {
        QTAILQ_REMOVE(&cc->dgrams, d, next);
        colo_cmp_free_mem(c, d, d->len);
        c->stats.svm_dropped += counted;
    }
    c->svm_bytes -= cc->svm_bytes;
    cc->svm_bytes = 0;
}

static void colo_cmp_request(ColoCmp *c, ColoCmpConn *cc, ColoCmpReason why)
{
    c->stats.requests[why]++;
    if (cc) {
        cc->requested_ns = c->now;
    }
    c->ops->request(c->opaque, why, cc ? &cc->conn.key : NULL);
}

/* A difference: ask for a checkpoint, stop comparing this connection. */
static void colo_cmp_mismatch(ColoCmp *c, ColoCmpConn *cc, ColoCmpReason why)
{
    cc->mismatched = true;
    colo_cmp_free_svm(c, cc, true);
    colo_cmp_request(c, cc, why);
}

/* The secondary's output waits for the primary's: watch it for age. */
static void colo_cmp_svm_wait(ColoCmp *c, ColoCmpConn *cc)
{
    if (!cc->svm_waiting) {
        cc->svm_waiting = true;
        QTAILQ_INSERT_TAIL(&c->waiting, cc, wait_next);
    }
}

static void colo_cmp_svm_unwait(ColoCmp *c, ColoCmpConn *cc)
{
    if (cc->svm_waiting) {
        cc->svm_waiting = false;
        QTAILQ_REMOVE(&c->waiting, cc, wait_next);
    }
}

/* A SYN, FIN or RST the secondary sent and the primary did not (yet). */
static bool colo_cmp_svm_flags_ahead(const ColoCmpConn *cc)
{
    return (cc->syn[SVM] && !cc->syn[PVM]) ||
           (cc->fin[SVM] && !cc->fin[PVM]) ||
           (cc->rst[SVM] && !cc->rst[PVM]);
}

/* When the oldest output of the secondary not matched came; or INT64_MAX. */
static int64_t colo_cmp_svm_oldest(ColoCmpConn *cc)
{
    ColoCmpSeg *sg = QTAILQ_FIRST(&cc->segs);
    ColoCmpDgram *d = QTAILQ_FIRST(&cc->dgrams);
    int64_t t;

    if (!colo_cmp_svm_flags_ahead(cc)) {
        cc->svm_flag_ns = INT64_MAX;
    }
    t = MIN(cc->svm_flag_ns, sg ? sg->arrival_ns : INT64_MAX);
    return MIN(t, d ? d->arrival_ns : INT64_MAX);
}

/*
 * TCP output only the secondary sends (bytes, a SYN, FIN or RST the
 * primary does not match within the compare timeout) is a divergence as
 * much as a difference is.
 */
static void colo_cmp_tick_svm(ColoCmp *c)
{
    ColoCmpConn *cc, *next;

    QTAILQ_FOREACH_SAFE(cc, &c->waiting, wait_next, next) {
        int64_t t = cc->mismatched ? INT64_MAX : colo_cmp_svm_oldest(cc);

        if (t == INT64_MAX) {
            colo_cmp_svm_unwait(c, cc);
        } else if (c->now - t >= c->lim.timeout_ns) {
            colo_cmp_mismatch(c, cc, COLO_CMP_SECONDARY_ONLY);
            colo_cmp_svm_unwait(c, cc);
        }
    }
}

/* An RST goes once the secondary's is at the same place, payload equal. */
static bool colo_cmp_rst_releasable(ColoCmpConn *cc, ColoCmpFrame *f)
{
    return cc->rst[SVM] && cc->rst_pos[SVM] == f->start &&
           (f->end == f->start || (cc->pos_known && f->end <= cc->pos));
}

/*
 * An ack tells the client the service holds its bytes up to there, and
 * the client never sends them again: the primary may say so only once
 * the secondary's guest has them too (or a checkpoint made it a copy),
 * or a failover would lose them.
 */
static bool colo_cmp_ack_covered(const ColoCmpConn *cc, uint8_t flags,
                                 uint32_t ack)
{
    return !(flags & COLO_TCP_ACK) ||
           (cc->ack_known[SVM] && !seq_before(cc->ack[SVM], ack));
}

static void colo_cmp_note_ack(ColoCmpConn *cc, int side, const ColoPacket *p)
{
    if ((p->tcp_flags & COLO_TCP_ACK) &&
        (!cc->ack_known[side] || seq_after(p->ack, cc->ack[side]))) {
        cc->ack_known[side] = true;
        cc->ack[side] = p->ack;
    }
}

static bool colo_cmp_tcp_releasable(ColoCmpConn *cc, ColoCmpFrame *f)
{
    if (f->tcp_flags & COLO_TCP_RST) {
        return colo_cmp_rst_releasable(cc, f);
    }
    if (f->tcp_flags & COLO_TCP_SYN) {
        return cc->syn[SVM] && cc->syn_flags[SVM] == cc->syn_flags[PVM];
    }
    if (!colo_cmp_ack_covered(cc, f->tcp_flags, f->ack)) {
        return false;
    }
    if (f->end > f->start && (!cc->pos_known || f->end > cc->pos)) {
        return false;
    }
    /* a FIN the last checkpoint already passed (pos is beyond it) may go */
    return !(f->tcp_flags & COLO_TCP_FIN) || cc->fin_matched ||
           (cc->pos_known && f->end < cc->pos);
}

/* Release the head of the connection's queue while it may go. */
static void colo_cmp_release_ready(ColoCmp *c, ColoCmpConn *cc)
{
    ColoCmpFrame *f;

    while ((f = QTAILQ_FIRST(&cc->held)) && !cc->mismatched &&
           (cc->tcp ? colo_cmp_tcp_releasable(cc, f) : f->matched)) {
        c->stats.released++;
        colo_cmp_send(c, f);
    }
}

/* ---- TCP ---- */

static uint64_t colo_cmp_unwrap(ColoCmpConn *cc, uint32_t seq)
{
    uint64_t v;

    if (!cc->ref_known) {
        /* one lap up, so that positions before the first stay positive */
        cc->ref = (1ULL << 32) | seq;
        cc->ref_known = true;
    }
    v = cc->ref + (int32_t)(seq - (uint32_t)cc->ref);
    if (v > cc->ref) {
        cc->ref = v;
    }
    return v;
}

static ColoCmpFrame *colo_cmp_pvm_at(ColoCmpConn *cc, uint64_t pos)
{
    ColoCmpFrame *f;

    QTAILQ_FOREACH(f, &cc->held, conn_next) {
        if (f->start <= pos && pos < f->end) {
            return f;
        }
    }
    return NULL;
}

static ColoCmpSeg *colo_cmp_svm_at(ColoCmpConn *cc, uint64_t pos)
{
    ColoCmpSeg *s;

    QTAILQ_FOREACH(s, &cc->segs, next) {
        if (s->start > pos) {
            break;
        }
        if (pos < s->end) {
            return s;
        }
    }
    return NULL;
}

/* Free the secondary's segments wholly before pos: compared already. */
static void colo_cmp_svm_trim(ColoCmp *c, ColoCmpConn *cc)
{
    ColoCmpSeg *s;

    while ((s = QTAILQ_FIRST(&cc->segs)) && s->end <= cc->pos) {
        QTAILQ_REMOVE(&cc->segs, s, next);
        colo_cmp_svm_charge(c, cc, s->end - s->start, false);
        colo_cmp_free_mem(c, s, s->end - s->start);
    }
}

/* The frame covering pos: @hint's successor first, the in-order case. */
static ColoCmpFrame *colo_cmp_pvm_next(ColoCmpConn *cc, ColoCmpFrame *hint)
{
    ColoCmpFrame *f = hint ? QTAILQ_NEXT(hint, conn_next) : NULL;

    if (f && f->start <= cc->pos && cc->pos < f->end) {
        return f;
    }
    return colo_cmp_pvm_at(cc, cc->pos);
}

/* Both sides sent @data, @n bytes from pos: pos moves past them. */
static void colo_cmp_pass(ColoCmp *c, ColoCmpConn *cc, const uint8_t *data,
                          uint64_t n)
{
    if (cc->http_on) {
        colo_http_feed(&cc->http, data, n);
    }
    cc->pos += n;
    c->stats.matched_bytes += n;
}

/* How many bytes @a and @b, @n each, start with that are the same. */
static uint64_t colo_cmp_common(const uint8_t *a, const uint8_t *b,
                                uint64_t n)
{
    uint64_t i = 0;

    if (!memcmp(a, b, n)) {
        return n;
    }
    while (a[i] == b[i]) {
        i++;
    }
    return i;
}

/*
 * Compare the secondary's bytes @data, stream positions [@start, @end)
 * with @start <= pos, against the primary's held frames from pos on, as
 * far as both go; pos advances over what is equal, up to a difference.
 * False on a difference.  The primary's frames are looked up from the
 * last one.
 */
static bool colo_cmp_pvm_match(ColoCmp *c, ColoCmpConn *cc,
                               const uint8_t *data, uint64_t start,
                               uint64_t end)
{
    ColoCmpFrame *f = colo_cmp_pvm_at(cc, cc->pos);

    while (f && cc->pos < end) {
        const uint8_t *p = f->data + f->payload_off + (cc->pos - f->start);
        uint64_t n = MIN(f->end, end) - cc->pos;
        uint64_t same = colo_cmp_common(p, data + (cc->pos - start), n);

        colo_cmp_pass(c, cc, p, same);
        if (same < n) {
            return false;
        }
        if (cc->pos >= f->end) {
            f = colo_cmp_pvm_next(cc, f);
        }
    }
    return true;
}

/*
 * Side @side's bytes at stream position @pos: where they are, and how
 * many follow there (*@n); NULL if that side has none kept at @pos.
 */
static const uint8_t *colo_cmp_bytes_at(ColoCmpConn *cc, int side,
                                        uint64_t pos, uint64_t *n)
{
    ColoCmpFrame *f;
    ColoCmpSeg *sg;

    if (side == PVM) {
        f = colo_cmp_pvm_at(cc, pos);
        *n = f ? f->end - pos : 0;
        return f ? f->data + f->payload_off + (pos - f->start) : NULL;
    }
    sg = colo_cmp_svm_at(cc, pos);
    *n = sg ? sg->end - pos : 0;
    return sg ? sg->data + (pos - sg->start) : NULL;
}

/* Side @side's bytes [@pos, @pos + @n) into @out, if all are kept. */
static bool colo_cmp_copy(ColoCmpConn *cc, int side, uint64_t pos,
                          uint32_t n, uint8_t *out)
{
    while (n) {
        uint64_t k;
        const uint8_t *p = colo_cmp_bytes_at(cc, side, pos, &k);

        if (!p) {
            return false;
        }
        k = MIN(k, n);
        memcpy(out, p, k);
        out += k;
        pos += k;
        n -= k;
    }
    return true;
}

typedef enum ColoCmpVerdict {
    COLO_CMP_DIFFERENT,
    COLO_CMP_UNDECIDED,         /* what decides has not come from both */
    COLO_CMP_EQUAL,
} ColoCmpVerdict;

/*
 * The sides differ at pos.  In the value of an HTTP response's Date
 * field each guest writes its own clock: equal if both are valid dates
 * within the window, and then pos moves past the field with the
 * primary's bytes, the ones released.
 */
static ColoCmpVerdict colo_cmp_http_date(ColoCmp *c, ColoCmpConn *cc)
{
    uint8_t a[COLO_HTTP_DATE_FIELD], b[COLO_HTTP_DATE_FIELD];
    uint32_t need = cc->http_on ? colo_http_date_need(&cc->http) : 0;
    uint64_t at = cc->pos;
    int64_t delta;

    if (!need) {
        return COLO_CMP_DIFFERENT;
    }
    if (!colo_cmp_copy(cc, PVM, at, need, a) ||
        !colo_cmp_copy(cc, SVM, at, need, b)) {
        return COLO_CMP_UNDECIDED;
    }
    if (!colo_http_date_equal(&cc->http, a, b, c->lim.http_date_window,
                              &delta)) {
        return COLO_CMP_DIFFERENT;
    }
    colo_cmp_pass(c, cc, a, need);
    c->stats.http_date_equal++;
    if (c->ops->date_equal) {
        c->ops->date_equal(c->opaque, &cc->conn.key, at, delta);
    }
    return COLO_CMP_EQUAL;
}

/* Might a difference at pos still turn out to be none? */
static bool colo_cmp_may_equal(ColoCmpConn *cc)
{
    return cc->http_on && colo_http_date_need(&cc->http);
}

/*
 * Compare the bytes both sides have from pos on; false on a difference.
 * Linear in the bytes compared when segments come in order: the secondary's
 * are freed as soon as they are passed.
 */
static bool colo_cmp_tcp_bytes(ColoCmp *c, ColoCmpConn *cc)
{
    ColoCmpSeg *s;

    while (cc->pos_known && (s = colo_cmp_svm_at(cc, cc->pos))) {
        uint64_t pos = cc->pos;

        if (!colo_cmp_pvm_match(c, cc, s->data, s->start, s->end)) {
            ColoCmpVerdict v = colo_cmp_http_date(c, cc);

            if (v == COLO_CMP_DIFFERENT) {
                return false;
            }
            colo_cmp_svm_trim(c, cc);
            if (v == COLO_CMP_UNDECIDED) {
                return true;
            }
            continue;
        }
        colo_cmp_svm_trim(c, cc);
        if (cc->pos == pos) {
            break;          /* the primary has not sent what comes next */
        }
    }
    colo_cmp_svm_trim(c, cc);
    return true;
}

/*
 * Both RSTs at one place; an RST from a side that sent no FIN against
 * the other's FIN is a difference at once (it would only time out).
 */
static bool colo_cmp_tcp_rst(ColoCmpConn *cc)
{
    if (cc->rst[PVM] && cc->rst[SVM] && cc->rst_pos[PVM] != cc->rst_pos[SVM]) {
        return false;
    }
    for (int x = PVM; x <= SVM; x++) {
        if (cc->rst[x] && !cc->fin[x] && cc->fin[!x]) {
            return false;
        }
    }
    return true;
}

/* Data past a side's FIN, from the other side, is a difference. */
static bool colo_cmp_tcp_fin(ColoCmpConn *cc)
{
    ColoCmpSeg *last = QTAILQ_LAST(&cc->segs);
    ColoCmpFrame *f;

    if (cc->fin[PVM] && cc->fin[SVM]) {
        if (cc->fin_pos[PVM] != cc->fin_pos[SVM]) {
            return false;
        }
        cc->fin_matched = cc->pos_known && cc->pos >= cc->fin_pos[PVM];
        return true;
    }
    if (cc->fin[PVM] && last && last->end > cc->fin_pos[PVM]) {
        return false;
    }
    if (cc->fin[SVM]) {
        QTAILQ_FOREACH(f, &cc->held, conn_next) {
            /* data past the FIN; a bare ACK after it is no difference */
            if (f->end > f->start && f->end > cc->fin_pos[SVM]) {
                return false;
            }
        }
    }
    return true;
}

static void colo_cmp_tcp_advance(ColoCmp *c, ColoCmpConn *cc)
{
    if (cc->mismatched) {
        return;
    }
    if (cc->syn[PVM] && cc->syn[SVM] &&
        cc->syn_flags[PVM] != cc->syn_flags[SVM]) {
        colo_cmp_mismatch(c, cc, COLO_CMP_MISMATCH_FLAGS);
        return;
    }
    if (!colo_cmp_tcp_bytes(c, cc)) {
        colo_cmp_mismatch(c, cc, COLO_CMP_MISMATCH_PAYLOAD);
        return;
    }
    if (!colo_cmp_tcp_fin(cc) || !colo_cmp_tcp_rst(cc)) {
        colo_cmp_mismatch(c, cc, COLO_CMP_MISMATCH_FLAGS);
        return;
    }
    colo_cmp_release_ready(c, cc);
}

/* Note a side's SYN, FIN, RST; the stream position of its payload. */
static void colo_cmp_tcp_side(ColoCmpConn *cc, int side, const ColoPacket *p,
                              uint64_t *start)
{
    uint8_t fl = p->tcp_flags;

    if (fl & COLO_TCP_SYN) {
        cc->syn[side] = true;
        cc->syn_flags[side] = fl & (COLO_TCP_SYN | COLO_TCP_ACK);
        /* only the primary's SYN is in the primary's number space */
        if (side == PVM) {
            *start = colo_cmp_unwrap(cc, p->seq) + 1;
        }
    } else {
        *start = colo_cmp_unwrap(cc, p->seq);
    }
    if (!(fl & COLO_TCP_SYN) || side == PVM) {
        if (!cc->pos_known) {
            cc->pos = *start;
            cc->pos_known = true;
            /* an HTTP stream is followed only from its first byte */
            colo_http_init(&cc->http, fl & COLO_TCP_SYN);
        }
    }
    if ((fl & COLO_TCP_RST) && !cc->rst[side]) {
        cc->rst[side] = true;
        cc->rst_pos[side] = *start;
    }
    /*
     * A FIN before pos was sent before the last checkpoint (the secondary's
     * may arrive after it): that part of the stream is settled.
     */
    if ((fl & COLO_TCP_FIN) && !(fl & COLO_TCP_SYN) &&
        !(cc->pos_known && *start + p->payload_len < cc->pos)) {
        cc->fin[side] = true;
        cc->fin_pos[side] = *start + p->payload_len;
    }
}

static void colo_cmp_tcp_primary(ColoCmpConn *cc, ColoCmpFrame *f,
                                 const ColoPacket *p)
{
    uint64_t start = 0;

    colo_cmp_tcp_side(cc, PVM, p, &start);
    f->tcp_flags = p->tcp_flags;
    f->ack = p->ack;
    f->start = start;
    /* the payload of a SYN (TCP Fast Open) is not compared */
    f->end = (p->tcp_flags & COLO_TCP_SYN) ? start : start + p->payload_len;
    f->payload_off = f->vnet_len + p->payload_off;
    /* a SYN's number is before start already; a FIN's after the data */
    cc->pvm_next = MAX(cc->pvm_next, f->end +
                       !!(p->tcp_flags & COLO_TCP_FIN));
    cc->pvm_data_end = MAX(cc->pvm_data_end, f->end);
}

static void colo_cmp_tcp_secondary(ColoCmp *c, ColoCmpConn *cc,
                                   const uint8_t *frame, const ColoPacket *p)
{
    uint64_t start = 0, end;
    const uint8_t *data;
    ColoCmpSeg *s, *at;

    if (cc->restarted) {
        if (!(p->tcp_flags & COLO_TCP_SYN)) {
            c->stats.svm_dropped++;     /* of the connection before */
            return;
        }
        cc->restarted = false;
    }
    colo_cmp_note_ack(cc, SVM, p);
    colo_cmp_tcp_side(cc, SVM, p, &start);
    if (colo_cmp_svm_flags_ahead(cc)) {
        cc->svm_flag_ns = MIN(cc->svm_flag_ns, c->now);
        colo_cmp_svm_wait(c, cc);
    }
    if ((p->tcp_flags & COLO_TCP_SYN) || !p->payload_len) {
        return;
    }
    end = start + p->payload_len;
    if (cc->mismatched || end <= cc->pos) {
        return;                 /* already compared: a retransmission */
    }
    if (start < cc->pos) {
        start = cc->pos;
    }
    data = frame + p->payload_off + (start - (end - p->payload_len));
    if (QTAILQ_EMPTY(&cc->segs) && cc->pos_known && start == cc->pos) {
        /*
         * The usual case: next in the stream, and the primary's frames
         * are there already.  Compare in place; keep only what they do
         * not cover yet, or what follows a difference that may turn out
         * to be none (colo_cmp_tcp_bytes() decides).
         */
        if (!colo_cmp_pvm_match(c, cc, data, start, end) &&
            !colo_cmp_may_equal(cc)) {
            colo_cmp_mismatch(c, cc, COLO_CMP_MISMATCH_PAYLOAD);
            return;
        }
        data += cc->pos - start;
        start = cc->pos;
        if (start == end) {
            return;
        }
    }
    if (!colo_cmp_svm_room(c, cc, end - start)) {
        return;
    }
    s = colo_cmp_alloc(c, end - start);
    s->arrival_ns = c->now;
    s->start = start;
    s->end = end;
    memcpy(s->data, data, end - start);
    colo_cmp_svm_charge(c, cc, end - start, true);
    colo_cmp_svm_wait(c, cc);
    /* in order, the usual case, it goes last: no walk */
    at = QTAILQ_LAST(&cc->segs);
    if (!at || at->start <= start) {
        QTAILQ_INSERT_TAIL(&cc->segs, s, next);
        return;
    }
    QTAILQ_FOREACH(at, &cc->segs, next) {
        if (at->start > start) {
            QTAILQ_INSERT_BEFORE(at, s, next);
            return;
        }
    }
}

/* ---- datagrams and whole frames ---- */

/*
 * What of a frame is compared: the whole frame for non-IP and malformed
 * ones; for fragments the fragment offset and MF bit, then the IP
 * payload; for the rest the transport payload (all of it for ICMP and
 * other protocols).  IP ID, TTL, checksums never are.
 */
static uint32_t colo_cmp_digest(const uint8_t *frame, const ColoPacket *p,
                                uint8_t *prefix, const uint8_t **body,
                                uint32_t *len)
{
    switch (p->kind) {
    case COLO_PKT_FRAGMENT:
        if (p->ip_version == 4) {
            stw_be_p(prefix, lduw_be_p(frame + p->l3_off + 6) & 0x3fff);
        } else {
            stw_be_p(prefix, lduw_be_p(frame + p->l4_off - 6) & 0xfff9);
        }
        *body = frame + p->l4_off;
        *len = p->l4_len;
        return 2;
    case COLO_PKT_IP:
    case COLO_PKT_UDP:
        *body = frame + p->payload_off;
        *len = p->payload_len;
        return 0;
    default:
        *body = frame;
        *len = p->end;
        return 0;
    }
}

/* Bytes of a compared body that are not compared. */
typedef struct ColoCmpMask {
    uint32_t off;
    uint32_t len;
} ColoCmpMask;

enum { COLO_CMP_MASKS_MAX = 4 };

static bool colo_cmp_icmp4_error(uint8_t type)
{
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/*
 * An ICMP message's checksum, and in the IPv4 header an ICMPv4 error
 * quotes, its ID, TTL and checksum: two guests (a forwarding or NATing
 * one) may choose those differently, as for their own IP headers.
 * In ascending order, inside @len.
 */
static int colo_cmp_icmp_masks(const ColoPacket *p, const uint8_t *body,
                               uint32_t len, ColoCmpMask *m)
{
    int n = 0;

    if (p->kind != COLO_PKT_IP || len < 4 ||
        (p->proto != IPPROTO_ICMP && p->proto != IPPROTO_ICMPV6)) {
        return 0;
    }
    m[n++] = (ColoCmpMask) { 2, 2 };
    if (p->proto == IPPROTO_ICMP && colo_cmp_icmp4_error(body[0]) &&
        len >= 8 + 20 && body[8] >> 4 == 4) {
        m[n++] = (ColoCmpMask) { 8 + 4, 2 };
        m[n++] = (ColoCmpMask) { 8 + 8, 1 };
        m[n++] = (ColoCmpMask) { 8 + 10, 2 };
    }
    return n;
}

static bool colo_cmp_masked_equal(const uint8_t *a, const uint8_t *b,
                                  uint32_t len, const ColoCmpMask *m, int n)
{
    uint32_t at = 0;

    for (int i = 0; i <= n; i++) {
        uint32_t stop = i < n ? m[i].off : len;

        if (memcmp(a + at, b + at, stop - at)) {
            return false;
        }
        at = i < n ? stop + m[i].len : len;
    }
    return true;
}

static bool colo_cmp_dgram_equal(ColoCmpFrame *f, const ColoCmpDgram *d)
{
    ColoCmpMask m[COLO_CMP_MASKS_MAX];
    uint8_t prefix[2];
    const uint8_t *body;
    uint32_t len, plen;
    ColoPacket p;
    int n;

    colo_packet_parse(f->data + f->vnet_len, f->len - f->vnet_len, &p);
    plen = colo_cmp_digest(f->data + f->vnet_len, &p, prefix, &body, &len);
    if (d->len != plen + len || memcmp(d->data, prefix, plen)) {
        return false;
    }
    n = colo_cmp_icmp_masks(&p, body, len, m);
    return colo_cmp_masked_equal(d->data + plen, body, len, m, n);
}

/* Pair the secondary's datagrams with the primary's, oldest first. */
static void colo_cmp_dgram_advance(ColoCmp *c, ColoCmpConn *cc)
{
    ColoCmpFrame *f = QTAILQ_FIRST(&cc->held);
    ColoCmpDgram *d;

    while (!cc->mismatched && (d = QTAILQ_FIRST(&cc->dgrams))) {
        while (f && f->matched) {
            f = QTAILQ_NEXT(f, conn_next);
        }
        if (!f) {
            break;
        }
        if (!colo_cmp_dgram_equal(f, d)) {
            colo_cmp_mismatch(c, cc, COLO_CMP_MISMATCH_FRAME);
            return;
        }
        f->matched = true;
        c->stats.matched_bytes += d->len;
        QTAILQ_REMOVE(&cc->dgrams, d, next);
        colo_cmp_svm_charge(c, cc, d->len, false);
        colo_cmp_free_mem(c, d, d->len);
    }
    colo_cmp_release_ready(c, cc);
}

static void colo_cmp_dgram_secondary(ColoCmp *c, ColoCmpConn *cc,
                                     const uint8_t *frame, const ColoPacket *p)
{
    uint8_t prefix[2];
    const uint8_t *body;
    uint32_t len, plen = colo_cmp_digest(frame, p, prefix, &body, &len);
    ColoCmpDgram *d;

    if (cc->mismatched) {
        return;
    }
    if (!colo_cmp_svm_room(c, cc, plen + len)) {
        return;
    }
    d = colo_cmp_alloc(c, plen + len);
    d->arrival_ns = c->now;
    d->len = plen + len;
    memcpy(d->data, prefix, plen);
    memcpy(d->data + plen, body, len);
    colo_cmp_svm_charge(c, cc, d->len, true);
    /*
     * Not watched for age (secondary-only): a guest's timer-driven
     * datagrams (MLD reports, neighbour advertisements, ARP) come from
     * the secondary seconds early while its clock runs ahead of the
     * primary's, and a checkpoint does not align the clocks: each one
     * would only bring the next.  They wait to be paired in order.
     */
    QTAILQ_INSERT_TAIL(&cc->dgrams, d, next);
}

/* ---- connections ---- */

/*
 * The table evicts @conn: what it holds goes out first, in order.  Those
 * frames were not compared: the secondary may not have sent the same, so
 * a checkpoint is asked for (once until the next one: a SYN flood evicts
 * many).
 */
static void colo_cmp_conn_release(void *opaque, ColoConn *conn)
{
    ColoCmp *c = opaque;
    ColoCmpConn *cc = (ColoCmpConn *)conn;
    ColoCmpFrame *f;

    if (!QTAILQ_EMPTY(&cc->held) && !cc->mismatched && !c->evict_requested) {
        c->evict_requested = true;
        colo_cmp_request(c, cc, COLO_CMP_EVICTED);
    }
    while ((f = QTAILQ_FIRST(&cc->held))) {
        c->stats.released_forced++;
        colo_cmp_send(c, f);
    }
    colo_cmp_free_svm(c, cc, false);
    colo_cmp_svm_unwait(c, cc);
}

/*
 * A SYN started a new connection on the 5-tuple (colo_conn_track()): its
 * comparison starts from scratch.  What the secondary sends before its
 * own SYN belongs to the connection before; primary frames of that one
 * still held cannot be compared any more and wait for a checkpoint.
 */
static void colo_cmp_tcp_restart(ColoCmp *c, ColoCmpConn *cc)
{
    colo_cmp_free_svm(c, cc, true);
    cc->ref_known = false;
    cc->pos_known = false;
    cc->pos = 0;
    cc->pvm_next = 0;
    cc->pvm_data_end = 0;
    memset(cc->syn, 0, sizeof(cc->syn));
    memset(cc->fin, 0, sizeof(cc->fin));
    memset(cc->rst, 0, sizeof(cc->rst));
    cc->fin_matched = false;
    memset(cc->ack_known, 0, sizeof(cc->ack_known));
    cc->svm_flag_ns = INT64_MAX;
    cc->restarted = true;
    if (!QTAILQ_EMPTY(&cc->held) && !cc->mismatched) {
        colo_cmp_mismatch(c, cc, COLO_CMP_MISMATCH_FLAGS);
    }
}

/* Is @port, the guest's, one whose HTTP Date fields may differ? */
static bool colo_cmp_http_port(ColoCmp *c, uint16_t port)
{
    for (int i = 0; i < COLO_CMP_HTTP_DATE_PORTS; i++) {
        if (port && c->lim.http_date_ports[i] == port) {
            return true;
        }
    }
    return false;
}

/*
 * The connection of @p, created if need be.  Only what the primary's
 * guest and the client send says how the connection lives: the
 * secondary's SYN has a number of its own.
 */
static ColoCmpConn *colo_cmp_conn(ColoCmp *c, const ColoPacket *p,
                                  int64_t now, bool pvm)
{
    ColoConnKey key;
    ColoCmpConn *cc;
    bool created;
    int side = colo_conn_key_from_packet(p, &key);

    cc = (ColoCmpConn *)colo_conn_get(c->conns, &key, now, &created);
    if (created) {
        QTAILQ_INIT(&cc->held);
        QTAILQ_INIT(&cc->segs);
        QTAILQ_INIT(&cc->dgrams);
        cc->tcp = p->kind == COLO_PKT_TCP;
        cc->svm_flag_ns = INT64_MAX;
        cc->http_on = cc->tcp && colo_cmp_http_port(c, p->sport);
    }
    if (pvm && cc->tcp && colo_conn_track(&cc->conn, p, side)) {
        colo_cmp_tcp_restart(c, cc);
    }
    return cc;
}

/* Over a bound: ask for a checkpoint; past twice it, let the oldest go. */
static void colo_cmp_bounds(ColoCmp *c, ColoCmpConn *cc)
{
    bool conn_over = cc->held_frames > c->lim.conn_frames ||
                     cc->held_bytes > c->lim.conn_bytes;
    bool total_over = c->frames > c->lim.total_frames ||
                      c->bytes > c->lim.total_bytes;

    /*
     * Too much held is no difference: ask for a checkpoint (once per
     * timeout period) but go on comparing.
     */
    if (conn_over && !cc->mismatched &&
        (!cc->queue_requested || c->now - cc->requested_ns >=
         c->lim.timeout_ns)) {
        cc->queue_requested = true;
        colo_cmp_request(c, cc, COLO_CMP_QUEUE_CONN);
    }
    if (total_over && !c->total_requested) {
        c->total_requested = true;
        colo_cmp_request(c, NULL, COLO_CMP_QUEUE_TOTAL);
    }
    while (cc->held_frames > 2 * c->lim.conn_frames ||
           cc->held_bytes > 2 * c->lim.conn_bytes) {
        c->stats.released_forced++;
        colo_cmp_send(c, QTAILQ_FIRST(&cc->held));
    }
    while (c->frames > 2 * c->lim.total_frames ||
           c->bytes > 2 * c->lim.total_bytes) {
        c->stats.released_forced++;
        colo_cmp_send(c, QTAILQ_FIRST(&c->all));
    }
}

/*
 * A primary TCP frame that may go at once, without being held or
 * copied: nothing of its connection is held before it, no SYN, FIN or
 * RST is involved, and its payload is already compared (a
 * retransmission) or the secondary's stored segments cover all of it
 * with the same bytes (the secondary was ahead).  Anything else takes
 * the general path, which then compares again and reports a difference.
 */
static bool colo_cmp_tcp_pass(ColoCmp *c, ColoCmpConn *cc,
                              const uint8_t *frame, const ColoPacket *p)
{
    const uint8_t *data = frame + p->payload_off;
    uint64_t start, end, at;
    ColoCmpSeg *s;

    if (cc->mismatched || !cc->pos_known || !QTAILQ_EMPTY(&cc->held) ||
        (p->tcp_flags & (COLO_TCP_SYN | COLO_TCP_FIN | COLO_TCP_RST)) ||
        cc->fin[PVM] || cc->fin[SVM] ||
        !colo_cmp_ack_covered(cc, p->tcp_flags, p->ack)) {
        return false;
    }
    start = colo_cmp_unwrap(cc, p->seq);
    end = start + p->payload_len;
    if (end <= cc->pos) {
        /* compared already (a retransmission), or a bare ACK */
    } else if (start != cc->pos) {
        return false;
    } else {
        /* all of it in the secondary's segments, all the same */
        for (at = start; at < end; at = s->end) {
            s = colo_cmp_svm_at(cc, at);
            if (!s) {
                return false;
            }
        }
        for (at = start; at < end; at += MIN(s->end, end) - at) {
            s = colo_cmp_svm_at(cc, at);
            if (memcmp(data + (at - start), s->data + (at - s->start),
                       MIN(s->end, end) - at)) {
                return false;
            }
        }
        colo_cmp_pass(c, cc, data, end - start);
        colo_cmp_svm_trim(c, cc);
    }
    cc->pvm_next = MAX(cc->pvm_next, end);
    cc->pvm_data_end = MAX(cc->pvm_data_end, end);
    return true;
}

/* ---- the interface ---- */

void colo_cmp_primary(ColoCmp *c, const uint8_t *buf, uint32_t len,
                      uint32_t vnet_len, unsigned flags, int64_t now)
{
    ColoCmpFrame *f;
    ColoCmpConn *cc;
    ColoPacket p;

    c->now = now;
    vnet_len = MIN(vnet_len, len);
    colo_packet_parse(buf + vnet_len, len - vnet_len, &p);
    c->stats.compared++;
    c->stats.malformed += p.kind == COLO_PKT_MALFORMED;
    cc = colo_cmp_conn(c, &p, now, true);
    if (cc->tcp && p.kind == COLO_PKT_TCP) {
        colo_cmp_note_ack(cc, PVM, &p);
    }
    if (cc->tcp && p.kind == COLO_PKT_TCP &&
        colo_cmp_tcp_pass(c, cc, buf + vnet_len, &p)) {
        c->stats.released++;
        c->ops->release(c->opaque, buf, len, flags);
        return;
    }
    f = colo_cmp_alloc(c, len);
    memset(f, 0, sizeof(*f));
    memcpy(f->data, buf, len);
    f->len = len;
    f->flags = flags;
    f->arrival_ns = now;
    f->vnet_len = vnet_len;
    f->conn = cc;
    if (cc->tcp && p.kind == COLO_PKT_TCP) {
        colo_cmp_tcp_primary(cc, f, &p);
    }
    QTAILQ_INSERT_TAIL(&cc->held, f, conn_next);
    QTAILQ_INSERT_TAIL(&c->all, f, all_next);
    cc->held_frames++;
    cc->held_bytes += colo_cmp_cost(len);
    c->frames++;
    c->bytes += colo_cmp_cost(len);
    if (cc->tcp) {
        colo_cmp_tcp_advance(c, cc);
    } else {
        colo_cmp_dgram_advance(c, cc);
    }
    colo_cmp_bounds(c, cc);
}

void colo_cmp_secondary(ColoCmp *c, const uint8_t *buf, uint32_t len,
                        uint32_t vnet_len, int64_t now)
{
    const uint8_t *frame = buf + MIN(vnet_len, len);
    ColoCmpConn *cc;
    ColoPacket p;

    c->now = now;
    colo_packet_parse(frame, len - MIN(vnet_len, len), &p);
    c->stats.compared++;
    c->stats.malformed += p.kind == COLO_PKT_MALFORMED;
    cc = colo_cmp_conn(c, &p, now, false);
    if (cc->tcp && p.kind == COLO_PKT_TCP) {
        colo_cmp_tcp_secondary(c, cc, frame, &p);
        colo_cmp_tcp_advance(c, cc);
    } else if (!cc->tcp) {
        colo_cmp_dgram_secondary(c, cc, frame, &p);
        colo_cmp_dgram_advance(c, cc);
    }
}

void colo_cmp_ingress(ColoCmp *c, const uint8_t *buf, uint32_t len,
                      uint32_t vnet_len, int64_t now)
{
    ColoConnKey key;
    ColoCmpConn *cc;
    ColoPacket p;
    int side;

    vnet_len = MIN(vnet_len, len);
    if (colo_packet_parse(buf + vnet_len, len - vnet_len, &p) !=
        COLO_PKT_TCP) {
        return;
    }
    side = colo_conn_key_from_packet(&p, &key);
    cc = (ColoCmpConn *)colo_conn_lookup(c->conns, &key);
    c->now = now;
    if (cc && cc->tcp && colo_conn_track(&cc->conn, &p, side)) {
        colo_cmp_tcp_restart(c, cc);
    }
    if (cc && cc->http_on && p.payload_len) {
        colo_http_request(&cc->http, buf + vnet_len + p.payload_off,
                          p.payload_len);
    }
}

/*
 * A checkpoint releases what the primary holds: the HTTP parser reads it
 * as if both sides had sent it.  A part of the stream released unread
 * (past twice a bound) leaves the parser lost.
 */
static void colo_cmp_http_catch_up(void *opaque, ColoConn *conn)
{
    ColoCmpConn *cc = (ColoCmpConn *)conn;
    uint64_t at = cc->pos, n;
    const uint8_t *p;

    if (!cc->http_on || !cc->pos_known || colo_http_off(&cc->http)) {
        return;
    }
    while ((p = colo_cmp_bytes_at(cc, PVM, at, &n))) {
        colo_http_feed(&cc->http, p, n);
        at += n;
    }
    if (at < cc->pvm_data_end) {
        colo_http_init(&cc->http, false);
    }
}

/* After a checkpoint both VMs stand at the primary's snd_nxt. */
static void colo_cmp_reset(void *opaque, ColoConn *conn)
{
    ColoCmp *c = opaque;
    ColoCmpConn *cc = (ColoCmpConn *)conn;

    colo_cmp_free_svm(c, cc, false);
    cc->mismatched = false;
    cc->queue_requested = false;
    cc->pos_known = cc->tcp && cc->pvm_next;
    cc->pos = cc->pvm_next;
    memset(cc->syn, 0, sizeof(cc->syn));
    memset(cc->fin, 0, sizeof(cc->fin));
    memset(cc->rst, 0, sizeof(cc->rst));
    cc->fin_matched = false;
    cc->restarted = false;
    /* a copy of the primary's guest: it holds what that one acked */
    cc->ack_known[SVM] = cc->ack_known[PVM];
    cc->ack[SVM] = cc->ack[PVM];
    cc->svm_flag_ns = INT64_MAX;
    colo_cmp_svm_unwait(c, cc);
}

static void colo_cmp_flush(ColoCmp *c, uint64_t *counter)
{
    ColoCmpFrame *f;

    colo_conn_foreach(c->conns, colo_cmp_http_catch_up, c);
    while ((f = QTAILQ_FIRST(&c->all))) {
        (*counter)++;
        colo_cmp_send(c, f);
    }
    colo_conn_foreach(c->conns, colo_cmp_reset, c);
    c->total_requested = false;
    c->evict_requested = false;
}

void colo_cmp_request_resync(ColoCmp *c)
{
    colo_cmp_request(c, NULL, COLO_CMP_RESYNC);
}

void colo_cmp_checkpoint(ColoCmp *c)
{
    colo_cmp_flush(c, &c->stats.released_checkpoint);
}

void colo_cmp_release_all(ColoCmp *c)
{
    colo_cmp_flush(c, &c->stats.released_forced);
}

void colo_cmp_tick(ColoCmp *c, int64_t now)
{
    ColoCmpFrame *f;

    c->now = now;
    /* forget connections closed and unused for longer than the grace */
    colo_conn_reap(c->conns, now, c->lim.closed_grace_ns, 0);
    colo_cmp_tick_svm(c);
    f = QTAILQ_FIRST(&c->all);
    if (!f || now - f->arrival_ns < c->lim.timeout_ns) {
        return;
    }
    if (!f->conn->mismatched) {
        colo_cmp_mismatch(c, f->conn, COLO_CMP_TIMEOUT);
    } else if (now - f->conn->requested_ns >= c->lim.timeout_ns) {
        /* the checkpoint asked for has not come: ask again */
        colo_cmp_request(c, f->conn, COLO_CMP_TIMEOUT);
    }
}

ColoCmp *colo_cmp_new(const ColoCmpLimits *lim, uint32_t seed,
                      const ColoCmpOps *ops, void *opaque)
{
    ColoCmp *c = g_new0(ColoCmp, 1);

    c->lim = *lim;
    c->ops = ops;
    c->opaque = opaque;
    c->conns = colo_conn_table_new(lim->max_conns, sizeof(ColoCmpConn), seed,
                                   colo_cmp_conn_release, c);
    QTAILQ_INIT(&c->all);
    QTAILQ_INIT(&c->waiting);
    QSLIST_INIT(&c->cache[0]);
    QSLIST_INIT(&c->cache[1]);
    return c;
}

void colo_cmp_free(ColoCmp *c)
{
    if (c) {
        ColoCmpCached *m;

        colo_cmp_release_all(c);
        colo_conn_table_free(c->conns);
        for (int k = 0; k < 2; k++) {
            while ((m = QSLIST_FIRST(&c->cache[k]))) {
                QSLIST_REMOVE_HEAD(&c->cache[k], next);
                g_free(m);
            }
        }
        g_free(c);
    }
}

const ColoCmpStats *colo_cmp_stats(ColoCmp *c)
{
    c->stats.evictions = 0;
    for (int i = 0; i < COLO_EVICT__MAX; i++) {
        c->stats.evictions += colo_conn_evictions(c->conns, i);
    }
    return &c->stats;
}

uint32_t colo_cmp_held_frames(const ColoCmp *c)
{
    return c->frames;
}

uint64_t colo_cmp_held_bytes(const ColoCmp *c)
{
    return c->bytes;
}

uint64_t colo_cmp_svm_bytes(const ColoCmp *c)
{
    return c->svm_bytes;
}

uint32_t colo_cmp_conns(const ColoCmp *c)
{
    return colo_conn_count(c->conns);
}
