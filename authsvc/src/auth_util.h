/*
 * auth_util: the small pieces every authsvc op shares: calling storesvc
 * with a packed body, the API rate-limit check and its "rate" reply map,
 * refresh-token generation and hashing, ids and clocks, and copying
 * msgpack values from a storesvc reply into our own reply.
 */
#ifndef AUTH_UTIL_H
#define AUTH_UTIL_H

#include "auth_handlers.h"
#include "rt_uuid.h"

#include <stdbool.h>
#include <stdint.h>

#define AUTH_TOKEN_BYTES   32 /* refresh tokens: 256 random bits */
#define AUTH_TOKEN_BUF     48 /* their base64url text (43) plus NUL */
#define AUTH_TOKEN_HASHLEN 32 /* SHA-256 */
#define AUTH_KEY_BUF       80 /* a limiter key: "u:<uuid>" or "ip:<address>" */

/* Entries of a static array (a proto_str_arg_t table, say). */
#define AUTH_NARGS(a) (sizeof(a) / sizeof((a)[0]))

/* A body being packed for a storesvc call. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} auth_body_t;

void auth_body_init(auth_body_t *b);
void auth_body_cleanup(auth_body_t *b);

/* Calls `op` on storesvc with the packed body (NULL: empty). Fills `rep`
 * (call proto_reply_cleanup) and returns its error. Timeouts and a missing
 * storesvc are PROTO_ERR_UNAVAILABLE. */
proto_err_t auth_store_call(const auth_ctx_t *ctx, const char *rid, proto_op_t op,
                            const auth_body_t *body, proto_reply_t *rep);

/* store.user_create with a normalised email and an encoded hash; fills
 * `rep` (the User on success). PROTO_ERR_CONFLICT for a taken username or
 * email, or an existing admin with `if_no_admin`. */
proto_err_t auth_create_user(const auth_ctx_t *ctx, const char *rid, const char *username,
                             const char *email, const char *full_name, const char *hash,
                             const char *role, bool if_no_admin, proto_reply_t *rep);

/* The API rate limiter's verdict for one request. */
typedef struct {
    bool on; /* false: limiting is off (RATE_LIMIT_PER_MINUTE=0): no headers */
    uint32_t limit, remaining;
    int reset_s;
} auth_rate_t;

/* Counts one request for `key` against `limit` per minute on `rl`.
 * PROTO_OK, or PROTO_ERR_RATE_LIMITED with fail->retry_after set
 * (PROTO_ERR_INTERNAL_ERROR on a bad key). When limiting is on, the state
 * is also written to fail->limit/remaining/reset, so any later error
 * reply of the op carries it. */
proto_err_t auth_rate_check(auth_ratelimit_t *rl, const char *key, long limit, auth_rate_t *out,
                            proto_fail_t *fail);

/* Packs "rate": {limit, remaining, reset} when `r->on`; returns the number
 * of map entries packed (0 or 1), so callers can size their map first with
 * auth_rate_entries. */
int auth_rate_entries(const auth_rate_t *r);
void auth_pack_rate(msgpack_packer *pk, const auth_rate_t *r);

/* Keys for the limiters: "ip:<address>" and "u:<user id>". */
void auth_key_ip(char out[AUTH_KEY_BUF], const char *client_ip);
void auth_key_user(char out[AUTH_KEY_BUF], const char *user_id);

/* A fresh refresh token (base64url, no padding) and its SHA-256. */
int auth_token_new(char token[AUTH_TOKEN_BUF], unsigned char hash[AUTH_TOKEN_HASHLEN]);

/* SHA-256 of a presented token's text. */
void auth_token_hash(const char *token, unsigned char hash[AUTH_TOKEN_HASHLEN]);

/* Wall-clock time in milliseconds since the epoch. */
int64_t auth_now_ms(void);

/* Copies a string field of `map` (a storesvc reply body) into out[cap]; ""
 * when absent, nil or too long. Returns 0 when it was a string that fit. */
int auth_copy_str(const msgpack_object *map, const char *key, char *out, size_t cap);

/* Packs `key` and the value of `key` in `map` as it is (nil when absent). */
void auth_pack_field(msgpack_packer *pk, const msgpack_object *map, const char *key);

/* Packs every key of `shape` (no SPREADs) with its value in `map` as it
 * is (nil when absent): a storesvc map passed on in the catalogue's shape. */
void auth_pack_shape_fields(msgpack_packer *pk, const msgpack_object *map,
                            const proto_shape_t *shape);

/* Packs a whole msgpack value (e.g. a User map from storesvc). */
void auth_pack_object(msgpack_packer *pk, const msgpack_object *obj);

/* Copies a short human message into fail->msg. */
void auth_fail_msg(proto_fail_t *fail, const char *msg);

/* A validation failure about one field: its name and the message. */
void auth_fail_field(proto_fail_t *fail, const char *field, const char *msg);

#endif
