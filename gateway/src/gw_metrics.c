/*
 * gw_metrics: families and pre-resolved handles (see gw_metrics.h).
 */
#include "gw_metrics.h"
#include "gw_files.h"

#include <stdlib.h>

#define CLASSES     5 /* 1xx .. 5xx */
#define UNMATCHED   "unmatched"
#define ROUTES_MAX  128
#define BACKEND_OPS PROTO_OP__COUNT

enum { F_REQUESTS, F_DURATION, F_BYTES_IN, F_BYTES_OUT, F_REFUSED, F_BACKEND, F_BACKEND_FAIL, NF };

static const rt_metric_desc_t families[NF] = {
    [F_REQUESTS] = {"restc_http_requests_total",
                    "HTTP requests answered, by route template, method and status class",
                    RT_METRIC_COUNTER,
                    {"route", "method", "status", NULL},
                    (ROUTES_MAX + 1) * CLASSES,
                    NULL,
                    0},
    [F_DURATION] = {"restc_http_request_duration_seconds",
                    "Time from the first byte of a request to the end of its answer, by route",
                    RT_METRIC_HISTOGRAM,
                    {"route", "method", NULL},
                    ROUTES_MAX + 1,
                    rt_metrics_seconds_buckets,
                    RT_METRICS_SECONDS_BUCKETS_N},
    [F_BYTES_IN] = {"restc_http_received_bytes_total",
                    "Request bytes read (heads and bodies)",
                    RT_METRIC_COUNTER,
                    {NULL},
                    1,
                    NULL,
                    0},
    [F_BYTES_OUT] = {"restc_http_sent_bytes_total",
                     "Response bytes written (heads and bodies)",
                     RT_METRIC_COUNTER,
                     {NULL},
                     1,
                     NULL,
                     0},
    [F_REFUSED] = {"restc_http_refused_total",
                   "Connections closed at once or requests cut off, by reason",
                   RT_METRIC_COUNTER,
                   {"reason", NULL},
                   GW_REFUSED__COUNT,
                   NULL,
                   0},
    [F_BACKEND] = {"restc_backend_call_duration_seconds",
                   "Backend calls over ZeroMQ, by service and op, until their reply or deadline",
                   RT_METRIC_HISTOGRAM,
                   {"service", "op", NULL},
                   GW_BACKEND__COUNT *BACKEND_OPS,
                   rt_metrics_seconds_buckets,
                   RT_METRICS_SECONDS_BUCKETS_N},
    [F_BACKEND_FAIL] = {"restc_backend_call_failures_total",
                        "Backend calls that ended unavailable (no reply in time, no peer, "
                        "undecodable), by service and op",
                        RT_METRIC_COUNTER,
                        {"service", "op", NULL},
                        GW_BACKEND__COUNT *BACKEND_OPS,
                        NULL,
                        0},
};

static const char *const refused_names[GW_REFUSED__COUNT] = {
    [GW_REFUSED_LIMIT] = "limit",
    [GW_REFUSED_PER_IP] = "per_ip",
    [GW_REFUSED_INBOX] = "inbox",
    [GW_REFUSED_DEADLINE] = "deadline",
};

static const char *const backend_names[GW_BACKEND__COUNT] = {
    [GW_BACKEND_AUTHSVC] = "authsvc",
    [GW_BACKEND_STORESVC] = "storesvc",
};

struct gw_metrics {
    rt_metric_family_t *fam[NF];
    size_t nroutes;
    /* [route][class]; the last route row is "unmatched". */
    rt_metric_series_t *requests[ROUTES_MAX + 1][CLASSES];
    rt_metric_series_t *duration[ROUTES_MAX + 1];
    rt_metric_series_t *bytes_in, *bytes_out;
    rt_metric_series_t *refused[GW_REFUSED__COUNT];
    rt_metric_series_t *backend[GW_BACKEND__COUNT][BACKEND_OPS];
    rt_metric_series_t *backend_fail[GW_BACKEND__COUNT][BACKEND_OPS];
};

