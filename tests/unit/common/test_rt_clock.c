/*
 * Unit tests for rt_clock: the units agree with each other and with
 * CLOCK_MONOTONIC, the clock never goes back, and rt_clock_in() gives a
 * normalised deadline `ms` ahead (negative: now).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rt_clock.h"

static int64_t ts_ms(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_units_agree(void **state)
{
    (void)state;
    struct timespec raw;
    clock_gettime(CLOCK_MONOTONIC, &raw);
    int64_t s = rt_clock_s();
    long long ms = rt_clock_ms();
    uint64_t ns = rt_clock_ns();
    double sec = rt_clock_sec();
    assert_true(s >= raw.tv_sec && s <= raw.tv_sec + 1);
    assert_true(ms >= ts_ms(raw) && ms - ts_ms(raw) < 1000);
    assert_true((long long)(ns / 1000000u) >= ms && (long long)(ns / 1000000u) - ms < 1000);
    assert_true(sec >= (double)ns / 1e9 && sec - (double)ns / 1e9 < 1.0);
}

static void test_never_goes_back(void **state)
{
    (void)state;
    uint64_t prev = rt_clock_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = rt_clock_ns();
        assert_true(now >= prev);
        prev = now;
    }
}

static void test_deadline_is_normalised_and_ahead(void **state)
{
    (void)state;
    static const long offsets[] = {0, 1, 999, 1000, 1001, 1999, 60000, 86400000L};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        long long before = rt_clock_ms();
        struct timespec d = rt_clock_in(offsets[i]);
        long long after = rt_clock_ms();
        assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
        assert_true(ts_ms(d) >= before + offsets[i]);
        assert_true(ts_ms(d) <= after + offsets[i]);
    }
    long long now = rt_clock_ms();
    struct timespec past = rt_clock_in(-5000);
    assert_true(ts_ms(past) >= now && ts_ms(past) - now < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_agree),
        cmocka_unit_test(test_never_goes_back),
        cmocka_unit_test(test_deadline_is_normalised_and_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
