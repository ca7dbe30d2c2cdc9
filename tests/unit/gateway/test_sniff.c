/*
 * Unit tests for gw_sniff (markup signatures, active media types, allowed
 * type lists) and gw_range (Range and If-None-Match).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_range.h"
#include "gw_sniff.h"

#define MARKUP(lit) gw_sniff_is_markup(lit, sizeof lit - 1)

static void test_sniff_markup(void **state)
{
    assert_true(MARKUP("<html><body>x"));
    assert_true(MARKUP("  \r\n<!DOCTYPE html>"));
    assert_true(MARKUP("\xef\xbb\xbf<script>alert(1)</script>"));
    assert_true(MARKUP("<svg xmlns=\"http://www.w3.org/2000/svg\">"));
    assert_true(MARKUP("<?xml version=\"1.0\"?><svg/>"));
    assert_true(MARKUP("<!-- c --><p>"));
    assert_true(MARKUP("<a href=x>"));
    assert_false(MARKUP("\x89PNG\r\n\x1a\n"));
    assert_false(MARKUP("%PDF-1.7"));
    assert_false(MARKUP("plain text <html> later"));
    assert_false(MARKUP("<abc>"));
    assert_false(MARKUP("<htmlx"));
    assert_false(MARKUP(""));
}

static void test_sniff_types(void **state)
{
    char t[64];
    assert_int_equal(gw_sniff_bare_type(" Image/PNG; charset=x", t, sizeof t), 0);
    assert_string_equal(t, "image/png");
    assert_int_equal(gw_sniff_bare_type("image", t, sizeof t), -1);
    assert_int_equal(gw_sniff_bare_type("image/", t, sizeof t), -1);
    assert_int_equal(gw_sniff_bare_type("im age/png", t, sizeof t), -1);
    assert_int_equal(gw_sniff_bare_type("a/b\"c", t, sizeof t), -1);
    assert_true(gw_sniff_type_is_active("text/html; charset=utf-8"));
    assert_true(gw_sniff_type_is_active("image/svg+xml"));
    assert_true(gw_sniff_type_is_active("application/vnd.foo+xml"));
    assert_true(gw_sniff_type_is_active("text/javascript"));
    assert_true(gw_sniff_type_is_active("garbage"));
    assert_false(gw_sniff_type_is_active("image/png"));
    assert_false(gw_sniff_type_is_active("application/pdf"));
    const char *list = "image/png, image/jpeg,application/pdf , text/*";
    assert_true(gw_sniff_type_allowed("image/png", list));
    assert_true(gw_sniff_type_allowed("IMAGE/JPEG; q=1", list));
    assert_true(gw_sniff_type_allowed("text/plain", list));
    assert_false(gw_sniff_type_allowed("image/gif", list));
    assert_false(gw_sniff_type_allowed("application/pdfx", list));
    assert_false(gw_sniff_type_allowed("textx/plain", list));
    assert_true(gw_sniff_type_allowed("anything/else", ""));
    assert_true(gw_sniff_type_allowed("anything/else", "*"));
    assert_false(gw_sniff_type_allowed("bad", "*"));
}

static void test_range_parse(void **state)
{
    uint64_t a = 0, b = 0;
    assert_int_equal(gw_range_parse(NULL, 100, &a, &b), GW_RANGE_NONE);
    assert_int_equal(gw_range_parse("bytes=0-9", 100, &a, &b), GW_RANGE_OK);
    assert_true(a == 0 && b == 9);
    assert_int_equal(gw_range_parse("bytes=90-", 100, &a, &b), GW_RANGE_OK);
    assert_true(a == 90 && b == 99);
    assert_int_equal(gw_range_parse("bytes=50-500", 100, &a, &b), GW_RANGE_OK);
    assert_true(a == 50 && b == 99);
    assert_int_equal(gw_range_parse("bytes=-10", 100, &a, &b), GW_RANGE_OK);
    assert_true(a == 90 && b == 99);
    assert_int_equal(gw_range_parse("bytes=-1000", 100, &a, &b), GW_RANGE_OK);
    assert_true(a == 0 && b == 99);
    assert_int_equal(gw_range_parse("bytes=100-", 100, &a, &b), GW_RANGE_UNSATISFIED);
    assert_int_equal(gw_range_parse("bytes=-0", 100, &a, &b), GW_RANGE_UNSATISFIED);
    assert_int_equal(gw_range_parse("bytes=0-0", 0, &a, &b), GW_RANGE_UNSATISFIED);
    static const char *const ignored[] = {"items=0-1",
                                          "bytes=0-1,5-6",
                                          "bytes=5-1",
                                          "bytes=x-1",
                                          "bytes=-",
                                          "bytes=1-2x",
                                          "bytes=99999999999999999999-"};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        if (gw_range_parse(ignored[i], 100, &a, &b) != GW_RANGE_NONE)
            fail_msg("%s not ignored", ignored[i]);
}

static void test_range_none_match(void **state)
{
    assert_true(gw_range_none_match("\"abc\"", "abc"));
    assert_true(gw_range_none_match("W/\"abc\"", "abc"));
    assert_true(gw_range_none_match("\"x\", \"abc\"", "abc"));
    assert_true(gw_range_none_match("*", "abc"));
    assert_false(gw_range_none_match("\"abcd\"", "abc"));
    assert_false(gw_range_none_match("abc", "abc"));
    assert_false(gw_range_none_match(NULL, "abc"));
    assert_false(gw_range_none_match("\"abc", "abc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff_markup),
        cmocka_unit_test(test_sniff_types),
        cmocka_unit_test(test_range_parse),
        cmocka_unit_test(test_range_none_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
