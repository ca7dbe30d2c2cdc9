/*
 * auth_admit: auth.authorize and auth.verify, and the user-state lookup
 * behind them (see auth_admit.h).
 *
 * auth.authorize, in order: identity (an access token or an API key ->
 * principal, or anonymous), then the API rate limit keyed by that identity
 * (a key counts in its owner's bucket, like the owner's tokens; a caller
 * with a bad credential is counted against its address, so hammering with
 * forged tokens or keys is limited too), then the verdict on the identity
 * (401), then what a key may not do (403: session_only routes, and
 * permissions the key does not carry), then RBAC (403). A request that
 * presents both a token and a key is refused (401): which one would speak
 * for it is not for us to guess. With count_rate false (an internal caller
 * checking a request that was counted already) nothing is counted and the
 * reply has no "rate": identity and permission only.
 */
#include "auth_admit.h"

#include "auth_keys.h"

#include "proto_rbac.h"
#include "rt_log.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

/* Seconds added to the window of revoked sessions: the clocks of authsvc
 * and PostgreSQL may disagree a little. */
#define REVOKED_MARGIN_S 60

/* Seconds a revoked session stays listed: as long as an access token
 * issued just before the revocation is accepted (lifetime and clock
 * leeway), plus a margin for clocks that disagree a little. */
static long revoked_window_s(const auth_ctx_t *ctx)
{
    return ctx->cfg->access_ttl_min * 60 + ctx->cfg->jwt_leeway_s + REVOKED_MARGIN_S;
}

/* The revoked sessions of a store.user_auth_state reply into `out`: each
 * listed id; and, when more were revoked than listed, every token issued up
 * to the newest unlisted revocation is dead (through valid_after_ms), the
 * tokens of live sessions issued before it too: refusing too much, never
 * too little. -1 when malformed. */
static int take_revoked(const msgpack_object *body, auth_cache_user_t *out)
{
    const msgpack_object *list = proto_map_get(body, "revoked_sids");
    int64_t cut = 0;
    if (!list || list->type != MSGPACK_OBJECT_ARRAY ||
        list->via.array.size > AUTH_CACHE_REVOKED_MAX)
        return -1;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *v = &list->via.array.ptr[i];
        char sid[RT_UUID_BUF];
        if (v->type != MSGPACK_OBJECT_STR || v->via.str.size != RT_UUID_STRLEN)
            return -1;
        memcpy(sid, v->via.str.ptr, RT_UUID_STRLEN);
        sid[RT_UUID_STRLEN] = '\0';
        if (rt_uuid_parse(sid, out->revoked[out->nrevoked++]) != 0)
            return -1;
    }
    if (proto_map_get(body, "revoked_cut_ms")) {
        if (proto_get_int(body, "revoked_cut_ms", &cut) != 0 || cut < 0 || cut == INT64_MAX)
            return -1;
        if (cut + 1 > out->valid_after_ms) /* valid from the next millisecond on */
            out->valid_after_ms = cut + 1;
    }
    return 0;
}

static proto_err_t fetch_state(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                               auth_cache_user_t *out)
{
    auth_body_t b;
    proto_reply_t rep;
    char role[AUTH_JWT_ROLE_MAX + 1];
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 3);
    proto_pack_kv_str(&b.pk, "id", user_id);
    proto_pack_kv_int(&b.pk, "revoked_within_s", revoked_window_s(ctx));
    proto_pack_kv_int(&b.pk, "revoked_max", AUTH_CACHE_REVOKED_MAX);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_USER_AUTH_STATE, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK) {
        memset(out, 0, sizeof *out);
        int64_t va = 0;
        bool bad = auth_copy_str(rep.body, "username", out->username, sizeof out->username) != 0 ||
                   auth_copy_str(rep.body, "role", role, sizeof role) != 0 ||
                   proto_get_bool(rep.body, "is_active", &out->is_active) != 0 ||
                   proto_get_int(rep.body, "valid_after_ms", &va) != 0 ||
                   (out->role = proto_role_parse(role)) == PROTO_ROLE_INVALID;
        out->valid_after_ms = va; /* take_revoked may move it on */
        if (bad || take_revoked(rep.body, out) != 0) {
            rt_error(rid, "store.user_auth_state: malformed reply");
            err = PROTO_ERR_INTERNAL_ERROR;
        }
    }
    proto_reply_cleanup(&rep);
    return err;
}

