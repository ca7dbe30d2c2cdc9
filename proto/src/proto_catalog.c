/*
 * proto_catalog: the op table. Each op of PROTO_OPS (proto_catalog.h) has a
 * field table F_<op> here listing its request-body fields (name, type,
 * required, bound), ended by FIELDS_END. The codec validates every request
 * body against it; PROTOCOL.md documents the same rows. A missing F_<op>
 * table is a compile error, so an op cannot be added without its fields.
 */
#include "proto_catalog.h"

#include <stdint.h>
#include <string.h>

#define FIELDS_END                                                                                 \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* ---- field tables ----
 *
 * Bounds are the PROTO_B_* and PROTO_*_MAX of proto_catalog.h, so the
 * services size their buffers and state their limits from the same
 * numbers. */

#define B_ID       PROTO_B_ID
#define B_IP       PROTO_B_IP
#define B_UA       PROTO_B_UA
#define B_LOGIN    PROTO_B_LOGIN
#define B_EMAIL    PROTO_B_EMAIL
#define B_NAME     PROTO_B_NAME
#define B_PASSWORD PROTO_B_PASSWORD
#define B_HASH     PROTO_B_HASH
#define B_TOKEN    PROTO_B_TOKEN
#define B_JWT      PROTO_B_JWT
#define B_ROLE     PROTO_B_ROLE
#define B_PERM     PROTO_B_PERM
#define B_CODE     PROTO_B_CODE
#define B_APIKEY   PROTO_B_APIKEY
#define B_KEYID    PROTO_B_KEYID
#define B_PERMS    PROTO_B_PERMS
#define B_DIGEST   PROTO_B_DIGEST
#define SQL_INT    PROTO_SQL_INT_MAX

/* A string: required; optional (nil or a string, may be absent); optional
 * but never nil; required and not empty. */
#define STR(n, b)                                                                                  \
    {                                                                                              \
        .name = n, .type = PROTO_T_STR, .required = true, .max = b                                 \
    }
#define OPT_STR(n, b)                                                                              \
    {                                                                                              \
        .name = n, .type = PROTO_T_NIL_OR_STR, .max = b                                            \
    }
#define OPT_STR_NOT_NIL(n, b)                                                                      \
    {                                                                                              \
        .name = n, .type = PROTO_T_STR, .max = b                                                   \
    }
#define NONEMPTY(n, b)                                                                             \
    {                                                                                              \
        .name = n, .type = PROTO_T_STR, .required = true, .min = 1, .max = b                       \
    }
/* The client a request is made for (PROTO_FMT_CLIENT_IP). */
#define CLIENT_IP(n)                                                                               \
    {                                                                                              \
        .name = n, .type = PROTO_T_STR, .required = true, .max = B_IP, .fmt = PROTO_FMT_CLIENT_IP  \
    }
#define OPT_CLIENT_IP(n)                                                                           \
    {                                                                                              \
        .name = n, .type = PROTO_T_NIL_OR_STR, .max = B_IP, .fmt = PROTO_FMT_CLIENT_IP             \
    }
/* An integer within lo..hi. */
#define INT(n, lo_, hi_)                                                                           \
    {                                                                                              \
        .name = n, .type = PROTO_T_INT, .required = true, .lo = lo_, .hi = hi_                     \
    }
#define OPT_INT(n, lo_, hi_)                                                                       \
    {                                                                                              \
        .name = n, .type = PROTO_T_INT, .lo = lo_, .hi = hi_                                       \
    }
#define OPT_BOOL(n)                                                                                \
    {                                                                                              \
        .name = n, .type = PROTO_T_BOOL                                                            \
    }
/* Bytes: lo..hi of them; a digest is exactly B_DIGEST. */
#define BIN(n, lo_, hi_)                                                                           \
    {                                                                                              \
        .name = n, .type = PROTO_T_BIN, .required = true, .min = lo_, .max = hi_                   \
    }
