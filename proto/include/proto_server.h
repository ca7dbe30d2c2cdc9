/*
 * proto_server: the RPC server. Worker threads share one ROUTER socket bound
 * on the public endpoint (leader/followers under a mutex, no proxy thread:
 * see proto_server.c) and count requests in flight. A worker decodes a frame,
 * dispatches by op through the service's handler table and sends the reply
 * itself; a frame that does not decode gets a bad_request reply, an op
 * without a handler bad_request too. Handlers never see undecoded input.
 *
 * Shutdown (proto_server_stop): no new requests are read, queued slow
 * requests are answered `unavailable`, the requests in flight get until the
 * grace period ends, then the workers are joined.
 */
#ifndef PROTO_SERVER_H
#define PROTO_SERVER_H

#include "proto_codec.h"

#include <stdbool.h>

typedef struct {
    void *svc;        /* the service context given in the config */
    void *worker;     /* what worker_init returned for this thread (may be NULL) */
    int worker_index; /* 0 .. workers-1 */
} proto_call_ctx_t;

/* A handler packs exactly one map (the reply body) into `body` and returns
 * PROTO_OK, or returns an error code (optionally filling `fail`); on error
 * anything packed into `body` is discarded. */
typedef proto_err_t (*proto_handler_fn)(const proto_call_ctx_t *cc, const proto_request_t *req,
                                        msgpack_packer *body, proto_fail_t *fail);

typedef struct {
    proto_op_t op;
    proto_handler_fn fn;
} proto_handler_t;

/* What became of one frame, told to the observer (proto_server_config_t). */
typedef enum {
    PROTO_CALL_ANSWERED, /* a worker decoded it (or failed to) and answered */
    PROTO_CALL_REFUSED,  /* answered `unavailable` without running (see proto_refusal_t) */
    PROTO_CALL_DROPPED,  /* not a request envelope: dropped, never answered */
} proto_call_kind_t;

typedef enum {
    PROTO_REFUSAL_NONE,     /* not refused */
    PROTO_REFUSAL_BUSY,     /* slow lane full (slow_queue) */
    PROTO_REFUSAL_EXPIRED,  /* waited longer than slow_max_wait_ms */
    PROTO_REFUSAL_SHUTDOWN, /* queued when the server stopped */
    PROTO_REFUSAL__COUNT
} proto_refusal_t;

typedef struct {
    proto_call_kind_t kind;
    proto_refusal_t refusal;
    proto_op_t op;     /* the catalogue op; PROTO_OP__COUNT when the frame names none */
    proto_err_t err;   /* PROTO_OK, or the code answered */
    bool decoded;      /* the frame decoded as a valid request */
    const char *rid;   /* the request id when it decoded, else ""; borrowed for the call */
    double seconds;    /* ANSWERED: decode to encoded reply; else 0 */
    double queued_s;   /* slow lane: time spent in the queue (ANSWERED, EXPIRED); else 0 */
    proto_lane_t lane; /* the lane it was routed to */
} proto_call_event_t;

/* Called once per frame read from the frontend, on the thread that handled
 * it (possibly under the server's mutex for REFUSED and DROPPED): keep it
 * short and lock-free. */
typedef void (*proto_observe_fn)(void *arg, const proto_call_event_t *ev);

typedef struct {
    const char *bind; /* e.g. "tcp://127.0.0.1:7001"; "tcp://127.0.0.1:*" picks a port */
    int workers;      /* REP worker threads, >= 1 */
    const proto_handler_t *handlers;
    size_t nhandlers;
    void *svc;
    /* Optional per-worker state (e.g. one PostgreSQL connection per worker).
     * worker_init runs in the worker thread before it takes requests. */
    void *(*worker_init)(void *svc, int index);
    void (*worker_fini)(void *svc, void *worker);
    proto_limits_t limits;
    /* Optional slow lane: with slow_workers > 0, ops of PROTO_LANE_SLOW run
     * only on these extra workers (indices workers .. workers+slow_workers-1)
     * and never wait behind fast ops, nor fast ops behind them. While every
     * slow worker is busy up to slow_queue slow requests wait in a queue;
     * beyond that they are answered `unavailable` at once. slow_nice > 0
     * lowers the CPU priority of the slow workers (setpriority, Linux
     * per-thread), so fast work preempts hashing. */
    int slow_workers;
    int slow_queue;
    int slow_nice;
    /* A queued slow request that waited longer than this (ms; 0: no limit)
     * is answered `unavailable` instead of being run: its caller has most
     * likely timed out, and hashing for nobody only delays the others. */
    int slow_max_wait_ms;
    /* Optional: told about every frame (metrics, the per-request log line);
     * the server does not know what it does with them. */
    proto_observe_fn observe;
    void *observe_arg;
} proto_server_config_t;

typedef struct proto_server proto_server_t;

/* `zctx` is borrowed. The config is copied (the handler table must outlive the server). */
proto_server_t *proto_server_new(void *zctx, const proto_server_config_t *cfg);

/* Binds and starts the workers. Returns 0, or -1 (e.g. address in use). */
int proto_server_start(proto_server_t *self);

/* The endpoint actually bound (with the real port when '*' was asked), borrowed. */
const char *proto_server_endpoint(const proto_server_t *self);

/* Requests currently being handled. */
int proto_server_in_flight(proto_server_t *self);

/* Slow requests waiting in the queue for a slow worker (takes the
 * server's mutex: for metrics rendering, not the request path). */
int proto_server_queued(proto_server_t *self);

/* Stops taking requests, lets in-flight ones finish within grace_ms, joins. Idempotent. */
void proto_server_stop(proto_server_t *self, int grace_ms);

void proto_server_destroy(proto_server_t **self_p);

#endif
