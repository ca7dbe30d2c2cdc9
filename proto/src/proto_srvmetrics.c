/*
 * proto_srvmetrics: RPC server families and the per-request log line (see
 * proto_srvmetrics.h).
 */
#include "proto_srvmetrics.h"

#include "rt_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define NOPS (PROTO_OP__COUNT + 1) /* the last row: no known op */

enum { F_REQUESTS, F_DURATION, F_DROPPED, F_REFUSED, F_WAIT, NF };

enum { DROP_ENVELOPE, DROP_UNDECODABLE, DROP__COUNT };

static const rt_metric_desc_t families[NF] = {
    [F_REQUESTS] = {"restc_rpc_requests_total",
                    "RPC requests answered, by catalogue op and outcome (ok or the error code)",
                    RT_METRIC_COUNTER,
                    {"op", "outcome", NULL},
                    RT_METRICS_MAX_SERIES,
                    NULL,
                    0},
    [F_DURATION] = {"restc_rpc_request_duration_seconds",
                    "Time from decoding an RPC request to its encoded reply, by op",
                    RT_METRIC_HISTOGRAM,
                    {"op", NULL},
                    NOPS,
                    rt_metrics_seconds_buckets,
                    RT_METRICS_SECONDS_BUCKETS_N},
    [F_DROPPED] = {"restc_rpc_dropped_frames_total",
                   "Frames that were no request: not a request envelope (dropped unanswered) "
                   "or undecodable (answered bad_request)",
                   RT_METRIC_COUNTER,
                   {"reason", NULL},
                   DROP__COUNT,
                   NULL,
                   0},
    [F_REFUSED] = {"restc_rpc_slow_refused_total",
                   "Slow-lane requests answered unavailable without running, by reason",
                   RT_METRIC_COUNTER,
                   {"reason", NULL},
                   PROTO_REFUSAL__COUNT,
                   NULL,
                   0},
    [F_WAIT] = {"restc_rpc_slow_queue_wait_seconds",
                "Time slow-lane requests waited in the queue for a slow worker",
                RT_METRIC_HISTOGRAM,
                {NULL},
                1,
                rt_metrics_seconds_buckets,
                RT_METRICS_SECONDS_BUCKETS_N},
};

static const char *const drop_names[DROP__COUNT] = {
    [DROP_ENVELOPE] = "envelope",
    [DROP_UNDECODABLE] = "undecodable",
};

static const char *const refusal_names[PROTO_REFUSAL__COUNT] = {
    [PROTO_REFUSAL_NONE] = "none",
    [PROTO_REFUSAL_BUSY] = "busy",
    [PROTO_REFUSAL_EXPIRED] = "expired",
    [PROTO_REFUSAL_SHUTDOWN] = "shutdown",
};

static const char *const lane_names[] = {[PROTO_LANE_FAST] = "fast", [PROTO_LANE_SLOW] = "slow"};

struct proto_srvmetrics {
    rt_metric_family_t *fam[NF];
    _Atomic(proto_server_t *) server;
    /* Resolved on first use (only ops a service answers get series):
     * [op][outcome], [op]. */
    _Atomic(rt_metric_series_t *) requests[NOPS][PROTO_ERR__COUNT];
    _Atomic(rt_metric_series_t *) duration[NOPS];
    rt_metric_series_t *dropped[DROP__COUNT];
    rt_metric_series_t *refused[PROTO_REFUSAL__COUNT];
    rt_metric_series_t *wait;
};

const char *proto_srvmetrics_op_label(proto_op_t op)
{
    return op >= 0 && op < PROTO_OP__COUNT ? proto_op_name(op) : PROTO_SRVMETRICS_UNKNOWN_OP;
}

static size_t op_row(proto_op_t op)
{
    return op >= 0 && op < PROTO_OP__COUNT ? (size_t)op : PROTO_OP__COUNT;
}

static double in_flight(void *arg)
{
    proto_srvmetrics_t *m = arg;
    return (double)proto_server_in_flight(atomic_load(&m->server));
}

static double queue_depth(void *arg)
{
    proto_srvmetrics_t *m = arg;
    return (double)proto_server_queued(atomic_load(&m->server));
}

proto_srvmetrics_t *proto_srvmetrics_new(rt_metrics_t *reg)
{
    if (!reg)
        return NULL;
    proto_srvmetrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    atomic_init(&m->server, NULL);
    for (size_t o = 0; o < NOPS; o++) {
        atomic_init(&m->duration[o], NULL);
        for (size_t e = 0; e < PROTO_ERR__COUNT; e++)
            atomic_init(&m->requests[o][e], NULL);
    }
    if (rt_metrics_register_all(reg, families, NF, m->fam) != 0 ||
        rt_metrics_register_fn(reg, "restc_rpc_requests_in_flight",
                               "RPC requests being handled now", RT_METRIC_GAUGE, in_flight,
                               m) != 0 ||
        rt_metrics_register_fn(reg, "restc_rpc_slow_queue_depth",
                               "Slow-lane requests waiting for a slow worker", RT_METRIC_GAUGE,
                               queue_depth, m) != 0)
        goto fail;
    for (int i = 0; i < DROP__COUNT; i++)
        m->dropped[i] = RT_METRIC_SERIES(m->fam[F_DROPPED], drop_names[i]);
    for (int i = PROTO_REFUSAL_BUSY; i < PROTO_REFUSAL__COUNT; i++)
        m->refused[i] = RT_METRIC_SERIES(m->fam[F_REFUSED], refusal_names[i]);
    m->wait = rt_metric_series(m->fam[F_WAIT], NULL, 0);
    return m;
fail:
    free(m);
    return NULL;
}

