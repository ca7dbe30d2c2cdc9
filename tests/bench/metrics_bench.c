/*
 * metrics_bench: what the rt_metrics hot path costs.
 *
 *   metrics_bench [--ops N] [--threads T]
 *
 * Runs N updates per thread of each kind (counter increment, gauge add,
 * histogram observation with the 14 default latency buckets) on one
 * thread, then on T threads hitting the same series (the contended worst
 * case: one cache line bouncing between cores) and T threads each on its
 * own series, and resolving an existing series by its label values (what
 * a caller pays when it does not cache the handle). Prints one JSON line
 * per case: nanoseconds per operation in each thread's own CPU time
 * (robust on a loaded machine), the same in wall time per thread, and
 * millions of operations per second in total.
 * Exits 1 when a counter did not sum exactly.
 */
#include "rt_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 16
#define NVALUES     1024

typedef enum { OP_INC, OP_GAUGE, OP_OBSERVE, OP_RESOLVE } op_t;

typedef struct {
    op_t op;
    rt_metric_series_t *series;
    rt_metric_family_t *family; /* OP_RESOLVE */
    long ops;
    double cpu_s; /* the thread's own CPU time for the loop */
} job_t;

static const char *const op_names[] = {"counter_inc", "gauge_add", "histogram_observe",
                                       "series_resolve"};
static double values[NVALUES]; /* latencies spread over the buckets */
static char route_names[64][32];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    job_t *j = arg;
    double c0 = thread_cpu_s();
    switch (j->op) {
    case OP_INC:
        for (long i = 0; i < j->ops; i++)
            rt_metric_counter_inc(j->series);
        break;
    case OP_GAUGE:
        for (long i = 0; i < j->ops; i++)
            rt_metric_gauge_add(j->series, (i & 1) ? 1.0 : -1.0);
        break;
    case OP_OBSERVE:
        for (long i = 0; i < j->ops; i++)
            rt_metric_observe(j->series, values[i & (NVALUES - 1)]);
        break;
    case OP_RESOLVE:
        for (long i = 0; i < j->ops; i++) {
            rt_metric_series_t *s = RT_METRIC_SERIES(j->family, route_names[i & 63], "2xx");
            __asm__ volatile("" : : "r"(s) : "memory"); /* keep the lookup */
        }
        break;
    }
    j->cpu_s = thread_cpu_s() - c0;
    return NULL;
}

/* Runs `op` on `threads` threads, on series[t] each (or series[0] for all
 * when `shared`), and prints the line. */
static void bench(op_t op, rt_metric_series_t **series, rt_metric_family_t *family, int threads,
                  bool shared, long ops)
{
    pthread_t th[MAX_THREADS];
    job_t jobs[MAX_THREADS];
    double t0 = now_s();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job_t){op, series ? series[shared ? 0 : t] : NULL, family, ops, 0};
        pthread_create(&th[t], NULL, run, &jobs[t]);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    double secs = now_s() - t0, cpu = 0;
    for (int t = 0; t < threads; t++)
        cpu += jobs[t].cpu_s;
    const char *kind = threads == 1 ? "one" : shared ? "shared" : "own";
    printf("{\"op\":\"%s\",\"threads\":%d,\"series\":\"%s\",\"ops_per_thread\":%ld,"
           "\"ns_per_op\":%.1f,\"wall_ns_per_op\":%.1f,\"mops_total\":%.1f}\n",
           op_names[op], threads, kind, ops, cpu * 1e9 / ((double)ops * threads),
           secs * 1e9 / (double)ops, (double)ops * threads / secs / 1e6);
}

int main(int argc, char **argv)
{
    long ops = 20000000;
    int threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ops") == 0)
            ops = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
    }
    if (ops < 1 || threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "usage: metrics_bench [--ops N] [--threads T (1..%d)]\n", MAX_THREADS);
        return 2;
    }
    for (int i = 0; i < NVALUES; i++)
        values[i] = 0.0001 * (double)(i * 37 % NVALUES); /* 0 .. 0.1 s */
    for (int i = 0; i < 64; i++)
        snprintf(route_names[i], sizeof route_names[i], "GET /api/v1/route%d/{id}", i);

    const rt_metric_desc_t table[] = {
        {"bench_requests_total",
         "Bench counter.",
         RT_METRIC_COUNTER,
         {"worker"},
         MAX_THREADS,
         NULL,
         0},
        {"bench_in_flight", "Bench gauge.", RT_METRIC_GAUGE, {"worker"}, MAX_THREADS, NULL, 0},
        {"bench_duration_seconds",
         "Bench histogram.",
         RT_METRIC_HISTOGRAM,
         {"worker"},
         MAX_THREADS,
         rt_metrics_seconds_buckets,
         RT_METRICS_SECONDS_BUCKETS_N},
        {"bench_routes_total",
         "Bench lookups.",
         RT_METRIC_COUNTER,
         {"route", "status"},
         64,
         NULL,
         0},
    };
    rt_metrics_t *m = rt_metrics_new();
    rt_metric_family_t *f[4];
    if (!m || rt_metrics_register_all(m, table, 4, f) != 0) {
        fprintf(stderr, "metrics_bench: cannot build the registry\n");
        return 1;
    }
    rt_metric_series_t *s[3][MAX_THREADS];
    for (int k = 0; k < 3; k++) {
        for (int t = 0; t < threads; t++) {
            char w[8];
            snprintf(w, sizeof w, "%d", t);
            s[k][t] = RT_METRIC_SERIES(f[k], w);
        }
    }
    for (int i = 0; i < 64; i++)
        RT_METRIC_SERIES(f[3], route_names[i], "2xx");

    for (op_t op = OP_INC; op <= OP_OBSERVE; op++) {
        bench(op, s[op], NULL, 1, true, ops);
        if (threads > 1) {
            bench(op, s[op], NULL, threads, true, ops);
            bench(op, s[op], NULL, threads, false, ops);
        }
    }
    bench(OP_RESOLVE, NULL, f[3], 1, true, ops / 10);

    double total = 0;
    for (int t = 0; t < threads; t++)
        total += rt_metric_value(s[OP_INC][t]);
    double want = (double)ops * (threads > 1 ? 1 + 2 * threads : 1);
    rt_metrics_destroy(&m);
    if (total != want) {
        fprintf(stderr, "metrics_bench: counters sum to %.0f, expected %.0f\n", total, want);
        return 1;
    }
    return 0;
}
