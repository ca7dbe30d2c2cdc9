/*
 * Unit tests for gw_h1 (request heads) and gw_chunked (the chunked coding):
 * well-formed heads, every refusal with its status, heads and chunked
 * bodies split at every byte, and the bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_chunked.h"
#include "gw_h1.h"

#define CAP 32768

static const gw_h1_limits_t LIM = {.target_max = 8192, .field_bytes_max = 16384};

static char buf[CAP];

static gw_h1_status_t parse_str(const char *s, gw_h1_head_t *h)
{
    size_t n = strlen(s), scanned = 0;
    const char *detail;
    memcpy(buf, s, n);
    return gw_h1_parse(buf, n, CAP, &LIM, &scanned, h, &detail);
}

static void test_h1_simple_get(void **state)
{
    gw_h1_head_t h;
    const char *req = "GET /healthz?a=b HTTP/1.1\r\nHost: x\r\nUser-Agent:  curl/8 \r\n\r\nrest";
    assert_int_equal(parse_str(req, &h), GW_H1_DONE);
    assert_string_equal(h.method, "GET");
    assert_string_equal(h.target, "/healthz?a=b");
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.nfields, 2);
    assert_string_equal(h.fields[1].name, "User-Agent");
    assert_string_equal(h.fields[1].value, "curl/8");
    assert_int_equal(h.head_len, strlen(req) - 4);
    assert_string_equal(gw_h1_get(&h, "host")->value, "x");
    assert_null(gw_h1_get(&h, "Cookie"));
    assert_int_equal(gw_h1_count(&h, "HOST"), 1);
}

static void test_h1_http10_no_fields_and_leading_crlf(void **state)
{
    gw_h1_head_t h;
    assert_int_equal(parse_str("\r\n\r\nGET / HTTP/1.0\r\n\r\n", &h), GW_H1_DONE);
    assert_int_equal(h.minor, 0);
    assert_int_equal(h.nfields, 0);
    assert_string_equal(h.target, "/");
}

static void test_h1_absolute_form_becomes_path(void **state)
{
    gw_h1_head_t h;
    assert_int_equal(
        parse_str("GET http://example.com/api/v1/health?x HTTP/1.1\r\nHost: e\r\n\r\n", &h),
        GW_H1_DONE);
    assert_string_equal(h.target, "/api/v1/health?x");
    assert_int_equal(parse_str("GET https://example.com HTTP/1.1\r\nHost: e\r\n\r\n", &h),
                     GW_H1_DONE);
    assert_string_equal(h.target, "/");
    assert_int_equal(parse_str("OPTIONS * HTTP/1.1\r\nHost: e\r\n\r\n", &h), GW_H1_DONE);
    assert_string_equal(h.target, "*");
}

static void test_h1_incomplete_is_more(void **state)
{
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t n = strlen(req);
    for (size_t cut = 0; cut < n; cut++) {
        gw_h1_head_t h;
        size_t scanned = 0;
        const char *detail;
        memcpy(buf, req, n);
        assert_int_equal(gw_h1_parse(buf, cut, CAP, &LIM, &scanned, &h, &detail), GW_H1_MORE);
    }
}

/* A head arriving one byte at a time is found when its last byte comes. */
static void test_h1_trickled_head(void **state)
{
    const char *req = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    size_t n = strlen(req) - 3, scanned = 0;
    gw_h1_head_t h;
    const char *detail;
    memcpy(buf, req, strlen(req));
    for (size_t len = 1; len < n; len++)
        assert_int_equal(gw_h1_parse(buf, len, CAP, &LIM, &scanned, &h, &detail), GW_H1_MORE);
    assert_int_equal(gw_h1_parse(buf, n, CAP, &LIM, &scanned, &h, &detail), GW_H1_DONE);
    assert_int_equal(h.head_len, n);
    assert_string_equal(gw_h1_get(&h, "content-length")->value, "3");
}

