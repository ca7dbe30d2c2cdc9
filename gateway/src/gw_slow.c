/*
 * gw_slow: a ring of waiting jobs, one mutex, one condition variable.
 *
 * Admission: a job is taken while the jobs waiting for a thread, minus the
 * threads idle right now (each will take one), stay within queue_max. So
 * with queue_max 0 a job is accepted only when a thread is free for it, and
 * the ring never holds more than queue_max + workers jobs.
 */
#include "gw_slow.h"
#include "rt_clock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    gw_slow_fn run;
    gw_slow_cancel_fn cancel;
    void *arg;
    uint64_t queued_ms; /* monotonic time of submission */
} job_t;

struct gw_slow {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *threads;
    int workers, started;
    int queue_max;
    uint64_t max_wait_ms; /* 0: no limit */
    job_t *ring;          /* capacity cap = queue_max + workers */
    size_t cap, head, len;
    int idle;    /* threads waiting for a job */
    int running; /* jobs in run() right now */
    bool stopping;
};

gw_slow_t *gw_slow_new(int workers, int queue_max, long max_wait_ms)
{
    if (workers < 1 || queue_max < 0 || max_wait_ms < 0)
        return NULL;
    gw_slow_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->workers = workers;
    self->max_wait_ms = (uint64_t)max_wait_ms;
    self->queue_max = queue_max;
    self->cap = (size_t)queue_max + (size_t)workers;
    self->threads = calloc((size_t)workers, sizeof *self->threads);
    self->ring = calloc(self->cap, sizeof *self->ring);
    if (!self->threads || !self->ring || pthread_mutex_init(&self->mu, NULL) != 0) {
        free(self->threads);
        free(self->ring);
        free(self);
        return NULL;
    }
    if (pthread_cond_init(&self->cv, NULL) != 0) {
        pthread_mutex_destroy(&self->mu);
        free(self->threads);
        free(self->ring);
        free(self);
        return NULL;
    }
    return self;
}

/* Takes the oldest waiting job; the lock is held. */
static job_t pop(gw_slow_t *self)
{
    job_t j = self->ring[self->head];
    self->head = (self->head + 1) % self->cap;
    self->len--;
    return j;
}

static void *worker_main(void *arg)
{
    gw_slow_t *self = arg;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (self->len == 0 && !self->stopping) {
            self->idle++;
            pthread_cond_wait(&self->cv, &self->mu);
            self->idle--;
        }
        if (self->stopping)
            break; /* what is still waiting is cancelled by gw_slow_stop */
        job_t j = pop(self);
        self->running++;
        pthread_mutex_unlock(&self->mu);
        if (self->max_wait_ms && (uint64_t)rt_clock_ms() - j.queued_ms > self->max_wait_ms)
            j.cancel(j.arg, GW_SLOW_EXPIRED);
        else
            j.run(j.arg);
        pthread_mutex_lock(&self->mu);
        self->running--;
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

int gw_slow_start(gw_slow_t *self)
{
    if (!self || self->started)
        return -1;
    for (int i = 0; i < self->workers; i++) {
        if (pthread_create(&self->threads[i], NULL, worker_main, self) != 0) {
            gw_slow_stop(self); /* joins the ones that did start */
            return -1;
        }
        pthread_mutex_lock(&self->mu);
        self->started++;
        pthread_mutex_unlock(&self->mu);
    }
    return 0;
}

int gw_slow_submit(gw_slow_t *self, gw_slow_fn run, gw_slow_cancel_fn cancel, void *arg)
{
    if (!self || !run || !cancel)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&self->mu);
    bool room = self->len < (size_t)self->queue_max + (size_t)self->idle;
    if (self->started > 0 && !self->stopping && room) {
        self->ring[(self->head + self->len) % self->cap] =
            (job_t){run, cancel, arg, (uint64_t)rt_clock_ms()};
        self->len++;
        pthread_cond_signal(&self->cv);
        rc = 0;
    }
    pthread_mutex_unlock(&self->mu);
    return rc;
}

void gw_slow_stop(gw_slow_t *self)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    bool first = !self->stopping;
    self->stopping = true;
    pthread_cond_broadcast(&self->cv);
    /* No thread takes a job once stopping is set: the rest is cancelled
     * here, outside the lock (a cancel callback may take its own locks). */
    while (self->len > 0) {
        job_t j = pop(self);
        pthread_mutex_unlock(&self->mu);
        j.cancel(j.arg, GW_SLOW_STOPPING);
        pthread_mutex_lock(&self->mu);
    }
    int started = self->started;
    pthread_mutex_unlock(&self->mu);
    if (!first)
        return;
    for (int i = 0; i < started; i++)
        pthread_join(self->threads[i], NULL);
}

size_t gw_slow_pending(gw_slow_t *self)
{
    if (!self)
        return 0;
    pthread_mutex_lock(&self->mu);
    size_t n = self->len + (size_t)self->running;
    pthread_mutex_unlock(&self->mu);
    return n;
}

void gw_slow_destroy(gw_slow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_slow_t *self = *self_p;
    gw_slow_stop(self);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    free(self->threads);
    free(self->ring);
    free(self);
    *self_p = NULL;
}
