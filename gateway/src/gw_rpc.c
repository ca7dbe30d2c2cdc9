/*
 * gw_rpc: tagged calls over DEALER sockets, resumed by the loop.
 *
 * A call lives on the stack of the coroutine that makes it (the frame stays
 * while the coroutine is suspended) and is linked into the loop's list
 * until it is done. Frames on the wire: [tag: 8 bytes][empty][request] out,
 * [tag][empty][reply] back. The request is kept as a zmq_msg_t so that a
 * send that has to wait, or the one resend of an idempotent op, costs a
 * reference and no copy.
 *
 * A call's deadline is set once, when it is made. Each link also has a
 * socket monitor (proto_monitor) that reports a broken connection; the
 * idempotent calls sent on that link are then sent again with a new tag,
 * once, and the reply to either tag answers the call (with several
 * endpoints the first copy may have gone to a peer that is still there).
 */
#include "gw_rpc.h"
#include "gw_coro.h"
#include "rt_clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    void *sock;
    void *mon; /* `sock`'s broken connections (proto_monitor), or NULL */
    const proto_pool_t *pool;
    proto_outage_t *outage; /* the pool's (borrowed), may be NULL */
    int timeout_ms;
    int unsent;         /* calls in flight on this link that no peer has taken yet */
    proto_limits_t lim; /* of the socket and of the replies it reads */
    int backend;        /* gw_backend_t of its calls' metrics, -1: not counted */
} gw_link_t;

typedef struct rpc_call {
    struct rpc_call *prev, *next;
    gw_link_t *link;
    gw_coro_t *co;
    proto_reply_t *reply;
    const char *rid; /* borrowed from the caller, who waits */
    proto_op_t op;
    zmq_msg_t req;
    uint64_t tag;
    uint64_t first_tag; /* after a resend: the first copy's tag (its reply counts too), else 0 */
    long long deadline; /* rt_clock_ms; set once */
    uint64_t start_ns;  /* for the call's duration (metrics) */
    bool idempotent, sent, resent, done;
} rpc_call_t;

struct gw_rpc {
    void *zctx;
    gw_metrics_t *metrics; /* borrowed; NULL: calls are not counted */
    proto_limits_t lim;
    gw_link_t links[GW_RPC_LINKS_MAX];
    int nlinks;
    rpc_call_t *head; /* calls in flight */
    size_t pending;
    uint64_t next_tag;
    bool stopping;
    msgpack_sbuffer scratch; /* requests are encoded here, then copied into a frame */
};

static _Thread_local gw_rpc_t *tls_rpc;

gw_rpc_t *gw_rpc_new(void *zctx, const proto_limits_t *lim)
{
    if (!zctx)
        return NULL;
    gw_rpc_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->zctx = zctx;
    self->lim = lim ? *lim : proto_limits_default();
    msgpack_sbuffer_init(&self->scratch);
    return self;
}

int gw_rpc_add(gw_rpc_t *self, const proto_pool_t *pool, const char *endpoints, int timeout_ms)
{
    return self ? gw_rpc_add_limits(self, pool, endpoints, timeout_ms, &self->lim, -1) : -1;
}

int gw_rpc_add_limits(gw_rpc_t *self, const proto_pool_t *pool, const char *endpoints,
                      int timeout_ms, const proto_limits_t *lim, int backend)
{
    if (!self || !pool || !endpoints || !lim || timeout_ms <= 0 || self->nlinks >= GW_RPC_LINKS_MAX)
        return -1;
    void *sock = proto_dealer_new(self->zctx, endpoints, lim);
    if (!sock)
        return -1;
    /* Unique among live monitors: this loop's address and the link's index.
     * Without a monitor (it could not be made) lost calls only time out. */
    char name[64];
    snprintf(name, sizeof name, "inproc://gw-rpc-%p-%d", (void *)self, self->nlinks);
    self->links[self->nlinks++] = (gw_link_t){.sock = sock,
                                              .mon = proto_monitor_new(self->zctx, sock, name),
                                              .pool = pool,
                                              .outage = proto_pool_outage(pool),
                                              .timeout_ms = timeout_ms,
                                              .lim = *lim,
                                              .backend = backend};
    return 0;
}

