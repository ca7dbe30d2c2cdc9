/*
 * auth_jobq: a ring of fixed-size jobs under one mutex and a condition
 * variable; the worker takes one job at a time and runs it unlocked.
 */
#include "auth_jobq.h"
#include "rt_clock.h"

#include <pthread.h>
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    auth_job_t job;
    struct timespec not_before; /* CLOCK_MONOTONIC */
} slot_t;

struct auth_jobq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot_t *ring;
    int delay_ms, nice;
    size_t cap, head, count;
    uint64_t dropped;
    bool stopping, started;
    struct timespec deadline; /* while stopping: run queued jobs until then */
    auth_job_fn fn;
    void *arg;
    pthread_t thread;
};

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

auth_jobq_t *auth_jobq_new(const auth_jobq_config_t *cfg, auth_job_fn fn, void *arg)
{
    pthread_condattr_t ca;
    if (!cfg || cfg->capacity < 1 || cfg->capacity > AUTH_JOBQ_MAX_SIZE || !fn ||
        cfg->delay_ms < 0 || cfg->delay_ms > AUTH_JOBQ_MAX_DELAY_MS)
        return NULL;
    size_t capacity = cfg->capacity;
    auth_jobq_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ring = calloc(capacity, sizeof *self->ring);
    if (!self->ring || pthread_mutex_init(&self->mu, NULL) != 0) {
        free(self->ring);
        free(self);
        return NULL;
    }
    /* Timed waits on the monotonic clock, as every deadline here is. */
    int cond_rc = pthread_condattr_init(&ca);
    if (cond_rc == 0) {
        (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        cond_rc = pthread_cond_init(&self->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (cond_rc != 0) {
        pthread_mutex_destroy(&self->mu);
        free(self->ring);
        free(self);
        return NULL;
    }
    self->cap = capacity;
    self->delay_ms = cfg->delay_ms;
    self->nice = cfg->nice;
    self->fn = fn;
    self->arg = arg;
    return self;
}

static bool past(const struct timespec *t)
{
    struct timespec now = rt_clock_in(0);
    return !before(&now, t);
}

/* Waits (the lock held) until the head job's time has come; false when
 * the worker should exit instead (stopping, and nothing more may run). */
static bool wait_for_head(auth_jobq_t *self)
{
    for (;;) {
        while (self->count == 0 && !self->stopping)
            pthread_cond_wait(&self->cv, &self->mu);
        if (self->count == 0 || (self->stopping && past(&self->deadline)))
            return false;
        struct timespec due = self->ring[self->head].not_before;
        if (self->stopping && before(&self->deadline, &due))
            due = self->deadline;
        if (past(&due))
            return !(self->stopping && past(&self->deadline));
        pthread_cond_timedwait(&self->cv, &self->mu, &due);
    }
}

static void *worker(void *p)
{
    auth_jobq_t *self = p;
    auth_job_t job;
    /* Below the request threads (Linux: nice is per thread). */
    if (self->nice > 0)
        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), self->nice);
    pthread_mutex_lock(&self->mu);
    for (;;) {
        if (!wait_for_head(self))
            break;
        job = self->ring[self->head].job;
        sodium_memzero(&self->ring[self->head], sizeof self->ring[self->head]);
        self->head = (self->head + 1) % self->cap;
        self->count--;
        pthread_mutex_unlock(&self->mu);
        self->fn(self->arg, &job);
        sodium_memzero(&job, sizeof job);
        pthread_mutex_lock(&self->mu);
    }
    self->dropped += self->count; /* what the grace period left */
    sodium_memzero(self->ring, self->cap * sizeof *self->ring);
    self->count = 0;
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

int auth_jobq_start(auth_jobq_t *self)
{
    if (!self || self->started)
        return -1;
    if (pthread_create(&self->thread, NULL, worker, self) != 0)
        return -1;
    self->started = true;
    return 0;
}

int auth_jobq_push(auth_jobq_t *self, const char *rid, const char *arg)
{
    if (!self || !arg || strnlen(arg, AUTH_JOBQ_ARG_MAX + 1) > AUTH_JOBQ_ARG_MAX)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&self->mu);
    if (!self->stopping && self->count < self->cap) {
        slot_t *slot = &self->ring[(self->head + self->count) % self->cap];
        auth_job_t *j = &slot->job;
        memset(slot, 0, sizeof *slot);
        slot->not_before = rt_clock_in(self->delay_ms);
        snprintf(j->rid, sizeof j->rid, "%s", rid ? rid : "");
        snprintf(j->arg, sizeof j->arg, "%s", arg);
        self->count++;
        rc = 0;
        pthread_cond_signal(&self->cv);
    } else {
        self->dropped++;
    }
    pthread_mutex_unlock(&self->mu);
    return rc;
}

uint64_t auth_jobq_dropped(auth_jobq_t *self)
{
    if (!self)
        return 0;
    pthread_mutex_lock(&self->mu);
    uint64_t n = self->dropped;
    pthread_mutex_unlock(&self->mu);
    return n;
}

size_t auth_jobq_pending(auth_jobq_t *self)
{
    if (!self)
        return 0;
    pthread_mutex_lock(&self->mu);
    size_t n = self->count;
    pthread_mutex_unlock(&self->mu);
    return n;
}

void auth_jobq_stop(auth_jobq_t *self, int grace_ms)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    if (!self->stopping) {
        self->stopping = true;
        self->deadline = rt_clock_in(grace_ms);
    }
    pthread_cond_broadcast(&self->cv);
    bool join = self->started;
    self->started = false;
    pthread_mutex_unlock(&self->mu);
    if (join)
        pthread_join(self->thread, NULL);
}

void auth_jobq_destroy(auth_jobq_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_jobq_t *self = *self_p;
    auth_jobq_stop(self, 0);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    sodium_memzero(self->ring, self->cap * sizeof *self->ring);
    free(self->ring);
    free(self);
    *self_p = NULL;
}
