/*
 * libFuzzer target: the notify channel's framing (colo-compare's
 * notify_dev protocol, spoken by external COLO frames).
 *
 * Arbitrary bytes, cut at the boundaries the first bytes pick, go to one
 * decoder: no message may be longer than the protocol allows, and once
 * the framing is lost nothing more may come out of it.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-link.h"

typedef struct Seen {
    bool broken;
    uint32_t msgs;
} Seen;

static void on_msg(void *opaque, const uint8_t *msg, uint32_t len)
{
    Seen *seen = opaque;
    /* volatile: the reads of every byte stay, for ASan to check */
    volatile uint8_t sum = 0;

    if (seen->broken || len > COLO_NOTIFY_MSG_MAX) {
        abort();
    }
    for (uint32_t i = 0; i < len; i++) {
        sum += msg[i];
    }
    seen->msgs++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ColoNotifyDecoder d;
    Seen seen = { 0 };
    size_t off = 0;
    uint8_t cut = size ? data[0] : 1;

    colo_notify_decoder_reset(&d);
    while (off < size) {
        size_t n = MIN(size - off, (size_t)(cut % 17) + 1);

        if (!colo_notify_decode(&d, data + off, n, on_msg, &seen)) {
            seen.broken = true;
        }
        off += n;
        cut = cut * 31 + 7;
    }
    if (seen.broken != d.broken) {
        abort();
    }
    return 0;
}
