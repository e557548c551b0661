/*
 * Unit tests for colo-proxy's TCP sequence arithmetic and the moving of
 * a frame's numbers (the translation itself: test-colo-proxy-rewrite.c)
 *
 * Numbers and offsets are taken from 0, 1, 2^32 - 1 and 2^32 - 10, so
 * that wraparound is covered everywhere.
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

static CpFlow client;

/*
 * Moving ack, SACK edges and seq keeps the checksum right, by a full
 * recomputation of the frame's checksums; with a partial checksum the
 * field is left as it is.
 */
static void run_move(uint32_t a, uint32_t b, uint32_t offset)
{
    uint8_t opts[12] = { 1, 1, 5, 10 };
    g_autoptr(GByteArray) f = NULL;
    ColoPacket p;

    stl_be_p(opts + 4, b + 100);
    stl_be_p(opts + 8, b + 200);
    f = cp_frame_tcp_opts(&client, a, b, CP_TCP_ACK, opts, sizeof(opts),
                          "abc", 3);
    colo_packet_parse(f->data, f->len, &p);
    colo_seq_move_ack(f->data, &p, offset, false);
    colo_seq_move_seq(f->data, &p, offset, false);
    colo_packet_parse(f->data, f->len, &p);
    g_assert_cmphex(p.seq, ==, a + offset);
    g_assert_cmphex(p.ack, ==, b - offset);
    g_assert_cmphex(ldl_be_p(f->data + p.l4_off + 24), ==, b + 100 - offset);
    g_assert_cmphex(ldl_be_p(f->data + p.l4_off + 28), ==, b + 200 - offset);
    g_assert_true(cp_frame_checksums_ok(f));

    stw_be_p(f->data + p.l4_off + 16, 0x1234);
    colo_seq_move_ack(f->data, &p, offset, true);
    colo_seq_move_seq(f->data, &p, offset, true);
    colo_packet_parse(f->data, f->len, &p);
    g_assert_cmphex(p.seq, ==, a + 2 * offset);
    g_assert_cmphex(p.ack, ==, b - 2 * offset);
    g_assert_cmphex(lduw_be_p(f->data + p.l4_off + 16), ==, 0x1234);
}

static void test_move(void)
{
    client = cp_flow(false, 0, 40000, 80);
    for (size_t i = 0; i < G_N_ELEMENTS(isns); i++) {
        for (size_t j = 0; j < G_N_ELEMENTS(isns); j++) {
            for (size_t k = 0; k < G_N_ELEMENTS(isns); k++) {
                run_move(isns[i], isns[j], isns[k]);
            }
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
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/colo-proxy-seq/compare", test_seq_compare);
    g_test_add_func("/colo-proxy-seq/move", test_move);
    return g_test_run();
}
