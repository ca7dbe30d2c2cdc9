/*
 * Unit tests for auth_secrets: the key forms of TOTP_ENCRYPTION_KEY, keys
 * derived from JWT_SECRET_KEY when it is unset, sealing round trips with a
 * fresh nonce each time, and refusal of every tampered byte, of another
 * user's id and of another key; backup-code hashes are keyed and bound to
 * the user.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth_secrets.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define JWT     "a-jwt-secret-of-at-least-32-bytes-for-tests"
#define ALICE   "0b7c5b3e-1111-4000-8000-000000000001"
#define BOB     "0b7c5b3e-2222-4000-8000-000000000002"

static const unsigned char SECRET[20] = "12345678901234567890";

static void test_secrets_key_forms(void **state)
{
    unsigned char a[32], b[32];
    assert_int_equal(auth_secrets_parse_key(KEY_HEX, a), 0);
    assert_int_equal(auth_secrets_parse_key(KEY_B64, b), 0);
    assert_memory_equal(a, b, 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(a[i], i);
    static const char *const bad[] = {
        "", "00", KEY_HEX "00", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX",
        "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(auth_secrets_parse_key(bad[i], a), -1);
    bool derived = true;
    auth_secrets_t *s = auth_secrets_new(KEY_HEX, JWT, &derived);
    assert_non_null(s);
    assert_false(derived);
    auth_secrets_destroy(&s);
    assert_null(s);
    assert_null(auth_secrets_new("not a key", JWT, &derived));
    assert_null(auth_secrets_new(NULL, NULL, &derived));
    auth_secrets_destroy(&s); /* safe on NULL */
}

static void test_secrets_seal_round_trip_fresh_nonce(void **state)
{
    auth_secrets_t *s = auth_secrets_new(KEY_HEX, JWT, NULL);
    unsigned char c1[AUTH_SEALED_MAX], c2[AUTH_SEALED_MAX], out[64];
    size_t n1 = 0, n2 = 0, n = 0;
    assert_int_equal(auth_secrets_seal(s, ALICE, SECRET, sizeof SECRET, c1, sizeof c1, &n1), 0);
    assert_int_equal(auth_secrets_seal(s, ALICE, SECRET, sizeof SECRET, c2, sizeof c2, &n2), 0);
    assert_int_equal(n1, AUTH_SEALED_OVERHEAD + 16 + sizeof SECRET); /* 77 bytes */
    assert_int_equal(n1, n2);
    assert_true(memcmp(c1, c2, n1) != 0);               /* a random nonce per seal */
    assert_null(memmem(c1, n1, SECRET, sizeof SECRET)); /* no plaintext in it */
    assert_int_equal(auth_secrets_open(s, ALICE, c1, n1, out, sizeof out, &n), 0);
    assert_int_equal(n, sizeof SECRET);
    assert_memory_equal(out, SECRET, sizeof SECRET);
    assert_int_equal(auth_secrets_open(s, ALICE, c2, n2, out, sizeof out, &n), 0);
    assert_int_equal(auth_secrets_seal(s, "not-a-uuid", SECRET, sizeof SECRET, c1, sizeof c1, &n1),
                     -1);
    assert_int_equal(auth_secrets_seal(s, ALICE, SECRET, sizeof SECRET, c1, 40, &n1), -1);
    auth_secrets_destroy(&s);
}

static void test_secrets_tamper_user_and_key_refused(void **state)
{
    auth_secrets_t *s = auth_secrets_new(KEY_HEX, JWT, NULL);
    auth_secrets_t *other = auth_secrets_new(NULL, JWT, NULL); /* derived: another key */
    unsigned char c[AUTH_SEALED_MAX], out[64];
    size_t n = 0, got = 0;
    assert_int_equal(auth_secrets_seal(s, ALICE, SECRET, sizeof SECRET, c, sizeof c, &n), 0);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            c[i] ^= (unsigned char)(1u << bit);
            if (auth_secrets_open(s, ALICE, c, n, out, sizeof out, &got) == 0)
                fail_msg("byte %zu bit %d flipped: still opens", i, bit);
            c[i] ^= (unsigned char)(1u << bit);
        }
    }
    assert_int_equal(auth_secrets_open(s, ALICE, c, n - 1, out, sizeof out, &got), -1);
    assert_int_equal(auth_secrets_open(s, BOB, c, n, out, sizeof out, &got), -1);
    assert_int_equal(auth_secrets_open(other, ALICE, c, n, out, sizeof out, &got), -1);
    assert_int_equal(auth_secrets_open(s, ALICE, c, n, out, 8, &got), -1); /* no room */
    assert_int_equal(auth_secrets_open(s, ALICE, c, n, out, sizeof out, &got), 0);
    auth_secrets_destroy(&s);
    auth_secrets_destroy(&other);
}

static void test_secrets_derived_from_jwt_secret(void **state)
{
    bool derived = false;
    auth_secrets_t *a = auth_secrets_new("", JWT, &derived);
    assert_true(derived);
    auth_secrets_t *a2 = auth_secrets_new(NULL, JWT, NULL);
    auth_secrets_t *b = auth_secrets_new(NULL, JWT "-rotated", NULL);
    unsigned char c[AUTH_SEALED_MAX], out[64];
    size_t n = 0, got = 0;
    assert_int_equal(auth_secrets_seal(a, ALICE, SECRET, sizeof SECRET, c, sizeof c, &n), 0);
    assert_int_equal(auth_secrets_open(a2, ALICE, c, n, out, sizeof out, &got), 0);
    assert_int_equal(auth_secrets_open(b, ALICE, c, n, out, sizeof out, &got), -1);
    assert_memory_not_equal(auth_secrets_device_key(a), auth_secrets_device_key(b), 32);
    assert_memory_equal(auth_secrets_device_key(a), auth_secrets_device_key(a2), 32);
    auth_secrets_destroy(&a);
    auth_secrets_destroy(&a2);
    auth_secrets_destroy(&b);
}

static void test_secrets_backup_hash_keyed_and_bound_to_user(void **state)
{
    auth_secrets_t *s = auth_secrets_new(KEY_HEX, JWT, NULL);
    auth_secrets_t *o = auth_secrets_new(NULL, JWT, NULL);
    unsigned char h1[32], h2[32], h3[32], h4[32], h5[32];
    auth_secrets_backup_hash(s, ALICE, "ABCDEFGH23", h1);
    auth_secrets_backup_hash(s, ALICE, "ABCDEFGH23", h2);
    auth_secrets_backup_hash(s, BOB, "ABCDEFGH23", h3);
    auth_secrets_backup_hash(s, ALICE, "ABCDEFGH24", h4);
    auth_secrets_backup_hash(o, ALICE, "ABCDEFGH23", h5);
    assert_memory_equal(h1, h2, 32);
    assert_memory_not_equal(h1, h3, 32);
    assert_memory_not_equal(h1, h4, 32);
    assert_memory_not_equal(h1, h5, 32);
    assert_memory_not_equal(auth_secrets_device_key(s), auth_secrets_device_key(o), 32);
    auth_secrets_destroy(&s);
    auth_secrets_destroy(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secrets_key_forms),
        cmocka_unit_test(test_secrets_seal_round_trip_fresh_nonce),
        cmocka_unit_test(test_secrets_tamper_user_and_key_refused),
        cmocka_unit_test(test_secrets_derived_from_jwt_secret),
        cmocka_unit_test(test_secrets_backup_hash_keyed_and_bound_to_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
