/*
 * Unit tests for gw_fname: path segments, control characters, bidi
 * overrides, invalid UTF-8, NUL, long names cut at a character boundary
 * with their extension, Content-Disposition and query unescaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_fname.h"

static const char *san(const char *in, size_t n)
{
    static char out[GW_FNAME_MAX + 1];
    gw_fname_sanitise(in, n, out, sizeof out);
    return out;
}
#define S(lit) san(lit, sizeof lit - 1)

static void test_fname_paths_and_controls(void **state)
{
    assert_string_equal(S("../../x"), "x");
    assert_string_equal(S("..\\..\\windows\\win.ini"), "windows_win.ini");
    assert_string_equal(S("/etc/passwd"), "etc_passwd");
    assert_string_equal(S("a/./b.txt"), "a_b.txt");
    assert_string_equal(S("report.pdf"), "report.pdf");
    assert_string_equal(S("a\0b.txt"), "ab.txt");
    assert_string_equal(S("evil\r\nSet-Cookie: x.txt"), "evilSet-Cookie: x.txt");
    assert_string_equal(S("..."), "file");
    assert_string_equal(S(""), "file");
    assert_string_equal(S(".hidden"), "hidden");
    assert_string_equal(S("name. "), "name");
    /* U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 isolate, U+200B zero width. */
    assert_string_equal(S("invoice\xe2\x80\xaegpj.exe"), "invoicegpj.exe");
    assert_string_equal(S("a\xe2\x81\xa6"
                          "b\xe2\x80\x8b"
                          "c"),
                        "abc");
    /* Invalid UTF-8 and overlong forms become '_'; valid text stays. */
    assert_string_equal(S("caf\xc3\xa9.txt"), "caf\xc3\xa9.txt");
    assert_string_equal(S("a\xff"
                          "b"),
                        "a_b");
    assert_string_equal(S("a\xc0\xaf"
                          "b"),
                        "a__b");
    /* C1 controls encoded in UTF-8. */
    assert_string_equal(S("a\xc2\x85"
                          "b"),
                        "ab");
}

static void test_fname_length(void **state)
{
    static char in[4096];
    memset(in, 'a', sizeof in);
    memcpy(in + sizeof in - 4, ".png", 4);
    const char *out = san(in, sizeof in);
    assert_int_equal(strlen(out), GW_FNAME_MAX);
    assert_memory_equal(out + GW_FNAME_MAX - 4, ".png", 4);
    /* Multi-byte characters are never split. */
    for (size_t i = 0; i + 2 <= sizeof in; i += 2)
        memcpy(in + i, "\xc3\xa9", 2);
    out = san(in, sizeof in - 1); /* an odd count: the last byte is invalid */
    assert_true(strlen(out) <= GW_FNAME_MAX);
    for (size_t i = 0; out[i]; i += 2)
        assert_memory_equal(out + i, "\xc3\xa9", 2);
}

static void test_fname_disposition(void **state)
{
    char v[1024];
    assert_int_equal(gw_fname_disposition("report.pdf", v, sizeof v), 0);
    assert_string_equal(v, "attachment; filename=\"report.pdf\"");
    assert_int_equal(gw_fname_disposition("a\"b;c.txt", v, sizeof v), 0);
    assert_string_equal(v, "attachment; filename=\"a_b_c.txt\"");
    assert_int_equal(gw_fname_disposition("caf\xc3\xa9 1.txt", v, sizeof v), 0);
    assert_string_equal(v,
                        "attachment; filename=\"caf__ 1.txt\"; filename*=UTF-8''caf%C3%A9%201.txt");
    assert_int_equal(gw_fname_disposition("x.txt", v, 10), -1);
}

static void test_fname_unescape(void **state)
{
    char out[64];
    assert_int_equal(gw_fname_unescape("a%20b+c", 7, out, sizeof out), 5);
    assert_string_equal(out, "a b c");
    assert_int_equal(gw_fname_unescape("a%00b", 5, out, sizeof out), 3);
    assert_int_equal(out[1], 0);
    assert_int_equal(gw_fname_unescape("%zz", 3, out, sizeof out), -1);
    assert_int_equal(gw_fname_unescape("%4", 2, out, sizeof out), -1);
    assert_int_equal(gw_fname_unescape("abcdef", 6, out, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fname_paths_and_controls),
        cmocka_unit_test(test_fname_length),
        cmocka_unit_test(test_fname_disposition),
        cmocka_unit_test(test_fname_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
