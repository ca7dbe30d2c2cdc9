/*
 * auth_keycache: a set-associative table of API-key rows (see the header).
 * Layout as auth_cache: nsets = capacity / 8 sets of 8..15 ways, set i in
 * shard i % nshards. A slot is free when its key id is empty.
 */
#include "auth_keycache.h"

#include "auth_keytab.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define WAYS       8
#define SHARDS_MAX 16

typedef struct {
    char key_id[AUTH_APIKEY_ID_BUF]; /* "" when free */
    int64_t stored_at;
    uint64_t used; /* LRU tick */
    auth_keycache_key_t v;
} slot_t;

typedef struct {
    pthread_mutex_t lock;
    uint64_t tick, generation;
    size_t count;
} shard_t;

struct auth_keycache {
    auth_clock_fn clock;
    void *clock_arg;
    int64_t ttl_s;
    size_t nsets, set_base, set_rem, nshards;
    unsigned char key[crypto_shorthash_KEYBYTES];
    shard_t *shards;
    slot_t *slots;
    atomic_uint_fast64_t hits, misses; /* auth_keycache_get: fresh entry found or not */
};

typedef struct {
    slot_t *first;
    size_t ways;
    shard_t *shard;
} loc_t;

static bool id_ok(const char *key_id)
{
    return key_id && strnlen(key_id, AUTH_APIKEY_ID_LEN + 1) == AUTH_APIKEY_ID_LEN;
}

static int locate(const auth_keycache_t *self, const char *key_id, loc_t *loc)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    if (!self || !id_ok(key_id))
        return -1;
    crypto_shorthash(h, (const unsigned char *)key_id, AUTH_APIKEY_ID_LEN, self->key);
    memcpy(&v, h, sizeof v);
    size_t set = (size_t)(v % self->nsets);
    size_t extra = set < self->set_rem ? set : self->set_rem;
    loc->first = &self->slots[set * self->set_base + extra];
    loc->ways = self->set_base + (set < self->set_rem ? 1 : 0);
    loc->shard = &self->shards[set % self->nshards];
    return 0;
}

static slot_t *find(const loc_t *loc, const char *key_id)
{
    for (size_t i = 0; i < loc->ways; i++) {
        if (memcmp(loc->first[i].key_id, key_id, AUTH_APIKEY_ID_BUF) == 0)
            return &loc->first[i];
    }
    return NULL;
}

static bool fresh(const auth_keycache_t *self, const slot_t *s, int64_t now)
{
    return now - s->stored_at >= 0 && now - s->stored_at < self->ttl_s;
}

static void drop(shard_t *sh, slot_t *s)
{
    sodium_memzero(s, sizeof *s);
    sh->count--;
}

static slot_t *victim(const auth_keycache_t *self, const loc_t *loc, int64_t now)
{
    slot_t *lru = &loc->first[0];
    for (size_t i = 0; i < loc->ways; i++) {
        slot_t *s = &loc->first[i];
        if (!s->key_id[0] || !fresh(self, s, now))
            return s;
        if (s->used < lru->used)
            lru = s;
    }
    return lru;
}

