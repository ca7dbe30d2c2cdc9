/*
 * gw_route: the route table as data, and its matcher. A row names a method,
 * a pattern of exact and {param} segments ("/api/v1/users/{id}"), the
 * handler, the permission authsvc must grant (NULL: public) and whether the
 * route takes a JSON body. Adding a route is adding a row.
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include "gw_handler.h"

#include <stddef.h>

typedef enum {
    GW_BODY_NONE, /* no body expected (one is read and discarded, within MAX_JSON_BYTES) */
    GW_BODY_JSON, /* application/json object, at most MAX_JSON_BYTES */
} gw_body_kind_t;

typedef struct {
    const char *method;
    const char *pattern;
    gw_handler_fn handler;
    const char *permission;
    gw_body_kind_t body;
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
