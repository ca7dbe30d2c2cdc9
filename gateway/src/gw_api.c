/*
 * gw_api: building op bodies, calling the pools, turning replies into
 * answers and problems. Replies are converted to JSON once (proto_to_json)
 * and handlers work on jansson values only.
 */
#include "gw_api.h"
#include "gw_cookie.h"
#include "gw_problem.h"
#include "gw_query.h"
#include "gw_rpc.h"
#include "proto_json.h"
#include "rt_log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- answer shapes ---- */

const gw_key_t gw_shape_user[] = {
    GW_KEY("id", ID),
    GW_KEY("username", STRING),
    GW_KEY("email", STRING),
    GW_KEY("full_name", STRING_OR_NULL),
    GW_KEY("role", STRING),
    GW_KEY("is_active", BOOL),
    GW_KEY("totp_enabled", BOOL),
    GW_KEY("created_at", TIME),
    GW_KEY_END,
};
const gw_key_t gw_shape_user_list[] = {
    GW_KEYS("users", OBJECTS, gw_shape_user),
    GW_KEY("total", INTEGER),
    GW_KEY("page", INTEGER),
    GW_KEY("per_page", INTEGER),
    GW_KEY("pages", INTEGER),
    GW_KEY_END,
};
static const gw_key_t shape_session[] = {
    GW_KEY("id", ID),
    GW_KEY("created_at", TIME),
    GW_KEY("last_used_at", TIME),
    GW_KEY("client_ip", STRING),
    GW_KEY("user_agent", STRING_OR_NULL),
    GW_KEY("current", BOOL),
    GW_KEY_END,
};
const gw_key_t gw_shape_sessions[] = {GW_KEYS("sessions", OBJECTS, shape_session), GW_KEY_END};
const gw_key_t gw_shape_stats[] = {
    GW_KEY("users", INTEGER),           GW_KEY("files", INTEGER),
    GW_KEY("bytes_stored", INTEGER),    GW_KEY("active_sessions", INTEGER),
    GW_KEY("blocked_sources", INTEGER), GW_KEY_END,
};
const gw_key_t gw_shape_file[] = {
    GW_KEY("id", ID),
    GW_KEY("name", STRING),
    GW_KEY("content_type", STRING),
    GW_KEY("size", INTEGER),
    GW_KEY("sha256", STRING),
    GW_KEY("owner_id", ID),
    GW_KEY("created_at", TIME),
    GW_KEY_END,
};
const gw_key_t gw_shape_file_list[] = {
    GW_KEYS("files", OBJECTS, gw_shape_file),
    GW_KEY("total", INTEGER),
    GW_KEY("page", INTEGER),
    GW_KEY("per_page", INTEGER),
    GW_KEY("pages", INTEGER),
    GW_KEY_END,
};
const gw_key_t gw_shape_token[] = {
    GW_KEY("access_token", STRING),        GW_KEY("token_type", STRING),
    GW_KEY("expires_in", INTEGER),         GW_KEY("refresh_token", STRING),
    GW_KEY("refresh_expires_in", INTEGER), GW_KEY_END,
};
const gw_key_t gw_shape_api_key_created[] = {
    GW_KEY("id", ID),
    GW_KEY("name", STRING),
    GW_KEY("key", STRING),
    GW_KEY("created_at", TIME),
    GW_KEY("expires_at", TIME_OR_NULL),
    GW_KEY("permissions", STRINGS_OR_NULL),
    GW_KEY_END,
};
static const gw_key_t shape_api_key[] = {
    GW_KEY("id", ID),
    GW_KEY("name", STRING),
    GW_KEY("created_at", TIME),
    GW_KEY("expires_at", TIME_OR_NULL),
    GW_KEY("last_used_at", TIME_OR_NULL),
    GW_KEY("permissions", STRINGS_OR_NULL),
    GW_KEY_END,
};
const gw_key_t gw_shape_api_keys[] = {GW_KEYS("api_keys", OBJECTS, shape_api_key), GW_KEY_END};
const gw_key_t gw_shape_login[] = {
    GW_KEY("access_token", STRING),
    GW_KEY("token_type", STRING),
    GW_KEY("expires_in", INTEGER),
    GW_KEY_END,
};

