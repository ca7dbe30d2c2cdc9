/*
 * Unit tests for auth_limiter: blocking after max_failures, cooldown,
 * success reset, key isolation, window expiry, in-flight reservations
 * (a burst of 50 gets exactly 5 through, from one thread or many), one
 * block-start flag per block, and bounded memory under a flood of distinct
 * sources that leaves a blocked source blocked. The clock is injected;
 * nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth_limiter.h"

#define T0      INT64_C(1000000)
#define VICTIM  "203.0.113.7"
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
    auth_limiter_t *lim;
} fixture_t;

static auth_limiter_t *new_limiter(fake_clock_t *clock, size_t max_keys)
{
    auth_limiter_config_t cfg;
    auth_limiter_config_defaults(&cfg);
    cfg.max_keys = max_keys;
    return auth_limiter_new(&cfg, fake_clock, clock);
}

static int setup(void **state)
{
    static fixture_t f;
    f.clock.now = T0;
    f.lim = new_limiter(&f.clock, 100000);
    *state = &f;
    return f.lim == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    auth_limiter_destroy(&f->lim);
    return 0;
}

/* One whole attempt: begin, and if allowed, end with `outcome`. Returns the
 * verdict; `*started` receives the block-start flag. */
static int attempt(auth_limiter_t *lim, const char *key, auth_limiter_outcome_t outcome,
                   bool *started)
{
    int retry = -1;
    int rc = auth_limiter_begin(lim, key, &retry);
    bool s = false;
    if (rc == AUTH_LIMITER_ALLOWED) {
        assert_int_equal(retry, 0);
        assert_int_equal(auth_limiter_end(lim, key, outcome, &s), 0);
    } else {
        assert_int_equal(retry, 900);
    }
    if (started != NULL)
        *started = s;
    return rc;
}

static void fail_times(auth_limiter_t *lim, const char *key, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(attempt(lim, key, AUTH_LIMITER_FAILURE, NULL), AUTH_LIMITER_ALLOWED);
}

static void test_limiter_blocks_after_max_failures(void **state)
{
    fixture_t *f = *state;
    bool started = true;
    int retry = 0;

    for (int i = 0; i < 4; i++) {
        assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_FAILURE, &started),
                         AUTH_LIMITER_ALLOWED);
        assert_false(started);
    }
    assert_int_equal(auth_limiter_blocked_count(f->lim), 0);
    assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_FAILURE, &started), AUTH_LIMITER_ALLOWED);
    assert_true(started);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, &retry), AUTH_LIMITER_BLOCKED);
    assert_int_equal(retry, 900);
    assert_int_equal(auth_limiter_blocked_count(f->lim), 1);
}

static void test_limiter_sixth_attempt_blocked_even_if_correct(void **state)
{
    fixture_t *f = *state;
    fail_times(f->lim, VICTIM, 5);
    /* the caller asks begin() before looking at credentials: a correct
     * password is never even evaluated */
    assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_SUCCESS, NULL), AUTH_LIMITER_BLOCKED);
    /* and a stray success report cannot lift the block */
    assert_int_equal(auth_limiter_end(f->lim, VICTIM, AUTH_LIMITER_SUCCESS, NULL), 0);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_BLOCKED);
}

static void test_limiter_cooldown_expiry_unblocks(void **state)
{
    fixture_t *f = *state;
    fail_times(f->lim, VICTIM, 5);
    f->clock.now += 899;
    assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_SUCCESS, NULL), AUTH_LIMITER_BLOCKED);
    assert_int_equal(auth_limiter_blocked_count(f->lim), 1);
    f->clock.now += 1;
    assert_int_equal(auth_limiter_blocked_count(f->lim), 0);
    assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_SUCCESS, NULL), AUTH_LIMITER_ALLOWED);
    /* the counter starts from zero after a block */
    fail_times(f->lim, VICTIM, 4);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
}

static void test_limiter_block_not_extended_by_attempts(void **state)
{
    fixture_t *f = *state;
    fail_times(f->lim, VICTIM, 5);
    for (int i = 0; i < 899; i++) {
        f->clock.now += 1;
        assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_FAILURE, NULL), AUTH_LIMITER_BLOCKED);
    }
    f->clock.now += 1;
    assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_FAILURE, NULL), AUTH_LIMITER_ALLOWED);
}

