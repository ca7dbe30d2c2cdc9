/*
 * auth_limiter: per-source login limiter with in-flight reservations.
 *
 * Layout: the limiter is split into shards by key hash; each shard has a
 * mutex, a fixed array of entries (allocated once, max_keys in total), a
 * bucket array of chained indices, and two intrusive lists threaded through
 * the entries: "open" (unblocked sources, most recently used at the head)
 * and "blocked" (blocked sources in the order their blocks started, so the
 * tail is always the block that ends first: cooldown_s is the same for
 * all). Indices are uint32_t, NIL marks the end of a chain or list.
 *
 * A source is stored as the 128-bit SipHash-2-4 of its key under a random
 * per-limiter key: entries have a fixed size whatever the key length, and
 * an attacker choosing addresses can neither predict buckets nor shards
 * (no hash flooding) nor make two sources collide.
 *
 * State is expired lazily, with the clock read once per call: a window,
 * a block or a leaked in-flight slot that is over is cleared when its
 * entry is next touched, and every call also drops up to SWEEP_STEPS
 * entries at the tails of the lists that hold nothing any more.
 */
#include "auth_limiter.h"
#include "auth_keytab.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define NIL                      AUTH_KEYTAB_NIL
#define EVICT_SCAN               32 /* open-list entries examined for a victim */
#define SWEEP_STEPS              2  /* idle entries dropped per call, at most */
#define DEFAULT_INFLIGHT_TIMEOUT 60

enum { ON_FREE = 0, ON_OPEN, ON_BLOCKED };

/* One tracked source: 64 bytes. */
typedef struct {
    uint64_t d0, d1;       /* the key's digest: its identity */
    int64_t window_start;  /* when the first failure of the window was counted */
    int64_t blocked_until; /* while on the blocked list */
    int64_t inflight_at;   /* last begin() that reserved a slot */
    uint32_t chain;        /* next entry in the bucket, or the free list */
    uint32_t prev, next;   /* neighbours in the open or blocked list */
    uint16_t failures;     /* in the current window */
    uint16_t inflight;     /* slots reserved by begin(), not yet ended */
    uint8_t list;          /* ON_FREE, ON_OPEN or ON_BLOCKED */
} entry_t;

typedef struct {
    uint32_t head, tail, len;
} list_t;

typedef struct {
    pthread_mutex_t lock;
    entry_t *slots;
    uint32_t *buckets;
    uint32_t cap;       /* entries in slots */
    uint32_t mask;      /* bucket count - 1 (a power of two) */
    uint32_t count;     /* entries in use */
    uint32_t unused;    /* slots[unused..cap) have never been used */
    uint32_t free_head; /* released entries, chained through .chain */
    list_t open, blocked;
} shard_t;

struct auth_limiter {
    auth_limiter_config_t cfg;
    auth_clock_fn clock;
    void *clock_arg;
    auth_keytab_hash_t hash;
    uint32_t nshards;
    shard_t *shards;
    size_t memory;
};

_Static_assert(sizeof(entry_t) == 64, "an entry is one cache line");

/* Keys are hashed with libsodium's SipHash-2-4 (128-bit output) under a
 * random per-instance key, so nobody can aim many keys at one bucket. */

/* ---- lists and buckets ---- */

AUTH_KEYTAB_SHARD_OPS(shard_t)
AUTH_KEYTAB_LIST_OPS(shard_t, prev, next)

static void list_unlink(shard_t *s, list_t *l, uint32_t i)
{
    kt_list_unlink(s, &l->head, &l->tail, i);
    l->len--;
}

static void list_push_head(shard_t *s, list_t *l, uint32_t i)
{
    kt_list_push_head(s, &l->head, &l->tail, i);
    l->len++;
}

static list_t *list_of(shard_t *s, const entry_t *e)
{
    return e->list == ON_BLOCKED ? &s->blocked : &s->open;
}

/* Moves entry `i` to the head of the open list (most recently used). */
static void touch(shard_t *s, uint32_t i)
{
    if (s->slots[i].list != ON_OPEN || s->open.head == i)
        return;
    list_unlink(s, &s->open, i);
    list_push_head(s, &s->open, i);
}

