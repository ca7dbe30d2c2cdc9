/*
 * rt_metrics: families and series held in fixed-size tables, so memory is
 * bounded by what was declared at registration, and published with
 * release/acquire counters so readers (the hot path's lookups, rendering)
 * never take a lock; only registration and series creation do.
 *
 * A series' values are one cache-line-aligned block of SHARDS copies
 * (counters and histograms; a thread updates its own copy, rendering adds
 * them up): its value word first, then for histograms one counter per
 * bucket (not cumulative: rendering adds them up, so _count and the +Inf
 * bucket always agree). Doubles (gauges, histogram sums) live in 64-bit
 * atomics as their bit pattern and are added to with a compare-and-swap
 * loop.
 */
#include "rt_metrics.h"

#include "rt_log.h"
#include "rt_procstat.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64
#define KEY_CAP    (RT_METRICS_MAX_LABELS * (RT_METRICS_VALUE_MAX + 1))
#define NUM_CAP    32 /* a formatted double or uint64 */

const double rt_metrics_seconds_buckets[RT_METRICS_SECONDS_BUCKETS_N] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/* Counters and histograms are split into SHARDS copies, each on cache
 * lines of its own; a thread always updates the same copy (picked round
 * robin at its first update) and rendering adds them up, so threads that
 * count the same series do not bounce one cache line between cores.
 * Gauges (set semantics) live in shard 0 only. */
#define SHARDS 4

struct rt_metric_series {
    rt_metric_type_t type;
    uint32_t nbuckets;
    const double *bounds; /* the family's */
    uint64_t hash;        /* of `key` */
    char *key;            /* label values back to back, each NUL-terminated */
    size_t key_len;
    char *labels;  /* `name="value",...` escaped; "" without labels */
    size_t stride; /* words per shard, a whole number of cache lines */
    /* SHARDS x stride words: [0] counter: count; gauge: double bits;
     * histogram: sum bits; [1 .. nbuckets+1] histogram buckets, the last +Inf. */
    _Atomic uint64_t *cells;
};

static atomic_uint next_shard;
static _Thread_local unsigned my_shard_plus1; /* 0: not picked yet */

static unsigned my_shard(void)
{
    if (!my_shard_plus1)
        my_shard_plus1 =
            atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % SHARDS + 1;
    return my_shard_plus1 - 1;
}

static _Atomic uint64_t *cell(rt_metric_series_t *s, unsigned shard, size_t i)
{
    return &s->cells[shard * s->stride + i];
}

struct rt_metric_family {
    char *name;
    char *help; /* escaped for # HELP */
    rt_metric_type_t type;
    size_t nlabels;
    char *label_names[RT_METRICS_MAX_LABELS];
    double bounds[RT_METRICS_MAX_BUCKETS];
    char le[RT_METRICS_MAX_BUCKETS][NUM_CAP]; /* bounds formatted once */
    size_t nbuckets;
    rt_metric_fn fn; /* callback families have no series */
    void *fn_arg;
    size_t max_series;
    pthread_mutex_t lock;   /* serialises series creation */
    _Atomic size_t nseries; /* published entries of series[] and hashes[] */
    rt_metric_series_t **series;
    uint64_t *hashes;             /* series[i]->hash, dense: a lookup scans this, not the series */
    rt_metric_series_t *overflow; /* made at registration: resolving never fails */
    atomic_bool overflow_used;
    _Atomic uint64_t overflows;
};

struct rt_metrics {
    pthread_mutex_t lock;     /* serialises registration */
    _Atomic size_t nfamilies; /* published entries of families[] */
    rt_metric_family_t *families[RT_METRICS_MAX_FAMILIES];
};

/* ---- text building: a growing buffer whose first failure sticks ---- */

typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (n > RT_METRICS_RENDER_MAX - b->len) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_str(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Escapes backslash and newline, and the double quote when `quote`. */
static void put_escaped(buf_t *b, const char *s, bool quote)
{
    for (const char *run = s;; s++) {
        const char *esc = NULL;
        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (*s == '"' && quote)
            esc = "\\\"";
        else if (*s != '\0')
            continue;
        put(b, run, (size_t)(s - run));
        if (!esc)
            return;
        put_str(b, esc);
        run = s + 1;
    }
}

/* The shortest of %.15g..%.17g that reads back as `v`; Prometheus spells
 * the non-finite values NaN, +Inf and -Inf. */
static void fmt_double(double v, char out[NUM_CAP])
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, NUM_CAP, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void put_double(buf_t *b, double v)
{
    char t[NUM_CAP];
    fmt_double(v, t);
    put_str(b, t);
}

static void put_u64(buf_t *b, uint64_t v)
{
    char t[NUM_CAP];
    int n = snprintf(t, sizeof t, "%" PRIu64, v);
    put(b, t, (size_t)n);
}

/* ---- validation ---- */

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s || strlen(s) > RT_METRICS_NAME_MAX)
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* Well-formed UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t len;
        uint32_t min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            len = 2, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* `name` is `base` followed by one of a histogram's sample suffixes. */
