/*
 * gw_auth: cookie-aware auth handlers. The op calls themselves go through
 * gw_api; what is here is which token to send and how to answer.
 *
 * A refresh token is opaque to the gateway: any string is a token, and one
 * authsvc does not know is answered like every unknown token (401
 * invalid_refresh_token on refresh, a no-op 204 on logout). Only its
 * length is checked here: a value over the wire bound of refresh_token
 * (PROTO_B_TOKEN) cannot be a token authsvc issued, so it is answered so
 * without being forwarded. A refresh_token that is not a string is a field
 * error (422) of the route's schema.
 */
#include "gw_auth.h"
#include "gw_api.h"
#include "gw_cookie.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int gw_auth_rfc3339(int64_t epoch_s, char *out, size_t cap)
{
    struct tm tm;
    time_t t = (time_t)epoch_s;
    if (epoch_s < 0 || epoch_s > (int64_t)253402300799 /* 9999-12-31 */ || !gmtime_r(&t, &tm))
        return -1;
    return strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == GW_RFC3339_LEN ? 0 : -1;
}

/* True when `token` could be one authsvc issued, as far as its length tells. */
static bool token_in_bound(const char *token)
{
    return strnlen(token, PROTO_B_TOKEN + 1) <= PROTO_B_TOKEN;
}

/* Answers a token reply with the browser shape and the (rotated) cookie. */
static void answer_with_cookie(const gw_ctx_t *ctx, const json_t *ans, gw_reply_t *reply)
{
    const json_t *ttl = json_object_get(ans, "refresh_expires_in");
    const char *token = json_string_value(json_object_get(ans, "refresh_token"));
    if (!json_is_integer(ttl) ||
        gw_api_cookie_set(ctx, reply, token, (int64_t)json_integer_value(ttl)) != 0) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "a token reply without a usable cookie");
        return;
    }
    const gw_call_t browser = {.shape = gw_shape_login, .status = 200};
    gw_api_answer(ctx, &browser, ans, reply);
}

/* The route's op with its added fields and `extra`; 0 and *ans, or -1. */
static int call_op(const gw_ctx_t *ctx, const gw_request_t *req, const json_t *fields,
                   const gw_kv_t *extra, size_t nextra, json_t **ans, gw_reply_t *reply)
{
    gw_kv_t kv[GW_KV_MAX];
    if (!req->call) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "a route without a call");
        return -1;
    }
    int n = gw_api_args(req, req->call, kv, reply);
    if (n < 0)
        return -1;
    for (size_t i = 0; i < nextra && (size_t)n < GW_KV_MAX; i++)
        kv[n++] = extra[i];
    return gw_api_call(ctx, req, req->call->svc, req->call->op, fields, kv, (size_t)n, ans, reply);
}

/* The device cookie the request carries (one unambiguous value within the
 * wire bound), or NULL. Borrowed from `cv`. */
static const char *device_of(const gw_request_t *req, gw_cookie_vals_t *cv)
{
    gw_cookie_find(req->cookies, GW_DEVICE_COOKIE, cv);
    const char *v = gw_cookie_single(cv);
    return v && strlen(v) <= PROTO_B_DEVICE ? v : NULL;
}

/* The device cookie of a successful login's answer, when it has one. */
static void set_device(const gw_ctx_t *ctx, const json_t *ans, gw_reply_t *reply)
{
    const char *v = json_string_value(json_object_get(ans, "device_cookie"));
    const json_t *ttl = json_object_get(ans, "device_cookie_max_age");
    if (reply->err != PROTO_OK || !v || !json_is_integer(ttl) || json_integer_value(ttl) <= 0 ||
        json_integer_value(ttl) > (json_int_t)10 * 365 * 86400)
        return;
    gw_cookie_format_samesite(reply->set_cookie2, sizeof reply->set_cookie2, GW_DEVICE_COOKIE, v,
                              (long)json_integer_value(ttl), GW_REFRESH_COOKIE_PATH,
                              ctx->cfg->cookie_secure, "Strict");
}

/* auth.token with the device cookie; answered by `answer`, then the new
 * device cookie is set. */
static void login_op(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply,
                     void (*answer)(const gw_ctx_t *, const gw_request_t *, const json_t *,
                                    gw_reply_t *))
{
    gw_cookie_vals_t cv;
    const gw_kv_t extra[] = {{"device_cookie", device_of(req, &cv), false, 0}};
    json_t *ans = NULL;
    if (call_op(ctx, req, req->body, extra, 1, &ans, reply) != 0)
        return;
    answer(ctx, req, ans, reply);
    set_device(ctx, ans, reply);
    json_decref(ans);
}