const gw_key_t gw_shape_totp_setup[] = {GW_KEY("secret", STRING), GW_KEY("otpauth_uri", STRING),
                                        GW_KEY_END};
const gw_key_t gw_shape_backup_codes[] = {GW_KEY("backup_codes", STRINGS), GW_KEY_END};

/* ---- problem details ----
 *
 * The error table (proto_error.h) decides per code whether the backend's
 * msg is written for people and may be shown, and the public detail
 * otherwise. internal_error never shows anything but the generic text
 * (gw_problem), so the backend's msg goes to the log only. */

/* errors: [{"field","message"}] for a refusal that names its field (docs/API.md,
 * "Responses and problem JSON"), when the name is a plain identifier. */
static json_t *field_errors(const proto_reply_t *rep, const char *message)
{
    size_t n = strlen(rep->field);
    if (rep->err != PROTO_ERR_VALIDATION_ERROR && rep->err != PROTO_ERR_WEAK_PASSWORD)
        return NULL;
    if (n == 0 || strspn(rep->field, "abcdefghijklmnopqrstuvwxyz_0123456789") != n)
        return NULL;
    return json_pack("[{s:s, s:s}]", "field", rep->field, "message",
                     message ? message : proto_err_title(rep->err));
}

void gw_api_fail(gw_reply_t *reply, const char *rid, proto_op_t op, const proto_reply_t *rep)
{
    proto_err_t err = rep->ok ? PROTO_ERR_INTERNAL_ERROR : rep->err;
    const char *detail =
        proto_err_shows_reason(err) && rep->errmsg[0] ? rep->errmsg : proto_err_detail(err);
    /* Our fault or theirs (5xx, bad_request): worth a WARNING line. Not
     * `unavailable`: while a backend is down every request gets it, and the
     * RPC layer (proto_outage) logs the outage once; per request, DEBUG. */
    bool expected = err == PROTO_ERR_UNAVAILABLE;
    if (expected || gw_problem_status(err) >= 500 || err == PROTO_ERR_BAD_REQUEST)
        rt_log(expected ? RT_LOG_DEBUG : RT_LOG_WARNING, rid, "%s: %s%s%s", proto_op_name(op),
               proto_err_code(err), rep->errmsg[0] ? ": " : "", rep->errmsg);
    gw_reply_error(reply, err, err == PROTO_ERR_INTERNAL_ERROR ? rep->errmsg : detail);
    reply->retry_after = rep->retry_after;
    reply->rate_limit = rep->limit;
    /* A refusal of an op that counted the request reports the limiter too. */
    if (rep->limit >= 0 && rep->remaining >= 0 && rep->reset >= 0)
        reply->rate = (gw_rate_t){true, rep->limit, rep->remaining, rep->reset};
    json_decref(reply->errors);
    reply->errors = field_errors(rep, detail);
}

/* ---- calls ---- */

/* A request body being packed: in `local` while it fits (most do), else
 * on the heap. msgpack_sbuffer would malloc 8 KiB for every call. */
typedef struct {
    char *data;
    size_t size, cap;
    char local[1024];
} body_buf_t;

static void body_buf_init(body_buf_t *b)
{
    b->data = b->local;
    b->size = 0;
    b->cap = sizeof b->local;
}

static void body_buf_free(body_buf_t *b)
{
    if (b->data != b->local)
        free(b->data);
    body_buf_init(b);
}

static int body_buf_write(void *data, const char *buf, size_t len)
{
    body_buf_t *b = data;
    if (len > b->cap - b->size) {
        if (len > SIZE_MAX / 2 - b->size)
            return -1;
        size_t cap = (b->size + len) * 2;
        char *nb = b->data == b->local ? malloc(cap) : realloc(b->data, cap);
        if (!nb)
            return -1;
        if (b->data == b->local)
            memcpy(nb, b->local, b->size);
        b->data = nb;
        b->cap = cap;
    }
    memcpy(b->data + b->size, buf, len);
    b->size += len;
    return 0;
}

