/*
 * auth_jobq: a ring of fixed-size jobs under one mutex and a condition
 * variable; the worker takes one job at a time and runs it unlocked.
 */
#include "auth_jobq.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct auth_jobq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    auth_job_t *ring;
    size_t cap, head, count;
    uint64_t dropped;
    bool stopping, started;
    struct timespec deadline; /* while stopping: run queued jobs until then */
    auth_job_fn fn;
    void *arg;
    pthread_t thread;
};

auth_jobq_t *auth_jobq_new(size_t capacity, auth_job_fn fn, void *arg)
{
    if (capacity < 1 || capacity > AUTH_JOBQ_MAX_SIZE || !fn)
        return NULL;
    auth_jobq_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ring = calloc(capacity, sizeof *self->ring);
    if (!self->ring || pthread_mutex_init(&self->mu, NULL) != 0) {
        free(self->ring);
        free(self);
        return NULL;
    }
    if (pthread_cond_init(&self->cv, NULL) != 0) {
        pthread_mutex_destroy(&self->mu);
        free(self->ring);
        free(self);
        return NULL;
    }
    self->cap = capacity;
    self->fn = fn;
    self->arg = arg;
    return self;
}

static bool past(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *worker(void *p)
{
    auth_jobq_t *self = p;
    auth_job_t job;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (self->count == 0 && !self->stopping)
            pthread_cond_wait(&self->cv, &self->mu);
        if (self->count == 0 || (self->stopping && past(&self->deadline)))
            break;
        job = self->ring[self->head];
        sodium_memzero(&self->ring[self->head], sizeof job);
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
        auth_job_t *j = &self->ring[(self->head + self->count) % self->cap];
        memset(j, 0, sizeof *j);
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
        clock_gettime(CLOCK_MONOTONIC, &self->deadline);
        long ms = grace_ms > 0 ? grace_ms : 0;
        self->deadline.tv_sec += ms / 1000;
        self->deadline.tv_nsec += (ms % 1000) * 1000000L;
        if (self->deadline.tv_nsec >= 1000000000L) {
            self->deadline.tv_sec++;
            self->deadline.tv_nsec -= 1000000000L;
        }
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
