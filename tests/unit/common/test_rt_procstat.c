/*
 * Unit tests for rt_procstat: the /proc/self/stat parser on fixed lines
 * (a command name with spaces and parentheses, truncated lines), and a
 * real reading of this test process that must be plausible.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt_procstat.h"

/* Fields 3..24 of proc(5) after "pid (comm) ": utime 120, stime 30, starttime 5000,
 * vsize 123456789, rss 2048 pages. */
#define STAT_TAIL                                                                                  \
    "S 1 100 100 0 -1 4194560 500 0 0 0 120 30 0 0 20 0 3 0 5000 123456789 2048 "                  \
    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"

static void test_rt_procstat_parse_plain_line(void **state)
{
    (void)state;
    uint64_t cpu, start, vsize, rss;
    assert_int_equal(
        rt_procstat_parse_stat("4242 (gateway) " STAT_TAIL, &cpu, &start, &vsize, &rss), 0);
    assert_int_equal(cpu, 150);
    assert_int_equal(start, 5000);
    assert_int_equal(vsize, 123456789);
    assert_int_equal(rss, 2048);
}

static void test_rt_procstat_parse_name_with_parens_and_spaces(void **state)
{
    (void)state;
    uint64_t cpu, start, vsize, rss;
    assert_int_equal(rt_procstat_parse_stat("7 (a) b (c)) " STAT_TAIL, &cpu, &start, &vsize, &rss),
                     0);
    assert_int_equal(cpu, 150);
    assert_int_equal(rss, 2048);
}

static void test_rt_procstat_parse_rejects_malformed(void **state)
{
    (void)state;
    uint64_t cpu, start, vsize, rss;
    assert_int_equal(rt_procstat_parse_stat("", &cpu, &start, &vsize, &rss), -1);
    assert_int_equal(rt_procstat_parse_stat("1 no-parens S 1 2 3", &cpu, &start, &vsize, &rss), -1);
    assert_int_equal(rt_procstat_parse_stat("1 (x) S 1 100 100 0 -1 4194560 500 0 0 0 120 30", &cpu,
                                            &start, &vsize, &rss),
                     -1);
    assert_int_equal(rt_procstat_parse_stat("1 (x) S 1 100 100 0 -1 4194560 500 0 0 0 12x 30 0 0 "
                                            "20 0 3 0 5000 1 2",
                                            &cpu, &start, &vsize, &rss),
                     -1);
}

static void test_rt_procstat_read_is_plausible(void **state)
{
    (void)state;
    /* Spin (at most 2 s of CPU) until the kernel has counted a tick. */
    rt_procstat_t ps;
    assert_int_equal(rt_procstat_read(&ps), 0);
    while (ps.cpu_seconds == 0.0 && clock() < 2 * CLOCKS_PER_SEC)
        assert_int_equal(rt_procstat_read(&ps), 0);
    assert_true(ps.cpu_seconds > 0.0 && ps.cpu_seconds < 3600.0);
    assert_true(ps.resident_bytes > 100 * 1024);
    assert_true(ps.virtual_bytes >= ps.resident_bytes);
    double now = (double)time(NULL);
    assert_true(ps.start_time_s <= now + 1.0 && ps.start_time_s > now - 600.0);
    assert_true(ps.open_fds >= 3);
    assert_true(ps.max_fds >= ps.open_fds);
}

static void test_rt_procstat_counts_open_fds(void **state)
{
    (void)state;
    rt_procstat_t before, after;
    assert_int_equal(rt_procstat_read(&before), 0);
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fds[i] >= 0);
    }
    assert_int_equal(rt_procstat_read(&after), 0);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    assert_int_equal(after.open_fds, before.open_fds + 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_procstat_parse_plain_line),
        cmocka_unit_test(test_rt_procstat_parse_name_with_parens_and_spaces),
        cmocka_unit_test(test_rt_procstat_parse_rejects_malformed),
        cmocka_unit_test(test_rt_procstat_read_is_plausible),
        cmocka_unit_test(test_rt_procstat_counts_open_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
