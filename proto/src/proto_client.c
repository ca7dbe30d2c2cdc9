/*
 * proto_client: the RPC client (one REQ socket per client) and a pool of
 * clients for multi-threaded callers.
 *
 * A call encodes the request into a reused buffer, sends it and waits for the
 * reply until a deadline. Failure policy:
 *   - no peer accepted the request in time (send timed out; with
 *     ZMQ_IMMEDIATE nothing is queued to a peer that is not connected):
 *     PROTO_ERR_UNAVAILABLE, never retried (the request never left, and a
 *     retry would only wait for the same missing peer), socket kept (a REQ
 *     socket whose send failed is still in its "send" state);
 *   - the request went out but no reply came in time: PROTO_ERR_UNAVAILABLE,
 *     the socket is closed and re-created (a REQ socket that missed a reply
 *     is stuck, and a late reply must never match the next request); ops
 *     marked idempotent are retried once, with a fresh timeout (so such a
 *     call waits at most twice the timeout); other ops never are;
 *   - a reply that does not decode: PROTO_ERR_UNAVAILABLE as well (no valid
 *     reply came; the peer speaks something else), socket recycled, no retry.
 *     We chose unavailable over internal_error because the caller cannot tell
 *     it apart from a dead peer, and 503 is what a client should see.
 * The reply is decoded from a private copy of the frame owned by the reply
 * itself, so it stays valid after the client goes back to a pool.
 */
#include "proto_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define CLIENT_LINGER_MS        0    /* closing drops unsent requests at once */
#define CLIENT_HEARTBEAT_IVL    1000 /* ms between ZMTP pings on idle links */
#define CLIENT_HEARTBEAT_TMO    3000 /* ms without traffic before a link is dead */
#define CLIENT_HEARTBEAT_TTL    6000 /* ms the server should wait for our pings */
#define CLIENT_CONNECT_TIMEO_MS 2000 /* bound a TCP connect to a black hole */
#define CLIENT_RETUNE_SLACK_MS  2    /* re-set RCVTIMEO only when off by more */

struct proto_client {
    void *zctx; /* borrowed */
    char *endpoints;
    int timeout_ms;
    proto_limits_t lim;
    void *sock;       /* NULL until first use or after a recycle */
    int cur_sndtimeo; /* what is set on `sock`, to skip redundant setsockopt */
    int cur_rcvtimeo;
    msgpack_sbuffer req; /* encoded request, reused between calls */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static int apply_options(proto_client_t *self, void *sock)
{
    int rc = apply_link_options(sock, &self->lim);
    rc |= set_int(sock, ZMQ_SNDTIMEO, self->timeout_ms);
    rc |= set_int(sock, ZMQ_RCVTIMEO, self->timeout_ms);
    return rc == 0 ? 0 : -1;
}

static void client_close(proto_client_t *self)
{
    if (self->sock) {
        zmq_close(self->sock);
        self->sock = NULL;
    }
}

static int client_open(proto_client_t *self)
{
    void *sock = zmq_socket(self->zctx, ZMQ_REQ);
    if (!sock)
        return -1;
    if (apply_options(self, sock) != 0 || connect_all(sock, self->endpoints) != 0) {
        zmq_close(sock);
        return -1;
    }
    self->sock = sock;
    self->cur_sndtimeo = self->timeout_ms;
    self->cur_rcvtimeo = self->timeout_ms;
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
    ATTEMPT_DONE,     /* reply filled (ok, service error or bad reply) */
    ATTEMPT_NOT_SENT, /* no peer took the request in time */
    ATTEMPT_NO_REPLY, /* request sent, reply missing: retryable if idempotent */
} attempt_t;

/* Sends the encoded request; false when it did not leave before `deadline`. */
static bool send_request(proto_client_t *self, long long deadline)
{
    for (;;) {
        tune_timeout(self->sock, ZMQ_SNDTIMEO, &self->cur_sndtimeo, (int)(deadline - now_ms()));
        if (zmq_send(self->sock, self->req.data, self->req.size, 0) >= 0)
            return true;
        if (errno != EINTR || now_ms() >= deadline)
            return false;
    }
}

/* Receives the reply frame into `msg`; false on timeout or error. */
static bool recv_reply(proto_client_t *self, zmq_msg_t *msg, long long deadline)
{
    for (;;) {
        tune_timeout(self->sock, ZMQ_RCVTIMEO, &self->cur_rcvtimeo, (int)(deadline - now_ms()));
        if (zmq_msg_recv(msg, self->sock, 0) >= 0)
            return true;
        if (errno != EINTR || now_ms() >= deadline)
            return false;
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

/* One send + receive within timeout_ms. */
static attempt_t attempt(proto_client_t *self, int timeout_ms, zmq_msg_t *msg, proto_reply_t *reply)
{
    if (!self->sock && client_open(self) != 0) {
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "cannot create socket");
        return ATTEMPT_DONE;
    }
    long long deadline = now_ms() + timeout_ms;
    if (!send_request(self, deadline)) {
        /* Still in the send state unless something odd happened. */
        if (errno != EAGAIN && errno != EINTR)
            client_close(self);
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "no service reachable");
        return ATTEMPT_NOT_SENT;
    }
    if (!recv_reply(self, msg, deadline)) {
        client_close(self);
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "service timed out");
        return ATTEMPT_NO_REPLY;
    }
    if (proto_reply_take_msg(msg, &self->lim, reply) != 0)
        client_close(self); /* whatever answered is not our peer: start afresh */
    return ATTEMPT_DONE;
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
    if (timeout_ms < 0)
        timeout_ms = self->timeout_ms;
    self->req.size = 0; /* keep the allocation */
    if (proto_request_encode(&self->req, op, rid, body, body_len) != 0) {
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "cannot encode request");
        return reply->err;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    attempt_t a = attempt(self, timeout_ms, &msg, reply);
    if (a == ATTEMPT_NO_REPLY && def->idempotent) {
        proto_reply_cleanup(reply);
        attempt(self, timeout_ms, &msg, reply);
    }
    zmq_msg_close(&msg);
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
    int size;              /* most clients ever alive */
    int created;           /* clients alive (idle or lent) */
    int nidle;             /* clients in idle[] */
    proto_client_t **idle; /* stack of idle clients, capacity `size` */
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

proto_err_t proto_pool_call(proto_pool_t *self, proto_op_t op, const char *rid, const char *body,
                            size_t body_len, proto_reply_t *reply, int timeout_ms)
{
    if (!self) {
        proto_reply_init(reply);
        proto_reply_set_error(reply, PROTO_ERR_INTERNAL_ERROR, "bad call");
        return reply->err;
    }
    if (timeout_ms < 0)
        timeout_ms = self->timeout_ms;
    /* Waiting for a free client is bounded by the timeout too; the call then
     * gets its own full timeout (a call squeezed into the leftover would time
     * out at once and churn sockets under contention). */
    proto_client_t *c = pool_acquire(self, now_ms() + timeout_ms);
    if (!c) {
        proto_reply_init(reply);
        proto_reply_set_error(reply, PROTO_ERR_UNAVAILABLE, "no client free");
        return reply->err;
    }
    proto_err_t err = proto_client_call(c, op, rid, body, body_len, reply, timeout_ms);
    pool_release(self, c);
    return err;
}