static void test_limiter_success_resets(void **state)
{
    fixture_t *f = *state;
    fail_times(f->lim, VICTIM, 4);
    assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_SUCCESS, NULL), AUTH_LIMITER_ALLOWED);
    fail_times(f->lim, VICTIM, 4);
    assert_int_equal(auth_limiter_blocked_count(f->lim), 0);
    assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_FAILURE, NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_BLOCKED);
}

static void test_limiter_neutral_neither_counts_nor_resets(void **state)
{
    fixture_t *f = *state;
    fail_times(f->lim, VICTIM, 4);
    for (int i = 0; i < 10; i++)
        assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_NEUTRAL, NULL), AUTH_LIMITER_ALLOWED);
    fail_times(f->lim, VICTIM, 1);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_BLOCKED);
}

static void test_limiter_keys_isolated(void **state)
{
    fixture_t *f = *state;
    fail_times(f->lim, "198.51.100.1", 5);
    assert_int_equal(auth_limiter_begin(f->lim, "198.51.100.1", NULL), AUTH_LIMITER_BLOCKED);
    fail_times(f->lim, "198.51.100.2", 4);
    assert_int_equal(attempt(f->lim, "198.51.100.2", AUTH_LIMITER_FAILURE, NULL),
                     AUTH_LIMITER_ALLOWED);
    assert_int_equal(attempt(f->lim, "2001:db8::1", AUTH_LIMITER_SUCCESS, NULL),
                     AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_begin(f->lim, "198.51.100.2", NULL), AUTH_LIMITER_BLOCKED);
    assert_int_equal(auth_limiter_blocked_count(f->lim), 2);
}

static void test_limiter_window_expiry_forgets_failures(void **state)
{
    fixture_t *f = *state;
    /* four failures, the fifth just inside the window: blocked */
    fail_times(f->lim, "a", 4);
    f->clock.now += 299;
    fail_times(f->lim, "a", 1);
    assert_int_equal(auth_limiter_begin(f->lim, "a", NULL), AUTH_LIMITER_BLOCKED);
    /* four failures, the fifth when the window has run out: a new window */
    fail_times(f->lim, "b", 4);
    f->clock.now += 300;
    fail_times(f->lim, "b", 4);
    assert_int_equal(auth_limiter_begin(f->lim, "b", NULL), AUTH_LIMITER_ALLOWED);
}

static void test_limiter_burst_of_50_gets_5(void **state)
{
    fixture_t *f = *state;
    int allowed = 0, busy = 0, retry = 0;
    for (int i = 0; i < 50; i++) {
        int rc = auth_limiter_begin(f->lim, VICTIM, &retry);
        if (rc == AUTH_LIMITER_ALLOWED) {
            allowed++;
        } else {
            assert_int_equal(rc, AUTH_LIMITER_BUSY);
            assert_int_equal(retry, 900);
            busy++;
        }
    }
    assert_int_equal(allowed, 5);
    assert_int_equal(busy, 45);
    /* the five fail: exactly one of them starts the block */
    int started_count = 0;
    for (int i = 0; i < 5; i++) {
        bool started = false;
        assert_int_equal(auth_limiter_end(f->lim, VICTIM, AUTH_LIMITER_FAILURE, &started), 0);
        started_count += started;
    }
    assert_int_equal(started_count, 1);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_BLOCKED);
}

static void test_limiter_failures_and_inflight_share_budget(void **state)
{
    fixture_t *f = *state;
    fail_times(f->lim, VICTIM, 3);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_BUSY);
}

static void test_limiter_end_success_frees_slot(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_BUSY);
    assert_int_equal(auth_limiter_end(f->lim, VICTIM, AUTH_LIMITER_SUCCESS, NULL), 0);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_BUSY);
    assert_int_equal(auth_limiter_end(f->lim, VICTIM, AUTH_LIMITER_NEUTRAL, NULL), 0);
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
}

static void test_limiter_leaked_slots_expire(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
    f->clock.now += 59;
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_BUSY);
    f->clock.now += 1;
    assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
}

static void test_limiter_one_block_flag_per_block(void **state)
{
    fixture_t *f = *state;
    int flags = 0;
    bool started;

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++)
            assert_int_equal(auth_limiter_begin(f->lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
        for (int i = 0; i < 5; i++) {
            assert_int_equal(auth_limiter_end(f->lim, VICTIM, AUTH_LIMITER_FAILURE, &started), 0);
            flags += started;
        }
        /* late failure reports while blocked (slots that were presumed leaked) */
        for (int i = 0; i < 7; i++) {
            assert_int_equal(auth_limiter_end(f->lim, VICTIM, AUTH_LIMITER_FAILURE, &started), 0);
            assert_false(started);
            assert_int_equal(attempt(f->lim, VICTIM, AUTH_LIMITER_FAILURE, &started),
                             AUTH_LIMITER_BLOCKED);
        }
        assert_int_equal(flags, round + 1);
        f->clock.now += 900;
    }
}

