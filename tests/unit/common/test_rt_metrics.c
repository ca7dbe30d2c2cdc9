/*
 * Unit tests for rt_metrics: registration rules, bounded label sets, exact
 * sums under concurrent updates, histogram bucket arithmetic, escaping,
 * deterministic output, process and build-info families, and Debian's
 * `promtool check metrics` on a registry with every kind of family.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt_metrics.h"

static char *render(rt_metrics_t *m)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(rt_metrics_render(m, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* The value of the sample line that starts with `prefix` (name and labels
 * up to the space), or NAN when there is none. */
static double sample(const char *text, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, prefix, pl) == 0 && p[pl] == ' ')
            return strtod(p + pl + 1, NULL);
    }
    return NAN;
}

static void test_rt_metrics_counter_renders_help_type_and_series(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    assert_non_null(m);
    const rt_metric_desc_t d = {"restc_http_requests_total",
                                "HTTP requests answered.",
                                RT_METRIC_COUNTER,
                                {"route", "status"},
                                8,
                                NULL,
                                0};
    rt_metric_family_t *f = rt_metrics_register(m, &d);
    assert_non_null(f);
    rt_metric_series_t *s = RT_METRIC_SERIES(f, "GET /users/me", "2xx");
    assert_non_null(s);
    rt_metric_counter_inc(s);
    rt_metric_counter_add(s, 41);
    assert_true(rt_metric_value(s) == 42.0);
    char *text = render(m);
    assert_string_equal(text,
                        "# HELP restc_http_requests_total HTTP requests answered.\n"
                        "# TYPE restc_http_requests_total counter\n"
                        "restc_http_requests_total{route=\"GET /users/me\",status=\"2xx\"} 42\n");
    free(text);
    rt_metrics_destroy(&m);
    assert_null(m);
    rt_metrics_destroy(&m); /* NULL-safe */
}

