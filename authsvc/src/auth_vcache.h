/*
 * auth_vcache: remembers the access tokens that passed auth_jwt_verify, so
 * a client presenting the same token on every request pays one full
 * verification per token (two base64 and JSON decodes, two HMACs, libjwt:
 * about 40 % of authsvc's CPU per auth.authorize) instead of one per
 * request.
 *
 * What a hit proves: the token is byte for byte one that verified before
 * under this cache's verifier (secret, issuer and audience fixed at its
 * _new), and the verifier's clock is inside the window that token's iat,
 * nbf, exp and the leeway allow (auth_jwt_verify_window). Everything else a
 * full verification checks depends only on those, so a hit answers exactly
 * what auth_jwt_verify would; outside the window the entry is dropped and
 * the full verification runs (and says EXPIRED or NOT_YET_VALID).
 * Revocation (logout-all, disabled or deleted users) is not decided here:
 * the caller checks it after either path, as before.
 *
 * Identity: a keyed BLAKE2b-256 of the token under a random per-cache key,
 * compared in full (sodium_memcmp); the same digest picks the set, so
 * nobody can aim tokens at one set. Refused tokens are never stored, so
 * garbage cannot evict anything; only tokens this service issued can.
 *
 * Memory is fixed at _new: `capacity` rounded up to sets of 8 entries
 * (auth_vcache_entry_bytes() each). A full set drops an entry outside its
 * window first, else the least recently used one.
 *
 * Thread-safe: any number of threads may call auth_vcache_verify and
 * auth_vcache_stats at once (sets are grouped into up to 16 shards with a
 * mutex each, held for the scan of one set); not auth_vcache_destroy.
 */
#ifndef AUTH_VCACHE_H
#define AUTH_VCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "auth_jwt.h"

typedef struct auth_vcache auth_vcache_t;

/* A cache of at most `capacity` (>= 1) tokens verified by `jwt` (borrowed:
 * it must outlive the cache). NULL on bad arguments or no memory. */
auth_vcache_t *auth_vcache_new(const auth_jwt_t *jwt, size_t capacity);

/* Frees `*self_p` (wiping its key) and sets it to NULL. Safe on NULL. */
void auth_vcache_destroy(auth_vcache_t **self_p);

/* auth_jwt_verify(jwt, token, out) through the cache: same statuses, same
 * claims. With a NULL cache it is exactly auth_jwt_verify with the
 * verifier given here. */
auth_jwt_status_t auth_vcache_verify(auth_vcache_t *self, const auth_jwt_t *jwt, const char *token,
                                     auth_jwt_claims_t *out);

typedef struct {
    uint64_t hits;   /* answered from the cache */
    uint64_t misses; /* fully verified (refused or not) */
    size_t entries;  /* tokens held now */
    size_t capacity; /* tokens held at most */
} auth_vcache_stats_t;

/* Counters since _new; all zero for NULL. */
void auth_vcache_stats(auth_vcache_t *self, auth_vcache_stats_t *out);

/* Bytes one entry takes. */
size_t auth_vcache_entry_bytes(void);

#endif
