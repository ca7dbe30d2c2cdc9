/*
 * proto_catalog: the op table. Each op of PROTO_OPS (proto_catalog.h) has a
 * field table F_<op> here listing its request-body fields (name, type,
 * required, bound), ended by FIELDS_END. The codec validates every request
 * body against it; PROTOCOL.md documents the same rows. A missing F_<op>
 * table is a compile error, so an op cannot be added without its fields.
 */
#include "proto_catalog.h"

#include <string.h>

#define FIELDS_END                                                                                 \
    {                                                                                              \
        NULL, PROTO_T_STR, false, 0                                                                \
    }

/* ---- field tables ----
 *
 * Bounds are the PROTO_B_* of proto_catalog.h, so the services size their
 * buffers from the same numbers. */

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

#define STR(n, b)                                                                                  \
    {                                                                                              \
        n, PROTO_T_STR, true, b                                                                    \
    }
#define OPT_STR(n, b)                                                                              \
    {                                                                                              \
        n, PROTO_T_NIL_OR_STR, false, b                                                            \
    }
#define INT(n)                                                                                     \
    {                                                                                              \
        n, PROTO_T_INT, true, 0                                                                    \
    }
#define OPT_INT(n)                                                                                 \
    {                                                                                              \
        n, PROTO_T_INT, false, 0                                                                   \
    }
#define OPT_BOOL(n)                                                                                \
    {                                                                                              \
        n, PROTO_T_BOOL, false, 0                                                                  \
    }
#define BIN(n, b)                                                                                  \
    {                                                                                              \
        n, PROTO_T_BIN, true, b                                                                    \
    }
#define OPT_ARRAY(n, items)                                                                        \
    {                                                                                              \
        n, PROTO_T_ARRAY, false, items                                                             \
    }
#define OPT_BIN(n, b)                                                                              \
    {                                                                                              \
        n, PROTO_T_BIN, false, b                                                                   \
    }

static const proto_field_t F_SYS_PING[] = {FIELDS_END};
static const proto_field_t F_SYS_HEALTH[] = {FIELDS_END};

/* authsvc: the public auth flows (the gateway passes client_ip and user_agent). */
static const proto_field_t F_AUTH_REGISTER[] = {
    STR("username", B_LOGIN),     STR("email", B_EMAIL),  STR("password", B_PASSWORD),
    OPT_STR("full_name", B_NAME), STR("client_ip", B_IP), FIELDS_END};
static const proto_field_t F_AUTH_TOKEN[] = {STR("username", B_LOGIN),
                                             STR("password", B_PASSWORD),
                                             OPT_STR("totp_code", B_CODE),
                                             OPT_STR("backup_code", B_CODE),
                                             STR("client_ip", B_IP),
                                             OPT_STR("user_agent", B_UA),
                                             OPT_STR("device_cookie", PROTO_B_DEVICE),
                                             FIELDS_END};
static const proto_field_t F_AUTH_REFRESH[] = {
    STR("refresh_token", B_TOKEN), STR("client_ip", B_IP), OPT_STR("user_agent", B_UA), FIELDS_END};
static const proto_field_t F_AUTH_LOGOUT[] = {OPT_STR("refresh_token", B_TOKEN),
                                              OPT_STR("credential", B_JWT), STR("client_ip", B_IP),
                                              FIELDS_END};

/* authsvc: admission. credential absent = anonymous; permission absent =
 * any authenticated (or anonymous) caller, rate limit only. */
static const proto_field_t F_AUTH_AUTHORIZE[] = {
    OPT_STR("credential", B_JWT), STR("client_ip", B_IP),   OPT_STR("permission", B_PERM),
    OPT_STR("api_key", B_APIKEY), OPT_BOOL("session_only"), FIELDS_END};
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

/* authsvc: password reset (public) and API keys (on behalf of a principal). */
static const proto_field_t F_AUTH_RESET_REQUEST[] = {STR("email", B_EMAIL), STR("client_ip", B_IP),
                                                     FIELDS_END};
