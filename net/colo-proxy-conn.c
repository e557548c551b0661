/*
 * COLO proxy: bounded connection table (no QOM, no I/O)
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "qemu/jhash.h"
#include "net/colo-proxy-conn.h"
#include "net/colo-proxy-seq.h"

enum {
    /* Entries looked at, oldest first, to find one to evict. */
    COLO_CONN_EVICT_SCAN = 64,
};

/* The largest window TCP can announce (RFC 7323: 65535 << 14). */
#define COLO_CONN_RST_WINDOW (1u << 30)

typedef QLIST_HEAD(, ColoConn) ColoConnBucket;

struct ColoConnTable {
    ColoConnBucket *buckets;
    uint32_t mask;
    uint32_t seed;
    uint32_t count;
    uint32_t max;
    size_t conn_size;
    int64_t idle_ns;
    QTAILQ_HEAD(, ColoConn) lru;
    ColoConnReleaseFn *release;
    void *opaque;
    uint64_t evictions[COLO_EVICT__MAX];
};

ColoConnTable *colo_conn_table_new(uint32_t max, size_t conn_size,
                                   uint32_t seed, ColoConnReleaseFn *release,
                                   void *opaque)
{
    ColoConnTable *t = g_new0(ColoConnTable, 1);
    uint32_t nb = pow2ceil(MAX(max, 16));

    assert(conn_size >= sizeof(ColoConn) && max > 0);
    t->buckets = g_new0(ColoConnBucket, nb);
    t->mask = nb - 1;
    t->seed = seed;
    t->max = max;
    t->conn_size = conn_size;
    t->release = release;
    t->opaque = opaque;
    QTAILQ_INIT(&t->lru);
    return t;
}

void colo_conn_table_free(ColoConnTable *t)
{
    ColoConn *c, *next;

    if (!t) {
        return;
    }
    QTAILQ_FOREACH_SAFE(c, &t->lru, lru, next) {
        colo_conn_remove(t, c);
    }
    g_free(t->buckets);
    g_free(t);
}

static uint32_t colo_conn_hash(const ColoConnTable *t, const ColoConnKey *k)
{
    uint32_t w[sizeof(*k) / 4];

    memcpy(w, k, sizeof(w));
    return jhash2(w, ARRAY_SIZE(w), t->seed);
}

int colo_conn_key_from_packet(const ColoPacket *p, ColoConnKey *key)
{
    bool ports = p->kind == COLO_PKT_TCP || p->kind == COLO_PKT_UDP;
    int cmp;

    memset(key, 0, sizeof(*key));
    key->vlan = p->vlan;
    key->kind = p->kind;
    if (p->kind == COLO_PKT_L2 || p->kind == COLO_PKT_MALFORMED) {
        /* one stream per ethertype (or ARP exchange), frame by frame */
        key->port[0] = p->ethertype;
        if (p->arp_op) {
            key->proto = p->arp_op;
            memcpy(key->addr[0], p->src, 4);
            memcpy(key->addr[1], p->dst, 4);
        }
        return 0;
    }
    key->ip_version = p->ip_version;
    key->proto = p->proto;
    cmp = memcmp(p->src, p->dst, COLO_PKT_ADDR_LEN);
    if (cmp == 0 && ports) {
        cmp = (int)p->sport - (int)p->dport;
    }
    memcpy(key->addr[cmp > 0], p->src, COLO_PKT_ADDR_LEN);
    memcpy(key->addr[cmp <= 0], p->dst, COLO_PKT_ADDR_LEN);
    if (ports) {
        key->port[cmp > 0] = p->sport;
        key->port[cmp <= 0] = p->dport;
    }
    return cmp > 0;
}

ColoConn *colo_conn_lookup(ColoConnTable *t, const ColoConnKey *key)
{
    ColoConn *c;

    QLIST_FOREACH(c, &t->buckets[colo_conn_hash(t, key) & t->mask], hnext) {
        if (!memcmp(&c->key, key, sizeof(*key))) {
            return c;
        }
    }
    return NULL;
}

/* An RST is in the window of its receiver, which acked @rcv up to there. */
static bool colo_conn_rst_in_window(const ColoConnPeer *rcv, uint32_t seq)
{
    return !rcv->ack_seen ||
           seq_between(seq, rcv->ack, rcv->ack + COLO_CONN_RST_WINDOW);
}

