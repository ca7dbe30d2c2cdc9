/*
 * auth_ratelimit: the API rate limiter of docs/API.md ("Rate
 * limiting"): at most `limit` requests per window (a minute) per key, where
 * the key is the authenticated user id or "ip:<client address>". One
 * instance serves RATE_LIMIT_PER_MINUTE on every /api/ route; a separate
 * instance serves REGISTER_RATE_LIMIT_PER_MINUTE for registration.
 *
 * Algorithm: the two-bucket sliding-window approximation. Time is cut into
 * fixed windows of window_s aligned on the clock; a key keeps the count of
 * the current window and of the previous one, and a request at `elapsed`
 * seconds into the current window is allowed when
 *
 *     prev * (window_s - elapsed) / window_s + cur + 1 <= limit
 *
 * (computed exactly in integers). This is smooth at window boundaries (no
 * 2x burst across a boundary as with a plain fixed window) and costs two
 * counters per key. Refused requests are not counted, so a client that
 * waits Retry-After is let in. A key idle for two windows is back to a
 * full quota.
 *
 * Memory is bounded the same way as auth_limiter: max_keys entries
 * allocated at _new, keys stored as a keyed 128-bit SipHash, idle keys
 * dropped as they are met, and when full a new key takes the slot of an
 * idle key among the 32 least recently used, else of the least recently
 * used key (whose count is then forgotten: a flood of distinct keys can
 * reset a busy key early; it cannot grow memory). Sharded by hash, one
 * mutex per shard; thread-safe except auth_ratelimit_destroy.
 *
 * State is per process: with several authsvc replicas each enforces its
 * own counts (RATE_LIMIT_REDIS_URL is a separate backend, not this one).
 */
#ifndef AUTH_RATELIMIT_H
#define AUTH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#ifndef AUTH_CLOCK_FN_DEFINED
#define AUTH_CLOCK_FN_DEFINED
/* Returns monotonic time in whole seconds (values are clamped to
 * [0, 2^62]). Called without any lock held, from whichever thread calls
 * the module, so it must be thread-safe. `arg` is the pointer given at
 * _new. */
typedef int64_t (*auth_clock_fn)(void *arg);
#endif

#define AUTH_RATELIMIT_KEY_MAX    255        /* bytes; longer keys are refused */
#define AUTH_RATELIMIT_MAX_KEYS   (1u << 26) /* upper bound for max_keys */
#define AUTH_RATELIMIT_MAX_WINDOW 86400      /* upper bound for window_s */

typedef struct auth_ratelimit auth_ratelimit_t;

typedef struct {
    int window_s;    /* [60]: limits are "per minute", 1..AUTH_RATELIMIT_MAX_WINDOW */
    size_t max_keys; /* keys tracked at most [100000], 1..AUTH_RATELIMIT_MAX_KEYS */
} auth_ratelimit_config_t;

typedef enum {
    AUTH_RATELIMIT_ALLOWED = 0, /* serve it */
    AUTH_RATELIMIT_LIMITED = 1  /* 429 rate_limited with Retry-After */
} auth_ratelimit_verdict_t;

/* Fills `cfg` with the defaults (60 s, 100000 keys). */
void auth_ratelimit_config_defaults(auth_ratelimit_config_t *cfg);

/* Creates a limiter. `cfg` is copied. `clock` NULL means CLOCK_MONOTONIC;
 * `clock_arg` is borrowed. Returns NULL on a bad setting or no memory. */
auth_ratelimit_t *auth_ratelimit_new(const auth_ratelimit_config_t *cfg, auth_clock_fn clock,
                                     void *clock_arg);

/* Frees `*self_p` and sets it to NULL. Safe on NULL and on a NULL pointer. */
void auth_ratelimit_destroy(auth_ratelimit_t **self_p);

/* Counts one request for `key` (borrowed, 1..AUTH_RATELIMIT_KEY_MAX bytes)
 * against `limit` requests per window; `limit` 0 means no limit (nothing
 * is counted or stored, every output is 0: send no RateLimit headers).
 * Returns AUTH_RATELIMIT_ALLOWED (the request was counted) or
 * AUTH_RATELIMIT_LIMITED (it was not), or -1 for a NULL limiter or a bad
 * key. Outputs, each may be NULL, 0 on error:
 *   `*remaining`     requests still allowed right now (RateLimit-Remaining);
 *   `*reset_s`       seconds until the current window ends, 1..window_s
 *                    (RateLimit-Reset);
 *   `*retry_after_s` when LIMITED, the exact seconds after which a request
 *                    would be allowed if none other came (>= 1); else 0. */
int auth_ratelimit_check(auth_ratelimit_t *self, const char *key, uint32_t limit,
                         uint32_t *remaining, int *reset_s, int *retry_after_s);

/* Keys tracked right now; never more than max_keys. */
size_t auth_ratelimit_tracked_count(auth_ratelimit_t *self);

/* Bytes allocated for the tables (fixed at _new; the whole bound). */
size_t auth_ratelimit_memory_bytes(const auth_ratelimit_t *self);

/* Bytes of one table entry, not counting its 4 to 8 bytes of buckets. */
size_t auth_ratelimit_entry_bytes(void);

#endif
