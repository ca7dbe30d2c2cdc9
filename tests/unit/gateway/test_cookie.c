/*
 * Unit tests for gw_cookie: finding a cookie among several, quoting,
 * whitespace, duplicates (the same value or different ones), refused
 * values (empty, bad characters, oversize), and the Set-Cookie forms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gw_cookie.h"

#define NAME "refresh_token"

static const char *single(const char *header, gw_cookie_vals_t *v)
{
    gw_cookie_find(header, NAME, v);
    return gw_cookie_single(v);
}

static void test_cookie_found_among_several(void **state)
{
    gw_cookie_vals_t v;
    assert_string_equal(single("a=1; refresh_token=tok-123; b=2", &v), "tok-123");
    assert_string_equal(single("refresh_token=tok", &v), "tok");
    assert_string_equal(single("a=1;refresh_token=tok;b", &v), "tok"); /* no spaces, a flag */
    assert_string_equal(single("  a=1 ;\trefresh_token = tok ; ", &v), "tok");
    assert_int_equal(v.seen, 1);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.invalid, 0);
}

static void test_cookie_absent(void **state)
{
    gw_cookie_vals_t v;
    assert_null(single(NULL, &v));
    assert_int_equal(v.seen, 0);
    assert_null(single("", &v));
    assert_null(single("a=1; b=2", &v));
    /* Names are exact and case-sensitive; a prefix or suffix is another cookie. */
    assert_null(single("Refresh_Token=x; xrefresh_token=y; refresh_token_old=z", &v));
    assert_int_equal(v.seen, 0);
    assert_null(single("refresh_token", &v)); /* no '=': not a pair */
    assert_int_equal(v.seen, 0);
}

static void test_cookie_quoted_value(void **state)
{
    gw_cookie_vals_t v;
    assert_string_equal(single("refresh_token=\"tok-q\"", &v), "tok-q");
    /* An unbalanced or inner quote is not a cookie-octet. */
    assert_null(single("refresh_token=\"tok", &v));
    assert_int_equal(v.invalid, 1);
    assert_null(single("refresh_token=to\"k", &v));
    assert_null(single("refresh_token=\"\"", &v)); /* quoted empty */
    assert_int_equal(v.invalid, 1);
}

static void test_cookie_duplicates(void **state)
{
    gw_cookie_vals_t v;
    /* The same value twice (two paths, one token) is not ambiguous. */
    assert_string_equal(single("refresh_token=same; x=1; refresh_token=same", &v), "same");
    assert_int_equal(v.seen, 2);
    assert_int_equal(v.n, 1);
    /* Different values: which one is ours cannot be told. */
    assert_null(single("refresh_token=mine; refresh_token=planted", &v));
    assert_int_equal(v.seen, 2);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.values[0], "mine");
    assert_string_equal(v.values[1], "planted");
    /* A refused occurrence next to a good one is ambiguous too. */
    assert_null(single("refresh_token=; refresh_token=good", &v));
    assert_int_equal(v.n, 1);
    assert_int_equal(v.invalid, 1);
}

static void test_cookie_many_distinct_values_bounded(void **state)
{
    char header[1024] = "";
    size_t off = 0;
    for (int i = 0; i < 10; i++)
        off += (size_t)snprintf(header + off, sizeof header - off, "refresh_token=v%d; ", i);
    gw_cookie_vals_t v;
    assert_null(single(header, &v));
    assert_int_equal(v.seen, 10);
    assert_int_equal(v.n, GW_COOKIE_VALUES_MAX);
    assert_int_equal(v.invalid, 10 - GW_COOKIE_VALUES_MAX);
}

static void test_cookie_bad_characters_refused(void **state)
{
    static const char *const headers[] = {
        "refresh_token=a b",   "refresh_token=a\\b",     "refresh_token=a,b",
        "refresh_token=a\x01", "refresh_token=\xc3\xa9", "refresh_token=",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        gw_cookie_vals_t v;
        if (single(headers[i], &v))
            fail_msg("header %zu accepted", i);
        assert_int_equal(v.seen, 1);
        assert_int_equal(v.invalid, 1);
    }
}