static bool has_sample_suffix(const char *name, const char *base)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    size_t bl = base ? strlen(base) : 0;
    if (base && strncmp(name, base, bl) != 0)
        return false;
    size_t nl = strlen(name);
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(suffixes[i]);
        if (base ? strcmp(name + bl, suffixes[i]) == 0
                 : nl > sl && strcmp(name + nl - sl, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static size_t count_labels(const rt_metric_desc_t *d)
{
    size_t n = 0;
    while (n < RT_METRICS_MAX_LABELS && d->labels[n])
        n++;
    return n;
}

static bool valid_labels(const rt_metric_desc_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *l = d->labels[i];
        if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
            (d->type == RT_METRIC_HISTOGRAM && strcmp(l, "le") == 0))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(l, d->labels[j]) == 0)
                return false;
        }
    }
    return n == 0 || (d->max_series >= 1 && d->max_series <= RT_METRICS_MAX_SERIES);
}

static bool valid_buckets(const rt_metric_desc_t *d)
{
    if (d->type != RT_METRIC_HISTOGRAM)
        return d->buckets == NULL && d->nbuckets == 0;
    if (!d->buckets || d->nbuckets < 1 || d->nbuckets > RT_METRICS_MAX_BUCKETS)
        return false;
    for (size_t i = 0; i < d->nbuckets; i++) {
        if (!isfinite(d->buckets[i]) || (i > 0 && d->buckets[i] <= d->buckets[i - 1]))
            return false;
    }
    return true;
}

static bool valid_desc(const rt_metric_desc_t *d)
{
    if (!d || !valid_name(d->name, true) || !d->help || strlen(d->help) > RT_METRICS_HELP_MAX ||
        !valid_utf8((const unsigned char *)d->help, strlen(d->help)))
        return false;
    if (d->type != RT_METRIC_COUNTER && d->type != RT_METRIC_GAUGE &&
        d->type != RT_METRIC_HISTOGRAM)
        return false;
    if (d->type == RT_METRIC_HISTOGRAM && has_sample_suffix(d->name, NULL))
        return false;
    return valid_labels(d, count_labels(d)) && valid_buckets(d);
}

/* Two families would print a sample of the same name. */
static bool names_clash(const rt_metric_family_t *e, const char *name, rt_metric_type_t type)
{
    return strcmp(e->name, name) == 0 ||
           (e->type == RT_METRIC_HISTOGRAM && has_sample_suffix(name, e->name)) ||
           (type == RT_METRIC_HISTOGRAM && has_sample_suffix(e->name, name));
}

/* ---- series ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Packs the values into key (each NUL-terminated); -1 when one is NULL,
 * too long or not UTF-8. */
static int pack_key(const char *const *values, size_t n, char key[KEY_CAP], size_t *len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (!values[i])
            return -1;
        size_t l = strnlen(values[i], RT_METRICS_VALUE_MAX + 1);
        if (l > RT_METRICS_VALUE_MAX || !valid_utf8((const unsigned char *)values[i], l))
            return -1;
        memcpy(key + o, values[i], l + 1);
        o += l + 1;
    }
    *len = o;
    return 0;
}

/* `name="value",...` for the series' key, escaped. */
static char *label_text(const rt_metric_family_t *f, const char *key)
{
    buf_t b = {0};
    put(&b, "", 0);
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i > 0)
            put_str(&b, ",");
        put_str(&b, f->label_names[i]);
        put_str(&b, "=\"");
        put_escaped(&b, key, true);
        put_str(&b, "\"");
        key += strlen(key) + 1;
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void series_free(rt_metric_series_t *s)
{
    if (!s)
        return;
    free(s->key);
    free(s->labels);
    free(s->cells);
    free(s);
}

