/*
 * store_reset: the store.reset_* handlers (see the header). Hashes travel
 * as msgpack bin and reach PostgreSQL as binary bytea parameters; nothing
 * here logs a parameter.
 */
#include "store_reset.h"

#include "store_sql.h"

#include <stdint.h>
#include <stdio.h>

#define HASH_LEN PROTO_B_DIGEST /* SHA-256 */
#define CAP_HASH PROTO_STR_BUF(PROTO_B_HASH)

/* Runs `q` (hash first, binary); PROTO_ERR_NOT_FOUND when no row came back. */
static proto_err_t run_rows(const proto_call_ctx_t *cc, const proto_request_t *req,
                            const store_query_t *q, int ncols, PGresult **res)
{
    proto_err_t err = store_sql_run(cc, req, q, NULL, res);
    if (err == PROTO_OK && PQnfields(*res) != ncols)
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK && PQntuples(*res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    if (err != PROTO_OK) {
        PQclear(*res);
        *res = NULL;
    }
    return err;
}

/* ------------------------------------------------------------- create -- */

/* One row per user: an upsert replaces whatever token the user had. */
static const char sql_create[] =
    "INSERT INTO password_reset_tokens (user_id, token_hash, expires_at)"
    " SELECT id, $2::bytea, now() + $3::bigint * interval '1 second'"
    "  FROM users WHERE id = $1::uuid AND is_active"
    " ON CONFLICT (user_id) DO UPDATE SET token_hash = EXCLUDED.token_hash,"
    "  created_at = now(), expires_at = EXCLUDED.expires_at, used_at = NULL"
    " RETURNING id";

proto_err_t store_reset_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP], exp_buf[STORE_INT_CAP];
    const char *hash = NULL, *expires = NULL;
    int hash_len = 0;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "user_id", user, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "token_hash", &hash, &hash_len, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "expires_s", exp_buf, &expires, NULL, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {user, hash, expires};
    const int lens[] = {0, HASH_LEN, 0};
    const int fmts[] = {0, 1, 0};
    const store_query_t q = {
        .sql = sql_create, .nparams = 3, .values = vals, .lengths = lens, .formats = fmts};
    PGresult *res = NULL;
    err = run_rows(cc, req, &q, 1, &res);
    if (err == PROTO_OK)
        msgpack_pack_map(body, 0);
    PQclear(res);
    return err;
}

/* -------------------------------------------------------------- check -- */

#define LIVE_TOKEN "t.token_hash = $1::bytea AND t.used_at IS NULL AND t.expires_at > now()"

static const char sql_check[] = "SELECT t.user_id::text, u.username"
                                " FROM password_reset_tokens t JOIN users u ON u.id = t.user_id"
                                " WHERE " LIVE_TOKEN " AND u.is_active";

proto_err_t store_reset_check(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail)
{
    const char *hash = NULL;
    int hash_len = 0;
    proto_err_t err = store_sql_bin(req, "token_hash", &hash, &hash_len, fail);
    if (err != PROTO_OK)
        return err;
    const char *vals[] = {hash};
    const int lens[] = {HASH_LEN};
    const int fmts[] = {1};
    const store_query_t q = {.sql = sql_check,
                             .nparams = 1,
                             .values = vals,
                             .lengths = lens,
                             .formats = fmts,
                             .idempotent = true};
    PGresult *res = NULL;
    err = run_rows(cc, req, &q, 2, &res);
    if (err == PROTO_OK) /* the columns are the keys of the reply */
        err = store_sql_reply_shape(req, body, proto_op_def(req->op)->reply, res, 0, 0);
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------ consume -- */

/* The token is taken (a racing consume re-checks used_at after the row
 * lock and finds none), the password set, the sessions revoked through
 * store_revoke_user_tokens (the per-user lock that rotation takes too). */
static const char sql_consume[] =
    "WITH t AS (UPDATE password_reset_tokens t SET used_at = now()"
    "   WHERE " LIVE_TOKEN " AND t.user_id IN (SELECT id FROM users WHERE is_active)"
    "   RETURNING t.user_id),"
    " u AS (UPDATE users SET password_hash = $2, updated_at = now(),"
    "   tokens_valid_after = greatest(tokens_valid_after,"
    "     timestamptz 'epoch' + $3::bigint * interval '1 millisecond')"
    "   FROM t WHERE users.id = t.user_id RETURNING users.id)"
    " SELECT u.id::text, store_revoke_user_tokens(u.id, NULL, NULL) FROM u";

proto_err_t store_reset_consume(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail)
{
    char pw[CAP_HASH], at_buf[STORE_INT_CAP];
    const char *hash = NULL, *at_ms = NULL;
    int hash_len = 0;
    const proto_str_arg_t strs[] = {{"password_hash", pw, sizeof pw, NULL}}; /* not empty */
    proto_err_t err;
    if ((err = store_sql_bin(req, "token_hash", &hash, &hash_len, fail)) != PROTO_OK ||
        (err = proto_body_strs(req, strs, 1, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "at_ms", at_buf, &at_ms, NULL, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {hash, pw, at_ms};
    const int lens[] = {HASH_LEN, 0, 0};
    const int fmts[] = {1, 0, 0};
    const store_query_t q = {
        .sql = sql_consume, .nparams = 3, .values = vals, .lengths = lens, .formats = fmts};
    PGresult *res = NULL;
    err = run_rows(cc, req, &q, 2, &res);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1);
        store_sql_pack_str(body, "user_id", res, 0, 0);
    }
    PQclear(res);
    return err;
}