void gw_rpc_destroy(gw_rpc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_rpc_t *self = *self_p;
    if (tls_rpc == self)
        tls_rpc = NULL;
    for (int i = 0; i < self->nlinks; i++) {
        proto_monitor_destroy(self->links[i].sock, &self->links[i].mon);
        zmq_close(self->links[i].sock);
    }
    msgpack_sbuffer_destroy(&self->scratch);
    free(self);
    *self_p = NULL;
}

void gw_rpc_attach(gw_rpc_t *self)
{
    tls_rpc = self;
}

void gw_rpc_set_metrics(gw_rpc_t *self, gw_metrics_t *metrics)
{
    if (self)
        self->metrics = metrics;
}

/* ---- the list of calls in flight ---- */

static void list_add(gw_rpc_t *self, rpc_call_t *c)
{
    c->prev = NULL;
    c->next = self->head;
    if (self->head)
        self->head->prev = c;
    self->head = c;
    self->pending++;
    if (!c->sent)
        c->link->unsent++;
}

static void list_del(gw_rpc_t *self, rpc_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        self->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    self->pending--;
    if (!c->sent)
        c->link->unsent--;
}

/* c->sent, keeping its link's count of unsent calls (c is in the list). */
static void mark_sent(rpc_call_t *c, bool sent)
{
    if (c->sent != sent)
        c->link->unsent += sent ? -1 : 1;
    c->sent = sent;
}

/* The call is over (reply or error in c->reply): its coroutine goes on. */
static void complete(gw_rpc_t *self, rpc_call_t *c)
{
    list_del(self, c);
    c->done = true;
    if (self->metrics && c->link->backend >= 0)
        gw_metrics_backend(self->metrics, (gw_backend_t)c->link->backend, c->op,
                           c->reply->err == PROTO_ERR_UNAVAILABLE,
                           (double)(rt_clock_ns() - c->start_ns) / 1e9);
    gw_coro_resume(c->co); /* `c` is gone once this returns */
}

/* The call is over without a reply: unavailable, and (unless the loop is
 * stopping, which is not the service's doing) a failure of the service. */
static void fail(gw_rpc_t *self, rpc_call_t *c, const char *why)
{
    proto_reply_cleanup(c->reply);
    proto_reply_set_error(c->reply, PROTO_ERR_UNAVAILABLE, why);
    if (!self->stopping)
        proto_outage_failed(c->link->outage, c->rid, c->op, why);
    complete(self, c);
}

/* ---- sending ---- */