/* Forgets entry `i` and puts it on the free list. */
static void release(shard_t *s, uint32_t i)
{
    entry_t *e = &s->slots[i];
    kt_unchain(s, i);
    list_unlink(s, list_of(s, e), i);
    e->list = ON_FREE;
    kt_put_free(s, i);
    s->count--;
}

/* ---- per-entry state ---- */

static bool failures_live(const auth_limiter_t *self, const entry_t *e, int64_t now)
{
    return e->failures > 0 && now - e->window_start < self->cfg.window_s;
}

static bool inflight_live(const auth_limiter_t *self, const entry_t *e, int64_t now)
{
    return e->inflight > 0 && now - e->inflight_at < self->cfg.inflight_timeout_s;
}

static bool block_live(const entry_t *e, int64_t now)
{
    return e->list == ON_BLOCKED && e->blocked_until > now;
}

/* True when the entry holds nothing worth keeping. */
static bool is_idle(const auth_limiter_t *self, const entry_t *e, int64_t now)
{
    return !block_live(e, now) && !failures_live(self, e, now) && !inflight_live(self, e, now);
}

/* Clears whatever has run out: a block, a window, leaked slots. */
static void refresh(const auth_limiter_t *self, shard_t *s, uint32_t i, int64_t now)
{
    entry_t *e = &s->slots[i];
    if (e->list == ON_BLOCKED && !block_live(e, now)) {
        list_unlink(s, &s->blocked, i);
        e->list = ON_OPEN;
        list_push_head(s, &s->open, i);
    }
    if (!failures_live(self, e, now))
        e->failures = 0;
    if (!inflight_live(self, e, now))
        e->inflight = 0;
}

/* Drops a few idle entries from the list tails: expired blocks first. */
static void sweep(const auth_limiter_t *self, shard_t *s, int64_t now)
{
    for (int step = 0; step < SWEEP_STEPS; step++) {
        uint32_t i = s->blocked.tail;
        if (i != NIL && !block_live(&s->slots[i], now)) {
            refresh(self, s, i, now);
        } else {
            i = s->open.tail;
            if (i == NIL || !is_idle(self, &s->slots[i], now))
                return;
        }
        if (is_idle(self, &s->slots[i], now))
            release(s, i);
    }
}

/* The entry a new source replaces in a full shard (see the header). */
static uint32_t pick_victim(const auth_limiter_t *self, shard_t *s, int64_t now)
{
    uint32_t i = s->blocked.tail, quiet = NIL;

    if (i != NIL && !block_live(&s->slots[i], now))
        return i;
    i = s->open.tail;
    for (int n = 0; n < EVICT_SCAN && i != NIL; n++, i = s->slots[i].prev) {
        if (is_idle(self, &s->slots[i], now))
            return i;
        if (quiet == NIL && !inflight_live(self, &s->slots[i], now))
            quiet = i;
    }
    if (quiet != NIL)
        return quiet;
    return s->open.tail != NIL ? s->open.tail : s->blocked.tail;
}

/* Adds a fresh entry for digest `d`, evicting one if the shard is full. */
static uint32_t insert(const auth_limiter_t *self, shard_t *s, const uint64_t d[2], int64_t now)
{
    uint32_t i = kt_take_free(s);
    if (i == NIL) {
        release(s, pick_victim(self, s, now));
        i = kt_take_free(s);
    }
    entry_t *e = &s->slots[i];
    memset(e, 0, sizeof *e);
    e->d0 = d[0];
    e->d1 = d[1];
    e->list = ON_OPEN;
    list_push_head(s, &s->open, i);
    e->chain = s->buckets[d[0] & s->mask];
    s->buckets[d[0] & s->mask] = i;
    s->count++;
    return i;
}

