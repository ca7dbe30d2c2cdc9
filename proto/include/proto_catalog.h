/*
 * proto_catalog: the op catalogue. One X-macro row per op (enum name, wire
 * name, idempotent?, lane), plus three tables per op in proto_catalog.c:
 * its request-body fields (name, type, required, bounds, form), its reply
 * keys and the error codes it answers. The decoder validates every request
 * body against the field table; proto/PROTOCOL.md's tables are generated
 * from all three (tools/proto_doc). Adding an op is adding a row here and
 * its tables there.
 */
#ifndef PROTO_CATALOG_H
#define PROTO_CATALOG_H

#include "proto_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(enum suffix, wire name, idempotent, lane)
 *
 * idempotent: the client may send it again after a timeout (never for ops
 *   whose repetition would look like a different request: a login, a
 *   refresh, a create).
 * lane: PROTO_LANE_SLOW marks ops that take long by nature: those that
 *   hash a password (Argon2, slow on purpose) and those that move file
 *   bytes to or from the object store (store.file_begin, _part, _complete,
 *   _abort, _read); a server with a slow lane runs them on their own
 *   workers so they never queue in front of fast ops (slow work never
 *   blocks fast work).
 *
 * The service prefix says who answers: sys.* everyone, auth.* authsvc,
 * store.* storesvc. */