static int pack_body(body_buf_t *sb, const json_t *fields, const gw_kv_t *kv, size_t nkv)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, body_buf_write);
    size_t n = json_is_object(fields) ? json_object_size(fields) : 0;
    for (size_t i = 0; i < nkv; i++)
        n += kv[i].is_int || kv[i].str;
    int rc = msgpack_pack_map(&pk, n);
    const char *key;
    json_t *val;
    if (json_is_object(fields)) {
        json_object_foreach((json_t *)fields, key, val)
        {
            size_t kl = strlen(key);
            rc |= msgpack_pack_str(&pk, kl) | msgpack_pack_str_body(&pk, key, kl);
            rc |= proto_pack_json(&pk, val);
        }
    }
    for (size_t i = 0; i < nkv; i++) {
        if (kv[i].is_int)
            proto_pack_kv_int(&pk, kv[i].key, kv[i].i);
        else if (kv[i].str)
            proto_pack_kv_str(&pk, kv[i].key, kv[i].str);
    }
    return rc == 0 ? 0 : -1;
}

/* reply->rate from the "rate" map of a reply body, when there is one. */
static void take_rate(const msgpack_object *body, gw_reply_t *reply)
{
    const msgpack_object *rate = proto_map_get(body, "rate");
    int64_t limit, remaining, reset;
    if (!rate || proto_get_int(rate, "limit", &limit) != 0 ||
        proto_get_int(rate, "remaining", &remaining) != 0 ||
        proto_get_int(rate, "reset", &reset) != 0)
        return;
    reply->rate = (gw_rate_t){true, (long)limit, (long)remaining, (long)reset};
}

/* One call; on success `rep` holds the reply (the caller cleans it up) and
 * the rate-limit figures it carried are in `reply`. */
static int call_backend(const gw_ctx_t *ctx, const gw_request_t *req, gw_svc_t svc, proto_op_t op,
                        const json_t *fields, const gw_kv_t *kv, size_t nkv, proto_reply_t *rep,
                        gw_reply_t *reply, int timeout_ms)
{
    proto_pool_t *pool = svc == GW_SVC_STORESVC ? ctx->storesvc : ctx->authsvc;
    body_buf_t sb;
    body_buf_init(&sb);
    if (pack_body(&sb, fields, kv, nkv) != 0) {
        body_buf_free(&sb);
        proto_reply_init(rep);
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "cannot pack a request body");
        return -1;
    }
    proto_err_t err = gw_rpc_call(pool, op, req->rid, sb.data, sb.size, rep, timeout_ms);
    body_buf_free(&sb);
    if (err != PROTO_OK) {
        gw_api_fail(reply, req->rid, op, rep);
        proto_reply_cleanup(rep);
        return -1;
    }
    take_rate(rep->body, reply);
    return 0;
}

int gw_api_call(const gw_ctx_t *ctx, const gw_request_t *req, gw_svc_t svc, proto_op_t op,
                const json_t *fields, const gw_kv_t *kv, size_t nkv, json_t **out,
                gw_reply_t *reply)
{
    return gw_api_call_within(ctx, req, svc, op, fields, kv, nkv, out, reply, -1);
}

int gw_api_call_within(const gw_ctx_t *ctx, const gw_request_t *req, gw_svc_t svc, proto_op_t op,
                       const json_t *fields, const gw_kv_t *kv, size_t nkv, json_t **out,
                       gw_reply_t *reply, int timeout_ms)
{
    proto_reply_t rep;
    *out = NULL;
    if (call_backend(ctx, req, svc, op, fields, kv, nkv, &rep, reply, timeout_ms) != 0)
        return -1;
    json_t *j = proto_to_json(rep.body);
    proto_reply_cleanup(&rep);
    if (!json_is_object(j)) {
        json_decref(j);
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "a reply body has no JSON form");
        return -1;
    }
    json_object_del(j, "rate");
    *out = j;
    return 0;
}

