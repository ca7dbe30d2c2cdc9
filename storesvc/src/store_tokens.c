/*
 * store_tokens: the store.token_* and store.sessions handlers.
 *
 * Token hashes travel as msgpack bin and go to PostgreSQL as binary bytea
 * parameters (never as text, never logged). Every statement that revokes
 * tokens goes through store_revoke_user_tokens and every rotation through
 * store_token_rotate (PL/pgSQL, migrations 1 and 2): both take the same per-user
 * transaction lock first, so a token minted by a concurrent rotation can
 * never escape a revocation (logout-all, password change, reuse).
 */
#include "store_tokens.h"

#include "store_sql.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HASH_LEN PROTO_B_DIGEST /* SHA-256 */
#define CAP_IP   PROTO_STR_BUF(PROTO_B_IP)
#define CAP_UA   PROTO_STR_BUF(PROTO_B_UA)

static const store_sql_map_t map_create[] = {{"23503", PROTO_ERR_NOT_FOUND}, /* no such user */
                                             {"23505", PROTO_ERR_CONFLICT},  /* hash exists */
                                             {NULL, PROTO_OK}};
static const store_sql_map_t map_rotate[] = {{"23505", PROTO_ERR_CONFLICT}, /* new_hash exists */
                                             {NULL, PROTO_OK}};

static proto_err_t bad_request(proto_fail_t *fail, const char *msg)
{
    snprintf(fail->msg, sizeof fail->msg, "%s", msg);
    return PROTO_ERR_BAD_REQUEST;
}

/* The optional client_ip and user_agent (absent or nil: NULL). */
static proto_err_t get_client(const proto_request_t *req, char *ip_buf, char *ua_buf,
                              const char **ip, const char **ua, proto_fail_t *fail)
{
    proto_err_t err = store_sql_opt_str(req, "client_ip", ip_buf, CAP_IP, ip, fail);
    return err == PROTO_OK ? store_sql_opt_str(req, "user_agent", ua_buf, CAP_UA, ua, fail) : err;
}

/* ------------------------------------------------------------- create -- */

/* A family belongs to one user: adding to someone else's is refused (no row). */
static const char sql_create[] =
    "INSERT INTO refresh_tokens"
    " (token_hash, family_id, user_id, expires_at, client_ip, user_agent, last_used_at)"
    " SELECT $1::bytea, $2::uuid, $3::uuid, now() + $4::bigint * interval '1 second', $5, $6, now()"
    " WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens"
    "                   WHERE family_id = $2::uuid AND user_id <> $3::uuid)"
    " RETURNING id";

proto_err_t store_tokens_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP], family[STORE_UUID_CAP], exp_buf[STORE_INT_CAP];
    char ip_buf[CAP_IP], ua_buf[CAP_UA];
    const char *hash = NULL, *ip = NULL, *ua = NULL, *expires = NULL;
    int hash_len = 0;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "user_id", user, fail)) != PROTO_OK ||
        (err = store_sql_uuid(req, "family_id", family, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "token_hash", &hash, &hash_len, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "expires_s", exp_buf, &expires, NULL, fail)) != PROTO_OK ||
        (err = get_client(req, ip_buf, ua_buf, &ip, &ua, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {hash, family, user, expires, ip, ua};
    const int lens[] = {HASH_LEN, 0, 0, 0, 0, 0};
    const int fmts[] = {1, 0, 0, 0, 0, 0};
    const store_query_t q = {
        .sql = sql_create, .nparams = 6, .values = vals, .lengths = lens, .formats = fmts};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, map_create, &res);
    if (err == PROTO_OK && PQntuples(res) != 1)
        err = PROTO_ERR_CONFLICT;
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1);
        store_sql_pack_str(body, "id", res, 0, 0);
    } else if (err == PROTO_ERR_CONFLICT) {
        snprintf(fail->msg, sizeof fail->msg, "token or family taken");
    }
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------- rotate -- */

