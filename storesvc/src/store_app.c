/*
 * store_app: wires the configuration, the object store and the handler
 * table into a proto_server, and runs the sweeper beside it. The ROUTER
 * takes frames as large as a file part (proto_limits_files). The ops that
 * move file bytes (the slow lane of the catalogue) run on their own
 * STORESVC_FILE_WORKERS, at most STORESVC_FILE_QUEUE waiting for one, so
 * account and metadata queries never wait behind uploads and downloads
 * stuck on a slow object store. Every worker holds a PostgreSQL connection.
 *
 * Metrics (METRICS_PORT not "off"): a registry with process_*,
 * restc_build_info{service="storesvc"}, the RPC server families
 * (proto_srvmetrics) and storesvc's own (store_metrics: the workers'
 * queries, the object store's requests). The server's observer counts and
 * logs one line per request; with "off" there is no registry and it only logs.
 */
#include "store_app.h"

#include "proto_server.h"
#include "proto_srvmetrics.h"
#include "rt_log.h"
#include "store_blob.h"
#include "store_handlers.h"
#include "store_sweep.h"

#include <stdlib.h>

struct store_app {
    const store_config_t *cfg;
    void *zctx;
    store_ctx_t ctx;
    proto_server_t *server;
    store_sweep_t *sweep;           /* NULL when SWEEP_INTERVAL_SECONDS=0 */
    rt_metrics_t *registry;         /* NULL with METRICS_PORT=off */
    proto_srvmetrics_t *srvmetrics; /* RPC server families; NULL when off */
    store_metrics_t *metrics;       /* storesvc families; NULL when off */
};

static int make_metrics(store_app_t *self)
{
    if (!self->cfg->metrics_at.enabled)
        return 0;
    if (!(self->registry = rt_metrics_new()) || rt_metrics_register_process(self->registry) != 0 ||
        rt_metrics_register_build_info(self->registry, "restc", RESTC_VERSION, "storesvc") != 0 ||
        !(self->srvmetrics = proto_srvmetrics_new(self->registry)) ||
        !(self->metrics = store_metrics_new(self->registry, store_blob_kind(self->ctx.blob),
                                            (int)(self->cfg->workers + self->cfg->file_workers)))) {
        rt_error(NULL, "cannot create the metrics registry");
        return -1;
    }
    self->ctx.metrics = self->metrics;
    store_blob_set_observer(self->ctx.blob, store_metrics_blob_observe, self->metrics);
    return 0;
}

/* Every frame the server reads: counted (when metrics are on), then logged. */
static void observe(void *arg, const proto_call_event_t *ev)
{
    store_app_t *self = arg;
    proto_srvmetrics_record(self->srvmetrics, ev);
    proto_srvmetrics_log(ev);
}

store_app_t *store_app_new(const store_config_t *cfg, void *zctx)
{
    if (!cfg || !zctx)
        return NULL;
    char err[256];
    store_app_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->zctx = zctx;
    self->ctx.cfg = cfg;
    store_blob_s3_opts_t s3 = store_config_s3(cfg);
    if (!(self->ctx.blob = store_blob_open(cfg->object_store_url, &s3, err, sizeof err))) {
        rt_error(NULL, "%s", err);
        free(self);
        return NULL;
    }
    if (make_metrics(self) != 0)
        store_app_destroy(&self);
    return self;
}

static proto_server_t *new_server(store_app_t *self)
{
    size_t n = 0;
    const proto_handler_t *table = store_handlers(&n);
    proto_server_config_t sc = {
        .bind = self->cfg->bind,
        .workers = (int)self->cfg->workers,
        .handlers = table,
        .nhandlers = n,
        .svc = &self->ctx,
        .worker_init = store_worker_init,
        .worker_fini = store_worker_fini,
        .limits = proto_limits_files(),
        .slow_workers = (int)self->cfg->file_workers,
        .slow_queue = (int)self->cfg->file_queue,
        .slow_max_wait_ms = (int)self->cfg->file_max_wait_ms,
        .observe = observe,
        .observe_arg = self,
    };
    return proto_server_new(self->zctx, &sc);
}

int store_app_start(store_app_t *self)
{
    if (!self || self->server)
        return -1;
    if (!(self->server = new_server(self))) {
        rt_error(NULL, "cannot create the RPC server");
        return -1;
    }
    proto_srvmetrics_attach(self->srvmetrics, self->server);
    if (proto_server_start(self->server) != 0) {
        rt_log_fields(RT_LOG_ERROR, NULL, "cannot listen",
                      json_pack("{s:s}", "endpoint", self->cfg->bind));
        proto_server_destroy(&self->server);
        return -1;
    }
    if (self->cfg->sweep_interval_s > 0) {
        self->sweep =
            store_sweep_new(self->cfg->database_url, self->cfg->db_timeout_ms, self->ctx.blob,
                            self->cfg->sweep_interval_s, self->cfg->pending_max_s);
        if (!self->sweep || store_sweep_start(self->sweep) != 0) {
            rt_error(NULL, "cannot start the sweeper");
            store_sweep_destroy(&self->sweep);
            proto_server_stop(self->server, 0);
            proto_server_destroy(&self->server);
            return -1;
        }
    }
    return 0;
}

rt_metrics_t *store_app_metrics(store_app_t *self)
{
    return self ? self->registry : NULL;
}

const char *store_app_endpoint(const store_app_t *self)
{
    return self && self->server ? proto_server_endpoint(self->server) : "";
}

void store_app_stop(store_app_t *self, int grace_ms)
{
    if (!self)
        return;
    store_sweep_destroy(&self->sweep); /* waits for a round in progress */
    if (self->server)
        proto_server_stop(self->server, grace_ms);
}

void store_app_destroy(store_app_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_app_t *self = *self_p;
    store_app_stop(self, 0);
    proto_srvmetrics_attach(self->srvmetrics, NULL);
    proto_server_destroy(&self->server);
    store_blob_destroy(&self->ctx.blob);
    store_metrics_destroy(&self->metrics);
    proto_srvmetrics_destroy(&self->srvmetrics);
    rt_metrics_destroy(&self->registry);
    free(self);
    *self_p = NULL;
}
