/*
 * auth_account: ops on behalf of a principal that auth.authorize has
 * already admitted (actor_id, actor_role, actor_sid come from it): the
 * caller's sessions, profile and password, and user administration.
 *
 * Every op that changes what auth.authorize must know about a user
 * (role, active, "tokens valid after") invalidates that user's cache entry
 * after storesvc confirmed the change.
 *
 * Administration rules (the API contract leaves the finer points open; these are the
 * ones a careful operator expects): only an admin changes roles; a
 * moderator may enable or disable only user and viewer accounts; nobody
 * changes their own role or status through these ops (no accidental
 * lock-out, no self-promotion); nobody deletes themselves.
 */
#include "auth_admit.h"
#include "auth_password.h"
#include "proto_rbac.h"
#include "auth_strength.h"
#include "auth_util.h"
#include "rt_log.h"

#include <sodium.h>
#include <string.h>

#define ID_BUF PROTO_STR_BUF(PROTO_B_ID) /* an id as the wire allows it */

/* Packs the storesvc reply body as our reply (or {} for NULL). */
static void pass_through(msgpack_packer *pk, const proto_reply_t *rep)
{
    if (rep->body)
        auth_pack_object(pk, rep->body);
    else
        msgpack_pack_map(pk, 0);
}

/* ---- sessions ---- */

AUTH_HANDLER(auth_op_logout_all)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF];
    auth_body_t b;
    proto_reply_t rep;
    const proto_str_arg_t args[] = {{"actor_id", actor, sizeof actor, NULL}};
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 2);
    proto_pack_kv_str(&b.pk, "id", actor);
    proto_pack_kv_int(&b.pk, "at_ms", auth_now_ms());
    err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_USER_REVOKE_ALL, &b, &rep);
    auth_body_cleanup(&b);
    proto_reply_cleanup(&rep);
    if (err == PROTO_OK) {
        auth_user_forget(ctx, actor);
        rt_info(req->rid, "all sessions of a user revoked");
        msgpack_pack_map(body, 0);
    }
    return err;
}

/* The storesvc session list (Session maps) as AuthSession maps: each with
 * "current" added. */
static void pack_sessions(msgpack_packer *pk, const msgpack_object *list, const char *sid)
{
    const proto_shape_t *session = proto_shape(PROTO_SHAPE_SESSION);
    uint32_t n = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
    msgpack_pack_map(pk, 1);
    proto_pack_cstr(pk, "sessions");
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *s = &list->via.array.ptr[i];
        char id[ID_BUF];
        bool current = auth_copy_str(s, "id", id, sizeof id) == 0 && sid[0] && !strcmp(id, sid);
        msgpack_pack_map(pk, session->nkeys + 1);
        auth_pack_shape_fields(pk, s, session);
        proto_pack_kv_bool(pk, "current", current);
    }
}

AUTH_HANDLER(auth_op_sessions)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], sid[ID_BUF];
    auth_body_t b;
    proto_reply_t rep;
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"actor_sid", sid, sizeof sid, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    proto_pack_kv_str(&b.pk, "user_id", actor);
    err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_SESSIONS, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK)
        pack_sessions(body, proto_map_get(rep.body, "sessions"), sid);
    proto_reply_cleanup(&rep);
    return err;
}

AUTH_HANDLER(auth_op_session_revoke)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], session[ID_BUF];
    auth_body_t b;
    proto_reply_t rep;
    int64_t revoked = 0;
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"session_id", session, sizeof session, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 2);
    proto_pack_kv_str(&b.pk, "family_id", session);
    proto_pack_kv_str(&b.pk, "user_id", actor); /* scoped: only the actor's own */
    err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_TOKEN_REVOKE, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK && (proto_get_int(rep.body, "revoked", &revoked) != 0 || revoked <= 0)) {
        err = PROTO_ERR_NOT_FOUND;
        auth_fail_msg(fail, "No such session");
    }
    proto_reply_cleanup(&rep);
    if (err == PROTO_OK) {
        auth_user_forget(ctx, actor); /* its access tokens are refused from now on */
        msgpack_pack_map(body, 0);
    }
    return err;
}

/* ---- the caller's own account ---- */

AUTH_HANDLER(auth_op_update_self)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], email[PROTO_STR_BUF(PROTO_B_EMAIL)], name[PROTO_STR_BUF(PROTO_B_NAME)];
    char norm[AUTH_EMAIL_BUF], clean[AUTH_FULL_NAME_BUF];
    bool has_email = false, has_name = false;
    bool name_given = proto_body_given(req, "full_name") != PROTO_GIVEN_ABSENT; /* nil clears it */
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"email", email, sizeof email, &has_email},
        {"full_name", name, sizeof name, &has_name},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    if (has_email && auth_email_normalise(email, norm, sizeof norm) != 0) {
        auth_fail_field(fail, "email", "Email address is not valid");
        return PROTO_ERR_VALIDATION_ERROR;
    }
    if (has_name && auth_full_name_clean(name, clean, sizeof clean) != 0) {
        auth_fail_field(fail, "full_name", "Full name must be at most 100 characters of text");
        return PROTO_ERR_VALIDATION_ERROR;
    }
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1 + has_email + name_given);
    proto_pack_kv_str(&b.pk, "id", actor);
    if (has_email)
        proto_pack_kv_str(&b.pk, "email", norm);
    if (name_given) /* nil, or a name that cleans to nothing, clears it */
        proto_pack_kv_str(&b.pk, "full_name", has_name && clean[0] ? clean : NULL);
    err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_USER_UPDATE, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK)
        pass_through(body, &rep);
    else if (err == PROTO_ERR_CONFLICT)
        auth_fail_msg(fail, "Unable to update account with provided information");
    proto_reply_cleanup(&rep);
    return err;
}

