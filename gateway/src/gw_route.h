/*
 * gw_route: the route table as data, and its matcher. A row names a method,
 * a pattern of exact and {param} segments ("/api/v1/users/{id}"), the
 * handler, the permission authsvc must grant (NULL: public), the body the
 * route takes and the JSON fields it accepts, whether it is slow (its op
 * hashes a password, so it runs on the slow pool), the backend call the
 * generic handler makes, and what the API document (gw_openapi.h) says of
 * it beyond all that. Adding a route is adding a row.
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include "gw_handler.h"
#include "gw_schema.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    GW_BODY_NONE,          /* no body expected (one is read and discarded, within MAX_JSON_BYTES) */
    GW_BODY_JSON,          /* application/json object, at most MAX_JSON_BYTES */
    GW_BODY_JSON_OPTIONAL, /* the same, or no body at all (then no Content-Type is needed) */
    /* Any body, up to MAX_UPLOAD_BYTES, read by the handler as it arrives
     * (gw_stream_read) and never held whole. */
    GW_BODY_STREAM,
} gw_body_kind_t;

/* What a route is besides its columns. */
enum {
    /* The handler blocks on a slow op (Argon2): it runs on the slow pool
     * while its request waits, never on an event loop. */
    GW_ROUTE_SLOW = 1u << 0,
    /* The request may authenticate with the refresh-token cookie: refused
     * (403) when it does and its Origin is not one the API trusts
     * (gw_origin.h). */
    GW_ROUTE_COOKIE = 1u << 1,
    /* A public /api/ route whose handler does not count the request for
     * the API rate limiter itself: gw_http asks authsvc (auth.authorize,
     * anonymous) first. */
    GW_ROUTE_LIMITED = 1u << 2,
    /* A protected route an API key may not use (403), whatever its
     * permissions: managing credentials and sessions, and anything that
     * would let a key take the account over (the email, which a password
     * reset trusts). auth.authorize decides, told by session_only. */
    GW_ROUTE_SESSION = 1u << 3,
    /* The handler reads the page and per_page query parameters. */
    GW_ROUTE_PAGED = 1u << 4,
    /* A download: Range, If-None-Match and their 206/304/416 answers. */
    GW_ROUTE_DOWNLOAD = 1u << 5,
    /* A health check: not ok is its own answer shape with 503, not a
     * problem. */
    GW_ROUTE_PROBE = 1u << 6,
    /* Served only with DOCS_ENABLED=true (gw_app leaves the row out
     * otherwise, so its path is an unknown route). */
    GW_ROUTE_DOCS = 1u << 7,
    /* A page for browsers (Swagger UI): its answers carry the docs page's
     * Content-Security-Policy instead of the API's. Served only when
     * DOCS_UI_DIR is set too. */
    GW_ROUTE_PAGE = 1u << 8,
    /* A sign-in: its success sets the device cookie (gw_auth.h), and the
     * refresh-token cookie for browsers. */
    GW_ROUTE_SIGN_IN = 1u << 9,
};

/* A success answer the route's call does not describe (handlers with code
 * of their own), for the API document. */
typedef struct {
    int status;
    const gw_key_t *keys; /* JSON body keys; NULL: any JSON object (media NULL) */
    const char *media;    /* NULL: application/json; else a body of this media type */
} gw_answer_t;

typedef struct {
    const char *method;
    const char *pattern;
    gw_handler_fn handler;
    /* Protected routes: gw_http asks auth.authorize for this permission
     * before the handler and hands it the principal. NULL: public. */
    const char *permission;
    gw_body_kind_t body;
    /* JSON routes: the fields a body may have (NULL-terminated); anything
     * else is 422. NULL: any object (test routes only). */
    const gw_field_t *fields;
    unsigned flags;        /* GW_ROUTE_* */
    const gw_call_t *call; /* what gw_api_handle and friends send; see gw_api.h */
    const char *summary;   /* one line for the API document */
    /* The success answer when the call does not give it (status, shape);
     * NULL: the call's. */
    const gw_answer_t *answer;
} gw_route_t;

typedef enum {
    GW_MATCH_OK,
    GW_MATCH_NOT_FOUND,          /* no pattern matches the path */
    GW_MATCH_METHOD_NOT_ALLOWED, /* a pattern matches, not with this method; see allow */
} gw_match_result_t;

#define GW_ALLOW_MAX 128

typedef struct {
    const gw_route_t *route; /* GW_MATCH_OK only */
    gw_param_t params[GW_PARAMS_MAX];
    size_t nparams;
    /* When the path matched: the methods of its routes, HEAD when GET is one
     * of them, and OPTIONS, e.g. "GET, HEAD, OPTIONS". Empty otherwise. */
    char allow[GW_ALLOW_MAX];
} gw_match_t;

/* Matches `method` and `target` (a path; anything from '?' on is ignored)
 * against `routes`. HEAD is served by GET routes. Parameter values are
 * 1..GW_PARAM_MAX bytes without '/'. */
gw_match_result_t gw_route_match(const gw_route_t *routes, size_t n, const char *method,
                                 const char *target, gw_match_t *out);

/* The public route table; `*n` receives its length. */
const gw_route_t *gw_route_table(size_t *n);

#endif
