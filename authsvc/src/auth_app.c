/*
 * auth_app: wires the configuration, the storesvc client pool and the
 * handler table into a proto_server. The pool has one client per worker,
 * so a worker never waits for another to borrow a storesvc connection.
 */
#include "auth_app.h"

#include "auth_handlers.h"
#include "proto_client.h"
#include "proto_server.h"
#include "rt_log.h"

#include <stdlib.h>

struct auth_app {
    const auth_config_t *cfg;
    void *zctx;
    auth_ctx_t ctx;
    proto_pool_t *storesvc;
    proto_server_t *server;
};

auth_app_t *auth_app_new(const auth_config_t *cfg, void *zctx)
{
    if (!cfg || !zctx)
        return NULL;
    auth_app_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->zctx = zctx;
    proto_limits_t lim = proto_limits_default();
    self->storesvc = proto_pool_new(zctx, cfg->storesvc_endpoints, (int)cfg->workers,
                                    (int)cfg->rpc_timeout_ms, &lim);
    if (!self->storesvc) {
        rt_error(NULL, "cannot create the storesvc client pool");
        free(self);
        return NULL;
    }
    self->ctx.cfg = cfg;
    self->ctx.storesvc = self->storesvc;
    return self;
}

static proto_server_t *new_server(auth_app_t *self)
{
    size_t n = 0;
    const proto_handler_t *table = auth_handlers(&n);
    proto_server_config_t sc = {
        .bind = self->cfg->bind,
        .workers = (int)self->cfg->workers,
        .handlers = table,
        .nhandlers = n,
        .svc = &self->ctx,
        .limits = proto_limits_default(),
    };
    return proto_server_new(self->zctx, &sc);
}

int auth_app_start(auth_app_t *self)
{
    if (!self || self->server)
        return -1;
    if (!(self->server = new_server(self))) {
        rt_error(NULL, "cannot create the RPC server");
        return -1;
    }
    if (proto_server_start(self->server) != 0) {
        rt_log_fields(RT_LOG_ERROR, NULL, "cannot listen",
                      json_pack("{s:s}", "endpoint", self->cfg->bind));
        proto_server_destroy(&self->server);
        return -1;
    }
    return 0;
}

const char *auth_app_endpoint(const auth_app_t *self)
{
    return self && self->server ? proto_server_endpoint(self->server) : "";
}

void auth_app_stop(auth_app_t *self, int grace_ms)
{
    if (self && self->server)
        proto_server_stop(self->server, grace_ms);
}

void auth_app_destroy(auth_app_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_app_t *self = *self_p;
    auth_app_stop(self, 0);
    proto_server_destroy(&self->server);
    proto_pool_destroy(&self->storesvc);
    free(self);
    *self_p = NULL;
}
