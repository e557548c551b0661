/*
 * Unit tests for colo-proxy's TCP sequence translation
 *
 * Every scenario runs with the primary's and the secondary's initial
 * sequence numbers at 0, 1, 2^32 - 1 and 2^32 - 10, so that wraparound is
 * covered everywhere.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "net/colo-proxy-seq.h"
#include "../qtest/colo-proxy-frames.h"

static const uint32_t isns[] = { 0, 1, UINT32_MAX, UINT32_MAX - 10 };

/* The client's side of the connection and the guest's. */
static CpFlow client, guest;

static ColoSeqVerdict ingress(ColoSeq *s, GByteArray *b)
{
    ColoPacket p;

    g_assert_cmpint(colo_packet_parse(b->data, b->len, &p), ==,
                    COLO_PKT_TCP);
    return colo_seq_ingress(s, b->data, &p, false);
}

static void egress(ColoSeq *s, GByteArray *b)
{
    ColoPacket p;

    g_assert_cmpint(colo_packet_parse(b->data, b->len, &p), ==,
                    COLO_PKT_TCP);
    colo_seq_egress(s, b->data, &p, false);
}

/* @b now has seq @seq and ack @ack, and valid checksums. */
static void check(const GByteArray *b, uint32_t seq, uint32_t ack)
{
    ColoPacket p;

    colo_packet_parse(b->data, b->len, &p);
    g_assert_cmphex(p.seq, ==, seq);
    g_assert_cmphex(p.ack, ==, ack);
    g_assert_true(cp_frame_checksums_ok(b));
}

static void setup(void)
{
    client = cp_flow(false, 0, 40000, 80);
    guest = cp_flow_reverse(&client);
}

/* Client opens: SYN in, SVM's SYN-ACK out, ACK and data both ways. */
static void run_client_open(uint32_t pisn, uint32_t sisn, uint32_t cisn)
{
    ColoSeq s = { 0 };
    g_autoptr(GByteArray) syn = cp_frame_tcp(&client, cisn, 0, CP_TCP_SYN,
                                             NULL, 0);
    g_autoptr(GByteArray) synack = cp_frame_tcp(&guest, sisn, cisn + 1,
                                                CP_TCP_SYN | CP_TCP_ACK,
                                                NULL, 0);
    g_autoptr(GByteArray) ack = cp_frame_tcp(&client, cisn + 1, pisn + 1,
                                             CP_TCP_ACK, "GET", 3);
    g_autoptr(GByteArray) data = cp_frame_tcp(&guest, sisn + 1, cisn + 4,
                                              CP_TCP_ACK, "200", 3);

    g_assert_cmpint(ingress(&s, syn), ==, COLO_SEQ_PASS);
    check(syn, cisn, 0);
    egress(&s, synack);
    check(synack, sisn, cisn + 1);       /* offset not known yet */
    g_assert_cmpint(ingress(&s, ack), ==, COLO_SEQ_PASS);
    check(ack, cisn + 1, sisn + 1);
    egress(&s, data);
    check(data, pisn + 1, cisn + 4);
}

/* Guest opens: SVM's SYN out, the client's SYN-ACK in. */
static void run_guest_open(uint32_t pisn, uint32_t sisn, uint32_t cisn)
{
    ColoSeq s = { 0 };
    g_autoptr(GByteArray) syn = cp_frame_tcp(&guest, sisn, 0, CP_TCP_SYN,
                                             NULL, 0);
    g_autoptr(GByteArray) synack = cp_frame_tcp(&client, cisn, pisn + 1,
                                                CP_TCP_SYN | CP_TCP_ACK,
                                                NULL, 0);
    g_autoptr(GByteArray) ack = cp_frame_tcp(&guest, sisn + 1, cisn + 1,
                                             CP_TCP_ACK, NULL, 0);

    egress(&s, syn);
    check(syn, sisn, 0);
    g_assert_cmpint(ingress(&s, synack), ==, COLO_SEQ_PASS);
    check(synack, cisn, sisn + 1);
    egress(&s, ack);
    check(ack, pisn + 1, cisn + 1);
}

/*
 * The client's ACK overtakes the SVM's SYN-ACK: held until the SVM's ISN
 * is known, then translated.
 */
static void run_hold(uint32_t pisn, uint32_t sisn, uint32_t cisn)
{
    ColoSeq s = { 0 };
    g_autoptr(GByteArray) syn = cp_frame_tcp(&client, cisn, 0, CP_TCP_SYN,
                                             NULL, 0);
    g_autoptr(GByteArray) ack = cp_frame_tcp(&client, cisn + 1, pisn + 1,
                                             CP_TCP_ACK, NULL, 0);
    g_autoptr(GByteArray) synack = cp_frame_tcp(&guest, sisn, cisn + 1,
                                                CP_TCP_SYN | CP_TCP_ACK,
                                                NULL, 0);

    ingress(&s, syn);
    g_assert_cmpint(ingress(&s, ack), ==, COLO_SEQ_HOLD);
    check(ack, cisn + 1, pisn + 1);     /* untouched while held */
    egress(&s, synack);
    g_assert_cmpint(ingress(&s, ack), ==, COLO_SEQ_PASS);
    check(ack, cisn + 1, sisn + 1);
}

