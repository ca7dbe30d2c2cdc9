/*
 * Unit tests for auth_device: a signed cookie verifies for its account
 * within its lifetime; any changed character, another account, another
 * key, an expired or future issue time, or garbage does not; the nonce id
 * is stable per cookie and differs between cookies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth_device.h"

#define ALICE  "0b7c5b3e-1111-4000-8000-000000000001"
#define BOB    "0b7c5b3e-2222-4000-8000-000000000002"
#define T0     INT64_C(1800000000)
#define MAXAGE INT64_C(365 * 86400)

static const unsigned char KEY[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char OTHER[32] = "fedcba9876543210fedcba9876543210";

static void test_device_sign_verify(void **state)
{
    char c[AUTH_DEVICE_BUF], id[AUTH_DEVICE_ID_BUF], id2[AUTH_DEVICE_ID_BUF];
    assert_int_equal(auth_device_sign(KEY, ALICE, T0, c), 0);
    assert_int_equal(strlen(c), AUTH_DEVICE_LEN);
    assert_int_equal(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     AUTH_DEVICE_LEN); /* cookie-safe */
    assert_null(strstr(c, "0b7c5b3e"));
    assert_int_equal(auth_device_verify(KEY, c, ALICE, T0, MAXAGE, id), AUTH_DEVICE_VALID);
    assert_int_equal(auth_device_verify(KEY, c, ALICE, T0 + MAXAGE, MAXAGE, id2),
                     AUTH_DEVICE_VALID);
    assert_string_equal(id, id2);
    assert_int_equal(strlen(id), 32);
    char c2[AUTH_DEVICE_BUF];
    assert_int_equal(auth_device_sign(KEY, ALICE, T0, c2), 0);
    assert_string_not_equal(c, c2);
    assert_int_equal(auth_device_verify(KEY, c2, ALICE, T0, MAXAGE, id2), AUTH_DEVICE_VALID);
    assert_string_not_equal(id, id2);
}

static void test_device_tampered_refused(void **state)
{
    char c[AUTH_DEVICE_BUF];
    assert_int_equal(auth_device_sign(KEY, ALICE, T0, c), 0);
    for (size_t i = 0; i < AUTH_DEVICE_LEN; i++) {
        char saved = c[i];
        c[i] = saved == 'A' ? 'B' : 'A';
        auth_device_result_t r = auth_device_verify(KEY, c, ALICE, T0, MAXAGE, NULL);
        /* the last character carries 2 padding bits only some changes reach */
        if (r == AUTH_DEVICE_VALID && i != AUTH_DEVICE_LEN - 1)
            fail_msg("character %zu changed: still valid", i);
        c[i] = saved;
    }
    assert_int_equal(auth_device_verify(KEY, c, ALICE, T0, MAXAGE, NULL), AUTH_DEVICE_VALID);
    assert_int_equal(auth_device_verify(OTHER, c, ALICE, T0, MAXAGE, NULL), AUTH_DEVICE_BAD_MAC);
}

static void test_device_wrong_user_refused(void **state)
{
    char c[AUTH_DEVICE_BUF], id[AUTH_DEVICE_ID_BUF] = "";
    assert_int_equal(auth_device_sign(KEY, ALICE, T0, c), 0);
    assert_int_equal(auth_device_verify(KEY, c, BOB, T0, MAXAGE, id), AUTH_DEVICE_OTHER_USER);
    assert_int_equal(auth_device_verify(KEY, c, "", T0, MAXAGE, id), AUTH_DEVICE_OTHER_USER);
}

static void test_device_expiry(void **state)
{
    char c[AUTH_DEVICE_BUF];
    assert_int_equal(auth_device_sign(KEY, ALICE, T0, c), 0);
    assert_int_equal(auth_device_verify(KEY, c, ALICE, T0 + MAXAGE + 1, MAXAGE, NULL),
                     AUTH_DEVICE_EXPIRED);
    assert_int_equal(auth_device_verify(KEY, c, ALICE, T0 + 60, 59, NULL), AUTH_DEVICE_EXPIRED);
    /* issued in the future, beyond the tolerated skew */
    assert_int_equal(auth_device_verify(KEY, c, ALICE, T0 - AUTH_DEVICE_SKEW_S, MAXAGE, NULL),
                     AUTH_DEVICE_VALID);
    assert_int_equal(auth_device_verify(KEY, c, ALICE, T0 - AUTH_DEVICE_SKEW_S - 1, MAXAGE, NULL),
                     AUTH_DEVICE_EXPIRED);
}

static void test_device_garbage_refused(void **state)
{
    static const char *const bad[] = {"", "x", "not a cookie",
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                      "!!"
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        auth_device_result_t r = auth_device_verify(KEY, bad[i], ALICE, T0, MAXAGE, NULL);
        assert_true(r == AUTH_DEVICE_MALFORMED || r == AUTH_DEVICE_BAD_MAC);
    }
    assert_int_equal(auth_device_verify(KEY, NULL, ALICE, T0, MAXAGE, NULL), AUTH_DEVICE_MALFORMED);
    char c[AUTH_DEVICE_BUF];
    assert_int_equal(auth_device_sign(KEY, "", T0, c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_sign_verify),
        cmocka_unit_test(test_device_tampered_refused),
        cmocka_unit_test(test_device_wrong_user_refused),
        cmocka_unit_test(test_device_expiry),
        cmocka_unit_test(test_device_garbage_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
