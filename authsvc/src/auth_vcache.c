/*
 * auth_vcache: see auth_vcache.h. Sets of WAYS entries; a set belongs to
 * shard (set % nshards); an entry is empty when `used` is 0.
 */
#include "auth_vcache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WAYS       8
#define MAX_SHARDS 16
#define TAG_BYTES  crypto_generichash_BYTES /* 32 */

typedef struct {
    unsigned char tag[TAG_BYTES];
    auth_jwt_window_t win;
    uint64_t used; /* shard tick of the last use; 0: empty */
    auth_jwt_claims_t claims;
} entry_t;

typedef struct {
    pthread_mutex_t mu;
    uint64_t tick;
    size_t entries;
} shard_t;

struct auth_vcache {
    const auth_jwt_t *jwt;
    unsigned char key[crypto_generichash_KEYBYTES];
    size_t set_mask; /* sets - 1 (a power of two) */
    size_t capacity; /* sets * WAYS */
    uint32_t nshards;
    bool shards_ready;
    shard_t shards[MAX_SHARDS];
    entry_t *entries;
    atomic_uint_fast64_t hits, misses;
};

size_t auth_vcache_entry_bytes(void)
{
    return sizeof(entry_t);
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n && p < (SIZE_MAX >> 1))
        p <<= 1;
    return p;
}

auth_vcache_t *auth_vcache_new(const auth_jwt_t *jwt, size_t capacity)
{
    if (jwt == NULL || capacity == 0 || capacity > (SIZE_MAX / sizeof(entry_t)) / 2 ||
        sodium_init() < 0)
        return NULL;
    auth_vcache_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    size_t sets = pow2_at_least((capacity + WAYS - 1) / WAYS);
    self->jwt = jwt;
    self->set_mask = sets - 1;
    self->capacity = sets * WAYS;
    self->nshards = (uint32_t)(sets < MAX_SHARDS ? sets : MAX_SHARDS);
    self->entries = calloc(self->capacity, sizeof *self->entries);
    if (self->entries == NULL)
        goto fail;
    uint32_t k = 0;
    for (; k < self->nshards; k++)
        if (pthread_mutex_init(&self->shards[k].mu, NULL) != 0)
            break;
    if (k < self->nshards) {
        while (k-- > 0)
            pthread_mutex_destroy(&self->shards[k].mu);
        goto fail;
    }
    self->shards_ready = true;
    crypto_generichash_keygen(self->key);
    atomic_init(&self->hits, 0);
    atomic_init(&self->misses, 0);
    return self;
fail:
    auth_vcache_destroy(&self);
    return NULL;
}

void auth_vcache_destroy(auth_vcache_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    auth_vcache_t *self = *self_p;
    if (self->shards_ready)
        for (uint32_t k = 0; k < self->nshards; k++)
            pthread_mutex_destroy(&self->shards[k].mu);
    if (self->entries) {
        sodium_memzero(self->entries, self->capacity * sizeof *self->entries);
        free(self->entries);
    }
    sodium_memzero(self->key, sizeof self->key);
    free(self);
    *self_p = NULL;
}

static bool in_window(const auth_jwt_window_t *w, int64_t now)
{
    return now >= w->from && now < w->until;
}

static size_t set_of(const auth_vcache_t *self, const unsigned char *tag)
{
    uint64_t h;
    memcpy(&h, tag, sizeof h);
    return (size_t)h & self->set_mask;
}

/* Copies the claims of a live entry for `tag` into *out; true on a hit.
 * An entry found outside its window is dropped. Holds the set's shard. */