/* SACK edges name the guest's data: they move with the ack. */
static void run_sack(uint32_t pisn, uint32_t sisn, uint32_t cisn)
{
    ColoSeq s = { 0 };
    uint8_t opts[20] = { 1, 1, 5, 18 };
    g_autoptr(GByteArray) syn = cp_frame_tcp(&guest, sisn, 0, CP_TCP_SYN,
                                             NULL, 0);
    g_autoptr(GByteArray) synack = cp_frame_tcp(&client, cisn, pisn + 1,
                                                CP_TCP_SYN | CP_TCP_ACK,
                                                NULL, 0);
    g_autoptr(GByteArray) sack = NULL;
    ColoPacket p;

    stl_be_p(opts + 4, pisn + 1001);
    stl_be_p(opts + 8, pisn + 2001);
    stl_be_p(opts + 12, pisn + 3001);
    stl_be_p(opts + 16, pisn + 4001);
    sack = cp_frame_tcp_opts(&client, cisn + 1, pisn + 1, CP_TCP_ACK,
                             opts, sizeof(opts), NULL, 0);
    egress(&s, syn);
    ingress(&s, synack);
    g_assert_cmpint(ingress(&s, sack), ==, COLO_SEQ_PASS);
    check(sack, cisn + 1, sisn + 1);
    colo_packet_parse(sack->data, sack->len, &p);
    for (int i = 0; i < 4; i++) {
        g_assert_cmphex(ldl_be_p(sack->data + p.l4_off + 24 + 4 * i), ==,
                        sisn + 1001 + 1000 * i);
    }
}

/* After a checkpoint both VMs agree: nothing changes. */
static void run_checkpoint(uint32_t pisn, uint32_t sisn, uint32_t cisn)
{
    ColoSeq s = { 0 };
    g_autoptr(GByteArray) syn = cp_frame_tcp(&guest, sisn, 0, CP_TCP_SYN,
                                             NULL, 0);
    g_autoptr(GByteArray) synack = cp_frame_tcp(&client, cisn, pisn + 1,
                                                CP_TCP_SYN | CP_TCP_ACK,
                                                NULL, 0);
    g_autoptr(GByteArray) data = cp_frame_tcp(&guest, pisn + 1, cisn + 1,
                                              CP_TCP_ACK, "x", 1);
    g_autoptr(GByteArray) ack = cp_frame_tcp(&client, cisn + 1, pisn + 2,
                                             CP_TCP_ACK, NULL, 0);

    egress(&s, syn);
    ingress(&s, synack);
    colo_seq_checkpoint(&s);
    egress(&s, data);
    check(data, pisn + 1, cisn + 1);
    g_assert_cmpint(ingress(&s, ack), ==, COLO_SEQ_PASS);
    check(ack, cisn + 1, pisn + 2);
}

/* A connection first seen mid-stream was copied by a checkpoint. */
static void run_midstream(uint32_t pisn, uint32_t sisn, uint32_t cisn)
{
    ColoSeq s = { 0 };
    g_autoptr(GByteArray) ack = cp_frame_tcp(&client, cisn, pisn,
                                             CP_TCP_ACK, "more", 4);

    g_assert_cmpint(ingress(&s, ack), ==, COLO_SEQ_PASS);
    check(ack, cisn, pisn);
    (void)sisn;
}

/* A new SYN on a 4-tuple with a known offset starts over. */
static void run_reuse(uint32_t pisn, uint32_t sisn, uint32_t cisn)
{
    ColoSeq s = { 0 };

    for (int round = 0; round < 3; round++) {
        uint32_t p2 = pisn + 0x10000 * round;
        uint32_t s2 = sisn + 0x20000 * round;
        g_autoptr(GByteArray) syn = cp_frame_tcp(&client, cisn, 0,
                                                 CP_TCP_SYN, NULL, 0);
        g_autoptr(GByteArray) synack = cp_frame_tcp(&guest, s2, cisn + 1,
                                                    CP_TCP_SYN | CP_TCP_ACK,
                                                    NULL, 0);
        g_autoptr(GByteArray) ack = cp_frame_tcp(&client, cisn + 1, p2 + 1,
                                                 CP_TCP_ACK, NULL, 0);

        ingress(&s, syn);
        egress(&s, synack);
        g_assert_cmpint(ingress(&s, ack), ==, COLO_SEQ_PASS);
        check(ack, cisn + 1, s2 + 1);
    }
}

