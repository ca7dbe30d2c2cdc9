/*
 * store_sql: field readers, the query runner with its error mapping, and
 * result-cell readers shared by the storesvc data handlers.
 *
 * Log lines name the op, the store_db status and the SQLSTATE, with the
 * request id; never a parameter (emails, hashes and tokens are parameters).
 */
#include "store_sql.h"

#include "rt_uuid.h"

#include "rt_log.h"
#include "store_handlers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

proto_err_t store_sql_opt_uuid(const proto_request_t *req, const char *name, char *out,
                               const char **val, proto_fail_t *fail)
{
    char id[PROTO_STR_BUF(PROTO_B_ID)];
    bool given = false;
    const proto_str_arg_t args[] = {{name, id, sizeof id, &given}};
    proto_err_t err = proto_body_strs(req, args, 1, fail);
    *val = NULL;
    if (err != PROTO_OK || !given)
        return err;
    if (!rt_uuid_valid(id))
        return PROTO_ERR_NOT_FOUND;
    memcpy(out, id, STORE_UUID_CAP - 1);
    out[STORE_UUID_CAP - 1] = '\0';
    *val = out;
    return PROTO_OK;
}

proto_err_t store_sql_uuid(const proto_request_t *req, const char *name, char *out,
                           proto_fail_t *fail)
{
    const char *val = NULL;
    proto_err_t err = store_sql_opt_uuid(req, name, out, &val, fail);
    return err == PROTO_OK && !val ? PROTO_ERR_NOT_FOUND : err; /* a required "" or nil */
}

proto_err_t store_sql_opt_str(const proto_request_t *req, const char *name, char *out, size_t cap,
                              const char **val, proto_fail_t *fail)
{
    bool given = false;
    const proto_str_arg_t args[] = {{name, out, cap, &given}};
    proto_err_t err = proto_body_strs(req, args, 1, fail);
    *val = err == PROTO_OK && given ? out : NULL;
    return err;
}

proto_err_t store_sql_opt_bool(const proto_request_t *req, const char *name, const char **val,
                               proto_fail_t *fail)
{
    bool b = false, given = false;
    const proto_bool_arg_t args[] = {{name, &b, &given}};
    proto_err_t err = proto_body_bools(req, args, 1, fail);
    *val = err != PROTO_OK || !given ? NULL : b ? "true" : "false";
    return err;
}

proto_err_t store_sql_int(const proto_request_t *req, const char *name, char *buf, const char **val,
                          int64_t *v, proto_fail_t *fail)
{
    int64_t n = 0;
    bool given = false;
    const proto_int_arg_t args[] = {{name, &n, &given}};
    proto_err_t err = proto_body_ints(req, args, 1, fail);
    *val = err == PROTO_OK && given ? store_sql_int_text(n, buf) : NULL;
    if (v)
        *v = n;
    return err;
}

proto_err_t store_sql_bin(const proto_request_t *req, const char *name, const char **data, int *len,
                          proto_fail_t *fail)
{
    size_t n = 0;
    const proto_bin_arg_t args[] = {{name, data, &n}};
    proto_err_t err = proto_body_bins(req, args, 1, fail);
    *len = (int)n; /* within the catalogue's bound: PROTO_FILE_PART_MAX at most */
    return err;
}

const char *store_sql_int_text(int64_t v, char *buf)
{
    snprintf(buf, STORE_INT_CAP, "%" PRId64, v);
    return buf;
}

/* The wire error for an error answer: the handler's mapping, else internal. */
static proto_err_t map_sqlstate(const proto_request_t *req, const char *state,
                                const store_sql_map_t *map)
{
    for (const store_sql_map_t *m = map; m && m->sqlstate; m++) {
        if (strcmp(m->sqlstate, state) == 0)
            return m->err;
    }
    rt_log_fields(RT_LOG_ERROR, req->rid, "database error",
                  json_pack("{s:s, s:s}", "op", proto_op_name(req->op), "sqlstate", state));
    return PROTO_ERR_INTERNAL_ERROR;
}

proto_err_t store_sql_run(const proto_call_ctx_t *cc, const proto_request_t *req,
                          const store_query_t *q, const store_sql_map_t *map, PGresult **res)
{
    const store_worker_t *w = cc->worker;
    *res = NULL;
    if (!w || !w->db)
        return PROTO_ERR_UNAVAILABLE; /* the worker could not be set up */
    int rc = store_db_exec(w->db, q, res);
    switch (rc) {
    case STORE_DB_OK:
        return PROTO_OK;
    case STORE_DB_ERROR:
        return map_sqlstate(req, store_db_sqlstate(w->db), map);
    case STORE_DB_DOWN: /* store_db logs each outage once; this line follows the request */
    case STORE_DB_TIMEOUT:
        rt_log_fields(rc == STORE_DB_TIMEOUT ? RT_LOG_WARNING : RT_LOG_DEBUG, req->rid,
                      "database unavailable for the request",
                      json_pack("{s:s, s:s}", "op", proto_op_name(req->op), "status",
                                store_db_status_str(rc)));
        return PROTO_ERR_UNAVAILABLE;
    default:
        return store_sql_internal(req, store_db_status_str(rc));
    }
}

proto_err_t store_sql_internal(const proto_request_t *req, const char *what)
{
    rt_log_fields(RT_LOG_ERROR, req->rid, "request failed",
                  json_pack("{s:s, s:s}", "op", proto_op_name(req->op), "error", what));
    return PROTO_ERR_INTERNAL_ERROR;
}

const char *store_sql_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

bool store_sql_flag(const PGresult *res, int row, int col)
{
    const char *v = store_sql_str(res, row, col);
    return v && v[0] == 't';
}

int64_t store_sql_i64(const PGresult *res, int row, int col)
{
    const char *v = store_sql_str(res, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

void store_sql_pack_str(msgpack_packer *pk, const char *key, const PGresult *res, int row, int col)
{
    proto_pack_kv_str(pk, key, store_sql_str(res, row, col));
}

int store_sql_pack_shape(msgpack_packer *pk, const proto_shape_t *shape, const PGresult *res,
                         int row, int col)
{
    const proto_rkey_t *keys[STORE_SHAPE_KEYS_MAX];
    size_t n = proto_shape_keys(shape, keys, STORE_SHAPE_KEYS_MAX);
    if (n > STORE_SHAPE_KEYS_MAX || col < 0 || PQnfields(res) < col + (int)n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (keys[i]->type != PROTO_R_STR && keys[i]->type != PROTO_R_INT &&
            keys[i]->type != PROTO_R_BOOL)
            return -1;
    }
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        int c = col + (int)i;
        proto_pack_cstr(pk, keys[i]->key);
        if (PQgetisnull(res, row, c))
            msgpack_pack_nil(pk);
        else if (keys[i]->type == PROTO_R_STR)
            proto_pack_cstr(pk, PQgetvalue(res, row, c));
        else if (keys[i]->type == PROTO_R_INT)
            msgpack_pack_int64(pk, store_sql_i64(res, row, c));
        else if (store_sql_flag(res, row, c))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    }
    return (int)n;
}

proto_err_t store_sql_reply_shape(const proto_request_t *req, msgpack_packer *pk,
                                  const proto_shape_t *shape, const PGresult *res, int row, int col)
{
    if (store_sql_pack_shape(pk, shape, res, row, col) < 0)
        return store_sql_internal(req, "a result row that does not fit the reply shape");
    return PROTO_OK;
}
