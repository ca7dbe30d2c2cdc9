/*
 * proto_client: the RPC client (one REQ socket per client) and a pool of
 * clients for multi-threaded callers.
 *
 * A call encodes the request into a reused buffer, sends it and waits for
 * the reply until one deadline, timeout_ms after the call began (in a pool:
 * after the caller began to wait for a client). Nothing extends it: a
 * caller waits at most its timeout, whatever happens. Failure policy:
 *   - no peer accepted the request before the deadline (send timed out;
 *     with ZMQ_IMMEDIATE nothing is queued to a peer that is not
 *     connected): PROTO_ERR_UNAVAILABLE, socket kept (a REQ socket whose
 *     send failed is still in its "send" state);
 *   - the request went out and no reply came by the deadline:
 *     PROTO_ERR_UNAVAILABLE, the socket is closed and re-created (a REQ
 *     socket that missed a reply is stuck, and a late reply must never
 *     match the next request). Never resent: the deadline is spent, and a
 *     timeout does not say the request was lost. The peer that does not
 *     answer is usually hung or overloaded (a resend doubles its load and
 *     waits for the same peer again); the request may still be running;
 *   - the connection the request went out on broke before the reply (the
 *     socket monitor reports ZMQ_EVENT_DISCONNECTED: the peer restarted or
 *     died, or heartbeats timed out): the request is known lost. An op
 *     marked idempotent is then sent once more, on a new socket, with what
 *     is left of the deadline; other ops wait out their deadline (the
 *     request may have run before the connection broke, and with several
 *     endpoints the reply may still come from another connection);
 *   - a reply that does not decode: PROTO_ERR_UNAVAILABLE as well (no valid
 *     reply came; the peer speaks something else), socket recycled, no
 *     resend. We chose unavailable over internal_error because the caller
 *     cannot tell it apart from a dead peer, and 503 is what a client
 *     should see.
 * Every call's outcome goes to the service's proto_outage (when one is
 * set), which logs the service going away and coming back once each.
 * The reply is decoded from a private copy of the frame owned by the reply
 * itself, so it stays valid after the client goes back to a pool.
 */
#include "proto_client.h"
#include "rt_clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define CLIENT_LINGER_MS        0    /* closing drops unsent requests at once */
#define CLIENT_HEARTBEAT_IVL    1000 /* ms between ZMTP pings on idle links */
#define CLIENT_HEARTBEAT_TMO    3000 /* ms without traffic before a link is dead */
#define CLIENT_HEARTBEAT_TTL    6000 /* ms the server should wait for our pings */
#define CLIENT_CONNECT_TIMEO_MS 2000 /* bound a TCP connect to a black hole */
#define CLIENT_RETUNE_SLACK_MS  2    /* re-set SNDTIMEO/RCVTIMEO only when off by more */
#define CLIENT_WATCH_MS         100  /* how soon a broken connection ends a wait */

struct proto_client {
    void *zctx; /* borrowed */
    char *endpoints;
    int timeout_ms;
    proto_limits_t lim;
    void *sock;       /* NULL until first use or after a recycle */
    void *mon;        /* `sock`'s disconnect events (proto_monitor), or NULL */
    unsigned opened;  /* sockets opened so far: names each one's monitor */
    int cur_sndtimeo; /* what is set on `sock`, to skip redundant setsockopt */
    int cur_rcvtimeo;
    proto_outage_t *outage; /* borrowed, may be NULL */
    msgpack_sbuffer req;    /* encoded request, reused between calls */
};

static int set_int(void *sock, int opt, int val)
{
    return zmq_setsockopt(sock, opt, &val, sizeof val);
}

/* Connects `sock` to every endpoint of the comma-separated list. */
static int connect_all(void *sock, const char *list)
{
    char buf[1024];
    int n = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len >= sizeof buf)
            return -1;
        if (len > 0) {
            memcpy(buf, p, len);
            buf[len] = '\0';
            if (zmq_connect(sock, buf) != 0)
                return -1;
            n++;
        }
        p += end ? (size_t)(end - p) + 1 : strlen(p);
    }
    return n > 0 ? 0 : -1;
}

