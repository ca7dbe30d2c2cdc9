/*
 * auth_keys: API keys. Authenticating a request by its key (for
 * auth.authorize), and the ops that manage a principal's keys:
 *
 *   auth.apikey_create {actor_id, actor_role, name, expires_in_days?,
 *                       permissions?} -> {id, name, key, created_at,
 *                       expires_at, permissions}   key shown this once
 *   auth.apikey_list   {actor_id} -> {api_keys: [{id, name, created_at,
 *                       expires_at, last_used_at, permissions}]}
 *   auth.apikey_delete {actor_id, id} -> {}        not_found (not the actor's)
 *
 * A key authenticates its owner with the owner's current state (disabled
 * or deleted: 401; the role that counts is the current one) and, when it
 * was made with `permissions`, only those. Looking a key up costs a
 * storesvc hop only on a miss of auth_keycache (AUTH_API_KEY_CACHE_SIZE
 * entries, fresh AUTH_CACHE_TTL_SECONDS; a delete through this authsvc
 * drops the entry before it answers, another replica stops accepting the
 * key within that TTL). last_used_at is written at most once per
 * API_KEY_LAST_USED_INTERVAL_SECONDS per key, not on every request.
 */
#ifndef AUTH_KEYS_H
#define AUTH_KEYS_H

#include "auth_admit.h"

#include <stdbool.h>
#include <stdint.h>

/* A principal authenticated by an API key. */
typedef struct {
    auth_principal_t p;       /* claims.sub: the owner; claims.sid: ""; claims.exp: the key's
                                 expiry in epoch seconds (0: none); user: the owner's state */
    char key_id[RT_UUID_BUF]; /* the key's id as the API shows it */
    bool narrowed;            /* false: everything the owner's role allows */
    uint32_t perms;           /* narrowed: what the key carries (auth_apikey masks) */
} auth_key_principal_t;

/* PROTO_OK, PROTO_ERR_UNAUTHORIZED (malformed, unknown, wrong secret,
 * expired, owner disabled or deleted), or UNAVAILABLE / INTERNAL_ERROR. */
proto_err_t auth_keys_authenticate(const auth_ctx_t *ctx, const char *rid, const char *key,
                                   auth_key_principal_t *out);

/* Whether the principal may use `perm` (its owner's role, and the key). */
bool auth_keys_allows(const auth_key_principal_t *kp, proto_perm_t perm);

#endif
