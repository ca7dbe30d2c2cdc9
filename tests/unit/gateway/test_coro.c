/*
 * gw_coro: spawn, yield, resume, pools and their bounds.
 */
#include "gw_coro.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    int id;
    int steps; /* yields before returning */
    int done;  /* how many steps ran */
    char trace[64];
    bool finished;
    bool inside; /* gw_coro_current() was set while running */
} job_t;

static void stepper(void *arg)
{
    job_t *j = arg;
    volatile char local[256]; /* lives on the coroutine's own stack across yields */
    memset((char *)local, j->id, sizeof local);
    j->inside = gw_coro_current() != NULL;
    for (int i = 0; i < j->steps; i++) {
        j->done++;
        gw_coro_yield();
        for (size_t k = 0; k < sizeof local; k++)
            assert_int_equal(local[k], (char)j->id);
    }
    j->finished = true;
}

static int setup(void **state)
{
    (void)state;
    return gw_coro_setup(8, 0);
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(gw_coro_alive(), 0);
    gw_coro_teardown();
    return 0;
}

static void test_coro_no_yield_finishes_in_spawn(void **state)
{
    job_t j = {.id = 1, .steps = 0};
    bool inl = true;
    assert_null(gw_coro_spawn(stepper, &j, &inl));
    assert_false(inl);
    assert_true(j.finished);
    assert_true(j.inside);
    assert_null(gw_coro_current());
    assert_int_equal(gw_coro_alive(), 0);
}

static void test_coro_yield_and_resume(void **state)
{
    job_t j = {.id = 2, .steps = 3};
    gw_coro_t *co = gw_coro_spawn(stepper, &j, NULL);
    assert_non_null(co);
    assert_int_equal(j.done, 1);
    assert_false(j.finished);
    assert_null(gw_coro_current()); /* back on the caller's stack */
    assert_int_equal(gw_coro_alive(), 1);
    assert_false(gw_coro_resume(co));
    assert_int_equal(j.done, 2);
    assert_false(gw_coro_resume(co));
    assert_int_equal(j.done, 3);
    assert_true(gw_coro_resume(co)); /* returned: back to the pool */
    assert_true(j.finished);
    assert_int_equal(gw_coro_alive(), 0);
}

static void test_coro_interleaved_keep_their_stacks(void **state)
{
    enum { N = 8 };
    job_t jobs[N];
    gw_coro_t *cos[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (job_t){.id = 10 + i, .steps = 1 + i % 3};
        cos[i] = gw_coro_spawn(stepper, &jobs[i], NULL);
        assert_non_null(cos[i]);
    }
    assert_int_equal(gw_coro_alive(), N);
    bool left = true;
    while (left) {
        left = false;
        for (int i = N - 1; i >= 0; i--) { /* resumed in another order than spawned */
            if (!cos[i])
                continue;
            if (gw_coro_resume(cos[i]))
                cos[i] = NULL;
            else
                left = true;
        }
    }
    for (int i = 0; i < N; i++) {
        assert_true(jobs[i].finished);
        assert_int_equal(jobs[i].done, jobs[i].steps);
    }
}

static void test_coro_full_pool_runs_inline(void **state)
{
    enum { N = 8 };
    job_t jobs[N];
    gw_coro_t *cos[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (job_t){.id = i, .steps = 1};
        cos[i] = gw_coro_spawn(stepper, &jobs[i], NULL);
        assert_non_null(cos[i]);
    }
    /* The ninth: no coroutine left, so it runs to the end on this stack
     * (a yield outside a coroutine returns at once). */
    job_t extra = {.id = 99, .steps = 2};
    bool inl = false;
    assert_null(gw_coro_spawn(stepper, &extra, &inl));
    assert_true(inl);
    assert_true(extra.finished);
    assert_false(extra.inside);
    for (int i = 0; i < N; i++)
        assert_true(gw_coro_resume(cos[i]));
    /* Coroutines come back to the pool and are used again. */
    job_t again = {.id = 5, .steps = 1};
    gw_coro_t *co = gw_coro_spawn(stepper, &again, &inl);
    assert_non_null(co);
    assert_false(inl);
    assert_true(gw_coro_resume(co));
}

static void spawner(void *arg)
{
    job_t *inner = arg;
    bool inl = false;
    /* A coroutine does not start another: the nested one runs inline (and
     * a yield in it would suspend this one). */
    assert_null(gw_coro_spawn(stepper, inner, &inl));
    assert_true(inl);
    gw_coro_yield();
}

static void test_coro_nested_spawn_runs_inline(void **state)
{
    job_t inner = {.id = 7, .steps = 0};
    gw_coro_t *co = gw_coro_spawn(spawner, &inner, NULL);
    assert_non_null(co);
    assert_true(inner.finished);
    assert_true(gw_coro_resume(co));
}

static void deep(void *arg)
{
    volatile char big[64 * 1024]; /* well inside the default stack */
    memset((char *)big, 1, sizeof big);
    *(int *)arg = big[sizeof big - 1] + big[0];
    gw_coro_yield();
}

static void test_coro_stack_holds_a_large_frame(void **state)
{
    int out = 0;
    gw_coro_t *co = gw_coro_spawn(deep, &out, NULL);
    assert_non_null(co);
    assert_int_equal(out, 2);
    assert_true(gw_coro_resume(co));
}

static void test_coro_without_setup_runs_inline(void **state)
{
    gw_coro_teardown(); /* this thread has no pool now */
    job_t j = {.id = 3, .steps = 2};
    bool inl = false;
    assert_null(gw_coro_spawn(stepper, &j, &inl));
    assert_true(inl);
    assert_true(j.finished);
    assert_int_equal(gw_coro_setup(8, 0), 0);
}

static void test_coro_setup_rejects_bad_sizes(void **state)
{
    assert_int_equal(gw_coro_setup(0, 0), -1);
    assert_int_equal(gw_coro_setup(4, 100), -1); /* below the minimum stack */
    assert_int_equal(gw_coro_setup(8, 0), 0);
    assert_false(gw_coro_resume(NULL));
    gw_coro_yield(); /* outside a coroutine: nothing happens */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_coro_no_yield_finishes_in_spawn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coro_yield_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coro_interleaved_keep_their_stacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coro_full_pool_runs_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coro_nested_spawn_runs_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coro_stack_holds_a_large_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coro_without_setup_runs_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coro_setup_rejects_bad_sizes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