/*
 * With a vnet header's NEEDS_CSUM the checksum field holds the
 * pseudo-header's sum, which seq, ack and SACK edges are no part of:
 * translation must leave it as it is, both ways.
 */
static void run_partial_csum(uint32_t pisn, uint32_t sisn, uint32_t cisn)
{
    ColoSeq s = { 0 };
    uint8_t opts[12] = { 1, 1, 5, 10 };
    g_autoptr(GByteArray) syn = cp_frame_tcp(&guest, sisn, 0, CP_TCP_SYN,
                                             NULL, 0);
    g_autoptr(GByteArray) synack = cp_frame_tcp(&client, cisn, pisn + 1,
                                                CP_TCP_SYN | CP_TCP_ACK,
                                                NULL, 0);
    g_autoptr(GByteArray) data = cp_frame_tcp(&guest, sisn + 1, cisn + 1,
                                              CP_TCP_ACK, "abc", 3);
    g_autoptr(GByteArray) sack = NULL;
    GByteArray *both[2];
    ColoPacket p;

    stl_be_p(opts + 4, pisn + 101);
    stl_be_p(opts + 8, pisn + 201);
    sack = cp_frame_tcp_opts(&client, cisn + 1, pisn + 1, CP_TCP_ACK,
                             opts, sizeof(opts), NULL, 0);
    both[0] = data;
    both[1] = sack;
    for (int i = 0; i < 2; i++) {
        colo_packet_parse(both[i]->data, both[i]->len, &p);
        stw_be_p(both[i]->data + p.l4_off + 16, 0x1234);   /* a partial sum */
    }
    g_assert_cmpint(colo_packet_parse(syn->data, syn->len, &p), ==,
                    COLO_PKT_TCP);
    colo_seq_egress(&s, syn->data, &p, true);
    colo_packet_parse(synack->data, synack->len, &p);
    g_assert_cmpint(colo_seq_ingress(&s, synack->data, &p, true), ==,
                    COLO_SEQ_PASS);

    colo_packet_parse(data->data, data->len, &p);
    colo_seq_egress(&s, data->data, &p, true);
    colo_packet_parse(sack->data, sack->len, &p);
    g_assert_cmpint(colo_seq_ingress(&s, sack->data, &p, true), ==,
                    COLO_SEQ_PASS);
    for (int i = 0; i < 2; i++) {
        colo_packet_parse(both[i]->data, both[i]->len, &p);
        g_assert_cmphex(lduw_be_p(both[i]->data + p.l4_off + 16), ==,
                        0x1234);
    }
    colo_packet_parse(data->data, data->len, &p);
    g_assert_cmphex(p.seq, ==, pisn + 1);
    colo_packet_parse(sack->data, sack->len, &p);
    g_assert_cmphex(p.ack, ==, sisn + 1);
    g_assert_cmphex(ldl_be_p(sack->data + p.l4_off + 24), ==, sisn + 101);
    g_assert_cmphex(ldl_be_p(sack->data + p.l4_off + 28), ==, sisn + 201);
}

typedef void Scenario(uint32_t pisn, uint32_t sisn, uint32_t cisn);

static void run_all_isns(const void *opaque)
{
    Scenario *fn = (Scenario *)opaque;

    for (size_t i = 0; i < G_N_ELEMENTS(isns); i++) {
        for (size_t j = 0; j < G_N_ELEMENTS(isns); j++) {
            fn(isns[i], isns[j], isns[(i + j) % G_N_ELEMENTS(isns)]);
        }
    }
}

static void test_seq_compare(void)
{
    g_assert_true(seq_before(UINT32_MAX, 0));
    g_assert_true(seq_after(0, UINT32_MAX));
    g_assert_false(seq_before(5, 5));
    g_assert_true(seq_before(UINT32_MAX - 10, 5));
    g_assert_true(seq_between(2, UINT32_MAX - 1, 3));
    g_assert_false(seq_between(3, UINT32_MAX - 1, 3));
    g_assert_true(seq_between(UINT32_MAX - 1, UINT32_MAX - 1, 3));
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        Scenario *fn;
    } scenarios[] = {
        { "client-open", run_client_open },
        { "guest-open", run_guest_open },
        { "hold", run_hold },
        { "sack", run_sack },
        { "checkpoint", run_checkpoint },
        { "midstream", run_midstream },
        { "reuse", run_reuse },
        { "partial-csum", run_partial_csum },
    };

    g_test_init(&argc, &argv, NULL);
    setup();
    g_test_add_func("/colo-proxy-seq/compare", test_seq_compare);
    for (size_t i = 0; i < G_N_ELEMENTS(scenarios); i++) {
        g_autofree char *path = g_strdup_printf("/colo-proxy-seq/%s",
                                                scenarios[i].name);
        g_test_add_data_func(path, scenarios[i].fn, run_all_isns);
    }
    return g_test_run();
}
