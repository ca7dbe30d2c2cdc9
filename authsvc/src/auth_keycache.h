/*
 * auth_keycache: a bounded cache of verified API-key rows, so a request
 * with an API key costs no storesvc hop beyond what a bearer token costs
 * (the owner's state comes from auth_cache as for a token).
 *
 * Key: the key id (the public part of the key's text). Value: what
 * store.apikey_lookup answered: the row id, the owner, the SHA-256 of the
 * secret (compared in constant time on every request: the cache stores
 * what the secret must hash to, never that a presented key was good),
 * permissions, expiry, last use. An entry is fresh for ttl_s seconds by
 * the injected monotonic clock (AUTH_CACHE_TTL_SECONDS: how long another
 * replica may still accept a key deleted elsewhere); a delete through this
 * authsvc invalidates it at once.
 *
 * Memory is fixed at _new: `capacity` entries in sets of 8 ways chosen by
 * a keyed SipHash of the key id (random key per cache). A full set evicts
 * a stale way, else its least recently used one. Fills use the generation
 * protocol of auth_cache.h (take a generation, look up, put only if no
 * invalidation came in between), so a lookup that raced a delete cannot
 * put the deleted key back.
 *
 * Thread-safe (up to 16 shards, one mutex each), except _destroy.
 */
#ifndef AUTH_KEYCACHE_H
#define AUTH_KEYCACHE_H

#include "auth_apikey.h"
#include "rt_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef AUTH_CLOCK_FN_DEFINED
#define AUTH_CLOCK_FN_DEFINED
typedef int64_t (*auth_clock_fn)(void *arg);
#endif

#define AUTH_KEYCACHE_MAX_CAPACITY (1u << 22)
#define AUTH_KEYCACHE_MAX_TTL      86400

typedef struct auth_keycache auth_keycache_t;

/* One API key as storesvc knows it. */
typedef struct {
    char id[RT_UUID_BUF];      /* the row id (what the API calls the key's id) */
    char user_id[RT_UUID_BUF]; /* the owner */
    unsigned char secret_hash[AUTH_APIKEY_HASHLEN];
    bool narrowed;        /* false: the key follows the owner's role */
    uint32_t perms;       /* narrowed: the permissions it carries (auth_apikey masks) */
    int64_t expires_ms;   /* epoch ms; 0: never */
    int64_t last_used_ms; /* epoch ms of the last recorded use; 0: never */
} auth_keycache_key_t;

/* `capacity` 1..AUTH_KEYCACHE_MAX_CAPACITY entries, fresh `ttl_s`
 * 1..AUTH_KEYCACHE_MAX_TTL seconds; `clock` NULL is CLOCK_MONOTONIC. NULL
 * on bad arguments or no memory. */
auth_keycache_t *auth_keycache_new(size_t capacity, int ttl_s, auth_clock_fn clock,
                                   void *clock_arg);

void auth_keycache_destroy(auth_keycache_t **self_p);

/* 0 and *out on a fresh hit; -1 on a miss (a stale entry is dropped) or a
 * bad key id (AUTH_APIKEY_ID_LEN bytes). */
int auth_keycache_get(auth_keycache_t *self, const char *key_id, auth_keycache_key_t *out);

/* The generation to pass to auth_keycache_put_if_current. */
uint64_t auth_keycache_generation(auth_keycache_t *self, const char *key_id);

/* Stores `v` unless an invalidation of the shard came since `generation`:
 * 0 stored, 1 skipped, -1 bad arguments. */
int auth_keycache_put_if_current(auth_keycache_t *self, const char *key_id,
                                 const auth_keycache_key_t *v, uint64_t generation);

/* Drops `key_id` (and makes fills that started before skip). 0, or -1. */
int auth_keycache_invalidate(auth_keycache_t *self, const char *key_id);

/* Records a use at `at_ms` in the cached entry, if there is one. */
void auth_keycache_mark_used(auth_keycache_t *self, const char *key_id, int64_t at_ms);

/* Entries held now (never more than the capacity). */
size_t auth_keycache_count(auth_keycache_t *self);

/* auth_keycache_get calls so far that found a fresh entry and that did
 * not (relaxed atomics: for metrics). NULL-safe (0, 0). */
void auth_keycache_lookups(auth_keycache_t *self, uint64_t *hits, uint64_t *misses);

#endif