/* The options every socket to a service gets; timeouts are the caller's. */
static int apply_link_options(void *sock, const proto_limits_t *lim)
{
    int64_t maxmsg = (int64_t)lim->max_msg_bytes;
    int rc = zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    rc |= set_int(sock, ZMQ_LINGER, CLIENT_LINGER_MS);
    rc |= set_int(sock, ZMQ_IMMEDIATE, 1);
    rc |= set_int(sock, ZMQ_HEARTBEAT_IVL, CLIENT_HEARTBEAT_IVL);
    rc |= set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, CLIENT_HEARTBEAT_TMO);
    rc |= set_int(sock, ZMQ_HEARTBEAT_TTL, CLIENT_HEARTBEAT_TTL);
    rc |= set_int(sock, ZMQ_CONNECT_TIMEOUT, CLIENT_CONNECT_TIMEO_MS);
    return rc == 0 ? 0 : -1;
}

/* ---- connection monitors ---- */

void *proto_monitor_new(void *zctx, void *sock, const char *endpoint)
{
    if (!zctx || !sock || !endpoint ||
        zmq_socket_monitor(sock, endpoint, ZMQ_EVENT_DISCONNECTED) != 0)
        return NULL;
    void *mon = zmq_socket(zctx, ZMQ_PAIR);
    int zero = 0;
    if (mon && zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
        zmq_connect(mon, endpoint) == 0)
        return mon;
    if (mon)
        zmq_close(mon);
    zmq_socket_monitor(sock, NULL, 0);
    return NULL;
}

int proto_monitor_drain(void *mon)
{
    int lost = 0;
    zmq_msg_t part;
    zmq_msg_init(&part);
    /* Each event is two frames: [u16 event, u32 value][endpoint]. */
    while (mon && zmq_msg_recv(&part, mon, ZMQ_DONTWAIT) >= 0) {
        uint16_t ev = 0;
        if (zmq_msg_size(&part) >= sizeof ev)
            memcpy(&ev, zmq_msg_data(&part), sizeof ev);
        lost += ev == ZMQ_EVENT_DISCONNECTED;
        while (zmq_msg_more(&part) && zmq_msg_recv(&part, mon, ZMQ_DONTWAIT) >= 0) {
        }
    }
    zmq_msg_close(&part);
    return lost;
}

void proto_monitor_destroy(void *sock, void **mon_p)
{
    if (!mon_p || !*mon_p)
        return;
    if (sock)
        zmq_socket_monitor(sock, NULL, 0);
    zmq_close(*mon_p);
    *mon_p = NULL;
}

/* ---- one client ---- */

static int apply_options(proto_client_t *self, void *sock)
{
    int rc = apply_link_options(sock, &self->lim);
    rc |= set_int(sock, ZMQ_SNDTIMEO, self->timeout_ms);
    rc |= set_int(sock, ZMQ_RCVTIMEO, CLIENT_WATCH_MS);
    return rc == 0 ? 0 : -1;
}

static void client_close(proto_client_t *self)
{
    if (self->sock) {
        proto_monitor_destroy(self->sock, &self->mon);
        zmq_close(self->sock);
        self->sock = NULL;
    }
}

static int client_open(proto_client_t *self)
{
    void *sock = zmq_socket(self->zctx, ZMQ_REQ);
    if (!sock)
        return -1;
    if (apply_options(self, sock) != 0) {
        zmq_close(sock);
        return -1;
    }
    /* Watched from before the first connect; without a monitor (it could
     * not be made) calls work the same, lost requests just wait out their
     * deadline. The name is unique among live clients: this one's address
     * and how many sockets it opened (should a freed client's name still be
     * bound when its address is reused, this socket merely goes without). */
    char name[64];
    snprintf(name, sizeof name, "inproc://proto-client-%p-%u", (void *)self, self->opened++);
    void *mon = proto_monitor_new(self->zctx, sock, name);
    if (connect_all(sock, self->endpoints) != 0) {
        proto_monitor_destroy(sock, &mon);
        zmq_close(sock);
        return -1;
    }
    self->sock = sock;
    self->mon = mon;
    self->cur_sndtimeo = self->timeout_ms;
    self->cur_rcvtimeo = CLIENT_WATCH_MS;
    return 0;
}