/* 1 sent, 0 no peer can take it now, -1 the socket failed. */
static int try_send(rpc_call_t *c)
{
    void *sock = c->link->sock;
    if (zmq_send(sock, &c->tag, sizeof c->tag, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    /* The rest of a message whose first part was taken is always taken. */
    zmq_msg_t body;
    zmq_msg_init(&body);
    int rc = zmq_send(sock, "", 0, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ||
                     zmq_msg_copy(&body, &c->req) != 0 ||
                     zmq_msg_send(&body, sock, ZMQ_DONTWAIT) < 0
                 ? -1
                 : 1;
    zmq_msg_close(&body);
    return rc;
}

/* Sends c under a new tag, now or (sent = false) when a peer can take it.
 * Returns -1 when the socket failed and c is over. */
static int start(gw_rpc_t *self, rpc_call_t *c)
{
    c->tag = ++self->next_tag;
    int rc = try_send(c);
    mark_sent(c, rc == 1);
    if (rc < 0)
        fail(self, c, "no service reachable");
    return rc < 0 ? -1 : 0;
}

/* ---- receiving ---- */

static rpc_call_t *find_call(gw_rpc_t *self, const gw_link_t *link, uint64_t tag)
{
    for (rpc_call_t *c = self->head; c; c = c->next)
        if (c->link == link &&
            ((c->tag == tag && c->sent) || (c->first_tag != 0 && c->first_tag == tag)))
            return c;
    return NULL;
}

static void drain_parts(void *sock, zmq_msg_t *m)
{
    while (zmq_msg_more(m)) {
        zmq_msg_close(m);
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0)
            break;
    }
}

/* One message off the link: 1 handled (or dropped), 0 none waiting. */
static int take_one(gw_rpc_t *self, gw_link_t *link)
{
    zmq_msg_t part[3];
    int n = 0;
    for (int i = 0; i < 3; i++)
        zmq_msg_init(&part[i]);
    if (zmq_msg_recv(&part[0], link->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part[0]);
        return 0;
    }
    n = 1;
    while (n < 3 && zmq_msg_more(&part[n - 1]) && zmq_msg_recv(&part[n], link->sock, 0) >= 0)
        n++;
    bool shaped = n == 3 && !zmq_msg_more(&part[2]) && zmq_msg_size(&part[0]) == sizeof(uint64_t) &&
                  zmq_msg_size(&part[1]) == 0;
    drain_parts(link->sock, &part[n - 1]); /* anything beyond the expected parts */
    rpc_call_t *c = NULL;
    if (shaped) {
        uint64_t tag;
        memcpy(&tag, zmq_msg_data(&part[0]), sizeof tag);
        c = find_call(self, link, tag); /* NULL: late, or never ours: dropped */
    }
    if (c) {
        proto_reply_cleanup(c->reply);
        proto_reply_init(c->reply);
        if (proto_reply_take_msg(&part[2], &c->link->lim, c->reply) == 0)
            proto_outage_answered(link->outage);
        else /* "malformed reply": no valid answer either */
            proto_outage_failed(link->outage, c->rid, c->op, c->reply->errmsg);
    }
    for (int i = 0; i < 3; i++)
        zmq_msg_close(&part[i]);
    if (c)
        complete(self, c);
    return 1;
}

/* ---- the loop's side ---- */

int gw_rpc_items(gw_rpc_t *self, zmq_pollitem_t *items, int cap)
{
    int n = 0;
    for (int i = 0; i < self->nlinks && n < cap; i++) {
        short ev = self->links[i].unsent > 0 ? ZMQ_POLLIN | ZMQ_POLLOUT : ZMQ_POLLIN;
        items[n++] = (zmq_pollitem_t){.socket = self->links[i].sock, .events = ev};
    }
    /* The monitors last: an array too small for them costs early resends
     * only (a lost call then waits for its deadline), never replies. */
    for (int i = 0; i < self->nlinks && n < cap; i++) {
        if (self->links[i].mon)
            items[n++] = (zmq_pollitem_t){.socket = self->links[i].mon, .events = ZMQ_POLLIN};
    }
    return n;
}

static bool any_unsent(const gw_rpc_t *self)
{
    for (int i = 0; i < self->nlinks; i++)
        if (self->links[i].unsent > 0)
            return true;
    return false;
}

/* Sends the calls that waited for a peer. */
static void send_waiting(gw_rpc_t *self)
{
    if (!any_unsent(self))
        return; /* the usual case: no walk of the list */
    for (rpc_call_t *c = self->head; c; c = c->next) {
        if (c->sent)
            continue;
        int rc = try_send(c);
        if (rc < 0) {
            fail(self, c, "no service reachable");
            return; /* the list changed; the next round goes on */
        }
        mark_sent(c, rc == 1);
    }
}

/* A connection of `link` broke: its idempotent calls that went out may be
 * lost, so each goes out again (once, new tag, same deadline). Returns
 * false when a send failed and the list changed under the walk. */
static bool resend_lost(gw_rpc_t *self, gw_link_t *link)
{
    for (rpc_call_t *c = self->head; c; c = c->next) {
        if (c->link != link || !c->sent || !c->idempotent || c->resent)
            continue;
        c->resent = true;
        c->first_tag = c->tag;
        if (start(self, c) != 0)
            return false;
    }
    return true;
}

/* Resends what the links' broken connections may have lost. */
static void check_links(gw_rpc_t *self)
{
    for (int i = 0; i < self->nlinks; i++) {
        gw_link_t *link = &self->links[i];
        if (proto_monitor_drain(link->mon) > 0) {
            while (!resend_lost(self, link)) {
            }
        }
    }
}

/* Fails one overdue call; false when none is. A call that timed out is
 * never sent again: its deadline is its caller's whole wait. */
static bool expire_one(gw_rpc_t *self, long long now)
{
    for (rpc_call_t *c = self->head; c; c = c->next) {
        if (c->deadline > now)
            continue;
        fail(self, c, c->sent ? "service timed out" : "no service reachable");
        return true;
    }
    return false;
}

void gw_rpc_process(gw_rpc_t *self)
{
    for (int i = 0; i < self->nlinks; i++)
        while (take_one(self, &self->links[i]) == 1) {
        }
    check_links(self);
    send_waiting(self);
    long long now = rt_clock_ms();
    while (expire_one(self, now)) {
    }
}

long gw_rpc_timeout_ms(const gw_rpc_t *self)
{
    if (!self->head)
        return -1;
    long long first = self->head->deadline;
    for (const rpc_call_t *c = self->head; c; c = c->next)
        if (c->deadline < first)
            first = c->deadline;
    long long left = first - rt_clock_ms();
    return left > 0 ? (long)left : 0;
}

size_t gw_rpc_pending(const gw_rpc_t *self)
{
    return self ? self->pending : 0;
}

void gw_rpc_shutdown(gw_rpc_t *self)
{
    self->stopping = true;
    while (self->head)
        fail(self, self->head, "the server is shutting down");
}

/* ---- the handler's side ---- */

static gw_link_t *find_link(gw_rpc_t *self, const proto_pool_t *pool)
{
    for (int i = 0; i < self->nlinks; i++)
        if (self->links[i].pool == pool)
            return &self->links[i];
    return NULL;
}

/* Prepares c (encoded request, link, deadline fields) for `op`; 0 or -1
 * with the error in `reply`. */
static void free_tail(void *data, void *hint)
{
    (void)data;
    free(hint);
}

/* The frame is the encoded envelope (in scratch) followed by the tail's
 * bytes: the envelope is copied into the room before them and ZeroMQ
 * takes the buffer (freed when it has sent the last copy). */
static int frame_around(gw_rpc_t *self, rpc_call_t *c, gw_rpc_tail_t *tail, proto_reply_t *reply)
{
    size_t head = self->scratch.size;
    if (head > tail->room) {
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "request head too large");
        return -1;
    }
    char *start = tail->buf + tail->room - head;
    memcpy(start, self->scratch.data, head);
    if (zmq_msg_init_data(&c->req, start, head + tail->len, free_tail, tail->buf) != 0) {
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "cannot build request");
        return -1;
    }
    tail->buf = NULL; /* ZeroMQ's now */
    return 0;
}

