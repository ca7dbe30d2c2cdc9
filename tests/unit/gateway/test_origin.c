/*
 * Unit tests for gw_origin (which origins may use the refresh cookie) and
 * gw_out (response heads): the cases of the cookie rule, reason phrases,
 * header values that would split a response, and a head that overflows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_origin.h"
#include "gw_out.h"

static char app[] = "https://app.example.com";
static char *const allowed[] = {app};

static void test_origin_cookie_rule(void **state)
{
    const char *host = "api.example.com";
    /* No Origin: not a browser, or a same-origin request of an old one. */
    assert_true(gw_origin_may_use_cookie(NULL, NULL, host, allowed, 1));
    assert_true(gw_origin_may_use_cookie(NULL, "same-origin", host, allowed, 1));
    assert_true(gw_origin_may_use_cookie(NULL, "none", host, allowed, 1));
    assert_false(gw_origin_may_use_cookie(NULL, "cross-site", host, allowed, 1));
    /* The API's own origin, either scheme, any case. */
    assert_true(gw_origin_may_use_cookie("https://api.example.com", NULL, host, allowed, 1));
    assert_true(
        gw_origin_may_use_cookie("http://API.example.com", "same-origin", host, allowed, 1));
    /* A listed origin, even cross-site. */
    assert_true(gw_origin_may_use_cookie("https://app.example.com", "same-site", host, allowed, 1));
    assert_true(
        gw_origin_may_use_cookie("HTTPS://APP.EXAMPLE.COM", "cross-site", host, allowed, 1));
    /* Anything else. */
    static const char *const foreign[] = {
        "https://evil.example.com",    "null",
        "https://api.example.com:444", "https://api.example.com.evil",
        "ftp://api.example.com",       "",
        "https://app.example.com/",
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        if (gw_origin_may_use_cookie(foreign[i], "same-site", host, allowed, 1))
            fail_msg("%s allowed", foreign[i]);
    /* Without a Host nothing is "our own". */
    assert_false(gw_origin_may_use_cookie("https://api.example.com", NULL, NULL, allowed, 1));
    assert_false(gw_origin_may_use_cookie("https://", NULL, "", allowed, 1));
}

static void test_out_head(void **state)
{
    gw_out_head_t h;
    gw_out_start(&h, 404);
    assert_true(gw_out_add(&h, "X-A", "1"));
    gw_out_add_uint(&h, "Content-Length", 42);
    assert_false(gw_out_add(&h, "X-Bad", "a\r\nSet-Cookie: x=1"));
    assert_false(gw_out_add(&h, "X-Bad", "a\nb"));
    assert_false(gw_out_add(&h, "X-Null", NULL));
    assert_int_equal(gw_out_end(&h), 0);
    const char want[] = "HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Length: 42\r\n\r\n";
    assert_int_equal(h.len, sizeof want - 1);
    assert_memory_equal(h.buf, want, h.len);
}

static void test_out_overflow_is_reported(void **state)
{
    static char big[GW_OUT_HEAD_MAX];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    gw_out_head_t h;
    gw_out_start(&h, 200);
    gw_out_add(&h, "X-Big", big);
    assert_int_equal(gw_out_end(&h), -1);
}

static void test_out_reasons_and_bodies(void **state)
{
    assert_string_equal(gw_out_reason(431), "Request Header Fields Too Large");
    assert_string_equal(gw_out_reason(505), "HTTP Version Not Supported");
    assert_string_equal(gw_out_reason(299), "Unknown");
    assert_false(gw_out_has_body(204));
    assert_false(gw_out_has_body(304));
    assert_false(gw_out_has_body(100));
    assert_true(gw_out_has_body(200));
    assert_true(gw_out_has_body(404));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_cookie_rule),
        cmocka_unit_test(test_out_head),
        cmocka_unit_test(test_out_overflow_is_reported),
        cmocka_unit_test(test_out_reasons_and_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