#define PROTO_OPS(X)                                                                               \
    X(SYS_PING, "sys.ping", true, PROTO_LANE_FAST)                                                 \
    X(SYS_HEALTH, "sys.health", true, PROTO_LANE_FAST)                                             \
    X(AUTH_REGISTER, "auth.register", false, PROTO_LANE_SLOW)                                      \
    X(AUTH_TOKEN, "auth.token", false, PROTO_LANE_SLOW)                                            \
    X(AUTH_REFRESH, "auth.refresh", false, PROTO_LANE_FAST)                                        \
    X(AUTH_LOGOUT, "auth.logout", true, PROTO_LANE_FAST)                                           \
    X(AUTH_LOGOUT_ALL, "auth.logout_all", true, PROTO_LANE_FAST)                                   \
    X(AUTH_AUTHORIZE, "auth.authorize", true, PROTO_LANE_FAST)                                     \
    X(AUTH_VERIFY, "auth.verify", true, PROTO_LANE_FAST)                                           \
    X(AUTH_SESSIONS, "auth.sessions", true, PROTO_LANE_FAST)                                       \
    X(AUTH_SESSION_REVOKE, "auth.session_revoke", true, PROTO_LANE_FAST)                           \
    X(AUTH_UPDATE_SELF, "auth.update_self", true, PROTO_LANE_FAST)                                 \
    X(AUTH_CHANGE_PASSWORD, "auth.change_password", false, PROTO_LANE_SLOW)                        \
    X(AUTH_TOTP_SETUP, "auth.totp_setup", false, PROTO_LANE_FAST)                                  \
    X(AUTH_TOTP_ENABLE, "auth.totp_enable", false, PROTO_LANE_FAST)                                \
    X(AUTH_TOTP_DISABLE, "auth.totp_disable", false, PROTO_LANE_SLOW)                              \
    X(AUTH_USER_UPDATE, "auth.user_update", true, PROTO_LANE_FAST)                                 \
    X(AUTH_USER_DELETE, "auth.user_delete", true, PROTO_LANE_FAST)                                 \
    X(AUTH_STATS, "auth.stats", true, PROTO_LANE_FAST)                                             \
    X(AUTH_RESET_REQUEST, "auth.reset_request", false, PROTO_LANE_FAST)                            \
    X(AUTH_RESET_CONFIRM, "auth.reset_confirm", false, PROTO_LANE_SLOW)                            \
    X(AUTH_APIKEY_CREATE, "auth.apikey_create", false, PROTO_LANE_FAST)                            \
    X(AUTH_APIKEY_LIST, "auth.apikey_list", true, PROTO_LANE_FAST)                                 \
    X(AUTH_APIKEY_DELETE, "auth.apikey_delete", true, PROTO_LANE_FAST)                             \
    X(STORE_USER_CREATE, "store.user_create", false, PROTO_LANE_FAST)                              \
    X(STORE_USER_GET, "store.user_get", true, PROTO_LANE_FAST)                                     \
    X(STORE_USER_LIST, "store.user_list", true, PROTO_LANE_FAST)                                   \
    X(STORE_USER_FIND_LOGIN, "store.user_find_login", true, PROTO_LANE_FAST)                       \
    X(STORE_USER_AUTH_STATE, "store.user_auth_state", true, PROTO_LANE_FAST)                       \
    X(STORE_USER_UPDATE, "store.user_update", true, PROTO_LANE_FAST)                               \
    X(STORE_USER_SET_PASSWORD, "store.user_set_password", true, PROTO_LANE_FAST)                   \
    X(STORE_USER_REVOKE_ALL, "store.user_revoke_all", true, PROTO_LANE_FAST)                       \
    X(STORE_USER_DELETE, "store.user_delete", true, PROTO_LANE_FAST)                               \
    X(STORE_TOTP_GET, "store.totp_get", true, PROTO_LANE_FAST)                                     \
    X(STORE_TOTP_SETUP, "store.totp_setup", true, PROTO_LANE_FAST)                                 \
    X(STORE_TOTP_ENABLE, "store.totp_enable", false, PROTO_LANE_FAST)                              \
    X(STORE_TOTP_DISABLE, "store.totp_disable", true, PROTO_LANE_FAST)                             \
    X(STORE_TOTP_USE_STEP, "store.totp_use_step", false, PROTO_LANE_FAST)                          \
    X(STORE_TOTP_USE_BACKUP, "store.totp_use_backup", false, PROTO_LANE_FAST)                      \
    X(STORE_TOKEN_CREATE, "store.token_create", false, PROTO_LANE_FAST)                            \
    X(STORE_TOKEN_ROTATE, "store.token_rotate", false, PROTO_LANE_FAST)                            \
    X(STORE_TOKEN_REVOKE, "store.token_revoke", true, PROTO_LANE_FAST)                             \
    X(STORE_SESSIONS, "store.sessions", true, PROTO_LANE_FAST)                                     \
    X(STORE_STATS, "store.stats", true, PROTO_LANE_FAST)                                           \
    X(STORE_RESET_CREATE, "store.reset_create", false, PROTO_LANE_FAST)                            \
    X(STORE_RESET_CHECK, "store.reset_check", true, PROTO_LANE_FAST)                               \
    X(STORE_RESET_CONSUME, "store.reset_consume", false, PROTO_LANE_FAST)                          \
    X(STORE_APIKEY_CREATE, "store.apikey_create", false, PROTO_LANE_FAST)                          \
    X(STORE_APIKEY_LIST, "store.apikey_list", true, PROTO_LANE_FAST)                               \
    X(STORE_APIKEY_DELETE, "store.apikey_delete", true, PROTO_LANE_FAST)                           \
    X(STORE_APIKEY_LOOKUP, "store.apikey_lookup", true, PROTO_LANE_FAST)                           \
    X(STORE_APIKEY_TOUCH, "store.apikey_touch", true, PROTO_LANE_FAST)                             \
    X(STORE_FILE_BEGIN, "store.file_begin", false, PROTO_LANE_SLOW)                                \
    X(STORE_FILE_PART, "store.file_part", true, PROTO_LANE_SLOW)                                   \
    X(STORE_FILE_COMPLETE, "store.file_complete", false, PROTO_LANE_SLOW)                          \
    X(STORE_FILE_ABORT, "store.file_abort", true, PROTO_LANE_SLOW)                                 \
    X(STORE_FILE_GET, "store.file_get", true, PROTO_LANE_FAST)                                     \
    X(STORE_FILE_LIST, "store.file_list", true, PROTO_LANE_FAST)                                   \
    X(STORE_FILE_READ, "store.file_read", true, PROTO_LANE_SLOW)                                   \
    X(STORE_FILE_DELETE, "store.file_delete", true, PROTO_LANE_FAST)

