/*
 * auth_cache: fixed-size set-associative table of user admission state.
 *
 * Layout: one array of `capacity` slots, cut into nsets = capacity / 8
 * consecutive sets (at least one) whose sizes differ by at most one, so
 * every set has 8 to 15 ways and the slots add up to capacity exactly. An
 * id picks its set by a keyed 64-bit SipHash (libsodium crypto_shorthash);
 * set i belongs to shard i % nshards, and a shard's mutex guards its sets,
 * its LRU tick, its entry count and its invalidation generation.
 *
 * A slot is free when id_len is 0. Lookups compare the hash first and the
 * id bytes after, so a collision of hashes cannot return another user's
 * entry. Staleness is checked lazily, with the clock read once per call
 * before locking: a stale entry found by get is dropped, and a put prefers
 * a free way, then a stale way, then the least recently used one.
 */
#include "auth_cache.h"
#include "rt_clock.h"

#include "rt_uuid.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAYS       8 /* minimum ways per set (at most 2 * WAYS - 1) */
#define SHARDS_MAX 16
#define CACHE_LINE 64
#define TIME_MAX   (INT64_C(1) << 62)

/* One cached user: 288 bytes. */
typedef struct {
    uint64_t hash; /* keyed hash of the id */
    uint64_t used; /* shard tick at the last put or hit: LRU order */
    int64_t stored_at;
    int64_t valid_after_ms;
    int32_t role;
    uint8_t id_len; /* 0: free */
    bool is_active;
    uint8_t nrevoked;
    char id[AUTH_CACHE_ID_MAX]; /* id_len bytes, not NUL-terminated */
    char username[AUTH_CACHE_USERNAME_MAX + 1];
    unsigned char revoked[AUTH_CACHE_REVOKED_MAX][AUTH_CACHE_SID_BYTES];
} slot_t;

typedef struct {
    pthread_mutex_t lock;
    uint64_t tick;       /* LRU clock of this shard */
    uint64_t generation; /* bumped by every invalidate */
    size_t count;        /* slots in use in this shard's sets */
} shard_t;

