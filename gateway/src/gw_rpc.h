/*
 * gw_rpc: backend calls that do not block the gateway's event loops.
 *
 * Each loop thread owns one gw_rpc_t: a DEALER socket per backend service
 * (proto_dealer_new) and the list of calls in flight. A handler running on
 * a coroutine of that thread (gw_coro) calls gw_rpc_call as it would call
 * proto_pool_call; the request goes out tagged on the DEALER, the coroutine
 * yields, and the loop resumes it when the reply with its tag arrives or
 * its deadline passes. Everything else (a handler on a slow-pool thread, a
 * health helper thread, a loop whose coroutines ran out) gets the blocking
 * proto_pool_call, with the same answers.
 *
 * The failure policy is proto_client's, with one deadline per call that
 * nothing extends: no peer took the request before the deadline ->
 * unavailable; sent but no reply by the deadline -> unavailable, never
 * sent again; the connection broke before the reply (the link's socket
 * monitor says so) -> an idempotent op is sent once more with a fresh tag
 * within the same deadline, others wait it out; a reply that does not
 * decode -> unavailable. A reply that comes after its call gave up carries
 * a tag nobody waits for and is dropped, so it can never answer another
 * call (the reason REQ sockets had to be recycled). Every outcome goes to
 * the pool's proto_outage, if it has one.
 *
 * Not thread-safe: one loop thread uses its gw_rpc_t.
 */
#ifndef GW_RPC_H
#define GW_RPC_H

#include "gw_metrics.h"
#include "proto_client.h"

#include <stddef.h>
#include <zmq.h>

#define GW_RPC_LINKS_MAX 4 /* services one loop talks to */
/* Poll items gw_rpc_items may write: each link's DEALER and its monitor. */
#define GW_RPC_ITEMS_MAX (2 * GW_RPC_LINKS_MAX)

typedef struct gw_rpc gw_rpc_t;

/* `zctx` is borrowed. NULL on OOM. */
gw_rpc_t *gw_rpc_new(void *zctx, const proto_limits_t *lim);

/* Calls made on `pool` from this loop's coroutines go over a DEALER
 * connected to `endpoints` (the pool's own), each bounded by `timeout_ms`
 * unless the call says otherwise, and report to the pool's proto_outage
 * (set it on the pool before). 0, or -1 (socket, endpoints, too many). */
int gw_rpc_add(gw_rpc_t *self, const proto_pool_t *pool, const char *endpoints, int timeout_ms);

/* gw_rpc_add with the limits of the link's socket and replies (e.g.
 * proto_limits_files for storesvc) and the gw_backend_t its calls are
 * counted as in the metrics (-1: not counted). */
int gw_rpc_add_limits(gw_rpc_t *self, const proto_pool_t *pool, const char *endpoints,
                      int timeout_ms, const proto_limits_t *lim, int backend);

/* Counts every call's duration and failures (borrowed; NULL: none). */
void gw_rpc_set_metrics(gw_rpc_t *self, gw_metrics_t *metrics);

/* Every call must be over (gw_rpc_shutdown fails those still waiting). */
void gw_rpc_destroy(gw_rpc_t **self_p);

/* Makes `self` the loop of the calling thread (NULL: none). */
void gw_rpc_attach(gw_rpc_t *self);

/* The sockets to poll, into items[0 .. cap): each link's DEALER (POLLIN
 * always, POLLOUT while a call waits for a peer to take it), then each
 * link's monitor (POLLIN), as many as fit; GW_RPC_ITEMS_MAX always does.
 * Left out for want of room, a monitor only makes a lost call wait for its
 * deadline instead of being resent at once. Returns how many were written. */
int gw_rpc_items(gw_rpc_t *self, zmq_pollitem_t *items, int cap);

/* After zmq_poll on those items: takes every reply that came (resuming
 * their coroutines), resends what a broken connection lost, sends what
 * waited for a peer and expires overdue calls. Safe to call with nothing
 * ready. */
void gw_rpc_process(gw_rpc_t *self);

/* Milliseconds until the nearest call deadline (0 when one has passed),
 * -1 when no call is waiting. */
long gw_rpc_timeout_ms(const gw_rpc_t *self);

/* Calls in flight. */
size_t gw_rpc_pending(const gw_rpc_t *self);

/* Fails every call in flight as unavailable (resuming its coroutine) and
 * every later one at once: for a loop that is stopping. */
void gw_rpc_shutdown(gw_rpc_t *self);

/* proto_pool_call, without blocking the thread when called on a coroutine
 * of a loop that has a link for `pool`. Same contract: always fills
 * `reply` (proto_reply_cleanup afterwards), returns reply->err. */
proto_err_t gw_rpc_call(proto_pool_t *pool, proto_op_t op, const char *rid, const char *body,
                        size_t body_len, proto_reply_t *reply, int timeout_ms);

/* The end of a request frame already in a heap buffer, so that a file part
 * is never copied: buf[room .. room + len) holds the bytes that follow the
 * encoded envelope and body fields (e.g. a msgpack bin's payload), and
 * buf[0 .. room) is free for them. The call takes `buf` (it becomes
 * ZeroMQ's, freed once sent; NULL afterwards). Used with gw_rpc_start
 * (`body` is then the start of the body: its map header and fields, up to
 * the bin header of the tail). */
typedef struct {
    char *buf;
    size_t room, len;
} gw_rpc_tail_t;

typedef struct gw_rpc_async gw_rpc_async_t;
typedef struct gw_rpc_req gw_rpc_req_t;

/* Sends `req` and returns at once, so the coroutine can do other work
 * (read the next file part) while the call is out; gw_rpc_finish waits for
 * it. `req` (its reply, tail and the strings) must stay valid until then;
 * the call's completion resumes the coroutine wherever it waits, so every
 * wait of the coroutine must tolerate a wake-up it did not ask for (those
 * of gw_rpc and gw_stream do). Always returns a handle to finish (NULL only
 * when out of memory); off a loop's coroutine the call fails unavailable. */
gw_rpc_async_t *gw_rpc_start(const gw_rpc_req_t *req, const char *rid);

/* Waits for a started call (yielding) and frees it; returns reply->err. */
proto_err_t gw_rpc_finish(gw_rpc_async_t **a_p);

/* One call of a fan-out (gw_rpc_call_all). */
struct gw_rpc_req {
    proto_pool_t *pool;
    proto_op_t op;
    const char *body; /* packed msgpack map, or NULL */
    size_t body_len;
    int timeout_ms;       /* < 0: the link's */
    proto_reply_t *reply; /* filled as by gw_rpc_call */
    proto_err_t err;      /* reply->err */
    gw_rpc_tail_t *tail;  /* NULL, or the frame's end (see gw_rpc_tail_t) */
};

/* Sends every call at once and returns when all are over, on a coroutine
 * of a loop with a link for each pool. Returns 0 when it ran them so (each
 * reqs[i].err and reply set), -1 when this thread cannot (outside a
 * coroutine, or a pool without a link): nothing was sent, and the caller
 * does it another way. */
int gw_rpc_call_all(gw_rpc_req_t *reqs, size_t n, const char *rid);

#endif
