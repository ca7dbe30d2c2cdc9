/*
 * Unit tests for auth_acctlimit: no delay below max_failures, then a delay
 * that doubles per further failure from 1 s to the cap, the window (a
 * count forgotten, a delay ended window_s after the last failure), reset
 * on success, attempts in flight (a burst gets max_failures evaluated;
 * while delayed one at a time; a leaked slot is released), independent
 * keys, and bounded memory under a flood of distinct names. The clock is
 * injected; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth_acctlimit.h"

#define T0     INT64_C(1000000)
#define MAX    10
#define WINDOW 300
#define NAME   "a:alice"

typedef struct {
    int64_t now;
    auth_acctlimit_t *l;
} fx_t;

static int64_t fake_clock(void *arg)
{
    return ((fx_t *)arg)->now;
}

static auth_acctlimit_t *new_limiter(fx_t *fx, size_t max_keys)
{
    auth_acctlimit_config_t cfg;
    auth_acctlimit_config_defaults(&cfg);
    cfg.max_keys = max_keys;
    return auth_acctlimit_new(&cfg, fake_clock, fx);
}

static int setup(void **state)
{
    static fx_t fx;
    fx.now = T0;
    fx.l = new_limiter(&fx, 4096);
    *state = &fx;
    return fx.l ? 0 : -1;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    auth_acctlimit_destroy(&fx->l);
    assert_null(fx->l);
    return 0;
}

/* One attempt that ends in `outcome`; returns the verdict (and retry). */
static int attempt(fx_t *fx, const char *key, auth_limiter_outcome_t outcome, int *retry)
{
    int r = 0;
    int v = auth_acctlimit_begin(fx->l, key, &r);
    if (v == AUTH_ACCT_ALLOWED)
        assert_int_equal(auth_acctlimit_end(fx->l, key, outcome, NULL), 0);
    if (retry)
        *retry = r;
    return v;
}

static void fail_n(fx_t *fx, const char *key, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(attempt(fx, key, AUTH_LIMITER_FAILURE, NULL), AUTH_ACCT_ALLOWED);
}

static void test_acctlimit_doubling_up_to_the_cap(void **state)
{
    fx_t *fx = *state;
    static const int want[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
    int retry = 0;
    fail_n(fx, NAME, MAX - 1);
    bool started = false;
    assert_int_equal(auth_acctlimit_begin(fx->l, NAME, &retry), AUTH_ACCT_ALLOWED);
    assert_int_equal(retry, 0);
    auth_acctlimit_end(fx->l, NAME, AUTH_LIMITER_FAILURE, &started);
    assert_true(started); /* the tenth failure starts the delay, once */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_FAILURE, &retry), AUTH_ACCT_DELAYED);
        assert_int_equal(retry, want[i]);
        fx->now += want[i] - 1; /* one second early: still delayed */
        assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_FAILURE, &retry), AUTH_ACCT_DELAYED);
        fx->now += 1;
        assert_int_equal(auth_acctlimit_begin(fx->l, NAME, &retry), AUTH_ACCT_ALLOWED);
        auth_acctlimit_end(fx->l, NAME, AUTH_LIMITER_FAILURE, &started);
        assert_false(started);
    }
}

static void test_acctlimit_below_max_never_delayed(void **state)
{
    fx_t *fx = *state;
    fail_n(fx, NAME, MAX - 1);
    assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_NEUTRAL, NULL), AUTH_ACCT_ALLOWED);
    assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_SUCCESS, NULL), AUTH_ACCT_ALLOWED);
    fail_n(fx, NAME, MAX - 1); /* the success reset the count */
    assert_int_equal(attempt(fx, "a:bob", AUTH_LIMITER_FAILURE, NULL), AUTH_ACCT_ALLOWED);
}

static void test_acctlimit_window(void **state)
{
    fx_t *fx = *state;
    int retry = 0;
    fail_n(fx, NAME, MAX - 1);
    fx->now += WINDOW; /* a fixed window from the first failure */
    fail_n(fx, NAME, MAX - 1);
    fail_n(fx, NAME, 1);
    assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_FAILURE, &retry), AUTH_ACCT_DELAYED);
    /* delayed: the delay lasts while failures keep coming within the window */
    fx->now += WINDOW - 1;
    fail_n(fx, NAME, 1);
    assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_FAILURE, &retry), AUTH_ACCT_DELAYED);
    assert_int_equal(retry, 2);
    fx->now += WINDOW; /* a whole window without a failure: forgotten */
    fail_n(fx, NAME, MAX - 1);
}