/* The stored hash of a user, by id (two lookups: state for the username,
 * then the login record; password changes are rare). */
proto_err_t auth_stored_hash(const auth_ctx_t *ctx, const char *rid, const char *id,
                             auth_cache_user_t *st, char *hash, size_t cap)
{
    auth_body_t b;
    proto_reply_t rep;
    char got_id[ID_BUF];
    proto_err_t err = auth_user_state(ctx, rid, id, st);
    if (err != PROTO_OK)
        return err == PROTO_ERR_NOT_FOUND ? PROTO_ERR_UNAUTHORIZED : err;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    proto_pack_kv_str(&b.pk, "login", st->username);
    err = auth_store_call(ctx, rid, PROTO_OP_STORE_USER_FIND_LOGIN, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK &&
        (auth_copy_str(rep.body, "id", got_id, sizeof got_id) != 0 || strcmp(got_id, id) != 0 ||
         auth_copy_str(rep.body, "password_hash", hash, cap) != 0))
        err = PROTO_ERR_INTERNAL_ERROR;
    proto_reply_cleanup(&rep);
    return err;
}

static proto_err_t store_new_password(const auth_ctx_t *ctx, const char *rid, const char *id,
                                      const char *sid, const char *hash)
{
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 4 + (sid[0] != '\0'));
    proto_pack_kv_str(&b.pk, "id", id);
    proto_pack_kv_str(&b.pk, "password_hash", hash);
    proto_pack_kv_bool(&b.pk, "revoke_sessions", true);
    proto_pack_kv_int(&b.pk, "at_ms", auth_now_ms());
    if (sid[0])
        proto_pack_kv_str(&b.pk, "keep_family", sid);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_USER_SET_PASSWORD, &b, &rep);
    auth_body_cleanup(&b);
    proto_reply_cleanup(&rep);
    return err;
}

/* Checks the current password and the new one's strength. Guesses of the
 * current password go through the login limiter, keyed by the user, so a
 * stolen access token cannot be used to brute-force the password. */
static proto_err_t check_change(const auth_ctx_t *ctx, const char *rid, const char *actor,
                                const char *current, const char *next, auth_cache_user_t *st,
                                proto_fail_t *fail)
{
    char hash[AUTH_HASH_ENCODED_MAX + 1], key[AUTH_KEY_BUF];
    int retry = 0;
    bool started = false;
    auth_key_user(key, actor);
    if (auth_limiter_begin(ctx->login_limiter, key, &retry) != AUTH_LIMITER_ALLOWED) {
        fail->retry_after = retry;
        auth_fail_msg(fail, "Too many failed attempts. Please try again later.");
        return PROTO_ERR_LOGIN_RATE_LIMITED;
    }
    proto_err_t err = auth_stored_hash(ctx, rid, actor, st, hash, sizeof hash);
    auth_limiter_outcome_t outcome = AUTH_LIMITER_NEUTRAL;
    if (err == PROTO_OK) {
        bool ok = auth_hash_verify(ctx->hash, hash, current) == AUTH_HASH_MATCH;
        outcome = ok ? AUTH_LIMITER_SUCCESS : AUTH_LIMITER_FAILURE;
        if (!ok) {
            err = PROTO_ERR_INVALID_PASSWORD;
            auth_fail_msg(fail, "Current password is incorrect");
        }
    }
    auth_limiter_end(ctx->login_limiter, key, outcome, &started);
    if (started)
        rt_warn(rid, "password changes of a user blocked after repeated wrong passwords");
    if (err == PROTO_OK)
        err = auth_password_acceptable(ctx, rid, next, st->username, "new_password", fail);
    return err;
}

AUTH_HANDLER(auth_op_change_password)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], sid[ID_BUF];
    char current[PROTO_STR_BUF(PROTO_B_PASSWORD)], next[PROTO_STR_BUF(PROTO_B_PASSWORD)];
    char hash[AUTH_HASH_ENCODED_BUF];
    auth_cache_user_t st;
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"actor_sid", sid, sizeof sid, NULL},
        {"current_password", current, sizeof current, NULL},
        {"new_password", next, sizeof next, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err == PROTO_OK)
        err = check_change(ctx, req->rid, actor, current, next, &st, fail);
    if (err == PROTO_OK)
        err = auth_hash_password(ctx->hash, next, hash, sizeof hash) == 0
                  ? store_new_password(ctx, req->rid, actor, sid, hash)
                  : PROTO_ERR_INTERNAL_ERROR;
    if (err == PROTO_OK) {
        auth_user_forget(ctx, actor);
        rt_info(req->rid, "password changed; other sessions revoked");
        msgpack_pack_map(body, 0);
    }
    sodium_memzero(current, sizeof current);
    sodium_memzero(next, sizeof next);
    return err;
}