static void test_limiter_memory_bounded_under_flood(void **state)
{
    fake_clock_t clock = {T0};
    auth_limiter_t *lim = new_limiter(&clock, 10000);
    char key[64];
    (void)state;
    assert_non_null(lim);
    size_t mem = auth_limiter_memory_bytes(lim);
    assert_true(mem >= 10000 * auth_limiter_entry_bytes());
    assert_true(mem <= 10000 * (auth_limiter_entry_bytes() + 8) + 4096);
    for (uint32_t n = 0; n < FLOOD_N; n++) {
        snprintf(key, sizeof key, "10.%u.%u.%u", n >> 16, (n >> 8) & 255, n & 255);
        assert_int_equal(attempt(lim, key, AUTH_LIMITER_FAILURE, NULL), AUTH_LIMITER_ALLOWED);
        if (n % 100000 == 0)
            assert_true(auth_limiter_tracked_count(lim) <= 10000);
    }
    assert_true(auth_limiter_tracked_count(lim) <= 10000);
    assert_true(auth_limiter_tracked_count(lim) >= 9000);
    assert_int_equal(auth_limiter_memory_bytes(lim), mem);
    auth_limiter_destroy(&lim);
    assert_null(lim);
}

static void test_limiter_blocked_key_survives_flood(void **state)
{
    fake_clock_t clock = {T0};
    auth_limiter_t *lim = new_limiter(&clock, 10000);
    char key[64];
    (void)state;
    assert_non_null(lim);
    fail_times(lim, VICTIM, 5);
    for (uint32_t n = 0; n < FLOOD_N; n++) {
        snprintf(key, sizeof key, "2001:db8::%x:%x", n >> 16, n & 0xffff);
        assert_int_equal(attempt(lim, key, AUTH_LIMITER_FAILURE, NULL), AUTH_LIMITER_ALLOWED);
    }
    assert_int_equal(auth_limiter_begin(lim, VICTIM, NULL), AUTH_LIMITER_BLOCKED);
    assert_int_equal(auth_limiter_blocked_count(lim), 1);
    assert_true(auth_limiter_tracked_count(lim) <= 10000);
    auth_limiter_destroy(&lim);
}

static void test_limiter_small_table_keeps_blocks(void **state)
{
    fake_clock_t clock = {T0};
    auth_limiter_t *lim = new_limiter(&clock, 8);
    char key[32];
    (void)state;
    assert_non_null(lim);
    /* three blocked sources, then a flood with half-finished failure counts */
    fail_times(lim, "b1", 5);
    fail_times(lim, "b2", 5);
    fail_times(lim, "b3", 5);
    for (int n = 0; n < 5000; n++) {
        snprintf(key, sizeof key, "f%d", n);
        fail_times(lim, key, 1 + n % 4);
        assert_true(auth_limiter_tracked_count(lim) <= 8);
    }
    assert_int_equal(auth_limiter_blocked_count(lim), 3);
    assert_int_equal(auth_limiter_begin(lim, "b1", NULL), AUTH_LIMITER_BLOCKED);
    assert_int_equal(auth_limiter_begin(lim, "b3", NULL), AUTH_LIMITER_BLOCKED);
    auth_limiter_destroy(&lim);
}

