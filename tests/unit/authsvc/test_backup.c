/*
 * Unit tests for auth_backup: the display form of generated codes
 * (10 base32 characters in two groups of five), their randomness (no
 * repeats in a large sample, every character of the alphabet used), the
 * reading of typed codes (case, hyphens and spaces ignored; wrong length
 * or characters refused), and that the stored form is the keyed hash of
 * the normalised code, so every way of typing a code finds it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth_backup.h"
#include "auth_secrets.h"

#define SAMPLE 5000
#define ALICE  "0b7c5b3e-1111-4000-8000-000000000001"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_backup_format_and_randomness(void **state)
{
    static char codes[SAMPLE][AUTH_BACKUP_BUF];
    int seen[256] = {0};
    for (size_t i = 0; i < SAMPLE; i++) {
        auth_backup_generate(codes[i]);
        assert_int_equal(strlen(codes[i]), 11);
        assert_int_equal(codes[i][5], '-');
        for (size_t k = 0; k < 11; k++) {
            if (k == 5)
                continue;
            if (!strchr(alphabet, codes[i][k]))
                fail_msg("%s: '%c' is not base32", codes[i], codes[i][k]);
            seen[(unsigned char)codes[i][k]]++;
        }
    }
    for (const char *a = alphabet; *a; a++)
        assert_true(seen[(unsigned char)*a] > 0);
    qsort(codes, SAMPLE, sizeof codes[0], cmp);
    for (size_t i = 1; i < SAMPLE; i++)
        assert_string_not_equal(codes[i - 1], codes[i]);
}

static void test_backup_normalise(void **state)
{
    char out[AUTH_BACKUP_NORM];
    static const char *const same[] = {"ABCDE-FGH23", "abcde-fgh23", "ABCDEFGH23", " abcde fgh23 ",
                                       "AbCdE--FgH23"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        assert_int_equal(auth_backup_normalise(same[i], out), 0);
        assert_string_equal(out, "ABCDEFGH23");
    }
    static const char *const bad[] = {
        "", "ABCDE-FGH2", "ABCDE-FGH234", "ABCDE-FGH01", "ABCDE_FGH23", "ABCDE-FGH8!", "123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (auth_backup_normalise(bad[i], out) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
    }
}

static void test_backup_hash_of_the_normalised_form(void **state)
{
    auth_secrets_t *s = auth_secrets_new(NULL, "a-jwt-secret-of-at-least-32-bytes-!!", NULL);
    char code[AUTH_BACKUP_BUF], n1[AUTH_BACKUP_NORM], n2[AUTH_BACKUP_NORM];
    unsigned char h1[AUTH_BACKUP_HASH_BYTES], h2[AUTH_BACKUP_HASH_BYTES];
    auth_backup_generate(code);
    assert_int_equal(auth_backup_normalise(code, n1), 0);
    for (char *p = code; *p; p++) /* as a person may type it */
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p == '-' ? ' ' : *p);
    assert_int_equal(auth_backup_normalise(code, n2), 0);
    auth_secrets_backup_hash(s, ALICE, n1, h1);
    auth_secrets_backup_hash(s, ALICE, n2, h2);
    assert_memory_equal(h1, h2, sizeof h1);
    assert_null(memmem(h1, sizeof h1, n1, strlen(n1)));
    auth_secrets_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_format_and_randomness),
        cmocka_unit_test(test_backup_normalise),
        cmocka_unit_test(test_backup_hash_of_the_normalised_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
