/*
 * Unit tests for auth_apikey: the key's text form (prefix, id, secret, fixed
 * positions), parsing of anything else, the hash of the secret and its
 * constant-time comparison, and the permission subset a key may carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "auth_apikey.h"

#define BIT(p) (UINT32_C(1) << (p))

static void test_apikey_new_has_the_documented_format(void **state)
{
    char key[AUTH_APIKEY_BUF], id[AUTH_APIKEY_ID_BUF];
    unsigned char hash[AUTH_APIKEY_HASHLEN];
    assert_int_equal(auth_apikey_new(key, id, hash), 0);
    assert_int_equal(strlen(key), 63);
    assert_memory_equal(key, "rk_", 3);
    assert_int_equal(strlen(id), 16);
    assert_int_equal(strspn(id, "0123456789abcdef"), 16);
    assert_memory_equal(key + 3, id, 16);
    assert_int_equal(key[19], '_');
    const char *secret = key + 20;
    assert_int_equal(
        strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    /* The hash is SHA-256 of the secret part, nothing else. */
    unsigned char want[32];
    crypto_hash_sha256(want, (const unsigned char *)secret, 43);
    assert_memory_equal(hash, want, 32);
}

static void test_apikey_new_keys_differ(void **state)
{
    char a[AUTH_APIKEY_BUF], b[AUTH_APIKEY_BUF], ia[AUTH_APIKEY_ID_BUF], ib[AUTH_APIKEY_ID_BUF];
    unsigned char ha[32], hb[32];
    assert_int_equal(auth_apikey_new(a, ia, ha), 0);
    assert_int_equal(auth_apikey_new(b, ib, hb), 0);
    assert_string_not_equal(ia, ib);
    assert_memory_not_equal(ha, hb, 32);
    assert_string_not_equal(a + 20, b + 20);
}

static void test_apikey_parse_round_trips(void **state)
{
    char key[AUTH_APIKEY_BUF], id[AUTH_APIKEY_ID_BUF], got_id[AUTH_APIKEY_ID_BUF];
    unsigned char hash[32], got[32];
    for (int i = 0; i < 50; i++) {
        assert_int_equal(auth_apikey_new(key, id, hash), 0);
        assert_int_equal(auth_apikey_parse(key, got_id, got), 0);
        assert_string_equal(got_id, id);
        assert_true(auth_apikey_hash_equal(got, hash));
    }
}

static void test_apikey_parse_refuses_other_shapes(void **state)
{
    char key[AUTH_APIKEY_BUF], id[AUTH_APIKEY_ID_BUF], bad[128];
    unsigned char hash[32];
    assert_int_equal(auth_apikey_new(key, id, hash), 0);
    static const struct {
        size_t at;
        char c;
    } flips[] = {
        {0, 'R'},  {1, 'x'},  {2, '-'},  /* the prefix */
        {3, 'A'},  {10, 'g'},            /* the id: lower-case hex only */
        {19, '-'},                       /* the separator */
        {20, '.'}, {40, '='}, {62, '+'}, /* the secret: base64url only */
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(bad, key, sizeof key);
        bad[flips[i].at] = flips[i].c;
        assert_int_equal(auth_apikey_parse(bad, id, hash), -1);
        assert_int_equal(id[0], '\0');
    }
    snprintf(bad, sizeof bad, "%sA", key); /* one too long */
    assert_int_equal(auth_apikey_parse(bad, id, hash), -1);
    snprintf(bad, sizeof bad, "%.62s", key); /* one too short */
    assert_int_equal(auth_apikey_parse(bad, id, hash), -1);
    assert_int_equal(auth_apikey_parse("", id, hash), -1);
    assert_int_equal(auth_apikey_parse(NULL, id, hash), -1);
    assert_int_equal(auth_apikey_parse("Bearer abc", id, hash), -1);
}

static void test_apikey_hash_depends_on_every_secret_byte(void **state)
{
    char key[AUTH_APIKEY_BUF], id[AUTH_APIKEY_ID_BUF], other[AUTH_APIKEY_BUF];
    unsigned char hash[32], h2[32];
    assert_int_equal(auth_apikey_new(key, id, hash), 0);
    for (size_t at = 20; at < 63; at++) {
        memcpy(other, key, sizeof key);
        other[at] = other[at] == 'A' ? 'B' : 'A';
        assert_int_equal(auth_apikey_parse(other, id, h2), 0);
        assert_false(auth_apikey_hash_equal(h2, hash));
    }
}

static void test_apikey_perms_subset_of_the_role(void **state)
{
    const char *names[] = {"self:read", "content:read"};
    uint32_t mask = 0;
    size_t bad = 99;
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_VIEWER, names, 2, &mask, &bad),
                     AUTH_APIKEY_PERMS_OK);
    assert_int_equal(mask, BIT(PROTO_PERM_SELF_READ) | BIT(PROTO_PERM_CONTENT_READ));
    const char *dup[] = {"self:read", "self:read"};
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_USER, dup, 2, &mask, NULL),
                     AUTH_APIKEY_PERMS_OK);
    assert_int_equal(mask, BIT(PROTO_PERM_SELF_READ));
}

