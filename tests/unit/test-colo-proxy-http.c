/*
 * Unit tests for colo-proxy's HTTP/1.x response parser: where the Date
 * values are, and when two of them may be treated as equal
 *
 * Copyright (c) 2026 The colo-proxy authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "net/colo-proxy-http.h"

#define D1 "Tue, 01 Dec 2026 05:57:13 GMT"
#define D2 "Tue, 01 Dec 2026 05:57:14 GMT"

/*
 * Feed @s byte by byte: the offsets where a Date value starts, as
 * "N N ", with colo_http_date_need() checked along each value.
 */
static char *date_values(const char *s, bool from_start)
{
    GString *out = g_string_new("");
    size_t len = strlen(s);
    ColoHttp h;

    colo_http_init(&h, from_start);
    for (size_t i = 0; i < len; i++) {
        uint32_t need = colo_http_date_need(&h);

        if (need == COLO_HTTP_DATE_FIELD && s[i] != ' ' && s[i] != '\t') {
            g_string_append_printf(out, "%zu ", i);
            for (uint32_t k = 0; k < COLO_HTTP_DATE_LEN && i + k < len;
                 k++) {
                g_assert_cmpuint(colo_http_date_need(&h), ==,
                                 COLO_HTTP_DATE_FIELD - k);
                colo_http_feed(&h, (const uint8_t *)s + i + k, 1);
            }
            i += COLO_HTTP_DATE_LEN - 1;
            continue;
        }
        colo_http_feed(&h, (const uint8_t *)s + i, 1);
    }
    return g_string_free(out, false);
}

static void check(const char *s, const char *expected)
{
    g_autofree char *got = date_values(s, true);

    g_assert_cmpstr(got, ==, expected);
}

#define R200 "HTTP/1.1 200 OK\r\n"

static void test_fields(void)
{
    /* offset 23: after "HTTP/1.1 200 OK\r\nDate: " */
    check(R200 "Date: " D1 "\r\nContent-Length: 0\r\n\r\n", "23 ");
    check(R200 "date:\t " D1 "\r\n\r\n", "24 ");
    check(R200 "DATE:" D1 "\r\n\r\n", "22 ");
    check(R200 "X-Date: " D1 "\r\nDates: " D1 "\r\n\r\n", "");
    check(R200 "Server: x\r\nDate: " D1 "\r\n\r\n", "34 ");
    /* a bare LF ends lines too; no reason phrase */
    check("HTTP/1.1 200\nDate: " D1 "\n\n", "19 ");
}

static void test_framing(void)
{
    /* pipelined, by Content-Length; the body says "Date:" */
    check(R200 "Content-Length: 46\r\n\r\n"
          "\r\nDate: " D1 "\r\n\r\n" "....."
          R200 "Date: " D1 "\r\n\r\n",
          "108 ");
    /* chunked: "Date:" in a chunk and in the trailer is no field */
    check(R200 "Transfer-Encoding: gzip, chunked\r\nDate: " D1 "\r\n\r\n"
          "27;x=1\r\n\r\nDate: " D1 "\r\n" "\r\n"
          "0\r\nDate: " D1 "\r\n\r\n"
          R200 "Date: " D1 "\r\nContent-Length: 0\r\n\r\n",
          "57 204 ");
    /* HTTP/1.0 without a length: to the end, whatever follows */
    check("HTTP/1.0 200 OK\r\nDate: " D1 "\r\n\r\n"
          R200 "Date: " D1 "\r\n\r\n", "23 ");
    /* chunked that is not the last coding runs to the end too */
    check(R200 "Transfer-Encoding: chunked, gzip\r\n\r\n"
          R200 "Date: " D1 "\r\n\r\n", "");
    /* 1xx, 204 and 304 have no body */
    check("HTTP/1.1 100 Continue\r\nDate: " D1 "\r\n\r\n"
          "HTTP/1.1 204 No Content\r\nDate: " D1 "\r\n"
          "Content-Length: 9\r\n\r\n"
          R200 "Date: " D1 "\r\nContent-Length: 0\r\n\r\n",
          "29 93 168 ");
}

static void test_lost(void)
{
    g_autofree char *midstream = date_values(R200 "Date: " D1 "\r\n", false);

    /* a midstream start, not HTTP, another protocol, doubt on a length */
    g_assert_cmpstr(midstream, ==, "");
    check("SSH-2.0-OpenSSH_9.2\r\nDate: " D1 "\r\n", "");
    check("HTTP/2.0 200 OK\r\nDate: " D1 "\r\n", "");
    check("HTTP/1.1 101 Switching\r\n\r\n" R200 "Date: " D1 "\r\n", "");
    check(R200 "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx"
          R200 "Date: " D1 "\r\n", "");
    check(R200 "Content-Length: 1, 1\r\n\r\nx" R200 "Date: " D1 "\r\n",
          "");
    check(R200 " Date: " D1 "\r\n", "");    /* obs-fold, or junk */
    check(R200 "Date : " D1 "\r\n", "");
}

