/*
 * store_users: the store.user_* handlers.
 *
 * Every op is one statement, so each is atomic on its own: user_create's
 * "only while no admin exists" is an INSERT ... SELECT ... WHERE NOT EXISTS,
 * set_password and revoke_all update the user and revoke its refresh tokens
 * in the same statement (through store_revoke_user_tokens, the PL/pgSQL function
 * of migration 1 that serialises with token rotation). Usernames are unique
 * case-insensitively (a unique index on lower(username)); emails are stored
 * lower-cased. user_delete removes the rows first (files and tokens go by
 * ON DELETE CASCADE) and the user's objects after, best-effort: an object
 * left behind is garbage, a row left behind would be a dangling file.
 */
#include "store_users.h"

#include "proto_rbac.h"
#include "rt_log.h"
#include "store_handlers.h"
#include "store_sql.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CREATED_AT     STORE_SQL_RFC3339("created_at")
#define VALID_AFTER_MS STORE_SQL_EPOCH_MS("tokens_valid_after")
#define USER_COLS      "id, username, email, full_name, role, is_active, totp_enabled, " CREATED_AT
#define USER_NCOLS     8

/* Buffers for the catalogue's field bounds (proto_catalog.h). */
#define CAP_LOGIN PROTO_STR_BUF(PROTO_B_LOGIN)
#define CAP_EMAIL PROTO_STR_BUF(PROTO_B_EMAIL)
#define CAP_NAME  PROTO_STR_BUF(PROTO_B_NAME)
#define CAP_HASH  PROTO_STR_BUF(PROTO_B_HASH)
#define CAP_ROLE  PROTO_STR_BUF(PROTO_B_ROLE)

static const store_sql_map_t map_taken[] = {{"23505", PROTO_ERR_CONFLICT}, {NULL, PROTO_OK}};

static bool role_valid(const char *role)
{
    return proto_role_parse(role) != PROTO_ROLE_INVALID;
}

static proto_err_t bad_request(proto_fail_t *fail, const char *msg)
{
    snprintf(fail->msg, sizeof fail->msg, "%s", msg);
    return PROTO_ERR_BAD_REQUEST;
}

/* Packs the User in the USER_COLS columns of `row` (they are the keys of
 * the catalogue's User, in its order). */
static proto_err_t pack_user(const proto_request_t *req, msgpack_packer *pk, const PGresult *res,
                             int row)
{
    return store_sql_reply_shape(req, pk, proto_shape(PROTO_SHAPE_USER), res, row, 0);
}

/* Runs a statement returning at most one User: packs it, or `none` when
 * no row came back. */
static proto_err_t reply_user(const proto_call_ctx_t *cc, const proto_request_t *req,
                              const store_query_t *q, const store_sql_map_t *map, proto_err_t none,
                              msgpack_packer *body)
{
    PGresult *res = NULL;
    proto_err_t err = store_sql_run(cc, req, q, map, &res);
    if (err == PROTO_OK && PQnfields(res) != USER_NCOLS)
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK && PQntuples(res) == 0)
        err = none;
    else if (err == PROTO_OK)
        err = pack_user(req, body, res, 0);
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------- create -- */

/* $6: if_no_admin. In one statement, so the check and the insert see the
 * same snapshot; the owner bootstrap of concurrent replicas uses one fixed
 * username, which the unique index arbitrates. */
static const char sql_create[] =
    "INSERT INTO users (username, email, full_name, password_hash, role)"
    " SELECT $1, lower($2), $3, $4, $5"
    " WHERE NOT $6::boolean OR NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')"
    " RETURNING " USER_COLS;

proto_err_t store_users_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    char username[CAP_LOGIN], email[CAP_EMAIL], name[CAP_NAME], hash[CAP_HASH], role[CAP_ROLE];
    const char *full_name = NULL;
    bool if_no_admin = false;
    /* username, email and password_hash are never empty (the catalogue). */
    const proto_str_arg_t strs[] = {
        {"username", username, sizeof username, NULL},
        {"email", email, sizeof email, NULL},
        {"password_hash", hash, sizeof hash, NULL},
        {"role", role, sizeof role, NULL},
    };
    const proto_bool_arg_t bools[] = {{"if_no_admin", &if_no_admin, NULL}};
    proto_err_t err;
    if ((err = proto_body_strs(req, strs, sizeof strs / sizeof strs[0], fail)) != PROTO_OK ||
        (err = store_sql_opt_str(req, "full_name", name, sizeof name, &full_name, fail)) !=
            PROTO_OK ||
        (err = proto_body_bools(req, bools, 1, fail)) != PROTO_OK)
        return err;
    if (!role_valid(role))
        return bad_request(fail, "unknown role");
    const char *vals[] = {username, email, full_name, hash, role, if_no_admin ? "true" : "false"};
    const store_query_t q = {.sql = sql_create, .nparams = 6, .values = vals};
    err = reply_user(cc, req, &q, map_taken, PROTO_ERR_CONFLICT, body);
    if (err == PROTO_ERR_CONFLICT)
        snprintf(fail->msg, sizeof fail->msg, "%s",
                 if_no_admin ? "taken, or an admin exists" : "username or email taken");
    return err;
}