/* Files travel in parts (store.file_part) and are read in chunks
 * (store.file_read): the bounds of one message's bytes. The storesvc link
 * uses proto_limits_files (proto_codec.h) so such messages fit. */
#define PROTO_FILE_PART_MAX  (8u * 1024 * 1024) /* bytes of one part */
#define PROTO_FILE_READ_MAX  (8u * 1024 * 1024) /* bytes of one read */
#define PROTO_FILE_NAME_MAX  255                /* bytes of a file name */
#define PROTO_FILE_TYPE_MAX  255                /* bytes of a media type */
#define PROTO_FILE_PARTS_MAX 10000              /* parts of one upload (S3's bound) */

typedef enum {
    PROTO_LANE_FAST = 0,
    PROTO_LANE_SLOW = 1,
} proto_lane_t;

typedef enum {
#define PROTO_OP_ENUM(id, name, idem, lane) PROTO_OP_##id,
    PROTO_OPS(PROTO_OP_ENUM)
#undef PROTO_OP_ENUM
        PROTO_OP__COUNT
} proto_op_t;

typedef enum {
    PROTO_T_STR, /* UTF-8 string, no embedded NUL, min..max bytes */
    PROTO_T_INT, /* signed or unsigned integer within lo..hi (both within int64) */
    PROTO_T_BOOL,
    PROTO_T_BIN,        /* raw bytes, min..max bytes */
    PROTO_T_MAP,        /* nested map, at most max entries */
    PROTO_T_ARRAY,      /* array, at most max items */
    PROTO_T_NIL_OR_STR, /* nil or a string (optional values that may be cleared) */
} proto_type_t;

/* A form a string field's text must have, checked by the decoder. */
typedef enum {
    PROTO_FMT_ANY = 0,
    /* The client a request is made for: an IP address in text form (IPv4
     * dotted quad, or IPv6 as inet_pton(3) reads it; no zone, no brackets,
     * no port), or PROTO_CLIENT_INTERNAL followed by 1..PROTO_CLIENT_NAME_MAX
     * characters of [A-Za-z0-9._-] for an internal caller that acts for no
     * client. proto_body_strs copies an address in its canonical text
     * (inet_ntop(3); an IPv4-mapped IPv6 address as IPv4), so one client is
     * one limiter bucket however it was written. */
    PROTO_FMT_CLIENT_IP,
} proto_fmt_t;

typedef struct {
    const char *name;
    proto_type_t type;
    bool required;
    uint32_t max;    /* STR/BIN: bytes at most (0: the frame's limit); MAP/ARRAY: entries */
    uint32_t min;    /* STR/BIN: bytes at least (a hash: min = max) */
    int64_t lo, hi;  /* INT: the range */
    proto_fmt_t fmt; /* STR: the form of the text */
} proto_field_t;

#define PROTO_CLIENT_INTERNAL "internal:" /* the prefix of a client_ip without a client */
#define PROTO_CLIENT_NAME_MAX 55          /* characters after it (64 bytes in all) */

/* Wire bounds of the string fields, in bytes (the field tables of
 * proto_catalog.c are written with them). A service that copies a field
 * sizes its buffer PROTO_STR_BUF(bound), so every value the decoder lets
 * through fits; proto_body_strs (proto_codec.h) refuses a smaller buffer.
 * They are generous on purpose: they only stop absurd input, the field
 * rules a person must follow (username 3..50, password 8..128 characters
 * ...) are the services' to check with a message a person can act on. */