static void answer_browser(const gw_ctx_t *ctx, const gw_request_t *req, const json_t *ans,
                           gw_reply_t *reply)
{
    answer_with_cookie(ctx, ans, reply);
}

static void answer_pair(const gw_ctx_t *ctx, const gw_request_t *req, const json_t *ans,
                        gw_reply_t *reply)
{
    gw_api_answer(ctx, req->call, ans, reply);
}

void gw_auth_login(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    login_op(ctx, req, reply, answer_browser);
}

void gw_auth_token(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    login_op(ctx, req, reply, answer_pair);
}

/* A refresh refused without asking authsvc about the token (none, or
 * one that cannot be one) is still an /api/ request: the rate limiter
 * counts it and its answer carries the RateLimit-* headers. */
static void refuse_counted(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply,
                           const char *detail)
{
    if (gw_api_rate_anonymous(ctx, req, reply, -1) != 0 && reply->err == PROTO_ERR_RATE_LIMITED)
        return; /* that is the answer; anything else (authsvc down) leaves the refusal */
    gw_rate_t rate = reply->rate;
    gw_reply_error(reply, PROTO_ERR_INVALID_REFRESH_TOKEN, detail);
    json_decref(reply->errors);
    reply->errors = NULL;
    reply->retry_after = -1;
    reply->rate = rate;
}

void gw_auth_refresh(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    const char *token = json_string_value(json_object_get(req->body, "refresh_token"));
    bool from_cookie = !token;
    gw_cookie_vals_t cv;
    if (from_cookie) {
        gw_cookie_find(req->cookies, GW_REFRESH_COOKIE, &cv);
        token = gw_cookie_single(&cv);
        if (!token) {
            refuse_counted(ctx, req, reply,
                           cv.seen ? "The refresh token cookie is invalid"
                                   : "No refresh token was presented");
            if (cv.seen)
                gw_api_cookie_clear(ctx, reply);
            return;
        }
    }
    if (!token_in_bound(token)) { /* cookies are shorter: GW_COOKIE_VALUE_MAX */
        refuse_counted(ctx, req, reply, "Invalid or expired refresh token");
        return;
    }
    const gw_kv_t extra[] = {{"refresh_token", token, false, 0}};
    json_t *ans = NULL;
    if (call_op(ctx, req, NULL, extra, 1, &ans, reply) != 0) {
        /* A cookie authsvc refused is dead: stop the browser presenting it. */
        if (from_cookie && (reply->err == PROTO_ERR_INVALID_REFRESH_TOKEN ||
                            reply->err == PROTO_ERR_REFRESH_TOKEN_REUSED))
            gw_api_cookie_clear(ctx, reply);
        return;
    }
    if (from_cookie)
        answer_with_cookie(ctx, ans, reply);
    else
        gw_api_answer(ctx, req->call, ans, reply);
    json_decref(ans);
}

void gw_auth_logout(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    const char *tokens[GW_COOKIE_VALUES_MAX];
    size_t nt = 0;
    gw_cookie_vals_t cv;
    const char *body_token = json_string_value(json_object_get(req->body, "refresh_token"));
    if (body_token) {
        tokens[nt++] = body_token;
    } else {
        gw_cookie_find(req->cookies, GW_REFRESH_COOKIE, &cv);
        for (size_t i = 0; i < cv.n; i++)
            tokens[nt++] = cv.values[i];
    }
    /* One call per token (logout is idempotent, revoking a token someone
     * planted beside ours does no harm); one call with only the bearer
     * token, or nothing, when there is none: the limiter still counts it.
     * A token over the bound is unknown: its call carries nothing, as a
     * presented token (known or not) is what authsvc revokes, never the
     * bearer's session beside it. */
    for (size_t i = 0; i < (nt ? nt : 1); i++) {
        bool unknown = nt && !token_in_bound(tokens[i]);
        const gw_kv_t extra[] = {
            {"refresh_token", nt && !unknown ? tokens[i] : NULL, false, 0},
            {"credential", i == 0 && !unknown ? req->bearer : NULL, false, 0},
        };
        json_t *ans = NULL;
        if (call_op(ctx, req, NULL, extra, 2, &ans, reply) != 0)
            return;
        json_decref(ans);
    }
    gw_api_cookie_clear(ctx, reply);
    gw_reply_json(reply, 204, NULL);
}

void gw_auth_session(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    const gw_principal_t *p = req->principal;
    char expires[GW_RFC3339_LEN + 1];
    if (!p || gw_auth_rfc3339(p->exp, expires, sizeof expires) != 0) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "a principal without a usable expiry");
        return;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "user_id", p->user_id, "username", p->username,
                             "role", p->role, "expires_at", expires);
    if (!body) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "session: out of memory");
        return;
    }
    gw_reply_json(reply, 200, body);
}