static const char sql_rotate[] =
    "SELECT o_outcome, o_user_id, o_family_id"
    " FROM store_token_rotate($1::bytea, $2::bytea, $3::integer, $4::integer, $5, $6)";

/* The decision of store_token_rotate: its outcome (the PL/pgSQL function
 * answers the wire names of PROTO_VALS_ROTATE; anything else is a bug),
 * the token's owner and family when it had them. */
static proto_err_t pack_rotate(const proto_request_t *req, msgpack_packer *pk, const PGresult *res)
{
    const char *text = store_sql_str(res, 0, 0);
    const char *user = store_sql_str(res, 0, 1), *family = store_sql_str(res, 0, 2);
    int outcome = text ? proto_val_parse(PROTO_VALS_ROTATE, text, strlen(text)) : -1;
    if (outcome < 0)
        return store_sql_internal(req, "store_token_rotate: an unknown outcome");
    msgpack_pack_map(pk, 1 + (user != NULL) + (family != NULL));
    proto_pack_kv_str(pk, "outcome", proto_val_name(PROTO_VALS_ROTATE, outcome));
    if (user)
        proto_pack_kv_str(pk, "user_id", user);
    if (family)
        proto_pack_kv_str(pk, "family_id", family);
    return PROTO_OK;
}

proto_err_t store_tokens_rotate(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail)
{
    char grace_buf[STORE_INT_CAP], exp_buf[STORE_INT_CAP], ip_buf[CAP_IP], ua_buf[CAP_UA];
    const char *hash = NULL, *new_hash = NULL, *ip = NULL, *ua = NULL, *grace = NULL;
    const char *expires = NULL;
    int hash_len = 0, new_len = 0;
    proto_err_t err;
    if ((err = store_sql_bin(req, "token_hash", &hash, &hash_len, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "new_hash", &new_hash, &new_len, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "grace_s", grace_buf, &grace, NULL, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "expires_s", exp_buf, &expires, NULL, fail)) != PROTO_OK ||
        (err = get_client(req, ip_buf, ua_buf, &ip, &ua, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {hash, new_hash, grace, expires, ip, ua};
    const int lens[] = {HASH_LEN, HASH_LEN, 0, 0, 0, 0};
    const int fmts[] = {1, 1, 0, 0, 0, 0};
    const store_query_t q = {
        .sql = sql_rotate, .nparams = 6, .values = vals, .lengths = lens, .formats = fmts};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, map_rotate, &res);
    if (err == PROTO_OK && (PQntuples(res) != 1 || PQnfields(res) != 3))
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK)
        err = pack_rotate(req, body, res);
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------- revoke -- */

/* Both revoke whole families, optionally only the user's ($2): the scope
 * is in the WHERE clause, so another user's family is simply not found.
 * The second column is the owner of the family found (a family belongs to
 * one user), NULL when none: authsvc forgets that user's cached state. */
static const char sql_revoke_hash[] =
    "SELECT coalesce(sum(store_revoke_user_tokens(f.user_id, f.family_id, NULL)), 0)::bigint,"
    "  max(f.user_id::text)"
    " FROM (SELECT user_id, family_id FROM refresh_tokens"
    "       WHERE token_hash = $1::bytea AND ($2::uuid IS NULL OR user_id = $2::uuid)) f";
static const char sql_revoke_family[] =
    "SELECT coalesce(sum(store_revoke_user_tokens(f.user_id, f.family_id, NULL)), 0)::bigint,"
    "  max(f.user_id::text)"
    " FROM (SELECT DISTINCT user_id, family_id FROM refresh_tokens"
    "       WHERE family_id = $1::uuid AND ($2::uuid IS NULL OR user_id = $2::uuid)) f";

proto_err_t store_tokens_revoke(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail)
{
    char family_buf[STORE_UUID_CAP], user_buf[STORE_UUID_CAP];
    const char *hash = NULL, *family = NULL, *user = NULL;
    int hash_len = 0;
    proto_err_t err;
    if ((err = store_sql_bin(req, "token_hash", &hash, &hash_len, fail)) != PROTO_OK ||
        (err = store_sql_opt_uuid(req, "family_id", family_buf, &family, fail)) != PROTO_OK ||
        (err = store_sql_opt_uuid(req, "user_id", user_buf, &user, fail)) != PROTO_OK)
        return err;
    if (!hash == !family)
        return bad_request(fail, "give exactly one of token_hash and family_id");
    const char *vals[] = {hash ? hash : family, user};
    const int lens[] = {hash ? HASH_LEN : 0, 0};
    const int fmts[] = {hash ? 1 : 0, 0};
    const store_query_t q = {.sql = hash ? sql_revoke_hash : sql_revoke_family,
                             .nparams = 2,
                             .values = vals,
                             .lengths = lens,
                             .formats = fmts,
                             .idempotent = true};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, NULL, &res);
    if (err == PROTO_OK && (PQntuples(res) != 1 || PQnfields(res) != 2))
        err = store_sql_internal(req, "unexpected result shape");
    else if (err == PROTO_OK) {
        const char *owner = store_sql_str(res, 0, 1);
        msgpack_pack_map(body, 1 + (owner != NULL));
        proto_pack_kv_int(body, "revoked", store_sql_i64(res, 0, 0));
        if (owner)
            proto_pack_kv_str(body, "user_id", owner);
    }
    PQclear(res);
    return err;
}

/* ----------------------------------------------------------- sessions -- */

#define LAST_USED     "max(coalesce(last_used_at, created_at))"
#define FIRST_CREATED STORE_SQL_RFC3339("min(created_at)")
#define LAST_USED_AT  STORE_SQL_RFC3339(LAST_USED)

/* One row per live family (a token neither revoked nor expired); the
 * address and agent are those of the family's newest token. $2: the cap. */
static const char sql_sessions[] = "SELECT family_id, " FIRST_CREATED ", " LAST_USED_AT ","
                                   " (array_agg(client_ip ORDER BY created_at DESC, id DESC))[1],"
                                   " (array_agg(user_agent ORDER BY created_at DESC, id DESC))[1]"
                                   " FROM refresh_tokens WHERE user_id = $1::uuid"
                                   " GROUP BY family_id"
                                   " HAVING bool_or(revoked_at IS NULL AND expires_at > now())"
                                   " ORDER BY " LAST_USED " DESC, family_id LIMIT $2::integer";

/* Each row is a Session (its columns are the shape's keys, in order). */
static proto_err_t pack_sessions(const proto_request_t *req, msgpack_packer *pk,
                                 const PGresult *res)
{
    proto_err_t err = PROTO_OK;
    msgpack_pack_map(pk, 1);
    proto_pack_cstr(pk, "sessions");
    msgpack_pack_array(pk, (size_t)PQntuples(res));
    for (int i = 0; i < PQntuples(res) && err == PROTO_OK; i++)
        err = store_sql_reply_shape(req, pk, proto_shape(PROTO_SHAPE_SESSION), res, i, 0);
    return err;
}

proto_err_t store_tokens_sessions(const proto_call_ctx_t *cc, const proto_request_t *req,
                                  msgpack_packer *body, proto_fail_t *fail)
{
    char user[STORE_UUID_CAP];
    proto_err_t err = store_sql_uuid(req, "user_id", user, fail);
    if (err != PROTO_OK)
        return err;
    char cap[STORE_INT_CAP];
    const char *vals[] = {user, store_sql_int_text(STORE_SESSIONS_MAX, cap)};
    const store_query_t q = {.sql = sql_sessions, .nparams = 2, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = store_sql_run(cc, req, &q, NULL, &res);
    if (err == PROTO_OK)
        err = pack_sessions(req, body, res);
    PQclear(res);
    return err;
}
