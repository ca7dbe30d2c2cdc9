/*
 * Unit tests for gw_headers: the headers a reply adds (RateLimit-*,
 * Retry-After, WWW-Authenticate, Set-Cookie) for each kind of answer, the
 * bearer token of an Authorization header, and User-Agent sanitising.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_headers.h"

static void build(const gw_reply_t *r, gw_headers_t *hs)
{
    gw_headers_for_reply(r, hs);
    for (size_t i = 0; i < hs->n; i++) {
        assert_non_null(hs->h[i].name);
        assert_null(strpbrk(hs->h[i].value, "\r\n"));
    }
}

static void test_headers_plain_success_has_none(void **state)
{
    gw_reply_t r;
    gw_reply_init(&r);
    gw_reply_json(&r, 200, NULL);
    gw_headers_t hs;
    build(&r, &hs);
    assert_int_equal(hs.n, 0);
}

static void test_headers_rate_on_success_and_errors(void **state)
{
    gw_reply_t r;
    gw_reply_init(&r);
    r.rate = (gw_rate_t){true, 600, 598, 42};
    gw_headers_t hs;
    build(&r, &hs);
    assert_int_equal(hs.n, 3);
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Limit"), "600");
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Remaining"), "598");
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Reset"), "42");
    /* An error after a successful authorisation keeps the limiter state. */
    gw_reply_error(&r, PROTO_ERR_NOT_FOUND, NULL);
    build(&r, &hs);
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Remaining"), "598");
    assert_null(gw_headers_get(&hs, "Retry-After"));
    assert_null(gw_headers_get(&hs, "WWW-Authenticate"));
}

static void test_headers_rate_limited_429(void **state)
{
    gw_reply_t r;
    gw_reply_init(&r);
    gw_reply_error(&r, PROTO_ERR_RATE_LIMITED, "slow down");
    r.retry_after = 17;
    r.rate_limit = 600;
    gw_headers_t hs;
    build(&r, &hs);
    assert_string_equal(gw_headers_get(&hs, "Retry-After"), "17");
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Limit"), "600");
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Remaining"), "0");
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Reset"), "17");
    assert_int_equal(hs.n, 4);
    /* No limit known: RateLimit-Limit left out; no retry_after: the default. */
    gw_reply_init(&r);
    gw_reply_error(&r, PROTO_ERR_RATE_LIMITED, NULL);
    build(&r, &hs);
    assert_null(gw_headers_get(&hs, "RateLimit-Limit"));
    assert_string_equal(gw_headers_get(&hs, "Retry-After"), "60");
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Reset"), "60");
    assert_string_equal(gw_headers_get(&hs, "RateLimit-Remaining"), "0");
}

static void test_headers_login_rate_limited_retry_after_only(void **state)
{
    gw_reply_t r;
    gw_reply_init(&r);
    gw_reply_error(&r, PROTO_ERR_LOGIN_RATE_LIMITED, NULL);
    r.retry_after = 900;
    gw_headers_t hs;
    build(&r, &hs);
    assert_int_equal(hs.n, 1);
    assert_string_equal(gw_headers_get(&hs, "Retry-After"), "900");
    r.retry_after = -1;
    build(&r, &hs);
    assert_string_equal(gw_headers_get(&hs, "Retry-After"), "60");
}

static void test_headers_401_challenge(void **state)
{
    static const proto_err_t errs[] = {PROTO_ERR_UNAUTHORIZED, PROTO_ERR_INVALID_CREDENTIALS,
                                       PROTO_ERR_INVALID_REFRESH_TOKEN};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        gw_reply_t r;
        gw_reply_init(&r);
        gw_reply_error(&r, errs[i], NULL);
        gw_headers_t hs;
        build(&r, &hs);
        assert_string_equal(gw_headers_get(&hs, "WWW-Authenticate"), "Bearer");
    }
    gw_reply_t r;
    gw_reply_init(&r);
    gw_reply_error(&r, PROTO_ERR_FORBIDDEN, NULL);
    gw_headers_t hs;
    build(&r, &hs);
    assert_null(gw_headers_get(&hs, "WWW-Authenticate"));
}

