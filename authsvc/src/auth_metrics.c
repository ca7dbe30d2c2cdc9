/*
 * auth_metrics: authsvc's families (see auth_metrics.h).
 */
#include "auth_metrics.h"

#include <stdatomic.h>
#include <stdlib.h>

#define NOPS (PROTO_OP__COUNT + 1)

enum { F_LOGINS, F_BLOCKS, F_VERIFY, F_RATE, NF };

enum { V_AUTHORIZE, V_VERIFY, V__COUNT };

static const rt_metric_desc_t families[NF] = {
    [F_LOGINS] = {"restc_auth_logins_total",
                  "Logins (auth.token), by outcome: ok or the error code answered",
                  RT_METRIC_COUNTER,
                  {"outcome", NULL},
                  PROTO_ERR__COUNT,
                  NULL,
                  0},
    [F_BLOCKS] = {"restc_auth_login_limiter_blocks_total",
                  "Logins refused by the login limiters (per source or per account)",
                  RT_METRIC_COUNTER,
                  {NULL},
                  1,
                  NULL,
                  0},
    [F_VERIFY] = {"restc_auth_token_verifications_total",
                  "Access token and API key checks (auth.authorize, auth.verify), by result",
                  RT_METRIC_COUNTER,
                  {"op", "result", NULL},
                  V__COUNT *PROTO_ERR__COUNT,
                  NULL,
                  0},
    [F_RATE] = {"restc_auth_rate_limited_total",
                "Requests refused by the API rate limits (rate_limited), by op",
                RT_METRIC_COUNTER,
                {"op", NULL},
                NOPS,
                NULL,
                0},
};

struct auth_metrics {
    rt_metric_family_t *fam[NF];
    const auth_ctx_t *ctx;
    rt_metric_series_t *blocks;
    _Atomic(rt_metric_series_t *) logins[PROTO_ERR__COUNT];
    _Atomic(rt_metric_series_t *) verify[V__COUNT][PROTO_ERR__COUNT];
    _Atomic(rt_metric_series_t *) rate[NOPS];
};

/* ---- read at render time ---- */

static double blocked_sources(void *arg)
{
    const auth_ctx_t *c = arg;
    return (double)auth_limiter_blocked_count(c->login_limiter);
}

static double user_hits(void *arg)
{
    uint64_t h, m;
    auth_cache_lookups(((const auth_ctx_t *)arg)->cache, &h, &m);
    return (double)h;
}

static double user_misses(void *arg)
{
    uint64_t h, m;
    auth_cache_lookups(((const auth_ctx_t *)arg)->cache, &h, &m);
    return (double)m;
}

static double token_hits(void *arg)
{
    auth_vcache_stats_t st;
    auth_vcache_stats(((const auth_ctx_t *)arg)->vcache, &st);
    return (double)st.hits;
}

static double token_misses(void *arg)
{
    auth_vcache_stats_t st;
    auth_vcache_stats(((const auth_ctx_t *)arg)->vcache, &st);
    return (double)st.misses;
}

static double apikey_hits(void *arg)
{
    uint64_t h, m;
    auth_keycache_lookups(((const auth_ctx_t *)arg)->keycache, &h, &m);
    return (double)h;
}

static double apikey_misses(void *arg)
{
    uint64_t h, m;
    auth_keycache_lookups(((const auth_ctx_t *)arg)->keycache, &h, &m);
    return (double)m;
}

static double mail_depth(void *arg)
{
    return (double)auth_jobq_pending(((const auth_ctx_t *)arg)->jobq);
}

static double mail_dropped(void *arg)
{
    return (double)auth_jobq_dropped(((const auth_ctx_t *)arg)->jobq);
}

typedef struct {
    const char *name, *help;
    rt_metric_type_t type;
    rt_metric_fn fn;
} fn_row_t;

