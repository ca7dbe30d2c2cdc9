/*
 * gw_api: the gateway's side of the backend ops (proto/PROTOCOL.md).
 *
 * The gateway makes no decision about identity: a protected route first
 * asks authsvc `auth.authorize {credential, client_ip, permission}` and
 * uses the principal it answers as the actor_* fields of the route's op.
 * Most routes are then one op with a body made of the validated JSON
 * fields plus fields the gateway adds itself (never taken from the client):
 * that is a gw_call_t row in the route table, run by gw_api_handle. Routes
 * with more to do (cookies, query parameters) have their own handlers
 * (gw_auth.h, gw_api_users_list) built from the same pieces.
 *
 * Backend errors become problem JSON through the shared error table; the
 * backend's message is shown only for codes whose message is written for
 * people (validation_error, weak_password, rate limits, ...). Everything
 * else gets a fixed text, so for example an unknown user and a wrong
 * password stay byte-for-byte identical whatever a service says.
 */
#ifndef GW_API_H
#define GW_API_H

#include "gw_handler.h"
#include "gw_schema.h"

#include <stdbool.h>
#include <stdint.h>

#define GW_REFRESH_COOKIE      "refresh_token"
#define GW_REFRESH_COOKIE_PATH "/api/v1/auth"
#define GW_DEVICE_COOKIE       "device" /* SameSite=Strict, same path (gw_auth.h) */

typedef enum {
    GW_SVC_AUTHSVC,
    GW_SVC_STORESVC,
} gw_svc_t;

/* Fields the gateway adds to an op's body. */
enum {
    GW_ARG_CLIENT_IP = 1u << 0,  /* client_ip: the resolved client address */
    GW_ARG_USER_AGENT = 1u << 1, /* user_agent, when the request has one */
    GW_ARG_ACTOR_ID = 1u << 2,   /* actor_id: the principal's user id */
    GW_ARG_ACTOR_ROLE = 1u << 3, /* actor_role: the principal's role */
    GW_ARG_ACTOR_SID = 1u << 4,  /* actor_sid, when the credential names a session */
    GW_ARG_SELF_ID = 1u << 5,    /* id: the principal's own user id */
};

/* A refusal a route answers with another HTTP status than the error
 * table's: e.g. totp_invalid, 401 at login (a credential), is 400 when a
 * signed-in caller mistypes a code of a field (enable, disable). */
typedef struct {
    proto_err_t err; /* PROTO_OK ends a table */
    int status;
} gw_restatus_t;

/* One route's backend call, as data. */
struct gw_call {
    proto_op_t op;
    gw_svc_t svc;
    unsigned args;         /* GW_ARG_* */
    const char *param;     /* the {id} path parameter is sent as this field; NULL: none */
    const char *unwrap;    /* the answer is the reply's value under this key; NULL: the body */
    const gw_key_t *shape; /* documented keys of the answer; NULL: no body */
    int status;            /* success status (0: 200 with a shape, 204 without) */
    bool clear_cookie;     /* the answer also clears the refresh-token cookie */
    const gw_restatus_t *restatus; /* refusals answered with another status; NULL: none */
};

/* One field the gateway adds: a string (NULL: left out) or an integer. */
typedef struct {
    const char *key;
    const char *str;
    bool is_int;
    int64_t i;
} gw_kv_t;

#define GW_KV_MAX 8

/* Documented answer shapes (docs/API.md). */
extern const gw_key_t gw_shape_user[];            /* User */
extern const gw_key_t gw_shape_user_list[];       /* {users, total, page, per_page, pages} */
extern const gw_key_t gw_shape_sessions[];        /* {sessions: [...]} */
extern const gw_key_t gw_shape_stats[];           /* admin stats */
extern const gw_key_t gw_shape_token[];           /* the pair for programmatic clients */
extern const gw_key_t gw_shape_file[];            /* File */
extern const gw_key_t gw_shape_file_list[];       /* {files, total, page, per_page, pages} */
extern const gw_key_t gw_shape_login[];           /* the browser shape: no refresh token */
extern const gw_key_t gw_shape_api_key_created[]; /* a new API key, its secret shown once */
extern const gw_key_t gw_shape_api_keys[];        /* {api_keys: [...]}, no secrets */
extern const gw_key_t gw_shape_totp_setup[];      /* {secret, otpauth_uri} */
extern const gw_key_t gw_shape_backup_codes[];    /* {backup_codes: [...]} */