/* ---------------------------------------------------------- get, list -- */

proto_err_t store_users_get(const proto_call_ctx_t *cc, const proto_request_t *req,
                            msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP];
    proto_err_t err = store_sql_uuid(req, "id", id, fail);
    if (err != PROTO_OK)
        return err;
    const char *vals[] = {id};
    const store_query_t q = {.sql = "SELECT " USER_COLS " FROM users WHERE id = $1::uuid",
                             .nparams = 1,
                             .values = vals,
                             .idempotent = true};
    return reply_user(cc, req, &q, NULL, PROTO_ERR_NOT_FOUND, body);
}

/* The total and the page in one snapshot. Columns: the User, sort_at,
 * total; an empty page is one row whose User columns are NULL. */
static const char sql_list[] =
    "WITH total AS (SELECT count(*) AS n FROM users),"
    " page AS (SELECT " USER_COLS ", created_at AS sort_at FROM users"
    "          ORDER BY created_at, id LIMIT $1::bigint OFFSET $2::bigint)"
    " SELECT page.*, total.n FROM total LEFT JOIN page ON true"
    " ORDER BY page.sort_at, page.id";

static proto_err_t pack_list(const proto_request_t *req, msgpack_packer *pk, const PGresult *res,
                             int64_t page, int64_t per_page)
{
    int rows = PQntuples(res);
    int64_t total = rows > 0 ? store_sql_i64(res, 0, USER_NCOLS + 1) : 0;
    int users = rows > 0 && !PQgetisnull(res, 0, 0) ? rows : 0;
    proto_err_t err = PROTO_OK;
    msgpack_pack_map(pk, 5);
    proto_pack_cstr(pk, "users");
    msgpack_pack_array(pk, (size_t)users);
    for (int i = 0; i < users && err == PROTO_OK; i++)
        err = pack_user(req, pk, res, i);
    proto_pack_kv_int(pk, "total", total);
    proto_pack_kv_int(pk, "page", page);
    proto_pack_kv_int(pk, "per_page", per_page);
    proto_pack_kv_int(pk, "pages", total / per_page + (total % per_page != 0));
    return err;
}

proto_err_t store_users_list(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail)
{
    int64_t page = 0, per_page = 0, offset = 0;
    char limit_txt[STORE_INT_CAP], offset_txt[STORE_INT_CAP];
    /* page >= 1, per_page 1..PROTO_PER_PAGE_MAX (the catalogue). */
    const proto_int_arg_t ints[] = {{"page", &page, NULL}, {"per_page", &per_page, NULL}};
    proto_err_t err = proto_body_ints(req, ints, 2, fail);
    if (err != PROTO_OK)
        return err;
    if (__builtin_mul_overflow(page - 1, per_page, &offset))
        return bad_request(fail, "page out of range");
    const char *vals[] = {store_sql_int_text(per_page, limit_txt),
                          store_sql_int_text(offset, offset_txt)};
    const store_query_t q = {.sql = sql_list, .nparams = 2, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, NULL, &res);
    if (err == PROTO_OK && PQnfields(res) != USER_NCOLS + 2)
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK)
        err = pack_list(req, body, res, page, per_page);
    PQclear(res);
    return err;
}

/* -------------------------------------------- find_login, auth_state -- */

/* The keys of store.user_find_login's reply, in order. */
#define LOGIN_COLS "id, username, role, is_active, totp_enabled, password_hash, " VALID_AFTER_MS

/* Usernames cannot contain '@' (the API contract), so a login with one is an email. */
static const char sql_login_email[] = "SELECT " LOGIN_COLS " FROM users WHERE email = lower($1)";
static const char sql_login_name[] =
    "SELECT " LOGIN_COLS " FROM users WHERE lower(username) = lower($1)";