#define DIGEST(n) BIN(n, B_DIGEST, B_DIGEST)
#define OPT_DIGEST(n)                                                                              \
    {                                                                                              \
        .name = n, .type = PROTO_T_BIN, .min = B_DIGEST, .max = B_DIGEST                           \
    }
#define OPT_ARRAY(n, items)                                                                        \
    {                                                                                              \
        .name = n, .type = PROTO_T_ARRAY, .max = items                                             \
    }

static const proto_field_t F_SYS_PING[] = {FIELDS_END};
static const proto_field_t F_SYS_HEALTH[] = {FIELDS_END};

/* authsvc: the public auth flows (the gateway passes client_ip and user_agent). */
static const proto_field_t F_AUTH_REGISTER[] = {
    STR("username", B_LOGIN),     STR("email", B_EMAIL),  STR("password", B_PASSWORD),
    OPT_STR("full_name", B_NAME), CLIENT_IP("client_ip"), FIELDS_END};
static const proto_field_t F_AUTH_TOKEN[] = {STR("username", B_LOGIN),
                                             STR("password", B_PASSWORD),
                                             OPT_STR("totp_code", B_CODE),
                                             OPT_STR("backup_code", B_CODE),
                                             CLIENT_IP("client_ip"),
                                             OPT_STR("user_agent", B_UA),
                                             OPT_STR("device_cookie", PROTO_B_DEVICE),
                                             FIELDS_END};
static const proto_field_t F_AUTH_REFRESH[] = {
    STR("refresh_token", B_TOKEN), CLIENT_IP("client_ip"), OPT_STR("user_agent", B_UA), FIELDS_END};
static const proto_field_t F_AUTH_LOGOUT[] = {OPT_STR("refresh_token", B_TOKEN),
                                              OPT_STR("credential", B_JWT), CLIENT_IP("client_ip"),
                                              FIELDS_END};

/* authsvc: admission. credential absent = anonymous; permission absent =
 * any authenticated (or anonymous) caller, rate limit only; count_rate
 * false = an internal caller checking a request that was counted already. */
static const proto_field_t F_AUTH_AUTHORIZE[] = {OPT_STR("credential", B_JWT),
                                                 CLIENT_IP("client_ip"),
                                                 OPT_STR("permission", B_PERM),
                                                 OPT_STR("api_key", B_APIKEY),
                                                 OPT_BOOL("session_only"),
                                                 OPT_BOOL("count_rate"),
                                                 FIELDS_END};
static const proto_field_t F_AUTH_VERIFY[] = {STR("token", B_JWT), FIELDS_END};

/* authsvc: ops on behalf of an authorised principal (actor_* comes from
 * auth.authorize; only trusted callers reach these sockets). */
static const proto_field_t F_AUTH_LOGOUT_ALL[] = {STR("actor_id", B_ID), FIELDS_END};
static const proto_field_t F_AUTH_SESSIONS[] = {STR("actor_id", B_ID), OPT_STR("actor_sid", B_ID),
                                                FIELDS_END};
static const proto_field_t F_AUTH_SESSION_REVOKE[] = {STR("actor_id", B_ID),
                                                      STR("session_id", B_ID), FIELDS_END};
static const proto_field_t F_AUTH_UPDATE_SELF[] = {
    STR("actor_id", B_ID), OPT_STR("full_name", B_NAME), OPT_STR("email", B_EMAIL), FIELDS_END};
static const proto_field_t F_AUTH_CHANGE_PASSWORD[] = {
    STR("actor_id", B_ID), OPT_STR("actor_sid", B_ID), STR("current_password", B_PASSWORD),
    STR("new_password", B_PASSWORD), FIELDS_END};
/* authsvc: the caller's second factor (TOTP). code: a TOTP code, or for
 * disable also a backup code. */
static const proto_field_t F_AUTH_TOTP_SETUP[] = {STR("actor_id", B_ID), FIELDS_END};
static const proto_field_t F_AUTH_TOTP_ENABLE[] = {STR("actor_id", B_ID), STR("code", B_CODE),
                                                   FIELDS_END};