/* ---- administration ---- */

/* The refusal text of each administration rule of proto_rbac. */
static const char *const admin_refusals[] = {
    [PROTO_ADMIN_SELF] = "You cannot change your own role or status",
    [PROTO_ADMIN_ROLE_DENIED] = "Only an admin can change roles",
    [PROTO_ADMIN_TARGET_DENIED] = "Only an admin can change admin and moderator accounts",
};

/* May `actor` (with `actor_role`) apply this change to `target`? */
static proto_err_t admin_rule(const char *actor, proto_role_t actor_role, const char *target,
                              proto_role_t target_role, bool role_change, proto_fail_t *fail)
{
    proto_admin_rule_t rule =
        proto_rbac_may_change(actor_role, target_role, role_change, strcmp(actor, target) == 0);
    if (rule == PROTO_ADMIN_OK)
        return PROTO_OK;
    auth_fail_msg(fail, admin_refusals[rule]);
    return PROTO_ERR_FORBIDDEN;
}

AUTH_HANDLER(auth_op_user_update)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], actor_role_s[PROTO_STR_BUF(PROTO_B_ROLE)], id[ID_BUF];
    char role_s[PROTO_STR_BUF(PROTO_B_ROLE)];
    bool active = false, has_role = false, has_active = false;
    auth_cache_user_t target;
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"actor_role", actor_role_s, sizeof actor_role_s, NULL},
        {"id", id, sizeof id, NULL},
        {"role", role_s, sizeof role_s, &has_role},
    };
    const proto_bool_arg_t flags[] = {{"is_active", &active, &has_active}};
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err == PROTO_OK)
        err = proto_body_bools(req, flags, AUTH_NARGS(flags), fail);
    if (err != PROTO_OK)
        return err;
    if (has_role && proto_role_parse(role_s) == PROTO_ROLE_INVALID) {
        auth_fail_field(fail, "role", "role must be one of admin, moderator, user, viewer");
        return PROTO_ERR_VALIDATION_ERROR;
    }
    err = auth_user_state(ctx, req->rid, id, &target);
    if (err == PROTO_OK)
        err = admin_rule(actor, proto_role_parse(actor_role_s), id, target.role, has_role, fail);
    if (err != PROTO_OK)
        return err;
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1 + has_role + has_active);
    proto_pack_kv_str(&b.pk, "id", id);
    if (has_role)
        proto_pack_kv_str(&b.pk, "role", role_s);
    if (has_active)
        proto_pack_kv_bool(&b.pk, "is_active", active);
    err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_USER_UPDATE, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK) {
        auth_user_forget(ctx, id);
        rt_log_fields(RT_LOG_INFO, req->rid, "user updated by an administrator",
                      json_pack("{s:s, s:s, s:s}", "event", "user_updated", "actor_id", actor,
                                "user_id", id));
        pass_through(body, &rep);
    }
    proto_reply_cleanup(&rep);
    return err;
}

AUTH_HANDLER(auth_op_user_delete)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], id[ID_BUF];
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"id", id, sizeof id, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    if (strcmp(actor, id) == 0) {
        auth_fail_msg(fail, "You cannot delete your own account");
        return PROTO_ERR_CANNOT_DELETE_SELF;
    }
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    proto_pack_kv_str(&b.pk, "id", id);
    err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_USER_DELETE, &b, &rep);
    auth_body_cleanup(&b);
    proto_reply_cleanup(&rep);
    if (err == PROTO_OK) {
        auth_user_forget(ctx, id);
        rt_log_fields(RT_LOG_INFO, req->rid, "user deleted by an administrator",
                      json_pack("{s:s, s:s, s:s}", "event", "user_deleted", "actor_id", actor,
                                "user_id", id));
        msgpack_pack_map(body, 0);
    }
    return err;
}

AUTH_HANDLER(auth_op_stats)
{
    const auth_ctx_t *ctx = cc->svc;
    const proto_shape_t *stats = proto_shape(PROTO_SHAPE_STATS);
    proto_reply_t rep;
    proto_err_t err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_STATS, NULL, &rep);
    if (err == PROTO_OK) { /* storesvc's Stats and our own count */
        msgpack_pack_map(body, stats->nkeys + 1);
        auth_pack_shape_fields(body, rep.body, stats);
        proto_pack_kv_int(body, "blocked_sources",
                          (int64_t)auth_limiter_blocked_count(ctx->login_limiter));
    }
    proto_reply_cleanup(&rep);
    return err;
}
