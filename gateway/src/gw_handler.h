/*
 * gw_handler: what a route handler sees and returns. Handlers stay pure:
 * a decoded request in (method, path parameters, parsed JSON body, request
 * id, client IP), a reply out (a JSON body with a status, or an error code
 * that gw_http turns into problem JSON). They never touch libmicrohttpd.
 */
#ifndef GW_HANDLER_H
#define GW_HANDLER_H

#include "gw_config.h"
#include "proto_client.h"

#include <jansson.h>

#define GW_PARAMS_MAX 4   /* {param} segments per pattern */
#define GW_PARAM_MAX  128 /* bytes of one parameter value */
#define GW_RID_LEN    36  /* a UUID in text form */
#define GW_IP_MAX     64  /* text form of a client address */
#define GW_DETAIL_MAX 256 /* problem "detail" */

/* Shared by every handler: borrowed configuration and backend pools. */
typedef struct {
    const gw_config_t *cfg;
    proto_pool_t *authsvc;
    proto_pool_t *storesvc;
} gw_ctx_t;

typedef struct {
    const char *name; /* points into the route pattern, not NUL-terminated */
    size_t name_len;
    char value[GW_PARAM_MAX + 1];
} gw_param_t;

typedef struct {
    const char *method;
    const char *path; /* without the query string */
    const char *rid;
    const char *client_ip;
    const gw_param_t *params;
    size_t nparams;
    const json_t *body; /* JSON routes: the parsed object; NULL otherwise */
} gw_request_t;

typedef struct {
    int status;      /* success status; 0 means 200 */
    json_t *json;    /* success body (owned); NULL: no body */
    proto_err_t err; /* PROTO_OK, or the error to answer as problem JSON */
    char detail[GW_DETAIL_MAX];
    json_t *errors;   /* optional validation errors array (owned) */
    long retry_after; /* seconds for Retry-After; -1 omits it */
} gw_reply_t;

typedef void (*gw_handler_fn)(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

void gw_reply_init(gw_reply_t *reply);

/* Releases the JSON values and re-inits; safe to call twice. */
void gw_reply_cleanup(gw_reply_t *reply);

/* A success reply; takes ownership of `body` (may be NULL for no body). */
void gw_reply_json(gw_reply_t *reply, int status, json_t *body);

/* An error reply; `detail` (may be NULL) is copied and truncated. */
void gw_reply_error(gw_reply_t *reply, proto_err_t err, const char *detail);

/* The value of path parameter `name`, or NULL. Borrowed from `req`. */
const char *gw_request_param(const gw_request_t *req, const char *name);

#endif