/* Asks authsvc whether the caller (req->bearer or req->api_key; neither
 * asks as anonymous; req->session_only refuses keys) may use `permission`. Returns 0 with `*out`
 * filled and the limiter state in reply->rate, or -1 with the problem in `reply` (401 unauthorized
 * also when authsvc answers without an identity). */
int gw_api_authorize(const gw_ctx_t *ctx, const gw_request_t *req, const char *permission,
                     gw_principal_t *out, gw_reply_t *reply);

/* Counts an anonymous request from req->client_ip with the API rate
 * limiter (auth.authorize without credential or permission), for public
 * routes whose handler does not call authsvc. Returns 0 with the limiter
 * state in reply->rate, or -1 with the problem in `reply` (rate_limited,
 * or unavailable when authsvc cannot be asked). `timeout_ms` < 0: the
 * link's RPC_TIMEOUT_MS. */
int gw_api_rate_anonymous(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply,
                          int timeout_ms);

/* Calls `op` on `svc` with a body of the members of `fields` (an object or
 * NULL) and the pairs of `kv`. Returns 0 with `*out` the reply body as a
 * new JSON object without its "rate" (which goes to reply->rate), or -1
 * with the problem in `reply`. */
int gw_api_call(const gw_ctx_t *ctx, const gw_request_t *req, gw_svc_t svc, proto_op_t op,
                const json_t *fields, const gw_kv_t *kv, size_t nkv, json_t **out,
                gw_reply_t *reply);

/* gw_api_call with its own reply timeout (< 0: the link's RPC_TIMEOUT_MS). */
int gw_api_call_within(const gw_ctx_t *ctx, const gw_request_t *req, gw_svc_t svc, proto_op_t op,
                       const json_t *fields, const gw_kv_t *kv, size_t nkv, json_t **out,
                       gw_reply_t *reply, int timeout_ms);

/* The pairs that call->args and call->param stand for, into kv[GW_KV_MAX].
 * Returns their number, or -1 with the problem in `reply` (404 when the path
 * id cannot be an id: 1..GW_ID_MAX bytes of [A-Za-z0-9_-]). */
int gw_api_args(const gw_request_t *req, const gw_call_t *call, gw_kv_t *kv, gw_reply_t *reply);

/* Sets the success reply for `call` from `ans` (a reply body, borrowed). */
void gw_api_answer(const gw_ctx_t *ctx, const gw_call_t *call, const json_t *ans,
                   gw_reply_t *reply);

/* Sets reply to the problem for a failed backend reply `rep` of `op`; a
 * validation_error or weak_password naming its field (err.field) also gets
 * "errors": [{"field", "message"}], and a refusal that reports the limiter
 * state (err.limit/remaining/reset) keeps it for the RateLimit-* headers. */
void gw_api_fail(gw_reply_t *reply, const char *rid, proto_op_t op, const proto_reply_t *rep);

/* The refresh-token cookie on `reply`: set (token, max_age > 0 seconds;
 * returns -1 when either is unusable) or cleared. */
int gw_api_cookie_set(const gw_ctx_t *ctx, gw_reply_t *reply, const char *token, int64_t max_age);
void gw_api_cookie_clear(const gw_ctx_t *ctx, gw_reply_t *reply);

/* Applies call->restatus to the error in `reply` (no-op when none fits). */
void gw_api_restatus(const gw_call_t *call, gw_reply_t *reply);

/* The generic handler: one op as req->call describes it. */
void gw_api_handle(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* GET /api/v1/users?page=&per_page=: req->call plus the page parameters. */
void gw_api_users_list(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

#endif