bool colo_conn_track(ColoConn *c, const ColoPacket *p, int side)
{
    ColoConnPeer *me = &c->peer[side], *other = &c->peer[!side];
    uint8_t fl = p->tcp_flags;
    bool reopen = false;

    if (p->kind != COLO_PKT_TCP) {
        return false;
    }
    if ((fl & COLO_TCP_SYN) && !(fl & COLO_TCP_RST)) {
        reopen = c->state == COLO_CONN_CLOSED || (me->syn && p->seq != me->isn);
        if (reopen) {
            memset(c->peer, 0, sizeof(c->peer));
            c->state = COLO_CONN_NEW;
        }
        me->syn = true;
        me->isn = p->seq;
    }
    if (fl & COLO_TCP_RST) {
        if (colo_conn_rst_in_window(other, p->seq)) {
            c->state = COLO_CONN_CLOSED;
        }
        return false;
    }
    if (fl & COLO_TCP_ACK) {
        me->ack = p->ack;
        me->ack_seen = true;
        if (other->fin && !seq_before(p->ack, other->fin_end)) {
            other->fin_acked = true;
        }
    }
    if ((fl & COLO_TCP_FIN) && !(fl & COLO_TCP_SYN)) {
        me->fin = true;
        me->fin_end = p->seq + p->payload_len + 1;
    }
    if (me->fin_acked && other->fin_acked) {
        c->state = COLO_CONN_CLOSED;
    } else if (c->state == COLO_CONN_NEW && !(fl & COLO_TCP_SYN)) {
        c->state = COLO_CONN_ESTABLISHED;
    }
    return reopen;
}

void colo_conn_remove(ColoConnTable *t, ColoConn *c)
{
    if (t->release) {
        t->release(t->opaque, c);
    }
    QLIST_REMOVE(c, hnext);
    QTAILQ_REMOVE(&t->lru, c, lru);
    t->count--;
    g_free(c);
}

/* Pick the entry to make room with: closed, idle, new, oldest. */
static ColoConn *colo_conn_victim(ColoConnTable *t, int64_t now,
                                  ColoConnEvictWhy *why)
{
    ColoConn *c, *idle = NULL, *fresh = NULL;
    int n = 0;

    QTAILQ_FOREACH(c, &t->lru, lru) {
        if (c->state == COLO_CONN_CLOSED) {
            *why = COLO_EVICT_CLOSED;
            return c;
        }
        if (!idle && t->idle_ns && now - c->last_ns >= t->idle_ns) {
            idle = c;
        }
        if (!fresh && c->state == COLO_CONN_NEW) {
            fresh = c;
        }
        if (++n == COLO_CONN_EVICT_SCAN) {
            break;
        }
    }
    *why = idle ? COLO_EVICT_IDLE : fresh ? COLO_EVICT_NEW : COLO_EVICT_LRU;
    return idle ? idle : fresh ? fresh : QTAILQ_FIRST(&t->lru);
}

ColoConn *colo_conn_get(ColoConnTable *t, const ColoConnKey *key,
                        int64_t now, bool *created)
{
    ColoConn *c = colo_conn_lookup(t, key);

    *created = !c;
    if (!c) {
        if (t->count >= t->max) {
            ColoConnEvictWhy why;

            colo_conn_remove(t, colo_conn_victim(t, now, &why));
            t->evictions[why]++;
        }
        c = g_malloc0(t->conn_size);
        c->key = *key;
        QLIST_INSERT_HEAD(&t->buckets[colo_conn_hash(t, key) & t->mask],
                          c, hnext);
        t->count++;
    } else {
        QTAILQ_REMOVE(&t->lru, c, lru);
    }
    QTAILQ_INSERT_TAIL(&t->lru, c, lru);
    c->last_ns = now;
    return c;
}

void colo_conn_reap(ColoConnTable *t, int64_t now, int64_t grace_ns,
                    int64_t idle_ns)
{
    int64_t horizon = idle_ns ? MIN(grace_ns, idle_ns) : grace_ns;
    ColoConn *c, *next;

    QTAILQ_FOREACH_SAFE(c, &t->lru, lru, next) {
        bool closed = c->state == COLO_CONN_CLOSED &&
                      now - c->last_ns >= grace_ns;
        bool idle = idle_ns && now - c->last_ns >= idle_ns;

        if (closed || idle) {
            colo_conn_remove(t, c);
        } else if (now - c->last_ns < horizon) {
            break;          /* the rest were used more recently */
        }
    }
}

void colo_conn_foreach(ColoConnTable *t, void (*fn)(void *, ColoConn *),
                       void *opaque)
{
    ColoConn *c, *next;

    QTAILQ_FOREACH_SAFE(c, &t->lru, lru, next) {
        fn(opaque, c);
    }
}

uint32_t colo_conn_count(const ColoConnTable *t)
{
    return t->count;
}

uint64_t colo_conn_evictions(const ColoConnTable *t, ColoConnEvictWhy why)
{
    return why < COLO_EVICT__MAX ? t->evictions[why] : 0;
}

void colo_conn_set_idle(ColoConnTable *t, int64_t idle_ns)
{
    t->idle_ns = idle_ns;
}