static int call_init(gw_rpc_t *self, rpc_call_t *c, gw_link_t *link, proto_op_t op, const char *rid,
                     const char *body, size_t body_len, gw_rpc_tail_t *tail, proto_reply_t *reply,
                     int timeout_ms)
{
    proto_reply_init(reply);
    const proto_op_def_t *def = proto_op_def(op);
    *c = (rpc_call_t){.link = link,
                      .co = gw_coro_current(),
                      .reply = reply,
                      .rid = rid,
                      .op = op,
                      .deadline = rt_clock_ms() + (timeout_ms < 0 ? link->timeout_ms : timeout_ms),
                      .start_ns = self->metrics ? rt_clock_ns() : 0,
                      .idempotent = def && def->idempotent};
    if (!def) {
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "bad call");
        return -1;
    }
    if (self->stopping) {
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "the server is shutting down");
        return -1;
    }
    self->scratch.size = 0; /* keep the allocation */
    if (proto_request_encode(&self->scratch, op, rid, body, body_len) != 0) {
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "cannot encode request");
        return -1;
    }
    if (tail) /* the frame's end is already in the caller's buffer: no copy of it */
        return frame_around(self, c, tail, reply);
    if (zmq_msg_init_size(&c->req, self->scratch.size) != 0) {
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "cannot encode request");
        return -1;
    }
    memcpy(zmq_msg_data(&c->req), self->scratch.data, self->scratch.size);
    return 0;
}