static void test_apikey_perms_more_than_the_role_is_refused(void **state)
{
    const char *names[] = {"self:read", "users:read"};
    uint32_t mask = 1;
    size_t bad = 0;
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_USER, names, 2, &mask, &bad),
                     AUTH_APIKEY_PERMS_NOT_HELD);
    assert_int_equal(bad, 1);
    assert_int_equal(mask, 0);
    /* The same list is fine for a moderator. */
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_MODERATOR, names, 2, &mask, &bad),
                     AUTH_APIKEY_PERMS_OK);
    const char *admin[] = {"admin:write"};
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_MODERATOR, admin, 1, &mask, NULL),
                     AUTH_APIKEY_PERMS_NOT_HELD);
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_INVALID, names, 1, &mask, NULL),
                     AUTH_APIKEY_PERMS_NOT_HELD);
}

static void test_apikey_perms_unknown_and_empty_are_refused(void **state)
{
    const char *names[] = {"self:read", "Self:Read"};
    uint32_t mask;
    size_t bad;
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_ADMIN, names, 2, &mask, &bad),
                     AUTH_APIKEY_PERMS_UNKNOWN);
    assert_int_equal(bad, 1);
    const char *star[] = {"*"};
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_ADMIN, star, 1, &mask, &bad),
                     AUTH_APIKEY_PERMS_UNKNOWN);
    assert_int_equal(auth_apikey_perms_subset(PROTO_ROLE_ADMIN, names, 0, &mask, &bad),
                     AUTH_APIKEY_PERMS_EMPTY);
    assert_non_null(strstr(auth_apikey_perms_message(AUTH_APIKEY_PERMS_NOT_HELD), "role"));
}

static void test_apikey_perms_format_and_parse_round_trip(void **state)
{
    char text[AUTH_APIKEY_PERMS_BUF];
    uint32_t all = auth_apikey_role_mask(PROTO_ROLE_ADMIN);
    assert_int_equal(all, (UINT32_C(1) << PROTO_PERM_COUNT) - 1);
    for (uint32_t m = 0; m <= all; m += 37) {
        assert_int_equal(auth_apikey_perms_format(m, text, sizeof text), 0);
        assert_int_equal(auth_apikey_perms_parse(text), m);
    }
    assert_int_equal(auth_apikey_perms_format(
                         BIT(PROTO_PERM_SELF_READ) | BIT(PROTO_PERM_USERS_READ), text, sizeof text),
                     0);
    assert_string_equal(text, "users:read self:read");
    assert_int_equal(auth_apikey_perms_format(all, text, 8), -1); /* does not fit */
    /* Stored names this build does not know grant nothing. */
    assert_int_equal(auth_apikey_perms_parse("self:read files:nuke"), BIT(PROTO_PERM_SELF_READ));
    assert_int_equal(auth_apikey_perms_parse(""), 0);
    assert_int_equal(auth_apikey_perms_parse(NULL), 0);
}

static void test_apikey_allows_needs_the_role_and_the_key(void **state)
{
    uint32_t key = BIT(PROTO_PERM_SELF_READ) | BIT(PROTO_PERM_USERS_READ);
    /* A narrowed key: only what it carries, and only while the role has it. */
    assert_true(auth_apikey_allows(PROTO_ROLE_MODERATOR, true, key, PROTO_PERM_USERS_READ));
    assert_false(auth_apikey_allows(PROTO_ROLE_MODERATOR, true, key, PROTO_PERM_SELF_WRITE));
    assert_false(
        auth_apikey_allows(PROTO_ROLE_USER, true, key, PROTO_PERM_USERS_READ)); /* demoted */
    /* A key that follows the role: exactly the role. */
    for (int r = 0; r < PROTO_ROLE_COUNT; r++)
        for (int p = 0; p < PROTO_PERM_COUNT; p++)
            assert_int_equal(auth_apikey_allows(r, false, 0, p), proto_rbac_allows(r, p));
    assert_false(auth_apikey_allows(PROTO_ROLE_ADMIN, false, 0, PROTO_PERM_INVALID));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apikey_new_has_the_documented_format),
        cmocka_unit_test(test_apikey_new_keys_differ),
        cmocka_unit_test(test_apikey_parse_round_trips),
        cmocka_unit_test(test_apikey_parse_refuses_other_shapes),
        cmocka_unit_test(test_apikey_hash_depends_on_every_secret_byte),
        cmocka_unit_test(test_apikey_perms_subset_of_the_role),
        cmocka_unit_test(test_apikey_perms_more_than_the_role_is_refused),
        cmocka_unit_test(test_apikey_perms_unknown_and_empty_are_refused),
        cmocka_unit_test(test_apikey_perms_format_and_parse_round_trip),
        cmocka_unit_test(test_apikey_allows_needs_the_role_and_the_key),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
