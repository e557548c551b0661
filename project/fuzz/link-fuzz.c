/*
 * libFuzzer target: the colo-proxy link decoder on bytes from the peer.
 *
 * The first input byte picks a read size, so that one input also covers
 * messages split across reads at every boundary.  Besides the sanitizers,
 * it checks the decoder's contract: it never consumes more than it was
 * given, stops consuming after a protocol error, and delivers only
 * messages whose length is within the type's bounds.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-link.h"

static bool fuzz_msg(void *opaque, ColoLinkType type, const uint8_t *payload,
                     uint32_t len)
{
    /* volatile: the reads of the payload must happen, for ASan to see */
    volatile uint8_t sink = 0;

    if (type <= 0 || type >= COLO_LINK_TYPE__MAX ||
        len > COLO_LINK_MAX_PAYLOAD) {
        abort();
    }
    for (uint32_t i = 0; i < len; i++) {
        sink ^= payload[i];
    }
    (void)sink;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ColoLinkDecoder d;
    static bool init;
    size_t chunk, off = 1;

    if (size < 1) {
        return 0;
    }
    if (!init) {
        colo_link_decoder_init(&d);
        init = true;
    }
    colo_link_decoder_reset(&d);
    chunk = data[0] ? data[0] : size;
    while (off < size) {
        size_t n = MIN(chunk, size - off);
        size_t used = colo_link_decode(&d, data + off, n, fuzz_msg, NULL);

        if (used > n || (used < n && d.error == COLO_LINK_OK)) {
            abort();
        }
        if (d.error != COLO_LINK_OK) {
            if (colo_link_decode(&d, data + off, n, fuzz_msg, NULL) != 0) {
                abort();
            }
            break;
        }
        off += n;
    }
    return 0;
}
