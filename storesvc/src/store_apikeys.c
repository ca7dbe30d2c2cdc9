/*
 * store_apikeys: the store.apikey_* handlers (see the header). The secret's
 * hash goes to PostgreSQL as a binary bytea parameter and comes back hex
 * encoded (text results), turned into 32 bytes of bin here.
 */
#include "store_apikeys.h"

#include "store_sql.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HASH_LEN  PROTO_B_DIGEST /* SHA-256 */
#define CAP_KEYID PROTO_STR_BUF(PROTO_B_KEYID)
#define CAP_NAME  PROTO_STR_BUF(PROTO_B_NAME)
#define CAP_PERMS PROTO_STR_BUF(PROTO_B_PERMS)

#define KEY_COLS                                                                                   \
    "id, name, " STORE_SQL_RFC3339("created_at") ", " STORE_SQL_RFC3339(                           \
        "expires_at") ", "                                                                         \
                      "array_to_string(permissions, ' ')"

static proto_err_t bad_request(proto_fail_t *fail, const char *msg)
{
    snprintf(fail->msg, sizeof fail->msg, "%s", msg);
    return PROTO_ERR_BAD_REQUEST;
}

/* Runs `q`; PROTO_ERR_NOT_FOUND when no row came back (res then NULL). */
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

/* Packs `key`: an int cell, or nil for NULL. */
static void pack_opt_int(msgpack_packer *pk, const char *key, const PGresult *res, int row, int col)
{
    proto_pack_cstr(pk, key);
    if (PQgetisnull(res, row, col))
        msgpack_pack_nil(pk);
    else
        msgpack_pack_int64(pk, store_sql_i64(res, row, col));
}

/* ------------------------------------------------------------- create -- */

/* At most $7 unexpired keys per user: the count and the insert are one
 * statement (two racing creates may both pass the count; the bound is a
 * resource bound, not an exact quota). */
static const char sql_create[] =
    "INSERT INTO api_keys (key_id, user_id, name, secret_hash, permissions, expires_at)"
    " SELECT $1, u.id, $3, $4::bytea, string_to_array($5, ' '),"
    "  now() + $6::bigint * interval '1 second'"
    " FROM users u WHERE u.id = $2::uuid"
    "  AND (SELECT count(*) FROM api_keys k WHERE k.user_id = u.id"
    "       AND (k.expires_at IS NULL OR k.expires_at > now())) < $7::bigint"
    " RETURNING " KEY_COLS;

static const store_sql_map_t map_taken[] = {{"23505", PROTO_ERR_CONFLICT}, {NULL, PROTO_OK}};

static bool key_id_ok(const char *k)
{
    return strlen(k) == 16 && strspn(k, "0123456789abcdef") == 16;
}

proto_err_t store_apikeys_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP], key_id[CAP_KEYID], name[CAP_NAME], perms_buf[CAP_PERMS];
    char exp_txt[STORE_INT_CAP], max_txt[STORE_INT_CAP];
    const char *perms = NULL, *exp = NULL, *max = NULL, *hash = NULL;
    int hash_len = 0;
    const proto_str_arg_t strs[] = {
        {"key_id", key_id, sizeof key_id, NULL}, {"name", name, sizeof name, NULL}, /* not empty */
    };
    proto_err_t err;
    if ((err = store_sql_uuid(req, "user_id", user, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "secret_hash", &hash, &hash_len, fail)) != PROTO_OK ||
        (err = proto_body_strs(req, strs, 2, fail)) != PROTO_OK ||
        (err = store_sql_opt_str(req, "permissions", perms_buf, sizeof perms_buf, &perms, fail)) !=
            PROTO_OK ||
        (err = store_sql_int(req, "max_per_user", max_txt, &max, NULL, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "expires_s", exp_txt, &exp, NULL, fail)) != PROTO_OK)
        return err;
    if (!key_id_ok(key_id))
        return bad_request(fail, "key_id must be 16 hex digits");
    const char *vals[] = {key_id, user, name, hash, perms, exp, max};
    const int lens[] = {0, 0, 0, HASH_LEN, 0, 0, 0};
    const int fmts[] = {0, 0, 0, 1, 0, 0, 0};
    const store_query_t q = {
        .sql = sql_create, .nparams = 7, .values = vals, .lengths = lens, .formats = fmts};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, map_taken, &res);
    if (err == PROTO_OK && PQnfields(res) != 5)
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_CONFLICT;
    if (err == PROTO_OK) /* KEY_COLS are the keys of the reply, in order */
        err = store_sql_reply_shape(req, body, proto_op_def(req->op)->reply, res, 0, 0);
    else if (err == PROTO_ERR_CONFLICT) {
        snprintf(fail->msg, sizeof fail->msg, "too many API keys, or the key id is taken");
    }
    PQclear(res);
    return err;
}