static const fn_row_t fn_rows[] = {
    {"restc_auth_login_blocked_sources", "Sources the login limiter blocks now", RT_METRIC_GAUGE,
     blocked_sources},
    {"restc_auth_user_cache_hits_total", "User state cache (auth_cache) lookups answered from it",
     RT_METRIC_COUNTER, user_hits},
    {"restc_auth_user_cache_misses_total", "User state cache (auth_cache) lookups that missed",
     RT_METRIC_COUNTER, user_misses},
    {"restc_auth_token_cache_hits_total",
     "Verified access token cache (auth_vcache) lookups answered from it", RT_METRIC_COUNTER,
     token_hits},
    {"restc_auth_token_cache_misses_total",
     "Verified access token cache (auth_vcache) lookups fully verified", RT_METRIC_COUNTER,
     token_misses},
    {"restc_auth_apikey_cache_hits_total", "API key cache (auth_keycache) lookups answered from it",
     RT_METRIC_COUNTER, apikey_hits},
    {"restc_auth_apikey_cache_misses_total", "API key cache (auth_keycache) lookups that missed",
     RT_METRIC_COUNTER, apikey_misses},
    {"restc_auth_mail_queue_depth", "Password-reset mail jobs waiting (auth_jobq)", RT_METRIC_GAUGE,
     mail_depth},
    {"restc_auth_mail_queue_dropped_total",
     "Password-reset mail jobs refused because the queue was full (auth_jobq)", RT_METRIC_COUNTER,
     mail_dropped},
};

auth_metrics_t *auth_metrics_new(rt_metrics_t *reg, const auth_ctx_t *ctx)
{
    if (!reg || !ctx)
        return NULL;
    auth_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ctx = ctx;
    for (size_t e = 0; e < PROTO_ERR__COUNT; e++) {
        atomic_init(&m->logins[e], NULL);
        for (size_t v = 0; v < V__COUNT; v++)
            atomic_init(&m->verify[v][e], NULL);
    }
    for (size_t o = 0; o < NOPS; o++)
        atomic_init(&m->rate[o], NULL);
    if (rt_metrics_register_all(reg, families, NF, m->fam) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof fn_rows / sizeof fn_rows[0]; i++) {
        if (rt_metrics_register_fn(reg, fn_rows[i].name, fn_rows[i].help, fn_rows[i].type,
                                   fn_rows[i].fn, (void *)ctx) != 0)
            goto fail;
    }
    m->blocks = rt_metric_series(m->fam[F_BLOCKS], NULL, 0);
    return m;
fail:
    free(m);
    return NULL;
}

void auth_metrics_destroy(auth_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static size_t err_index(proto_err_t err)
{
    return err >= 0 && err < PROTO_ERR__COUNT ? (size_t)err : PROTO_ERR_INTERNAL_ERROR;
}

/* Resolves slot `*slot` of family `f` once; values are static strings. */
static rt_metric_series_t *cached(_Atomic(rt_metric_series_t *) *slot, rt_metric_family_t *f,
                                  const char *const *values, size_t n)
{
    rt_metric_series_t *s = atomic_load_explicit(slot, memory_order_acquire);
    if (!s) {
        s = rt_metric_series(f, values, n);
        atomic_store_explicit(slot, s, memory_order_release);
    }
    return s;
}

void auth_metrics_record(auth_metrics_t *m, const proto_call_event_t *ev)
{
    if (!m || !ev || ev->kind == PROTO_CALL_DROPPED)
        return;
    size_t e = err_index(ev->err);
    const char *outcome = proto_err_code((proto_err_t)e);
    if (ev->op == PROTO_OP_AUTH_TOKEN) {
        const char *v[] = {outcome};
        rt_metric_counter_inc(cached(&m->logins[e], m->fam[F_LOGINS], v, 1));
        if (ev->err == PROTO_ERR_LOGIN_RATE_LIMITED)
            rt_metric_counter_inc(m->blocks);
    } else if (ev->op == PROTO_OP_AUTH_AUTHORIZE || ev->op == PROTO_OP_AUTH_VERIFY) {
        int k = ev->op == PROTO_OP_AUTH_AUTHORIZE ? V_AUTHORIZE : V_VERIFY;
        const char *v[] = {proto_op_name(ev->op), outcome};
        rt_metric_counter_inc(cached(&m->verify[k][e], m->fam[F_VERIFY], v, 2));
    }
    if (ev->err == PROTO_ERR_RATE_LIMITED) {
        size_t o = ev->op >= 0 && ev->op < PROTO_OP__COUNT ? (size_t)ev->op : PROTO_OP__COUNT;
        const char *v[] = {o < PROTO_OP__COUNT ? proto_op_name((proto_op_t)o) : "unknown"};
        rt_metric_counter_inc(cached(&m->rate[o], m->fam[F_RATE], v, 1));
    }
}