static void test_headers_set_cookie_and_retry_after_on_503(void **state)
{
    gw_reply_t r;
    gw_reply_init(&r);
    gw_reply_json(&r, 204, NULL);
    strcpy(r.set_cookie, "refresh_token=; Max-Age=0");
    gw_headers_t hs;
    build(&r, &hs);
    assert_string_equal(gw_headers_get(&hs, "Set-Cookie"), "refresh_token=; Max-Age=0");
    gw_reply_init(&r);
    gw_reply_error(&r, PROTO_ERR_UNAVAILABLE, NULL);
    r.retry_after = 1;
    build(&r, &hs);
    assert_string_equal(gw_headers_get(&hs, "Retry-After"), "1");
    assert_int_equal(hs.n, 1);
}

static void test_headers_bearer_parse(void **state)
{
    char tok[64];
    assert_int_equal(gw_bearer_parse("Bearer abc.def-_~+/ghi==", tok, sizeof tok), 0);
    assert_string_equal(tok, "abc.def-_~+/ghi==");
    assert_int_equal(gw_bearer_parse("bearer   x.y.z  ", tok, sizeof tok), 0);
    assert_string_equal(tok, "x.y.z");
    assert_int_equal(gw_bearer_parse("BEARER t", tok, sizeof tok), 0);
    static const char *const bad[] = {
        NULL,         "",          "Bearer",    "Bearer ",         "Bearer  ",
        "Basic dTpw", "Bearerx",   "Bearer\tx", "Bearer a b",      "Bearer a=b",
        "Bearer =",   "Bearer a,", "Token abc", "Bearer \xc3\xa9", "Bearer a\"b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (gw_bearer_parse(bad[i], tok, sizeof tok) != -1)
            fail_msg("bad header %zu accepted", i);
        assert_string_equal(tok, "");
    }
    char big[80];
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', 64);
    big[71] = '\0';
    assert_int_equal(gw_bearer_parse(big, tok, sizeof tok), -1); /* 64 bytes: no room for NUL */
    big[70] = '\0';
    assert_int_equal(gw_bearer_parse(big, tok, sizeof tok), 0);
}

static void test_headers_sanitise_ascii(void **state)
{
    char out[8];
    assert_int_equal(gw_sanitise_ascii(out, sizeof out, "curl/8"), 6);
    assert_string_equal(out, "curl/8");
    assert_int_equal(gw_sanitise_ascii(out, sizeof out,
                                       "a\x01\xc3\xa9\x7f"
                                       "b"),
                     6);
    assert_string_equal(out, "a????b");
    assert_int_equal(gw_sanitise_ascii(out, sizeof out, "0123456789"), 7); /* truncated */
    assert_string_equal(out, "0123456");
    assert_int_equal(gw_sanitise_ascii(out, sizeof out, NULL), 0);
    assert_string_equal(out, "");
}

static void test_headers_apikey_header_forwarded_or_marked(void **state)
{
    char big[GW_APIKEY_MAX + 2];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_null(gw_apikey_header(NULL, 0));
    assert_string_equal(gw_apikey_header("rk_0123456789abcdef_x", 1), "rk_0123456789abcdef_x");
    assert_string_equal(gw_apikey_header("rk_a", 2), GW_APIKEY_INVALID); /* two headers */
    assert_string_equal(gw_apikey_header("", 1), GW_APIKEY_INVALID);
    assert_string_equal(gw_apikey_header("rk a", 1), GW_APIKEY_INVALID);
    assert_string_equal(gw_apikey_header("rk\x01a", 1), GW_APIKEY_INVALID);
    assert_string_equal(gw_apikey_header("rk\xc3\xa9", 1), GW_APIKEY_INVALID);
    assert_string_equal(gw_apikey_header(big, 1), GW_APIKEY_INVALID); /* 129 bytes */
    big[GW_APIKEY_MAX] = '\0';
    assert_ptr_equal(gw_apikey_header(big, 1), big); /* 128 bytes: as it is */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_plain_success_has_none),
        cmocka_unit_test(test_headers_rate_on_success_and_errors),
        cmocka_unit_test(test_headers_rate_limited_429),
        cmocka_unit_test(test_headers_login_rate_limited_retry_after_only),
        cmocka_unit_test(test_headers_401_challenge),
        cmocka_unit_test(test_headers_set_cookie_and_retry_after_on_503),
        cmocka_unit_test(test_headers_bearer_parse),
        cmocka_unit_test(test_headers_sanitise_ascii),
        cmocka_unit_test(test_headers_apikey_header_forwarded_or_marked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