#define PROTO_B_ID       64   /* a UUID (36) with room */
#define PROTO_B_IP       64   /* a client address in text form */
#define PROTO_B_UA       512  /* User-Agent, truncated by the gateway */
#define PROTO_B_LOGIN    512  /* username or email as typed */
#define PROTO_B_EMAIL    512  /* an email as typed */
#define PROTO_B_NAME     1024 /* full_name before cleaning */
#define PROTO_B_PASSWORD 1024
#define PROTO_B_HASH     512  /* an encoded Argon2 hash */
#define PROTO_B_TOKEN    256  /* an opaque refresh token */
#define PROTO_B_DEVICE   256  /* a device cookie as presented (ours are 98 bytes) */
#define PROTO_B_SEALED   128  /* a sealed TOTP secret (ours are 77 bytes) */
#define PROTO_B_BACKUP   320  /* the hashes of a set of backup codes: 10 x 32 bytes */
#define PROTO_B_JWT      4200 /* an access token (authsvc issues at most 4096 bytes) */
#define PROTO_B_ROLE     32
#define PROTO_B_PERM     32
#define PROTO_B_CODE     32  /* a TOTP or backup code */
#define PROTO_B_APIKEY   128 /* an API key as presented (ours are 63 bytes) */
#define PROTO_B_KEYID    32  /* the public id inside an API key */
#define PROTO_B_PERMS    512 /* permission names, space-separated */
#define PROTO_PERMS_MAX  16  /* entries of a permissions array */
#define PROTO_B_DIGEST   32  /* a SHA-256 digest (bin: token, code and key hashes) */
#define PROTO_B_HEX256   64  /* a SHA-256 digest in hex (a file's sha256) */

/* Bounds of the integer fields (the decoder refuses anything outside). */
#define PROTO_PER_PAGE_MAX 100       /* per_page of the list ops */
#define PROTO_REVOKED_MAX  64        /* revoked_max of store.user_auth_state */
#define PROTO_SQL_INT_MAX  INT32_MAX /* durations and counts PostgreSQL takes as integer */

/* Bytes of a buffer that holds any value of a string field of `bound`. */
#define PROTO_STR_BUF(bound) ((size_t)(bound) + 1)

/* ---- values a reply names ----
 *
 * The outcomes and states replies carry, each set named once: a producer
 * packs proto_val_name(set, v), a consumer reads proto_val_parse(set, ...)
 * and never compares against a literal of its own. */
typedef enum {
    PROTO_VALS_NONE = 0,    /* a string of no fixed set */
    PROTO_VALS_ROTATE,      /* store.token_rotate "outcome": proto_rotate_t */
    PROTO_VALS_TOTP_ENABLE, /* store.totp_enable "outcome": proto_totp_enable_t */
    PROTO_VALS_HEALTH,      /* sys.health "status": proto_health_t */
    PROTO_VALS_CHECK,       /* sys.health "checks" values: proto_check_t */
    PROTO_VALS_TOKEN_TYPE,  /* a token pair's "token_type": proto_token_type_t */
    PROTO_VALS__COUNT
} proto_vals_t;

typedef enum {
    PROTO_ROTATE_ROTATED, /* unused token: the new one is stored in its family */
    PROTO_ROTATE_GRACE,   /* rotated within grace_s: the new one is stored too */
    PROTO_ROTATE_REUSED,  /* rotated longer ago: the whole family is revoked */
    PROTO_ROTATE_INVALID, /* unknown, expired, revoked, or its user disabled */
    PROTO_ROTATE__COUNT
} proto_rotate_t;

typedef enum {
    PROTO_TOTP_ENABLED, /* on: the pending secret moved, backup codes stored */
    PROTO_TOTP_STALE,   /* nothing changed: the pending secret is no longer the one sent */
    PROTO_TOTP_ENABLE__COUNT
} proto_totp_enable_t;

typedef enum { PROTO_HEALTH_OK, PROTO_HEALTH_DEGRADED, PROTO_HEALTH__COUNT } proto_health_t;
typedef enum { PROTO_CHECK_OK, PROTO_CHECK_DOWN, PROTO_CHECK__COUNT } proto_check_t;
typedef enum { PROTO_TOKEN_TYPE_BEARER, PROTO_TOKEN_TYPE__COUNT } proto_token_type_t;

/* The wire name of value `v` of `set` (static), or NULL when out of range. */
const char *proto_val_name(proto_vals_t set, int v);

