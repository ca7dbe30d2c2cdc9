/*
 * rt_metrics: a small Prometheus registry and its text exposition (format
 * 0.0.4), shared by the services.
 *
 * A family (counter, gauge or histogram) has a name, HELP text and a fixed
 * list of at most RT_METRICS_MAX_LABELS label names, declared once as a row
 * of an rt_metric_desc_t table. Each family holds at most `max_series`
 * label combinations: feed it route templates and status classes, never
 * raw paths. A combination beyond that (or one with a value that is too
 * long or not UTF-8) resolves to the family's overflow series, whose label
 * values are all RT_METRICS_OVERFLOW_VALUE; memory never grows with
 * traffic.
 *
 * Resolve a series once (at start, or cache it) and update it on the hot
 * path: an update is one relaxed atomic operation on the series (two for a
 * histogram observation), no lock, no allocation. Counters and histograms
 * keep a few cache-line-separated copies, one per group of threads, added
 * up when rendering, so threads counting the same series do not contend. Resolving an existing
 * combination again is lock-free too but compares strings; creating one
 * takes the family's mutex. Every update function accepts NULL and does
 * nothing, so code may keep NULL handles when metrics are off.
 *
 * Rendering walks families in registration order and series sorted by
 * label values, so equal states give byte-identical output. Callback
 * families are evaluated then, on the rendering thread.
 */
#ifndef RT_METRICS_H
#define RT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_METRICS_CONTENT_TYPE   "text/plain; version=0.0.4; charset=utf-8"
#define RT_METRICS_MAX_FAMILIES   256
#define RT_METRICS_MAX_LABELS     4
#define RT_METRICS_MAX_SERIES     1024        /* per family, the overflow series not counted */
#define RT_METRICS_MAX_BUCKETS    32          /* finite upper bounds; +Inf is implicit */
#define RT_METRICS_NAME_MAX       128         /* metric and label names, bytes */
#define RT_METRICS_HELP_MAX       512         /* bytes */
#define RT_METRICS_VALUE_MAX      128         /* label values, bytes */
#define RT_METRICS_RENDER_MAX     (16u << 20) /* largest exposition rendered */
#define RT_METRICS_OVERFLOW_VALUE "other"

typedef struct rt_metrics rt_metrics_t;
typedef struct rt_metric_family rt_metric_family_t;
typedef struct rt_metric_series rt_metric_series_t;

typedef enum {
    RT_METRIC_COUNTER,   /* monotonic uint64 */
    RT_METRIC_GAUGE,     /* double, set or added to */
    RT_METRIC_HISTOGRAM, /* fixed buckets, _bucket{le} cumulative, _sum, _count */
} rt_metric_type_t;

/* One family, usually a row of a service's static const table. */
typedef struct {
    const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*; counters should end in _total */
    const char *help;
    rt_metric_type_t type;
    const char *labels[RT_METRICS_MAX_LABELS]; /* names, NULL after the last; none "le"
                                                  or starting with "__" */
    size_t max_series;     /* 1..RT_METRICS_MAX_SERIES; ignored (1) without labels */
    const double *buckets; /* histograms: strictly increasing finite upper bounds */
    size_t nbuckets;       /* 1..RT_METRICS_MAX_BUCKETS */
} rt_metric_desc_t;

/* Read at render time for a callback family (no labels). Must be
 * thread-safe: it runs on whichever thread renders (the metrics server's). */
typedef double (*rt_metric_fn)(void *arg);

/* Latency buckets in seconds, 0.0005 .. 10 (RT_METRICS_SECONDS_BUCKETS_N of them). */
#define RT_METRICS_SECONDS_BUCKETS_N 14
extern const double rt_metrics_seconds_buckets[RT_METRICS_SECONDS_BUCKETS_N];

/* An empty registry, or NULL when out of memory. */
rt_metrics_t *rt_metrics_new(void);

/* Frees the registry and every family and series (handles become
 * invalid). Nothing may use it concurrently: stop the server first. NULL-safe. */
void rt_metrics_destroy(rt_metrics_t **self_p);

/* Registers a family; returns its handle (owned by the registry), or NULL
 * when the description is invalid, the name is taken, the registry is full
 * or memory ran out. Thread-safe. */
rt_metric_family_t *rt_metrics_register(rt_metrics_t *m, const rt_metric_desc_t *desc);

/* Registers every row of a table, storing the handles in out[0..n) when
 * `out` is not NULL. Returns 0, or -1 at the first row that fails (the rows
 * before it stay registered; out[] from the failing row on is NULL). */
int rt_metrics_register_all(rt_metrics_t *m, const rt_metric_desc_t *descs, size_t n,
                            rt_metric_family_t **out);

/* Registers a counter or gauge without labels whose value is fn(arg) at
 * render time. Returns 0, or -1 (bad name or type, taken, full, no memory). */
int rt_metrics_register_fn(rt_metrics_t *m, const char *name, const char *help,
                           rt_metric_type_t type, rt_metric_fn fn, void *arg);

/* Registers process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds, read from /proc/self at render time.
 * Returns 0 or -1. */
int rt_metrics_register_process(rt_metrics_t *m);

/* Registers the gauge `<prefix>_build_info{version,service} 1`
 * (e.g. restc_build_info). Returns 0 or -1. */
int rt_metrics_register_build_info(rt_metrics_t *m, const char *prefix, const char *version,
                                   const char *service);

/* The series for the family's label values (`n` must equal the number of
 * label names; values are copied). Never NULL for a non-NULL family: a new
 * combination beyond max_series, a value longer than RT_METRICS_VALUE_MAX
 * or not UTF-8, a wrong `n` or no memory give the overflow series. The
 * handle lives as long as the registry. Thread-safe. */
rt_metric_series_t *rt_metric_series(rt_metric_family_t *f, const char *const *values, size_t n);

/* rt_metric_series with the values as arguments: RT_METRIC_SERIES(f, "GET /users/{id}", "2xx"). */
#define RT_METRIC_SERIES(f, ...)                                                                   \
    rt_metric_series((f), (const char *const[]){__VA_ARGS__},                                      \
                     sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* How many resolutions fell to the overflow series so far (0 for NULL). */
uint64_t rt_metric_family_overflows(const rt_metric_family_t *f);

/* The hot path. Each is a no-op for NULL; using one on a series of the
 * wrong type is a programmer error (assert). */
void rt_metric_counter_inc(rt_metric_series_t *s);
void rt_metric_counter_add(rt_metric_series_t *s, uint64_t n);
void rt_metric_gauge_set(rt_metric_series_t *s, double v);
void rt_metric_gauge_add(rt_metric_series_t *s, double delta); /* negative to subtract */
void rt_metric_observe(rt_metric_series_t *s, double v);       /* histograms; NaN is ignored */

/* A counter's or gauge's current value, a histogram's count (0 for NULL). */
double rt_metric_value(const rt_metric_series_t *s);

/* Renders the exposition into a heap buffer, NUL-terminated, which the
 * caller frees; *len_out excludes the NUL. Returns 0, or -1 when out of
 * memory or past RT_METRICS_RENDER_MAX. Thread-safe against updates,
 * resolutions and registrations. */
int rt_metrics_render(rt_metrics_t *m, char **text_out, size_t *len_out);

#endif