/* Padded so that two shards never share a cache line. */
typedef union {
    shard_t s;
    char pad[(sizeof(shard_t) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE];
} shard_slot_t;

struct auth_cache {
    auth_clock_fn clock;
    void *clock_arg;
    int64_t ttl_s;
    size_t nsets;
    size_t set_base; /* every set has set_base ways ... */
    size_t set_rem;  /* ... and the first set_rem sets one more */
    size_t nshards;
    unsigned char key[crypto_shorthash_KEYBYTES];
    shard_slot_t *shards;
    slot_t *slots;
    atomic_uint_fast64_t hits, misses; /* auth_cache_get: fresh entry found or not */
};

/* Where an id lives. */
typedef struct {
    uint64_t hash;
    size_t len;
    slot_t *first; /* its set: first .. first + ways - 1 */
    size_t ways;
    shard_t *shard;
} loc_t;

_Static_assert(sizeof(slot_t) == 288, "a slot is 4.5 cache lines");
_Static_assert(AUTH_CACHE_ID_MAX <= UINT8_MAX, "id_len fits in a byte");
_Static_assert(AUTH_CACHE_SID_BYTES == RT_UUID_BYTES, "a session id is a UUID");

static int64_t read_clock(const auth_cache_t *self)
{
    int64_t now;
    if (self->clock != NULL) {
        now = self->clock(self->clock_arg);
    } else {
        now = rt_clock_s();
    }
    return now < 0 ? 0 : now > TIME_MAX ? TIME_MAX : now;
}

/* Finds the set and shard of `id`; -1 for a NULL, empty or too long id. */
static int locate(const auth_cache_t *self, const char *id, loc_t *loc)
{
    unsigned char h[crypto_shorthash_BYTES];

    if (id == NULL)
        return -1;
    loc->len = strnlen(id, AUTH_CACHE_ID_MAX + 1);
    if (loc->len == 0 || loc->len > AUTH_CACHE_ID_MAX)
        return -1;
    crypto_shorthash(h, (const unsigned char *)id, loc->len, self->key);
    memcpy(&loc->hash, h, sizeof loc->hash);

    size_t set = (size_t)(loc->hash % self->nsets);
    size_t extra = set < self->set_rem ? set : self->set_rem;
    loc->first = &self->slots[set * self->set_base + extra];
    loc->ways = self->set_base + (set < self->set_rem ? 1 : 0);
    loc->shard = &self->shards[set % self->nshards].s;
    return 0;
}

static slot_t *find(const loc_t *loc, const char *id)
{
    for (size_t i = 0; i < loc->ways; i++) {
        slot_t *s = &loc->first[i];
        if (s->id_len == loc->len && s->hash == loc->hash && memcmp(s->id, id, loc->len) == 0)
            return s;
    }
    return NULL;
}

static bool is_fresh(const auth_cache_t *self, const slot_t *s, int64_t now)
{
    int64_t age = now - s->stored_at;
    return age >= 0 && age < self->ttl_s;
}

static void drop(shard_t *sh, slot_t *s)
{
    memset(s, 0, sizeof *s);
    sh->count--;
}

/* The way a new id takes: a free one, else a stale one, else the LRU. */
static slot_t *victim(const auth_cache_t *self, const loc_t *loc, int64_t now)
{
    slot_t *lru = &loc->first[0], *stale = NULL;
    for (size_t i = 0; i < loc->ways; i++) {
        slot_t *s = &loc->first[i];
        if (s->id_len == 0)
            return s;
        if (stale == NULL && !is_fresh(self, s, now))
            stale = s;
        if (s->used < lru->used)
            lru = s;
    }
    return stale != NULL ? stale : lru;
}

static bool value_ok(const auth_cache_user_t *v)
{
    return v != NULL && memchr(v->username, '\0', sizeof v->username) != NULL &&
           v->role > PROTO_ROLE_INVALID && v->role < PROTO_ROLE_COUNT &&
           v->nrevoked <= AUTH_CACHE_REVOKED_MAX;
}

/* Stores `v` for the id at `loc`; the shard lock is held. */
static void store_locked(const auth_cache_t *self, const loc_t *loc, const char *id,
                         const auth_cache_user_t *v, int64_t now)
{
    shard_t *sh = loc->shard;
    slot_t *s = find(loc, id);

    if (s == NULL) {
        s = victim(self, loc, now);
        if (s->id_len == 0)
            sh->count++;
        s->hash = loc->hash;
        s->id_len = (uint8_t)loc->len;
        memcpy(s->id, id, loc->len);
    }
    memcpy(s->username, v->username, sizeof s->username);
    s->role = (int32_t)v->role;
    s->is_active = v->is_active;
    s->valid_after_ms = v->valid_after_ms;
    s->nrevoked = v->nrevoked;
    memcpy(s->revoked, v->revoked, sizeof s->revoked);
    s->stored_at = now;
    s->used = ++sh->tick;
}

/* put and put_if_current; `generation` NULL means unconditional. */
static int put_common(auth_cache_t *self, const char *id, const auth_cache_user_t *value,
                      const uint64_t *generation)
{
    loc_t loc;
    int rc = 0;

    if (self == NULL || !value_ok(value) || locate(self, id, &loc) != 0)
        return -1;
    int64_t now = read_clock(self);
    pthread_mutex_lock(&loc.shard->lock);
    if (generation != NULL && *generation != loc.shard->generation)
        rc = 1;
    else
        store_locked(self, &loc, id, value, now);
    pthread_mutex_unlock(&loc.shard->lock);
    return rc;
}

auth_cache_t *auth_cache_new(size_t capacity, int ttl_s, auth_clock_fn clock, void *clock_arg)
{
    auth_cache_t *self = NULL;

    if (capacity < 1 || capacity > AUTH_CACHE_MAX_CAPACITY || ttl_s < 1 ||
        ttl_s > AUTH_CACHE_MAX_TTL || sodium_init() < 0)
        return NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
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

    void *mem = NULL;
    if (posix_memalign(&mem, CACHE_LINE, self->nshards * sizeof *self->shards) != 0)
        goto fail;
    self->shards = mem;
    memset(self->shards, 0, self->nshards * sizeof *self->shards);
    for (size_t i = 0; i < self->nshards; i++) {
        if (pthread_mutex_init(&self->shards[i].s.lock, NULL) != 0) {
            self->nshards = i; /* destroy only the ones made */
            goto fail;
        }
    }
    self->slots = calloc(capacity, sizeof *self->slots);
    if (self->slots == NULL)
        goto fail;
    return self;
fail:
    auth_cache_destroy(&self);
    return NULL;
}

void auth_cache_destroy(auth_cache_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    auth_cache_t *self = *self_p;
    if (self->shards != NULL) {
        for (size_t i = 0; i < self->nshards; i++)
            pthread_mutex_destroy(&self->shards[i].s.lock);
    }
    free(self->shards);
    free(self->slots);
    sodium_memzero(self->key, sizeof self->key);
    free(self);
    *self_p = NULL;
}

int auth_cache_get(auth_cache_t *self, const char *id, auth_cache_user_t *out)
{
    loc_t loc;
    int rc = -1;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (self == NULL || out == NULL)
        return -1;
    if (locate(self, id, &loc) != 0) {
        atomic_fetch_add_explicit(&self->misses, 1, memory_order_relaxed);
        return -1;
    }
    int64_t now = read_clock(self);
    pthread_mutex_lock(&loc.shard->lock);
    slot_t *s = find(&loc, id);
    if (s != NULL && is_fresh(self, s, now)) {
        memcpy(out->username, s->username, sizeof out->username);
        out->role = (proto_role_t)s->role;
        out->is_active = s->is_active;
        out->valid_after_ms = s->valid_after_ms;
        out->nrevoked = s->nrevoked;
        memcpy(out->revoked, s->revoked, sizeof out->revoked);
        out->stored_at_s = s->stored_at;
        s->used = ++loc.shard->tick;
        rc = 0;
    } else if (s != NULL) {
        drop(loc.shard, s);
    }
    pthread_mutex_unlock(&loc.shard->lock);
    atomic_fetch_add_explicit(rc == 0 ? &self->hits : &self->misses, 1, memory_order_relaxed);
    return rc;
}

void auth_cache_lookups(auth_cache_t *self, uint64_t *hits, uint64_t *misses)
{
    *hits = self ? atomic_load_explicit(&self->hits, memory_order_relaxed) : 0;
    *misses = self ? atomic_load_explicit(&self->misses, memory_order_relaxed) : 0;
}

int auth_cache_put(auth_cache_t *self, const char *id, const auth_cache_user_t *value)
{
    return put_common(self, id, value, NULL);
}

uint64_t auth_cache_generation(auth_cache_t *self, const char *id)
{
    loc_t loc;

    if (self == NULL || locate(self, id, &loc) != 0)
        return 0;
    pthread_mutex_lock(&loc.shard->lock);
    uint64_t g = loc.shard->generation;
    pthread_mutex_unlock(&loc.shard->lock);
    return g;
}

int auth_cache_put_if_current(auth_cache_t *self, const char *id, const auth_cache_user_t *value,
                              uint64_t generation)
{
    return put_common(self, id, value, &generation);
}

int auth_cache_invalidate(auth_cache_t *self, const char *id)
{
    loc_t loc;

    if (self == NULL || locate(self, id, &loc) != 0)
        return -1;
    pthread_mutex_lock(&loc.shard->lock);
    slot_t *s = find(&loc, id);
    if (s != NULL)
        drop(loc.shard, s);
    loc.shard->generation++;
    pthread_mutex_unlock(&loc.shard->lock);
    return 0;
}

size_t auth_cache_count(auth_cache_t *self)
{
    size_t n = 0;

    if (self == NULL)
        return 0;
    for (size_t i = 0; i < self->nshards; i++) {
        shard_t *sh = &self->shards[i].s;
        pthread_mutex_lock(&sh->lock);
        n += sh->count;
        pthread_mutex_unlock(&sh->lock);
    }
    return n;
}

size_t auth_cache_entry_bytes(void)
{
    return sizeof(slot_t);
}

bool auth_cache_session_revoked(const auth_cache_user_t *u, const char *sid)
{
    unsigned char b[RT_UUID_BYTES];
    if (u == NULL || rt_uuid_parse(sid, b) != 0)
        return false;
    for (size_t i = 0; i < u->nrevoked && i < AUTH_CACHE_REVOKED_MAX; i++) {
        if (memcmp(u->revoked[i], b, sizeof b) == 0)
            return true;
    }
    return false;
}