static void test_fixdate(void)
{
    static const struct {
        const char *s;
        int64_t t;              /* -1: not valid */
    } cases[] = {
        { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
        { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
        { "Tue, 29 Feb 2028 23:59:60 GMT", 1835481600 },
        { "Mon, 06 Nov 1994 08:49:37 GMT", -1 },    /* not a Monday */
        { "Fri, 29 Feb 2030 00:00:00 GMT", -1 },
        { "Wed, 31 Apr 2026 00:00:00 GMT", -1 },
        { "Sun, 06 Nov 1994 24:00:00 GMT", -1 },
        { "Sun, 06 Nov 1994 08:60:37 GMT", -1 },
        { "Sun, 06 Nov 1994 08:49:37 gmt", -1 },
        { "Sun, 06 nov 1994 08:49:37 GMT", -1 },
        { "Sun,  6 Nov 1994 08:49:37 GMT", -1 },
        { "Sun, 06-Nov-1994 08:49:37 GMT", -1 },
        { "Sun, 06 Nov 1994 08:49:3x GMT", -1 },
        { "Sunday, 06-Nov-94 08:49:37 G", -1 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        int64_t t = -1;
        bool ok = colo_http_fixdate((const uint8_t *)cases[i].s, &t);

        g_assert_cmpint(ok, ==, cases[i].t >= 0);
        if (ok) {
            g_assert_cmpint(t, ==, cases[i].t);
        }
    }
}

/* Read @s, then compare what each side sends from there. */
static bool equal_after(const char *s, const char *a, const char *b,
                        uint32_t window, int64_t *delta)
{
    ColoHttp h;

    colo_http_init(&h, true);
    colo_http_feed(&h, (const uint8_t *)s, strlen(s));
    g_assert_cmpuint(colo_http_date_need(&h), ==, strlen(a));
    g_assert_cmpuint(colo_http_date_need(&h), ==, strlen(b));
    return colo_http_date_equal(&h, (const uint8_t *)a, (const uint8_t *)b,
                                window, delta);
}

static void test_equal(void)
{
    int64_t delta = 0;

    g_assert_true(equal_after(R200 "Date: ", D1 "\r\n", D2 "\r\n", 1,
                              &delta));
    g_assert_cmpint(delta, ==, 1);
    g_assert_true(equal_after(R200 "Date: ", D2 "\r\n", D1 "\r\n", 1,
                              &delta));
    g_assert_cmpint(delta, ==, -1);
    /* a value split where they differ: the common part read already */
    g_assert_true(equal_after(R200 "Date: Tue, 01 Dec 2026 05:57:1",
                              "3 GMT\r\n", "4 GMT\r\n", 5, &delta));
    g_assert_false(equal_after(R200 "Date: ", D1 "\r\n",
                               "Tue, 01 Dec 2026 05:57:20 GMT\r\n", 5,
                               &delta));
    g_assert_cmpint(delta, ==, 7);
    /* invalid, or longer: not the CRLF after 29 bytes */
    g_assert_false(equal_after(R200 "Date: ", D1 "\r\n",
                               "Tue, 01 Dec 2026 05:57:1x GMT\r\n", 5,
                               &delta));
    g_assert_false(equal_after(R200 "Date: ", D1 "\r\n",
                               "Tue, 01 Dec 2026 05:57:14 GMTx\r", 5,
                               &delta));
    /* the whitespace before a value is no part of it */
    g_assert_false(equal_after(R200 "Date:", " " D1 "\r",
                               D2 "\r\n", 5, &delta));
}

/* Requests that may be HEAD stop the parser, whatever their segments. */
static void test_head(void)
{
    static const struct {
        const char *a, *b;
        bool off;
    } cases[] = {
        { "GET / HTTP/1.1\r\n\r\n", "GET /x HTTP/1.1\r\n\r\n", false },
        { "GET / HTTP/1.1\r\nX-A: HEADER\r\n\r\n", "", false },
        { "GET / HTTP/1.1\r\n\r\n", "HEAD / HTTP/1.1\r\n\r\n", true },
        { "GET / HTTP/1.1\r\n\r\nHE", "AD / HTTP/1.1\r\n\r\n", true },
        { "H", "EAD /", true },
        { "HEAD", " /", true },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        ColoHttp h;

        colo_http_init(&h, true);
        colo_http_request(&h, (const uint8_t *)cases[i].a,
                          strlen(cases[i].a));
        colo_http_request(&h, (const uint8_t *)cases[i].b,
                          strlen(cases[i].b));
        g_assert_cmpint(colo_http_off(&h), ==, cases[i].off);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/colo-proxy-http/fields", test_fields);
    g_test_add_func("/colo-proxy-http/framing", test_framing);
    g_test_add_func("/colo-proxy-http/lost", test_lost);
    g_test_add_func("/colo-proxy-http/fixdate", test_fixdate);
    g_test_add_func("/colo-proxy-http/equal", test_equal);
    g_test_add_func("/colo-proxy-http/head", test_head);
    return g_test_run();
}
