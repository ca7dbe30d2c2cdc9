/*
 * gw_problem: RFC 9457 problem JSON bodies from the shared error table:
 * {"type":"about:blank","title","status","detail","code","request_id"} and,
 * for validation errors, "errors":[{"field","message"}]. Status, title and
 * code come from proto_error so the gateway and the services never disagree.
 */
#ifndef GW_PROBLEM_H
#define GW_PROBLEM_H

#include "proto_error.h"

#include <jansson.h>
#include <stddef.h>

/* The problem object for `err` (PROTO_OK or out of range: internal_error).
 * `detail` NULL or empty, or not valid UTF-8, uses the code's public detail
 * (proto_err_detail); internal_error always does: the real cause goes to
 * the log only. `rid` may be NULL. `errors` (may be
 * NULL) is borrowed and added when it is an array. Returns a new reference,
 * NULL when out of memory. */
json_t *gw_problem_new(proto_err_t err, const char *detail, const char *rid, const json_t *errors);

/* gw_problem_new serialised compactly. Returns a heap string the caller
 * frees, with its length in `*len`; NULL when out of memory. */
char *gw_problem_dumps(proto_err_t err, const char *detail, const char *rid, const json_t *errors,
                       size_t *len);

/* gw_problem_dumps answered with `status` instead of the error table's
 * (its title that of the table's first row with that status; 0: the
 * table's status). */
char *gw_problem_dumps_status(proto_err_t err, int status, const char *detail, const char *rid,
                              const json_t *errors, size_t *len);

/* The HTTP status gw_problem_new uses for `err`. */
int gw_problem_status(proto_err_t err);

#endif