static const proto_field_t F_AUTH_TOTP_DISABLE[] = {
    STR("actor_id", B_ID), STR("password", B_PASSWORD), STR("code", B_CODE), FIELDS_END};
static const proto_field_t F_AUTH_USER_UPDATE[] = {STR("actor_id", B_ID), STR("actor_role", B_ROLE),
                                                   STR("id", B_ID),       OPT_STR("role", B_ROLE),
                                                   OPT_BOOL("is_active"), FIELDS_END};
static const proto_field_t F_AUTH_USER_DELETE[] = {STR("actor_id", B_ID), STR("actor_role", B_ROLE),
                                                   STR("id", B_ID), FIELDS_END};
static const proto_field_t F_AUTH_STATS[] = {FIELDS_END};

/* authsvc: password reset (public) and API keys (on behalf of a principal).
 * expires_in_days is a person's choice: its rule (1..3650) is authsvc's to
 * answer with validation_error, not the decoder's. */
static const proto_field_t F_AUTH_RESET_REQUEST[] = {STR("email", B_EMAIL), CLIENT_IP("client_ip"),
                                                     FIELDS_END};
static const proto_field_t F_AUTH_RESET_CONFIRM[] = {
    STR("token", B_TOKEN), STR("new_password", B_PASSWORD), CLIENT_IP("client_ip"), FIELDS_END};
static const proto_field_t F_AUTH_APIKEY_CREATE[] = {
    STR("actor_id", B_ID),
    STR("actor_role", B_ROLE),
    STR("name", B_NAME),
    OPT_INT("expires_in_days", INT64_MIN, INT64_MAX),
    OPT_ARRAY("permissions", PROTO_PERMS_MAX),
    FIELDS_END};
static const proto_field_t F_AUTH_APIKEY_LIST[] = {STR("actor_id", B_ID), FIELDS_END};
static const proto_field_t F_AUTH_APIKEY_DELETE[] = {STR("actor_id", B_ID), STR("id", B_ID),
                                                     FIELDS_END};

/* storesvc: users. Ids are any string within B_ID: one that is no UUID is
 * not_found, the handler's to say. */
static const proto_field_t F_STORE_USER_CREATE[] = {NONEMPTY("username", B_LOGIN),
                                                    NONEMPTY("email", B_EMAIL),
                                                    OPT_STR("full_name", B_NAME),
                                                    NONEMPTY("password_hash", B_HASH),
                                                    STR("role", B_ROLE),
                                                    OPT_BOOL("if_no_admin"),
                                                    FIELDS_END};
