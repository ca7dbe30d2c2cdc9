/*
 * gw_openapi: the API as an OpenAPI 3.1 document, made from the route table
 * alone (gw_route.h): paths and path parameters from the patterns, request
 * bodies from the field tables (gw_schema.h), success answers from the
 * routes' calls and answers, security from the permission and flags, the
 * problem answers (RFC 9457, as gw_problem makes them) from the body kind
 * and flags, and the error codes from the shared error table. A route or a
 * field added to the table is in the document without another edit.
 *
 * Which problems a route may answer follows docs/API.md's "Errors common
 * to routes of a kind"; route-specific refusals (409, ...) are under
 * "default".
 */
#ifndef GW_OPENAPI_H
#define GW_OPENAPI_H

#include "gw_route.h"

#include <jansson.h>
#include <stddef.h>

/* The document of `routes` (n rows), info.version `version`. A new
 * reference; NULL when out of memory. */
json_t *gw_openapi_new(const gw_route_t *routes, size_t n, const char *version);

/* gw_openapi_new serialised (key order kept): a heap string the caller
 * frees, its length in `*len`; NULL when out of memory. */
char *gw_openapi_dumps(const gw_route_t *routes, size_t n, const char *version, size_t *len);

#endif
