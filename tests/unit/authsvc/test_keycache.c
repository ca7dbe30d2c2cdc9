/*
 * Unit tests for auth_keycache: hits and misses, freshness by the injected
 * clock, invalidation, the generation protocol against a racing delete,
 * the recorded last use, and a fixed bound under a flood of key ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth_keycache.h"

static int64_t fake_now;

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static void key_id(char out[AUTH_APIKEY_ID_BUF], unsigned n)
{
    snprintf(out, AUTH_APIKEY_ID_BUF, "%016x", n);
}

static auth_keycache_key_t row(unsigned n)
{
    auth_keycache_key_t v;
    memset(&v, 0, sizeof v);
    snprintf(v.id, sizeof v.id, "00000000-0000-4000-8000-%012u", n);
    snprintf(v.user_id, sizeof v.user_id, "00000000-0000-4000-8000-%012u", n + 1);
    memset(v.secret_hash, (int)(n & 0xff), sizeof v.secret_hash);
    v.narrowed = n % 2;
    v.perms = n;
    v.expires_ms = 1000 + n;
    return v;
}

static void put(auth_keycache_t *c, const char *id, const auth_keycache_key_t *v)
{
    assert_int_equal(auth_keycache_put_if_current(c, id, v, auth_keycache_generation(c, id)), 0);
}

static void test_keycache_hit_returns_what_was_stored(void **state)
{
    fake_now = 100;
    auth_keycache_t *c = auth_keycache_new(64, 10, fake_clock, NULL);
    char id[AUTH_APIKEY_ID_BUF], other[AUTH_APIKEY_ID_BUF];
    auth_keycache_key_t v = row(7), got;
    key_id(id, 7);
    key_id(other, 8);
    assert_int_equal(auth_keycache_get(c, id, &got), -1);
    put(c, id, &v);
    assert_int_equal(auth_keycache_get(c, id, &got), 0);
    assert_memory_equal(&got, &v, sizeof v);
    assert_int_equal(auth_keycache_get(c, other, &got), -1);
    assert_int_equal(auth_keycache_count(c), 1);
    auth_keycache_destroy(&c);
    assert_null(c);
}

static void test_keycache_entries_go_stale_after_the_ttl(void **state)
{
    fake_now = 1000;
    auth_keycache_t *c = auth_keycache_new(64, 10, fake_clock, NULL);
    char id[AUTH_APIKEY_ID_BUF];
    auth_keycache_key_t v = row(1), got;
    key_id(id, 1);
    put(c, id, &v);
    fake_now = 1009;
    assert_int_equal(auth_keycache_get(c, id, &got), 0);
    fake_now = 1010;
    assert_int_equal(auth_keycache_get(c, id, &got), -1);
    assert_int_equal(auth_keycache_count(c), 0); /* a stale entry found is dropped */
    auth_keycache_destroy(&c);
}

static void test_keycache_invalidate_drops_and_skips_racing_fills(void **state)
{
    fake_now = 5;
    auth_keycache_t *c = auth_keycache_new(64, 10, fake_clock, NULL);
    char id[AUTH_APIKEY_ID_BUF];
    auth_keycache_key_t v = row(3), got;
    key_id(id, 3);
    put(c, id, &v);
    /* A lookup starts (generation taken), the key is deleted meanwhile ... */
    uint64_t gen = auth_keycache_generation(c, id);
    assert_int_equal(auth_keycache_invalidate(c, id), 0);
    assert_int_equal(auth_keycache_get(c, id, &got), -1);
    /* ... so its stale answer is not put back. */
    assert_int_equal(auth_keycache_put_if_current(c, id, &v, gen), 1);
    assert_int_equal(auth_keycache_get(c, id, &got), -1);
    put(c, id, &v); /* a fill that started after it is */
    assert_int_equal(auth_keycache_get(c, id, &got), 0);
    auth_keycache_destroy(&c);
}

static void test_keycache_mark_used_moves_forward_only(void **state)
{
    fake_now = 5;
    auth_keycache_t *c = auth_keycache_new(64, 10, fake_clock, NULL);
    char id[AUTH_APIKEY_ID_BUF];
    auth_keycache_key_t v = row(4), got;
    key_id(id, 4);
    put(c, id, &v);
    auth_keycache_mark_used(c, id, 5000);
    assert_int_equal(auth_keycache_get(c, id, &got), 0);
    assert_int_equal(got.last_used_ms, 5000);
    auth_keycache_mark_used(c, id, 4000);
    assert_int_equal(auth_keycache_get(c, id, &got), 0);
    assert_int_equal(got.last_used_ms, 5000);
    auth_keycache_destroy(&c);
}

static void test_keycache_stays_within_its_capacity(void **state)
{
    fake_now = 1;
    auth_keycache_t *c = auth_keycache_new(100, 10, fake_clock, NULL);
    char id[AUTH_APIKEY_ID_BUF];
    for (unsigned i = 0; i < 20000; i++) {
        auth_keycache_key_t v = row(i);
        key_id(id, i);
        put(c, id, &v);
        assert_true(auth_keycache_count(c) <= 100);
    }
    assert_int_equal(auth_keycache_count(c), 100);
    /* The newest ones are there. */
    auth_keycache_key_t got;
    key_id(id, 19999);
    assert_int_equal(auth_keycache_get(c, id, &got), 0);
    assert_int_equal(got.perms, 19999);
    auth_keycache_destroy(&c);
}

static void test_keycache_refuses_bad_arguments(void **state)
{
    assert_null(auth_keycache_new(0, 10, NULL, NULL));
    assert_null(auth_keycache_new(10, 0, NULL, NULL));
    assert_null(auth_keycache_new(AUTH_KEYCACHE_MAX_CAPACITY + 1, 10, NULL, NULL));
    auth_keycache_t *c = auth_keycache_new(8, 10, NULL, NULL);
    auth_keycache_key_t v = row(1), got;
    assert_int_equal(auth_keycache_get(c, "short", &got), -1);
    assert_int_equal(auth_keycache_get(c, "0123456789abcdef0", &got), -1);
    assert_int_equal(auth_keycache_put_if_current(c, NULL, &v, 0), -1);
    assert_int_equal(auth_keycache_invalidate(c, ""), -1);
    assert_int_equal(auth_keycache_get(NULL, "0123456789abcdef", &got), -1);
    auth_keycache_destroy(&c);
    auth_keycache_destroy(&c);
    auth_keycache_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keycache_hit_returns_what_was_stored),
        cmocka_unit_test(test_keycache_entries_go_stale_after_the_ttl),
        cmocka_unit_test(test_keycache_invalidate_drops_and_skips_racing_fills),
        cmocka_unit_test(test_keycache_mark_used_moves_forward_only),
        cmocka_unit_test(test_keycache_stays_within_its_capacity),
        cmocka_unit_test(test_keycache_refuses_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
