/*
 * gw_app: wiring. Builds the backend pools (one per service, sized to twice
 * the loop threads; the loops call over their own sockets and use a pool
 * only where a call cannot wait on a coroutine, e.g. a health helper), a second pair for the
 * slow-route workers (sized to GATEWAY_SLOW_WORKERS, so a login flood never takes the clients the
 * fast routes need), hands them to the handlers through gw_ctx_t, and runs the graceful shutdown
 * sequence. Each service has one proto_outage, shared by both of its pools and, through them, by
 * every loop's link, so an outage is logged once per process however the calls are made.
 */
#include "gw_app.h"
#include "gw_docs.h"
#include "gw_http.h"
#include "rt_log.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>
#include <zmq.h>

#define GW_SHUTDOWN_POLL_MS 20

struct gw_app {
    const gw_config_t *cfg;
    void *zctx;
    proto_pool_t *authsvc;
    proto_pool_t *storesvc;
    proto_pool_t *authsvc_slow; /* clients of the slow-route workers */
    proto_pool_t *storesvc_slow;
    proto_outage_t *authsvc_outage; /* shared by both authsvc pools */
    proto_outage_t *storesvc_outage;
    gw_ctx_t ctx, slow_ctx;
    gw_http_t *http;
    rt_metrics_t *registry;
    gw_metrics_t *metrics;
    atomic_bool draining; /* gw_ctx_t.draining of both contexts */
    gw_route_t *routes;   /* the rows served: the table less the switched-off ones */
    size_t nroutes;
    gw_docs_t *docs; /* DOCS_ENABLED=true only */
};

/* Copies the rows of `routes` that the configuration serves into
 * self->routes: a row with one of these flags only while its switch is
 * on. */
