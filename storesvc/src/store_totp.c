/*
 * store_totp: the store.totp_* handlers (see the header).
 *
 * Sealed secrets and code hashes travel as msgpack bin and go to
 * PostgreSQL as binary bytea parameters; bytea results come back in
 * PostgreSQL's text form and are unescaped before they are packed. None of
 * them is ever logged (store_sql logs the op and the SQLSTATE only).
 */
#include "store_totp.h"

#include "store_sql.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static proto_err_t bad_request(proto_fail_t *fail, const char *msg)
{
    snprintf(fail->msg, sizeof fail->msg, "%s", msg);
    return PROTO_ERR_BAD_REQUEST;
}

/* Packs `key` and a bytea cell (text form) as bin, or nil for SQL NULL. */
static int pack_bytea(msgpack_packer *pk, const char *key, const PGresult *res, int row, int col)
{
    const char *text = store_sql_str(res, row, col);
    proto_pack_cstr(pk, key);
    if (!text)
        return msgpack_pack_nil(pk);
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)text, &n);
    if (!raw)
        return -1;
    int rc = msgpack_pack_bin(pk, n) | msgpack_pack_bin_body(pk, raw, n);
    PQfreemem(raw);
    return rc;
}

/* Runs `q`, which must answer one row of `ncols` columns, into *res. */
static proto_err_t run_row(const proto_call_ctx_t *cc, const proto_request_t *req,
                           const store_query_t *q, int ncols, PGresult **res)
{
    proto_err_t err = store_sql_run(cc, req, q, NULL, res);
    if (err == PROTO_OK && (PQnfields(*res) != ncols || PQntuples(*res) > 1))
        err = store_sql_internal(req, "unexpected result shape");
    if (err != PROTO_OK) {
        PQclear(*res);
        *res = NULL;
    }
    return err;
}

/* ---------------------------------------------------------------- get -- */

static const char sql_get[] = "SELECT totp_enabled, totp_secret, totp_pending, totp_last_step,"
                              " (SELECT count(*) FROM totp_backup_codes WHERE user_id = $1::uuid)"
                              " FROM users WHERE id = $1::uuid";

proto_err_t store_totp_get(const proto_call_ctx_t *cc, const proto_request_t *req,
                           msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP];
    proto_err_t err = store_sql_uuid(req, "user_id", user, fail);
    if (err != PROTO_OK)
        return err;
    const char *vals[] = {user};
    const store_query_t q = {.sql = sql_get, .nparams = 1, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = run_row(cc, req, &q, 5, &res);
    if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    if (err == PROTO_OK) {
        bool has_step = store_sql_str(res, 0, 3) != NULL;
        int rc = msgpack_pack_map(body, 5);
        proto_pack_kv_bool(body, "enabled", store_sql_flag(res, 0, 0));
        rc |= pack_bytea(body, "secret", res, 0, 1);
        rc |= pack_bytea(body, "pending", res, 0, 2);
        proto_pack_cstr(body, "last_step");
        rc |=
            has_step ? msgpack_pack_int64(body, store_sql_i64(res, 0, 3)) : msgpack_pack_nil(body);
        proto_pack_kv_int(body, "backup_codes", store_sql_i64(res, 0, 4));
        if (rc != 0)
            err = store_sql_internal(req, "cannot pack the reply");
    }
    PQclear(res);
    return err;
}

/* -------------------------------------------------------------- setup -- */

/* Stores the pending secret unless TOTP is on; the second column tells an
 * unknown user (not_found) from one with TOTP on (conflict). */
static const char sql_setup[] =
    "WITH u AS (UPDATE users SET totp_pending = $2::bytea, updated_at = now()"
    "           WHERE id = $1::uuid AND NOT totp_enabled RETURNING id)"
    " SELECT (SELECT count(*) FROM u), EXISTS (SELECT 1 FROM users WHERE id = $1::uuid)";

proto_err_t store_totp_setup(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP];
    const char *secret = NULL;
    int secret_len = 0;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "user_id", user, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "secret", &secret, &secret_len, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {user, secret};
    const int lens[] = {0, secret_len};
    const int fmts[] = {0, 1};
    const store_query_t q = {.sql = sql_setup,
                             .nparams = 2,
                             .values = vals,
                             .lengths = lens,
                             .formats = fmts,
                             .idempotent = true};
    PGresult *res = NULL;
    err = run_row(cc, req, &q, 2, &res);
    if (err == PROTO_OK && PQntuples(res) != 1)
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK && store_sql_i64(res, 0, 0) != 1)
        err = store_sql_flag(res, 0, 1) ? PROTO_ERR_CONFLICT : PROTO_ERR_NOT_FOUND;
    if (err == PROTO_OK)
        msgpack_pack_map(body, 0);
    else if (err == PROTO_ERR_CONFLICT)
        snprintf(fail->msg, sizeof fail->msg, "TOTP is already enabled");
    PQclear(res);
    return err;
}

/* ------------------------------------------------------ enable, disable -- */

/* What the PL/pgSQL functions (migration 5) answer, the error it means,
 * and the wire value a successful one is (-1: none). */
typedef struct {
    const char *outcome;
    proto_err_t err;
    int value;
} outcome_row_t;

static const outcome_row_t enable_outcomes[] = {
    {"enabled", PROTO_OK, PROTO_TOTP_ENABLED},
    {"stale", PROTO_OK, PROTO_TOTP_STALE},
    {"conflict", PROTO_ERR_CONFLICT, -1},
    {"not_found", PROTO_ERR_NOT_FOUND, -1},
};
static const outcome_row_t disable_outcomes[] = {
    {"disabled", PROTO_OK, 1},
    {"not_enabled", PROTO_OK, 0},
    {"not_found", PROTO_ERR_NOT_FOUND, -1},
};

