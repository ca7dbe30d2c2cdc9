/*
 * Unit tests for store_metrics: object-store requests (through the local
 * backend's store_blob dispatch, which the S3 backend shares) and database
 * queries (through the store_db hooks) are timed and counted exactly, by
 * fixed label values; NULL is off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_metrics.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static double sample(const char *text, const char *series)
{
    size_t sl = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, sl) == 0 && p[sl] == ' ')
            return strtod(p + sl + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

static char *render(rt_metrics_t *reg)
{
    char *t = NULL;
    size_t n = 0;
    assert_int_equal(rt_metrics_render(reg, &t, &n), 0);
    return t;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void test_metrics_object_store_requests(void **state)
{
    (void)state;
    char dir[64], url[128], err[256];
    snprintf(dir, sizeof dir, "/tmp/store_metrics_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "file://%s/objects", dir);
    store_blob_t *blob = store_blob_open(url, NULL, err, sizeof err);
    assert_non_null(blob);
    rt_metrics_t *reg = rt_metrics_new();
    store_metrics_t *m = store_metrics_new(reg, store_blob_kind(blob), 4);
    assert_non_null(m);
    store_blob_set_observer(blob, store_metrics_blob_observe, m);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_blob_put(blob, "a/b", "hello", 5), STORE_BLOB_OK);
    char buf[16];
    size_t got;
    uint64_t size;
    for (int i = 0; i < 2; i++)
        assert_int_equal(store_blob_get(blob, "a/b", 0, buf, sizeof buf, &got, &size),
                         STORE_BLOB_OK);
    assert_int_equal(store_blob_get(blob, "a/none", 0, buf, sizeof buf, &got, &size),
                     STORE_BLOB_NOT_FOUND);
    assert_int_equal(store_blob_delete(blob, "a/b"), STORE_BLOB_OK);
    /* A bad key never reaches the backend: not a request. */
    assert_int_equal(store_blob_put(blob, "../x", "x", 1), STORE_BLOB_BAD_KEY);
    char *t = render(reg);
    const char *k = store_blob_kind(blob);
    char series[256];
    snprintf(series, sizeof series,
             "restc_store_object_request_duration_seconds_count{backend=\"%s\",op=\"put\"}", k);
    assert_true(sample(t, series) == 3);
    snprintf(series, sizeof series,
             "restc_store_object_request_duration_seconds_count{backend=\"%s\",op=\"get\"}", k);
    assert_true(sample(t, series) == 3);
    snprintf(series, sizeof series,
             "restc_store_object_request_duration_seconds_count{backend=\"%s\",op=\"delete\"}", k);
    assert_true(sample(t, series) == 1);
    snprintf(series, sizeof series,
             "restc_store_object_request_errors_total{backend=\"%s\",op=\"get\",status=\"not_"
             "found\"}",
             k);
    assert_true(sample(t, series) == 1);
    snprintf(series, sizeof series,
             "restc_store_object_request_errors_total{backend=\"%s\",op=\"put\",status=\"io\"}", k);
    assert_true(sample(t, series) == 0);
    assert_true(sample(t, "restc_store_db_connections") == 4);
    free(t);
    store_blob_set_observer(blob, NULL, NULL);
    assert_int_equal(store_blob_put(blob, "a/c", "x", 1), STORE_BLOB_OK);
    t = render(reg);
    snprintf(series, sizeof series,
             "restc_store_object_request_duration_seconds_count{backend=\"%s\",op=\"put\"}", k);
    assert_true(sample(t, series) == 3); /* no observer, not counted */
    free(t);
    store_metrics_destroy(&m);
    rt_metrics_destroy(&reg);
    store_blob_destroy(&blob);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_metrics_db_hooks(void **state)
{
    (void)state;
    rt_metrics_t *reg = rt_metrics_new();
    store_metrics_t *m = store_metrics_new(reg, "file", 2);
    store_db_hooks_t h = store_metrics_db_hooks(m);
    assert_non_null(h.begin);
    assert_non_null(h.end);
    h.begin(h.arg);
    h.begin(h.arg);
    char *t = render(reg);
    assert_true(sample(t, "restc_store_db_connections_in_use") == 2);
    free(t);
    h.end(h.arg, STORE_DB_OK, 0.001);
    h.end(h.arg, STORE_DB_TIMEOUT, 2.0);
    h.begin(h.arg);
    h.end(h.arg, -99, 0.01); /* out of range: counted as error */
    t = render(reg);
    assert_true(sample(t, "restc_store_db_connections_in_use") == 0);
    assert_true(sample(t, "restc_store_db_query_duration_seconds_count{status=\"ok\"}") == 1);
    assert_true(sample(t, "restc_store_db_query_duration_seconds_count{status=\"timeout\"}") == 1);
    assert_true(sample(t, "restc_store_db_query_duration_seconds_count{status=\"error\"}") == 1);
    assert_true(sample(t, "restc_store_db_query_duration_seconds_count{status=\"down\"}") == 0);
    free(t);
    store_metrics_destroy(&m);
    rt_metrics_destroy(&reg);
}

static void test_metrics_null_is_off(void **state)
{
    (void)state;
    assert_null(store_metrics_new(NULL, "file", 1));
    store_db_hooks_t h = store_metrics_db_hooks(NULL);
    assert_null(h.begin);
    assert_null(h.end);
    store_metrics_blob_observe(NULL, STORE_BLOB_OP_PUT, 0, 0.1);
    store_metrics_destroy(NULL);
    assert_string_equal(store_blob_op_name(STORE_BLOB_OP_MP_COMPLETE), "multipart_complete");
    assert_string_equal(store_blob_op_name(STORE_BLOB_OP__COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_object_store_requests),
        cmocka_unit_test(test_metrics_db_hooks),
        cmocka_unit_test(test_metrics_null_is_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
