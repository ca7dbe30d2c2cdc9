/*
 * auth_handlers: the authsvc op table, and the two ops every service has
 * (the others live in auth_flows.c, auth_admit.c, auth_account.c,
 * auth_reset.c, auth_keys.c and auth_twofa.c;
 * proto/PROTOCOL.md documents them all).
 *
 *   sys.ping   -> {"svc":"authsvc"}
 *   sys.health -> {"status":"ok"|"degraded","checks":{"storesvc":"ok"|"down"}}
 *
 * The health probe is a storesvc sys.ping bounded by HEALTH_TIMEOUT_MS;
 * a degraded health is still a successful reply. Until the start-up work
 * is done (the owner bootstrap of OWNER_*), sys.health answers the error
 * unavailable instead: authsvc is alive (sys.ping answers) but not ready,
 * and every caller that checks readiness (the gateway's /readyz and
 * /api/v1/health) says so.
 */
#include "auth_handlers.h"

#include "auth_util.h"
#include "rt_log.h"

static proto_err_t handle_ping(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    const auth_ctx_t *ctx = cc->svc;
    msgpack_pack_map(body, 2);
    proto_pack_kv_str(body, "svc", "authsvc");
    /* Alive either way; ready once the start-up work is done (sys.health
     * says the same, but also waits for storesvc). */
    proto_pack_kv_bool(body, "ready", !ctx->started || atomic_load(ctx->started));
    return PROTO_OK;
}

static proto_err_t handle_health(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail)
{
    const auth_ctx_t *ctx = cc->svc;
    if (ctx->started && !atomic_load(ctx->started)) {
        auth_fail_msg(fail, "starting up: the owner account is not created yet");
        return PROTO_ERR_UNAVAILABLE;
    }
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
    proto_pack_kv_str(
        body, "status",
        proto_val_name(PROTO_VALS_HEALTH, store_ok ? PROTO_HEALTH_OK : PROTO_HEALTH_DEGRADED));
    proto_pack_cstr(body, "checks");
    msgpack_pack_map(body, 1);
    proto_pack_kv_str(
        body, "storesvc",
        proto_val_name(PROTO_VALS_CHECK, store_ok ? PROTO_CHECK_OK : PROTO_CHECK_DOWN));
    return PROTO_OK;
}

static const proto_handler_t handlers[] = {
    {PROTO_OP_SYS_PING, handle_ping},
    {PROTO_OP_SYS_HEALTH, handle_health},
    {PROTO_OP_AUTH_REGISTER, auth_op_register},
    {PROTO_OP_AUTH_TOKEN, auth_op_token},
    {PROTO_OP_AUTH_REFRESH, auth_op_refresh},
    {PROTO_OP_AUTH_LOGOUT, auth_op_logout},
    {PROTO_OP_AUTH_AUTHORIZE, auth_op_authorize},
    {PROTO_OP_AUTH_VERIFY, auth_op_verify},
    {PROTO_OP_AUTH_LOGOUT_ALL, auth_op_logout_all},
    {PROTO_OP_AUTH_SESSIONS, auth_op_sessions},
    {PROTO_OP_AUTH_SESSION_REVOKE, auth_op_session_revoke},
    {PROTO_OP_AUTH_UPDATE_SELF, auth_op_update_self},
    {PROTO_OP_AUTH_CHANGE_PASSWORD, auth_op_change_password},
    {PROTO_OP_AUTH_USER_UPDATE, auth_op_user_update},
    {PROTO_OP_AUTH_USER_DELETE, auth_op_user_delete},
    {PROTO_OP_AUTH_STATS, auth_op_stats},
    {PROTO_OP_AUTH_RESET_REQUEST, auth_op_reset_request},
    {PROTO_OP_AUTH_RESET_CONFIRM, auth_op_reset_confirm},
    {PROTO_OP_AUTH_APIKEY_CREATE, auth_op_apikey_create},
    {PROTO_OP_AUTH_APIKEY_LIST, auth_op_apikey_list},
    {PROTO_OP_AUTH_APIKEY_DELETE, auth_op_apikey_delete},
    {PROTO_OP_AUTH_TOTP_SETUP, auth_op_totp_setup},
    {PROTO_OP_AUTH_TOTP_ENABLE, auth_op_totp_enable},
    {PROTO_OP_AUTH_TOTP_DISABLE, auth_op_totp_disable},
};

const proto_handler_t *auth_handlers(size_t *n)
{
    *n = sizeof handlers / sizeof handlers[0];
    return handlers;
}