proto_client_t *proto_client_new(void *zctx, const char *endpoints, int timeout_ms,
                                 const proto_limits_t *lim)
{
    if (!zctx || !endpoints || timeout_ms <= 0)
        return NULL;
    proto_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->zctx = zctx;
    self->timeout_ms = timeout_ms;
    self->lim = lim ? *lim : proto_limits_default();
    msgpack_sbuffer_init(&self->req);
    self->endpoints = strdup(endpoints);
    /* Open now so that a bad endpoint fails here, not on the first call. */
    if (!self->endpoints || client_open(self) != 0)
        proto_client_destroy(&self);
    return self;
}

void proto_client_set_outage(proto_client_t *self, proto_outage_t *outage)
{
    if (self)
        self->outage = outage;
}

void proto_client_destroy(proto_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    proto_client_t *self = *self_p;
    client_close(self);
    msgpack_sbuffer_destroy(&self->req);
    free(self->endpoints);
    free(self);
    *self_p = NULL;
}

/* Sets a timeout option only when it differs from what the socket has. */
static void tune_timeout(void *sock, int opt, int *cur, int want)
{
    if (want < 0)
        want = 0;
    if (want > *cur + CLIENT_RETUNE_SLACK_MS || want < *cur - CLIENT_RETUNE_SLACK_MS) {
        if (set_int(sock, opt, want) == 0)
            *cur = want;
    }
}

typedef enum {
    ATTEMPT_ANSWERED, /* a valid reply is in `reply` (ok, or the service's error) */
    ATTEMPT_FAILED,   /* no valid reply; `reply` says why */
    ATTEMPT_LOST,     /* a connection broke while the reply was awaited */
} attempt_t;

/* Sends the encoded request; false when it did not leave before `deadline`. */
static bool send_request(proto_client_t *self, long long deadline)
{
    for (;;) {
        tune_timeout(self->sock, ZMQ_SNDTIMEO, &self->cur_sndtimeo,
                     (int)(deadline - rt_clock_ms()));
        if (zmq_send(self->sock, self->req.data, self->req.size, 0) >= 0)
            return true;
        if (errno != EINTR || rt_clock_ms() >= deadline)
            return false;
    }
}

/* Waits for the reply frame (into `msg`) until `deadline`; with `watch`,
 * a broken connection ends the wait early. A blocking receive, as cheap
 * as a call can wait; while watching, it wakes every CLIENT_WATCH_MS to
 * look at the monitor (a zmq_poll on both sockets instead measured
 * about 10 % fewer round trips per second in rpc_bench, for a check that
 * matters only once a reply is already late). */
static attempt_t await_reply(proto_client_t *self, zmq_msg_t *msg, long long deadline, bool watch)
{
    watch = watch && self->mon;
    for (;;) {
        long long left = deadline - rt_clock_ms();
        if (left <= 0)
            return ATTEMPT_FAILED;
        int wait = watch && left > CLIENT_WATCH_MS ? CLIENT_WATCH_MS : (int)left;
        tune_timeout(self->sock, ZMQ_RCVTIMEO, &self->cur_rcvtimeo, wait);
        if (zmq_msg_recv(msg, self->sock, 0) >= 0)
            return ATTEMPT_ANSWERED;
        if (errno != EAGAIN && errno != EINTR)
            return ATTEMPT_FAILED;
        if (watch && proto_monitor_drain(self->mon) > 0)
            return ATTEMPT_LOST;
    }
}

/* Zone finalizer: releases a received frame that a decoded reply points into. */
static void free_frame(void *arg)
{
    zmq_msg_t *frame = arg;
    zmq_msg_close(frame);
    free(frame);
}