static void test_limiter_all_blocked_evicts_oldest_block(void **state)
{
    fake_clock_t clock = {T0};
    auth_limiter_t *lim = new_limiter(&clock, 4);
    (void)state;
    assert_non_null(lim);
    static const char *const keys[] = {"k0", "k1", "k2", "k3"};
    for (int i = 0; i < 4; i++) {
        fail_times(lim, keys[i], 5);
        clock.now += 1;
    }
    assert_int_equal(auth_limiter_blocked_count(lim), 4);
    /* a fifth source must displace someone: the block closest to its end */
    assert_int_equal(auth_limiter_begin(lim, "new", NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_blocked_count(lim), 3);
    assert_int_equal(auth_limiter_begin(lim, "k1", NULL), AUTH_LIMITER_BLOCKED);
    assert_int_equal(auth_limiter_begin(lim, "k3", NULL), AUTH_LIMITER_BLOCKED);
    assert_true(auth_limiter_tracked_count(lim) <= 4);
    auth_limiter_destroy(&lim);
}

static void test_limiter_failure_after_eviction_still_counts(void **state)
{
    fake_clock_t clock = {T0};
    auth_limiter_t *lim = new_limiter(&clock, 1);
    bool started = false;
    (void)state;
    assert_non_null(lim);
    fail_times(lim, VICTIM, 4);
    assert_int_equal(auth_limiter_begin(lim, VICTIM, NULL), AUTH_LIMITER_ALLOWED);
    /* another source pushes the victim out while its attempt is in flight */
    assert_int_equal(auth_limiter_begin(lim, "other", NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_end(lim, VICTIM, AUTH_LIMITER_FAILURE, &started), 0);
    assert_false(started);
    assert_int_equal(auth_limiter_tracked_count(lim), 1);
    /* a stray end for a source no longer tracked is harmless */
    assert_int_equal(auth_limiter_end(lim, "other", AUTH_LIMITER_SUCCESS, NULL), 0);
    auth_limiter_destroy(&lim);
}

static void test_limiter_idle_sources_dropped(void **state)
{
    fake_clock_t clock = {T0};
    auth_limiter_t *lim = new_limiter(&clock, 1000); /* one shard: every call sweeps it */
    char key[32];
    (void)state;
    assert_non_null(lim);
    /* a success leaves nothing to remember */
    assert_int_equal(attempt(lim, "ok", AUTH_LIMITER_SUCCESS, NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_tracked_count(lim), 0);
    for (int n = 0; n < 100; n++) {
        snprintf(key, sizeof key, "192.0.2.%d", n);
        fail_times(lim, key, 2);
    }
    fail_times(lim, "blocked", 5);
    assert_int_equal(auth_limiter_tracked_count(lim), 101);
    /* windows over: the next calls drop the idle sources, not the block */
    clock.now += 300;
    for (int n = 0; n < 60; n++)
        assert_int_equal(auth_limiter_begin(lim, "blocked", NULL), AUTH_LIMITER_BLOCKED);
    assert_int_equal(auth_limiter_tracked_count(lim), 1);
    /* and the block, once over, goes too */
    clock.now += 600;
    assert_int_equal(auth_limiter_blocked_count(lim), 0);
    assert_int_equal(auth_limiter_tracked_count(lim), 0);
    auth_limiter_destroy(&lim);
}

static void test_limiter_bad_arguments(void **state)
{
    fixture_t *f = *state;
    auth_limiter_config_t cfg;
    char long_key[AUTH_LIMITER_KEY_MAX + 2];
    int retry = 0;

    memset(long_key, 'x', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(auth_limiter_begin(NULL, VICTIM, &retry), -1);
    assert_true(retry > 0);
    assert_int_equal(auth_limiter_begin(f->lim, NULL, &retry), -1);
    assert_int_equal(retry, 900);
    assert_int_equal(auth_limiter_begin(f->lim, "", NULL), -1);
    assert_int_equal(auth_limiter_begin(f->lim, long_key, NULL), -1);
    long_key[AUTH_LIMITER_KEY_MAX] = '\0';
    assert_int_equal(auth_limiter_begin(f->lim, long_key, NULL), AUTH_LIMITER_ALLOWED);
    assert_int_equal(auth_limiter_end(f->lim, VICTIM, (auth_limiter_outcome_t)7, NULL), -1);
    assert_int_equal(auth_limiter_end(NULL, VICTIM, AUTH_LIMITER_FAILURE, NULL), -1);
    assert_int_equal(auth_limiter_end(f->lim, NULL, AUTH_LIMITER_FAILURE, NULL), -1);

    assert_null(auth_limiter_new(NULL, NULL, NULL));
    auth_limiter_config_defaults(&cfg);
    cfg.max_failures = 0;
    assert_null(auth_limiter_new(&cfg, NULL, NULL));
    auth_limiter_config_defaults(&cfg);
    cfg.max_keys = 0;
    assert_null(auth_limiter_new(&cfg, NULL, NULL));
    auth_limiter_config_defaults(&cfg);
    cfg.window_s = 0;
    assert_null(auth_limiter_new(&cfg, NULL, NULL));
    auth_limiter_config_defaults(&cfg);
    cfg.cooldown_s = -5;
    assert_null(auth_limiter_new(&cfg, NULL, NULL));

    auth_limiter_t *none = NULL;
    auth_limiter_destroy(&none);
    auth_limiter_destroy(NULL);
    assert_int_equal(auth_limiter_blocked_count(NULL), 0);
    assert_int_equal(auth_limiter_tracked_count(NULL), 0);
    assert_int_equal(auth_limiter_memory_bytes(NULL), 0);
}

static void test_limiter_real_clock_default(void **state)
{
    auth_limiter_config_t cfg;
    (void)state;
    auth_limiter_config_defaults(&cfg);
    auth_limiter_t *lim = auth_limiter_new(&cfg, NULL, NULL);
    assert_non_null(lim);
    assert_int_equal(auth_limiter_entry_bytes(), 64);
    fail_times(lim, VICTIM, 5);
    assert_int_equal(auth_limiter_begin(lim, VICTIM, NULL), AUTH_LIMITER_BLOCKED);
    auth_limiter_destroy(&lim);
}

/* ---- threads ---- */

typedef struct {
    auth_limiter_t *lim;
    int allowed;
    int id;
} worker_t;

static void *burst_worker(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 50; i++) {
        if (auth_limiter_begin(w->lim, VICTIM, NULL) == AUTH_LIMITER_ALLOWED)
            w->allowed++;
    }
    return NULL;
}

static void test_limiter_parallel_burst_from_threads(void **state)
{
    fixture_t *f = *state;
    pthread_t tid[8];
    worker_t w[8];
    int total = 0;

    for (int t = 0; t < 8; t++) {
        w[t] = (worker_t){f->lim, 0, t};
        assert_int_equal(pthread_create(&tid[t], NULL, burst_worker, &w[t]), 0);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(tid[t], NULL);
        total += w[t].allowed;
    }
    assert_int_equal(total, 5);
}

static void *churn_worker(void *arg)
{
    worker_t *w = arg;
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "%d.%d", w->id, i % 3000);
        if (auth_limiter_begin(w->lim, key, NULL) == AUTH_LIMITER_ALLOWED) {
            auth_limiter_outcome_t o = i % 7 == 0 ? AUTH_LIMITER_SUCCESS : AUTH_LIMITER_FAILURE;
            assert_int_equal(auth_limiter_end(w->lim, key, o, NULL), 0);
            w->allowed++;
        }
        if (i % 1000 == 0)
            (void)auth_limiter_blocked_count(w->lim);
    }
    return NULL;
}

static void test_limiter_concurrent_churn_bounded(void **state)
{
    fake_clock_t clock = {T0};
    auth_limiter_t *lim = new_limiter(&clock, 4096);
    pthread_t tid[8];
    worker_t w[8];
    (void)state;
    assert_non_null(lim);
    for (int t = 0; t < 8; t++) {
        w[t] = (worker_t){lim, 0, t};
        assert_int_equal(pthread_create(&tid[t], NULL, churn_worker, &w[t]), 0);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(tid[t], NULL);
        assert_true(w[t].allowed > 0);
    }
    assert_true(auth_limiter_tracked_count(lim) <= 4096);
    auth_limiter_destroy(&lim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limiter_blocks_after_max_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_sixth_attempt_blocked_even_if_correct, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limiter_cooldown_expiry_unblocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_block_not_extended_by_attempts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limiter_success_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_neutral_neither_counts_nor_resets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limiter_keys_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_window_expiry_forgets_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limiter_burst_of_50_gets_5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_failures_and_inflight_share_budget, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limiter_end_success_frees_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_leaked_slots_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limiter_one_block_flag_per_block, setup, teardown),
        cmocka_unit_test(test_limiter_memory_bounded_under_flood),
        cmocka_unit_test(test_limiter_blocked_key_survives_flood),
        cmocka_unit_test(test_limiter_small_table_keeps_blocks),
        cmocka_unit_test(test_limiter_all_blocked_evicts_oldest_block),
        cmocka_unit_test(test_limiter_failure_after_eviction_still_counts),
        cmocka_unit_test(test_limiter_idle_sources_dropped),
        cmocka_unit_test_setup_teardown(test_limiter_bad_arguments, setup, teardown),
        cmocka_unit_test(test_limiter_real_clock_default),
        cmocka_unit_test_setup_teardown(test_limiter_parallel_burst_from_threads, setup, teardown),
        cmocka_unit_test(test_limiter_concurrent_churn_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
