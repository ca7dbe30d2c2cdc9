/*
 * Unit tests for auth_ratelimit: the limit is reached and answered with a
 * Retry-After that is exact (one second earlier is still refused, at it a
 * request passes), remaining counts down, the sliding window forgets
 * gradually and fully after two windows, limit 0 is off, keys and
 * instances are independent, memory stays bounded under a flood of
 * distinct keys, and concurrent callers never exceed the limit. The clock
 * is injected; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth_ratelimit.h"

#define T0      INT64_C(6000000) /* a multiple of 60: window-aligned */
#define FLOOD_N 1000000

typedef struct {
    int64_t now;
} fake_clock_t;

static int64_t fake_clock(void *arg)
{
    return ((fake_clock_t *)arg)->now;
}

typedef struct {
    fake_clock_t clock;
    auth_ratelimit_t *rl;
} fixture_t;

static auth_ratelimit_t *new_rl(fake_clock_t *clock, size_t max_keys)
{
    auth_ratelimit_config_t cfg;
    auth_ratelimit_config_defaults(&cfg);
    cfg.max_keys = max_keys;
    return auth_ratelimit_new(&cfg, fake_clock, clock);
}

static int setup(void **state)
{
    static fixture_t f;
    f.clock.now = T0;
    f.rl = new_rl(&f.clock, 100000);
    *state = &f;
    return f.rl == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    auth_ratelimit_destroy(&f->rl);
    return 0;
}

static int check(auth_ratelimit_t *rl, const char *key, uint32_t limit)
{
    return auth_ratelimit_check(rl, key, limit, NULL, NULL, NULL);
}

static void test_ratelimit_limit_reached(void **state)
{
    fixture_t *f = *state;
    uint32_t rem = 99;
    int reset = 0, retry = -1;

    for (int i = 0; i < 3; i++)
        assert_int_equal(check(f->rl, "ip:192.0.2.1", 3), AUTH_RATELIMIT_ALLOWED);
    f->clock.now += 10;
    assert_int_equal(auth_ratelimit_check(f->rl, "ip:192.0.2.1", 3, &rem, &reset, &retry),
                     AUTH_RATELIMIT_LIMITED);
    assert_int_equal(rem, 0);
    assert_int_equal(reset, 50);
    assert_true(retry > 0);
    /* refused requests are not counted: hammering does not push retry back */
    int first = retry;
    for (int i = 0; i < 100; i++)
        assert_int_equal(check(f->rl, "ip:192.0.2.1", 3), AUTH_RATELIMIT_LIMITED);
    assert_int_equal(auth_ratelimit_check(f->rl, "ip:192.0.2.1", 3, NULL, NULL, &retry),
                     AUTH_RATELIMIT_LIMITED);
    assert_int_equal(retry, first);
}

static void test_ratelimit_remaining_counts_down(void **state)
{
    fixture_t *f = *state;
    uint32_t rem = 0;
    int reset = 0, retry = -1;

    f->clock.now += 15;
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(auth_ratelimit_check(f->rl, "user-1", 5, &rem, &reset, &retry),
                         AUTH_RATELIMIT_ALLOWED);
        assert_int_equal(rem, 4 - i);
        assert_int_equal(reset, 45);
        assert_int_equal(retry, 0);
    }
    assert_int_equal(auth_ratelimit_check(f->rl, "user-1", 5, &rem, &reset, &retry),
                     AUTH_RATELIMIT_LIMITED);
    assert_int_equal(rem, 0);
}

