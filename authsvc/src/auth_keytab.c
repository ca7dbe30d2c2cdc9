/*
 * auth_keytab: the shared pieces of the limiters' key tables (see the header).
 */
#include "auth_keytab.h"
#include "rt_clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHARDS_MAX     16
#define SHARD_MIN_KEYS 1024 /* fewer keys per shard: use fewer shards */
#define TIME_MAX       (INT64_C(1) << 62)

void auth_keytab_seed(auth_keytab_hash_t *h)
{
    randombytes_buf(h->sip, sizeof h->sip);
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int auth_keytab_digest(const auth_keytab_hash_t *h, const char *key, size_t max_len, uint64_t d[2])
{
    if (key == NULL)
        return -1;
    size_t len = strnlen(key, max_len + 1);
    if (len == 0 || len > max_len)
        return -1;
    unsigned char out[crypto_shorthash_siphashx24_BYTES];
    crypto_shorthash_siphashx24(out, (const unsigned char *)key, len, h->sip);
    d[0] = load_le64(out);
    d[1] = load_le64(out + 8);
    return 0;
}

uint32_t auth_keytab_shards(size_t max_keys)
{
    uint32_t n = 1;
    while (n < SHARDS_MAX && max_keys / (n * 2) >= SHARD_MIN_KEYS)
        n *= 2;
    return n;
}

uint32_t auth_keytab_shard_cap(size_t max_keys, uint32_t nshards, uint32_t k)
{
    return (uint32_t)(max_keys / nshards + (k < max_keys % nshards ? 1 : 0));
}

uint32_t *auth_keytab_buckets_new(uint32_t cap, uint32_t *mask, size_t *bytes)
{
    uint32_t nb = 1;
    while (nb < cap)
        nb <<= 1;
    uint32_t *b = malloc((size_t)nb * sizeof *b);
    if (b == NULL)
        return NULL;
    memset(b, 0xff, (size_t)nb * sizeof *b); /* every head AUTH_KEYTAB_NIL */
    *mask = nb - 1;
    *bytes = (size_t)nb * sizeof *b;
    return b;
}

int64_t auth_keytab_now(int64_t (*clock)(void *), void *arg)
{
    int64_t now;
    if (clock != NULL) {
        now = clock(arg);
    } else {
        now = rt_clock_s();
    }
    return now < 0 ? 0 : now > TIME_MAX ? TIME_MAX : now;
}

int auth_keytab_shard_alloc(uint32_t cap, size_t entry_size, void **slots, uint32_t **buckets,
                            uint32_t *mask, pthread_mutex_t *lock, size_t *memory)
{
    size_t bucket_bytes = 0;
    *slots = calloc(cap, entry_size);
    *buckets = auth_keytab_buckets_new(cap, mask, &bucket_bytes);
    if (*slots == NULL || *buckets == NULL || pthread_mutex_init(lock, NULL) != 0) {
        free(*slots);
        free(*buckets);
        *slots = NULL;
        *buckets = NULL;
        return -1;
    }
    *memory += (size_t)cap * entry_size + bucket_bytes;
    return 0;
}

void auth_keytab_shard_free(void *slots, uint32_t *buckets, pthread_mutex_t *lock)
{
    if (slots != NULL)
        pthread_mutex_destroy(lock);
    free(slots);
    free(buckets);
}