static void test_h1_malformed_is_400(void **state)
{
    static const char *const bad[] = {
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",              /* two spaces */
        "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",              /* trailing space */
        "GET /\r\nHost: x\r\n\r\n",                        /* no version */
        "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",               /* not a token */
        "GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n",          /* control byte in the target */
        "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",       /* raw UTF-8 in the target */
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",              /* space before the colon */
        "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",    /* obs-fold */
        "GET / HTTP/1.1\r\nHost x\r\n\r\n",                /* no colon */
        "GET / HTTP/1.1\r\n: x\r\n\r\n",                   /* empty name */
        "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n",             /* bare CR */
        "GET / HTTP/1.1\r\nX-A: a\nb\r\n\r\n",             /* bare LF */
        "GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n",            /* DEL */
        "GET / HTTP/1.1\nHost: x\r\n\r\n",                 /* LF-only request line */
        "GET example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", /* authority form */
        "GET / http/1.1\r\nHost: x\r\n\r\n",               /* version case */
        "GET / HTTP/1.10\r\nHost: x\r\n\r\n",
        "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_h1_head_t h;
        gw_h1_status_t st = parse_str(bad[i], &h);
        if (st != GW_H1_BAD && st != GW_H1_MORE)
            fail_msg("case %zu: status %d", i, (int)st);
        if (i < sizeof bad / sizeof bad[0] - 1 && st != GW_H1_BAD)
            fail_msg("case %zu not refused", i);
    }
}

static void test_h1_nul_byte_is_400(void **state)
{
    const char req[] = "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
    size_t scanned = 0;
    gw_h1_head_t h;
    const char *detail;
    memcpy(buf, req, sizeof req - 1);
    assert_int_equal(gw_h1_parse(buf, sizeof req - 1, CAP, &LIM, &scanned, &h, &detail), GW_H1_BAD);
    assert_non_null(detail);
}

static void test_h1_other_versions_are_505(void **state)
{
    gw_h1_head_t h;
    assert_int_equal(parse_str("GET / HTTP/2.0\r\nHost: x\r\n\r\n", &h), GW_H1_BAD_VERSION);
    assert_int_equal(parse_str("GET / HTTP/1.2\r\nHost: x\r\n\r\n", &h), GW_H1_BAD_VERSION);
    assert_int_equal(parse_str("GET / HTTP/0.9\r\nHost: x\r\n\r\n", &h), GW_H1_BAD_VERSION);
}

static void test_h1_long_target_is_414(void **state)
{
    static char req[CAP];
    gw_h1_head_t h;
    snprintf(req, sizeof req, "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 8192, 0);
    assert_int_equal(parse_str(req, &h), GW_H1_URI_TOO_LONG);
    snprintf(req, sizeof req, "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 8191, 0);
    assert_int_equal(parse_str(req, &h), GW_H1_DONE);
    /* A request line that never ends within the buffer. */
    size_t scanned = 0;
    const char *detail;
    memset(buf, 'a', CAP);
    memcpy(buf, "GET /", 5);
    assert_int_equal(gw_h1_parse(buf, CAP, CAP, &LIM, &scanned, &h, &detail), GW_H1_URI_TOO_LONG);
}

static void test_h1_large_fields_are_431(void **state)
{
    static char req[CAP];
    gw_h1_head_t h;
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 20; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "X-F%d: %0*d\r\n", i, 1000, 0);
    snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    assert_int_equal(parse_str(req, &h), GW_H1_TOO_LARGE);
    /* Too many short lines. */
    n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < GW_H1_FIELDS_MAX + 1; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "X-%d: a\r\n", i);
    snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    assert_int_equal(parse_str(req, &h), GW_H1_TOO_LARGE);
    /* Exactly GW_H1_FIELDS_MAX is fine. */
    n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < GW_H1_FIELDS_MAX; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "X-%d: a\r\n", i);
    snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    assert_int_equal(parse_str(req, &h), GW_H1_DONE);
    /* A head that fills the buffer after a whole request line. */
    size_t scanned = 0;
    const char *detail;
    memset(buf, 'h', CAP);
    memcpy(buf, "GET / HTTP/1.1\r\nX-Big: ", 23);
    assert_int_equal(gw_h1_parse(buf, CAP, CAP, &LIM, &scanned, &h, &detail), GW_H1_TOO_LARGE);
}

