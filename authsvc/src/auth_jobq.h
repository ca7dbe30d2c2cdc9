/*
 * auth_jobq: a bounded queue of small jobs and the one worker thread that
 * runs them, so work that must not be timed by a client (a password-reset
 * request: look the account up, store a token, send the mail) happens off
 * the request. Pushing never blocks beyond a short mutex: a full queue
 * refuses the job at once (the caller drops it and says so), so a flood
 * of requests cannot hold a request thread or grow memory.
 *
 * A job is a request id and one short argument string, copied in; the
 * worker wipes each job's copy after running it (arguments may be
 * addresses). On stop the worker finishes the job it is running and the
 * ones queued while the grace period lasts; what is left is dropped.
 *
 * Timing: a job runs no earlier than `delay_ms` after it was queued, and
 * the worker runs at a lower CPU priority (`nice`). Both keep the work a
 * request caused from showing in the timing of that request or the next
 * one: the worker's CPU use lands on whatever requests come later, of
 * either kind, and yields to them.
 */
#ifndef AUTH_JOBQ_H
#define AUTH_JOBQ_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_JOBQ_RID_MAX  64
#define AUTH_JOBQ_ARG_MAX  255
#define AUTH_JOBQ_MAX_SIZE 65536

typedef struct {
    char rid[AUTH_JOBQ_RID_MAX + 1];
    char arg[AUTH_JOBQ_ARG_MAX + 1];
} auth_job_t;

/* Runs one job on the worker thread; `arg` is the pointer given at _new. */
typedef void (*auth_job_fn)(void *arg, const auth_job_t *job);

typedef struct auth_jobq auth_jobq_t;

#define AUTH_JOBQ_MAX_DELAY_MS 60000

typedef struct {
    size_t capacity; /* jobs waiting at most, 1..AUTH_JOBQ_MAX_SIZE */
    int delay_ms;    /* a job runs no earlier than this after its push, 0..AUTH_JOBQ_MAX_DELAY_MS */
    int nice;        /* niceness of the worker thread (0: as the process) */
} auth_jobq_config_t;

/* A queue as `cfg` says, its jobs run by `fn`. No thread yet. NULL on bad
 * arguments or no memory. */
auth_jobq_t *auth_jobq_new(const auth_jobq_config_t *cfg, auth_job_fn fn, void *arg);

/* Starts the worker. 0, or -1. */
int auth_jobq_start(auth_jobq_t *self);

/* Queues a job (`rid` may be NULL; `arg` at most AUTH_JOBQ_ARG_MAX bytes).
 * 0 queued; -1 refused: the queue is full or stopped, or `arg` too long. */
int auth_jobq_push(auth_jobq_t *self, const char *rid, const char *arg);

/* Jobs refused by push since _new. */
uint64_t auth_jobq_dropped(auth_jobq_t *self);

/* Jobs waiting now (not counting the one running). */
size_t auth_jobq_pending(auth_jobq_t *self);

/* Stops taking jobs; the worker runs what is queued for at most
 * `grace_ms`, then drops the rest and exits. Idempotent. */
void auth_jobq_stop(auth_jobq_t *self, int grace_ms);

/* Stops (no grace) and frees. Safe on NULL. */
void auth_jobq_destroy(auth_jobq_t **self_p);

#endif
