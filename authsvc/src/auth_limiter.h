/*
 * auth_limiter: the login brute-force limiter of docs/API.md ("Login
 * protection"), per source key (the resolved client IP, IPv4-mapped IPv6
 * already folded to IPv4 by the caller).
 *
 * Protocol, per login attempt:
 *
 *     int retry;
 *     int rc = auth_limiter_begin(l, ip, &retry);   // before ANY credential work
 *     if (rc != AUTH_LIMITER_ALLOWED)               // BLOCKED, BUSY or < 0
 *         return 429 login_rate_limited, Retry-After: retry;
 *     ... look up the user, verify the password (slow) ...
 *     bool started;
 *     auth_limiter_end(l, ip, AUTH_LIMITER_FAILURE / _SUCCESS / _NEUTRAL, &started);
 *     if (started) log WARNING "login source blocked" with the source and time;
 *
 * Every ALLOWED begin() reserves an in-flight slot that the matching end()
 * releases, and begin() admits an attempt only while failures + in-flight
 * < max_failures. So a parallel burst gets at most max_failures attempts
 * evaluated per window and the rest are refused at once (BUSY), instead of
 * all passing a "blocked?" check before any failure is recorded.
 *
 * Window: a fixed window that opens at the first failure counted and lasts
 * window_s; failures older than that are forgotten as a whole. Reaching
 * max_failures inside the window blocks the source for cooldown_s (the
 * block is not extended by attempts made while blocked) and resets the
 * counter. Across a window boundary a source can fit at most
 * 2 * (max_failures - 1) failures close together, and never more than
 * max_failures - 1 per window_s in the long run. A success resets the
 * counter but never lifts a block.
 *
 * Memory is bounded: at most max_keys sources are tracked, in preallocated
 * tables (see auth_limiter_memory_bytes). A source is identified by a keyed
 * 128-bit SipHash of its key (random key per limiter), not by its text.
 * Entries that hold nothing (no live failure, no live slot, no block) are
 * dropped as they are met. When the table is full, a new source takes the
 * slot of, in order: a source whose block has expired; a source holding
 * nothing among the 32 least recently used unblocked ones; among those 32,
 * the least recently used with no attempt in flight; the least recently
 * used unblocked source; and only when every tracked source is blocked,
 * the block closest to its end. Trade-off: a flood of distinct addresses can
 * push out partial failure counts (an attacker with max_keys addresses
 * could spread guesses over them anyway), but cannot lift a block unless
 * it first gets max_keys other sources blocked. The table is split into up
 * to 16 shards by hash, each with its own lock and its own LRU order, so
 * eviction order is per shard (approximately global LRU).
 *
 * Thread-safe: any number of threads may call any function concurrently,
 * except auth_limiter_destroy.
 */
#ifndef AUTH_LIMITER_H
#define AUTH_LIMITER_H

#include <stdbool.h>
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

#define AUTH_LIMITER_KEY_MAX            255        /* bytes; longer keys are refused */
#define AUTH_LIMITER_MAX_KEYS           (1u << 26) /* upper bound for max_keys */
#define AUTH_LIMITER_MAX_SECONDS        31536000   /* upper bound for each duration */
#define AUTH_LIMITER_MAX_FAILURES_LIMIT 1000

typedef struct auth_limiter auth_limiter_t;

typedef struct {
    int max_failures;       /* LOGIN_MAX_FAILURES [5], 1..1000 */
    int window_s;           /* LOGIN_WINDOW_SECONDS [300], 1..AUTH_LIMITER_MAX_SECONDS */
    int cooldown_s;         /* LOGIN_COOLDOWN_SECONDS [900], same range */
    size_t max_keys;        /* sources tracked at most [100000], 1..AUTH_LIMITER_MAX_KEYS */
    int inflight_timeout_s; /* a slot held this long is presumed leaked by a caller that
                               never called end() and is released [60]; 0 means 60 */
} auth_limiter_config_t;

/* What begin() answers. BLOCKED and BUSY get the same reply (429
 * login_rate_limited with Retry-After: cooldown_s); they differ for metrics
 * and logs only. */
typedef enum {
    AUTH_LIMITER_ALLOWED = 0, /* evaluate the attempt; call end() exactly once */
    AUTH_LIMITER_BLOCKED = 1, /* the source is in its cooldown */
    AUTH_LIMITER_BUSY = 2     /* failures + attempts in flight already reach max_failures */
} auth_limiter_verdict_t;

/* How an attempt admitted by begin() ended. */
typedef enum {
    AUTH_LIMITER_SUCCESS = 0, /* credentials correct: resets the failure count */
    AUTH_LIMITER_FAILURE,     /* wrong username or password: counts */
    AUTH_LIMITER_NEUTRAL      /* neither (e.g. totp_required, backend unavailable) */
} auth_limiter_outcome_t;

/* Fills `cfg` with the docs/API.md defaults (5, 300, 900, 100000, 60). */
void auth_limiter_config_defaults(auth_limiter_config_t *cfg);

/* Creates a limiter. `cfg` is copied. `clock` NULL means CLOCK_MONOTONIC;
 * `clock_arg` is borrowed and passed to every `clock` call. All memory for
 * max_keys sources is allocated here (zero pages, committed as used).
 * Returns NULL on an out-of-range setting or out of memory. */
auth_limiter_t *auth_limiter_new(const auth_limiter_config_t *cfg, auth_clock_fn clock,
                                 void *clock_arg);

/* Frees `*self_p` and sets it to NULL. Safe on NULL and on a NULL pointer. */
void auth_limiter_destroy(auth_limiter_t **self_p);

/* Asks to evaluate one login attempt from `key` (borrowed, NUL-terminated,
 * 1..AUTH_LIMITER_KEY_MAX bytes). Returns an auth_limiter_verdict_t; on
 * ALLOWED a slot is reserved and the caller must call end() once. Returns
 * -1 on a NULL limiter or a bad key (treat as refused). `*retry_after_s`
 * (may be NULL) receives 0 on ALLOWED, else cooldown_s: never the time
 * left, so no answer reveals the exact expiry. */
int auth_limiter_begin(auth_limiter_t *self, const char *key, int *retry_after_s);

/* Releases the slot that an ALLOWED begin() for `key` reserved, recording
 * `outcome`. `*block_started` (may be NULL) is set true when this failure
 * started a block: exactly one end() per block sets it, so the caller logs
 * one WARNING per block. If the source was pushed out of the table in the
 * meantime, a failure is recorded afresh and the others are ignored.
 * Returns 0, or -1 on a NULL limiter, bad key or bad outcome. */
int auth_limiter_end(auth_limiter_t *self, const char *key, auth_limiter_outcome_t outcome,
                     bool *block_started);

/* Sources blocked right now (for the admin stats "blocked_sources"). */
size_t auth_limiter_blocked_count(auth_limiter_t *self);

/* Sources tracked right now; never more than max_keys. */
size_t auth_limiter_tracked_count(auth_limiter_t *self);

/* Bytes allocated for the tables (fixed at _new; the whole bound). */
size_t auth_limiter_memory_bytes(const auth_limiter_t *self);

/* Bytes of one table entry (a tracked source), not counting its share of
 * the bucket array (4 to 8 bytes more). */
size_t auth_limiter_entry_bytes(void);

#endif
