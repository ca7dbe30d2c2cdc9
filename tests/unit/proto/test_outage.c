/*
 * test_outage: an outage of a backend is two WARNING lines however many
 * calls fail (the first failure, the first answer after), the count is
 * exact across threads, and each failed call has its DEBUG line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_outage.h"
#include "rt_log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- log capture ---- */

static FILE *g_log;

static void capture_start(rt_log_level_t level)
{
    g_log = tmpfile();
    assert_non_null(g_log);
    rt_log_init("testsvc", level, g_log);
}

/* The lines logged since capture_start, as a JSON array of objects. */
static json_t *capture_stop(void)
{
    rt_log_init("testsvc", RT_LOG_INFO, NULL);
    rewind(g_log);
    json_t *lines = json_array();
    char buf[4096];
    while (fgets(buf, sizeof buf, g_log)) {
        json_error_t e;
        json_t *obj = json_loads(buf, 0, &e);
        assert_non_null(obj);
        json_array_append_new(lines, obj);
    }
    fclose(g_log);
    g_log = NULL;
    return lines;
}

static const char *str_of(const json_t *line, const char *key)
{
    const char *s = json_string_value(json_object_get(line, key));
    return s ? s : "";
}

/* Lines of `level` whose msg starts with `prefix`. */
static size_t count(const json_t *lines, const char *level, const char *prefix)
{
    size_t n = 0, i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (strcmp(str_of(l, "level"), level) == 0 &&
            strncmp(str_of(l, "msg"), prefix, strlen(prefix)) == 0)
            n++;
    }
    return n;
}

/* The first line whose msg starts with `prefix`. */
static json_t *find(const json_t *lines, const char *prefix)
{
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (strncmp(str_of(l, "msg"), prefix, strlen(prefix)) == 0)
            return l;
    }
    return NULL;
}

/* ---- tests ---- */

static void test_outage_logs_the_state_change_once(void **state)
{
    proto_outage_t *o = proto_outage_new("storesvc");
    assert_non_null(o);
    capture_start(RT_LOG_INFO);
    assert_int_equal(proto_outage_failures(o), 0);
    proto_outage_answered(o); /* nothing was down: nothing to say */
    for (int i = 0; i < 300; i++)
        proto_outage_failed(o, "rid-1", PROTO_OP_STORE_USER_GET, "service timed out");
    assert_int_equal(proto_outage_failures(o), 300);
    proto_outage_answered(o);
    proto_outage_answered(o);
    assert_int_equal(proto_outage_failures(o), 0);
    json_t *lines = capture_stop();

    assert_int_equal(json_array_size(lines), 2);
    json_t *down = find(lines, "storesvc unreachable");
    assert_non_null(down);
    assert_string_equal(str_of(down, "level"), "WARNING");
    assert_string_equal(str_of(down, "rid"), "rid-1");
    assert_string_equal(str_of(down, "service"), "storesvc");
    assert_string_equal(str_of(down, "op"), "store.user_get");
    assert_string_equal(str_of(down, "reason"), "service timed out");
    json_t *back = find(lines, "storesvc back after 300 failed calls, ");
    assert_non_null(back);
    assert_string_equal(str_of(back, "level"), "WARNING");
    assert_int_equal(json_integer_value(json_object_get(back, "failed_calls")), 300);
    assert_true(json_integer_value(json_object_get(back, "down_ms")) >= 0);
    json_decref(lines);
    proto_outage_destroy(&o);
    assert_null(o);
}