proto_err_t auth_user_state(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                            auth_cache_user_t *out)
{
    if (ctx->cache && auth_cache_get(ctx->cache, user_id, out) == 0)
        return PROTO_OK;
    /* Remember the generation before asking, so a change made while we ask
     * (and its invalidation) is not overwritten by our stale answer. */
    uint64_t gen = ctx->cache ? auth_cache_generation(ctx->cache, user_id) : 0;
    proto_err_t err = fetch_state(ctx, rid, user_id, out);
    if (err == PROTO_OK && ctx->cache)
        (void)auth_cache_put_if_current(ctx->cache, user_id, out, gen);
    return err;
}

void auth_user_forget(const auth_ctx_t *ctx, const char *user_id)
{
    if (ctx->cache)
        (void)auth_cache_invalidate(ctx->cache, user_id);
}

proto_err_t auth_authenticate(const auth_ctx_t *ctx, const char *rid, const char *token,
                              auth_principal_t *out)
{
    memset(out, 0, sizeof *out);
    auth_jwt_status_t st = auth_vcache_verify(ctx->vcache, ctx->jwt, token, &out->claims);
    if (st != AUTH_JWT_OK) {
        rt_debug(rid, "access token refused: %s", auth_jwt_status_str(st));
        return st == AUTH_JWT_INTERNAL ? PROTO_ERR_INTERNAL_ERROR : PROTO_ERR_UNAUTHORIZED;
    }
    proto_err_t err = auth_user_state(ctx, rid, out->claims.sub, &out->user);
    if (err == PROTO_ERR_NOT_FOUND)
        return PROTO_ERR_UNAUTHORIZED; /* the user was deleted */
    if (err != PROTO_OK)
        return err;
    const char *why = !out->user.is_active                                      ? "disabled"
                      : out->claims.iat_ms < out->user.valid_after_ms           ? "revoked"
                      : auth_cache_session_revoked(&out->user, out->claims.sid) ? "session revoked"
                                                                                : NULL;
    if (why) {
        rt_debug(rid, "access token refused: %s", why);
        return PROTO_ERR_UNAUTHORIZED;
    }
    return PROTO_OK;
}

/* ---- auth.authorize ---- */

static void pack_principal(msgpack_packer *pk, const auth_principal_t *p, const auth_rate_t *rate,
                           const char *key_id)
{
    msgpack_pack_map(pk, 6 + auth_rate_entries(rate) + (key_id != NULL));
    if (key_id)
        proto_pack_kv_str(pk, "api_key_id", key_id);
    proto_pack_kv_bool(pk, "anonymous", false);
    proto_pack_kv_str(pk, "user_id", p->claims.sub);
    proto_pack_kv_str(pk, "username", p->user.username);
    proto_pack_kv_str(pk, "role", proto_role_name(p->user.role));
    proto_pack_kv_str(pk, "sid", p->claims.sid);
    proto_pack_kv_int(pk, "exp", p->claims.exp);
    auth_pack_rate(pk, rate);
}

/* Who the request is: a bearer token, an API key (kp), or nobody. */
static proto_err_t identify(const auth_ctx_t *ctx, const char *rid, const char *credential,
                            const char *api_key, auth_principal_t *p, auth_key_principal_t *kp)
{
    if (credential[0] && api_key[0])
        return PROTO_ERR_UNAUTHORIZED; /* two credentials: neither is trusted */
    if (api_key[0]) {
        proto_err_t err = auth_keys_authenticate(ctx, rid, api_key, kp);
        *p = kp->p;
        return err;
    }
    return credential[0] ? auth_authenticate(ctx, rid, credential, p) : PROTO_ERR_UNAUTHORIZED;
}

/* What a principal that passed may not do: 403 with the reason, or OK. */
static proto_err_t verdict(const auth_principal_t *p, const auth_key_principal_t *kp, bool by_key,
                           bool session_only, bool has_perm, proto_perm_t perm, proto_fail_t *fail)
{
    if (by_key && session_only) {
        auth_fail_msg(fail, "An API key cannot do this: sign in with a password");
        return PROTO_ERR_FORBIDDEN;
    }
    if (has_perm && !proto_rbac_allows(p->user.role, perm)) {
        auth_fail_msg(fail, "Your role does not allow this");
        return PROTO_ERR_FORBIDDEN;
    }
    if (has_perm && by_key && !auth_keys_allows(kp, perm)) {
        auth_fail_msg(fail, "This API key does not carry the permission");
        return PROTO_ERR_FORBIDDEN;
    }
    return PROTO_OK;
}