static const proto_field_t F_AUTH_RESET_CONFIRM[] = {
    STR("token", B_TOKEN), STR("new_password", B_PASSWORD), STR("client_ip", B_IP), FIELDS_END};
static const proto_field_t F_AUTH_APIKEY_CREATE[] = {STR("actor_id", B_ID),
                                                     STR("actor_role", B_ROLE),
                                                     STR("name", B_NAME),
                                                     OPT_INT("expires_in_days"),
                                                     OPT_ARRAY("permissions", PROTO_PERMS_MAX),
                                                     FIELDS_END};
static const proto_field_t F_AUTH_APIKEY_LIST[] = {STR("actor_id", B_ID), FIELDS_END};
static const proto_field_t F_AUTH_APIKEY_DELETE[] = {STR("actor_id", B_ID), STR("id", B_ID),
                                                     FIELDS_END};

/* storesvc: users. */
static const proto_field_t F_STORE_USER_CREATE[] = {STR("username", B_LOGIN),
                                                    STR("email", B_EMAIL),
                                                    OPT_STR("full_name", B_NAME),
                                                    STR("password_hash", B_HASH),
                                                    STR("role", B_ROLE),
                                                    OPT_BOOL("if_no_admin"),
                                                    FIELDS_END};
static const proto_field_t F_STORE_USER_GET[] = {STR("id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_USER_LIST[] = {INT("page"), INT("per_page"), FIELDS_END};
static const proto_field_t F_STORE_USER_FIND_LOGIN[] = {STR("login", B_LOGIN), FIELDS_END};
/* revoked_within_s, revoked_max: also list the sessions of the user revoked
 * within that many seconds, at most that many (newest first). */
static const proto_field_t F_STORE_USER_AUTH_STATE[] = {
    STR("id", B_ID), OPT_INT("revoked_within_s"), OPT_INT("revoked_max"), FIELDS_END};
static const proto_field_t F_STORE_USER_UPDATE[] = {
    STR("id", B_ID),         OPT_STR("full_name", B_NAME), OPT_STR("email", B_EMAIL),
    OPT_STR("role", B_ROLE), OPT_BOOL("is_active"),        FIELDS_END};
static const proto_field_t F_STORE_USER_SET_PASSWORD[] = {STR("id", B_ID),
                                                          STR("password_hash", B_HASH),
                                                          OPT_BOOL("revoke_sessions"),
                                                          OPT_STR("keep_family", B_ID),
                                                          OPT_INT("at_ms"),
                                                          FIELDS_END};
static const proto_field_t F_STORE_USER_REVOKE_ALL[] = {STR("id", B_ID), INT("at_ms"),
                                                        OPT_STR("keep_family", B_ID), FIELDS_END};
static const proto_field_t F_STORE_USER_DELETE[] = {STR("id", B_ID), FIELDS_END};

/* storesvc: TOTP state. Secrets arrive sealed by authsvc (storesvc cannot
 * open them), backup codes as keyed hashes (32 bytes each). */
static const proto_field_t F_STORE_TOTP_GET[] = {STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_TOTP_SETUP[] = {STR("user_id", B_ID),
                                                   BIN("secret", PROTO_B_SEALED), FIELDS_END};
static const proto_field_t F_STORE_TOTP_ENABLE[] = {
    STR("user_id", B_ID), BIN("secret", PROTO_B_SEALED), INT("step"),
    BIN("backup_hashes", PROTO_B_BACKUP), FIELDS_END};
static const proto_field_t F_STORE_TOTP_DISABLE[] = {STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_TOTP_USE_STEP[] = {STR("user_id", B_ID), INT("step"),
                                                      FIELDS_END};
static const proto_field_t F_STORE_TOTP_USE_BACKUP[] = {STR("user_id", B_ID), BIN("code_hash", 32),
                                                        FIELDS_END};

/* storesvc: refresh tokens (hashes only: SHA-256, 32 bytes) and sessions. */
static const proto_field_t F_STORE_TOKEN_CREATE[] = {STR("user_id", B_ID),
                                                     BIN("token_hash", 32),
                                                     STR("family_id", B_ID),
                                                     INT("expires_s"),
                                                     OPT_STR("client_ip", B_IP),
                                                     OPT_STR("user_agent", B_UA),
                                                     FIELDS_END};
static const proto_field_t F_STORE_TOKEN_ROTATE[] = {
    BIN("token_hash", 32),      BIN("new_hash", 32),         INT("grace_s"), INT("expires_s"),
    OPT_STR("client_ip", B_IP), OPT_STR("user_agent", B_UA), FIELDS_END};
static const proto_field_t F_STORE_TOKEN_REVOKE[] = {
    OPT_BIN("token_hash", 32), OPT_STR("family_id", B_ID), OPT_STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_SESSIONS[] = {STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_STATS[] = {FIELDS_END};

/* storesvc: password-reset tokens and API keys (hashes only: SHA-256). */
static const proto_field_t F_STORE_RESET_CREATE[] = {STR("user_id", B_ID), BIN("token_hash", 32),
                                                     INT("expires_s"), FIELDS_END};
static const proto_field_t F_STORE_RESET_CHECK[] = {BIN("token_hash", 32), FIELDS_END};
static const proto_field_t F_STORE_RESET_CONSUME[] = {
    BIN("token_hash", 32), STR("password_hash", B_HASH), INT("at_ms"), FIELDS_END};
static const proto_field_t F_STORE_APIKEY_CREATE[] = {
    STR("user_id", B_ID),   STR("key_id", B_KEYID),
    BIN("secret_hash", 32), STR("name", B_NAME),
    OPT_INT("expires_s"),   OPT_STR("permissions", B_PERMS),
    INT("max_per_user"),    FIELDS_END};
static const proto_field_t F_STORE_APIKEY_LIST[] = {STR("user_id", B_ID), FIELDS_END};
static const proto_field_t F_STORE_APIKEY_DELETE[] = {STR("user_id", B_ID), STR("id", B_ID),
                                                      FIELDS_END};
static const proto_field_t F_STORE_APIKEY_LOOKUP[] = {STR("key_id", B_KEYID), FIELDS_END};
static const proto_field_t F_STORE_APIKEY_TOUCH[] = {STR("id", B_ID), INT("interval_s"),
                                                     FIELDS_END};

/* storesvc: files. actor_id (and actor_role where the answer depends on
 * who may see what) come from auth.authorize; the object key is always
 * made by storesvc. An upload is begin, parts 1..n in order, complete (or
 * abort); its state (upload id, part ETags) lives in PostgreSQL and the
 * object store, so any replica takes any step. */
#define B_SHA256 64 /* hex */
static const proto_field_t F_STORE_FILE_BEGIN[] = {
    STR("actor_id", B_ID), STR("name", PROTO_FILE_NAME_MAX),
    STR("content_type", PROTO_FILE_TYPE_MAX), FIELDS_END};
static const proto_field_t F_STORE_FILE_PART[] = {STR("id", B_ID), STR("actor_id", B_ID),
                                                  INT("part_no"), BIN("data", PROTO_FILE_PART_MAX),
                                                  FIELDS_END};
static const proto_field_t F_STORE_FILE_COMPLETE[] = {
    STR("id", B_ID), STR("actor_id", B_ID), INT("size"), STR("sha256", B_SHA256), FIELDS_END};
static const proto_field_t F_STORE_FILE_ABORT[] = {STR("id", B_ID), STR("actor_id", B_ID),
                                                   FIELDS_END};
static const proto_field_t F_STORE_FILE_GET[] = {STR("id", B_ID), STR("actor_id", B_ID),
                                                 STR("actor_role", B_ROLE), FIELDS_END};
static const proto_field_t F_STORE_FILE_LIST[] = {STR("actor_id", B_ID), STR("actor_role", B_ROLE),
                                                  INT("page"), INT("per_page"), FIELDS_END};
static const proto_field_t F_STORE_FILE_READ[] = {
    STR("id", B_ID), STR("actor_id", B_ID), STR("actor_role", B_ROLE),
    INT("offset"),   INT("length"),         FIELDS_END};
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
