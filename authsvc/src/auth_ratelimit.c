/*
 * auth_ratelimit: two-bucket sliding-window request counters per key.
 *
 * The table is the same design as auth_limiter's: shards by key hash, each
 * with a mutex, a fixed array of entries, chained buckets of uint32_t
 * indices and one intrusive LRU list (most recently used at the head;
 * auth_limiter keeps two lists, so the lists stay per module). Digests,
 * sizing, buckets and the clock come from auth_keytab.
 *
 * All arithmetic is exact: with W = window_s and e = seconds into the
 * current window, the weighted count scaled by W is
 *     used = prev * (W - e) + cur * W
 * and a request is allowed when used + W <= limit * W. Every operand fits
 * easily in 64 bits (limit < 2^32, W <= 86400).
 */
#include "auth_ratelimit.h"
#include "auth_keytab.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define NIL         AUTH_KEYTAB_NIL
#define EVICT_SCAN  32 /* LRU entries examined for an idle victim */
#define SWEEP_STEPS 2  /* idle entries dropped per call, at most */

/* One tracked key: 48 bytes. */
typedef struct {
    uint64_t d0, d1;         /* the key's digest: its identity */
    int64_t win;             /* index of the current window: now / window_s */
    uint32_t cur, prev;      /* requests counted in window `win` and `win - 1` */
    uint32_t chain;          /* next entry in the bucket, or the free list */
    uint32_t prev_i, next_i; /* neighbours in the LRU list */
} entry_t;

typedef struct {
    pthread_mutex_t lock;
    entry_t *slots;
    uint32_t *buckets;
    uint32_t cap, mask, count, unused, free_head;
    uint32_t head, tail; /* LRU list: head is the most recently used */
} shard_t;

struct auth_ratelimit {
    auth_ratelimit_config_t cfg;
    auth_clock_fn clock;
    void *clock_arg;
    auth_keytab_hash_t hash;
    uint32_t nshards;
    shard_t *shards;
    size_t memory;
};

/* Where "now" falls: window index and seconds into that window. */
typedef struct {
    int64_t win;
    int64_t elapsed;
} slot_time_t;

/* ---- LRU list and buckets ---- */

AUTH_KEYTAB_SHARD_OPS(shard_t)
AUTH_KEYTAB_LIST_OPS(shard_t, prev_i, next_i)

static void lru_unlink(shard_t *s, uint32_t i)
{
    kt_list_unlink(s, &s->head, &s->tail, i);
}

static void lru_push_head(shard_t *s, uint32_t i)
{
    kt_list_push_head(s, &s->head, &s->tail, i);
}

/* Forgets entry `i` and puts it on the free list. */
static void release(shard_t *s, uint32_t i)
{
    kt_unchain(s, i);
    lru_unlink(s, i);
    kt_put_free(s, i);
    s->count--;
}

/* ---- counters ---- */

/* Brings the entry's two buckets forward to window `win`. */
static void roll(entry_t *e, int64_t win)
{
    if (e->win == win)
        return;
    e->prev = e->win == win - 1 ? e->cur : 0;
    e->cur = 0;
    e->win = win;
}

/* True when nothing counted for the entry still weighs at `win`. */
static bool is_idle(const entry_t *e, int64_t win)
{
    if (e->win >= win)
        return e->cur == 0 && e->prev == 0;
    return e->win < win - 1 || e->cur == 0;
}

/* Drops a few idle entries from the LRU tail. */
static void sweep(shard_t *s, int64_t win)
{
    for (int step = 0; step < SWEEP_STEPS && s->tail != NIL; step++) {
        if (!is_idle(&s->slots[s->tail], win))
            return;
        release(s, s->tail);
    }
}

/* An idle entry among the EVICT_SCAN least recently used, else the LRU. */
static uint32_t pick_victim(const shard_t *s, int64_t win)
{
    uint32_t i = s->tail;
    for (int n = 0; n < EVICT_SCAN && i != NIL; n++, i = s->slots[i].prev_i) {
        if (is_idle(&s->slots[i], win))
            return i;
    }
    return s->tail;
}

static uint32_t insert(shard_t *s, const uint64_t d[2], int64_t win)
{
    uint32_t i = kt_take_free(s);
    if (i == NIL) {
        release(s, pick_victim(s, win));
        i = kt_take_free(s);
    }
    entry_t *e = &s->slots[i];
    memset(e, 0, sizeof *e);
    e->d0 = d[0];
    e->d1 = d[1];
    e->win = win;
    lru_push_head(s, i);
    e->chain = s->buckets[d[0] & s->mask];
    s->buckets[d[0] & s->mask] = i;
    s->count++;
    return i;
}

/*
 * Seconds from now until a request would be allowed, given the rolled
 * counters and no further requests: the first second later in this window
 * where prev * (W - e') <= (limit - cur - 1) * W, else the first second of
 * the next window where cur * (W - e2) <= (limit - 1) * W, else the start
 * of the window after (both buckets then weigh nothing).
 */
