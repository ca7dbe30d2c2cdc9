/*
 * gw_slow: the gateway's bounded pool for slow requests (docs/ARCHITECTURE.md,
 * "Threads": slow work never blocks fast work).
 *
 * Routes flagged slow call Argon2-backed ops that take 50-500 ms. Running
 * them on the event loops would let a login flood hold every HTTP
 * thread, so gw_http parks such a request and submits a job here; a
 * pool thread runs it (the blocking RPC) and hands it back to its loop. The
 * pool has a fixed number of threads and a bounded queue: a job that finds
 * every thread busy and the queue full is refused at once, and the caller
 * answers 503.
 *
 * Every accepted job ends in exactly one of its two callbacks: `run` on a
 * pool thread, or `cancel` when the pool stops before a thread took it
 * (on the thread calling gw_slow_stop), or when a job waited longer than
 * max_wait_ms for a thread (on that thread: under overload, answering 503
 * beats running a login whose client has long given up). gw_http relies
 * on that to answer every parked request before its loops stop.
 */
#ifndef GW_SLOW_H
#define GW_SLOW_H

#include <stddef.h>

typedef struct gw_slow gw_slow_t;

typedef void (*gw_slow_fn)(void *arg);

/* Why a job was not run. */
typedef enum {
    GW_SLOW_STOPPING, /* the pool is stopping */
    GW_SLOW_EXPIRED,  /* it waited longer than max_wait_ms for a thread */
} gw_slow_why_t;

typedef void (*gw_slow_cancel_fn)(void *arg, gw_slow_why_t why);

/* `workers` >= 1 threads, at most `queue_max` >= 0 jobs waiting for one,
 * each for at most `max_wait_ms` (0: no limit). NULL on bad arguments or
 * OOM. */
gw_slow_t *gw_slow_new(int workers, int queue_max, long max_wait_ms);

/* Starts the threads. Returns 0, or -1 (no thread left running). */
int gw_slow_start(gw_slow_t *self);

/* Hands a job over. Returns 0 when accepted (then exactly one of run(arg)
 * or cancel(arg) will be called), or -1 when the pool is stopping, not
 * started, or busy (every thread taken and queue_max jobs waiting); then
 * neither is called. Thread-safe. */
int gw_slow_submit(gw_slow_t *self, gw_slow_fn run, gw_slow_cancel_fn cancel, void *arg);

/* Stops taking jobs, calls cancel() for each job still waiting, lets the
 * running ones finish and joins the threads. Idempotent; NULL-safe. */
void gw_slow_stop(gw_slow_t *self);

/* Jobs accepted and not finished (waiting + running). */
size_t gw_slow_pending(gw_slow_t *self);

/* Stops (see gw_slow_stop) and frees. NULL-safe; sets *self_p to NULL. */
void gw_slow_destroy(gw_slow_t **self_p);

#endif