/* Counts one failure; returns true when it starts a block. */
static bool add_failure(const auth_limiter_t *self, shard_t *s, uint32_t i, int64_t now)
{
    entry_t *e = &s->slots[i];
    if (e->list == ON_BLOCKED)
        return false;
    if (e->failures == 0)
        e->window_start = now;
    if (++e->failures < self->cfg.max_failures)
        return false;
    e->failures = 0;
    e->blocked_until = now + self->cfg.cooldown_s;
    list_unlink(s, &s->open, i);
    e->list = ON_BLOCKED;
    list_push_head(s, &s->blocked, i);
    return true;
}

/* begin() under the shard lock. */
static int admit(const auth_limiter_t *self, shard_t *s, uint32_t i, int64_t now)
{
    entry_t *e = &s->slots[i];
    refresh(self, s, i, now);
    if (e->list == ON_BLOCKED)
        return AUTH_LIMITER_BLOCKED;
    touch(s, i);
    if (e->failures + e->inflight >= self->cfg.max_failures)
        return AUTH_LIMITER_BUSY;
    e->inflight++;
    e->inflight_at = now;
    return AUTH_LIMITER_ALLOWED;
}

/* end() under the shard lock; returns true when a block started. */
static bool settle(const auth_limiter_t *self, shard_t *s, uint32_t i,
                   auth_limiter_outcome_t outcome, int64_t now)
{
    entry_t *e = &s->slots[i];
    bool started = false;

    refresh(self, s, i, now);
    if (e->inflight > 0)
        e->inflight--;
    if (outcome == AUTH_LIMITER_SUCCESS)
        e->failures = 0;
    else if (outcome == AUTH_LIMITER_FAILURE)
        started = add_failure(self, s, i, now);
    if (is_idle(self, e, now))
        release(s, i);
    else
        touch(s, i);
    return started;
}

/* ---- plumbing ---- */

static int64_t read_clock(const auth_limiter_t *self)
{
    return auth_keytab_now(self->clock, self->clock_arg);
}

/* Digest of `key`, or -1 when the key is NULL, empty or too long. */
static int digest(const auth_limiter_t *self, const char *key, uint64_t d[2])
{
    return auth_keytab_digest(&self->hash, key, AUTH_LIMITER_KEY_MAX, d);
}

static shard_t *shard_for(const auth_limiter_t *self, const uint64_t d[2])
{
    return &self->shards[d[1] & (self->nshards - 1)];
}

int auth_limiter_begin(auth_limiter_t *self, const char *key, int *retry_after_s)
{
    uint64_t d[2];
    int rc = -1;

    if (self != NULL && digest(self, key, d) == 0) {
        int64_t now = read_clock(self);
        shard_t *s = shard_for(self, d);
        pthread_mutex_lock(&s->lock);
        sweep(self, s, now);
        uint32_t i = kt_find(s, d);
        rc = admit(self, s, i != NIL ? i : insert(self, s, d, now), now);
        pthread_mutex_unlock(&s->lock);
    }
    if (retry_after_s != NULL)
        *retry_after_s = rc == AUTH_LIMITER_ALLOWED ? 0 : self ? self->cfg.cooldown_s : 1;
    return rc;
}

int auth_limiter_end(auth_limiter_t *self, const char *key, auth_limiter_outcome_t outcome,
                     bool *block_started)
{
    uint64_t d[2];
    bool started = false;

    if (block_started != NULL)
        *block_started = false;
    if (self == NULL || (unsigned)outcome > AUTH_LIMITER_NEUTRAL || digest(self, key, d) != 0)
        return -1;
    int64_t now = read_clock(self);
    shard_t *s = shard_for(self, d);
    pthread_mutex_lock(&s->lock);
    sweep(self, s, now);
    uint32_t i = kt_find(s, d);
    if (i == NIL && outcome == AUTH_LIMITER_FAILURE)
        i = insert(self, s, d, now);
    if (i != NIL)
        started = settle(self, s, i, outcome, now);
    pthread_mutex_unlock(&s->lock);
    if (block_started != NULL)
        *block_started = started;
    return 0;
}