/* --------------------------------------------------------------- list -- */

static const char sql_list[] =
    "SELECT " KEY_COLS
    ", " STORE_SQL_RFC3339("last_used_at") " FROM api_keys WHERE user_id = $1::uuid"
                                           " ORDER BY created_at, id LIMIT $2::integer";

proto_err_t store_apikeys_list(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP], cap[STORE_INT_CAP];
    proto_err_t err = store_sql_uuid(req, "user_id", user, fail);
    if (err != PROTO_OK)
        return err;
    const char *vals[] = {user, store_sql_int_text(STORE_APIKEYS_LIST_MAX, cap)};
    const store_query_t q = {.sql = sql_list, .nparams = 2, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, NULL, &res);
    if (err == PROTO_OK) { /* KEY_COLS and last_used_at: a StoreApiKey, in order */
        msgpack_pack_map(body, 1);
        proto_pack_cstr(body, "api_keys");
        msgpack_pack_array(body, (size_t)PQntuples(res));
        for (int i = 0; i < PQntuples(res) && err == PROTO_OK; i++)
            err =
                store_sql_reply_shape(req, body, proto_shape(PROTO_SHAPE_STORE_API_KEY), res, i, 0);
    }
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------- delete -- */

static const char sql_delete[] =
    "DELETE FROM api_keys WHERE id = $2::uuid AND user_id = $1::uuid RETURNING key_id";

proto_err_t store_apikeys_delete(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP], id[STORE_UUID_CAP];
    proto_err_t err;
    if ((err = store_sql_uuid(req, "user_id", user, fail)) != PROTO_OK ||
        (err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {user, id};
    const store_query_t q = {.sql = sql_delete, .nparams = 2, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = run_rows(cc, req, &q, 1, &res);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1);
        store_sql_pack_str(body, "key_id", res, 0, 0);
    }
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------- lookup -- */

static const char sql_lookup[] =
    "SELECT id, user_id::text, encode(secret_hash, 'hex'), array_to_string(permissions, ' '),"
    " " STORE_SQL_EPOCH_MS("expires_at") ", " STORE_SQL_EPOCH_MS(
        "last_used_at") " FROM api_keys WHERE key_id = $1";

static int unhex(const char *hex, unsigned char *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

proto_err_t store_apikeys_lookup(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail)
{
    char key_id[CAP_KEYID];
    unsigned char hash[HASH_LEN];
    const proto_str_arg_t strs[] = {{"key_id", key_id, sizeof key_id, NULL}};
    proto_err_t err = proto_body_strs(req, strs, 1, fail);
    if (err != PROTO_OK)
        return err;
    if (!key_id_ok(key_id))
        return PROTO_ERR_NOT_FOUND; /* what cannot be a key id names no key */
    const char *vals[] = {key_id};
    const store_query_t q = {.sql = sql_lookup, .nparams = 1, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = run_rows(cc, req, &q, 6, &res);
    if (err == PROTO_OK && unhex(store_sql_str(res, 0, 2), hash, sizeof hash) != 0)
        err = store_sql_internal(req, "a stored key hash of the wrong size");
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 6);
        store_sql_pack_str(body, "id", res, 0, 0);
        store_sql_pack_str(body, "user_id", res, 0, 1);
        proto_pack_cstr(body, "secret_hash");
        msgpack_pack_bin(body, sizeof hash);
        msgpack_pack_bin_body(body, hash, sizeof hash);
        store_sql_pack_str(body, "permissions", res, 0, 3);
        pack_opt_int(body, "expires_ms", res, 0, 4);
        pack_opt_int(body, "last_used_ms", res, 0, 5);
    }
    PQclear(res);
    return err;
}

/* -------------------------------------------------------------- touch -- */

static const char sql_touch[] =
    "UPDATE api_keys SET last_used_at = now() WHERE id = $1::uuid"
    " AND (last_used_at IS NULL OR last_used_at <= now() - $2::bigint * interval '1 second')"
    " RETURNING 1";

proto_err_t store_apikeys_touch(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP], ivl_buf[STORE_INT_CAP];
    const char *ivl = NULL;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "interval_s", ivl_buf, &ivl, NULL, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {id, ivl};
    const store_query_t q = {.sql = sql_touch, .nparams = 2, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, NULL, &res);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1);
        proto_pack_kv_bool(body, "touched", PQntuples(res) > 0);
    }
    PQclear(res);
    return err;
}
