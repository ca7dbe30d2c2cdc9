/*
 * auth_handlers: the authsvc ops.
 *
 *   sys.ping   -> {"svc":"authsvc"}
 *   sys.health -> {"status":"ok"|"degraded","checks":{"storesvc":"ok"|"down"}}
 *
 * The health probe is a storesvc sys.ping bounded by HEALTH_TIMEOUT_MS;
 * a degraded health is still a successful reply.
 */
#include "auth_handlers.h"

#include "rt_log.h"

static proto_err_t handle_ping(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    msgpack_pack_map(body, 1);
    proto_pack_kv_str(body, "svc", "authsvc");
    return PROTO_OK;
}

static proto_err_t handle_health(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail)
{
    const auth_ctx_t *ctx = cc->svc;
    proto_reply_t rep;
    proto_reply_init(&rep);
    proto_err_t err = proto_pool_call(ctx->storesvc, PROTO_OP_SYS_PING, req->rid, NULL, 0, &rep,
                                      (int)ctx->cfg->health_timeout_ms);
    proto_reply_cleanup(&rep);
    bool store_ok = err == PROTO_OK;
    if (!store_ok)
        rt_log_fields(RT_LOG_DEBUG, req->rid, "health degraded",
                      json_pack("{s:s}", "storesvc", proto_err_code(err)));
    msgpack_pack_map(body, 2);
    proto_pack_kv_str(body, "status", store_ok ? "ok" : "degraded");
    proto_pack_cstr(body, "checks");
    msgpack_pack_map(body, 1);
    proto_pack_kv_str(body, "storesvc", store_ok ? "ok" : "down");
    return PROTO_OK;
}

static const proto_handler_t handlers[] = {
    {PROTO_OP_SYS_PING, handle_ping},
    {PROTO_OP_SYS_HEALTH, handle_health},
};

const proto_handler_t *auth_handlers(size_t *n)
{
    *n = sizeof handlers / sizeof handlers[0];
    return handlers;
}
