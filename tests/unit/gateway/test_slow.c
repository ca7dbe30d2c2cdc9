/*
 * Unit tests for gw_slow: jobs run on pool threads, the queue bound refuses
 * at once, stop cancels what is waiting and waits for what runs, and every
 * accepted job ends in exactly one callback. Jobs block on a gate the test
 * opens, so nothing depends on timing except "does not return while
 * blocked" checks with short bounded waits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "gw_slow.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    atomic_int started, ran, cancelled;
} gate_t;

typedef struct {
    gate_t *gate;
    atomic_int ends; /* run + cancel calls for this job: must end at 1 */
    pthread_t thread;
} job_t;

static gate_t g;

static void gate_init(gate_t *gt)
{
    pthread_mutex_init(&gt->mu, NULL);
    pthread_cond_init(&gt->cv, NULL);
    gt->open = false;
    atomic_init(&gt->started, 0);
    atomic_init(&gt->ran, 0);
    atomic_init(&gt->cancelled, 0);
}

static void gate_open(gate_t *gt)
{
    pthread_mutex_lock(&gt->mu);
    gt->open = true;
    pthread_cond_broadcast(&gt->cv);
    pthread_mutex_unlock(&gt->mu);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void wait_started(gate_t *gt, int n)
{
    for (int i = 0; i < 500 && atomic_load(&gt->started) < n; i++)
        sleep_ms(2);
    assert_int_equal(atomic_load(&gt->started), n);
}

static void run_job(void *arg)
{
    job_t *j = arg;
    j->thread = pthread_self();
    atomic_fetch_add(&j->gate->started, 1);
    pthread_mutex_lock(&j->gate->mu);
    while (!j->gate->open)
        pthread_cond_wait(&j->gate->cv, &j->gate->mu);
    pthread_mutex_unlock(&j->gate->mu);
    atomic_fetch_add(&j->gate->ran, 1);
    atomic_fetch_add(&j->ends, 1);
}

static atomic_int expired; /* cancels with GW_SLOW_EXPIRED */

static void cancel_job(void *arg, gw_slow_why_t why)
{
    job_t *j = arg;
    if (why == GW_SLOW_EXPIRED)
        atomic_fetch_add(&expired, 1);
    atomic_fetch_add(&j->gate->cancelled, 1);
    atomic_fetch_add(&j->ends, 1);
}

static int setup(void **state)
{
    gate_init(&g);
    return 0;
}

static void test_slow_runs_jobs_on_pool_threads(void **state)
{
    gw_slow_t *p = gw_slow_new(2, 4, 0);
    assert_non_null(p);
    assert_int_equal(gw_slow_start(p), 0);
    job_t jobs[3] = {{.gate = &g}, {.gate = &g}, {.gate = &g}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &jobs[i]), 0);
    wait_started(&g, 2); /* two threads: the third waits */
    assert_int_equal(gw_slow_pending(p), 3);
    gate_open(&g);
    for (int i = 0; i < 500 && gw_slow_pending(p) > 0; i++)
        sleep_ms(2);
    assert_int_equal(gw_slow_pending(p), 0);
    assert_int_equal(atomic_load(&g.ran), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&jobs[i].ends), 1);
        assert_false(pthread_equal(jobs[i].thread, pthread_self()));
    }
    gw_slow_destroy(&p);
    assert_null(p);
}

static void test_slow_queue_bound_refuses_at_once(void **state)
{
    gw_slow_t *p = gw_slow_new(1, 2, 0);
    assert_int_equal(gw_slow_start(p), 0);
    job_t jobs[5] = {{.gate = &g}, {.gate = &g}, {.gate = &g}, {.gate = &g}, {.gate = &g}};
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &jobs[0]), 0);
    wait_started(&g, 1); /* the thread is busy now */
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &jobs[1]), 0);
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &jobs[2]), 0);
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &jobs[3]), -1); /* 1 running + 2 */
    assert_int_equal(atomic_load(&jobs[3].ends), 0);
    gate_open(&g);
    gw_slow_destroy(&p); /* the two waiting ones: run, or cancelled if stop came first */
    for (int i = 0; i < 3; i++)
        assert_int_equal(atomic_load(&jobs[i].ends), 1);
    assert_int_equal(atomic_load(&g.ran) + atomic_load(&g.cancelled), 3);
}