static bool lookup(auth_vcache_t *self, const unsigned char *tag, int64_t now,
                   auth_jwt_claims_t *out)
{
    size_t set = set_of(self, tag);
    shard_t *sh = &self->shards[set % self->nshards];
    entry_t *e = &self->entries[set * WAYS];
    bool hit = false;
    pthread_mutex_lock(&sh->mu);
    for (int w = 0; w < WAYS; w++, e++) {
        if (e->used == 0 || sodium_memcmp(e->tag, tag, TAG_BYTES) != 0)
            continue;
        if (in_window(&e->win, now)) {
            *out = e->claims;
            e->used = ++sh->tick;
            hit = true;
        } else {
            e->used = 0;
            sh->entries--;
        }
        break;
    }
    pthread_mutex_unlock(&sh->mu);
    return hit;
}

/* How much an entry is worth keeping: empty 0, outside its window 1, else
 * its last use (>= 2 once shifted). */
static uint64_t keep_rank(const entry_t *e, int64_t now)
{
    if (e->used == 0)
        return 0;
    return in_window(&e->win, now) ? e->used + 1 : 1;
}

/* Stores a verified token: into the way already holding it, else an empty
 * one, else one outside its window, else the least recently used. */
static void store(auth_vcache_t *self, const unsigned char *tag, int64_t now,
                  const auth_jwt_claims_t *claims, const auth_jwt_window_t *win)
{
    size_t set = set_of(self, tag);
    shard_t *sh = &self->shards[set % self->nshards];
    entry_t *ways = &self->entries[set * WAYS];
    pthread_mutex_lock(&sh->mu);
    entry_t *victim = &ways[0];
    for (int w = 0; w < WAYS; w++) {
        entry_t *e = &ways[w];
        if (e->used != 0 && sodium_memcmp(e->tag, tag, TAG_BYTES) == 0) {
            victim = e; /* a racing verification of the same token stored it */
            break;
        }
        if (keep_rank(e, now) < keep_rank(victim, now))
            victim = e;
    }
    if (victim->used == 0)
        sh->entries++;
    memcpy(victim->tag, tag, TAG_BYTES);
    victim->win = *win;
    victim->claims = *claims;
    victim->used = ++sh->tick;
    pthread_mutex_unlock(&sh->mu);
}

auth_jwt_status_t auth_vcache_verify(auth_vcache_t *self, const auth_jwt_t *jwt, const char *token,
                                     auth_jwt_claims_t *out)
{
    if (self == NULL || jwt != self->jwt || token == NULL)
        return auth_jwt_verify(jwt, token, out);
    size_t len = strnlen(token, AUTH_JWT_MAX_TOKEN + 1);
    int64_t now = auth_jwt_now(jwt);
    if (len == 0 || len > AUTH_JWT_MAX_TOKEN || now < 0)
        return auth_jwt_verify(jwt, token, out); /* refused (or a broken clock) there */

    unsigned char tag[TAG_BYTES];
    crypto_generichash(tag, sizeof tag, (const unsigned char *)token, len, self->key,
                       sizeof self->key);
    auth_jwt_claims_t scratch;
    auth_jwt_claims_t *dst = out ? out : &scratch;
    if (lookup(self, tag, now, dst)) {
        atomic_fetch_add_explicit(&self->hits, 1, memory_order_relaxed);
        return AUTH_JWT_OK;
    }
    atomic_fetch_add_explicit(&self->misses, 1, memory_order_relaxed);
    auth_jwt_window_t win;
    auth_jwt_status_t st = auth_jwt_verify_window(jwt, token, dst, &win);
    if (st == AUTH_JWT_OK && in_window(&win, now))
        store(self, tag, now, dst, &win);
    return st;
}

void auth_vcache_stats(auth_vcache_t *self, auth_vcache_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (self == NULL)
        return;
    out->hits = atomic_load_explicit(&self->hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&self->misses, memory_order_relaxed);
    out->capacity = self->capacity;
    for (uint32_t k = 0; k < self->nshards; k++) {
        pthread_mutex_lock(&self->shards[k].mu);
        out->entries += self->shards[k].entries;
        pthread_mutex_unlock(&self->shards[k].mu);
    }
}