static void resolve_routes(gw_metrics_t *m, const gw_route_t *routes)
{
    static const char *const classes[CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t r = 0; r <= m->nroutes; r++) {
        const char *route = r < m->nroutes ? routes[r].pattern : UNMATCHED;
        const char *method = r < m->nroutes ? routes[r].method : "any";
        for (int k = 0; k < CLASSES; k++)
            m->requests[r][k] = RT_METRIC_SERIES(m->fam[F_REQUESTS], route, method, classes[k]);
        m->duration[r] = RT_METRIC_SERIES(m->fam[F_DURATION], route, method);
    }
}

static void resolve_backends(gw_metrics_t *m)
{
    for (int s = 0; s < GW_BACKEND__COUNT; s++) {
        for (int op = 0; op < BACKEND_OPS; op++) {
            const char *name = proto_op_name((proto_op_t)op);
            m->backend[s][op] = RT_METRIC_SERIES(m->fam[F_BACKEND], backend_names[s], name);
            m->backend_fail[s][op] =
                RT_METRIC_SERIES(m->fam[F_BACKEND_FAIL], backend_names[s], name);
        }
    }
}

gw_metrics_t *gw_metrics_new(rt_metrics_t *reg, const gw_route_t *routes, size_t nroutes,
                             rt_metric_fn open_conns, rt_metric_fn in_flight, void *arg)
{
    if (!reg || !routes || nroutes > ROUTES_MAX)
        return NULL;
    gw_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nroutes = nroutes;
    if (rt_metrics_register_all(reg, families, NF, m->fam) != 0 ||
        rt_metrics_register_fn(reg, "restc_http_open_connections", "Open HTTP connections",
                               RT_METRIC_GAUGE, open_conns, arg) != 0 ||
        rt_metrics_register_fn(reg, "restc_http_requests_in_flight",
                               "Requests received and not yet answered", RT_METRIC_GAUGE, in_flight,
                               arg) != 0 ||
        rt_metrics_register_fn(reg, "restc_download_readahead_bytes",
                               "Bytes of file downloads read ahead of the client "
                               "(GATEWAY_DOWNLOAD_READAHEAD_MIB)",
                               RT_METRIC_GAUGE, gw_files_readahead_bytes, NULL) != 0) {
        free(m);
        return NULL;
    }
    resolve_routes(m, routes);
    resolve_backends(m);
    m->bytes_in = rt_metric_series(m->fam[F_BYTES_IN], NULL, 0);
    m->bytes_out = rt_metric_series(m->fam[F_BYTES_OUT], NULL, 0);
    for (int i = 0; i < GW_REFUSED__COUNT; i++)
        m->refused[i] = RT_METRIC_SERIES(m->fam[F_REFUSED], refused_names[i]);
    return m;
}

void gw_metrics_destroy(gw_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p); /* the series belong to the registry */
    *self_p = NULL;
}

void gw_metrics_request(gw_metrics_t *m, int route, int status, double seconds, uint64_t bytes_in,
                        uint64_t bytes_out)
{
    if (!m)
        return;
    size_t r = (route >= 0 && (size_t)route < m->nroutes) ? (size_t)route : m->nroutes;
    int k = status / 100 - 1;
    if (k >= 0 && k < CLASSES)
        rt_metric_counter_inc(m->requests[r][k]);
    rt_metric_observe(m->duration[r], seconds);
    rt_metric_counter_add(m->bytes_in, bytes_in);
    rt_metric_counter_add(m->bytes_out, bytes_out);
}

void gw_metrics_refused(gw_metrics_t *m, gw_refused_t why)
{
    if (m && why >= 0 && why < GW_REFUSED__COUNT)
        rt_metric_counter_inc(m->refused[why]);
}

void gw_metrics_backend(gw_metrics_t *m, gw_backend_t svc, proto_op_t op, bool failed,
                        double seconds)
{
    if (!m || svc < 0 || svc >= GW_BACKEND__COUNT || op < 0 || op >= BACKEND_OPS)
        return;
    rt_metric_observe(m->backend[svc][op], seconds);
    if (failed)
        rt_metric_counter_inc(m->backend_fail[svc][op]);
}