/* ---- authorisation ---- */

/* The principal of an auth.authorize answer (read from the msgpack body:
 * no JSON tree for the most frequent call); -1 when it names nobody. */
static int principal_from(const msgpack_object *ans, gw_principal_t *out)
{
    memset(out, 0, sizeof *out);
    bool anonymous = false;
    if (proto_get_bool(ans, "anonymous", &anonymous) == 0 && anonymous)
        return -1;
    if (proto_get_str(ans, "user_id", out->user_id, sizeof out->user_id) != 0 || !out->user_id[0] ||
        proto_get_str(ans, "role", out->role, sizeof out->role) != 0 || !out->role[0])
        return -1;
    if (proto_get_str(ans, "username", out->username, sizeof out->username) != 0)
        out->username[0] = '\0';
    if (proto_get_str(ans, "sid", out->sid, sizeof out->sid) != 0)
        out->sid[0] = '\0';
    int64_t exp = 0;
    out->exp = proto_get_int(ans, "exp", &exp) == 0 ? exp : 0;
    return 0;
}

int gw_api_authorize(const gw_ctx_t *ctx, const gw_request_t *req, const char *permission,
                     gw_principal_t *out, gw_reply_t *reply)
{
    const gw_kv_t kv[] = {
        {"credential", req->bearer, false, 0},
        {"api_key", req->api_key, false, 0},
        {"client_ip", req->client_ip, false, 0},
        {"permission", permission, false, 0},
    };
    proto_reply_t rep;
    /* session_only goes only when set (a JSON true packs as a msgpack bool),
     * so the frequent calls allocate nothing for it. */
    json_t *flags = req->session_only ? json_pack("{s:b}", "session_only", 1) : NULL;
    if (req->session_only && !flags) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "authorize: out of memory");
        return -1;
    }
    int called = call_backend(ctx, req, GW_SVC_AUTHSVC, PROTO_OP_AUTH_AUTHORIZE, flags, kv,
                              sizeof kv / sizeof kv[0], &rep, reply, -1);
    json_decref(flags);
    if (called != 0)
        return -1;
    int rc = principal_from(rep.body, out);
    proto_reply_cleanup(&rep);
    if (rc != 0) { /* fail closed: a protected route needs someone */
        rt_warn(req->rid, "auth.authorize granted %s without an identity", permission);
        gw_reply_error(reply, PROTO_ERR_UNAUTHORIZED, NULL);
    }
    return rc;
}

int gw_api_rate_anonymous(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply,
                          int timeout_ms)
{
    const gw_kv_t kv[] = {{"client_ip", req->client_ip, false, 0}};
    proto_reply_t rep;
    if (call_backend(ctx, req, GW_SVC_AUTHSVC, PROTO_OP_AUTH_AUTHORIZE, NULL, kv, 1, &rep, reply,
                     timeout_ms) != 0)
        return -1;
    proto_reply_cleanup(&rep);
    return 0;
}

/* ---- the generic handler ---- */

static bool id_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    return n >= 1 && n <= GW_ID_MAX &&
           strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

int gw_api_args(const gw_request_t *req, const gw_call_t *call, gw_kv_t *kv, gw_reply_t *reply)
{
    const gw_principal_t *p = req->principal;
    unsigned a = call->args;
    size_t n = 0;
    if ((a & (GW_ARG_ACTOR_ID | GW_ARG_ACTOR_ROLE | GW_ARG_ACTOR_SID | GW_ARG_SELF_ID)) && !p) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "an actor field on a public route");
        return -1;
    }
    if (a & GW_ARG_CLIENT_IP)
        kv[n++] = (gw_kv_t){"client_ip", req->client_ip, false, 0};
    if (a & GW_ARG_USER_AGENT)
        kv[n++] = (gw_kv_t){"user_agent", req->user_agent, false, 0};
    if (a & GW_ARG_ACTOR_ID)
        kv[n++] = (gw_kv_t){"actor_id", p->user_id, false, 0};
    if (a & GW_ARG_ACTOR_ROLE)
        kv[n++] = (gw_kv_t){"actor_role", p->role, false, 0};
    if (a & GW_ARG_ACTOR_SID)
        kv[n++] = (gw_kv_t){"actor_sid", p->sid[0] ? p->sid : NULL, false, 0};
    if (a & GW_ARG_SELF_ID)
        kv[n++] = (gw_kv_t){"id", p->user_id, false, 0};
    if (call->param) {
        const char *v = gw_request_param(req, "id");
        if (!id_ok(v)) { /* what cannot be an id names nothing: no backend needed */
            gw_reply_error(reply, PROTO_ERR_NOT_FOUND, NULL);
            return -1;
        }
        kv[n++] = (gw_kv_t){call->param, v, false, 0};
    }
    return (int)n;
}