AUTH_HANDLER(auth_op_authorize)
{
    const auth_ctx_t *ctx = cc->svc;
    char credential[PROTO_STR_BUF(PROTO_B_JWT)], ip[PROTO_STR_BUF(PROTO_B_IP)];
    char perm_name[PROTO_STR_BUF(PROTO_B_PERM)], key[AUTH_KEY_BUF];
    char api_key[PROTO_STR_BUF(PROTO_B_APIKEY)];
    bool session_only = false, count_rate = true;
    const proto_str_arg_t args[] = {
        {"credential", credential, sizeof credential, NULL},
        {"client_ip", ip, sizeof ip, NULL},
        {"permission", perm_name, sizeof perm_name, NULL},
        {"api_key", api_key, sizeof api_key, NULL},
    };
    const proto_bool_arg_t flags[] = {
        {"session_only", &session_only, NULL},
        {"count_rate", &count_rate, NULL},
    };
    proto_err_t derr = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (derr == PROTO_OK)
        derr = proto_body_bools(req, flags, AUTH_NARGS(flags), fail);
    if (derr != PROTO_OK)
        return derr;
    /* A credential given but empty is no credential (anonymous). One that is
     * too long to be a token is a bad token: auth_authenticate refuses it. */
    bool has_cred = credential[0] != '\0' || api_key[0] != '\0';
    bool by_key = api_key[0] != '\0';
    proto_perm_t perm = perm_name[0] ? proto_perm_parse(perm_name) : PROTO_PERM_INVALID;
    if (perm_name[0] && perm == PROTO_PERM_INVALID) {
        auth_fail_msg(fail, "unknown permission");
        return PROTO_ERR_BAD_REQUEST; /* a caller bug, not the client's */
    }

    auth_principal_t p;
    auth_key_principal_t kp;
    memset(&kp, 0, sizeof kp);
    proto_err_t who = identify(ctx, req->rid, credential, api_key, &p, &kp);
    sodium_memzero(api_key, sizeof api_key);
    if (who != PROTO_OK && who != PROTO_ERR_UNAUTHORIZED)
        return who; /* storesvc down: 503, not 401 */
    if (who == PROTO_OK)
        auth_key_user(key, p.claims.sub);
    else
        auth_key_ip(key, ip);

    auth_rate_t rate = {.on = false}; /* not counted: no "rate" in the reply */
    proto_err_t err =
        count_rate ? auth_rate_check(ctx->api_limit, key, ctx->cfg->rate_limit_per_min, &rate, fail)
                   : PROTO_OK;
    if (err != PROTO_OK)
        return err;
    if (who != PROTO_OK && (has_cred || perm_name[0] || session_only)) {
        auth_fail_msg(fail, !has_cred ? "Authentication required"
                            : by_key  ? "Invalid, expired or revoked API key"
                                      : "Invalid or expired token");
        return PROTO_ERR_UNAUTHORIZED;
    }
    if (who != PROTO_OK) { /* anonymous, and nothing required */
        msgpack_pack_map(body, 1 + auth_rate_entries(&rate));
        proto_pack_kv_bool(body, "anonymous", true);
        auth_pack_rate(body, &rate);
        return PROTO_OK;
    }
    if ((err = verdict(&p, &kp, by_key, session_only, perm_name[0] != '\0', perm, fail)) !=
        PROTO_OK)
        return err;
    pack_principal(body, &p, &rate, by_key ? kp.key_id : NULL);
    return PROTO_OK;
}

/* ---- auth.verify ---- */

AUTH_HANDLER(auth_op_verify)
{
    const auth_ctx_t *ctx = cc->svc;
    char token[PROTO_STR_BUF(PROTO_B_JWT)];
    auth_principal_t p;
    const proto_str_arg_t args[] = {{"token", token, sizeof token, NULL}};
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    err = auth_authenticate(ctx, req->rid, token, &p);
    if (err != PROTO_OK) {
        if (err == PROTO_ERR_UNAUTHORIZED)
            auth_fail_msg(fail, "Invalid or expired token");
        return err;
    }
    msgpack_pack_map(body, 6);
    proto_pack_kv_str(body, "user_id", p.claims.sub);
    proto_pack_kv_str(body, "username", p.user.username);
    proto_pack_kv_str(body, "role", proto_role_name(p.user.role));
    proto_pack_kv_str(body, "sid", p.claims.sid);
    proto_pack_kv_int(body, "exp", p.claims.exp);
    proto_pack_kv_str(body, "jti", p.claims.jti);
    return PROTO_OK;
}