#define CALL_ALL_MAX 8

int gw_rpc_call_all(gw_rpc_req_t *reqs, size_t n, const char *rid)
{
    gw_rpc_t *self = tls_rpc;
    gw_link_t *links[CALL_ALL_MAX];
    if (!self || !gw_coro_current() || n == 0 || n > CALL_ALL_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(links[i] = find_link(self, reqs[i].pool)))
            return -1;
    rpc_call_t c[CALL_ALL_MAX];
    bool live[CALL_ALL_MAX] = {false};
    for (size_t i = 0; i < n; i++) {
        if (call_init(self, &c[i], links[i], reqs[i].op, rid, reqs[i].body, reqs[i].body_len,
                      reqs[i].tail, reqs[i].reply, reqs[i].timeout_ms) != 0)
            continue; /* that one failed at once; the others still go */
        live[i] = true;
        list_add(self, &c[i]);
        start(self, &c[i]);
    }
    for (size_t i = 0; i < n; i++) /* each completion resumes us; wait for the last */
        while (live[i] && !c[i].done)
            gw_coro_yield();
    for (size_t i = 0; i < n; i++) {
        if (live[i])
            zmq_msg_close(&c[i].req);
        reqs[i].err = reqs[i].reply->err;
    }
    return 0;
}

struct gw_rpc_async {
    rpc_call_t call;
    bool live; /* sent (or waiting for a peer); false: failed at once */
};

gw_rpc_async_t *gw_rpc_start(const gw_rpc_req_t *req, const char *rid)
{
    gw_rpc_t *self = tls_rpc;
    gw_link_t *link = self ? find_link(self, req->pool) : NULL;
    gw_rpc_async_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (!self || !gw_coro_current() || !link) {
        proto_reply_init(req->reply);
        proto_reply_set_error(req->reply, PROTO_ERR_UNAVAILABLE, "not on an event loop");
        return a;
    }
    if (call_init(self, &a->call, link, req->op, rid, req->body, req->body_len, req->tail,
                  req->reply, req->timeout_ms) != 0)
        return a; /* failed at once: the reply says why */
    a->live = true;
    list_add(self, &a->call);
    start(self, &a->call);
    return a;
}

proto_err_t gw_rpc_finish(gw_rpc_async_t **a_p)
{
    gw_rpc_async_t *a = a_p ? *a_p : NULL;
    if (!a)
        return PROTO_ERR_INTERNAL_ERROR;
    while (a->live && !a->call.done) /* its completion resumes us */
        gw_coro_yield();
    if (a->live)
        zmq_msg_close(&a->call.req);
    proto_err_t err = a->call.reply ? a->call.reply->err : PROTO_ERR_UNAVAILABLE;
    free(a);
    *a_p = NULL;
    return err;
}

proto_err_t gw_rpc_call(proto_pool_t *pool, proto_op_t op, const char *rid, const char *body,
                        size_t body_len, proto_reply_t *reply, int timeout_ms)
{
    gw_rpc_req_t one = {pool, op, body, body_len, timeout_ms, reply, PROTO_OK, NULL};
    if (gw_rpc_call_all(&one, 1, rid) != 0) /* not on a loop's coroutine: block */
        return proto_pool_call(pool, op, rid, body, body_len, reply, timeout_ms);
    return one.err;
}