int gw_api_cookie_set(const gw_ctx_t *ctx, gw_reply_t *reply, const char *token, int64_t max_age)
{
    if (!token || !*token || max_age <= 0 || max_age > (int64_t)10 * 365 * 86400)
        return -1;
    return gw_cookie_format(reply->set_cookie, sizeof reply->set_cookie, GW_REFRESH_COOKIE, token,
                            (long)max_age, GW_REFRESH_COOKIE_PATH, ctx->cfg->cookie_secure);
}

void gw_api_cookie_clear(const gw_ctx_t *ctx, gw_reply_t *reply)
{
    gw_cookie_format(reply->set_cookie, sizeof reply->set_cookie, GW_REFRESH_COOKIE, NULL, 0,
                     GW_REFRESH_COOKIE_PATH, ctx->cfg->cookie_secure);
}

void gw_api_answer(const gw_ctx_t *ctx, const gw_call_t *call, const json_t *ans, gw_reply_t *reply)
{
    if (call->clear_cookie)
        gw_api_cookie_clear(ctx, reply);
    if (!call->shape) {
        gw_reply_json(reply, call->status ? call->status : 204, NULL);
        return;
    }
    const json_t *src = call->unwrap ? json_object_get(ans, call->unwrap) : ans;
    json_t *body = gw_shape_apply(call->shape, src);
    if (!body) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "a reply has not the documented shape");
        return;
    }
    gw_reply_json(reply, call->status ? call->status : 200, body);
}

/* One op with the route's fields plus `extra`. */
static void run_call(const gw_ctx_t *ctx, const gw_request_t *req, const gw_kv_t *extra,
                     size_t nextra, gw_reply_t *reply)
{
    const gw_call_t *call = req->call;
    gw_kv_t kv[GW_KV_MAX];
    if (!call) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "a route without a call");
        return;
    }
    int n = gw_api_args(req, call, kv, reply);
    if (n < 0)
        return;
    for (size_t i = 0; i < nextra && (size_t)n < GW_KV_MAX; i++)
        kv[n++] = extra[i];
    json_t *ans = NULL;
    if (gw_api_call(ctx, req, call->svc, call->op, req->body, kv, (size_t)n, &ans, reply) != 0) {
        gw_api_restatus(call, reply);
        return;
    }
    gw_api_answer(ctx, call, ans, reply);
    json_decref(ans);
}

void gw_api_restatus(const gw_call_t *call, gw_reply_t *reply)
{
    for (const gw_restatus_t *r = call ? call->restatus : NULL; r && r->err != PROTO_OK; r++) {
        if (r->err == reply->err)
            reply->problem_status = r->status;
    }
}

void gw_api_handle(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    run_call(ctx, req, NULL, 0, reply);
}

void gw_api_users_list(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    gw_page_t pg;
    const char *detail = NULL;
    if (gw_query_page(req->query, &pg, &detail) != 0) {
        gw_reply_error(reply, PROTO_ERR_BAD_REQUEST, detail);
        return;
    }
    const gw_kv_t extra[] = {
        {"page", NULL, true, pg.page},
        {"per_page", NULL, true, pg.per_page},
    };
    run_call(ctx, req, extra, sizeof extra / sizeof extra[0], reply);
}