void *proto_dealer_new(void *zctx, const char *endpoints, const proto_limits_t *lim)
{
    proto_limits_t l = lim ? *lim : proto_limits_default();
    void *sock = zctx && endpoints ? zmq_socket(zctx, ZMQ_DEALER) : NULL;
    if (!sock)
        return NULL;
    if (apply_link_options(sock, &l) != 0 || connect_all(sock, endpoints) != 0) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

/* Decodes the received frame into `reply`. Decoded strings point into the
 * frame's bytes (msgpack_unpack_next does not copy), so the frame is moved
 * to the heap and handed to the reply's zone, which frees it together with
 * the reply (proto_reply_cleanup): no copy, and the reply stays valid after
 * this client goes back to a pool. */
int proto_reply_take_msg(zmq_msg_t *msg, const proto_limits_t *lim, proto_reply_t *reply)
{
    zmq_msg_t *frame = NULL;
    if (zmq_msg_more(msg))
        goto malformed;
    frame = malloc(sizeof *frame);
    if (!frame || zmq_msg_init(frame) != 0)
        goto malformed;
    zmq_msg_move(frame, msg);
    if (proto_reply_decode(zmq_msg_data(frame), zmq_msg_size(frame), lim, reply) != PROTO_OK)
        goto malformed;
    if (!reply->unpacked.zone) {
        free_frame(frame); /* nothing decoded points into it */
        return 0;
    }
    if (!msgpack_zone_push_finalizer(reply->unpacked.zone, free_frame, frame))
        goto malformed;
    return 0;
malformed:
    if (frame)
        free_frame(frame);
    proto_reply_cleanup(reply);
    proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "malformed reply");
    return -1;
}

/* One send and its reply, by `deadline`. `watch`: report a broken
 * connection (ATTEMPT_LOST) instead of waiting on. */
static attempt_t attempt(proto_client_t *self, long long deadline, bool watch, zmq_msg_t *msg,
                         proto_reply_t *reply)
{
    if (!self->sock && client_open(self) != 0) {
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "cannot create socket");
        return ATTEMPT_FAILED;
    }
    proto_monitor_drain(self->mon); /* what broke before this request did not lose it */
    if (!send_request(self, deadline)) {
        /* Still in the send state unless something odd happened. */
        if (errno != EAGAIN && errno != EINTR)
            client_close(self);
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "no service reachable");
        return ATTEMPT_FAILED;
    }
    attempt_t a = await_reply(self, msg, deadline, watch);
    if (a != ATTEMPT_ANSWERED) {
        client_close(self);
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE,
                              a == ATTEMPT_LOST ? "connection lost" : "service timed out");
        return a;
    }
    if (proto_reply_take_msg(msg, &self->lim, reply) != 0) {
        client_close(self); /* whatever answered is not our peer: start afresh */
        return ATTEMPT_FAILED;
    }
    return ATTEMPT_ANSWERED;
}

proto_err_t proto_client_call(proto_client_t *self, proto_op_t op, const char *rid,
                              const char *body, size_t body_len, proto_reply_t *reply,
                              int timeout_ms)
{
    proto_reply_init(reply);
    const proto_op_def_t *def = proto_op_def(op);
    if (!self || !def) {
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "bad call");
        return reply->err;
    }
    long long deadline = rt_clock_ms() + (timeout_ms < 0 ? self->timeout_ms : timeout_ms);
    self->req.size = 0; /* keep the allocation */
    if (proto_request_encode(&self->req, op, rid, body, body_len) != 0) {
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "cannot encode request");
        return reply->err;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    /* Only idempotent ops are watched, so only they come back LOST; they
     * are sent once more, with what is left of the same deadline. */
    attempt_t a = attempt(self, deadline, def->idempotent, &msg, reply);
    if (a == ATTEMPT_LOST && rt_clock_ms() < deadline) {
        proto_reply_cleanup(reply);
        a = attempt(self, deadline, false, &msg, reply);
    }
    zmq_msg_close(&msg);
    if (a == ATTEMPT_ANSWERED)
        proto_outage_answered(self->outage);
    else
        proto_outage_failed(self->outage, rid, op, reply->errmsg);
    return reply->err;
}

/* ---- pool ---- */