/* Runs a one-cell query whose text is one of `rows`; *outcome points at
 * the row. */
static proto_err_t run_outcome(const proto_call_ctx_t *cc, const proto_request_t *req,
                               const store_query_t *q, const outcome_row_t *rows, size_t n,
                               const outcome_row_t **outcome)
{
    PGresult *res = NULL;
    proto_err_t err = run_row(cc, req, q, 1, &res);
    const char *text = err == PROTO_OK && PQntuples(res) == 1 ? store_sql_str(res, 0, 0) : NULL;
    *outcome = NULL;
    for (size_t i = 0; text && i < n && !*outcome; i++) {
        if (strcmp(rows[i].outcome, text) == 0)
            *outcome = &rows[i];
    }
    if (err == PROTO_OK) /* logged only when the function answered none of `rows` */
        err = *outcome ? (*outcome)->err : store_sql_internal(req, "unexpected outcome");
    PQclear(res);
    return err;
}

proto_err_t store_totp_enable(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP], step_buf[STORE_INT_CAP];
    const char *secret = NULL, *hashes = NULL, *step = NULL;
    const outcome_row_t *outcome = NULL;
    int secret_len = 0, hashes_len = 0;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "user_id", user, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "secret", &secret, &secret_len, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "backup_hashes", &hashes, &hashes_len, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "step", step_buf, &step, NULL, fail)) != PROTO_OK)
        return err;
    if (hashes_len % PROTO_B_DIGEST != 0)
        return bad_request(fail, "backup_hashes must be whole 32-byte hashes");
    const char *vals[] = {user, secret, step, hashes};
    const int lens[] = {0, secret_len, 0, hashes_len};
    const int fmts[] = {0, 1, 0, 1};
    const store_query_t q = {
        .sql = "SELECT store_totp_enable($1::uuid, $2::bytea, $3::bigint, $4::bytea)",
        .nparams = 4,
        .values = vals,
        .lengths = lens,
        .formats = fmts};
    err = run_outcome(cc, req, &q, enable_outcomes,
                      sizeof enable_outcomes / sizeof enable_outcomes[0], &outcome);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1);
        proto_pack_kv_str(body, "outcome", proto_val_name(PROTO_VALS_TOTP_ENABLE, outcome->value));
    } else if (err == PROTO_ERR_CONFLICT) {
        snprintf(fail->msg, sizeof fail->msg, "TOTP is already enabled");
    }
    return err;
}

proto_err_t store_totp_disable(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP];
    const outcome_row_t *outcome = NULL;
    proto_err_t err = store_sql_uuid(req, "user_id", user, fail);
    if (err != PROTO_OK)
        return err;
    const char *vals[] = {user};
    const store_query_t q = {.sql = "SELECT store_totp_disable($1::uuid)",
                             .nparams = 1,
                             .values = vals,
                             .idempotent = true};
    err = run_outcome(cc, req, &q, disable_outcomes,
                      sizeof disable_outcomes / sizeof disable_outcomes[0], &outcome);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1);
        proto_pack_kv_bool(body, "disabled", outcome->value == 1);
    }
    return err;
}

/* ------------------------------------------------------ use step, backup -- */

/* The step only moves forward: a code of a step at or before the last one
 * accepted is refused, and of two racing updates with one step the second
 * re-checks the WHERE clause after the first commits and matches nothing. */
static const char sql_use_step[] =
    "UPDATE users SET totp_last_step = $2::bigint"
    " WHERE id = $1::uuid AND totp_enabled"
    "   AND (totp_last_step IS NULL OR totp_last_step < $2::bigint) RETURNING id";

proto_err_t store_totp_use_step(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP], step_buf[STORE_INT_CAP];
    const char *step = NULL;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "user_id", user, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "step", step_buf, &step, NULL, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {user, step};
    const store_query_t q = {.sql = sql_use_step, .nparams = 2, .values = vals};
    PGresult *res = NULL;
    err = run_row(cc, req, &q, 1, &res);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1);
        proto_pack_kv_bool(body, "accepted", PQntuples(res) == 1);
    }
    PQclear(res);
    return err;
}

/* Deletes the code (only while TOTP is on); counts what is left, in the
 * statement's snapshot, so the deleted row is subtracted. */
static const char sql_use_backup[] =
    "WITH d AS (DELETE FROM totp_backup_codes c USING users u"
    "           WHERE c.user_id = $1::uuid AND c.code_hash = $2::bytea"
    "             AND u.id = c.user_id AND u.totp_enabled RETURNING c.user_id)"
    " SELECT (SELECT count(*) FROM d),"
    "  (SELECT count(*) FROM totp_backup_codes WHERE user_id = $1::uuid) - (SELECT count(*) FROM "
    "d)";

proto_err_t store_totp_use_backup(const proto_call_ctx_t *cc, const proto_request_t *req,
                                  msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP];
    const char *hash = NULL;
    int hash_len = 0;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "user_id", user, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "code_hash", &hash, &hash_len, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {user, hash};
    const int lens[] = {0, hash_len};
    const int fmts[] = {0, 1};
    const store_query_t q = {
        .sql = sql_use_backup, .nparams = 2, .values = vals, .lengths = lens, .formats = fmts};
    PGresult *res = NULL;
    err = run_row(cc, req, &q, 2, &res);
    if (err == PROTO_OK && PQntuples(res) != 1)
        err = store_sql_internal(req, "unexpected result shape");
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 2);
        proto_pack_kv_bool(body, "accepted", store_sql_i64(res, 0, 0) == 1);
        proto_pack_kv_int(body, "remaining", store_sql_i64(res, 0, 1));
    }
    PQclear(res);
    return err;
}
