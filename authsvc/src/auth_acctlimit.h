/*
 * auth_acctlimit: the per-account login limiter, against guessing spread
 * over many source addresses (which the per-source auth_limiter cannot
 * see). Keyed by the login name as typed, normalised (lower case): known
 * and unknown names are tracked alike, so its answers never tell whether
 * an account exists. A username and an email are two names with a budget
 * each: keying both by the account would tell which email belongs to
 * which username.
 *
 * Protocol, per login attempt (after the source's auth_limiter_begin):
 *
 *     int retry;
 *     if (auth_acctlimit_begin(l, name, &retry) != AUTH_ACCT_ALLOWED)
 *         unless exempt (a device cookie, auth_device.h): 429, Retry-After: retry
 *     ... verify the password and second factor (slow) ...
 *     auth_acctlimit_end(l, name, AUTH_LIMITER_FAILURE / _SUCCESS / _NEUTRAL, &started);
 *
 * Policy: up to max_failures failures within window_s (a fixed window from
 * the first failure) are answered as usual; attempts in flight count, so a
 * parallel burst gets at most max_failures - failures evaluated. The
 * failure that reaches max_failures puts the name into delay: no attempt
 * is admitted for 1 s; each further failure doubles the delay, up to
 * max_delay_s (1, 2, 4, ... 32, 60 s with the defaults); while delayed at
 * most one attempt is in flight. Retry-After is the current delay (not the
 * time left). A delay ends window_s after the last failure; a success
 * ends it and resets the count (only an admitted attempt reports one:
 * a client exempted by a device cookie does not lift the delay for the
 * others).
 *
 * Memory is bounded like auth_limiter's: max_keys entries allocated up
 * front, in up to 16 shards (auth_keytab) each with a lock and an LRU list;
 * names are stored as keyed 128-bit SipHash digests, never as text. A full
 * shard gives a new name the slot of an entry holding nothing, else of the
 * least recently used undelayed entry with nothing in flight among the 32
 * oldest, else the oldest (so a flood of names can push out a delay, but
 * only by filling a shard with as many names of its own first).
 *
 * Thread-safe: any number of threads may call any function concurrently,
 * except auth_acctlimit_destroy.
 */
#ifndef AUTH_ACCTLIMIT_H
#define AUTH_ACCTLIMIT_H

#include "auth_limiter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_ACCT_KEY_MAX      1024 /* bytes of a key; longer keys are refused */
#define AUTH_ACCT_MAX_DELAY    3600 /* upper bound of max_delay_s */
#define AUTH_ACCT_DEFAULT_KEYS 100000

typedef struct auth_acctlimit auth_acctlimit_t;

typedef struct {
    int max_failures;       /* LOGIN_ACCOUNT_MAX_FAILURES [10], 1..1000 */
    int window_s;           /* LOGIN_WINDOW_SECONDS [300] */
    int max_delay_s;        /* the delay's cap [60], 1..AUTH_ACCT_MAX_DELAY */
    size_t max_keys;        /* names tracked at most [100000], 1..AUTH_LIMITER_MAX_KEYS */
    int inflight_timeout_s; /* a slot held this long is presumed leaked [60]; 0 means 60 */
} auth_acctlimit_config_t;

typedef enum {
    AUTH_ACCT_ALLOWED = 0, /* evaluate the attempt; call end() exactly once */
    AUTH_ACCT_DELAYED = 1, /* within the delay after the last failure */
    AUTH_ACCT_BUSY = 2     /* failures + attempts in flight reach the limit */
} auth_acctlimit_verdict_t;

/* Fills `cfg` with the defaults (10, 300, 60, 100000, 60). */
void auth_acctlimit_config_defaults(auth_acctlimit_config_t *cfg);

/* `clock` NULL: CLOCK_MONOTONIC seconds. All memory is allocated here.
 * NULL on an out-of-range setting or out of memory. */
auth_acctlimit_t *auth_acctlimit_new(const auth_acctlimit_config_t *cfg, auth_clock_fn clock,
                                     void *clock_arg);

/* Frees `*self_p` and sets it to NULL. Safe on NULL. */
void auth_acctlimit_destroy(auth_acctlimit_t **self_p);

/* Asks to evaluate one attempt for `key` (1..AUTH_ACCT_KEY_MAX bytes).
 * Returns an auth_acctlimit_verdict_t (on ALLOWED a slot is reserved), or
 * -1 on a NULL limiter or bad key (treat as refused). `*retry_after_s`
 * (may be NULL): 0 on ALLOWED, else the seconds to wait (>= 1). */
int auth_acctlimit_begin(auth_acctlimit_t *self, const char *key, int *retry_after_s);

/* Releases the slot of an ALLOWED begin() and records `outcome`.
 * `*delay_started` (may be NULL) is set when this failure put the key into
 * delay (once per delay, for one log line). 0, or -1 on bad arguments. */
int auth_acctlimit_end(auth_acctlimit_t *self, const char *key, auth_limiter_outcome_t outcome,
                       bool *delay_started);

/* Keys tracked right now; never more than max_keys. */
size_t auth_acctlimit_tracked_count(auth_acctlimit_t *self);

/* Bytes allocated for the tables (fixed at _new). */
size_t auth_acctlimit_memory_bytes(const auth_acctlimit_t *self);

/* Bytes of one entry. */
size_t auth_acctlimit_entry_bytes(void);

#endif