static int64_t retry_after(uint64_t prev, uint64_t cur, uint64_t limit, int64_t w, int64_t el)
{
    if (cur + 1 <= limit && prev > 0) {
        uint64_t q = (limit - cur - 1) * (uint64_t)w / prev;
        int64_t e_min = q >= (uint64_t)w ? 0 : w - (int64_t)q;
        if (e_min <= el)
            e_min = el + 1;
        if (e_min < w)
            return e_min - el;
    }
    if (cur == 0)
        return w - el;
    uint64_t q2 = (limit - 1) * (uint64_t)w / cur;
    int64_t e2 = q2 >= (uint64_t)w ? 0 : w - (int64_t)q2;
    if (e2 < w)
        return w - el + e2;
    return 2 * w - el;
}

/* The decision under the shard lock; fills `*remaining` and `*retry`. */
static int decide(const auth_ratelimit_t *self, entry_t *e, uint64_t limit, slot_time_t t,
                  uint32_t *remaining, int64_t *retry)
{
    uint64_t w = (uint64_t)self->cfg.window_s;
    uint64_t used = (uint64_t)e->prev * (w - (uint64_t)t.elapsed) + (uint64_t)e->cur * w;

    if (used + w > limit * w) {
        *remaining = 0;
        *retry = retry_after(e->prev, e->cur, limit, self->cfg.window_s, t.elapsed);
        return AUTH_RATELIMIT_LIMITED;
    }
    e->cur++;
    used += w;
    *remaining = (uint32_t)((limit * w - used) / w);
    *retry = 0;
    return AUTH_RATELIMIT_ALLOWED;
}

/* ---- plumbing ---- */

static slot_time_t read_clock(const auth_ratelimit_t *self)
{
    int64_t now = auth_keytab_now(self->clock, self->clock_arg);
    return (slot_time_t){now / self->cfg.window_s, now % self->cfg.window_s};
}

static int digest(const auth_ratelimit_t *self, const char *key, uint64_t d[2])
{
    return auth_keytab_digest(&self->hash, key, AUTH_RATELIMIT_KEY_MAX, d);
}

int auth_ratelimit_check(auth_ratelimit_t *self, const char *key, uint32_t limit,
                         uint32_t *remaining, int *reset_s, int *retry_after_s)
{
    uint64_t d[2];
    uint32_t rem = 0;
    int64_t retry = 0, reset = 0;
    int rc = -1;

    if (self != NULL && digest(self, key, d) == 0) {
        rc = AUTH_RATELIMIT_ALLOWED;
        if (limit > 0) {
            slot_time_t t = read_clock(self);
            shard_t *s = &self->shards[d[1] & (self->nshards - 1)];
            pthread_mutex_lock(&s->lock);
            sweep(s, t.win);
            uint32_t i = kt_find(s, d);
            if (i == NIL)
                i = insert(s, d, t.win);
            roll(&s->slots[i], t.win);
            rc = decide(self, &s->slots[i], limit, t, &rem, &retry);
            if (s->head != i) {
                lru_unlink(s, i);
                lru_push_head(s, i);
            }
            pthread_mutex_unlock(&s->lock);
            reset = self->cfg.window_s - t.elapsed;
        }
    }
    if (remaining != NULL)
        *remaining = rem;
    if (reset_s != NULL)
        *reset_s = (int)reset;
    if (retry_after_s != NULL)
        *retry_after_s = (int)retry;
    return rc;
}

size_t auth_ratelimit_tracked_count(auth_ratelimit_t *self)
{
    size_t total = 0;
    for (uint32_t k = 0; self != NULL && k < self->nshards; k++) {
        pthread_mutex_lock(&self->shards[k].lock);
        total += self->shards[k].count;
        pthread_mutex_unlock(&self->shards[k].lock);
    }
    return total;
}

size_t auth_ratelimit_memory_bytes(const auth_ratelimit_t *self)
{
    return self != NULL ? self->memory : 0;
}

size_t auth_ratelimit_entry_bytes(void)
{
    return sizeof(entry_t);
}

void auth_ratelimit_config_defaults(auth_ratelimit_config_t *cfg)
{
    cfg->window_s = 60;
    cfg->max_keys = 100000;
}

/* ---- construction ---- */

static int shard_init(shard_t *s, uint32_t cap, size_t *memory)
{
    void *slots = NULL;
    if (auth_keytab_shard_alloc(cap, sizeof *s->slots, &slots, &s->buckets, &s->mask, &s->lock,
                                memory) != 0)
        return -1;
    s->slots = slots;
    s->cap = cap;
    s->free_head = NIL;
    s->head = s->tail = NIL;
    return 0;
}

auth_ratelimit_t *auth_ratelimit_new(const auth_ratelimit_config_t *cfg, auth_clock_fn clock,
                                     void *clock_arg)
{
    auth_ratelimit_t *self = NULL;

    if (cfg == NULL || cfg->window_s < 1 || cfg->window_s > AUTH_RATELIMIT_MAX_WINDOW ||
        cfg->max_keys < 1 || cfg->max_keys > AUTH_RATELIMIT_MAX_KEYS || sodium_init() < 0)
        return NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->cfg = *cfg;
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
    auth_ratelimit_destroy(&self);
    return NULL;
}

void auth_ratelimit_destroy(auth_ratelimit_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    auth_ratelimit_t *self = *self_p;
    for (uint32_t k = 0; self->shards != NULL && k < self->nshards; k++) {
        shard_t *s = &self->shards[k];
        auth_keytab_shard_free(s->slots, s->buckets, &s->lock);
    }
    free(self->shards);
    free(self);
    *self_p = NULL;
}