static const proto_field_t F_STORE_USER_GET[] = {STR("id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_USER_LIST[] = {
    INT("page", 1, INT64_MAX), INT("per_page", 1, PROTO_PER_PAGE_MAX), FIELDS_END};
static const proto_field_t F_STORE_USER_FIND_LOGIN[] = {STR("login", B_LOGIN), FIELDS_END};
/* revoked_within_s, revoked_max: also list the sessions of the user revoked
 * within that many seconds, at most that many (newest first). */
static const proto_field_t F_STORE_USER_AUTH_STATE[] = {
    STR("id", B_ID), OPT_INT("revoked_within_s", 1, SQL_INT),
    OPT_INT("revoked_max", 1, PROTO_REVOKED_MAX), FIELDS_END};
/* full_name nil clears it; email and role cannot be cleared. */
static const proto_field_t F_STORE_USER_UPDATE[] = {STR("id", B_ID),
                                                    OPT_STR("full_name", B_NAME),
                                                    OPT_STR_NOT_NIL("email", B_EMAIL),
                                                    OPT_STR_NOT_NIL("role", B_ROLE),
                                                    OPT_BOOL("is_active"),
                                                    FIELDS_END};
static const proto_field_t F_STORE_USER_SET_PASSWORD[] = {STR("id", B_ID),
                                                          NONEMPTY("password_hash", B_HASH),
                                                          OPT_BOOL("revoke_sessions"),
                                                          OPT_STR("keep_family", B_ID),
                                                          OPT_INT("at_ms", 0, INT64_MAX),
                                                          FIELDS_END};
static const proto_field_t F_STORE_USER_REVOKE_ALL[] = {STR("id", B_ID), INT("at_ms", 0, INT64_MAX),
                                                        OPT_STR("keep_family", B_ID), FIELDS_END};
static const proto_field_t F_STORE_USER_DELETE[] = {STR("id", B_ID), FIELDS_END};

/* storesvc: TOTP state. Secrets arrive sealed by authsvc (storesvc cannot
 * open them), backup codes as keyed hashes (B_DIGEST bytes each). */
static const proto_field_t F_STORE_TOTP_GET[] = {STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_TOTP_SETUP[] = {STR("user_id", B_ID),
                                                   BIN("secret", 1, PROTO_B_SEALED), FIELDS_END};
static const proto_field_t F_STORE_TOTP_ENABLE[] = {
    STR("user_id", B_ID), BIN("secret", 1, PROTO_B_SEALED), INT("step", 0, INT64_MAX),
    BIN("backup_hashes", B_DIGEST, PROTO_B_BACKUP), FIELDS_END};
static const proto_field_t F_STORE_TOTP_DISABLE[] = {STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_TOTP_USE_STEP[] = {STR("user_id", B_ID),
                                                      INT("step", 0, INT64_MAX), FIELDS_END};
static const proto_field_t F_STORE_TOTP_USE_BACKUP[] = {STR("user_id", B_ID), DIGEST("code_hash"),
                                                        FIELDS_END};

/* storesvc: refresh tokens (hashes only: SHA-256) and sessions. */
static const proto_field_t F_STORE_TOKEN_CREATE[] = {STR("user_id", B_ID),
                                                     DIGEST("token_hash"),
                                                     STR("family_id", B_ID),
                                                     INT("expires_s", 1, SQL_INT),
                                                     OPT_CLIENT_IP("client_ip"),
                                                     OPT_STR("user_agent", B_UA),
                                                     FIELDS_END};
static const proto_field_t F_STORE_TOKEN_ROTATE[] = {DIGEST("token_hash"),
                                                     DIGEST("new_hash"),
                                                     INT("grace_s", 0, SQL_INT),
                                                     INT("expires_s", 1, SQL_INT),
                                                     OPT_CLIENT_IP("client_ip"),
                                                     OPT_STR("user_agent", B_UA),
                                                     FIELDS_END};
static const proto_field_t F_STORE_TOKEN_REVOKE[] = {
    OPT_DIGEST("token_hash"), OPT_STR("family_id", B_ID), OPT_STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_SESSIONS[] = {STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_STATS[] = {FIELDS_END};

/* storesvc: password-reset tokens and API keys (hashes only: SHA-256). */
static const proto_field_t F_STORE_RESET_CREATE[] = {STR("user_id", B_ID), DIGEST("token_hash"),
                                                     INT("expires_s", 1, SQL_INT), FIELDS_END};
static const proto_field_t F_STORE_RESET_CHECK[] = {DIGEST("token_hash"), FIELDS_END};
static const proto_field_t F_STORE_RESET_CONSUME[] = {DIGEST("token_hash"),
                                                      NONEMPTY("password_hash", B_HASH),
                                                      INT("at_ms", 0, INT64_MAX), FIELDS_END};
static const proto_field_t F_STORE_APIKEY_CREATE[] = {STR("user_id", B_ID),
                                                      STR("key_id", B_KEYID),
                                                      DIGEST("secret_hash"),
                                                      NONEMPTY("name", B_NAME),
                                                      OPT_INT("expires_s", 1, SQL_INT),
                                                      OPT_STR("permissions", B_PERMS),
                                                      INT("max_per_user", 1, SQL_INT),
                                                      FIELDS_END};
static const proto_field_t F_STORE_APIKEY_LIST[] = {STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_APIKEY_DELETE[] = {STR("user_id", B_ID), STR("id", B_ID),
                                                      FIELDS_END};
static const proto_field_t F_STORE_APIKEY_LOOKUP[] = {STR("key_id", B_KEYID), FIELDS_END};
static const proto_field_t F_STORE_APIKEY_TOUCH[] = {STR("id", B_ID), INT("interval_s", 0, SQL_INT),
                                                     FIELDS_END};

/* storesvc: files. actor_id (and actor_role where the answer depends on
 * who may see what) come from auth.authorize; the object key is always
 * made by storesvc. An upload is begin, parts 1..n in order, complete (or
 * abort); its state (upload id, part ETags) lives in PostgreSQL and the
 * object store, so any replica takes any step. */
static const proto_field_t F_STORE_FILE_BEGIN[] = {
    STR("actor_id", B_ID), STR("name", PROTO_FILE_NAME_MAX),
    STR("content_type", PROTO_FILE_TYPE_MAX), FIELDS_END};
static const proto_field_t F_STORE_FILE_PART[] = {STR("id", B_ID), STR("actor_id", B_ID),
                                                  INT("part_no", 1, PROTO_FILE_PARTS_MAX),
                                                  BIN("data", 1, PROTO_FILE_PART_MAX), FIELDS_END};
static const proto_field_t F_STORE_FILE_COMPLETE[] = {STR("id", B_ID), STR("actor_id", B_ID),
                                                      INT("size", 0, INT64_MAX),
                                                      STR("sha256", PROTO_B_HEX256), FIELDS_END};
static const proto_field_t F_STORE_FILE_ABORT[] = {STR("id", B_ID), STR("actor_id", B_ID),
                                                   FIELDS_END};
static const proto_field_t F_STORE_FILE_GET[] = {STR("id", B_ID), STR("actor_id", B_ID),
                                                 STR("actor_role", B_ROLE), FIELDS_END};
static const proto_field_t F_STORE_FILE_LIST[] = {
    STR("actor_id", B_ID), STR("actor_role", B_ROLE), INT("page", 1, INT64_MAX),
    INT("per_page", 1, PROTO_PER_PAGE_MAX), FIELDS_END};
static const proto_field_t F_STORE_FILE_READ[] = {STR("id", B_ID),
                                                  STR("actor_id", B_ID),
                                                  STR("actor_role", B_ROLE),
                                                  INT("offset", 0, INT64_MAX),
                                                  INT("length", 1, PROTO_FILE_READ_MAX),
                                                  FIELDS_END};
static const proto_field_t F_STORE_FILE_DELETE[] = {STR("id", B_ID), STR("actor_id", B_ID),
                                                    STR("actor_role", B_ROLE), FIELDS_END};

/* ---- the op table, generated from the X-macro ---- */

#define NFIELDS(tbl) (sizeof(tbl) / sizeof((tbl)[0]) - 1)

static const proto_op_def_t OP_DEFS[PROTO_OP__COUNT] = {
#define PROTO_OP_ROW(id, name, idem, lane)                                                         \
    [PROTO_OP_##id] = {PROTO_OP_##id, name, idem, lane, F_##id, NFIELDS(F_##id)},
    PROTO_OPS(PROTO_OP_ROW)
#undef PROTO_OP_ROW
};

const proto_op_def_t *proto_op_def(proto_op_t op)
{
    if ((int)op < 0 || op >= PROTO_OP__COUNT)
        return NULL;
    return &OP_DEFS[op];
}

const char *proto_op_name(proto_op_t op)
{
    const proto_op_def_t *def = proto_op_def(op);
    return def ? def->name : "";
}

int proto_op_lookup(const char *name, size_t len, proto_op_t *out)
{
    if (!name || !out)
        return -1;
    for (int i = 0; i < PROTO_OP__COUNT; i++) {
        const char *n = OP_DEFS[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            *out = (proto_op_t)i;
            return 0;
        }
    }
    return -1;
}
