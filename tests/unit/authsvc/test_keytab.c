/*
 * Tests for auth_keytab: key digests (length rules, per-table keys), shard
 * sizing, bucket arrays and the clamped clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth_keytab.h"

static void test_keytab_digest_rules(void **state)
{
    assert_true(sodium_init() >= 0);
    auth_keytab_hash_t h, other;
    auth_keytab_seed(&h);
    auth_keytab_seed(&other);
    uint64_t a[2], b[2], c[2];
    assert_int_equal(auth_keytab_digest(&h, "10.0.0.1", 255, a), 0);
    assert_int_equal(auth_keytab_digest(&h, "10.0.0.1", 255, b), 0);
    assert_memory_equal(a, b, sizeof a); /* same table, same key */
    assert_int_equal(auth_keytab_digest(&h, "10.0.0.2", 255, c), 0);
    assert_memory_not_equal(a, c, sizeof a);
    assert_int_equal(auth_keytab_digest(&other, "10.0.0.1", 255, c), 0);
    assert_memory_not_equal(a, c, sizeof a); /* another table's key */
    assert_int_equal(auth_keytab_digest(&h, NULL, 255, a), -1);
    assert_int_equal(auth_keytab_digest(&h, "", 255, a), -1);
    assert_int_equal(auth_keytab_digest(&h, "abcd", 4, a), 0);
    assert_int_equal(auth_keytab_digest(&h, "abcde", 4, a), -1); /* one byte too long */
}

static void test_keytab_shards_cover_max_keys(void **state)
{
    assert_int_equal(auth_keytab_shards(1), 1);
    assert_int_equal(auth_keytab_shards(2047), 1);
    assert_int_equal(auth_keytab_shards(2048), 2);
    assert_int_equal(auth_keytab_shards(100000), 16);
    assert_int_equal(auth_keytab_shards(100000000), 16);
    const size_t sizes[] = {1, 5, 2048, 100001, 1000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint32_t n = auth_keytab_shards(sizes[i]);
        size_t sum = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t cap = auth_keytab_shard_cap(sizes[i], n, k);
            assert_true(cap >= sizes[i] / n && cap <= sizes[i] / n + 1);
            sum += cap;
        }
        assert_int_equal(sum, sizes[i]);
    }
}

static void test_keytab_buckets_are_empty_powers_of_two(void **state)
{
    uint32_t mask = 0;
    size_t bytes = 0;
    uint32_t *b = auth_keytab_buckets_new(1000, &mask, &bytes);
    assert_non_null(b);
    assert_int_equal(mask, 1023);
    assert_int_equal(bytes, 1024 * sizeof *b);
    for (uint32_t i = 0; i <= mask; i++)
        assert_int_equal(b[i], AUTH_KEYTAB_NIL);
    free(b);
}

static int64_t fixed_clock(void *arg)
{
    return *(int64_t *)arg;
}

static void test_keytab_clock_injected_and_clamped(void **state)
{
    int64_t t = 42;
    assert_int_equal(auth_keytab_now(fixed_clock, &t), 42);
    t = -5;
    assert_int_equal(auth_keytab_now(fixed_clock, &t), 0);
    t = INT64_MAX;
    assert_int_equal(auth_keytab_now(fixed_clock, &t), INT64_C(1) << 62);
    assert_true(auth_keytab_now(NULL, NULL) >= 0); /* the monotonic clock */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keytab_digest_rules),
        cmocka_unit_test(test_keytab_shards_cover_max_keys),
        cmocka_unit_test(test_keytab_buckets_are_empty_powers_of_two),
        cmocka_unit_test(test_keytab_clock_injected_and_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