static void test_rt_metrics_register_rejects_bad_descriptions(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    static const double b_ok[] = {0.1, 1};
    static const double b_down[] = {1, 0.1};
    static const double b_nan[] = {0.1, NAN};
    static const double b_inf[] = {0.1, INFINITY};
    const rt_metric_desc_t bad[] = {
        {"", "h", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0},
        {NULL, "h", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0},
        {"9lives_total", "h", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0},
        {"has-dash_total", "h", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0},
        {"x_total", NULL, RT_METRIC_COUNTER, {NULL}, 1, NULL, 0},
        {"x_total", "h", (rt_metric_type_t)7, {NULL}, 1, NULL, 0},
        {"x_total", "h", RT_METRIC_COUNTER, {"route"}, 0, NULL, 0},
        {"x_total", "h", RT_METRIC_COUNTER, {"route"}, RT_METRICS_MAX_SERIES + 1, NULL, 0},
        {"x_total", "h", RT_METRIC_COUNTER, {"__reserved"}, 4, NULL, 0},
        {"x_total", "h", RT_METRIC_COUNTER, {"a", "a"}, 4, NULL, 0},
        {"x_total", "h", RT_METRIC_COUNTER, {"a:b"}, 4, NULL, 0},
        {"x_seconds", "h", RT_METRIC_HISTOGRAM, {"le"}, 4, b_ok, 2},
        {"x_seconds", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, NULL, 0},
        {"x_seconds", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_ok, 0},
        {"x_seconds", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_ok, RT_METRICS_MAX_BUCKETS + 1},
        {"x_seconds", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_down, 2},
        {"x_seconds", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_nan, 2},
        {"x_seconds", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_inf, 2},
        {"x_seconds_count", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_ok, 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (rt_metrics_register(m, &bad[i]) != NULL)
            fail_msg("row %zu was accepted", i);
    }
    char longhelp[RT_METRICS_HELP_MAX + 2];
    memset(longhelp, 'h', sizeof longhelp - 1);
    longhelp[sizeof longhelp - 1] = '\0';
    const rt_metric_desc_t toolong = {"x_total", longhelp, RT_METRIC_COUNTER, {NULL}, 1, NULL, 0};
    assert_null(rt_metrics_register(m, &toolong));
    assert_null(rt_metrics_register(NULL, &toolong));
    assert_null(rt_metrics_register(m, NULL));

    /* A name is taken once, also as a histogram's _bucket/_sum/_count. */
    const rt_metric_desc_t h = {"rpc_seconds", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_ok, 2};
    assert_non_null(rt_metrics_register(m, &h));
    assert_null(rt_metrics_register(m, &h));
    const rt_metric_desc_t clash = {"rpc_seconds_sum", "h", RT_METRIC_GAUGE, {NULL}, 1, NULL, 0};
    assert_null(rt_metrics_register(m, &clash));
    const rt_metric_desc_t g = {"jobs", "h", RT_METRIC_GAUGE, {NULL}, 1, NULL, 0};
    assert_non_null(rt_metrics_register(m, &g));
    const rt_metric_desc_t clash2 = {"jobs", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_ok, 2};
    assert_null(rt_metrics_register(m, &clash2));
    const rt_metric_desc_t base = {"jo", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b_ok, 2};
    assert_non_null(rt_metrics_register(m, &base)); /* jo_bucket... does not clash with jobs */
    assert_int_equal(
        rt_metrics_register_fn(m, "rpc_seconds_count", "h", RT_METRIC_GAUGE, NULL, NULL), -1);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_registry_is_bounded(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    char name[32];
    for (int i = 0; i < RT_METRICS_MAX_FAMILIES; i++) {
        snprintf(name, sizeof name, "family_%d_total", i);
        rt_metric_desc_t d = {name, "h", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0};
        assert_non_null(rt_metrics_register(m, &d));
    }
    rt_metric_desc_t one_more = {"one_more_total", "h", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0};
    assert_null(rt_metrics_register(m, &one_more));
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_register_all_fills_handles(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    const rt_metric_desc_t table[] = {
        {"a_total", "A.", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0},
        {"b", "B.", RT_METRIC_GAUGE, {"pool"}, 4, NULL, 0},
        {"c_seconds",
         "C.",
         RT_METRIC_HISTOGRAM,
         {NULL},
         1,
         rt_metrics_seconds_buckets,
         RT_METRICS_SECONDS_BUCKETS_N},
        {"a_total", "again", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0},
        {"d_total", "D.", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0},
    };
    rt_metric_family_t *fams[5];
    assert_int_equal(rt_metrics_register_all(m, table, 3, fams), 0);
    for (int i = 0; i < 3; i++)
        assert_non_null(fams[i]);
    rt_metrics_destroy(&m);
    m = rt_metrics_new();
    assert_int_equal(rt_metrics_register_all(m, table, 5, fams), -1);
    assert_non_null(fams[2]);
    assert_null(fams[3]);
    assert_null(fams[4]);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_same_values_same_series(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    const rt_metric_desc_t d = {"x_total", "h", RT_METRIC_COUNTER, {"a", "b"}, 8, NULL, 0};
    rt_metric_family_t *f = rt_metrics_register(m, &d);
    rt_metric_series_t *s1 = RT_METRIC_SERIES(f, "1", "2");
    rt_metric_series_t *s2 = RT_METRIC_SERIES(f, "1", "2");
    rt_metric_series_t *s3 = RT_METRIC_SERIES(f, "12", "");
    rt_metric_series_t *s4 = RT_METRIC_SERIES(f, "2", "1");
    assert_ptr_equal(s1, s2);
    assert_ptr_not_equal(s1, s3);
    assert_ptr_not_equal(s1, s4);
    assert_int_equal(rt_metric_family_overflows(f), 0);
    /* A family without labels has exactly one series. */
    const rt_metric_desc_t d0 = {"y_total", "h", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0};
    rt_metric_family_t *f0 = rt_metrics_register(m, &d0);
    assert_ptr_equal(rt_metric_series(f0, NULL, 0), rt_metric_series(f0, NULL, 0));
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_series_beyond_max_go_to_overflow(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    const rt_metric_desc_t d = {"req_total", "h", RT_METRIC_COUNTER, {"route", "status"}, 3,
                                NULL,        0};
    rt_metric_family_t *f = rt_metrics_register(m, &d);
    rt_metric_series_t *a = RT_METRIC_SERIES(f, "/a", "2xx");
    rt_metric_series_t *b = RT_METRIC_SERIES(f, "/b", "2xx");
    rt_metric_series_t *c = RT_METRIC_SERIES(f, "/c", "2xx");
    rt_metric_series_t *d4 = RT_METRIC_SERIES(f, "/d", "2xx"); /* the N+1-th */
    rt_metric_series_t *e5 = RT_METRIC_SERIES(f, "/e", "5xx");
    assert_ptr_not_equal(a, b);
    assert_ptr_not_equal(b, c);
    assert_ptr_not_equal(c, d4);
    assert_ptr_equal(d4, e5);
    assert_ptr_equal(RT_METRIC_SERIES(f, "other", "other"), d4);
    assert_ptr_equal(RT_METRIC_SERIES(f, "/a", "2xx"), a); /* existing ones still resolve */
    assert_int_equal(rt_metric_family_overflows(f), 2);

    /* Values that are too long, not UTF-8, or the wrong count: overflow too. */
    char big[RT_METRICS_VALUE_MAX + 2];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rt_metrics_t *m2 = rt_metrics_new();
    rt_metric_family_t *f2 = rt_metrics_register(m2, &d);
    rt_metric_series_t *ov = RT_METRIC_SERIES(f2, big, "2xx");
    assert_ptr_equal(RT_METRIC_SERIES(f2, "\xc3\x28", "2xx"), ov);
    assert_ptr_equal(RT_METRIC_SERIES(f2, "\xed\xa0\x80", "2xx"), ov); /* a surrogate */
    assert_ptr_equal(RT_METRIC_SERIES(f2, "/a"), ov);
    assert_ptr_equal(rt_metric_series(f2, NULL, 2), ov);
    assert_ptr_not_equal(RT_METRIC_SERIES(f2, "caf\xc3\xa9", "2xx"), ov);
    big[RT_METRICS_VALUE_MAX] = '\0';
    assert_ptr_not_equal(RT_METRIC_SERIES(f2, big, "2xx"), ov);
    assert_null(rt_metric_series(NULL, NULL, 0));
    rt_metrics_destroy(&m2);

    for (int i = 0; i < 1000; i++)
        rt_metric_counter_inc(i % 2 ? d4 : a);
    char *text = render(m);
    assert_true(sample(text, "req_total{route=\"other\",status=\"other\"}") == 500.0);
    assert_true(sample(text, "req_total{route=\"/a\",status=\"2xx\"}") == 500.0);
    assert_true(sample(text, "req_total{route=\"/b\",status=\"2xx\"}") == 0.0);
    assert_null(strstr(text, "/d"));
    free(text);
    rt_metrics_destroy(&m);
}

#define THREADS     4
#define PER_THREAD  200000
#define THREAD_KEYS 5

typedef struct {
    rt_metric_family_t *counter, *gauge, *hist;
    rt_metric_series_t *seen[THREAD_KEYS];
} race_t;

static void *hammer(void *arg)
{
    race_t *r = arg;
    static const char *const keys[THREAD_KEYS] = {"k0", "k1", "k2", "k3", "k4"};
    /* Resolve concurrently too: every thread must get the same handles. */
    for (int k = 0; k < THREAD_KEYS; k++)
        r->seen[k] = RT_METRIC_SERIES(r->counter, keys[k]);
    rt_metric_series_t *g = rt_metric_series(r->gauge, NULL, 0);
    rt_metric_series_t *h = rt_metric_series(r->hist, NULL, 0);
    for (int i = 0; i < PER_THREAD; i++) {
        rt_metric_counter_inc(r->seen[i % THREAD_KEYS]);
        rt_metric_gauge_add(g, 1.0);
        rt_metric_observe(h, (i % 4) * 0.25);
    }
    return NULL;
}

static void test_rt_metrics_concurrent_updates_sum_exactly(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    static const double b[] = {0.1, 0.3, 0.6};
    const rt_metric_desc_t dc = {"hits_total", "h", RT_METRIC_COUNTER, {"key"}, 8, NULL, 0};
    const rt_metric_desc_t dg = {"level", "h", RT_METRIC_GAUGE, {NULL}, 1, NULL, 0};
    const rt_metric_desc_t dh = {"obs", "h", RT_METRIC_HISTOGRAM, {NULL}, 1, b, 3};
    race_t r[THREADS];
    pthread_t th[THREADS];
    rt_metric_family_t *fc = rt_metrics_register(m, &dc);
    rt_metric_family_t *fg = rt_metrics_register(m, &dg);
    rt_metric_family_t *fh = rt_metrics_register(m, &dh);
    for (int t = 0; t < THREADS; t++) {
        r[t] = (race_t){fc, fg, fh, {NULL}};
        assert_int_equal(pthread_create(&th[t], NULL, hammer, &r[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 1; t < THREADS; t++)
        assert_memory_equal(r[t].seen, r[0].seen, sizeof r[0].seen);
    double total = 0;
    for (int k = 0; k < THREAD_KEYS; k++)
        total += rt_metric_value(r[0].seen[k]);
    assert_true(total == (double)THREADS * PER_THREAD);
    assert_true(rt_metric_value(rt_metric_series(fg, NULL, 0)) == (double)THREADS * PER_THREAD);
    char *text = render(m);
    const double n = (double)THREADS * PER_THREAD;
    assert_true(sample(text, "obs_count") == n);
    assert_true(sample(text, "obs_bucket{le=\"0.1\"}") == n / 4);     /* 0 */
    assert_true(sample(text, "obs_bucket{le=\"0.3\"}") == n / 2);     /* 0, 0.25 */
    assert_true(sample(text, "obs_bucket{le=\"0.6\"}") == n * 3 / 4); /* 0, 0.25, 0.5 */
    assert_true(sample(text, "obs_bucket{le=\"+Inf\"}") == n);
    assert_true(sample(text, "obs_sum") == n / 4 * (0.25 + 0.5 + 0.75));
    free(text);
    rt_metrics_destroy(&m);
}

typedef struct {
    rt_metrics_t *m;
    rt_metric_family_t *f;
    int id;
} grower_t;

/* Creates series and registers families while the main thread renders. */
static void *grow(void *arg)
{
    grower_t *g = arg;
    char key[16], name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "t%d-%d", g->id, i % 50);
        rt_metric_counter_inc(RT_METRIC_SERIES(g->f, key));
        if (i % 20 == 0) {
            snprintf(name, sizeof name, "late_%d_%d_total", g->id, i);
            const rt_metric_desc_t d = {name, "h", RT_METRIC_COUNTER, {NULL}, 1, NULL, 0};
            rt_metric_counter_inc(rt_metric_series(rt_metrics_register(g->m, &d), NULL, 0));
        }
    }
    return NULL;
}

static void test_rt_metrics_render_while_growing(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    const rt_metric_desc_t d = {"grow_total", "h", RT_METRIC_COUNTER, {"k"}, 64, NULL, 0};
    rt_metric_family_t *f = rt_metrics_register(m, &d);
    grower_t g[2] = {{m, f, 0}, {m, f, 1}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, grow, &g[t]), 0);
    for (int i = 0; i < 50; i++)
        free(render(m));
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    /* 100 keys into 64 series: 64 real ones and the overflow hold all 400. */
    char *text = render(m);
    double total = 0;
    size_t lines = 0;
    for (const char *p = strstr(text, "\ngrow_total{"); p; p = strstr(p + 1, "\ngrow_total{")) {
        total += strtod(strchr(p, '}') + 2, NULL);
        lines++;
    }
    assert_int_equal(lines, 65);
    assert_true(total == 400.0);
    assert_true(sample(text, "late_1_180_total") == 1.0);
    free(text);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_histogram_bucket_math(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    static const double b[] = {0.25, 0.5, 1};
    const rt_metric_desc_t d = {"lat_seconds", "Latency.", RT_METRIC_HISTOGRAM, {"op"}, 2, b, 3};
    rt_metric_family_t *f = rt_metrics_register(m, &d);
    rt_metric_series_t *s = RT_METRIC_SERIES(f, "get");
    /* Upper bounds are inclusive (le): 0.25 counts in le="0.25". */
    const double obs[] = {0.125, 0.25, 0.375, 1, 2, -1};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        rt_metric_observe(s, obs[i]);
    rt_metric_observe(s, NAN); /* ignored */
    assert_true(rt_metric_value(s) == 6.0);
    char *text = render(m);
    assert_string_equal(text, "# HELP lat_seconds Latency.\n"
                              "# TYPE lat_seconds histogram\n"
                              "lat_seconds_bucket{op=\"get\",le=\"0.25\"} 3\n"
                              "lat_seconds_bucket{op=\"get\",le=\"0.5\"} 4\n"
                              "lat_seconds_bucket{op=\"get\",le=\"1\"} 5\n"
                              "lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 6\n"
                              "lat_seconds_sum{op=\"get\"} 2.75\n"
                              "lat_seconds_count{op=\"get\"} 6\n");
    free(text);
    rt_metric_observe(s, INFINITY);
    text = render(m);
    assert_true(sample(text, "lat_seconds_bucket{op=\"get\",le=\"+Inf\"}") == 7.0);
    assert_true(sample(text, "lat_seconds_bucket{op=\"get\",le=\"1\"}") == 5.0);
    assert_non_null(strstr(text, "lat_seconds_sum{op=\"get\"} +Inf\n"));
    free(text);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_default_seconds_buckets(void **state)
{
    (void)state;
    assert_true(rt_metrics_seconds_buckets[0] == 0.0005);
    assert_true(rt_metrics_seconds_buckets[RT_METRICS_SECONDS_BUCKETS_N - 1] == 10.0);
    for (int i = 1; i < RT_METRICS_SECONDS_BUCKETS_N; i++)
        assert_true(rt_metrics_seconds_buckets[i] > rt_metrics_seconds_buckets[i - 1]);
    rt_metrics_t *m = rt_metrics_new();
    const rt_metric_desc_t d = {"t_seconds",
                                "h",
                                RT_METRIC_HISTOGRAM,
                                {NULL},
                                1,
                                rt_metrics_seconds_buckets,
                                RT_METRICS_SECONDS_BUCKETS_N};
    rt_metric_observe(rt_metric_series(rt_metrics_register(m, &d), NULL, 0), 0.003);
    char *text = render(m);
    assert_true(sample(text, "t_seconds_bucket{le=\"0.0005\"}") == 0.0);
    assert_true(sample(text, "t_seconds_bucket{le=\"0.0025\"}") == 0.0);
    assert_true(sample(text, "t_seconds_bucket{le=\"0.005\"}") == 1.0);
    assert_true(sample(text, "t_seconds_bucket{le=\"10\"}") == 1.0);
    free(text);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_gauge_set_and_add(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    const rt_metric_desc_t d = {"g", "h", RT_METRIC_GAUGE, {"k"}, 8, NULL, 0};
    rt_metric_family_t *f = rt_metrics_register(m, &d);
    rt_metric_series_t *a = RT_METRIC_SERIES(f, "a"), *b = RT_METRIC_SERIES(f, "b");
    rt_metric_series_t *c = RT_METRIC_SERIES(f, "c"), *e = RT_METRIC_SERIES(f, "e");
    rt_metric_series_t *n = RT_METRIC_SERIES(f, "n"), *z = RT_METRIC_SERIES(f, "z");
    rt_metric_gauge_set(a, 2.5);
    rt_metric_gauge_add(a, -1.0);
    rt_metric_gauge_set(b, 0.1);
    rt_metric_gauge_set(c, -INFINITY);
    rt_metric_gauge_set(e, 1e300);
    rt_metric_gauge_set(n, NAN);
    rt_metric_gauge_add(z, 3);
    rt_metric_gauge_add(z, -5);
    assert_true(rt_metric_value(a) == 1.5);
    char *text = render(m);
    assert_string_equal(text, "# HELP g h\n# TYPE g gauge\n"
                              "g{k=\"a\"} 1.5\n"
                              "g{k=\"b\"} 0.1\n"
                              "g{k=\"c\"} -Inf\n"
                              "g{k=\"e\"} 1e+300\n"
                              "g{k=\"n\"} NaN\n"
                              "g{k=\"z\"} -2\n");
    free(text);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_escapes_label_values_and_help(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    const rt_metric_desc_t d = {"esc_total",
                                "Back\\slash and\nnewline, \"quotes\" kept.",
                                RT_METRIC_COUNTER,
                                {"v"},
                                4,
                                NULL,
                                0};
    rt_metric_family_t *f = rt_metrics_register(m, &d);
    rt_metric_counter_inc(RT_METRIC_SERIES(f, "a\\b\"c\nd"));
    char *text = render(m);
    assert_string_equal(text, "# HELP esc_total Back\\\\slash and\\nnewline, \"quotes\" kept.\n"
                              "# TYPE esc_total counter\n"
                              "esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
    free(text);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_output_is_ordered_and_deterministic(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    const rt_metric_desc_t table[] = {
        {"zeta_total", "Z.", RT_METRIC_COUNTER, {"k"}, 8, NULL, 0},
        {"alpha", "A.", RT_METRIC_GAUGE, {NULL}, 1, NULL, 0},
        {"mid_total", "M.", RT_METRIC_COUNTER, {"k", "j"}, 8, NULL, 0},
    };
    rt_metric_family_t *f[3];
    assert_int_equal(rt_metrics_register_all(m, table, 3, f), 0);
    RT_METRIC_SERIES(f[0], "z");
    RT_METRIC_SERIES(f[0], "a");
    RT_METRIC_SERIES(f[0], "m");
    RT_METRIC_SERIES(f[2], "b", "2");
    RT_METRIC_SERIES(f[2], "ab", "1");
    RT_METRIC_SERIES(f[2], "a", "9");
    char *t1 = render(m);
    char *t2 = render(m);
    assert_string_equal(t1, t2);
    assert_string_equal(t1, "# HELP zeta_total Z.\n# TYPE zeta_total counter\n"
                            "zeta_total{k=\"a\"} 0\n"
                            "zeta_total{k=\"m\"} 0\n"
                            "zeta_total{k=\"z\"} 0\n"
                            "# HELP alpha A.\n# TYPE alpha gauge\n"
                            "alpha 0\n"
                            "# HELP mid_total M.\n# TYPE mid_total counter\n"
                            "mid_total{k=\"a\",j=\"9\"} 0\n"
                            "mid_total{k=\"ab\",j=\"1\"} 0\n"
                            "mid_total{k=\"b\",j=\"2\"} 0\n");
    free(t1);
    free(t2);
    rt_metrics_destroy(&m);
}

static double depth_fn(void *arg)
{
    return (double)*(int *)arg;
}

static void test_rt_metrics_callback_families_read_at_render(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    int depth = 3;
    assert_int_equal(
        rt_metrics_register_fn(m, "queue_depth", "Jobs queued.", RT_METRIC_GAUGE, depth_fn, &depth),
        0);
    assert_int_equal(rt_metrics_register_fn(m, "queue_drops_total", "Jobs dropped.",
                                            RT_METRIC_COUNTER, depth_fn, &depth),
                     0);
    assert_int_equal(
        rt_metrics_register_fn(m, "queue_depth", "again", RT_METRIC_GAUGE, depth_fn, &depth), -1);
    assert_int_equal(rt_metrics_register_fn(m, "h", "h", RT_METRIC_HISTOGRAM, depth_fn, &depth),
                     -1);
    assert_int_equal(rt_metrics_register_fn(m, "nofn", "h", RT_METRIC_GAUGE, NULL, NULL), -1);
    char *text = render(m);
    assert_true(sample(text, "queue_depth") == 3.0);
    free(text);
    depth = 17;
    text = render(m);
    assert_string_equal(text, "# HELP queue_depth Jobs queued.\n# TYPE queue_depth gauge\n"
                              "queue_depth 17\n"
                              "# HELP queue_drops_total Jobs dropped.\n"
                              "# TYPE queue_drops_total counter\n"
                              "queue_drops_total 17\n");
    free(text);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_process_families_are_plausible(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    assert_int_equal(rt_metrics_register_process(m), 0);
    assert_int_equal(rt_metrics_register_process(m), -1); /* once */
    char *text = render(m);
    double now = (double)time(NULL);
    double cpu = sample(text, "process_cpu_seconds_total");
    double rss = sample(text, "process_resident_memory_bytes");
    double vsz = sample(text, "process_virtual_memory_bytes");
    double fds = sample(text, "process_open_fds");
    double maxfds = sample(text, "process_max_fds");
    double start = sample(text, "process_start_time_seconds");
    assert_true(cpu >= 0.0 && cpu < 3600.0);
    assert_true(rss > 100 * 1024 && vsz >= rss);
    assert_true(fds >= 3 && maxfds >= fds);
    assert_true(start > now - 600 && start <= now + 1);
    assert_non_null(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(text, "# TYPE process_open_fds gauge\n"));
    free(text);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_build_info(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    assert_int_equal(rt_metrics_register_build_info(m, "restc", "0.1.0", "gateway"), 0);
    assert_int_equal(rt_metrics_register_build_info(m, "restc", "0.1.0", "gateway"), -1);
    assert_int_equal(rt_metrics_register_build_info(m, "bad-prefix", "1", "x"), -1);
    char *text = render(m);
    assert_non_null(strstr(text, "# TYPE restc_build_info gauge\n"
                                 "restc_build_info{version=\"0.1.0\",service=\"gateway\"} 1\n"));
    free(text);
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_null_handles_are_noops(void **state)
{
    (void)state;
    rt_metric_counter_inc(NULL);
    rt_metric_counter_add(NULL, 5);
    rt_metric_gauge_set(NULL, 1);
    rt_metric_gauge_add(NULL, 1);
    rt_metric_observe(NULL, 1);
    assert_true(rt_metric_value(NULL) == 0.0);
    assert_int_equal(rt_metric_family_overflows(NULL), 0);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(rt_metrics_render(NULL, &text, &len), -1);
}

/* A registry with several families of each kind, labels, an overflow
 * series, escapes, callbacks, process and build info: what a service shows. */
static rt_metrics_t *showcase(void)
{
    static const double rpc_b[] = {0.001, 0.01, 0.1, 1};
    const rt_metric_desc_t table[] = {
        {"restc_http_requests_total",
         "HTTP requests answered, by route template and status.",
         RT_METRIC_COUNTER,
         {"route", "status"},
         4,
         NULL,
         0},
        {"restc_rpc_errors_total",
         "RPC calls that failed.",
         RT_METRIC_COUNTER,
         {"op", "code"},
         8,
         NULL,
         0},
        {"restc_http_connections",
         "Open HTTP connections per loop.",
         RT_METRIC_GAUGE,
         {"loop"},
         4,
         NULL,
         0},
        {"restc_limiter_keys", "Tracked limiter keys.", RT_METRIC_GAUGE, {NULL}, 1, NULL, 0},
        {"restc_http_request_duration_seconds",
         "Time to answer an HTTP request.",
         RT_METRIC_HISTOGRAM,
         {"route"},
         4,
         rt_metrics_seconds_buckets,
         RT_METRICS_SECONDS_BUCKETS_N},
        {"restc_rpc_duration_seconds",
         "RPC round trips.",
         RT_METRIC_HISTOGRAM,
         {"op"},
         4,
         rpc_b,
         4},
    };
    static int depth = 2;
    rt_metrics_t *m = rt_metrics_new();
    rt_metric_family_t *f[6];
    assert_int_equal(rt_metrics_register_all(m, table, 6, f), 0);
    assert_int_equal(rt_metrics_register_fn(m, "restc_queue_depth", "Queued jobs.", RT_METRIC_GAUGE,
                                            depth_fn, &depth),
                     0);
    assert_int_equal(rt_metrics_register_process(m), 0);
    assert_int_equal(rt_metrics_register_build_info(m, "restc", "0.1.0", "test\"svc"), 0);
    /* Five routes into four series each: the last lands in the overflow series. */
    const char *routes[] = {"GET /weird\\path\n", "GET /api/v1/users/me", "POST /api/v1/auth/login",
                            "GET /api/v1/files/{id}", "DELETE /api/v1/files/{id}"};
    for (int i = 0; i < 5; i++) {
        rt_metric_counter_add(RT_METRIC_SERIES(f[0], routes[i], i % 2 ? "4xx" : "2xx"), 3);
        rt_metric_observe(RT_METRIC_SERIES(f[4], routes[i]), 0.002 * i);
    }
    rt_metric_counter_inc(RT_METRIC_SERIES(f[1], "auth.login", "unavailable"));
    rt_metric_gauge_set(RT_METRIC_SERIES(f[2], "0"), 12);
    rt_metric_gauge_set(RT_METRIC_SERIES(f[2], "1"), 9);
    rt_metric_gauge_set(rt_metric_series(f[3], NULL, 0), 1234);
    rt_metric_observe(RT_METRIC_SERIES(f[5], "auth.authorize"), 0.0002);
    rt_metric_observe(RT_METRIC_SERIES(f[5], "auth.authorize"), 3);
    return m;
}

static bool have_promtool(void)
{
    return system("command -v promtool >/dev/null 2>&1") == 0;
}

static void test_rt_metrics_promtool_accepts_output(void **state)
{
    (void)state;
    if (!have_promtool()) {
        fprintf(stderr, "promtool not installed (deploy/deps.sh test installs it): skipped\n");
        skip();
    }
    rt_metrics_t *m = showcase();
    char *text = render(m);
    char path[] = "/tmp/rt_metrics_promtool.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096];
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    unlink(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != 0)
        fail_msg("promtool check metrics: status %d, output:\n%s\non:\n%s", status, out, text);
    free(text);
    rt_metrics_destroy(&m);
}

/* Every sample line's name+labels appears once: no duplicate series. */
static void test_rt_metrics_showcase_has_no_duplicate_series(void **state)
{
    (void)state;
    rt_metrics_t *m = showcase();
    char *text = render(m);
    size_t nlines = 0;
    char *keys[512];
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *sp = strrchr(line, ' ');
        assert_non_null(sp);
        *sp = '\0';
        for (size_t i = 0; i < nlines; i++) {
            if (strcmp(keys[i], line) == 0)
                fail_msg("duplicate series %s", line);
        }
        assert_true(nlines < 512);
        keys[nlines++] = line;
    }
    assert_true(nlines > 50);
    free(text);
    rt_metrics_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_metrics_counter_renders_help_type_and_series),
        cmocka_unit_test(test_rt_metrics_register_rejects_bad_descriptions),
        cmocka_unit_test(test_rt_metrics_registry_is_bounded),
        cmocka_unit_test(test_rt_metrics_register_all_fills_handles),
        cmocka_unit_test(test_rt_metrics_same_values_same_series),
        cmocka_unit_test(test_rt_metrics_series_beyond_max_go_to_overflow),
        cmocka_unit_test(test_rt_metrics_concurrent_updates_sum_exactly),
        cmocka_unit_test(test_rt_metrics_render_while_growing),
        cmocka_unit_test(test_rt_metrics_histogram_bucket_math),
        cmocka_unit_test(test_rt_metrics_default_seconds_buckets),
        cmocka_unit_test(test_rt_metrics_gauge_set_and_add),
        cmocka_unit_test(test_rt_metrics_escapes_label_values_and_help),
        cmocka_unit_test(test_rt_metrics_output_is_ordered_and_deterministic),
        cmocka_unit_test(test_rt_metrics_callback_families_read_at_render),
        cmocka_unit_test(test_rt_metrics_process_families_are_plausible),
        cmocka_unit_test(test_rt_metrics_build_info),
        cmocka_unit_test(test_rt_metrics_null_handles_are_noops),
        cmocka_unit_test(test_rt_metrics_promtool_accepts_output),
        cmocka_unit_test(test_rt_metrics_showcase_has_no_duplicate_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
