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

/* ---- values a reply names ---- */

static const char *const V_ROTATE[PROTO_ROTATE__COUNT] = {
    [PROTO_ROTATE_ROTATED] = "rotated",
    [PROTO_ROTATE_GRACE] = "grace",
    [PROTO_ROTATE_REUSED] = "reused",
    [PROTO_ROTATE_INVALID] = "invalid",
};
static const char *const V_TOTP_ENABLE[PROTO_TOTP_ENABLE__COUNT] = {
    [PROTO_TOTP_ENABLED] = "enabled",
    [PROTO_TOTP_STALE] = "stale",
};
static const char *const V_HEALTH[PROTO_HEALTH__COUNT] = {
    [PROTO_HEALTH_OK] = "ok", [PROTO_HEALTH_DEGRADED] = "degraded"};
static const char *const V_CHECK[PROTO_CHECK__COUNT] = {
    [PROTO_CHECK_OK] = "ok", [PROTO_CHECK_DOWN] = "down"};
static const char *const V_TOKEN_TYPE[PROTO_TOKEN_TYPE__COUNT] = {[PROTO_TOKEN_TYPE_BEARER] =
                                                                      "bearer"};

#define VALUE_SET(names)                                                                           \
    {                                                                                              \
        names, sizeof(names) / sizeof((names)[0])                                                  \
    }

static const struct {
    const char *const *names;
    int n;
} VALUE_SETS[PROTO_VALS__COUNT] = {
    [PROTO_VALS_NONE] = {NULL, 0},
    [PROTO_VALS_ROTATE] = VALUE_SET(V_ROTATE),
    [PROTO_VALS_TOTP_ENABLE] = VALUE_SET(V_TOTP_ENABLE),
    [PROTO_VALS_HEALTH] = VALUE_SET(V_HEALTH),
    [PROTO_VALS_CHECK] = VALUE_SET(V_CHECK),
    [PROTO_VALS_TOKEN_TYPE] = VALUE_SET(V_TOKEN_TYPE),
};

int proto_val_count(proto_vals_t set)
{
    return (int)set < 0 || set >= PROTO_VALS__COUNT ? 0 : VALUE_SETS[set].n;
}

const char *proto_val_name(proto_vals_t set, int v)
{
    return v < 0 || v >= proto_val_count(set) ? NULL : VALUE_SETS[set].names[v];
}

int proto_val_parse(proto_vals_t set, const char *s, size_t len)
{
    for (int v = 0; s && v < proto_val_count(set); v++) {
        const char *name = VALUE_SETS[set].names[v];
        if (strlen(name) == len && memcmp(name, s, len) == 0)
            return v;
    }
    return -1;
}

/* ---- reply shapes ----
 *
 * Keys in the order the producers pack them; storesvc packs the shapes of
 * result rows (User, Session, Stats, File) from consecutive columns in this
 * order, so a column list and its shape are written side by side. */

#define RKEYS_END                                                                                  \
    {                                                                                              \
        .key = NULL                                                                                \
    }
#define R_KEY(k, t, f)                                                                             \
    {                                                                                              \
        .key = k, .type = PROTO_R_##t, .flags = f                                                  \
    }
#define R_STR(k)      R_KEY(k, STR, 0)
#define R_STR_NIL(k)  R_KEY(k, STR, PROTO_R_NIL)
#define R_STR_OPT(k)  R_KEY(k, STR, PROTO_R_OPTIONAL)
#define R_INT(k)      R_KEY(k, INT, 0)
#define R_INT_NIL(k)  R_KEY(k, INT, PROTO_R_NIL)
#define R_INT_OPT(k)  R_KEY(k, INT, PROTO_R_OPTIONAL)
#define R_BOOL(k)     R_KEY(k, BOOL, 0)
#define R_BOOL_OPT(k) R_KEY(k, BOOL, PROTO_R_OPTIONAL)
#define R_BIN(k)      R_KEY(k, BIN, 0)
#define R_BIN_NIL(k)  R_KEY(k, BIN, PROTO_R_NIL)
#define R_STRS(k, f)  R_KEY(k, LIST, f) /* an array of strings */
#define R_VALUE(k, vs)                                                                             \
    {                                                                                              \
        .key = k, .type = PROTO_R_STR, .values = PROTO_VALS_##vs                                   \
    }
