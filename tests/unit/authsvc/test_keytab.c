/*
 * Tests for auth_keytab: key digests (length rules, per-table keys), shard
 * sizing, bucket arrays and the clamped clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

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

/* A minimal table over the shared shard operations. */
typedef struct {
    uint64_t d0, d1;
    uint32_t chain, prev, next;
} tentry_t;

typedef struct {
    pthread_mutex_t lock;
    tentry_t *slots;
    uint32_t *buckets;
    uint32_t cap, mask, unused, free_head, head, tail;
} tshard_t;

AUTH_KEYTAB_SHARD_OPS(tshard_t)
AUTH_KEYTAB_LIST_OPS(tshard_t, prev, next)

static void tshard_put(tshard_t *s, uint32_t i, uint64_t d0)
{
    s->slots[i].d0 = d0;
    s->slots[i].d1 = ~d0;
    uint32_t *b = &s->buckets[d0 & s->mask];
    s->slots[i].chain = *b;
    *b = i;
    kt_list_push_head(s, &s->head, &s->tail, i);
}

static void test_keytab_shard_ops(void **state)
{
    (void)state;
    tshard_t s = {0};
    void *slots = NULL;
    size_t memory = 0;
    assert_int_equal(
        auth_keytab_shard_alloc(4, sizeof *s.slots, &slots, &s.buckets, &s.mask, &s.lock, &memory),
        0);
    s.slots = slots;
    s.cap = 4;
    s.free_head = s.head = s.tail = AUTH_KEYTAB_NIL;
    assert_true(memory >= 4 * sizeof *s.slots);
    /* Fill: every slot once, then none; keys that share a bucket chain. */
    for (uint64_t k = 0; k < 4; k++) {
        uint32_t i = kt_take_free(&s);
        assert_int_equal(i, k);
        tshard_put(&s, i, k * (s.mask + 1) + 1); /* all in bucket 1 */
    }
    assert_int_equal(kt_take_free(&s), AUTH_KEYTAB_NIL);
    for (uint64_t k = 0; k < 4; k++) {
        uint64_t d[2] = {k * (s.mask + 1) + 1, ~(k * (s.mask + 1) + 1)};
        assert_int_equal(kt_find(&s, d), k);
    }
    uint64_t absent[2] = {1, 1}; /* right bucket, wrong second half */
    assert_int_equal(kt_find(&s, absent), AUTH_KEYTAB_NIL);
    assert_int_equal(s.head, 3);
    assert_int_equal(s.tail, 0);
    /* Release a middle one: gone from the chain and the list, reused first. */
    kt_unchain(&s, 2);
    kt_list_unlink(&s, &s.head, &s.tail, 2);
    kt_put_free(&s, 2);
    uint64_t d2[2] = {2 * (s.mask + 1) + 1, ~(2 * (s.mask + 1) + 1)};
    assert_int_equal(kt_find(&s, d2), AUTH_KEYTAB_NIL);
    assert_int_equal(s.slots[3].next, 1);
    assert_int_equal(s.slots[1].prev, 3);
    for (uint64_t k = 0; k < 4; k++) {
        uint64_t d[2] = {k * (s.mask + 1) + 1, ~(k * (s.mask + 1) + 1)};
        assert_int_equal(kt_find(&s, d), k == 2 ? AUTH_KEYTAB_NIL : k);
    }
    assert_int_equal(kt_take_free(&s), 2);
    assert_int_equal(kt_take_free(&s), AUTH_KEYTAB_NIL);
    auth_keytab_shard_free(s.slots, s.buckets, &s.lock);
    auth_keytab_shard_free(NULL, NULL, NULL); /* nothing allocated: nothing to do */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keytab_digest_rules),
        cmocka_unit_test(test_keytab_shards_cover_max_keys),
        cmocka_unit_test(test_keytab_buckets_are_empty_powers_of_two),
        cmocka_unit_test(test_keytab_clock_injected_and_clamped),
        cmocka_unit_test(test_keytab_shard_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
