/*
 * libFuzzer target: colo-proxy's HTTP/1.x response parser.
 *
 * The input is split in two at its first byte's value: the response
 * stream, fed in pieces of 1 to 16 bytes, and the client's requests.
 * At every Date value the parser reports, the two sides' rest of it is
 * taken from the stream and from its reverse.  Besides the sanitizers it
 * checks that a Date value is never more than a field long and that a
 * stopped parser stays stopped.
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-http.h"

/* The other side's bytes: the same ones backwards. */
static void reverse(uint8_t *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = in[n - 1 - i];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t split = size ? MIN((size_t)data[0], size - 1) : 0;
    const uint8_t *resp = data + 1, *req = data + 1 + split;
    size_t resp_len = size ? split : 0, req_len = size ? size - 1 - split : 0;
    ColoHttp h;

    colo_http_init(&h, true);
    colo_http_request(&h, req, req_len / 2);
    for (size_t off = 0, n; off < resp_len; off += n) {
        uint32_t need = colo_http_date_need(&h);
        bool was_off = colo_http_off(&h);

        if (need > COLO_HTTP_DATE_FIELD) {
            abort();
        }
        if (need && off + need <= resp_len) {
            uint8_t other[COLO_HTTP_DATE_FIELD];
            int64_t delta;

            reverse(other, resp + off, need);
            colo_http_date_equal(&h, resp + off, other, 2, &delta);
        }
        n = MIN((size_t)(resp[off] % 16) + 1, resp_len - off);
        colo_http_feed(&h, resp + off, n);
        if (was_off && !colo_http_off(&h)) {
            abort();
        }
    }
    colo_http_request(&h, req + req_len / 2, req_len - req_len / 2);
    return 0;
}
