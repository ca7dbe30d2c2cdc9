/*
 * gw_handler: what a route handler sees and returns. Handlers stay pure:
 * a decoded request in (method, path parameters, parsed and validated JSON
 * body, request id, client IP, the few request headers the API needs, and
 * for protected routes the principal authsvc vouched for), a reply out (a
 * JSON body with a status, or an error code that gw_http turns into problem
 * JSON, plus the rate-limit state and cookie that become headers). They
 * never touch a connection, so gw_http may run them on an event loop or
 * on a slow-lane worker (gw_slow) alike: everything a request points to is
 * owned by the gateway's request context, not by the connection's buffer.
 */
#ifndef GW_HANDLER_H
#define GW_HANDLER_H

#include "gw_config.h"
#include "gw_stream.h"
#include "proto_client.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_PARAMS_MAX        4   /* {param} segments per pattern */
#define GW_PARAM_MAX         128 /* bytes of one parameter value */
#define GW_RID_LEN           36  /* a UUID in text form */
#define GW_IP_MAX            64  /* text form of a client address */
#define GW_DETAIL_MAX        256 /* problem "detail" */
#define GW_ID_MAX            64  /* a user or session id (a UUID, with room) */
#define GW_NAME_MAX          128 /* a username in a principal */
#define GW_ROLE_MAX          32
#define GW_UA_MAX            512  /* User-Agent bytes passed on (sanitised, truncated) */
#define GW_BEARER_MAX        4200 /* longest bearer token passed on (B_JWT in the catalogue) */
#define GW_APIKEY_MAX        128  /* longest X-API-Key passed on as it is (B_APIKEY) */
#define GW_SET_COOKIE_MAX    512  /* one Set-Cookie value */
#define GW_ETAG_MAX          72   /* "<sha256 hex>" with its quotes */
#define GW_CONTENT_RANGE_MAX 64

/* What an unusable X-API-Key header is forwarded as: no key has this form. */
#define GW_APIKEY_INVALID "-"

/* The rendered API document and the Swagger UI files (gw_docs.h). */
typedef struct gw_docs gw_docs_t;

/* Shared by every handler: borrowed configuration and backend pools. */
typedef struct {
    const gw_config_t *cfg;
    proto_pool_t *authsvc;
    proto_pool_t *storesvc;
    /* Set when the gateway has been told to stop (SIGTERM): /readyz is 503
     * from then on, while in-flight work finishes. NULL: never. */
    const atomic_bool *draining;
    const gw_docs_t *docs; /* DOCS_ENABLED=true: what the docs routes serve; else NULL */
} gw_ctx_t;

typedef struct {
    const char *name; /* points into the route pattern, not NUL-terminated */
    size_t name_len;
    char value[GW_PARAM_MAX + 1];
} gw_param_t;

/* Who calls, as auth.authorize answered for a protected route. */
typedef struct {
    char user_id[GW_ID_MAX + 1];
    char username[GW_NAME_MAX + 1];
    char role[GW_ROLE_MAX + 1];
    char sid[GW_ID_MAX + 1]; /* the session (refresh-token family); "" when none */
    int64_t exp;             /* expiry of the credential, seconds since the epoch */
} gw_principal_t;

/* What a route asks of the generic backend handler (gw_api.h). */
typedef struct gw_call gw_call_t;

typedef struct {
    const char *method;
    const char *path; /* without the query string */
    const char *rid;
    const char *client_ip; /* resolved through LOGIN_TRUSTED_PROXY_IPS */
    const gw_param_t *params;
    size_t nparams;
    const json_t *body; /* JSON routes: the validated object; NULL when absent */
    const char *query;  /* raw query string without '?', NULL when none */
    const char *bearer; /* the token of "Authorization: Bearer", NULL when absent or malformed */
    /* X-API-Key: the value when it is one header of 1..GW_APIKEY_MAX
     * printable ASCII bytes, GW_APIKEY_INVALID for any other X-API-Key
     * (so authsvc counts it and answers 401 like a wrong key), NULL when
     * absent. */
    const char *api_key;
    bool session_only;      /* the route refuses API keys (GW_ROUTE_SESSION) */
    const char *user_agent; /* printable ASCII, at most GW_UA_MAX bytes; NULL when absent */
    const char *cookies;    /* every Cookie header line joined by "; ", NULL when none */
    const gw_principal_t *principal; /* protected routes: the caller; NULL on public ones */
    const gw_call_t *call;           /* the route's backend call, NULL when it has none */
    const char *content_type;        /* the request's Content-Type, NULL when absent */
    const char *range;               /* Range, NULL when absent */
    const char *if_none_match;       /* If-None-Match, NULL when absent */
    bool head;                       /* a HEAD request (served by its GET route) */
    gw_stream_t *stream;             /* the body and response as streams (gw_stream.h) */
    /* authsvc did not answer this request's rate-limit check in time: the
     * health routes report it down instead of waiting for it again. */
    bool authsvc_down;
} gw_request_t;

/* The API rate limiter's state after a request, when a backend reported it. */
typedef struct {
    bool set;
    long limit, remaining, reset;
} gw_rate_t;

typedef struct {
    int status;      /* success status; 0 means 200 */
    json_t *json;    /* success body (owned); NULL: no body */
    proto_err_t err; /* PROTO_OK, or the error to answer as problem JSON */
    char detail[GW_DETAIL_MAX];
    json_t *errors;   /* optional validation errors array (owned) */
    long retry_after; /* seconds for Retry-After; -1 omits it */
    long rate_limit;  /* rate_limited: the limit per window (RateLimit-Limit); -1 absent */
    gw_rate_t rate;   /* RateLimit-* headers, on success and error answers alike */
    char set_cookie[GW_SET_COOKIE_MAX];  /* a Set-Cookie header value; "" for none */
    char set_cookie2[GW_SET_COOKIE_MAX]; /* a second one (the device cookie); "" for none */
    /* An error answered with another HTTP status than the error table's
     * (a route's restatus row, gw_api.h); 0: the table's. */
    int problem_status;
    char etag[GW_ETAG_MAX];                   /* an ETag header value; "" for none */
    char content_range[GW_CONTENT_RANGE_MAX]; /* a Content-Range header value; "" for none */
    /* The handler sent the response itself (gw_stream_start): gw_http only
     * finishes the request. */
    bool streamed;
} gw_reply_t;

typedef void (*gw_handler_fn)(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

void gw_reply_init(gw_reply_t *reply);

/* Releases the JSON values and re-inits; safe to call twice. */
void gw_reply_cleanup(gw_reply_t *reply);

/* A success reply; takes ownership of `body` (may be NULL for no body). */
void gw_reply_json(gw_reply_t *reply, int status, json_t *body);

/* An error reply; `detail` (may be NULL) is copied and truncated. */
void gw_reply_error(gw_reply_t *reply, proto_err_t err, const char *detail);

/* The HTTP status of an error reply: its problem_status, else the error
 * table's. */
int gw_reply_problem_status(const gw_reply_t *reply);

/* The value of path parameter `name`, or NULL. Borrowed from `req`. */
const char *gw_request_param(const gw_request_t *req, const char *name);

#endif