#define AUTH_STATE_COLS "id, username, role, is_active, " VALID_AFTER_MS

static const char sql_auth_state[] =
    "SELECT " AUTH_STATE_COLS ", NULL, NULL FROM users WHERE id = $1::uuid";

/* With the sessions revoked within $2 seconds: the newest $3 of them (one
 * more is read to tell whether there are more; when there are, the newest
 * revocation among the rest comes back as epoch milliseconds). The partial
 * index refresh_tokens_revoked_idx (migration 3) serves the inner query. */
static const char sql_auth_state_revoked[] =
    "WITH r AS (SELECT family_id, max(revoked_at) AS at FROM refresh_tokens"
    "           WHERE user_id = $1::uuid AND revoked_at IS NOT NULL"
    "             AND revoked_at > now() - $2::bigint * interval '1 second'"
    "           GROUP BY family_id ORDER BY at DESC, family_id LIMIT $3::integer + 1),"
    " n AS (SELECT row_number() OVER (ORDER BY at DESC, family_id) AS i, family_id, at FROM r)"
    " SELECT " AUTH_STATE_COLS ","
    "  (SELECT string_agg(family_id::text, ',' ORDER BY i) FROM n WHERE i <= $3::integer),"
    "  (SELECT " STORE_SQL_EPOCH_MS("at") " FROM n WHERE i = $3::integer + 1)"
                                          " FROM users WHERE id = $1::uuid";

/* Packs the comma-separated ids of `list` (NULL: none) as an array. */
static void pack_id_list(msgpack_packer *pk, const char *list)
{
    size_t n = 0;
    for (const char *p = list; p && *p; n++) {
        const char *comma = strchr(p, ',');
        p = comma ? comma + 1 : p + strlen(p);
    }
    msgpack_pack_array(pk, n);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        msgpack_pack_str(pk, len);
        msgpack_pack_str_body(pk, p, len);
        p += len + (p[len] == ',');
    }
}

static void pack_auth_state(msgpack_packer *pk, const PGresult *res, bool revoked)
{
    bool cut = revoked && !PQgetisnull(res, 0, 6);
    msgpack_pack_map(pk, 5 + revoked + cut);
    store_sql_pack_str(pk, "id", res, 0, 0);
    store_sql_pack_str(pk, "username", res, 0, 1);
    store_sql_pack_str(pk, "role", res, 0, 2);
    proto_pack_kv_bool(pk, "is_active", store_sql_flag(res, 0, 3));
    proto_pack_kv_int(pk, "valid_after_ms", store_sql_i64(res, 0, 4));
    if (revoked) {
        proto_pack_cstr(pk, "revoked_sids");
        pack_id_list(pk, store_sql_str(res, 0, 5));
    }
    if (cut)
        proto_pack_kv_int(pk, "revoked_cut_ms", store_sql_i64(res, 0, 6));
}

/* Runs a one-row lookup whose columns are the keys of the op's reply. */
static proto_err_t reply_row(const proto_call_ctx_t *cc, const proto_request_t *req,
                             const store_query_t *q, msgpack_packer *body)
{
    PGresult *res = NULL;
    proto_err_t err = store_sql_run(cc, req, q, NULL, &res);
    if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    else if (err == PROTO_OK)
        err = store_sql_reply_shape(req, body, proto_op_def(req->op)->reply, res, 0, 0);
    PQclear(res);
    return err;
}

proto_err_t store_users_find_login(const proto_call_ctx_t *cc, const proto_request_t *req,
                                   msgpack_packer *body, proto_fail_t *fail)
{
    char login[CAP_LOGIN];
    const proto_str_arg_t args[] = {{"login", login, sizeof login, NULL}};
    proto_err_t err = proto_body_strs(req, args, 1, fail);
    if (err != PROTO_OK)
        return err;
    const char *vals[] = {login};
    const store_query_t q = {.sql = strchr(login, '@') ? sql_login_email : sql_login_name,
                             .nparams = 1,
                             .values = vals,
                             .idempotent = true};
    return reply_row(cc, req, &q, body);
}