static void test_acctlimit_success_ends_the_delay(void **state)
{
    fx_t *fx = *state;
    fail_n(fx, NAME, MAX);
    assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_FAILURE, NULL), AUTH_ACCT_DELAYED);
    fx->now += 1;
    assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_SUCCESS, NULL), AUTH_ACCT_ALLOWED);
    fail_n(fx, NAME, MAX - 1);
}

static void test_acctlimit_inflight_counts(void **state)
{
    fx_t *fx = *state;
    int allowed = 0, busy = 0, retry = 0;
    for (int i = 0; i < 50; i++) {
        int v = auth_acctlimit_begin(fx->l, NAME, &retry);
        allowed += v == AUTH_ACCT_ALLOWED;
        busy += v == AUTH_ACCT_BUSY;
        if (v == AUTH_ACCT_BUSY)
            assert_int_equal(retry, 1);
    }
    assert_int_equal(allowed, MAX);
    assert_int_equal(busy, 50 - MAX);
    for (int i = 0; i < MAX; i++)
        auth_acctlimit_end(fx->l, NAME, AUTH_LIMITER_FAILURE, NULL);
    /* delayed: once the delay is over, one attempt at a time */
    fx->now += 1;
    assert_int_equal(auth_acctlimit_begin(fx->l, NAME, &retry), AUTH_ACCT_ALLOWED);
    assert_int_equal(auth_acctlimit_begin(fx->l, NAME, &retry), AUTH_ACCT_BUSY);
    assert_int_equal(retry, 1);
    /* a slot never ended is presumed leaked after the in-flight timeout */
    fx->now += 60;
    assert_int_equal(auth_acctlimit_begin(fx->l, NAME, &retry), AUTH_ACCT_ALLOWED);
    auth_acctlimit_end(fx->l, NAME, AUTH_LIMITER_NEUTRAL, NULL);
}

static void test_acctlimit_bad_arguments(void **state)
{
    fx_t *fx = *state;
    char big[AUTH_ACCT_KEY_MAX + 2];
    int retry = 0;
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(auth_acctlimit_begin(fx->l, big, &retry), -1);
    assert_true(retry >= 1);
    assert_int_equal(auth_acctlimit_begin(fx->l, "", &retry), -1);
    assert_int_equal(auth_acctlimit_begin(NULL, NAME, &retry), -1);
    assert_int_equal(auth_acctlimit_end(fx->l, NAME, (auth_limiter_outcome_t)7, NULL), -1);
    auth_acctlimit_config_t cfg;
    auth_acctlimit_config_defaults(&cfg);
    cfg.max_delay_s = 0;
    assert_null(auth_acctlimit_new(&cfg, NULL, NULL));
    auth_acctlimit_config_defaults(&cfg);
    cfg.max_failures = 0;
    assert_null(auth_acctlimit_new(&cfg, NULL, NULL));
}

/* A million distinct names: the table never holds more than max_keys nor
 * allocates more; a delayed name survives a flood that fits the table. */
static void test_acctlimit_memory_bound(void **state)
{
    fx_t *fx = *state;
    auth_acctlimit_t *small = new_limiter(fx, 2048);
    auth_acctlimit_t *keep = fx->l;
    assert_non_null(small);
    fx->l = small;
    size_t mem = auth_acctlimit_memory_bytes(small);
    assert_true(mem < 2048 * (auth_acctlimit_entry_bytes() + 8) + 4096);
    fail_n(fx, NAME, MAX);
    char key[64];
    for (int i = 0; i < 1000000; i++) {
        snprintf(key, sizeof key, "a:ghost%d", i);
        attempt(fx, key, AUTH_LIMITER_FAILURE, NULL);
    }
    assert_true(auth_acctlimit_tracked_count(small) <= 2048);
    assert_int_equal(auth_acctlimit_memory_bytes(small), mem);
    fx->l = keep;
    auth_acctlimit_destroy(&small);
    /* within capacity, nothing is pushed out */
    fail_n(fx, NAME, MAX);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "a:ghost%d", i);
        attempt(fx, key, AUTH_LIMITER_FAILURE, NULL);
    }
    assert_int_equal(attempt(fx, NAME, AUTH_LIMITER_FAILURE, NULL), AUTH_ACCT_DELAYED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_acctlimit_doubling_up_to_the_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acctlimit_below_max_never_delayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acctlimit_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acctlimit_success_ends_the_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acctlimit_inflight_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acctlimit_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acctlimit_memory_bound, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
