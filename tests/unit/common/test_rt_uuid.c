/*
 * Unit tests for rt_uuid: random ids are well-formed version-4 UUIDs and
 * do not repeat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ctype.h>
#include <string.h>
#include <cmocka.h>

#include "rt_uuid.h"

static void test_uuid_v4_format(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        char id[RT_UUID_BUF];
        rt_uuid_v4(id);
        assert_int_equal(strlen(id), RT_UUID_STRLEN);
        assert_true(rt_uuid_valid(id));
        assert_int_equal(id[14], '4');
        assert_non_null(strchr("89ab", id[19]));
        for (const char *p = id; *p; p++)
            assert_non_null(strchr("0123456789abcdef-", *p));
    }
}

static void test_uuid_v4_unique(void **state)
{
    (void)state;
    char a[RT_UUID_BUF], b[RT_UUID_BUF];
    rt_uuid_v4(a);
    rt_uuid_v4(b);
    assert_string_not_equal(a, b);
}

static void test_uuid_valid_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not-a-uuid",
        "5b7c1a2e-0000-4000-8000-00000000000",   /* short */
        "5b7c1a2e-0000-4000-8000-0000000000001", /* long */
        "5b7c1a2e00000-4000-8000-000000000001",  /* dash missing */
        "5b7c1a2e-0000-4000-8000-00000000000g",  /* not hex */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(rt_uuid_valid(bad[i]));
    assert_false(rt_uuid_valid(NULL));
    assert_true(rt_uuid_valid("5B7C1A2E-0000-4000-8000-000000000001"));
}

static void test_rt_uuid_v7_carries_its_time(void **state)
{
    (void)state;
    const int64_t ms = INT64_C(1796163601234); /* 2026-12-01 */
    char a[RT_UUID_BUF], b[RT_UUID_BUF];
    rt_uuid_v7(a, ms);
    rt_uuid_v7(b, ms);
    assert_true(rt_uuid_valid(a));
    assert_string_not_equal(a, b); /* random bits after the time */
    assert_int_equal(a[14], '7');
    assert_non_null(strchr("89ab", a[19]));
    assert_true(rt_uuid_v7_ms(a) == ms);
    rt_uuid_v7(a, ms + 1);
    assert_true(strcmp(a, b) > 0); /* time-ordered */
    char up[RT_UUID_BUF];
    for (size_t i = 0; i < sizeof up; i++)
        up[i] = (char)toupper((unsigned char)a[i]);
    assert_true(rt_uuid_v7_ms(up) == ms + 1);
    char v4[RT_UUID_BUF];
    rt_uuid_v4(v4);
    assert_true(rt_uuid_v7_ms(v4) == -1);
    assert_true(rt_uuid_v7_ms("not-a-uuid") == -1);
    assert_true(rt_uuid_v7_ms(NULL) == -1);
}

static void test_rt_uuid_parse_reads_the_bytes(void **state)
{
    (void)state;
    unsigned char b[RT_UUID_BYTES], again[RT_UUID_BYTES];
    static const unsigned char want[RT_UUID_BYTES] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                                                      0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98,
                                                      0x76, 0x54, 0x32, 0x10};
    assert_int_equal(rt_uuid_parse("01234567-89ab-cdef-fedc-ba9876543210", b), 0);
    assert_memory_equal(b, want, sizeof want);
    assert_int_equal(rt_uuid_parse("01234567-89AB-CDEF-FEDC-BA9876543210", again), 0);
    assert_memory_equal(again, want, sizeof want);
    char id[RT_UUID_BUF];
    rt_uuid_v4(id);
    assert_int_equal(rt_uuid_parse(id, b), 0);
    assert_int_equal(b[6] >> 4, 4); /* the version nibble where RFC 9562 puts it */
    static const char *const bad[] = {
        "", "0123456789abcdeffedcba9876543210", "01234567-89ab-cdef-fedc-ba987654321",
        "01234567-89ab-cdef-fedc-ba98765432100", "0123456g-89ab-cdef-fedc-ba9876543210"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(b, 0xaa, sizeof b);
        assert_int_equal(rt_uuid_parse(bad[i], b), -1);
        for (size_t k = 0; k < sizeof b; k++)
            assert_int_equal(b[k], 0);
    }
    assert_int_equal(rt_uuid_parse(NULL, b), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_v4_format),
        cmocka_unit_test(test_uuid_v4_unique),
        cmocka_unit_test(test_uuid_valid_rejects),
        cmocka_unit_test(test_rt_uuid_v7_carries_its_time),
        cmocka_unit_test(test_rt_uuid_parse_reads_the_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