auth_keycache_t *auth_keycache_new(size_t capacity, int ttl_s, auth_clock_fn clock, void *clock_arg)
{
    if (capacity < 1 || capacity > AUTH_KEYCACHE_MAX_CAPACITY || ttl_s < 1 ||
        ttl_s > AUTH_KEYCACHE_MAX_TTL || sodium_init() < 0)
        return NULL;
    auth_keycache_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->clock = clock;
    self->clock_arg = clock_arg;
    atomic_init(&self->hits, 0);
    atomic_init(&self->misses, 0);
    self->ttl_s = ttl_s;
    self->nsets = capacity / WAYS > 0 ? capacity / WAYS : 1;
    self->set_base = capacity / self->nsets;
    self->set_rem = capacity % self->nsets;
    self->nshards = self->nsets < SHARDS_MAX ? self->nsets : SHARDS_MAX;
    crypto_shorthash_keygen(self->key);
    self->shards = calloc(self->nshards, sizeof *self->shards);
    self->slots = calloc(capacity, sizeof *self->slots);
    if (!self->shards || !self->slots) {
        self->nshards = 0;
        auth_keycache_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < self->nshards; i++) {
        if (pthread_mutex_init(&self->shards[i].lock, NULL) != 0) {
            self->nshards = i;
            auth_keycache_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void auth_keycache_destroy(auth_keycache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_keycache_t *self = *self_p;
    for (size_t i = 0; self->shards && i < self->nshards; i++)
        pthread_mutex_destroy(&self->shards[i].lock);
    free(self->shards);
    free(self->slots);
    sodium_memzero(self->key, sizeof self->key);
    free(self);
    *self_p = NULL;
}

int auth_keycache_get(auth_keycache_t *self, const char *key_id, auth_keycache_key_t *out)
{
    loc_t loc;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (locate(self, key_id, &loc) != 0) {
        if (self)
            atomic_fetch_add_explicit(&self->misses, 1, memory_order_relaxed);
        return -1;
    }
    int64_t now = auth_keytab_now(self->clock, self->clock_arg);
    pthread_mutex_lock(&loc.shard->lock);
    slot_t *s = find(&loc, key_id);
    if (s && fresh(self, s, now)) {
        *out = s->v;
        s->used = ++loc.shard->tick;
        rc = 0;
    } else if (s) {
        drop(loc.shard, s);
    }
    pthread_mutex_unlock(&loc.shard->lock);
    atomic_fetch_add_explicit(rc == 0 ? &self->hits : &self->misses, 1, memory_order_relaxed);
    return rc;
}

void auth_keycache_lookups(auth_keycache_t *self, uint64_t *hits, uint64_t *misses)
{
    *hits = self ? atomic_load_explicit(&self->hits, memory_order_relaxed) : 0;
    *misses = self ? atomic_load_explicit(&self->misses, memory_order_relaxed) : 0;
}

uint64_t auth_keycache_generation(auth_keycache_t *self, const char *key_id)
{
    loc_t loc;
    if (locate(self, key_id, &loc) != 0)
        return 0;
    pthread_mutex_lock(&loc.shard->lock);
    uint64_t g = loc.shard->generation;
    pthread_mutex_unlock(&loc.shard->lock);
    return g;
}

int auth_keycache_put_if_current(auth_keycache_t *self, const char *key_id,
                                 const auth_keycache_key_t *v, uint64_t generation)
{
    loc_t loc;
    int rc = 0;
    if (!v || locate(self, key_id, &loc) != 0)
        return -1;
    int64_t now = auth_keytab_now(self->clock, self->clock_arg);
    pthread_mutex_lock(&loc.shard->lock);
    if (generation != loc.shard->generation) {
        rc = 1;
    } else {
        slot_t *s = find(&loc, key_id);
        if (!s) {
            s = victim(self, &loc, now);
            if (!s->key_id[0])
                loc.shard->count++;
            memcpy(s->key_id, key_id, AUTH_APIKEY_ID_BUF);
        }
        s->v = *v;
        s->stored_at = now;
        s->used = ++loc.shard->tick;
    }
    pthread_mutex_unlock(&loc.shard->lock);
    return rc;
}

int auth_keycache_invalidate(auth_keycache_t *self, const char *key_id)
{
    loc_t loc;
    if (locate(self, key_id, &loc) != 0)
        return -1;
    pthread_mutex_lock(&loc.shard->lock);
    slot_t *s = find(&loc, key_id);
    if (s)
        drop(loc.shard, s);
    loc.shard->generation++;
    pthread_mutex_unlock(&loc.shard->lock);
    return 0;
}

void auth_keycache_mark_used(auth_keycache_t *self, const char *key_id, int64_t at_ms)
{
    loc_t loc;
    if (locate(self, key_id, &loc) != 0)
        return;
    pthread_mutex_lock(&loc.shard->lock);
    slot_t *s = find(&loc, key_id);
    if (s && s->v.last_used_ms < at_ms)
        s->v.last_used_ms = at_ms;
    pthread_mutex_unlock(&loc.shard->lock);
}

size_t auth_keycache_count(auth_keycache_t *self)
{
    size_t n = 0;
    for (size_t i = 0; self && i < self->nshards; i++) {
        pthread_mutex_lock(&self->shards[i].lock);
        n += self->shards[i].count;
        pthread_mutex_unlock(&self->shards[i].lock);
    }
    return n;
}