#define R_MAP_OF(k, vs)                                                                            \
    {                                                                                              \
        .key = k, .type = PROTO_R_MAP, .values = PROTO_VALS_##vs                                   \
    }
#define R_SHAPE(k, id, f)                                                                          \
    {                                                                                              \
        .key = k, .type = PROTO_R_SHAPE, .flags = f, .shape = &SHAPES[PROTO_SHAPE_##id]            \
    }
#define R_LIST(k, id)                                                                              \
    {                                                                                              \
        .key = k, .type = PROTO_R_LIST, .shape = &SHAPES[PROTO_SHAPE_##id]                         \
    }
#define R_SPREAD(id)                                                                               \
    {                                                                                              \
        .type = PROTO_R_SPREAD, .shape = &SHAPES[PROTO_SHAPE_##id]                                 \
    }
#define R_RATE R_SHAPE("rate", RATE, PROTO_R_OPTIONAL) /* absent: RATE_LIMIT_PER_MINUTE=0 */

static const proto_shape_t SHAPES[PROTO_SHAPE__COUNT];

static const proto_rkey_t K_RATE[] = {R_INT("limit"), R_INT("remaining"), R_INT("reset"),
                                      RKEYS_END};
static const proto_rkey_t K_USER[] = {
    R_STR("id"),   R_STR("username"),   R_STR("email"),         R_STR_NIL("full_name"),
    R_STR("role"), R_BOOL("is_active"), R_BOOL("totp_enabled"), R_STR("created_at"),
    RKEYS_END};
static const proto_rkey_t K_TOKEN_PAIR[] = {R_STR("access_token"),
                                            R_VALUE("token_type", TOKEN_TYPE),
                                            R_INT("expires_in"),
                                            R_STR("refresh_token"),
                                            R_INT("refresh_expires_in"),
                                            R_STR("session_id"),
                                            RKEYS_END};
static const proto_rkey_t K_SESSION[] = {R_STR("id"),
                                         R_STR("created_at"),
                                         R_STR("last_used_at"),
                                         R_STR_NIL("client_ip"),
                                         R_STR_NIL("user_agent"),
                                         RKEYS_END};
static const proto_rkey_t K_AUTH_SESSION[] = {R_SPREAD(SESSION), R_BOOL("current"), RKEYS_END};
static const proto_rkey_t K_STATS[] = {R_INT("users"), R_INT("files"), R_INT("bytes_stored"),
                                       R_INT("active_sessions"), RKEYS_END};
static const proto_rkey_t K_API_KEY[] = {R_STR("id"),
                                         R_STR("name"),
                                         R_STR("created_at"),
                                         R_STR_NIL("expires_at"),
                                         R_STR_NIL("last_used_at"),
                                         R_STRS("permissions", PROTO_R_NIL),
                                         RKEYS_END};
static const proto_rkey_t K_STORE_API_KEY[] = {R_STR("id"),
                                               R_STR("name"),
                                               R_STR("created_at"),
                                               R_STR_NIL("expires_at"),
                                               R_STR_NIL("permissions"),
                                               R_STR_NIL("last_used_at"),
                                               RKEYS_END};
static const proto_rkey_t K_FILE[] = {R_STR("id"),         R_STR("name"),   R_STR("content_type"),
                                      R_INT("size"),       R_STR("sha256"), R_STR("owner_id"),
                                      R_STR("created_at"), RKEYS_END};

#define NKEYS(tbl) (sizeof(tbl) / sizeof((tbl)[0]) - 1)

static const proto_shape_t SHAPES[PROTO_SHAPE__COUNT] = {
#define PROTO_SHAPE_ROW(id, name) [PROTO_SHAPE_##id] = {name, K_##id, NKEYS(K_##id)},
    PROTO_SHAPES(PROTO_SHAPE_ROW)
#undef PROTO_SHAPE_ROW
};

const proto_shape_t *proto_shape(proto_shape_id_t id)
{
    return (int)id < 0 || id >= PROTO_SHAPE__COUNT ? NULL : &SHAPES[id];
}

size_t proto_shape_keys(const proto_shape_t *shape, const proto_rkey_t **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; shape && i < shape->nkeys; i++) {
        const proto_rkey_t *k = &shape->keys[i];
        if (k->type == PROTO_R_SPREAD) {
            size_t got =
                proto_shape_keys(k->shape, n < cap ? out + n : NULL, n < cap ? cap - n : 0);
            n += got;
        } else {
            if (n < cap)
                out[n] = k;
            n++;
        }
    }
    return n;
}

/* Each op's reply: R_<op>, its keys (a SPREAD for a reply that is a shared
 * shape, or starts with one). */
static const proto_rkey_t R_SYS_PING[] = {R_STR("svc"), R_BOOL_OPT("ready"), RKEYS_END};
static const proto_rkey_t R_SYS_HEALTH[] = {R_VALUE("status", HEALTH), R_MAP_OF("checks", CHECK),
                                            RKEYS_END};
static const proto_rkey_t R_AUTH_REGISTER[] = {R_SHAPE("user", USER, 0), R_RATE, RKEYS_END};
static const proto_rkey_t R_AUTH_TOKEN[] = {R_SPREAD(TOKEN_PAIR), R_STR_OPT("device_cookie"),
                                            R_INT_OPT("device_cookie_max_age"), R_RATE, RKEYS_END};
static const proto_rkey_t R_AUTH_REFRESH[] = {R_SPREAD(TOKEN_PAIR), R_RATE, RKEYS_END};
static const proto_rkey_t R_AUTH_LOGOUT[] = {R_RATE, RKEYS_END};
static const proto_rkey_t R_AUTH_LOGOUT_ALL[] = {RKEYS_END};
static const proto_rkey_t R_AUTH_AUTHORIZE[] = {R_STR_OPT("api_key_id"),
                                                R_BOOL("anonymous"),
                                                R_STR_OPT("user_id"),
                                                R_STR_OPT("username"),
                                                R_STR_OPT("role"),
                                                R_STR_OPT("sid"),
                                                R_INT_OPT("exp"),
                                                R_RATE,
                                                RKEYS_END};
static const proto_rkey_t R_AUTH_VERIFY[] = {R_STR("user_id"), R_STR("username"), R_STR("role"),
                                             R_STR("sid"),     R_INT("exp"),      R_STR("jti"),
                                             RKEYS_END};
static const proto_rkey_t R_AUTH_SESSIONS[] = {R_LIST("sessions", AUTH_SESSION), RKEYS_END};
static const proto_rkey_t R_AUTH_SESSION_REVOKE[] = {RKEYS_END};
static const proto_rkey_t R_AUTH_UPDATE_SELF[] = {R_SPREAD(USER), RKEYS_END};
static const proto_rkey_t R_AUTH_CHANGE_PASSWORD[] = {RKEYS_END};
static const proto_rkey_t R_AUTH_TOTP_SETUP[] = {R_STR("secret"), R_STR("otpauth_uri"), RKEYS_END};
static const proto_rkey_t R_AUTH_TOTP_ENABLE[] = {R_STRS("backup_codes", 0), RKEYS_END};
static const proto_rkey_t R_AUTH_TOTP_DISABLE[] = {RKEYS_END};
static const proto_rkey_t R_AUTH_USER_UPDATE[] = {R_SPREAD(USER), RKEYS_END};
static const proto_rkey_t R_AUTH_USER_DELETE[] = {RKEYS_END};
static const proto_rkey_t R_AUTH_STATS[] = {R_SPREAD(STATS), R_INT("blocked_sources"), RKEYS_END};
static const proto_rkey_t R_AUTH_RESET_REQUEST[] = {R_RATE, RKEYS_END};
static const proto_rkey_t R_AUTH_RESET_CONFIRM[] = {R_RATE, RKEYS_END};
static const proto_rkey_t R_AUTH_APIKEY_CREATE[] = {R_STR("id"),
                                                    R_STR("name"),
                                                    R_STR("created_at"),
                                                    R_STR_NIL("expires_at"),
                                                    R_STR("key"),
                                                    R_STRS("permissions", PROTO_R_NIL),
                                                    RKEYS_END};
static const proto_rkey_t R_AUTH_APIKEY_LIST[] = {R_LIST("api_keys", API_KEY), RKEYS_END};
static const proto_rkey_t R_AUTH_APIKEY_DELETE[] = {RKEYS_END};

static const proto_rkey_t R_STORE_USER_CREATE[] = {R_SPREAD(USER), RKEYS_END};
static const proto_rkey_t R_STORE_USER_GET[] = {R_SPREAD(USER), RKEYS_END};
static const proto_rkey_t R_STORE_USER_LIST[] = {R_LIST("users", USER), R_INT("total"),
                                                 R_INT("page"),         R_INT("per_page"),
                                                 R_INT("pages"),        RKEYS_END};
static const proto_rkey_t R_STORE_USER_FIND_LOGIN[] = {R_STR("id"),
                                                       R_STR("username"),
                                                       R_STR("role"),
                                                       R_BOOL("is_active"),
                                                       R_BOOL("totp_enabled"),
                                                       R_STR("password_hash"),
                                                       R_INT("valid_after_ms"),
                                                       RKEYS_END};
static const proto_rkey_t R_STORE_USER_AUTH_STATE[] = {R_STR("id"),
                                                       R_STR("username"),
                                                       R_STR("role"),
                                                       R_BOOL("is_active"),
                                                       R_INT("valid_after_ms"),
                                                       R_STRS("revoked_sids", PROTO_R_OPTIONAL),
                                                       R_INT_OPT("revoked_cut_ms"),
                                                       RKEYS_END};
static const proto_rkey_t R_STORE_USER_UPDATE[] = {R_SPREAD(USER), RKEYS_END};
static const proto_rkey_t R_STORE_USER_SET_PASSWORD[] = {RKEYS_END};
static const proto_rkey_t R_STORE_USER_REVOKE_ALL[] = {R_INT("revoked"), RKEYS_END};
static const proto_rkey_t R_STORE_USER_DELETE[] = {RKEYS_END};
static const proto_rkey_t R_STORE_TOTP_GET[] = {R_BOOL("enabled"),     R_BIN_NIL("secret"),
                                                R_BIN_NIL("pending"),  R_INT_NIL("last_step"),
                                                R_INT("backup_codes"), RKEYS_END};
static const proto_rkey_t R_STORE_TOTP_SETUP[] = {RKEYS_END};
static const proto_rkey_t R_STORE_TOTP_ENABLE[] = {R_VALUE("outcome", TOTP_ENABLE), RKEYS_END};
static const proto_rkey_t R_STORE_TOTP_DISABLE[] = {R_BOOL("disabled"), RKEYS_END};
static const proto_rkey_t R_STORE_TOTP_USE_STEP[] = {R_BOOL("accepted"), RKEYS_END};
static const proto_rkey_t R_STORE_TOTP_USE_BACKUP[] = {R_BOOL("accepted"), R_INT("remaining"),
                                                       RKEYS_END};
static const proto_rkey_t R_STORE_TOKEN_CREATE[] = {R_STR("id"), RKEYS_END};
/* user_id and family_id: the token's owner and family, when it had one. */
static const proto_rkey_t R_STORE_TOKEN_ROTATE[] = {
    R_VALUE("outcome", ROTATE), R_STR_OPT("user_id"), R_STR_OPT("family_id"), RKEYS_END};
static const proto_rkey_t R_STORE_TOKEN_REVOKE[] = {R_INT("revoked"), R_STR_OPT("user_id"),
                                                    RKEYS_END};
static const proto_rkey_t R_STORE_SESSIONS[] = {R_LIST("sessions", SESSION), RKEYS_END};
static const proto_rkey_t R_STORE_STATS[] = {R_SPREAD(STATS), RKEYS_END};
static const proto_rkey_t R_STORE_RESET_CREATE[] = {RKEYS_END};
static const proto_rkey_t R_STORE_RESET_CHECK[] = {R_STR("user_id"), R_STR("username"), RKEYS_END};
static const proto_rkey_t R_STORE_RESET_CONSUME[] = {R_STR("user_id"), RKEYS_END};
static const proto_rkey_t R_STORE_APIKEY_CREATE[] = {R_STR("id"),
                                                     R_STR("name"),
                                                     R_STR("created_at"),
                                                     R_STR_NIL("expires_at"),
                                                     R_STR_NIL("permissions"),
                                                     RKEYS_END};
static const proto_rkey_t R_STORE_APIKEY_LIST[] = {R_LIST("api_keys", STORE_API_KEY), RKEYS_END};
static const proto_rkey_t R_STORE_APIKEY_DELETE[] = {R_STR("key_id"), RKEYS_END};
static const proto_rkey_t R_STORE_APIKEY_LOOKUP[] = {R_STR("id"),
                                                     R_STR("user_id"),
                                                     R_BIN("secret_hash"),
                                                     R_STR_NIL("permissions"),
                                                     R_INT_NIL("expires_ms"),
                                                     R_INT_NIL("last_used_ms"),
                                                     RKEYS_END};
static const proto_rkey_t R_STORE_APIKEY_TOUCH[] = {R_BOOL("touched"), RKEYS_END};
static const proto_rkey_t R_STORE_FILE_BEGIN[] = {R_STR("id"), R_INT("part_size_min"), RKEYS_END};
static const proto_rkey_t R_STORE_FILE_PART[] = {R_INT("part_no"), R_INT("size"), RKEYS_END};
static const proto_rkey_t R_STORE_FILE_COMPLETE[] = {R_SPREAD(FILE), RKEYS_END};
static const proto_rkey_t R_STORE_FILE_ABORT[] = {RKEYS_END};
static const proto_rkey_t R_STORE_FILE_GET[] = {R_SPREAD(FILE), RKEYS_END};
static const proto_rkey_t R_STORE_FILE_LIST[] = {R_LIST("files", FILE), R_INT("total"),
                                                 R_INT("page"),         R_INT("per_page"),
                                                 R_INT("pages"),        RKEYS_END};
static const proto_rkey_t R_STORE_FILE_READ[] = {R_BIN("data"), R_INT("size"), R_STR("sha256"),
                                                 RKEYS_END};
static const proto_rkey_t R_STORE_FILE_DELETE[] = {RKEYS_END};

/* ---- the errors each op answers ----
 *
 * Beyond bad_request (a body the decoder refuses), internal_error and
 * unavailable (a dependency down or too slow, a full slow lane), which
 * any op may answer. A malformed id is not_found wherever an id goes; the
 * lists name not_found where a well-formed one can be. */

#define E(...)                                                                                     \
    {                                                                                              \
        __VA_ARGS__, PROTO_OK                                                                      \
    }
#define NONE                                                                                       \
    {                                                                                              \
        PROTO_OK                                                                                   \
    }
#define BAD  PROTO_ERR_BAD_REQUEST
#define NOTF PROTO_ERR_NOT_FOUND
#define CONF PROTO_ERR_CONFLICT
#define RATE PROTO_ERR_RATE_LIMITED

static const proto_err_t E_SYS_PING[] = NONE;
static const proto_err_t E_SYS_HEALTH[] = NONE;
static const proto_err_t E_AUTH_REGISTER[] =
    E(PROTO_ERR_VALIDATION_ERROR, PROTO_ERR_WEAK_PASSWORD, PROTO_ERR_REGISTRATION_FAILED,
      PROTO_ERR_REGISTRATION_DISABLED, RATE);
static const proto_err_t E_AUTH_TOKEN[] =
    E(PROTO_ERR_LOGIN_RATE_LIMITED, PROTO_ERR_INVALID_CREDENTIALS, PROTO_ERR_ACCOUNT_DISABLED,
      PROTO_ERR_TOTP_REQUIRED, PROTO_ERR_TOTP_INVALID, PROTO_ERR_VALIDATION_ERROR, RATE);
static const proto_err_t E_AUTH_REFRESH[] =
    E(PROTO_ERR_INVALID_REFRESH_TOKEN, PROTO_ERR_REFRESH_TOKEN_REUSED, RATE);
static const proto_err_t E_AUTH_LOGOUT[] = E(RATE);
static const proto_err_t E_AUTH_LOGOUT_ALL[] = E(NOTF);
static const proto_err_t E_AUTH_AUTHORIZE[] =
    E(BAD, PROTO_ERR_UNAUTHORIZED, PROTO_ERR_FORBIDDEN, RATE);
static const proto_err_t E_AUTH_VERIFY[] = E(PROTO_ERR_UNAUTHORIZED);
static const proto_err_t E_AUTH_SESSIONS[] = NONE;
static const proto_err_t E_AUTH_SESSION_REVOKE[] = E(NOTF);
static const proto_err_t E_AUTH_UPDATE_SELF[] = E(PROTO_ERR_VALIDATION_ERROR, CONF, NOTF);
static const proto_err_t E_AUTH_CHANGE_PASSWORD[] =
    E(PROTO_ERR_INVALID_PASSWORD, PROTO_ERR_WEAK_PASSWORD, PROTO_ERR_LOGIN_RATE_LIMITED,
      PROTO_ERR_UNAUTHORIZED);
static const proto_err_t E_AUTH_TOTP_SETUP[] = E(CONF, PROTO_ERR_UNAUTHORIZED);
static const proto_err_t E_AUTH_TOTP_ENABLE[] =
    E(PROTO_ERR_TOTP_INVALID, CONF, PROTO_ERR_UNAUTHORIZED);
static const proto_err_t E_AUTH_TOTP_DISABLE[] =
    E(PROTO_ERR_INVALID_PASSWORD, PROTO_ERR_TOTP_INVALID, CONF, PROTO_ERR_LOGIN_RATE_LIMITED,
      PROTO_ERR_UNAUTHORIZED);
static const proto_err_t E_AUTH_USER_UPDATE[] =
    E(PROTO_ERR_FORBIDDEN, PROTO_ERR_VALIDATION_ERROR, NOTF);
static const proto_err_t E_AUTH_USER_DELETE[] = E(PROTO_ERR_CANNOT_DELETE_SELF, NOTF);
static const proto_err_t E_AUTH_STATS[] = NONE;
static const proto_err_t E_AUTH_RESET_REQUEST[] = E(RATE);
static const proto_err_t E_AUTH_RESET_CONFIRM[] =
    E(PROTO_ERR_INVALID_RESET_TOKEN, PROTO_ERR_WEAK_PASSWORD, RATE);
static const proto_err_t E_AUTH_APIKEY_CREATE[] = E(PROTO_ERR_VALIDATION_ERROR, CONF);
static const proto_err_t E_AUTH_APIKEY_LIST[] = NONE;
static const proto_err_t E_AUTH_APIKEY_DELETE[] = E(NOTF);

static const proto_err_t E_STORE_USER_CREATE[] = E(CONF, BAD);
static const proto_err_t E_STORE_USER_GET[] = E(NOTF);
static const proto_err_t E_STORE_USER_LIST[] = E(BAD);
static const proto_err_t E_STORE_USER_FIND_LOGIN[] = E(NOTF);
static const proto_err_t E_STORE_USER_AUTH_STATE[] = E(NOTF, BAD);
static const proto_err_t E_STORE_USER_UPDATE[] = E(NOTF, CONF, BAD);
static const proto_err_t E_STORE_USER_SET_PASSWORD[] = E(NOTF);
static const proto_err_t E_STORE_USER_REVOKE_ALL[] = E(NOTF);
static const proto_err_t E_STORE_USER_DELETE[] = E(NOTF);
static const proto_err_t E_STORE_TOTP_GET[] = E(NOTF);
static const proto_err_t E_STORE_TOTP_SETUP[] = E(CONF, NOTF);
static const proto_err_t E_STORE_TOTP_ENABLE[] = E(CONF, NOTF, BAD);
static const proto_err_t E_STORE_TOTP_DISABLE[] = E(NOTF);
static const proto_err_t E_STORE_TOTP_USE_STEP[] = NONE;
static const proto_err_t E_STORE_TOTP_USE_BACKUP[] = NONE;
static const proto_err_t E_STORE_TOKEN_CREATE[] = E(NOTF, CONF);
static const proto_err_t E_STORE_TOKEN_ROTATE[] = E(CONF);
static const proto_err_t E_STORE_TOKEN_REVOKE[] = E(BAD);
static const proto_err_t E_STORE_SESSIONS[] = NONE;
static const proto_err_t E_STORE_STATS[] = NONE;
static const proto_err_t E_STORE_RESET_CREATE[] = E(NOTF);
static const proto_err_t E_STORE_RESET_CHECK[] = E(NOTF);
static const proto_err_t E_STORE_RESET_CONSUME[] = E(NOTF);
static const proto_err_t E_STORE_APIKEY_CREATE[] = E(CONF, BAD);
static const proto_err_t E_STORE_APIKEY_LIST[] = NONE;
static const proto_err_t E_STORE_APIKEY_DELETE[] = E(NOTF);
static const proto_err_t E_STORE_APIKEY_LOOKUP[] = E(NOTF);
static const proto_err_t E_STORE_APIKEY_TOUCH[] = NONE;
static const proto_err_t E_STORE_FILE_BEGIN[] = E(PROTO_ERR_VALIDATION_ERROR, NOTF);
static const proto_err_t E_STORE_FILE_PART[] = E(NOTF, BAD);
static const proto_err_t E_STORE_FILE_COMPLETE[] = E(BAD, NOTF);
static const proto_err_t E_STORE_FILE_ABORT[] = NONE;
static const proto_err_t E_STORE_FILE_GET[] = E(NOTF);
static const proto_err_t E_STORE_FILE_LIST[] = E(BAD);
static const proto_err_t E_STORE_FILE_READ[] = E(NOTF);
static const proto_err_t E_STORE_FILE_DELETE[] = E(NOTF);

/* ---- the op table, generated from the X-macro ----
 *
 * A missing F_, R_ or E_ table of an op is a compile error. */

#define NFIELDS(tbl) (sizeof(tbl) / sizeof((tbl)[0]) - 1)

static const proto_shape_t REPLIES[PROTO_OP__COUNT] = {
#define PROTO_REPLY_ROW(id, name, idem, lane) [PROTO_OP_##id] = {NULL, R_##id, NKEYS(R_##id)},
    PROTO_OPS(PROTO_REPLY_ROW)
#undef PROTO_REPLY_ROW
};

static const proto_op_def_t OP_DEFS[PROTO_OP__COUNT] = {
#define PROTO_OP_ROW(id, name, idem, lane)                                                         \
    [PROTO_OP_##                                                                                   \
        id] = {PROTO_OP_##id,           name,   idem,           lane, F_##id, NFIELDS(F_##id),     \
               &REPLIES[PROTO_OP_##id], E_##id, NFIELDS(E_##id)},
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