size_t auth_limiter_blocked_count(auth_limiter_t *self)
{
    size_t total = 0;
    if (self == NULL)
        return 0;
    int64_t now = read_clock(self);
    for (uint32_t k = 0; k < self->nshards; k++) {
        shard_t *s = &self->shards[k];
        pthread_mutex_lock(&s->lock);
        while (s->blocked.tail != NIL && !block_live(&s->slots[s->blocked.tail], now)) {
            uint32_t i = s->blocked.tail;
            refresh(self, s, i, now);
            if (is_idle(self, &s->slots[i], now))
                release(s, i);
        }
        total += s->blocked.len;
        pthread_mutex_unlock(&s->lock);
    }
    return total;
}

size_t auth_limiter_tracked_count(auth_limiter_t *self)
{
    size_t total = 0;
    for (uint32_t k = 0; self != NULL && k < self->nshards; k++) {
        pthread_mutex_lock(&self->shards[k].lock);
        total += self->shards[k].count;
        pthread_mutex_unlock(&self->shards[k].lock);
    }
    return total;
}

size_t auth_limiter_memory_bytes(const auth_limiter_t *self)
{
    return self != NULL ? self->memory : 0;
}

size_t auth_limiter_entry_bytes(void)
{
    return sizeof(entry_t);
}

void auth_limiter_config_defaults(auth_limiter_config_t *cfg)
{
    cfg->max_failures = 5;
    cfg->window_s = 300;
    cfg->cooldown_s = 900;
    cfg->max_keys = 100000;
    cfg->inflight_timeout_s = DEFAULT_INFLIGHT_TIMEOUT;
}

/* ---- construction ---- */

static bool seconds_ok(int s)
{
    return s >= 1 && s <= AUTH_LIMITER_MAX_SECONDS;
}

static bool config_ok(const auth_limiter_config_t *cfg)
{
    return cfg->max_failures >= 1 && cfg->max_failures <= AUTH_LIMITER_MAX_FAILURES_LIMIT &&
           seconds_ok(cfg->window_s) && seconds_ok(cfg->cooldown_s) &&
           (cfg->inflight_timeout_s == 0 || seconds_ok(cfg->inflight_timeout_s)) &&
           cfg->max_keys >= 1 && cfg->max_keys <= AUTH_LIMITER_MAX_KEYS;
}

static int shard_init(shard_t *s, uint32_t cap, size_t *memory)
{
    void *slots = NULL;
    if (auth_keytab_shard_alloc(cap, sizeof *s->slots, &slots, &s->buckets, &s->mask, &s->lock,
                                memory) != 0)
        return -1;
    s->slots = slots;
    s->cap = cap;
    s->free_head = NIL;
    s->open = (list_t){NIL, NIL, 0};
    s->blocked = (list_t){NIL, NIL, 0};
    return 0;
}

auth_limiter_t *auth_limiter_new(const auth_limiter_config_t *cfg, auth_clock_fn clock,
                                 void *clock_arg)
{
    auth_limiter_t *self = NULL;

    if (cfg == NULL || !config_ok(cfg) || sodium_init() < 0)
        return NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.inflight_timeout_s == 0)
        self->cfg.inflight_timeout_s = DEFAULT_INFLIGHT_TIMEOUT;
    self->clock = clock;
    self->clock_arg = clock_arg;
    auth_keytab_seed(&self->hash);
    self->nshards = auth_keytab_shards(cfg->max_keys);
    self->shards = calloc(self->nshards, sizeof *self->shards);
    if (self->shards == NULL)
        goto fail;
    self->memory = sizeof *self + self->nshards * sizeof *self->shards;
    for (uint32_t k = 0; k < self->nshards; k++) {
        uint32_t cap = auth_keytab_shard_cap(cfg->max_keys, self->nshards, k);
        if (shard_init(&self->shards[k], cap, &self->memory) != 0)
            goto fail;
    }
    return self;
fail:
    auth_limiter_destroy(&self);
    return NULL;
}

void auth_limiter_destroy(auth_limiter_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    auth_limiter_t *self = *self_p;
    for (uint32_t k = 0; self->shards != NULL && k < self->nshards; k++) {
        shard_t *s = &self->shards[k];
        auth_keytab_shard_free(s->slots, s->buckets, &s->lock);
    }
    free(self->shards);
    free(self);
    *self_p = NULL;
}
