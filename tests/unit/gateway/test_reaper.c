/*
 * Unit tests for gw_reaper: connections past their absolute deadline get
 * their socket shut down, others are left alone, re-arming and removing
 * work, a full table refuses politely. The clock is injected; sweeps are
 * called directly, so nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw_reaper.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define SEC 1000000000ull

static uint64_t fake_now;

static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

/* A connected pair: [0] plays the server's socket, [1] the client. */
static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* True when the client side sees end-of-file (the server side was shut down). */
static bool peer_sees_eof(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0;
}

static void test_reaper_shuts_down_past_deadline(void **state)
{
    (void)state;
    fake_now = 100 * SEC;
    gw_reaper_t *r = gw_reaper_new(4, 100, fake_clock, NULL);
    assert_non_null(r);
    int a[2], b[2];
    pair(a);
    pair(b);
    gw_reaper_slot_t *sa = gw_reaper_add(r, a[0], gw_reaper_now(r) + 3 * SEC);
    gw_reaper_slot_t *sb = gw_reaper_add(r, b[0], gw_reaper_now(r) + 10 * SEC);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_int_equal(gw_reaper_count(r), 2);

    fake_now += 2 * SEC;
    assert_int_equal(gw_reaper_sweep(r, fake_now), 0);
    assert_false(peer_sees_eof(a[1]));

    fake_now += 2 * SEC;
    assert_int_equal(gw_reaper_sweep(r, fake_now), 1);
    assert_true(peer_sees_eof(a[1]));
    assert_true(gw_reaper_reaped(r, sa));
    assert_false(peer_sees_eof(b[1]));
    assert_false(gw_reaper_reaped(r, sb));
    /* Shut down once only. */
    assert_int_equal(gw_reaper_sweep(r, fake_now + SEC), 0);

    gw_reaper_remove(r, sa);
    gw_reaper_remove(r, sb);
    assert_int_equal(gw_reaper_count(r), 0);
    gw_reaper_destroy(&r);
    assert_null(r);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

static void test_reaper_no_deadline_is_never_reaped(void **state)
{
    (void)state;
    fake_now = SEC;
    gw_reaper_t *r = gw_reaper_new(2, 100, fake_clock, NULL);
    int a[2];
    pair(a);
    gw_reaper_slot_t *s = gw_reaper_add(r, a[0], 2 * SEC);
    gw_reaper_arm(r, s, 0); /* e.g. request fully received, handler running */
    assert_int_equal(gw_reaper_sweep(r, 1000 * SEC), 0);
    assert_false(peer_sees_eof(a[1]));
    gw_reaper_arm(r, s, 1001 * SEC); /* next request on the keep-alive connection */
    assert_int_equal(gw_reaper_sweep(r, 1000 * SEC), 0);
    assert_int_equal(gw_reaper_sweep(r, 1001 * SEC), 1);
    assert_true(peer_sees_eof(a[1]));
    gw_reaper_arm(r, s, 0);
    assert_false(gw_reaper_reaped(r, s)); /* arming clears the mark */
    gw_reaper_remove(r, s);
    gw_reaper_destroy(&r);
    close(a[0]), close(a[1]);
}

static void test_reaper_removed_slot_is_not_touched(void **state)
{
    (void)state;
    gw_reaper_t *r = gw_reaper_new(1, 100, fake_clock, NULL);
    int a[2];
    pair(a);
    gw_reaper_slot_t *s = gw_reaper_add(r, a[0], SEC);
    gw_reaper_remove(r, s);
    assert_int_equal(gw_reaper_sweep(r, 100 * SEC), 0);
    assert_false(peer_sees_eof(a[1]));
    /* The slot is free again. */
    assert_non_null(s = gw_reaper_add(r, a[0], 0));
    gw_reaper_remove(r, s);
    gw_reaper_destroy(&r);
    close(a[0]), close(a[1]);
}

static void test_reaper_full_table_returns_null(void **state)
{
    (void)state;
    gw_reaper_t *r = gw_reaper_new(2, 100, fake_clock, NULL);
    gw_reaper_slot_t *s1 = gw_reaper_add(r, 10, 0);
    gw_reaper_slot_t *s2 = gw_reaper_add(r, 11, 0);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_null(gw_reaper_add(r, 12, 0));
    assert_null(gw_reaper_add(r, -1, 0));
    /* NULL slots are accepted everywhere (a connection without a deadline). */
    gw_reaper_arm(r, NULL, SEC);
    gw_reaper_remove(r, NULL);
    assert_false(gw_reaper_reaped(r, NULL));
    gw_reaper_remove(r, s1);
    gw_reaper_remove(r, s2);
    gw_reaper_destroy(&r);
}

static void test_reaper_bad_arguments(void **state)
{
    (void)state;
    assert_null(gw_reaper_new(0, 100, NULL, NULL));
    assert_null(gw_reaper_new(4, 0, NULL, NULL));
    gw_reaper_destroy(NULL);
    gw_reaper_t *none = NULL;
    gw_reaper_destroy(&none);
}

static void test_reaper_thread_starts_and_stops(void **state)
{
    (void)state;
    gw_reaper_t *r = gw_reaper_new(4, 10, NULL, NULL);
    assert_int_equal(gw_reaper_start(r), 0);
    int a[2];
    pair(a);
    gw_reaper_slot_t *s = gw_reaper_add(r, a[0], gw_reaper_now(r)); /* already due */
    /* The thread sweeps every 10 ms; wait (bounded) until it has. */
    for (int i = 0; i < 500 && !gw_reaper_reaped(r, s); i++)
        usleep(10000);
    assert_true(gw_reaper_reaped(r, s));
    assert_true(peer_sees_eof(a[1]));
    gw_reaper_remove(r, s);
    gw_reaper_destroy(&r);
    close(a[0]), close(a[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reaper_shuts_down_past_deadline),
        cmocka_unit_test(test_reaper_no_deadline_is_never_reaped),
        cmocka_unit_test(test_reaper_removed_slot_is_not_touched),
        cmocka_unit_test(test_reaper_full_table_returns_null),
        cmocka_unit_test(test_reaper_bad_arguments),
        cmocka_unit_test(test_reaper_thread_starts_and_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