void proto_srvmetrics_destroy(proto_srvmetrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void proto_srvmetrics_attach(proto_srvmetrics_t *self, proto_server_t *srv)
{
    if (self)
        atomic_store(&self->server, srv);
}

/* The requests series for (op, err), resolved once. */
static rt_metric_series_t *request_series(proto_srvmetrics_t *m, proto_op_t op, proto_err_t err)
{
    size_t o = op_row(op);
    size_t e = err >= 0 && err < PROTO_ERR__COUNT ? (size_t)err : PROTO_ERR_INTERNAL_ERROR;
    rt_metric_series_t *s = atomic_load_explicit(&m->requests[o][e], memory_order_acquire);
    if (s)
        return s;
    /* Two threads may both resolve: the registry gives both the same series. */
    s = RT_METRIC_SERIES(m->fam[F_REQUESTS], proto_srvmetrics_op_label((int)o),
                         proto_err_code((proto_err_t)e));
    atomic_store_explicit(&m->requests[o][e], s, memory_order_release);
    return s;
}

/* The duration series of `op`, resolved once. */
static rt_metric_series_t *duration_series(proto_srvmetrics_t *m, proto_op_t op)
{
    size_t o = op_row(op);
    rt_metric_series_t *s = atomic_load_explicit(&m->duration[o], memory_order_acquire);
    if (s)
        return s;
    s = RT_METRIC_SERIES(m->fam[F_DURATION], proto_srvmetrics_op_label((int)o));
    atomic_store_explicit(&m->duration[o], s, memory_order_release);
    return s;
}

void proto_srvmetrics_record(proto_srvmetrics_t *m, const proto_call_event_t *ev)
{
    if (!m || !ev)
        return;
    switch (ev->kind) {
    case PROTO_CALL_DROPPED:
        rt_metric_counter_inc(m->dropped[DROP_ENVELOPE]);
        return;
    case PROTO_CALL_REFUSED:
        if (ev->refusal > PROTO_REFUSAL_NONE && ev->refusal < PROTO_REFUSAL__COUNT)
            rt_metric_counter_inc(m->refused[ev->refusal]);
        if (ev->refusal == PROTO_REFUSAL_EXPIRED)
            rt_metric_observe(m->wait, ev->queued_s);
        rt_metric_counter_inc(request_series(m, ev->op, ev->err));
        return;
    case PROTO_CALL_ANSWERED:
        if (!ev->decoded && ev->err == PROTO_ERR_BAD_REQUEST)
            rt_metric_counter_inc(m->dropped[DROP_UNDECODABLE]);
        if (ev->lane == PROTO_LANE_SLOW)
            rt_metric_observe(m->wait, ev->queued_s);
        rt_metric_counter_inc(request_series(m, ev->op, ev->err));
        rt_metric_observe(duration_series(m, ev->op), ev->seconds);
        return;
    }
}

/* Appends printf output to f[*n .. cap); false (f unchanged past *n) when it does not fit. */
static bool __attribute__((format(printf, 4, 5)))
put(char *f, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(f + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *n) {
        f[*n] = '\0';
        return false;
    }
    *n += (size_t)w;
    return true;
}

void proto_srvmetrics_log(const proto_call_event_t *ev)
{
    if (!ev || ev->kind == PROTO_CALL_DROPPED || !rt_log_enabled(RT_LOG_INFO))
        return;
    char f[256];
    size_t n = 0;
    bool slow = ev->lane == PROTO_LANE_SLOW;
    /* Every value is a catalogue name, an error code or a number: nothing to escape. */
    bool ok = put(f, sizeof f, &n,
                  "\"op\":\"%s\",\"outcome\":\"%s\",\"duration_ms\":%.3f,\"lane\":\"%s\"",
                  proto_srvmetrics_op_label(ev->op), proto_err_code(ev->err), ev->seconds * 1000.0,
                  lane_names[slow ? PROTO_LANE_SLOW : PROTO_LANE_FAST]);
    if (ok && ev->kind == PROTO_CALL_REFUSED && ev->refusal > PROTO_REFUSAL_NONE &&
        ev->refusal < PROTO_REFUSAL__COUNT)
        ok = put(f, sizeof f, &n, ",\"refused\":\"%s\"", refusal_names[ev->refusal]);
    if (ok && slow)
        ok = put(f, sizeof f, &n, ",\"queued_ms\":%.3f", ev->queued_s * 1000.0);
    rt_log_line(RT_LOG_INFO, ev->rid && ev->rid[0] ? ev->rid : NULL, "rpc", ok ? f : NULL);
}

void proto_srvmetrics_observe(void *arg, const proto_call_event_t *ev)
{
    proto_srvmetrics_record(arg, ev);
    proto_srvmetrics_log(ev);
}