static void test_outage_each_failed_call_has_a_debug_line(void **state)
{
    proto_outage_t *o = proto_outage_new("authsvc");
    capture_start(RT_LOG_DEBUG);
    proto_outage_failed(o, "r1", PROTO_OP_AUTH_AUTHORIZE, "no service reachable");
    proto_outage_failed(o, "r2", PROTO_OP_AUTH_AUTHORIZE, "service timed out");
    proto_outage_failed(o, NULL, PROTO_OP_SYS_HEALTH, "service timed out");
    proto_outage_answered(o);
    proto_outage_failed(o, "r4", PROTO_OP_SYS_PING, "malformed reply"); /* a second outage */
    json_t *lines = capture_stop();

    assert_int_equal(count(lines, "WARNING", "authsvc unreachable"), 2);
    assert_int_equal(count(lines, "WARNING", "authsvc back after 3 failed calls"), 1);
    assert_int_equal(count(lines, "DEBUG", "authsvc call failed"), 2);
    json_t *l = find(lines, "authsvc call failed");
    assert_string_equal(str_of(l, "rid"), "r2");
    assert_string_equal(str_of(l, "op"), "auth.authorize");
    assert_string_equal(str_of(l, "reason"), "service timed out");
    json_decref(lines);
    proto_outage_destroy(&o);
}

static void test_outage_one_failed_call_is_singular(void **state)
{
    proto_outage_t *o = proto_outage_new("storesvc");
    capture_start(RT_LOG_INFO);
    proto_outage_failed(o, "r", PROTO_OP_SYS_PING, "service timed out");
    proto_outage_answered(o);
    json_t *lines = capture_stop();
    assert_int_equal(count(lines, "WARNING", "storesvc back after 1 failed call, "), 1);
    json_decref(lines);
    proto_outage_destroy(&o);
}

typedef struct {
    proto_outage_t *o;
    pthread_barrier_t *start;
    int fails;
} worker_t;

static void *fail_many(void *arg)
{
    worker_t *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < w->fails; i++)
        proto_outage_failed(w->o, "t", PROTO_OP_STORE_USER_GET, "service timed out");
    return NULL;
}

static void *answer_many(void *arg)
{
    worker_t *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < 1000; i++)
        proto_outage_answered(w->o);
    return NULL;
}

/* Runs `fn` on `n` threads started together. */
static void run_threads(void *(*fn)(void *), proto_outage_t *o, int n, int fails)
{
    pthread_t th[8];
    worker_t w[8];
    pthread_barrier_t start;
    assert_true(n <= 8);
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        w[i] = (worker_t){o, &start, fails};
        assert_int_equal(pthread_create(&th[i], NULL, fn, &w[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
}

/* The gateway's loops and pools share one state per service: however
 * many threads fail at once, one "unreachable", one "back", exact count. */
static void test_outage_threads_share_one_state(void **state)
{
    proto_outage_t *o = proto_outage_new("storesvc");
    capture_start(RT_LOG_INFO);
    run_threads(fail_many, o, 4, 5000);
    assert_int_equal(proto_outage_failures(o), 20000);
    run_threads(answer_many, o, 4, 0);
    assert_int_equal(proto_outage_failures(o), 0);
    json_t *lines = capture_stop();
    assert_int_equal(json_array_size(lines), 2);
    assert_int_equal(count(lines, "WARNING", "storesvc unreachable"), 1);
    assert_int_equal(count(lines, "WARNING", "storesvc back after 20000 failed calls, "), 1);
    json_decref(lines);
    proto_outage_destroy(&o);
}

static void test_outage_null_is_harmless(void **state)
{
    assert_null(proto_outage_new(NULL));
    assert_null(proto_outage_new(""));
    proto_outage_failed(NULL, "r", PROTO_OP_SYS_PING, "x");
    proto_outage_answered(NULL);
    assert_int_equal(proto_outage_failures(NULL), 0);
    proto_outage_t *o = NULL;
    proto_outage_destroy(&o);
    proto_outage_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outage_logs_the_state_change_once),
        cmocka_unit_test(test_outage_each_failed_call_has_a_debug_line),
        cmocka_unit_test(test_outage_one_failed_call_is_singular),
        cmocka_unit_test(test_outage_threads_share_one_state),
        cmocka_unit_test(test_outage_null_is_harmless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
