/*
 * Unit tests for rt_log: every line is one JSON object with the fixed keys,
 * levels filter, and event fields merge without overriding the fixed keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rt_log.h"

/* Logs through `fn` into a temp file and returns the parsed lines as a JSON array. */
static json_t *capture(void (*fn)(void))
{
    FILE *f = tmpfile();
    assert_non_null(f);
    rt_log_init("testsvc", RT_LOG_INFO, f);
    fn();
    rt_log_init("testsvc", RT_LOG_INFO, NULL);
    rewind(f);
    json_t *lines = json_array();
    char buf[4096];
    while (fgets(buf, sizeof buf, f)) {
        json_error_t e;
        json_t *obj = json_loads(buf, 0, &e);
        assert_non_null(obj);
        json_array_append_new(lines, obj);
    }
    fclose(f);
    return lines;
}

static void log_one_with_rid(void)
{
    rt_info("rid-1", "hello %d \"quoted\"\n", 42);
}

static void test_rt_log_line_has_fixed_keys(void **state)
{
    (void)state;
    json_t *lines = capture(log_one_with_rid);
    assert_int_equal(json_array_size(lines), 1);
    json_t *l = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(l, "level")), "INFO");
    assert_string_equal(json_string_value(json_object_get(l, "svc")), "testsvc");
    assert_string_equal(json_string_value(json_object_get(l, "msg")), "hello 42 \"quoted\"\n");
    assert_string_equal(json_string_value(json_object_get(l, "rid")), "rid-1");
    const char *ts = json_string_value(json_object_get(l, "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), strlen("2026-11-22T10:00:00.000Z"));
    assert_int_equal(ts[strlen(ts) - 1], 'Z');
    json_decref(lines);
}

static void log_levels(void)
{
    rt_debug(NULL, "hidden");
    rt_warn(NULL, "shown");
}

static void test_rt_log_level_filters(void **state)
{
    (void)state;
    json_t *lines = capture(log_levels);
    assert_int_equal(json_array_size(lines), 1);
    json_t *l = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(l, "level")), "WARNING");
    assert_null(json_object_get(l, "rid"));
    json_decref(lines);
}

static void log_fields(void)
{
    json_t *f = json_pack("{s:s, s:i, s:s}", "method", "GET", "status", 200, "svc", "evil");
    rt_log_fields(RT_LOG_INFO, "r", "request", f);
}

static void test_rt_log_fields_merge_without_override(void **state)
{
    (void)state;
    json_t *lines = capture(log_fields);
    json_t *l = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(l, "method")), "GET");
    assert_int_equal(json_integer_value(json_object_get(l, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(l, "svc")), "testsvc");
    json_decref(lines);
}

static void test_rt_log_level_parse(void **state)
{
    (void)state;
    rt_log_level_t lv;
    assert_int_equal(rt_log_level_parse("debug", &lv), 0);
    assert_int_equal(lv, RT_LOG_DEBUG);
    assert_int_equal(rt_log_level_parse("WARN", &lv), 0);
    assert_int_equal(lv, RT_LOG_WARNING);
    assert_int_equal(rt_log_level_parse("loud", &lv), -1);
    assert_int_equal(rt_log_level_parse(NULL, &lv), -1);
}

static void log_fast_lines(void)
{
    rt_log_line(RT_LOG_INFO, "rid-9", "request", "\"status\":200,\"path\":\"/x\"");
    rt_log_line(RT_LOG_INFO, NULL, "no \"fields\"\n", NULL);
    rt_log_line(RT_LOG_DEBUG, NULL, "filtered", NULL);
}

static void test_rt_log_fast_line_is_the_same_format(void **state)
{
    (void)state;
    json_t *lines = capture(log_fast_lines);
    assert_int_equal(json_array_size(lines), 2);
    json_t *a = json_array_get(lines, 0), *b = json_array_get(lines, 1);
    assert_string_equal(json_string_value(json_object_get(a, "svc")), "testsvc");
    assert_string_equal(json_string_value(json_object_get(a, "level")), "INFO");
    assert_string_equal(json_string_value(json_object_get(a, "rid")), "rid-9");
    assert_non_null(json_object_get(a, "ts"));
    assert_int_equal(json_integer_value(json_object_get(a, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(a, "path")), "/x");
    assert_string_equal(json_string_value(json_object_get(b, "msg")), "no \"fields\"\n");
    assert_null(json_object_get(b, "rid"));
    json_decref(lines);
}

static void test_rt_json_str_escapes_and_bounds(void **state)
{
    (void)state;
    char out[64];
    size_t n = 0;
    assert_int_equal(rt_json_str(out, sizeof out, &n, "a\"b\\c\x01\xff"), 0);
    assert_string_equal(out, "\"a\\\"b\\\\c\\u0001\\u00ff\"");
    assert_int_equal(n, strlen(out));
    char tiny[6];
    size_t m = 0;
    assert_int_equal(rt_json_str(tiny, sizeof tiny, &m, "too long"), -1);
    assert_int_equal(m, 0); /* unchanged */
}

/* Buffered lines reach the file by the flusher, by a WARNING at once, and
 * all of them by rt_log_buffer_stop. */
static void test_rt_log_buffer_flushes(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    rt_log_init("testsvc", RT_LOG_INFO, f);
    assert_int_equal(rt_log_buffer_start(10000), 0); /* the flusher waits 10 s */
    assert_int_equal(rt_log_buffer_start(10), -1);   /* already buffering */
    rt_info(NULL, "one");
    fflush(f);
    assert_int_equal(ftell(f), 0); /* still in the buffer */
    rt_warn(NULL, "two");          /* urgent: everything goes out */
    long after_warn = ftell(f);
    assert_true(after_warn > 0);
    for (int i = 0; i < 2000; i++) /* more than the buffer holds */
        rt_info(NULL, "line %d", i);
    rt_log_buffer_stop();
    rt_log_init("testsvc", RT_LOG_INFO, NULL);
    rewind(f);
    char buf[512];
    int count = 0;
    while (fgets(buf, sizeof buf, f))
        count++;
    assert_int_equal(count, 2002);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_log_line_has_fixed_keys),
        cmocka_unit_test(test_rt_log_level_filters),
        cmocka_unit_test(test_rt_log_fields_merge_without_override),
        cmocka_unit_test(test_rt_log_level_parse),
        cmocka_unit_test(test_rt_log_fast_line_is_the_same_format),
        cmocka_unit_test(test_rt_json_str_escapes_and_bounds),
        cmocka_unit_test(test_rt_log_buffer_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
