/*
 * auth_keytab: what the sharded key tables of auth_limiter and
 * auth_ratelimit share (their entries, lists and policies differ):
 *   - keys are identified by a 128-bit keyed SipHash-2-4 digest under a
 *     random per-table key, so nobody can aim many keys at one bucket;
 *   - the shard count and each shard's fixed capacity for `max_keys`;
 *   - a bucket array (a power of two of uint32_t heads, all empty);
 *   - the table clock in whole seconds, injectable for tests.
 */
#ifndef AUTH_KEYTAB_H
#define AUTH_KEYTAB_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_KEYTAB_NIL UINT32_MAX /* an empty bucket or list link */

typedef struct {
    unsigned char sip[crypto_shorthash_siphashx24_KEYBYTES];
} auth_keytab_hash_t;

/* A fresh random key (libsodium: the kernel's CSPRNG). Call sodium_init first. */
void auth_keytab_seed(auth_keytab_hash_t *h);

/* The digest of `key` (1..max_len bytes); -1 when it is NULL, empty or longer. */
int auth_keytab_digest(const auth_keytab_hash_t *h, const char *key, size_t max_len, uint64_t d[2]);

/* Shards for `max_keys`: a power of two up to 16, each holding >= 1024 keys
 * when there are that many. */
uint32_t auth_keytab_shards(size_t max_keys);

/* The capacity of shard `k` of `nshards` (the remainder goes to the first ones). */
uint32_t auth_keytab_shard_cap(size_t max_keys, uint32_t nshards, uint32_t k);

/* A bucket array for `cap` entries, every head AUTH_KEYTAB_NIL; *mask is its
 * size - 1 and *bytes its size in bytes. NULL on OOM. */
uint32_t *auth_keytab_buckets_new(uint32_t cap, uint32_t *mask, size_t *bytes);

/* `clock(arg)`, or CLOCK_MONOTONIC seconds when clock is NULL, clamped to
 * [0, 2^62]. */
int64_t auth_keytab_now(int64_t (*clock)(void *), void *arg);

#endif
