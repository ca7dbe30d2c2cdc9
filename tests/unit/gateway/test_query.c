/*
 * Unit tests for gw_query: page/per_page defaults, valid values, the cap,
 * and every kind of bad value (zero, negative, non-integer, empty, missing
 * '=', duplicated, overflowing, malformed escapes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_query.h"

static gw_page_t ok(const char *q)
{
    gw_page_t p;
    const char *detail = "unset";
    if (gw_query_page(q, &p, &detail) != 0)
        fail_msg("query \"%s\" refused: %s", q ? q : "(null)", detail);
    assert_null(detail);
    return p;
}

static void test_query_defaults(void **state)
{
    static const char *const qs[] = {NULL, "", "&", "&&", "foo=bar", "sort=name&x"};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        gw_page_t p = ok(qs[i]);
        assert_int_equal(p.page, GW_PAGE_DEFAULT);
        assert_int_equal(p.per_page, GW_PER_PAGE_DEFAULT);
    }
}

static void test_query_values(void **state)
{
    gw_page_t p = ok("page=3&per_page=50");
    assert_int_equal(p.page, 3);
    assert_int_equal(p.per_page, 50);
    p = ok("per_page=1&other=%20x&page=2147483647");
    assert_int_equal(p.page, 2147483647);
    assert_int_equal(p.per_page, 1);
    p = ok("page=007"); /* leading zeros are still decimal */
    assert_int_equal(p.page, 7);
    p = ok("pa%67e=4"); /* keys are percent-decoded */
    assert_int_equal(p.page, 4);
    p = ok("page=%35");
    assert_int_equal(p.page, 5);
    p = ok("PAGE=0&Page=x"); /* keys are case-sensitive: these are unknown */
    assert_int_equal(p.page, 1);
}

static void test_query_per_page_capped(void **state)
{
    assert_int_equal(ok("per_page=100").per_page, 100);
    assert_int_equal(ok("per_page=101").per_page, GW_PER_PAGE_MAX);
    assert_int_equal(ok("per_page=9223372036854775807").per_page, GW_PER_PAGE_MAX);
}

static void test_query_bad_values_400(void **state)
{
    static const char *const bad[] = {
        "page=0",
        "per_page=0",
        "page=-1",
        "per_page=-1",
        "page=+1",
        "page=1.0",
        "page=1e3",
        "page=0x10",
        "page=abc",
        "page= 1",
        "page=1+",
        "page=%201",
        "page=",
        "per_page=",
        "page",
        "per_page",
        "page=1&page=2",
        "page=1&page=1",
        "per_page=10&x=1&per_page=10",
        "page=2147483648",
        "page=9223372036854775808",
        "per_page=9223372036854775808",
        "per_page=99999999999999999999999",
        "page=%",
        "page=%4",
        "page=%zz",
        "x=%G1&page=1",
        "%=1",
        "page=1%00",
        "page=１", /* a full-width digit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_page_t p;
        const char *detail = NULL;
        if (gw_query_page(bad[i], &p, &detail) != -1)
            fail_msg("query \"%s\" accepted", bad[i]);
        assert_non_null(detail);
        if (strchr(bad[i], '=')) /* never quotes the input (a bare key is in the text) */
            assert_null(strstr(detail, bad[i]));
    }
}

static void test_query_long_unknown_params_ignored(void **state)
{
    char q[4096];
    memset(q, 'k', sizeof q);
    memcpy(q + 2000, "=v&page=9", 9);
    q[2009] = '\0';
    assert_int_equal(ok(q).page, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_defaults),
        cmocka_unit_test(test_query_values),
        cmocka_unit_test(test_query_per_page_capped),
        cmocka_unit_test(test_query_bad_values_400),
        cmocka_unit_test(test_query_long_unknown_params_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
