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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_log_line_has_fixed_keys),
        cmocka_unit_test(test_rt_log_level_filters),
        cmocka_unit_test(test_rt_log_fields_merge_without_override),
        cmocka_unit_test(test_rt_log_level_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
