/*
 * Unit tests for store_fname: file names (no path separators, control or
 * bidi control characters, valid UTF-8, 1..255 bytes) and media types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store_fname.h"

static bool name_ok(const char *s)
{
    return store_fname_valid(s, strlen(s));
}

static void test_fname_accepts_ordinary_names(void **state)
{
    (void)state;
    const char *good[] = {"report.pdf",
                          "a",
                          "..a",
                          "a..",
                          "x y (1).tar.gz",
                          "Übersicht.txt",
                          "日本語.txt",
                          "emoji-\xf0\x9f\x98\x80.png",
                          "-leading-dash",
                          "semi;colon"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!name_ok(good[i]))
            fail_msg("refused \"%s\"", good[i]);
    }
}

static void test_fname_refuses_separators_controls_and_bidi(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         ".",
                         "..",
                         "a/b",
                         "/etc/passwd",
                         "a\\b",
                         "nl\nx",
                         "cr\rx",
                         "tab\tx",
                         "del\x7fx",
                         "c1\xc2\x85x",             /* U+0085 NEL */
                         "evil\xe2\x80\xaetxt.exe", /* U+202E RLO */
                         "x\xe2\x80\xaay",          /* U+202A */
                         "x\xe2\x81\xa6y",          /* U+2066 */
                         "x\xe2\x81\xa9y",          /* U+2069 */
                         "x\xe2\x80\xa8y",          /* U+2028 */
                         "bad\xc3",                 /* truncated UTF-8 */
                         "over\xc0\xaflong",        /* overlong '/' */
                         "surr\xed\xa0\x80",        /* a surrogate */
                         "big\xf4\x90\x80\x80"};    /* beyond U+10FFFF */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (name_ok(bad[i]))
            fail_msg("accepted bad name %zu", i);
    }
    assert_false(store_fname_valid("nul\0x", 5));
    assert_false(store_fname_valid(NULL, 3));
}

static void test_fname_length_bounds(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'a', sizeof name);
    assert_true(store_fname_valid(name, 255));
    assert_false(store_fname_valid(name, 256));
    /* 85 three-byte characters are 255 bytes: the bound is in bytes */
    for (int i = 0; i < 86; i++)
        memcpy(name + 3 * i, "\xe6\x97\xa5", 3);
    assert_true(store_fname_valid(name, 255));
    assert_false(store_fname_valid(name, 258));
}

static void test_ftype_media_types(void **state)
{
    (void)state;
    const char *good[] = {"application/octet-stream",
                          "text/plain",
                          "image/svg+xml",
                          "text/plain; charset=utf-8",
                          "text/plain;charset=\"utf-8\"",
                          "application/vnd.ms-excel",
                          "multipart/x-mixed; a=b ; c=\"d e\""};
    const char *bad[] = {"",
                         "text",
                         "/plain",
                         "text/",
                         "text/pl ain",
                         "te xt/plain",
                         "text/plain; charset",
                         "text/plain;=x",
                         "text/plain\r\nX: y",
                         "text/plain; a=\"unterminated",
                         "text/\xc3\xa9",
                         "a/b/c"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!store_ftype_valid(good[i], strlen(good[i])))
            fail_msg("refused \"%s\"", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (store_ftype_valid(bad[i], strlen(bad[i])))
            fail_msg("accepted bad type %zu", i);
    }
    char longtype[300];
    memset(longtype, 'a', sizeof longtype);
    longtype[1] = '/';
    assert_true(store_ftype_valid(longtype, 255));
    assert_false(store_ftype_valid(longtype, 256));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fname_accepts_ordinary_names),
        cmocka_unit_test(test_fname_refuses_separators_controls_and_bidi),
        cmocka_unit_test(test_fname_length_bounds),
        cmocka_unit_test(test_ftype_media_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
