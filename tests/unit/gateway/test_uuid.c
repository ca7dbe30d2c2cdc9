/*
 * Unit tests for gw_uuid: request ids are well-formed version-4 UUIDs and
 * do not repeat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_uuid.h"

static void test_uuid_v4_format(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        char id[GW_UUID_STRLEN + 1];
        gw_uuid_v4(id);
        assert_int_equal(strlen(id), GW_UUID_STRLEN);
        assert_true(gw_uuid_valid(id));
        assert_int_equal(id[14], '4');
        assert_non_null(strchr("89ab", id[19]));
        for (const char *p = id; *p; p++)
            assert_non_null(strchr("0123456789abcdef-", *p));
    }
}

static void test_uuid_v4_unique(void **state)
{
    (void)state;
    char a[GW_UUID_STRLEN + 1], b[GW_UUID_STRLEN + 1];
    gw_uuid_v4(a);
    gw_uuid_v4(b);
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
        assert_false(gw_uuid_valid(bad[i]));
    assert_false(gw_uuid_valid(NULL));
    assert_true(gw_uuid_valid("5B7C1A2E-0000-4000-8000-000000000001"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_v4_format),
        cmocka_unit_test(test_uuid_v4_unique),
        cmocka_unit_test(test_uuid_valid_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
