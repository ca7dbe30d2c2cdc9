/*
 * store_handlers: the storesvc ops. Handlers are pure functions of the
 * decoded request and the worker's resources: they pack one reply map.
 *
 *   sys.ping   -> {"svc":"storesvc"}
 *   sys.health -> {"status":"ok"|"degraded",
 *                  "checks":{"database":"ok"|"down","objectstore":"ok"|"down"}}
 *
 * A degraded health is still a successful reply: the caller (the gateway's
 * readiness probe) decides what "down" means for it.
 *
 * The data ops live in their own modules: store_users (store.user_*),
 * store_tokens (store.token_*, store.sessions), store_totp (store.totp_*),
 * store_stats (store.stats), store_files (store.file_*), store_reset
 * (store.reset_*), store_apikeys (store.apikey_*). The objectstore check is
 * the backend's own (local: the directory is writable; S3: HeadBucket).
 */
#include "store_handlers.h"

#include "rt_log.h"
#include "store_files.h"
#include "store_apikeys.h"
#include "store_reset.h"
#include "store_stats.h"
#include "store_tokens.h"
#include "store_totp.h"
#include "store_users.h"

#include <stdio.h>
#include <stdlib.h>

static proto_err_t handle_ping(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    msgpack_pack_map(body, 1);
    proto_pack_kv_str(body, "svc", "storesvc");
    return PROTO_OK;
}

static proto_err_t handle_health(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail)
{
    const store_ctx_t *ctx = cc->svc;
    const store_worker_t *w = cc->worker;
    int db = w ? store_db_ping(w->db) : STORE_DB_DOWN;
    int obj = store_blob_check(ctx->blob);
    bool ok = db == STORE_DB_OK && obj == STORE_BLOB_OK;
    if (!ok)
        rt_log_fields(RT_LOG_DEBUG, req->rid, "health degraded",
                      json_pack("{s:s, s:s}", "database", store_db_status_str(db), "objectstore",
                                store_blob_status_str(obj)));
    msgpack_pack_map(body, 2);
    proto_pack_kv_str(
        body, "status",
        proto_val_name(PROTO_VALS_HEALTH, ok ? PROTO_HEALTH_OK : PROTO_HEALTH_DEGRADED));
    proto_pack_cstr(body, "checks");
    msgpack_pack_map(body, 2);
    proto_pack_kv_str(
        body, "database",
        proto_val_name(PROTO_VALS_CHECK, db == STORE_DB_OK ? PROTO_CHECK_OK : PROTO_CHECK_DOWN));
    proto_pack_kv_str(
        body, "objectstore",
        proto_val_name(PROTO_VALS_CHECK, obj == STORE_BLOB_OK ? PROTO_CHECK_OK : PROTO_CHECK_DOWN));
    return PROTO_OK;
}

static const proto_handler_t handlers[] = {
    {PROTO_OP_SYS_PING, handle_ping},
    {PROTO_OP_SYS_HEALTH, handle_health},
    {PROTO_OP_STORE_USER_CREATE, store_users_create},
    {PROTO_OP_STORE_USER_GET, store_users_get},
    {PROTO_OP_STORE_USER_LIST, store_users_list},
    {PROTO_OP_STORE_USER_FIND_LOGIN, store_users_find_login},
    {PROTO_OP_STORE_USER_AUTH_STATE, store_users_auth_state},
    {PROTO_OP_STORE_USER_UPDATE, store_users_update},
    {PROTO_OP_STORE_USER_SET_PASSWORD, store_users_set_password},
    {PROTO_OP_STORE_USER_REVOKE_ALL, store_users_revoke_all},
    {PROTO_OP_STORE_USER_DELETE, store_users_delete},
    {PROTO_OP_STORE_TOTP_GET, store_totp_get},
    {PROTO_OP_STORE_TOTP_SETUP, store_totp_setup},
    {PROTO_OP_STORE_TOTP_ENABLE, store_totp_enable},
    {PROTO_OP_STORE_TOTP_DISABLE, store_totp_disable},
    {PROTO_OP_STORE_TOTP_USE_STEP, store_totp_use_step},
    {PROTO_OP_STORE_TOTP_USE_BACKUP, store_totp_use_backup},
    {PROTO_OP_STORE_TOKEN_CREATE, store_tokens_create},
    {PROTO_OP_STORE_TOKEN_ROTATE, store_tokens_rotate},
    {PROTO_OP_STORE_TOKEN_REVOKE, store_tokens_revoke},
    {PROTO_OP_STORE_SESSIONS, store_tokens_sessions},
    {PROTO_OP_STORE_STATS, store_stats_get},
    {PROTO_OP_STORE_FILE_BEGIN, store_files_begin},
    {PROTO_OP_STORE_FILE_PART, store_files_part},
    {PROTO_OP_STORE_FILE_COMPLETE, store_files_complete},
    {PROTO_OP_STORE_FILE_ABORT, store_files_abort},
    {PROTO_OP_STORE_FILE_GET, store_files_get},
    {PROTO_OP_STORE_FILE_LIST, store_files_list},
    {PROTO_OP_STORE_FILE_READ, store_files_read},
    {PROTO_OP_STORE_FILE_DELETE, store_files_delete},
    {PROTO_OP_STORE_RESET_CREATE, store_reset_create},
    {PROTO_OP_STORE_RESET_CHECK, store_reset_check},
    {PROTO_OP_STORE_RESET_CONSUME, store_reset_consume},
    {PROTO_OP_STORE_APIKEY_CREATE, store_apikeys_create},
    {PROTO_OP_STORE_APIKEY_LIST, store_apikeys_list},
    {PROTO_OP_STORE_APIKEY_DELETE, store_apikeys_delete},
    {PROTO_OP_STORE_APIKEY_LOOKUP, store_apikeys_lookup},
    {PROTO_OP_STORE_APIKEY_TOUCH, store_apikeys_touch},
};

const proto_handler_t *store_handlers(size_t *n)
{
    *n = sizeof handlers / sizeof handlers[0];
    return handlers;
}

void *store_worker_init(void *svc, int index)
{
    const store_ctx_t *ctx = svc;
    char label[32];
    snprintf(label, sizeof label, "worker-%d", index);
    store_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->db = store_db_new(ctx->cfg->database_url, ctx->cfg->db_timeout_ms, label);
    if (!w->db) {
        free(w);
        return NULL;
    }
    store_db_hooks_t hooks = store_metrics_db_hooks(ctx->metrics);
    store_db_set_hooks(w->db, &hooks);
    (void)store_db_connect(w->db, 0); /* a failure is logged and retried on first use */
    return w;
}

void store_worker_fini(void *svc, void *worker)
{
    store_worker_t *w = worker;
    if (!w)
        return;
    store_db_destroy(&w->db);
    free(w);
}