/* How many values `set` has (0 for PROTO_VALS_NONE or out of range). */
int proto_val_count(proto_vals_t set);

/* The value of `set` named s[0..len), or -1 when it names none. */
int proto_val_parse(proto_vals_t set, const char *s, size_t len);

/* ---- reply shapes ----
 *
 * What each op answers, key by key, and the maps replies share (User,
 * File, ...): the producers pack from these rows where they can (storesvc
 * packs result rows through them), the consumers copy through them, and
 * the documentation and the tests read them. */
typedef enum {
    PROTO_R_STR,
    PROTO_R_INT,
    PROTO_R_BOOL,
    PROTO_R_BIN,
    PROTO_R_MAP,    /* a map of strings to strings of `values` (sys.health checks) */
    PROTO_R_SHAPE,  /* a map of `shape` */
    PROTO_R_LIST,   /* an array of `shape` maps, or of strings when shape is NULL */
    PROTO_R_SPREAD, /* no key: every key of `shape` at this level */
} proto_rtype_t;

#define PROTO_R_OPTIONAL 1u /* may be absent (the reply's rows say when) */
#define PROTO_R_NIL      2u /* may be nil */

typedef struct proto_shape proto_shape_t;

typedef struct {
    const char *key;
    proto_rtype_t type;
    unsigned flags;             /* PROTO_R_OPTIONAL | PROTO_R_NIL */
    const proto_shape_t *shape; /* SHAPE, LIST, SPREAD */
    proto_vals_t values;        /* STR, MAP: the set its values are of */
} proto_rkey_t;

struct proto_shape {
    const char *name; /* "User"; NULL for an op's own reply */
    const proto_rkey_t *keys;
    size_t nkeys;
};

/* The shared shapes, by name. */
#define PROTO_SHAPES(X)                                                                            \
    X(RATE, "Rate")                                                                                \
    X(USER, "User")                                                                                \
    X(TOKEN_PAIR, "TokenPair")                                                                     \
    X(SESSION, "Session")                                                                          \
    X(AUTH_SESSION, "AuthSession")                                                                 \
    X(STATS, "Stats")                                                                              \
    X(API_KEY, "ApiKey")                                                                           \
    X(STORE_API_KEY, "StoreApiKey")                                                                \
    X(FILE, "File")

typedef enum {
#define PROTO_SHAPE_ENUM(id, name) PROTO_SHAPE_##id,
    PROTO_SHAPES(PROTO_SHAPE_ENUM)
#undef PROTO_SHAPE_ENUM
        PROTO_SHAPE__COUNT
} proto_shape_id_t;

/* The shape `id` (static), or NULL when out of range. */
const proto_shape_t *proto_shape(proto_shape_id_t id);

/* The keys of `shape` with every SPREAD replaced by the keys it names,
 * in order, into out[cap]. Returns how many there are (more than cap:
 * only cap were written). */
size_t proto_shape_keys(const proto_shape_t *shape, const proto_rkey_t **out, size_t cap);

typedef struct {
    proto_op_t op;
    const char *name;
    bool idempotent;             /* safe for the client to retry after a timeout */
    proto_lane_t lane;           /* which worker pool of a server runs it */
    const proto_field_t *fields; /* request body fields; unknown keys are rejected */
    size_t nfields;
    const proto_shape_t *reply; /* the body of a successful reply */
    const proto_err_t *errors;  /* the codes the op itself answers, beyond bad_request,
                                   internal_error and unavailable, which any op may */
    size_t nerrors;
} proto_op_def_t;

/* The definition of `op`, or NULL when out of range. */
const proto_op_def_t *proto_op_def(proto_op_t op);

/* Wire name of `op` ("sys.ping"); "" when out of range. */
const char *proto_op_name(proto_op_t op);

/* Looks up a wire name (length-delimited). Returns 0 and sets *out, or -1. */
int proto_op_lookup(const char *name, size_t len, proto_op_t *out);

#endif
