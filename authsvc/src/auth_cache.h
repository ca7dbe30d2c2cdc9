/*
 * auth_cache: a bounded cache of what auth.authorize needs to know about a
 * user (active, role, "valid after", the sessions revoked lately), with
 * explicit invalidation, so that most authorisations cost no hop to
 * storesvc (a hop costs about as much as everything else of a request).
 *
 * Key: the user id (UUID text, 1..AUTH_CACHE_ID_MAX bytes). Value: an
 * auth_cache_user_t. An entry is fresh for ttl_s seconds after it was
 * stored, by the injected monotonic clock; a stale entry is a miss.
 *
 * Memory is fixed at _new: `capacity` entries (auth_cache_entry_bytes()
 * each) in sets of 8 to 15 ways chosen by a keyed SipHash of the id (random
 * key per cache, so ids cannot be chosen to crowd one set). A new id takes
 * a free way of its set, else a stale one, else the least recently used
 * one: a flood of distinct ids evicts old entries, count never exceeds
 * capacity, nothing grows. Eviction is LRU per set (approximately global
 * LRU).
 *
 * Filling without races: a fill that read the database before a change
 * but stores after the change's invalidation would put the old state back
 * for a whole ttl (e.g. a deactivated user admitted again). So a filler
 * takes a generation first and stores with auth_cache_put_if_current:
 *
 *     auth_cache_user_t u;
 *     if (auth_cache_get(c, id, &u) != 0) {
 *         uint64_t gen = auth_cache_generation(c, id);
 *         ... fetch the user from storesvc into u ...
 *         auth_cache_put_if_current(c, id, &u, gen);   // skipped if invalidated since
 *     }
 *
 * and whoever changes a user (role, is_active, logout-all, password, a
 * revoked session) calls auth_cache_invalidate after the change is
 * committed. Generations are per
 * shard, so an invalidation of another id in the same shard also skips a
 * fill (harmless: the next request fills again).
 *
 * Thread-safe: any number of threads may call any function concurrently,
 * except auth_cache_destroy. Sets are grouped into up to 16 shards, each
 * with its own mutex held only for a scan of one set; the clock is read
 * before any lock is taken.
 */
#ifndef AUTH_CACHE_H
#define AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_rbac.h"

#ifndef AUTH_CLOCK_FN_DEFINED
#define AUTH_CLOCK_FN_DEFINED
/* Returns monotonic time in whole seconds (values are clamped to
 * [0, 2^62]). Called without any lock held, from whichever thread calls
 * the module, so it must be thread-safe. `arg` is the pointer given at
 * _new. */
typedef int64_t (*auth_clock_fn)(void *arg);
#endif

#define AUTH_CACHE_ID_MAX       64         /* bytes of a user id */
#define AUTH_CACHE_USERNAME_MAX 50         /* bytes of a username */
#define AUTH_CACHE_REVOKED_MAX  8          /* revoked sessions remembered per user */
#define AUTH_CACHE_SID_BYTES    16         /* a session id (a UUID) as bytes */
#define AUTH_CACHE_MAX_CAPACITY (1u << 22) /* upper bound for capacity */
#define AUTH_CACHE_MAX_TTL      86400      /* seconds; upper bound for ttl_s */

typedef struct auth_cache auth_cache_t;

/* What is cached about one user. */
typedef struct {
    char username[AUTH_CACHE_USERNAME_MAX + 1]; /* NUL-terminated */
    proto_role_t role;                          /* a valid role */
    bool is_active;
    int64_t valid_after_ms; /* tokens issued before this are dead (logout-all) */
    /* Sessions (refresh-token families) revoked within an access token's
     * lifetime: the access tokens of these sessions are dead. */
    uint8_t nrevoked; /* 0..AUTH_CACHE_REVOKED_MAX */
    unsigned char revoked[AUTH_CACHE_REVOKED_MAX][AUTH_CACHE_SID_BYTES];
    int64_t stored_at_s; /* set by get: the clock when it was stored; ignored by put */
} auth_cache_user_t;

/* True when session `sid` (a UUID in text form) is among the revoked
 * sessions of `u`. A sid that is not a UUID is never listed. */
bool auth_cache_session_revoked(const auth_cache_user_t *u, const char *sid);

/* Creates a cache of `capacity` entries (1..AUTH_CACHE_MAX_CAPACITY) that
 * stay fresh `ttl_s` seconds (1..AUTH_CACHE_MAX_TTL). `clock` NULL means
 * CLOCK_MONOTONIC; `clock_arg` is borrowed and passed to every `clock`
 * call. All memory is allocated here. Returns NULL on bad arguments or out
 * of memory. */
auth_cache_t *auth_cache_new(size_t capacity, int ttl_s, auth_clock_fn clock, void *clock_arg);

/* Frees `*self_p` and sets it to NULL. Safe on NULL and on a NULL pointer. */
void auth_cache_destroy(auth_cache_t **self_p);

/* Looks `id` up (borrowed, NUL-terminated). Returns 0 and fills `*out` on
 * a fresh hit; -1 on a miss, a stale entry (which is dropped), a NULL
 * argument or a bad id, with `*out` (if any) zeroed. */
int auth_cache_get(auth_cache_t *self, const char *id, auth_cache_user_t *out);

/* Stores a copy of `*value` for `id`, replacing any entry for it, stamped
 * with the clock now. Returns 0, or -1 on a NULL argument, a bad id, a
 * username that is not NUL-terminated within AUTH_CACHE_USERNAME_MAX + 1
 * bytes, an invalid role, or nrevoked over AUTH_CACHE_REVOKED_MAX. */
int auth_cache_put(auth_cache_t *self, const char *id, const auth_cache_user_t *value);

/* The invalidation generation of the shard of `id`, to pass to
 * auth_cache_put_if_current. 0 for a NULL cache or a bad id. */
uint64_t auth_cache_generation(auth_cache_t *self, const char *id);

/* Like auth_cache_put, but stores only when no invalidation hit the shard
 * of `id` since auth_cache_generation returned `generation`. Returns 0
 * stored, 1 skipped (not an error: the value may be stale), -1 as put. */
int auth_cache_put_if_current(auth_cache_t *self, const char *id, const auth_cache_user_t *value,
                              uint64_t generation);

/* Drops the entry for `id` if any, and makes every fill of its shard that
 * started before this call skip. Returns 0, or -1 on a NULL argument or a
 * bad id. */
int auth_cache_invalidate(auth_cache_t *self, const char *id);

/* Entries held right now (fresh or not yet found stale); never more than
 * capacity. */
size_t auth_cache_count(auth_cache_t *self);

/* auth_cache_get calls so far that found a fresh entry and that did not
 * (relaxed atomics: for metrics). NULL-safe (0, 0). */
void auth_cache_lookups(auth_cache_t *self, uint64_t *hits, uint64_t *misses);

/* Bytes of one entry; capacity * this is the whole table. */
size_t auth_cache_entry_bytes(void);

#endif