static int select_routes(gw_app_t *self, const gw_route_t *routes, size_t n)
{
    const gw_config_t *cfg = self->cfg;
    const struct {
        unsigned flag;
        bool on;
    } switches[] = {
        {GW_ROUTE_DOCS, cfg->docs_enabled},
        {GW_ROUTE_PAGE, cfg->docs_enabled && cfg->docs_ui_dir && *cfg->docs_ui_dir},
    };
    if (!(self->routes = calloc(n ? n : 1, sizeof *self->routes)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        bool served = true;
        for (size_t k = 0; k < sizeof switches / sizeof switches[0]; k++)
            served = served && (!(routes[i].flags & switches[k].flag) || switches[k].on);
        if (served)
            self->routes[self->nroutes++] = routes[i];
    }
    return 0;
}

static int make_pools(gw_app_t *self)
{
    const gw_config_t *cfg = self->cfg;
    proto_limits_t lim = proto_limits_default();
    proto_limits_t files = proto_limits_files(); /* storesvc carries file parts and reads */
    int size = (int)cfg->threads * 2;
    self->authsvc =
        proto_pool_new(self->zctx, cfg->authsvc_endpoints, size, (int)cfg->rpc_timeout_ms, &lim);
    self->storesvc =
        proto_pool_new(self->zctx, cfg->storesvc_endpoints, size, (int)cfg->rpc_timeout_ms, &files);
    /* Clients are created lazily: the slow pair costs nothing until used. */
    int slow = (int)cfg->slow_workers;
    self->authsvc_slow =
        proto_pool_new(self->zctx, cfg->authsvc_endpoints, slow, (int)cfg->rpc_timeout_ms, &lim);
    self->storesvc_slow =
        proto_pool_new(self->zctx, cfg->storesvc_endpoints, slow, (int)cfg->rpc_timeout_ms, &files);
    self->authsvc_outage = proto_outage_new("authsvc");
    self->storesvc_outage = proto_outage_new("storesvc");
    if (!self->authsvc || !self->storesvc || !self->authsvc_slow || !self->storesvc_slow ||
        !self->authsvc_outage || !self->storesvc_outage)
        return -1;
    proto_pool_set_outage(self->authsvc, self->authsvc_outage);
    proto_pool_set_outage(self->authsvc_slow, self->authsvc_outage);
    proto_pool_set_outage(self->storesvc, self->storesvc_outage);
    proto_pool_set_outage(self->storesvc_slow, self->storesvc_outage);
    return 0;
}

gw_app_t *gw_app_new(const gw_config_t *cfg, const gw_route_t *routes, size_t nroutes)
{
    if (sodium_init() < 0) {
        rt_error(NULL, "libsodium failed to initialise");
        return NULL;
    }
    gw_app_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    if (!routes)
        routes = gw_route_table(&nroutes);
    if (select_routes(self, routes, nroutes) != 0)
        goto fail;
    routes = self->routes;
    nroutes = self->nroutes;
    char why[256];
    if (cfg->docs_enabled && !(self->docs = gw_docs_new(cfg, routes, nroutes, why, sizeof why))) {
        rt_error(NULL, "cannot serve the API documentation: %s", why);
        goto fail;
    }
    if (!(self->zctx = zmq_ctx_new()) || make_pools(self) != 0) {
        rt_error(NULL, "cannot create the backend RPC pools");
        goto fail;
    }
    atomic_init(&self->draining, false);
    self->ctx = (gw_ctx_t){.cfg = cfg,
                           .authsvc = self->authsvc,
                           .storesvc = self->storesvc,
                           .draining = &self->draining,
                           .docs = self->docs};
    self->slow_ctx = (gw_ctx_t){.cfg = cfg,
                                .authsvc = self->authsvc_slow,
                                .storesvc = self->storesvc_slow,
                                .draining = &self->draining,
                                .docs = self->docs};
    gw_http_options_t opt = {.cfg = cfg,
                             .routes = routes,
                             .nroutes = nroutes,
                             .ctx = &self->ctx,
                             .slow_ctx = &self->slow_ctx,
                             .zctx = self->zctx}; /* each loop's own sockets (gw_rpc) */
    if (!(self->http = gw_http_new(&opt))) {
        rt_error(NULL, "cannot create the HTTP server");
        goto fail;
    }
    if (!(self->registry = rt_metrics_new()) || rt_metrics_register_process(self->registry) != 0 ||
        rt_metrics_register_build_info(self->registry, "restc", RESTC_VERSION, "gateway") != 0 ||
        !(self->metrics =
              gw_metrics_new(self->registry, routes, nroutes, gw_http_metric_open_connections,
                             gw_http_metric_in_flight, self->http))) {
        rt_error(NULL, "cannot create the metrics registry");
        goto fail;
    }
    gw_http_set_metrics(self->http, self->metrics);
    return self;
fail:
    gw_app_destroy(&self);
    return NULL;
}

int gw_app_start(gw_app_t *self)
{
    return gw_http_start(self->http);
}

uint16_t gw_app_port(const gw_app_t *self)
{
    return self ? gw_http_port(self->http) : 0;
}

rt_metrics_t *gw_app_metrics(gw_app_t *self)
{
    return self ? self->registry : NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void gw_app_shutdown(gw_app_t *self, long grace_s)
{
    if (!self || !self->http)
        return;
    atomic_store(&self->draining, true); /* /readyz: 503 from now on */
    gw_http_quiesce(self->http);
    long waited_ms = 0;
    while (gw_http_in_flight(self->http) > 0 && waited_ms < grace_s * 1000) {
        sleep_ms(GW_SHUTDOWN_POLL_MS);
        waited_ms += GW_SHUTDOWN_POLL_MS;
    }
    int left = gw_http_in_flight(self->http);
    if (left > 0)
        rt_warn(NULL, "shutdown grace period over with %d request(s) in flight", left);
    gw_http_stop(self->http);
}

void gw_app_destroy(gw_app_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_app_t *self = *self_p;
    gw_http_destroy(&self->http); /* stops the loops first: no handler runs after this */
    gw_metrics_destroy(&self->metrics);
    rt_metrics_destroy(&self->registry);
    proto_pool_destroy(&self->authsvc);
    proto_pool_destroy(&self->storesvc);
    proto_pool_destroy(&self->authsvc_slow);
    proto_pool_destroy(&self->storesvc_slow);
    proto_outage_destroy(&self->authsvc_outage);
    proto_outage_destroy(&self->storesvc_outage);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    gw_docs_destroy(&self->docs);
    free(self->routes);
    free(self);
    *self_p = NULL;
}