static void test_ratelimit_reset_after_window(void **state)
{
    fixture_t *f = *state;
    uint32_t rem = 0;

    for (int i = 0; i < 3; i++)
        assert_int_equal(check(f->rl, "k", 3), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(check(f->rl, "k", 3), AUTH_RATELIMIT_LIMITED);
    /* next window, first second: the previous window still weighs fully */
    f->clock.now += 60;
    assert_int_equal(check(f->rl, "k", 3), AUTH_RATELIMIT_LIMITED);
    /* half-way: 3 * 30/60 = 1.5 used, so one more fits, not two */
    f->clock.now += 30;
    assert_int_equal(auth_ratelimit_check(f->rl, "k", 3, &rem, NULL, NULL), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(rem, 0);
    assert_int_equal(check(f->rl, "k", 3), AUTH_RATELIMIT_LIMITED);
    /* two idle windows later: the full quota */
    f->clock.now += 120;
    assert_int_equal(auth_ratelimit_check(f->rl, "k", 3, &rem, NULL, NULL), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(rem, 2);
}

static void test_ratelimit_no_burst_across_boundary(void **state)
{
    fixture_t *f = *state;
    f->clock.now += 59;
    for (int i = 0; i < 10; i++)
        assert_int_equal(check(f->rl, "k", 10), AUTH_RATELIMIT_ALLOWED);
    f->clock.now += 1; /* a fixed window would hand out 10 more here */
    assert_int_equal(check(f->rl, "k", 10), AUTH_RATELIMIT_LIMITED);
    f->clock.now += 6; /* 10 * 54/60 = 9 used */
    assert_int_equal(check(f->rl, "k", 10), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(check(f->rl, "k", 10), AUTH_RATELIMIT_LIMITED);
}

/* Small deterministic generator for the property test. */
static uint32_t next_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(*s >> 33);
}

static void test_ratelimit_retry_after_is_exact(void **state)
{
    fixture_t *f = *state;
    uint64_t seed = 42;
    int limited_seen = 0;
    char key[32];
    (void)f;

    for (int round = 0; round < 400; round++) {
        uint32_t limit = 1 + next_rand(&seed) % 12;
        snprintf(key, sizeof key, "prop-%d", round);
        for (int step = 0; step < 60; step++) {
            int retry = 0;
            f->clock.now += next_rand(&seed) % 9;
            int rc = auth_ratelimit_check(f->rl, key, limit, NULL, NULL, &retry);
            if (rc == AUTH_RATELIMIT_ALLOWED)
                continue;
            limited_seen++;
            assert_true(retry >= 1 && retry <= 120);
            f->clock.now += retry - 1;
            if (retry > 1 && check(f->rl, key, limit) != AUTH_RATELIMIT_LIMITED)
                fail_msg("round %d: allowed 1 s before Retry-After %d", round, retry);
            f->clock.now += 1;
            if (check(f->rl, key, limit) != AUTH_RATELIMIT_ALLOWED)
                fail_msg("round %d: still limited after Retry-After %d", round, retry);
        }
    }
    assert_true(limited_seen > 1000);
}

static void test_ratelimit_off_when_limit_zero(void **state)
{
    fixture_t *f = *state;
    uint32_t rem = 7;
    int reset = 7, retry = 7;
    for (int i = 0; i < 10000; i++)
        assert_int_equal(auth_ratelimit_check(f->rl, "user-2", 0, &rem, &reset, &retry),
                         AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(rem, 0);
    assert_int_equal(reset, 0);
    assert_int_equal(retry, 0);
    assert_int_equal(auth_ratelimit_tracked_count(f->rl), 0);
}

static void test_ratelimit_keys_isolated(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(check(f->rl, "ip:198.51.100.9", 3), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(check(f->rl, "ip:198.51.100.9", 3), AUTH_RATELIMIT_LIMITED);
    assert_int_equal(check(f->rl, "ip:198.51.100.10", 3), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(check(f->rl, "0190a1b2-0000-7000-8000-000000000001", 3),
                     AUTH_RATELIMIT_ALLOWED);
}

static void test_ratelimit_register_instance_separate(void **state)
{
    fixture_t *f = *state;
    auth_ratelimit_t *reg = new_rl(&f->clock, 1000);
    assert_non_null(reg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(check(reg, "ip:203.0.113.5", 3), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(check(reg, "ip:203.0.113.5", 3), AUTH_RATELIMIT_LIMITED);
    assert_int_equal(check(f->rl, "ip:203.0.113.5", 600), AUTH_RATELIMIT_ALLOWED);
    auth_ratelimit_destroy(&reg);
    assert_null(reg);
}

static void test_ratelimit_bounded_under_flood(void **state)
{
    fake_clock_t clock = {T0};
    auth_ratelimit_t *rl = new_rl(&clock, 10000);
    char key[64];
    (void)state;
    assert_non_null(rl);
    size_t mem = auth_ratelimit_memory_bytes(rl);
    assert_true(mem >= 10000 * auth_ratelimit_entry_bytes());
    assert_true(mem <= 10000 * (auth_ratelimit_entry_bytes() + 8) + 4096);
    for (uint32_t n = 0; n < FLOOD_N; n++) {
        snprintf(key, sizeof key, "ip:10.%u.%u.%u", n >> 16, (n >> 8) & 255, n & 255);
        assert_int_equal(check(rl, key, 600), AUTH_RATELIMIT_ALLOWED);
        if (n % 100000 == 0)
            assert_true(auth_ratelimit_tracked_count(rl) <= 10000);
    }
    assert_true(auth_ratelimit_tracked_count(rl) <= 10000);
    assert_int_equal(auth_ratelimit_memory_bytes(rl), mem);
    auth_ratelimit_destroy(&rl);
}

static void test_ratelimit_idle_keys_dropped(void **state)
{
    fake_clock_t clock = {T0};
    auth_ratelimit_t *rl = new_rl(&clock, 1000); /* one shard: every call sweeps the same table */
    char key[32];
    (void)state;
    assert_non_null(rl);
    for (int n = 0; n < 100; n++) {
        snprintf(key, sizeof key, "user-%d", n);
        assert_int_equal(check(rl, key, 10), AUTH_RATELIMIT_ALLOWED);
    }
    assert_int_equal(auth_ratelimit_tracked_count(rl), 100);
    clock.now += 120;
    for (int n = 0; n < 60; n++)
        assert_int_equal(check(rl, "busy", 1000), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(auth_ratelimit_tracked_count(rl), 1);
    auth_ratelimit_destroy(&rl);
}

static void test_ratelimit_bad_arguments(void **state)
{
    fixture_t *f = *state;
    auth_ratelimit_config_t cfg;
    char long_key[AUTH_RATELIMIT_KEY_MAX + 2];
    uint32_t rem = 5;
    int reset = 5, retry = 5;

    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(auth_ratelimit_check(NULL, "k", 3, &rem, &reset, &retry), -1);
    assert_int_equal(rem, 0);
    assert_int_equal(reset, 0);
    assert_int_equal(retry, 0);
    assert_int_equal(check(f->rl, NULL, 3), -1);
    assert_int_equal(check(f->rl, "", 3), -1);
    assert_int_equal(check(f->rl, long_key, 3), -1);
    long_key[AUTH_RATELIMIT_KEY_MAX] = '\0';
    assert_int_equal(check(f->rl, long_key, 3), AUTH_RATELIMIT_ALLOWED);

    assert_null(auth_ratelimit_new(NULL, NULL, NULL));
    auth_ratelimit_config_defaults(&cfg);
    cfg.window_s = 0;
    assert_null(auth_ratelimit_new(&cfg, NULL, NULL));
    auth_ratelimit_config_defaults(&cfg);
    cfg.max_keys = 0;
    assert_null(auth_ratelimit_new(&cfg, NULL, NULL));
    auth_ratelimit_t *none = NULL;
    auth_ratelimit_destroy(&none);
    auth_ratelimit_destroy(NULL);
    assert_int_equal(auth_ratelimit_tracked_count(NULL), 0);
    assert_int_equal(auth_ratelimit_memory_bytes(NULL), 0);
}

static void test_ratelimit_real_clock_default(void **state)
{
    auth_ratelimit_config_t cfg;
    (void)state;
    auth_ratelimit_config_defaults(&cfg);
    auth_ratelimit_t *rl = auth_ratelimit_new(&cfg, NULL, NULL);
    assert_non_null(rl);
    assert_int_equal(auth_ratelimit_entry_bytes(), 48);
    assert_int_equal(check(rl, "k", 1), AUTH_RATELIMIT_ALLOWED);
    assert_int_equal(check(rl, "k", 1), AUTH_RATELIMIT_LIMITED);
    auth_ratelimit_destroy(&rl);
}

typedef struct {
    auth_ratelimit_t *rl;
    int allowed;
} worker_t;

static void *hammer(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 1000; i++) {
        if (check(w->rl, "shared", 100) == AUTH_RATELIMIT_ALLOWED)
            w->allowed++;
    }
    return NULL;
}

static void test_ratelimit_concurrent_never_exceeds(void **state)
{
    fixture_t *f = *state;
    pthread_t tid[8];
    worker_t w[8];
    int total = 0;
    for (int t = 0; t < 8; t++) {
        w[t] = (worker_t){f->rl, 0};
        assert_int_equal(pthread_create(&tid[t], NULL, hammer, &w[t]), 0);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(tid[t], NULL);
        total += w[t].allowed;
    }
    assert_int_equal(total, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ratelimit_limit_reached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_remaining_counts_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_reset_after_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_no_burst_across_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_retry_after_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_off_when_limit_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_keys_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelimit_register_instance_separate, setup, teardown),
        cmocka_unit_test(test_ratelimit_bounded_under_flood),
        cmocka_unit_test(test_ratelimit_idle_keys_dropped),
        cmocka_unit_test_setup_teardown(test_ratelimit_bad_arguments, setup, teardown),
        cmocka_unit_test(test_ratelimit_real_clock_default),
        cmocka_unit_test_setup_teardown(test_ratelimit_concurrent_never_exceeds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
