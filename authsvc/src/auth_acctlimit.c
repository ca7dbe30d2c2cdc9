/*
 * auth_acctlimit: per-account delays with in-flight reservations (see the
 * header for the policy).
 *
 * Layout: shards by digest, each a mutex, a fixed array of entries, a
 * bucket array of chained indices (auth_keytab) and one intrusive LRU list
 * (most recently used at the head). State expires lazily when an entry is
 * touched; each call also drops up to SWEEP_STEPS idle entries from the
 * list's tail.
 */
#include "auth_acctlimit.h"
#include "auth_keytab.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NIL                      AUTH_KEYTAB_NIL
#define EVICT_SCAN               32
#define SWEEP_STEPS              2
#define DEFAULT_INFLIGHT_TIMEOUT 60

/* One tracked name: 72 bytes. */
typedef struct {
    uint64_t d0, d1;
    int64_t window_start; /* first failure counted in the window */
    int64_t last_failure;
    int64_t until;       /* while delayed: nothing admitted before this */
    int64_t inflight_at; /* last admission */
    uint32_t chain;      /* next in the bucket, or in the free list */
    uint32_t prev, next; /* LRU neighbours */
    uint16_t failures;
    uint16_t inflight;
    uint16_t delay; /* seconds; 0: not delayed */
    uint16_t used;
} entry_t;

typedef struct {
    pthread_mutex_t lock;
    entry_t *slots;
    uint32_t *buckets;
    uint32_t cap, mask, count, unused, free_head;
    uint32_t head, tail;
} shard_t;

struct auth_acctlimit {
    auth_acctlimit_config_t cfg;
    auth_clock_fn clock;
    void *clock_arg;
    auth_keytab_hash_t hash;
    uint32_t nshards;
    shard_t *shards;
    size_t memory;
};

/* ---- the LRU list and the buckets ---- */

AUTH_KEYTAB_SHARD_OPS(shard_t)
AUTH_KEYTAB_LIST_OPS(shard_t, prev, next)

static void unlink_lru(shard_t *s, uint32_t i)
{
    kt_list_unlink(s, &s->head, &s->tail, i);
}

static void push_head(shard_t *s, uint32_t i)
{
    kt_list_push_head(s, &s->head, &s->tail, i);
}

static void touch(shard_t *s, uint32_t i)
{
    if (s->head != i) {
        unlink_lru(s, i);
        push_head(s, i);
    }
}

static void release(shard_t *s, uint32_t i)
{
    kt_unchain(s, i);
    unlink_lru(s, i);
    s->slots[i].used = 0;
    kt_put_free(s, i);
    s->count--;
}

/* ---- per-entry state ---- */

static bool inflight_live(const auth_acctlimit_t *self, const entry_t *e, int64_t now)
{
    return e->inflight > 0 && now - e->inflight_at < self->cfg.inflight_timeout_s;
}

/* Clears what has run out: a leaked slot, a window, a delay. */
static void refresh(const auth_acctlimit_t *self, entry_t *e, int64_t now)
{
    if (!inflight_live(self, e, now))
        e->inflight = 0;
    if (e->delay > 0 ? now - e->last_failure >= self->cfg.window_s
                     : e->failures > 0 && now - e->window_start >= self->cfg.window_s) {
        e->failures = 0;
        e->delay = 0;
        e->until = 0;
    }
}

static bool is_idle(const auth_acctlimit_t *self, entry_t *e, int64_t now)
{
    refresh(self, e, now);
    return e->inflight == 0 && e->failures == 0 && e->delay == 0;
}

static void sweep(const auth_acctlimit_t *self, shard_t *s, int64_t now)
{
    for (int n = 0; n < SWEEP_STEPS && s->tail != NIL && is_idle(self, &s->slots[s->tail], now);
         n++)
        release(s, s->tail);
}

/* The entry a new name replaces in a full shard (see the header). */
static uint32_t pick_victim(const auth_acctlimit_t *self, shard_t *s, int64_t now)
{
    uint32_t quiet = NIL, i = s->tail;
    for (int n = 0; n < EVICT_SCAN && i != NIL; n++, i = s->slots[i].prev) {
        entry_t *e = &s->slots[i];
        if (is_idle(self, e, now))
            return i;
        if (quiet == NIL && e->delay == 0 && e->inflight == 0)
            quiet = i;
    }
    return quiet != NIL ? quiet : s->tail;
}

