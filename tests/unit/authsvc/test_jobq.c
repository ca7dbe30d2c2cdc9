/*
 * Unit tests for auth_jobq: jobs run in order off the caller's thread, a
 * full queue refuses at once and counts the refusal, stop runs what is
 * queued within its grace and drops the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "auth_jobq.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_open; /* the worker blocks in the job until this is true */
    int ran;
    char seen[64][AUTH_JOBQ_ARG_MAX + 1];
    char rids[64][AUTH_JOBQ_RID_MAX + 1];
    pthread_t thread[64];
} rec_t;

static void rec_init(rec_t *r, bool gate_open)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->gate_open = gate_open;
}

static void open_gate(rec_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->gate_open = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void job(void *arg, const auth_job_t *j)
{
    rec_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->gate_open)
        pthread_cond_wait(&r->cv, &r->mu);
    if (r->ran < 64) {
        snprintf(r->seen[r->ran], sizeof r->seen[0], "%s", j->arg);
        snprintf(r->rids[r->ran], sizeof r->rids[0], "%s", j->rid);
        r->thread[r->ran] = pthread_self();
    }
    r->ran++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void wait_ran(rec_t *r, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&r->mu);
    while (r->ran < n && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&r->mu);
}

static auth_jobq_t *jobq(size_t capacity, int delay_ms, rec_t *r)
{
    const auth_jobq_config_t cfg = {.capacity = capacity, .delay_ms = delay_ms, .nice = 0};
    return auth_jobq_new(&cfg, job, r);
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_jobq_runs_jobs_in_order_on_its_own_thread(void **state)
{
    rec_t r;
    rec_init(&r, true);
    auth_jobq_t *q = jobq(8, 0, &r);
    assert_non_null(q);
    assert_int_equal(auth_jobq_start(q), 0);
    assert_int_equal(auth_jobq_push(q, "rid-1", "first"), 0);
    assert_int_equal(auth_jobq_push(q, NULL, "second"), 0);
    wait_ran(&r, 2);
    assert_int_equal(r.ran, 2);
    assert_string_equal(r.seen[0], "first");
    assert_string_equal(r.rids[0], "rid-1");
    assert_string_equal(r.seen[1], "second");
    assert_string_equal(r.rids[1], "");
    assert_false(pthread_equal(r.thread[0], pthread_self()));
    auth_jobq_destroy(&q);
    assert_null(q);
}

static void test_jobq_full_queue_refuses_at_once_and_counts(void **state)
{
    rec_t r;
    rec_init(&r, false); /* the worker blocks in its first job */
    auth_jobq_t *q = jobq(2, 0, &r);
    assert_int_equal(auth_jobq_start(q), 0);
    assert_int_equal(auth_jobq_push(q, "a", "1"), 0);
    /* Wait until the worker took job 1, so 2 slots are free again. */
    for (int i = 0; i < 1000 && auth_jobq_pending(q) > 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(auth_jobq_push(q, "b", "2"), 0);
    assert_int_equal(auth_jobq_push(q, "c", "3"), 0);
    assert_int_equal(auth_jobq_push(q, "d", "4"), -1);
    assert_int_equal(auth_jobq_push(q, "e", "5"), -1);
    assert_int_equal(auth_jobq_dropped(q), 2);
    assert_int_equal(auth_jobq_pending(q), 2);
    open_gate(&r);
    wait_ran(&r, 3);
    assert_int_equal(r.ran, 3);
    assert_string_equal(r.seen[2], "3");
    auth_jobq_destroy(&q);
}

static void test_jobq_refuses_an_argument_over_its_bound(void **state)
{
    rec_t r;
    rec_init(&r, true);
    char big[AUTH_JOBQ_ARG_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    auth_jobq_t *q = jobq(4, 0, &r);
    assert_int_equal(auth_jobq_push(q, "r", big), -1);
    big[AUTH_JOBQ_ARG_MAX] = '\0';
    assert_int_equal(auth_jobq_push(q, "r", big), 0);
    assert_int_equal(auth_jobq_push(q, "r", NULL), -1);
    auth_jobq_destroy(&q); /* never started: the queued job is dropped */
    assert_int_equal(r.ran, 0);
}

static void test_jobq_stop_without_grace_drops_the_queue(void **state)
{
    rec_t r;
    rec_init(&r, false);
    auth_jobq_t *q = jobq(8, 0, &r);
    assert_int_equal(auth_jobq_start(q), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(auth_jobq_push(q, "r", "j"), 0);
    for (int i = 0; i < 1000 && auth_jobq_pending(q) > 4; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    open_gate(&r);
    auth_jobq_stop(q, 0);
    assert_true(r.ran >= 1 && r.ran <= 5);
    assert_int_equal(auth_jobq_pending(q), 0);
    assert_int_equal(auth_jobq_push(q, "r", "late"), -1); /* stopped */
    assert_int_equal(auth_jobq_dropped(q), (uint64_t)(5 - r.ran) + 1);
    auth_jobq_destroy(&q);
}

static void test_jobq_stop_with_grace_runs_what_is_queued(void **state)
{
    rec_t r;
    rec_init(&r, true);
    auth_jobq_t *q = jobq(64, 0, &r);
    for (int i = 0; i < 20; i++)
        assert_int_equal(auth_jobq_push(q, "r", "j"), 0);
    assert_int_equal(auth_jobq_start(q), 0);
    auth_jobq_stop(q, 5000);
    assert_int_equal(r.ran, 20);
    assert_int_equal(auth_jobq_dropped(q), 0);
    auth_jobq_destroy(&q);
}

static void test_jobq_a_job_waits_its_delay(void **state)
{
    rec_t r;
    rec_init(&r, true);
    auth_jobq_t *q = jobq(8, 300, &r);
    assert_int_equal(auth_jobq_start(q), 0);
    double t0 = mono_s();
    assert_int_equal(auth_jobq_push(q, "r", "late"), 0);
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&r.mu);
    int early = r.ran;
    pthread_mutex_unlock(&r.mu);
    assert_int_equal(early, 0); /* not before its time */
    wait_ran(&r, 1);
    assert_int_equal(r.ran, 1);
    assert_true(mono_s() - t0 >= 0.29);
    /* A stop with grace runs a job whose time comes within it. */
    assert_int_equal(auth_jobq_push(q, "r", "in grace"), 0);
    auth_jobq_stop(q, 2000);
    assert_int_equal(r.ran, 2);
    auth_jobq_destroy(&q);
}

static void test_jobq_bad_arguments(void **state)
{
    rec_t r;
    const auth_jobq_config_t zero = {.capacity = 0}, big = {.capacity = AUTH_JOBQ_MAX_SIZE + 1},
                             slow = {.capacity = 4, .delay_ms = AUTH_JOBQ_MAX_DELAY_MS + 1},
                             ok = {.capacity = 4};
    assert_null(auth_jobq_new(&zero, job, &r));
    assert_null(auth_jobq_new(&big, job, &r));
    assert_null(auth_jobq_new(&slow, job, &r));
    assert_null(auth_jobq_new(&ok, NULL, &r));
    assert_null(auth_jobq_new(NULL, job, &r));
    assert_int_equal(auth_jobq_push(NULL, "r", "a"), -1);
    auth_jobq_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobq_runs_jobs_in_order_on_its_own_thread),
        cmocka_unit_test(test_jobq_full_queue_refuses_at_once_and_counts),
        cmocka_unit_test(test_jobq_refuses_an_argument_over_its_bound),
        cmocka_unit_test(test_jobq_stop_without_grace_drops_the_queue),
        cmocka_unit_test(test_jobq_stop_with_grace_runs_what_is_queued),
        cmocka_unit_test(test_jobq_a_job_waits_its_delay),
        cmocka_unit_test(test_jobq_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
