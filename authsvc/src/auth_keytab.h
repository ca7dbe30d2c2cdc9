/*
 * auth_keytab: what the sharded key tables of auth_limiter and
 * auth_ratelimit share (their entries, lists and policies differ):
 *   - keys are identified by a 128-bit keyed SipHash-2-4 digest under a
 *     random per-table key, so nobody can aim many keys at one bucket;
 *   - the shard count and each shard's fixed capacity for `max_keys`;
 *   - a bucket array (a power of two of uint32_t heads, all empty);
 *   - the table clock in whole seconds, injectable for tests;
 *   - a shard's storage (entries, buckets, lock) and its release;
 *   - the operations on a shard's buckets, free list and index-linked lists,
 *     written once as macros over the table's own shard and entry types
 *     (AUTH_KEYTAB_SHARD_OPS, AUTH_KEYTAB_LIST_OPS), so each table keeps
 *     typed fields and its own policies.
 */
#ifndef AUTH_KEYTAB_H
#define AUTH_KEYTAB_H

#include <pthread.h>
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

/* A shard's storage: `cap` zeroed entries of `entry_size` bytes, a bucket
 * array for them (*mask, see auth_keytab_buckets_new) and its lock; adds the
 * bytes to *memory. 0, or -1 with nothing left allocated. */
int auth_keytab_shard_alloc(uint32_t cap, size_t entry_size, void **slots, uint32_t **buckets,
                            uint32_t *mask, pthread_mutex_t *lock, size_t *memory);

/* Releases what auth_keytab_shard_alloc gave (slots NULL: nothing was). */
void auth_keytab_shard_free(void *slots, uint32_t *buckets, pthread_mutex_t *lock);

/* For a shard type S with fields `slots` (its entries: d0, d1, chain),
 * `buckets`, `mask`, `cap`, `unused` and `free_head`:
 *   kt_find(s, d)      the entry of digest d, or AUTH_KEYTAB_NIL
 *   kt_unchain(s, i)   takes entry i out of its bucket
 *   kt_link(s, i)      puts entry i (d0, d1 set) into its bucket
 *   kt_take_free(s)    a released or never-used entry, or AUTH_KEYTAB_NIL
 *   kt_put_free(s, i)  entry i onto the free list (after kt_unchain) */
#define AUTH_KEYTAB_SHARD_OPS(S)                                                                   \
    static inline uint32_t kt_find(const S *s, const uint64_t d[2])                                \
    {                                                                                              \
        for (uint32_t i = s->buckets[d[0] & s->mask]; i != AUTH_KEYTAB_NIL;                        \
             i = s->slots[i].chain) {                                                              \
            if (s->slots[i].d0 == d[0] && s->slots[i].d1 == d[1])                                  \
                return i;                                                                          \
        }                                                                                          \
        return AUTH_KEYTAB_NIL;                                                                    \
    }                                                                                              \
    static inline void kt_unchain(S *s, uint32_t i)                                                \
    {                                                                                              \
        uint32_t *link = &s->buckets[s->slots[i].d0 & s->mask];                                    \
        while (*link != i)                                                                         \
            link = &s->slots[*link].chain;                                                         \
        *link = s->slots[i].chain;                                                                 \
    }                                                                                              \
    static inline uint32_t kt_take_free(S *s)                                                      \
    {                                                                                              \
        uint32_t i = s->free_head;                                                                 \
        if (i != AUTH_KEYTAB_NIL) {                                                                \
            s->free_head = s->slots[i].chain;                                                      \
            return i;                                                                              \
        }                                                                                          \
        return s->unused < s->cap ? s->unused++ : AUTH_KEYTAB_NIL;                                 \
    }                                                                                              \
    static inline void kt_put_free(S *s, uint32_t i)                                               \
    {                                                                                              \
        s->slots[i].chain = s->free_head;                                                          \
        s->free_head = i;                                                                          \
    }

/* Index-linked lists of a shard S's entries through their PREV and NEXT
 * fields, given as the list's head and tail words:
 *   kt_list_unlink(s, &head, &tail, i), kt_list_push_head(s, &head, &tail, i) */
#define AUTH_KEYTAB_LIST_OPS(S, PREV, NEXT)                                                        \
    static inline void kt_list_unlink(S *s, uint32_t *head, uint32_t *tail, uint32_t i)            \
    {                                                                                              \
        uint32_t p = s->slots[i].PREV, n = s->slots[i].NEXT;                                       \
        if (p != AUTH_KEYTAB_NIL)                                                                  \
            s->slots[p].NEXT = n;                                                                  \
        else                                                                                       \
            *head = n;                                                                             \
        if (n != AUTH_KEYTAB_NIL)                                                                  \
            s->slots[n].PREV = p;                                                                  \
        else                                                                                       \
            *tail = p;                                                                             \
    }                                                                                              \
    static inline void kt_list_push_head(S *s, uint32_t *head, uint32_t *tail, uint32_t i)         \
    {                                                                                              \
        s->slots[i].PREV = AUTH_KEYTAB_NIL;                                                        \
        s->slots[i].NEXT = *head;                                                                  \
        if (*head != AUTH_KEYTAB_NIL)                                                              \
            s->slots[*head].PREV = i;                                                              \
        else                                                                                       \
            *tail = i;                                                                             \
        *head = i;                                                                                 \
    }

#endif