static rt_metric_series_t *series_new(const rt_metric_family_t *f, const char *key, size_t len)
{
    size_t nb = f->type == RT_METRIC_HISTOGRAM ? f->nbuckets + 1 : 0;
    size_t per_line = CACHE_LINE / sizeof(_Atomic uint64_t);
    rt_metric_series_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->stride = (1 + nb + per_line - 1) / per_line * per_line;
    size_t size = SHARDS * s->stride * sizeof(_Atomic uint64_t); /* a multiple of CACHE_LINE */
    s->cells = aligned_alloc(CACHE_LINE, size);
    if (!s->cells) {
        free(s);
        return NULL;
    }
    for (size_t i = 0; i < SHARDS * s->stride; i++)
        atomic_init(&s->cells[i], 0);
    s->type = f->type;
    s->nbuckets = (uint32_t)f->nbuckets;
    s->bounds = f->bounds;
    s->hash = fnv1a(key, len);
    s->key_len = len;
    s->key = malloc(len + 1);
    s->labels = label_text(f, key);
    if (!s->key || !s->labels) {
        series_free(s);
        return NULL;
    }
    memcpy(s->key, key, len);
    s->key[len] = '\0';
    return s;
}

static rt_metric_series_t *find_series(rt_metric_family_t *f, size_t from, size_t to,
                                       const char *key, size_t len, uint64_t hash)
{
    for (size_t i = from; i < to; i++) {
        if (f->hashes[i] != hash)
            continue;
        rt_metric_series_t *s = f->series[i];
        if (s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
    return NULL;
}

static rt_metric_series_t *overflowed(rt_metric_family_t *f)
{
    atomic_store_explicit(&f->overflow_used, true, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&f->overflows, 1, memory_order_relaxed) == 0)
        rt_warn(NULL, "metrics: %s holds its %zu series; further label values count as \"%s\"",
                f->name, f->max_series, RT_METRICS_OVERFLOW_VALUE);
    return f->overflow;
}

rt_metric_series_t *rt_metric_series(rt_metric_family_t *f, const char *const *values, size_t n)
{
    if (!f || f->fn)
        return NULL;
    if (f->nlabels == 0)
        return f->series[0];
    char key[KEY_CAP];
    size_t len = 0;
    if (n != f->nlabels || !values || pack_key(values, n, key, &len) != 0)
        return overflowed(f);
    if (len == f->overflow->key_len && memcmp(key, f->overflow->key, len) == 0) {
        atomic_store_explicit(&f->overflow_used, true, memory_order_relaxed);
        return f->overflow; /* asked for by name: not an overflow */
    }
    uint64_t hash = fnv1a(key, len);
    size_t seen = atomic_load_explicit(&f->nseries, memory_order_acquire);
    rt_metric_series_t *s = find_series(f, 0, seen, key, len, hash);
    if (s)
        return s;
    pthread_mutex_lock(&f->lock);
    size_t now = atomic_load_explicit(&f->nseries, memory_order_relaxed);
    s = find_series(f, seen, now, key, len, hash);
    if (!s && now < f->max_series) {
        s = series_new(f, key, len);
        if (s) {
            f->series[now] = s;
            f->hashes[now] = hash;
            atomic_store_explicit(&f->nseries, now + 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&f->lock);
    return s ? s : overflowed(f);
}

uint64_t rt_metric_family_overflows(const rt_metric_family_t *f)
{
    return f ? atomic_load_explicit(&f->overflows, memory_order_relaxed) : 0;
}

/* ---- the hot path ---- */

static uint64_t to_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double from_bits(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void add_double(_Atomic uint64_t *word, double delta)
{
    uint64_t old = atomic_load_explicit(word, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(word, &old, to_bits(from_bits(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void rt_metric_counter_inc(rt_metric_series_t *s)
{
    rt_metric_counter_add(s, 1);
}

void rt_metric_counter_add(rt_metric_series_t *s, uint64_t n)
{
    if (!s)
        return;
    assert(s->type == RT_METRIC_COUNTER);
    atomic_fetch_add_explicit(cell(s, my_shard(), 0), n, memory_order_relaxed);
}

void rt_metric_gauge_set(rt_metric_series_t *s, double v)
{
    if (!s)
        return;
    assert(s->type == RT_METRIC_GAUGE);
    atomic_store_explicit(cell(s, 0, 0), to_bits(v), memory_order_relaxed);
}

void rt_metric_gauge_add(rt_metric_series_t *s, double delta)
{
    if (!s)
        return;
    assert(s->type == RT_METRIC_GAUGE);
    add_double(cell(s, 0, 0), delta);
}

void rt_metric_observe(rt_metric_series_t *s, double v)
{
    if (!s || isnan(v))
        return;
    assert(s->type == RT_METRIC_HISTOGRAM);
    uint32_t i = 0;
    while (i < s->nbuckets && v > s->bounds[i])
        i++;
    unsigned shard = my_shard();
    atomic_fetch_add_explicit(cell(s, shard, 1 + i), 1, memory_order_relaxed);
    add_double(cell(s, shard, 0), v);
}

static uint64_t load(_Atomic uint64_t *word)
{
    return atomic_load_explicit(word, memory_order_relaxed);
}

/* Word i summed over the shards (counts). */
static uint64_t load_sum(rt_metric_series_t *s, size_t i)
{
    uint64_t n = 0;
    for (unsigned k = 0; k < SHARDS; k++)
        n += load(cell(s, k, i));
    return n;
}

/* A histogram's sum of observations, over the shards. */
static double load_sum_double(rt_metric_series_t *s)
{
    double d = 0;
    for (unsigned k = 0; k < SHARDS; k++)
        d += from_bits(load(cell(s, k, 0)));
    return d;
}

double rt_metric_value(const rt_metric_series_t *cs)
{
    rt_metric_series_t *s = (rt_metric_series_t *)cs; /* atomic loads take non-const */
    if (!s)
        return 0.0;
    if (s->type == RT_METRIC_GAUGE)
        return from_bits(load(cell(s, 0, 0)));
    if (s->type == RT_METRIC_COUNTER)
        return (double)load_sum(s, 0);
    uint64_t n = 0;
    for (uint32_t i = 0; i <= s->nbuckets; i++)
        n += load_sum(s, 1 + i);
    return (double)n;
}

/* ---- families and the registry ---- */

static void family_free(rt_metric_family_t *f)
{
    if (!f)
        return;
    size_t n = atomic_load_explicit(&f->nseries, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        series_free(f->series[i]);
    if (f->overflow != (f->series ? f->series[0] : NULL))
        series_free(f->overflow);
    free(f->series);
    free(f->hashes);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->label_names[i]);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static char *escaped_help(const char *help)
{
    buf_t b = {0};
    put(&b, "", 0);
    put_escaped(&b, help, false);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* The series a family starts with: the one series of an unlabelled family,
 * or the overflow series with every value RT_METRICS_OVERFLOW_VALUE. */
static int family_first_series(rt_metric_family_t *f)
{
    if (f->fn)
        return 0;
    if (f->nlabels == 0) {
        f->series[0] = series_new(f, "", 0);
        f->overflow = f->series[0];
        atomic_init(&f->nseries, 1);
        return f->overflow ? 0 : -1;
    }
    const char *values[RT_METRICS_MAX_LABELS];
    for (size_t i = 0; i < f->nlabels; i++)
        values[i] = RT_METRICS_OVERFLOW_VALUE;
    char key[KEY_CAP];
    size_t len = 0;
    pack_key(values, f->nlabels, key, &len);
    f->overflow = series_new(f, key, len);
    return f->overflow ? 0 : -1;
}

static rt_metric_family_t *family_new(const rt_metric_desc_t *d, rt_metric_fn fn, void *arg)
{
    rt_metric_family_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    atomic_init(&f->nseries, 0);
    atomic_init(&f->overflow_used, false);
    atomic_init(&f->overflows, 0);
    f->type = d->type;
    f->fn = fn;
    f->fn_arg = arg;
    f->nlabels = count_labels(d);
    f->max_series = f->nlabels ? d->max_series : 1;
    f->nbuckets = d->nbuckets;
    for (size_t i = 0; i < d->nbuckets; i++) {
        f->bounds[i] = d->buckets[i];
        fmt_double(d->buckets[i], f->le[i]);
    }
    f->name = strdup(d->name);
    f->help = escaped_help(d->help);
    if (!fn) {
        f->series = calloc(f->max_series, sizeof *f->series);
        f->hashes = calloc(f->max_series, sizeof *f->hashes);
    }
    bool ok = f->name && f->help && (fn || (f->series && f->hashes));
    for (size_t i = 0; ok && i < f->nlabels; i++) {
        f->label_names[i] = strdup(d->labels[i]);
        ok = f->label_names[i] != NULL;
    }
    if (!ok || family_first_series(f) != 0) {
        family_free(f);
        return NULL;
    }
    return f;
}

rt_metrics_t *rt_metrics_new(void)
{
    rt_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    atomic_init(&m->nfamilies, 0);
    return m;
}

void rt_metrics_destroy(rt_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_metrics_t *m = *self_p;
    size_t n = atomic_load_explicit(&m->nfamilies, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        family_free(m->families[i]);
    pthread_mutex_destroy(&m->lock);
    free(m);
    *self_p = NULL;
}

static rt_metric_family_t *add_family(rt_metrics_t *m, const rt_metric_desc_t *d, rt_metric_fn fn,
                                      void *arg)
{
    if (!m || !valid_desc(d))
        return NULL;
    rt_metric_family_t *f = family_new(d, fn, arg);
    if (!f)
        return NULL;
    pthread_mutex_lock(&m->lock);
    size_t n = atomic_load_explicit(&m->nfamilies, memory_order_relaxed);
    bool ok = n < RT_METRICS_MAX_FAMILIES;
    for (size_t i = 0; ok && i < n; i++)
        ok = !names_clash(m->families[i], f->name, f->type);
    if (ok) {
        m->families[n] = f;
        atomic_store_explicit(&m->nfamilies, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&m->lock);
    if (!ok) {
        family_free(f);
        return NULL;
    }
    return f;
}

rt_metric_family_t *rt_metrics_register(rt_metrics_t *m, const rt_metric_desc_t *desc)
{
    return add_family(m, desc, NULL, NULL);
}

int rt_metrics_register_all(rt_metrics_t *m, const rt_metric_desc_t *descs, size_t n,
                            rt_metric_family_t **out)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        rt_metric_family_t *f = rc == 0 ? rt_metrics_register(m, &descs[i]) : NULL;
        if (!f)
            rc = -1;
        if (out)
            out[i] = f;
    }
    return rc;
}

int rt_metrics_register_fn(rt_metrics_t *m, const char *name, const char *help,
                           rt_metric_type_t type, rt_metric_fn fn, void *arg)
{
    if (!fn || (type != RT_METRIC_COUNTER && type != RT_METRIC_GAUGE))
        return -1;
    const rt_metric_desc_t d = {name, help, type, {NULL}, 1, NULL, 0};
    return add_family(m, &d, fn, arg) ? 0 : -1;
}

/* ---- process and build information ---- */

typedef enum { P_CPU, P_RSS, P_VSIZE, P_FDS, P_MAXFDS, P_START } proc_field_t;

typedef struct {
    const char *name, *help;
    rt_metric_type_t type;
    proc_field_t field;
} proc_row_t;

/* The names and help texts of the Prometheus client libraries. */
static const proc_row_t proc_rows[] = {
    {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
     RT_METRIC_COUNTER, P_CPU},
    {"process_resident_memory_bytes", "Resident memory size in bytes.", RT_METRIC_GAUGE, P_RSS},
    {"process_virtual_memory_bytes", "Virtual memory size in bytes.", RT_METRIC_GAUGE, P_VSIZE},
    {"process_open_fds", "Number of open file descriptors.", RT_METRIC_GAUGE, P_FDS},
    {"process_max_fds", "Maximum number of open file descriptors.", RT_METRIC_GAUGE, P_MAXFDS},
    {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
     RT_METRIC_GAUGE, P_START},
};

static double proc_value(void *arg)
{
    const proc_row_t *row = arg;
    rt_procstat_t ps;
    if (rt_procstat_read(&ps) != 0)
        return NAN;
    switch (row->field) {
    case P_CPU:
        return ps.cpu_seconds;
    case P_RSS:
        return (double)ps.resident_bytes;
    case P_VSIZE:
        return (double)ps.virtual_bytes;
    case P_FDS:
        return (double)ps.open_fds;
    case P_MAXFDS:
        return (double)ps.max_fds;
    case P_START:
        return ps.start_time_s;
    }
    return NAN;
}

int rt_metrics_register_process(rt_metrics_t *m)
{
    for (size_t i = 0; i < sizeof proc_rows / sizeof proc_rows[0]; i++) {
        const proc_row_t *r = &proc_rows[i];
        if (rt_metrics_register_fn(m, r->name, r->help, r->type, proc_value, (void *)r) != 0)
            return -1;
    }
    return 0;
}

int rt_metrics_register_build_info(rt_metrics_t *m, const char *prefix, const char *version,
                                   const char *service)
{
    char name[RT_METRICS_NAME_MAX + 1];
    if (!prefix || !version || !service)
        return -1;
    int n = snprintf(name, sizeof name, "%s_build_info", prefix);
    if (n < 0 || (size_t)n >= sizeof name)
        return -1;
    const rt_metric_desc_t d = {name,
                                "The version and service of this build; always 1.",
                                RT_METRIC_GAUGE,
                                {"version", "service"},
                                1,
                                NULL,
                                0};
    rt_metric_family_t *f = rt_metrics_register(m, &d);
    if (!f)
        return -1;
    rt_metric_gauge_set(RT_METRIC_SERIES(f, version, service), 1);
    return 0;
}

/* ---- rendering ---- */

static const char *type_name(rt_metric_type_t t)
{
    return t == RT_METRIC_COUNTER ? "counter" : t == RT_METRIC_GAUGE ? "gauge" : "histogram";
}

static int cmp_series(const void *a, const void *b)
{
    const rt_metric_series_t *x = *(rt_metric_series_t *const *)a;
    const rt_metric_series_t *y = *(rt_metric_series_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* name[suffix]{labels[,le="bound"]} */
static void put_sample_name(buf_t *b, const rt_metric_family_t *f, const char *suffix,
                            const char *labels, const char *le)
{
    put_str(b, f->name);
    put_str(b, suffix);
    if (!*labels && !le)
        return;
    put_str(b, "{");
    put_str(b, labels);
    if (le) {
        put_str(b, *labels ? ",le=\"" : "le=\"");
        put_str(b, le);
        put_str(b, "\"");
    }
    put_str(b, "}");
}

static void render_histogram(buf_t *b, const rt_metric_family_t *f, rt_metric_series_t *s)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->nbuckets; i++) {
        cum += load_sum(s, 1 + i);
        put_sample_name(b, f, "_bucket", s->labels, i < f->nbuckets ? f->le[i] : "+Inf");
        put_str(b, " ");
        put_u64(b, cum);
        put_str(b, "\n");
    }
    put_sample_name(b, f, "_sum", s->labels, NULL);
    put_str(b, " ");
    put_double(b, load_sum_double(s));
    put_str(b, "\n");
    put_sample_name(b, f, "_count", s->labels, NULL);
    put_str(b, " ");
    put_u64(b, cum);
    put_str(b, "\n");
}

static void render_series(buf_t *b, const rt_metric_family_t *f, rt_metric_series_t *s)
{
    if (f->type == RT_METRIC_HISTOGRAM) {
        render_histogram(b, f, s);
        return;
    }
    put_sample_name(b, f, "", s->labels, NULL);
    put_str(b, " ");
    if (f->type == RT_METRIC_COUNTER)
        put_u64(b, load_sum(s, 0));
    else
        put_double(b, from_bits(load(cell(s, 0, 0))));
    put_str(b, "\n");
}

static void render_family(buf_t *b, rt_metric_family_t *f)
{
    put_str(b, "# HELP ");
    put_str(b, f->name);
    put_str(b, " ");
    put_str(b, f->help);
    put_str(b, "\n# TYPE ");
    put_str(b, f->name);
    put_str(b, " ");
    put_str(b, type_name(f->type));
    put_str(b, "\n");
    if (f->fn) {
        put_str(b, f->name);
        put_str(b, " ");
        put_double(b, f->fn(f->fn_arg));
        put_str(b, "\n");
        return;
    }
    rt_metric_series_t *order[RT_METRICS_MAX_SERIES + 1];
    size_t n = atomic_load_explicit(&f->nseries, memory_order_acquire);
    memcpy(order, f->series, n * sizeof order[0]);
    qsort(order, n, sizeof order[0], cmp_series);
    if (f->nlabels > 0 && atomic_load_explicit(&f->overflow_used, memory_order_relaxed))
        order[n++] = f->overflow; /* last, whatever its values sort as */
    for (size_t i = 0; i < n; i++)
        render_series(b, f, order[i]);
}

int rt_metrics_render(rt_metrics_t *m, char **text_out, size_t *len_out)
{
    if (!m || !text_out || !len_out)
        return -1;
    buf_t b = {0};
    put(&b, "", 0);
    size_t n = atomic_load_explicit(&m->nfamilies, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        render_family(&b, m->families[i]);
    if (b.failed) {
        free(b.p);
        return -1;
    }
    *text_out = b.p;
    *len_out = b.len;
    return 0;
}