proto_err_t store_users_auth_state(const proto_call_ctx_t *cc, const proto_request_t *req,
                                   msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP], within_txt[STORE_INT_CAP], max_txt[STORE_INT_CAP];
    const char *within = NULL, *max = NULL;
    proto_err_t err;
    /* Each within its catalogue range; the two go together. */
    if ((err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "revoked_within_s", within_txt, &within, NULL, fail)) !=
            PROTO_OK ||
        (err = store_sql_int(req, "revoked_max", max_txt, &max, NULL, fail)) != PROTO_OK)
        return err;
    bool has_within = within != NULL;
    if (has_within != (max != NULL))
        return bad_request(fail, "revoked_within_s and revoked_max go together");
    const char *vals[] = {id, within, max};
    const store_query_t q = {.sql = has_within ? sql_auth_state_revoked : sql_auth_state,
                             .nparams = has_within ? 3 : 1,
                             .values = vals,
                             .idempotent = true};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, NULL, &res);
    if (err == PROTO_OK && PQnfields(res) != 7)
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    else if (err == PROTO_OK)
        pack_auth_state(body, res, has_within);
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------- update -- */

/* Only what was given changes: $2 says whether full_name was given ($3
 * NULL clears it); NULL in $4..$6 keeps the column. */
static const char sql_update[] = "UPDATE users SET"
                                 " full_name = CASE WHEN $2::boolean THEN $3 ELSE full_name END,"
                                 " email = coalesce(lower($4), email),"
                                 " role = coalesce($5, role),"
                                 " is_active = coalesce($6::boolean, is_active),"
                                 " updated_at = now()"
                                 " WHERE id = $1::uuid RETURNING " USER_COLS;

proto_err_t store_users_update(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP], name[CAP_NAME], email[CAP_EMAIL], role[CAP_ROLE];
    const char *full_name = NULL, *new_email = NULL, *new_role = NULL, *active = NULL;
    proto_err_t err;
    /* email and role are never nil (the catalogue); full_name nil clears it. */
    if ((err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK ||
        (err = store_sql_opt_str(req, "full_name", name, sizeof name, &full_name, fail)) !=
            PROTO_OK ||
        (err = store_sql_opt_str(req, "email", email, sizeof email, &new_email, fail)) !=
            PROTO_OK ||
        (err = store_sql_opt_str(req, "role", role, sizeof role, &new_role, fail)) != PROTO_OK ||
        (err = store_sql_opt_bool(req, "is_active", &active, fail)) != PROTO_OK)
        return err;
    bool name_given = proto_body_given(req, "full_name") != PROTO_GIVEN_ABSENT;
    if (new_email && !new_email[0])
        return bad_request(fail, "email must not be empty");
    if (new_role && !role_valid(new_role))
        return bad_request(fail, "unknown role");
    const char *vals[] = {id,    name_given ? "true" : "false", full_name, new_email, new_role,
                          active};
    const store_query_t q = {.sql = sql_update, .nparams = 6, .values = vals, .idempotent = true};
    err = reply_user(cc, req, &q, map_taken, PROTO_ERR_NOT_FOUND, body);
    if (err == PROTO_ERR_CONFLICT)
        snprintf(fail->msg, sizeof fail->msg, "email taken");
    return err;
}

/* -------------------------------------------- set_password, revoke_all -- */

/* $3 revoke_sessions, $4 keep_family, $5 at_ms (NULL: now). One statement:
 * the hash, the cut-off and the revocation commit together. at_ms becomes a
 * timestamptz exactly (interval arithmetic, no floating point). "Tokens
 * valid after" only moves forward (greatest), so a late or replayed call
 * never brings back tokens a newer one killed. */
static const char sql_set_password[] =
    "WITH u AS (UPDATE users SET password_hash = $2, updated_at = now(), tokens_valid_after ="
    "   CASE WHEN $3::boolean THEN greatest(tokens_valid_after,"
    "     coalesce(timestamptz 'epoch' + $5::bigint * interval '1 millisecond', now()))"
    "   ELSE tokens_valid_after END"
    "   WHERE id = $1::uuid RETURNING id)"
    " SELECT CASE WHEN $3::boolean"
    "   THEN store_revoke_user_tokens(u.id, NULL, $4::uuid) ELSE 0 END FROM u";

/* Runs a statement returning one count (or no row: not_found). */
static proto_err_t run_count(const proto_call_ctx_t *cc, const proto_request_t *req,
                             const store_query_t *q, int64_t *n)
{
    PGresult *res = NULL;
    proto_err_t err = store_sql_run(cc, req, q, NULL, &res);
    if (err == PROTO_OK && PQnfields(res) != 1)
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    else if (err == PROTO_OK)
        *n = store_sql_i64(res, 0, 0);
    PQclear(res);
    return err;
}

