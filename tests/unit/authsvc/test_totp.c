/*
 * Unit tests for auth_totp: the RFC 6238 test vectors (SHA-1, appendix B)
 * through our wrapper (generation with 8 digits, validation of their 6-digit
 * form with the step it belongs to), the window of one step either way,
 * code normalisation, base32 (RFC 4648 vectors) and the otpauth URI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth_totp.h"

#define RFC_SECRET "12345678901234567890" /* the SHA-1 seed of RFC 6238 appendix B */

static const struct {
    int64_t t;
    const char *code8;
} vectors[] = {
    {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
    {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
};
#define NVECTORS (sizeof vectors / sizeof vectors[0])

static const unsigned char *seed(void)
{
    return (const unsigned char *)RFC_SECRET;
}

static int setup(void **state)
{
    return auth_totp_init();
}

static int teardown(void **state)
{
    auth_totp_done();
    return 0;
}

static void test_totp_rfc6238_vectors_generate(void **state)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        char out[16];
        assert_int_equal(auth_totp_generate(seed(), 20, vectors[i].t, 8, out, sizeof out), 0);
        assert_string_equal(out, vectors[i].code8);
        assert_int_equal(auth_totp_generate(seed(), 20, vectors[i].t, 6, out, sizeof out), 0);
        assert_string_equal(out, vectors[i].code8 + 2); /* mod 10^6: the last six digits */
    }
}

static void test_totp_rfc6238_vectors_validate_with_step(void **state)
{
    for (size_t i = 0; i < NVECTORS; i++) {
        int64_t step = -1;
        const char *code6 = vectors[i].code8 + 2;
        assert_int_equal(auth_totp_validate(seed(), 20, vectors[i].t, code6, &step),
                         AUTH_TOTP_MATCH);
        assert_int_equal(step, vectors[i].t / 30);
        assert_int_equal(step, auth_totp_step(vectors[i].t));
    }
}

/* The code of step s is accepted at steps s-1, s, s+1 and refused two
 * steps away, with the step it belongs to whatever the clock says. */
static void test_totp_window_one_step_either_way(void **state)
{
    const int64_t t = 1234567890, s = t / 30;
    const char *code = "005924";
    static const struct {
        int64_t offset;
        int want;
    } rows[] = {{-60, AUTH_TOTP_NO_MATCH},
                {-30, AUTH_TOTP_MATCH},
                {0, AUTH_TOTP_MATCH},
                {30, AUTH_TOTP_MATCH},
                {60, AUTH_TOTP_NO_MATCH}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t step = -1;
        int rc = auth_totp_validate(seed(), 20, t + rows[i].offset, code, &step);
        if (rc != rows[i].want)
            fail_msg("offset %lld: %d, want %d", (long long)rows[i].offset, rc, rows[i].want);
        if (rc == AUTH_TOTP_MATCH)
            assert_int_equal(step, s);
    }
}

static void test_totp_wrong_and_malformed_codes(void **state)
{
    const int64_t t = 59;
    assert_int_equal(auth_totp_validate(seed(), 20, t, "287083", NULL), AUTH_TOTP_NO_MATCH);
    assert_int_equal(auth_totp_validate(seed(), 20, t, "287 082", NULL), AUTH_TOTP_MATCH);
    static const char *const bad[] = {"", "28708", "2870821", "28708a", "94287082", "-28708"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(auth_totp_validate(seed(), 20, t, bad[i], NULL), AUTH_TOTP_MALFORMED);
    unsigned char other[20] = {1};
    assert_int_equal(auth_totp_validate(other, 20, t, "287082", NULL), AUTH_TOTP_NO_MATCH);
    assert_int_equal(auth_totp_validate(NULL, 20, t, "287082", NULL), -1);
    assert_int_equal(auth_totp_validate(seed(), 0, t, "287082", NULL), -1);
}

static void test_totp_code_normalise(void **state)
{
    char out[AUTH_TOTP_CODE_BUF];
    assert_int_equal(auth_totp_code_normalise(" 123 456 ", out), 0);
    assert_string_equal(out, "123456");
    assert_int_equal(auth_totp_code_normalise("12345", out), -1);
    assert_int_equal(auth_totp_code_normalise("1234567", out), -1);
    assert_int_equal(auth_totp_code_normalise("12-456", out), -1);
    assert_int_equal(auth_totp_code_normalise("ABCDE-FGH23", out), -1);
}

static void test_totp_base32_rfc4648_vectors(void **state)
{
    static const char *const rows[][2] = {
        {"", ""},
        {"f", "MY"},
        {"fo", "MZXQ"},
        {"foo", "MZXW6"},
        {"foob", "MZXW6YQ"},
        {"fooba", "MZXW6YTB"},
        {"foobar", "MZXW6YTBOI"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[32];
        size_t n = auth_base32_encode((const unsigned char *)rows[i][0], strlen(rows[i][0]), out,
                                      sizeof out);
        assert_int_equal(n, strlen(rows[i][1]));
        assert_string_equal(out, rows[i][1]);
    }
    char out[AUTH_TOTP_SECRET_B32 + 1], small[4];
    assert_int_equal(auth_base32_encode(seed(), 20, out, sizeof out), AUTH_TOTP_SECRET_B32);
    assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_int_equal(auth_base32_encode(seed(), 20, small, sizeof small), 0);
}

static void test_totp_uri(void **state)
{
    char out[AUTH_TOTP_URI_MAX], small[40];
    assert_int_equal(auth_totp_uri("My Co", "alice_1", "GEZDGNBV", out, sizeof out), 0);
    assert_string_equal(out, "otpauth://totp/My%20Co:alice_1?secret=GEZDGNBV&issuer=My%20Co"
                             "&algorithm=SHA1&digits=6&period=30");
    assert_int_equal(auth_totp_uri("restc", "a:b&c", "X", out, sizeof out), 0);
    assert_non_null(strstr(out, "/restc:a%3Ab%26c?"));
    assert_int_equal(auth_totp_uri("restc", "alice", "GEZDGNBV", small, sizeof small), -1);
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totp_rfc6238_vectors_generate),
        cmocka_unit_test(test_totp_rfc6238_vectors_validate_with_step),
        cmocka_unit_test(test_totp_window_one_step_either_way),
        cmocka_unit_test(test_totp_wrong_and_malformed_codes),
        cmocka_unit_test(test_totp_code_normalise),
        cmocka_unit_test(test_totp_base32_rfc4648_vectors),
        cmocka_unit_test(test_totp_uri),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
