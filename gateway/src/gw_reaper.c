/*
 * gw_reaper: a fixed table of connection slots with a free list, one mutex,
 * and a thread that sweeps the table every tick. The table is sized by the
 * connection limit, so a sweep is a bounded scan and nothing allocates per
 * connection.
 */
#include "gw_reaper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct gw_reaper_slot {
    int fd;               /* -1 when free */
    uint64_t deadline_ns; /* 0: none */
    bool reaped;
    gw_reaper_slot_t *next_free;
};

struct gw_reaper {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* wakes the thread early on destroy */
    pthread_t thread;
    bool started, stop;
    int tick_ms;
    gw_clock_fn clock;
    void *clock_arg;
    size_t capacity, used;
    gw_reaper_slot_t *slots;
    gw_reaper_slot_t *free_list;
};

static uint64_t mono_ns(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

gw_reaper_t *gw_reaper_new(size_t capacity, int tick_ms, gw_clock_fn clock, void *clock_arg)
{
    if (capacity == 0 || tick_ms <= 0)
        return NULL;
    gw_reaper_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc(capacity, sizeof *self->slots);
    if (!self->slots || pthread_mutex_init(&self->mu, NULL) != 0) {
        free(self->slots);
        free(self);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&self->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&self->mu);
        free(self->slots);
        free(self);
        return NULL;
    }
    self->capacity = capacity;
    self->tick_ms = tick_ms;
    self->clock = clock ? clock : mono_ns;
    self->clock_arg = clock_arg;
    for (size_t i = capacity; i-- > 0;) {
        self->slots[i].fd = -1;
        self->slots[i].next_free = self->free_list;
        self->free_list = &self->slots[i];
    }
    return self;
}

static void *reaper_main(void *arg)
{
    gw_reaper_t *self = arg;
    pthread_mutex_lock(&self->mu);
    while (!self->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(self->tick_ms % 1000) * 1000000;
        ts.tv_sec += self->tick_ms / 1000 + ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&self->cv, &self->mu, &ts);
        if (self->stop)
            break;
        pthread_mutex_unlock(&self->mu);
        gw_reaper_sweep(self, self->clock(self->clock_arg));
        pthread_mutex_lock(&self->mu);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

int gw_reaper_start(gw_reaper_t *self)
{
    if (!self || self->started)
        return -1;
    if (pthread_create(&self->thread, NULL, reaper_main, self) != 0)
        return -1;
    self->started = true;
    return 0;
}

void gw_reaper_destroy(gw_reaper_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_reaper_t *self = *self_p;
    if (self->started) {
        pthread_mutex_lock(&self->mu);
        self->stop = true;
        pthread_cond_signal(&self->cv);
        pthread_mutex_unlock(&self->mu);
        pthread_join(self->thread, NULL);
    }
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

gw_reaper_slot_t *gw_reaper_add(gw_reaper_t *self, int fd, uint64_t deadline_ns)
{
    if (!self || fd < 0)
        return NULL;
    pthread_mutex_lock(&self->mu);
    gw_reaper_slot_t *s = self->free_list;
    if (s) {
        self->free_list = s->next_free;
        s->next_free = NULL;
        s->fd = fd;
        s->deadline_ns = deadline_ns;
        s->reaped = false;
        self->used++;
    }
    pthread_mutex_unlock(&self->mu);
    return s;
}

void gw_reaper_arm(gw_reaper_t *self, gw_reaper_slot_t *slot, uint64_t deadline_ns)
{
    if (!self || !slot)
        return;
    pthread_mutex_lock(&self->mu);
    slot->deadline_ns = deadline_ns;
    slot->reaped = false;
    pthread_mutex_unlock(&self->mu);
}

bool gw_reaper_reaped(gw_reaper_t *self, const gw_reaper_slot_t *slot)
{
    if (!self || !slot)
        return false;
    pthread_mutex_lock(&self->mu);
    bool r = slot->reaped;
    pthread_mutex_unlock(&self->mu);
    return r;
}

void gw_reaper_remove(gw_reaper_t *self, gw_reaper_slot_t *slot)
{
    if (!self || !slot)
        return;
    pthread_mutex_lock(&self->mu);
    slot->fd = -1;
    slot->deadline_ns = 0;
    slot->next_free = self->free_list;
    self->free_list = slot;
    self->used--;
    pthread_mutex_unlock(&self->mu);
}

size_t gw_reaper_sweep(gw_reaper_t *self, uint64_t now_ns)
{
    size_t n = 0;
    if (!self)
        return 0;
    pthread_mutex_lock(&self->mu);
    for (size_t i = 0; i < self->capacity; i++) {
        gw_reaper_slot_t *s = &self->slots[i];
        if (s->fd < 0 || s->deadline_ns == 0 || now_ns < s->deadline_ns)
            continue;
        shutdown(s->fd, SHUT_RDWR); /* libmicrohttpd's thread sees EOF and cleans up */
        s->deadline_ns = 0;
        s->reaped = true;
        n++;
    }
    pthread_mutex_unlock(&self->mu);
    return n;
}

uint64_t gw_reaper_now(const gw_reaper_t *self)
{
    return self ? self->clock(self->clock_arg) : mono_ns(NULL);
}

size_t gw_reaper_count(gw_reaper_t *self)
{
    if (!self)
        return 0;
    pthread_mutex_lock(&self->mu);
    size_t n = self->used;
    pthread_mutex_unlock(&self->mu);
    return n;
}