proto_err_t store_users_set_password(const proto_call_ctx_t *cc, const proto_request_t *req,
                                     msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP], keep_buf[STORE_UUID_CAP], hash[CAP_HASH], at_buf[STORE_INT_CAP];
    const char *keep = NULL, *at_ms = NULL;
    bool revoke = false;
    int64_t n = 0;
    const proto_str_arg_t strs[] = {{"password_hash", hash, sizeof hash, NULL}}; /* not empty */
    const proto_bool_arg_t bools[] = {{"revoke_sessions", &revoke, NULL}};
    proto_err_t err;
    if ((err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK ||
        (err = store_sql_opt_uuid(req, "keep_family", keep_buf, &keep, fail)) != PROTO_OK ||
        (err = proto_body_strs(req, strs, 1, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "at_ms", at_buf, &at_ms, NULL, fail)) != PROTO_OK ||
        (err = proto_body_bools(req, bools, 1, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {id, hash, revoke ? "true" : "false", keep, at_ms};
    const store_query_t q = {
        .sql = sql_set_password, .nparams = 5, .values = vals, .idempotent = true};
    err = run_count(cc, req, &q, &n);
    if (err == PROTO_OK)
        msgpack_pack_map(body, 0);
    return err;
}

/* $2 at_ms, $3 keep_family. */
static const char sql_revoke_all[] =
    "WITH u AS (UPDATE users SET tokens_valid_after = greatest(tokens_valid_after,"
    "     timestamptz 'epoch' + $2::bigint * interval '1 millisecond')"
    "   WHERE id = $1::uuid RETURNING id)"
    " SELECT store_revoke_user_tokens(u.id, NULL, $3::uuid) FROM u";

proto_err_t store_users_revoke_all(const proto_call_ctx_t *cc, const proto_request_t *req,
                                   msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP], keep_buf[STORE_UUID_CAP], at_buf[STORE_INT_CAP];
    const char *keep = NULL, *at_ms = NULL;
    int64_t n = 0;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK ||
        (err = store_sql_opt_uuid(req, "keep_family", keep_buf, &keep, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "at_ms", at_buf, &at_ms, NULL, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {id, at_ms, keep};
    const store_query_t q = {
        .sql = sql_revoke_all, .nparams = 3, .values = vals, .idempotent = true};
    err = run_count(cc, req, &q, &n);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1);
        proto_pack_kv_int(body, "revoked", n);
    }
    return err;
}

/* ------------------------------------------------------------- delete -- */

/* One row per file object of the user (storage_key NULL when none), read
 * in the same snapshot as the delete; no row: no such user. */
static const char sql_delete[] =
    "WITH f AS (SELECT storage_key, upload_id FROM files WHERE owner_id = $1::uuid),"
    " d AS (DELETE FROM users WHERE id = $1::uuid RETURNING id)"
    " SELECT f.storage_key, coalesce(f.upload_id, '') FROM d LEFT JOIN f ON true";

/* Deletes the objects listed in `res` (aborting the uploads of pending
 * files first); failures are logged, not returned: the sweeper finds what
 * no row names any more. */
static void delete_objects(const proto_call_ctx_t *cc, const proto_request_t *req,
                           const PGresult *res)
{
    const store_ctx_t *ctx = cc->svc;
    int failed = 0, last = STORE_BLOB_OK;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *key = store_sql_str(res, i, 0), *upload = store_sql_str(res, i, 1);
        int rc = key && upload && upload[0] ? store_blob_mp_abort(ctx->blob, key, upload)
                                            : STORE_BLOB_OK;
        if (key && (rc == STORE_BLOB_OK || rc == STORE_BLOB_NOT_FOUND))
            rc = store_blob_delete(ctx->blob, key);
        if (rc != STORE_BLOB_OK && rc != STORE_BLOB_NOT_FOUND) {
            failed++;
            last = rc;
        }
    }
    if (failed)
        rt_log_fields(
            RT_LOG_WARNING, req->rid, "user deleted, some objects left behind",
            json_pack("{s:i, s:s}", "objects", failed, "status", store_blob_status_str(last)));
}

proto_err_t store_users_delete(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP];
    proto_err_t err = store_sql_uuid(req, "id", id, fail);
    if (err != PROTO_OK)
        return err;
    const char *vals[] = {id};
    const store_query_t q = {.sql = sql_delete, .nparams = 1, .values = vals};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, NULL, &res);
    if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    if (err == PROTO_OK) {
        delete_objects(cc, req, res);
        msgpack_pack_map(body, 0);
    }
    PQclear(res);
    return err;
}
