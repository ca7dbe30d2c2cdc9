/*
 * auth_admit: who a caller is. The user's admission state (username, role,
 * active, "tokens valid after") comes from the cache or, on a miss, from
 * storesvc (store.user_auth_state); every change authsvc makes to a user
 * invalidates its entry. Access tokens are checked against that state, so
 * a disabled user, a changed role, a logout-all or a revoked session (the
 * state lists the sessions revoked within an access token's lifetime)
 * takes effect on the next request (at most AUTH_CACHE_TTL_SECONDS late on
 * other replicas).
 */
#ifndef AUTH_ADMIT_H
#define AUTH_ADMIT_H

#include "auth_handlers.h"
#include "auth_util.h"

/* Looks up the admission state of `user_id`. PROTO_OK, PROTO_ERR_NOT_FOUND,
 * or PROTO_ERR_UNAVAILABLE / INTERNAL_ERROR from storesvc. */
proto_err_t auth_user_state(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                            auth_cache_user_t *out);

/* Forgets the cached state of `user_id` (after changing it). */
void auth_user_forget(const auth_ctx_t *ctx, const char *user_id);

/* The password hash of `id` into hash[cap], with its state in *st:
 * PROTO_OK, PROTO_ERR_UNAUTHORIZED for an unknown user, or storesvc's
 * error. (auth_account.c) */
proto_err_t auth_stored_hash(const auth_ctx_t *ctx, const char *rid, const char *id,
                             auth_cache_user_t *st, char *hash, size_t cap);

/* An authenticated principal. */
typedef struct {
    auth_jwt_claims_t claims; /* sub = user id, sid = session */
    auth_cache_user_t user;   /* current state: the role that counts is user.role */
} auth_principal_t;

/* Verifies an access token and the user's current state: PROTO_OK, or
 * PROTO_ERR_UNAUTHORIZED (bad or expired token, unknown or disabled user,
 * token issued before the user's "valid after" time, or of a revoked
 * session), or UNAVAILABLE. */
proto_err_t auth_authenticate(const auth_ctx_t *ctx, const char *rid, const char *token,
                              auth_principal_t *out);

#endif