static void test_h1_tokens_and_lengths(void **state)
{
    assert_true(gw_h1_has_token("keep-alive", "keep-alive"));
    assert_true(gw_h1_has_token("Upgrade, Keep-Alive ", "keep-alive"));
    assert_true(gw_h1_has_token(" close", "close"));
    assert_false(gw_h1_has_token("closed", "close"));
    assert_false(gw_h1_has_token("", "close"));
    unsigned long long v = 1;
    assert_int_equal(gw_h1_content_length("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(gw_h1_content_length("9223372036854775807", &v), 0);
    static const char *const bad[] = {
        "-1", "+5", "", " 5", "5 ", "5,5", "0x10", "9223372036854775808", "18446744073709551617"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gw_h1_content_length(bad[i], &v), -1);
}

/* ---- chunked ---- */

/* Decodes `in` fed in pieces of `step` bytes; returns the status at the
 * end and the data in out (NUL-terminated), `*rest` the bytes after. */
static gw_chunked_status_t decode(const char *in, size_t n, size_t step, char *out, size_t cap,
                                  size_t *rest)
{
    gw_chunked_t c;
    gw_chunked_init(&c);
    size_t olen = 0, pos = 0;
    gw_chunked_status_t st = GW_CHUNKED_MORE;
    while (pos < n) {
        size_t avail = n - pos < step ? n - pos : step, off = 0;
        for (;;) {
            size_t used;
            const char *d;
            size_t dl;
            st = gw_chunked_next(&c, in + pos + off, avail - off, &used, &d, &dl);
            off += used;
            if (st == GW_CHUNKED_DATA) {
                assert_true(olen + dl < cap);
                memcpy(out + olen, d, dl);
                olen += dl;
                continue;
            }
            break;
        }
        pos += off;
        if (st == GW_CHUNKED_DONE || st == GW_CHUNKED_BAD)
            break;
    }
    out[olen] = '\0';
    *rest = n - pos;
    return st;
}

static void test_chunked_every_split(void **state)
{
    const char in[] =
        "5\r\nhello\r\n1A;ext=\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nNEXT";
    size_t n = sizeof in - 1;
    for (size_t step = 1; step <= n; step++) {
        char out[128];
        size_t rest;
        assert_int_equal(decode(in, n, step, out, sizeof out, &rest), GW_CHUNKED_DONE);
        assert_string_equal(out, "helloabcdefghijklmnopqrstuvwxyz");
        assert_int_equal(rest, 4);
    }
}

static void test_chunked_refusals(void **state)
{
    static const char *const bad[] = {
        "x\r\n",                 /* not hex */
        "\r\n",                  /* no digits */
        "5\nhello\r\n0\r\n\r\n", /* LF only */
        "5\r\nhelloX\r\n",       /* no CRLF after data */
        "-5\r\n",
        "1000000000000000\r\n",    /* 16 hex digits */
        "0\r\nX-T\x01: 1\r\n\r\n", /* control byte in a trailer */
        "0\r\n\rX",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[64];
        size_t rest;
        if (decode(bad[i], strlen(bad[i]), 1, out, sizeof out, &rest) != GW_CHUNKED_BAD)
            fail_msg("case %zu accepted", i);
    }
}

static void test_chunked_bounds(void **state)
{
    static char in[GW_CHUNKED_TRAILER_MAX * 2];
    char out[16];
    size_t rest;
    /* A size line with endless extensions. */
    memset(in, 'e', sizeof in);
    memcpy(in, "1;", 2);
    assert_int_equal(decode(in, GW_CHUNKED_LINE_MAX + 10, 7, out, sizeof out, &rest),
                     GW_CHUNKED_BAD);
    /* An endless trailer section. */
    memset(in, 'a', sizeof in);
    memcpy(in, "0\r\nX: ", 6);
    assert_int_equal(decode(in, sizeof in, 100, out, sizeof out, &rest), GW_CHUNKED_BAD);
    /* Truncated input is MORE, not DONE. */
    assert_int_equal(decode("5\r\nhel", 6, 6, out, sizeof out, &rest), GW_CHUNKED_MORE);
    assert_int_equal(decode("0\r\n", 3, 3, out, sizeof out, &rest), GW_CHUNKED_MORE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h1_simple_get),
        cmocka_unit_test(test_h1_http10_no_fields_and_leading_crlf),
        cmocka_unit_test(test_h1_absolute_form_becomes_path),
        cmocka_unit_test(test_h1_incomplete_is_more),
        cmocka_unit_test(test_h1_trickled_head),
        cmocka_unit_test(test_h1_malformed_is_400),
        cmocka_unit_test(test_h1_nul_byte_is_400),
        cmocka_unit_test(test_h1_other_versions_are_505),
        cmocka_unit_test(test_h1_long_target_is_414),
        cmocka_unit_test(test_h1_large_fields_are_431),
        cmocka_unit_test(test_h1_tokens_and_lengths),
        cmocka_unit_test(test_chunked_every_split),
        cmocka_unit_test(test_chunked_refusals),
        cmocka_unit_test(test_chunked_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