static uint32_t insert(const auth_acctlimit_t *self, shard_t *s, const uint64_t d[2], int64_t now)
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
    e->used = 1;
    e->chain = s->buckets[d[0] & s->mask];
    s->buckets[d[0] & s->mask] = i;
    push_head(s, i);
    s->count++;
    return i;
}

/* begin() under the lock. */
static int admit(const auth_acctlimit_t *self, entry_t *e, int64_t now, int *retry)
{
    refresh(self, e, now);
    if (e->delay > 0) {
        *retry = e->delay;
        if (now < e->until)
            return AUTH_ACCT_DELAYED;
        if (e->inflight > 0)
            return AUTH_ACCT_BUSY; /* one attempt at a time while delayed */
    } else if (e->failures + e->inflight >= self->cfg.max_failures) {
        *retry = 1;
        return AUTH_ACCT_BUSY;
    }
    *retry = 0;
    e->inflight++;
    e->inflight_at = now;
    return AUTH_ACCT_ALLOWED;
}

/* Counts a failure; true when it starts a delay. */
static bool add_failure(const auth_acctlimit_t *self, entry_t *e, int64_t now)
{
    if (e->failures == 0 && e->delay == 0)
        e->window_start = now;
    if (e->failures < UINT16_MAX)
        e->failures++;
    e->last_failure = now;
    bool started = e->delay == 0 && e->failures >= self->cfg.max_failures;
    if (started)
        e->delay = 1;
    else if (e->delay > 0)
        e->delay =
            (uint16_t)(e->delay * 2 > self->cfg.max_delay_s ? self->cfg.max_delay_s : e->delay * 2);
    if (e->delay > 0)
        e->until = now + e->delay;
    return started;
}

/* end() under the lock; true when a delay started. */
static bool settle(const auth_acctlimit_t *self, entry_t *e, auth_limiter_outcome_t outcome,
                   int64_t now)
{
    refresh(self, e, now);
    if (e->inflight > 0)
        e->inflight--;
    if (outcome == AUTH_LIMITER_SUCCESS) {
        e->failures = 0;
        e->delay = 0;
        e->until = 0;
    } else if (outcome == AUTH_LIMITER_FAILURE) {
        return add_failure(self, e, now);
    }
    return false;
}

/* ---- public ---- */

static shard_t *shard_for(const auth_acctlimit_t *self, const uint64_t d[2])
{
    return &self->shards[d[1] & (self->nshards - 1)];
}

int auth_acctlimit_begin(auth_acctlimit_t *self, const char *key, int *retry_after_s)
{
    uint64_t d[2];
    int rc = -1, retry = 1;
    if (self && auth_keytab_digest(&self->hash, key, AUTH_ACCT_KEY_MAX, d) == 0) {
        int64_t now = auth_keytab_now(self->clock, self->clock_arg);
        shard_t *s = shard_for(self, d);
        pthread_mutex_lock(&s->lock);
        sweep(self, s, now);
        uint32_t i = kt_find(s, d);
        if (i == NIL)
            i = insert(self, s, d, now);
        rc = admit(self, &s->slots[i], now, &retry);
        touch(s, i);
        pthread_mutex_unlock(&s->lock);
    }
    if (retry_after_s)
        *retry_after_s = rc == AUTH_ACCT_ALLOWED ? 0 : retry;
    return rc;
}

int auth_acctlimit_end(auth_acctlimit_t *self, const char *key, auth_limiter_outcome_t outcome,
                       bool *delay_started)
{
    uint64_t d[2];
    bool started = false;
    if (delay_started)
        *delay_started = false;
    if (!self || (unsigned)outcome > AUTH_LIMITER_NEUTRAL ||
        auth_keytab_digest(&self->hash, key, AUTH_ACCT_KEY_MAX, d) != 0)
        return -1;
    int64_t now = auth_keytab_now(self->clock, self->clock_arg);
    shard_t *s = shard_for(self, d);
    pthread_mutex_lock(&s->lock);
    sweep(self, s, now);
    uint32_t i = kt_find(s, d);
    if (i == NIL && outcome == AUTH_LIMITER_FAILURE)
        i = insert(self, s, d, now); /* pushed out meanwhile: the failure still counts */
    if (i != NIL) {
        started = settle(self, &s->slots[i], outcome, now);
        if (is_idle(self, &s->slots[i], now))
            release(s, i);
        else
            touch(s, i);
    }
    pthread_mutex_unlock(&s->lock);
    if (delay_started)
        *delay_started = started;
    return 0;
}