static void test_cookie_oversize_refused(void **state)
{
    char header[GW_COOKIE_VALUE_MAX + 64];
    char value[GW_COOKIE_VALUE_MAX + 2];
    memset(value, 'a', GW_COOKIE_VALUE_MAX);
    value[GW_COOKIE_VALUE_MAX] = '\0';
    snprintf(header, sizeof header, "x=1; refresh_token=%s", value);
    gw_cookie_vals_t v;
    assert_non_null(single(header, &v)); /* exactly the bound: fine */
    assert_int_equal(strlen(gw_cookie_single(&v)), GW_COOKIE_VALUE_MAX);
    value[GW_COOKIE_VALUE_MAX] = 'a';
    value[GW_COOKIE_VALUE_MAX + 1] = '\0';
    snprintf(header, sizeof header, "refresh_token=%s; x=1", value);
    assert_null(single(header, &v));
    assert_int_equal(v.invalid, 1);
    assert_false(gw_cookie_value_ok(value));
}

static void test_cookie_format_set_and_clear(void **state)
{
    char out[GW_COOKIE_VALUE_MAX + 128];
    assert_int_equal(gw_cookie_format(out, sizeof out, NAME, "tok", 604800, "/api/v1/auth", true),
                     0);
    assert_string_equal(out, "refresh_token=tok; HttpOnly; SameSite=Lax; Path=/api/v1/auth; "
                             "Max-Age=604800; Secure");
    assert_int_equal(gw_cookie_format(out, sizeof out, NAME, "tok", 60, "/api/v1/auth", false), 0);
    assert_string_equal(out,
                        "refresh_token=tok; HttpOnly; SameSite=Lax; Path=/api/v1/auth; Max-Age=60");
    assert_int_equal(gw_cookie_format(out, sizeof out, NAME, NULL, 999, "/api/v1/auth", true), 0);
    assert_string_equal(
        out, "refresh_token=; HttpOnly; SameSite=Lax; Path=/api/v1/auth; Max-Age=0; Secure");
    assert_int_equal(gw_cookie_format(out, sizeof out, NAME, "", 5, "/p", false), 0);
    assert_string_equal(out, "refresh_token=; HttpOnly; SameSite=Lax; Path=/p; Max-Age=0");
}

static void test_cookie_format_samesite_strict(void **state)
{
    char out[256];
    assert_int_equal(gw_cookie_format_samesite(out, sizeof out, "device", "abc-_", 31536000,
                                               "/api/v1/auth", true, "Strict"),
                     0);
    assert_string_equal(
        out,
        "device=abc-_; HttpOnly; SameSite=Strict; Path=/api/v1/auth; Max-Age=31536000; Secure");
}

static void test_cookie_format_refuses_unsafe(void **state)
{
    char out[64];
    assert_int_equal(gw_cookie_format(out, sizeof out, NAME, "a;b", 1, "/", true), -1);
    assert_int_equal(gw_cookie_format(out, sizeof out, NAME, "a\r\nSet-Cookie: x", 1, "/", true),
                     -1);
    assert_int_equal(gw_cookie_format(out, sizeof out, NAME, "tok", -1, "/", true), -1);
    char tiny[16];
    assert_int_equal(gw_cookie_format(tiny, sizeof tiny, NAME, "tok", 1, "/", true), -1);
    assert_string_equal(tiny, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_found_among_several),
        cmocka_unit_test(test_cookie_absent),
        cmocka_unit_test(test_cookie_quoted_value),
        cmocka_unit_test(test_cookie_duplicates),
        cmocka_unit_test(test_cookie_many_distinct_values_bounded),
        cmocka_unit_test(test_cookie_bad_characters_refused),
        cmocka_unit_test(test_cookie_oversize_refused),
        cmocka_unit_test(test_cookie_format_set_and_clear),
        cmocka_unit_test(test_cookie_format_refuses_unsafe),
        cmocka_unit_test(test_cookie_format_samesite_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
