/*
 * store_sql: what every storesvc data handler needs around store_db.
 *
 * - Reading request fields that become query parameters: ids are checked to
 *   be UUIDs before any query (a malformed id is not_found, never a SQL
 *   error), optional strings distinguish "absent" from nil.
 * - Running one query on the worker's connection and turning its status into
 *   the wire error: down or timed out -> unavailable; an error answer whose
 *   SQLSTATE the handler expects (23505 unique violation, ...) -> the code the
 *   handler maps it to; anything else -> internal_error with one log line
 *   (op, SQLSTATE, request id; never a parameter value).
 * - Reading typed values out of a result row, and the SQL fragments every
 *   handler formats the same way (RFC 3339 timestamps, epoch milliseconds).
 */
#ifndef STORE_SQL_H
#define STORE_SQL_H

#include "proto_server.h"
#include "store_db.h"

#include <stdbool.h>
#include <stdint.h>

#define STORE_UUID_CAP       37 /* 36 characters and the NUL */
#define STORE_SHAPE_KEYS_MAX 16 /* keys of a shape packed from one row */
#define STORE_INT_CAP        24 /* an int64 in decimal and the NUL */

/* A timestamptz column as "2026-11-22T10:00:00Z" (UTC, second precision). */
#define STORE_SQL_RFC3339(col)                                                                     \
    "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A timestamptz column as epoch milliseconds (bigint). */
#define STORE_SQL_EPOCH_MS(col) "floor(extract(epoch FROM (" col ")) * 1000)::bigint"

/* Request fields that become query parameters, read through the
 * catalogue (proto_body_strs and its siblings: typed, within the field's
 * bounds; a handler naming a field its op does not have gets
 * PROTO_ERR_INTERNAL_ERROR). Each returns PROTO_OK or the error to answer.
 *
 * The id `name` (a UUID) into out[STORE_UUID_CAP]: PROTO_ERR_NOT_FOUND
 * when it is no UUID (a malformed id names nothing). */
proto_err_t store_sql_uuid(const proto_request_t *req, const char *name, char *out,
                           proto_fail_t *fail);

/* The optional id `name`: `*val` receives `out` when a UUID was given,
 * NULL when absent or nil; PROTO_ERR_NOT_FOUND when given but no UUID. */
proto_err_t store_sql_opt_uuid(const proto_request_t *req, const char *name, char *out,
                               const char **val, proto_fail_t *fail);

/* The optional string `name` copied into out[cap] (cap at least
 * PROTO_STR_BUF of its bound): `*val` receives `out` when set, NULL when
 * absent or nil. */
proto_err_t store_sql_opt_str(const proto_request_t *req, const char *name, char *out, size_t cap,
                              const char **val, proto_fail_t *fail);

/* The optional bool `name` as a query parameter: "true", "false" or NULL. */
proto_err_t store_sql_opt_bool(const proto_request_t *req, const char *name, const char **val,
                               proto_fail_t *fail);

/* The integer `name` (within its catalogue range) as query text in
 * buf[STORE_INT_CAP]: `*val` receives `buf`, or NULL when absent; `*v`
 * (may be NULL) the value. */
proto_err_t store_sql_int(const proto_request_t *req, const char *name, char *buf, const char **val,
                          int64_t *v, proto_fail_t *fail);

/* The bytes of `name` (within the catalogue's min..max; a digest is
 * exactly PROTO_B_DIGEST): *data points into the request, NULL when absent;
 * *len their count. */
proto_err_t store_sql_bin(const proto_request_t *req, const char *name, const char **data, int *len,
                          proto_fail_t *fail);

/* Formats `v` into `buf` (STORE_INT_CAP bytes) and returns `buf`. */
const char *store_sql_int_text(int64_t v, char *buf);

/* An expected SQLSTATE and the wire error it means; tables end with NULL. */
typedef struct {
    const char *sqlstate;
    proto_err_t err;
} store_sql_map_t;

/* Runs `q` on the worker's connection. PROTO_OK: `*res` is the result, the
 * caller's to PQclear. Otherwise `*res` is NULL and the return is the wire
 * error (see the top of this file); `map` (may be NULL) lists the expected
 * SQLSTATEs. */
proto_err_t store_sql_run(const proto_call_ctx_t *cc, const proto_request_t *req,
                          const store_query_t *q, const store_sql_map_t *map, PGresult **res);

/* Logs an internal failure of the request's op that is not a query error
 * (e.g. a result of the wrong shape) and returns PROTO_ERR_INTERNAL_ERROR. */
proto_err_t store_sql_internal(const proto_request_t *req, const char *what);

/* Typed cells of a result (row, column). str: NULL for SQL NULL, borrowed
 * from `res`; flag: "t" is true; i64: 0 for NULL or junk. */
const char *store_sql_str(const PGresult *res, int row, int col);
bool store_sql_flag(const PGresult *res, int row, int col);
int64_t store_sql_i64(const PGresult *res, int row, int col);

/* Packs `key` and the cell (string, or nil for SQL NULL). */
void store_sql_pack_str(msgpack_packer *pk, const char *key, const PGresult *res, int row, int col);

/* Packs a map of `shape` (proto_catalog.h) from the cells of `row` from
 * column `col` on, one per key in the shape's order: STR a string, INT an
 * int64, BOOL a flag; SQL NULL is nil. Returns the columns used, or -1
 * (packing nothing) when the shape holds another type or the row has too
 * few columns: the handler's bug. */
int store_sql_pack_shape(msgpack_packer *pk, const proto_shape_t *shape, const PGresult *res,
                         int row, int col);

/* store_sql_pack_shape for a handler: PROTO_OK, or PROTO_ERR_INTERNAL_ERROR
 * (logged with the op) when it packed nothing. */
proto_err_t store_sql_reply_shape(const proto_request_t *req, msgpack_packer *pk,
                                  const proto_shape_t *shape, const PGresult *res, int row,
                                  int col);

#endif