size_t auth_acctlimit_tracked_count(auth_acctlimit_t *self)
{
    size_t total = 0;
    for (uint32_t k = 0; self && k < self->nshards; k++) {
        pthread_mutex_lock(&self->shards[k].lock);
        total += self->shards[k].count;
        pthread_mutex_unlock(&self->shards[k].lock);
    }
    return total;
}

size_t auth_acctlimit_memory_bytes(const auth_acctlimit_t *self)
{
    return self ? self->memory : 0;
}

size_t auth_acctlimit_entry_bytes(void)
{
    return sizeof(entry_t);
}

void auth_acctlimit_config_defaults(auth_acctlimit_config_t *cfg)
{
    cfg->max_failures = 10;
    cfg->window_s = 300;
    cfg->max_delay_s = 60;
    cfg->max_keys = AUTH_ACCT_DEFAULT_KEYS;
    cfg->inflight_timeout_s = DEFAULT_INFLIGHT_TIMEOUT;
}

/* ---- construction ---- */

static bool config_ok(const auth_acctlimit_config_t *c)
{
    return c->max_failures >= 1 && c->max_failures <= AUTH_LIMITER_MAX_FAILURES_LIMIT &&
           c->window_s >= 1 && c->window_s <= AUTH_LIMITER_MAX_SECONDS && c->max_delay_s >= 1 &&
           c->max_delay_s <= AUTH_ACCT_MAX_DELAY && c->inflight_timeout_s >= 0 &&
           c->inflight_timeout_s <= AUTH_LIMITER_MAX_SECONDS && c->max_keys >= 1 &&
           c->max_keys <= AUTH_LIMITER_MAX_KEYS;
}

static int shard_init(shard_t *s, uint32_t cap, size_t *memory)
{
    void *slots = NULL;
    if (auth_keytab_shard_alloc(cap, sizeof *s->slots, &slots, &s->buckets, &s->mask, &s->lock,
                                memory) != 0)
        return -1;
    s->slots = slots;
    s->cap = cap;
    s->free_head = s->head = s->tail = NIL;
    return 0;
}

auth_acctlimit_t *auth_acctlimit_new(const auth_acctlimit_config_t *cfg, auth_clock_fn clock,
                                     void *clock_arg)
{
    if (!cfg || !config_ok(cfg) || sodium_init() < 0)
        return NULL;
    auth_acctlimit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.inflight_timeout_s == 0)
        self->cfg.inflight_timeout_s = DEFAULT_INFLIGHT_TIMEOUT;
    self->clock = clock;
    self->clock_arg = clock_arg;
    auth_keytab_seed(&self->hash);
    self->nshards = auth_keytab_shards(cfg->max_keys);
    self->shards = calloc(self->nshards, sizeof *self->shards);
    if (!self->shards)
        goto fail;
    self->memory = sizeof *self + self->nshards * sizeof *self->shards;
    for (uint32_t k = 0; k < self->nshards; k++) {
        if (shard_init(&self->shards[k], auth_keytab_shard_cap(cfg->max_keys, self->nshards, k),
                       &self->memory) != 0)
            goto fail;
    }
    return self;
fail:
    auth_acctlimit_destroy(&self);
    return NULL;
}

void auth_acctlimit_destroy(auth_acctlimit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_acctlimit_t *self = *self_p;
    for (uint32_t k = 0; self->shards && k < self->nshards; k++) {
        auth_keytab_shard_free(self->shards[k].slots, self->shards[k].buckets,
                               &self->shards[k].lock);
    }
    free(self->shards);
    free(self);
    *self_p = NULL;
}