static void test_slow_queue_zero_needs_a_free_thread(void **state)
{
    gw_slow_t *p = gw_slow_new(1, 0, 0);
    assert_int_equal(gw_slow_start(p), 0);
    job_t a = {.gate = &g}, b = {.gate = &g};
    /* Refused (without side effects) until the thread waits for work. */
    int rc = -1;
    for (int i = 0; i < 500 && rc != 0; i++) {
        if ((rc = gw_slow_submit(p, run_job, cancel_job, &a)) != 0)
            sleep_ms(2);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(atomic_load(&a.ends), 0);
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &b), -1);
    gate_open(&g);
    gw_slow_destroy(&p);
    assert_int_equal(atomic_load(&a.ends), 1);
    assert_int_equal(atomic_load(&b.ends), 0);
}

typedef struct {
    gw_slow_t *p;
    atomic_bool done;
} stopper_t;

static void *stopper(void *arg)
{
    stopper_t *s = arg;
    gw_slow_stop(s->p);
    atomic_store(&s->done, true);
    return NULL;
}

static void test_slow_stop_cancels_waiting_and_waits_for_running(void **state)
{
    gw_slow_t *p = gw_slow_new(1, 8, 0);
    assert_int_equal(gw_slow_start(p), 0);
    job_t jobs[4] = {{.gate = &g}, {.gate = &g}, {.gate = &g}, {.gate = &g}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &jobs[i]), 0);
    wait_started(&g, 1);
    stopper_t s = {.p = p};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, stopper, &s), 0);
    /* The waiting three are cancelled, the running one holds stop up. */
    for (int i = 0; i < 500 && atomic_load(&g.cancelled) < 3; i++)
        sleep_ms(2);
    assert_int_equal(atomic_load(&g.cancelled), 3);
    sleep_ms(30);
    assert_false(atomic_load(&s.done));
    /* No new jobs while stopping. */
    job_t late = {.gate = &g};
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &late), -1);
    gate_open(&g);
    pthread_join(tid, NULL);
    assert_true(atomic_load(&s.done));
    assert_int_equal(atomic_load(&g.ran), 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(atomic_load(&jobs[i].ends), 1);
    gw_slow_stop(p); /* idempotent */
    gw_slow_destroy(&p);
}

/* A job that waited longer than max_wait_ms for a thread is cancelled as
 * expired (not run); the one behind it, on time, runs. */
static void test_slow_expired_jobs_are_cancelled_not_run(void **state)
{
    atomic_store(&expired, 0);
    gw_slow_t *p = gw_slow_new(1, 4, 50);
    assert_int_equal(gw_slow_start(p), 0);
    job_t first = {.gate = &g}, stale = {.gate = &g};
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &first), 0);
    wait_started(&g, 1);
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &stale), 0);
    sleep_ms(120); /* stale waits > 50 ms behind the blocked first job */
    gate_open(&g);
    for (int i = 0; i < 500 && atomic_load(&stale.ends) == 0; i++)
        sleep_ms(2);
    assert_int_equal(atomic_load(&stale.ends), 1);
    assert_int_equal(atomic_load(&expired), 1);
    assert_int_equal(atomic_load(&g.ran), 1); /* only the first ran */
    job_t fresh = {.gate = &g};
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &fresh), 0);
    for (int i = 0; i < 500 && atomic_load(&fresh.ends) == 0; i++)
        sleep_ms(2);
    assert_int_equal(atomic_load(&g.ran), 2);
    gw_slow_destroy(&p);
}

static void test_slow_bad_arguments(void **state)
{
    assert_null(gw_slow_new(0, 1, 0));
    assert_null(gw_slow_new(1, -1, 0));
    assert_null(gw_slow_new(1, 1, -1));
    gw_slow_t *p = gw_slow_new(1, 1, 0);
    job_t j = {.gate = &g};
    assert_int_equal(gw_slow_submit(p, run_job, cancel_job, &j), -1); /* not started */
    assert_int_equal(gw_slow_submit(NULL, run_job, cancel_job, &j), -1);
    assert_int_equal(gw_slow_pending(NULL), 0);
    gw_slow_destroy(&p);
    gw_slow_destroy(&p);
    gw_slow_destroy(NULL);
    gw_slow_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_slow_runs_jobs_on_pool_threads, setup),
        cmocka_unit_test_setup(test_slow_queue_bound_refuses_at_once, setup),
        cmocka_unit_test_setup(test_slow_queue_zero_needs_a_free_thread, setup),
        cmocka_unit_test_setup(test_slow_stop_cancels_waiting_and_waits_for_running, setup),
        cmocka_unit_test_setup(test_slow_expired_jobs_are_cancelled_not_run, setup),
        cmocka_unit_test_setup(test_slow_bad_arguments, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