struct proto_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a client is returned or a slot frees up */
    void *zctx;        /* borrowed */
    char *endpoints;
    int timeout_ms;
    proto_limits_t lim;
    proto_outage_t *outage; /* borrowed, may be NULL; given to every client */
    int size;               /* most clients ever alive */
    int created;            /* clients alive (idle or lent) */
    int nidle;              /* clients in idle[] */
    proto_client_t **idle;  /* stack of idle clients, capacity `size` */
};

proto_pool_t *proto_pool_new(void *zctx, const char *endpoints, int size, int timeout_ms,
                             const proto_limits_t *lim)
{
    if (!zctx || !endpoints || size <= 0 || timeout_ms <= 0)
        return NULL;
    proto_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&self->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0 || pthread_mutex_init(&self->mu, NULL) != 0) {
        if (rc == 0)
            pthread_cond_destroy(&self->cv);
        free(self);
        return NULL;
    }
    self->zctx = zctx;
    self->size = size;
    self->timeout_ms = timeout_ms;
    self->lim = lim ? *lim : proto_limits_default();
    self->endpoints = strdup(endpoints);
    self->idle = calloc((size_t)size, sizeof *self->idle);
    if (!self->endpoints || !self->idle)
        proto_pool_destroy(&self);
    return self;
}

/* Callers must have returned every client they borrowed. */
void proto_pool_destroy(proto_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    proto_pool_t *self = *self_p;
    for (int i = 0; i < self->nidle; i++)
        proto_client_destroy(&self->idle[i]);
    free(self->idle);
    free(self->endpoints);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

/* Borrows an idle client, creates one while under `size`, or waits until
 * `deadline` (monotonic ms) for one to come back. NULL on timeout/failure. */
static proto_client_t *pool_acquire(proto_pool_t *self, long long deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    proto_client_t *c = NULL;
    bool create = false;
    pthread_mutex_lock(&self->mu);
    while (self->nidle == 0 && self->created >= self->size) {
        if (pthread_cond_timedwait(&self->cv, &self->mu, &ts) == ETIMEDOUT)
            break;
    }
    if (self->nidle > 0) {
        c = self->idle[--self->nidle];
    } else if (self->created < self->size) {
        self->created++; /* reserve the slot, create outside the lock */
        create = true;
    }
    pthread_mutex_unlock(&self->mu);
    if (!create)
        return c;
    c = proto_client_new(self->zctx, self->endpoints, self->timeout_ms, &self->lim);
    proto_client_set_outage(c, self->outage);
    if (!c) {
        pthread_mutex_lock(&self->mu);
        self->created--;
        pthread_cond_signal(&self->cv);
        pthread_mutex_unlock(&self->mu);
    }
    return c;
}

static void pool_release(proto_pool_t *self, proto_client_t *c)
{
    pthread_mutex_lock(&self->mu);
    self->idle[self->nidle++] = c;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

void proto_pool_set_outage(proto_pool_t *self, proto_outage_t *outage)
{
    if (self)
        self->outage = outage;
}

proto_outage_t *proto_pool_outage(const proto_pool_t *self)
{
    return self ? self->outage : NULL;
}

proto_err_t proto_pool_call(proto_pool_t *self, proto_op_t op, const char *rid, const char *body,
                            size_t body_len, proto_reply_t *reply, int timeout_ms)
{
    if (!self) {
        proto_reply_init(reply);
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "bad call");
        return reply->err;
    }
    /* One deadline for the wait for a client and the call: a caller that
     * waited gets what is left, not a fresh timeout on top. */
    long long deadline = rt_clock_ms() + (timeout_ms < 0 ? self->timeout_ms : timeout_ms);
    proto_client_t *c = pool_acquire(self, deadline);
    long long left = deadline - rt_clock_ms();
    if (!c || left <= 0) {
        if (c)
            pool_release(self, c);
        proto_reply_init(reply);
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "no client free");
        proto_outage_failed(self->outage, rid, op, reply->errmsg);
        return reply->err;
    }
    proto_err_t err = proto_client_call(c, op, rid, body, body_len, reply, (int)left);
    pool_release(self, c);
    return err;
}
