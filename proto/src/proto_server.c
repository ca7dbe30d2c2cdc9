/*
 * proto_server: the RPC server runtime.
 *
 *   clients --tcp--> ROUTER (frontend) --proxy thread--> ROUTER (inproc backend)
 *                                                          |-- REP worker 0
 *                                                          |-- REP worker N-1
 *
 * The proxy is a small poll loop rather than zmq_proxy so that it can
 *   - dispatch each request to an idle worker (the backend is a ROUTER and
 *     every worker's REP socket has a known routing id). A DEALER backend
 *     would round-robin blindly, so a fast request could wait behind a slow
 *     one (a login hashing a password) while another worker sits idle;
 *   - hold requests while every worker is busy: the frontend is simply not
 *     read, so they wait in ZeroMQ's per-client queues (back-pressure);
 *   - count requests in flight, exactly: each dispatched request gets
 *     exactly one reply from its worker;
 *   - drop frames that are not a proper REQ envelope (a raw DEALER or STREAM
 *     peer can send anything) instead of passing them on;
 *   - drain on shutdown.
 *
 * Shutdown: proto_server_stop sets an atomic flag; the proxy (which wakes at
 * least every PROXY_IDLE_MS) stops reading the frontend, keeps forwarding
 * replies until nothing is in flight or the grace period ends, then closes
 * its sockets. Workers block in recv with a short ZMQ_RCVTIMEO and exit when
 * their own flag is set. The zmq context is borrowed and never terminated.
 */
#include "proto_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define PROXY_IDLE_MS      100  /* proxy poll timeout: how soon it notices a stop */
#define PROXY_BATCH        64   /* messages moved per direction before re-polling */
#define PROXY_MAX_PARTS    8    /* routing frames + delimiter + body we accept */
#define WORKER_RCVTIMEO_MS 100  /* how soon an idle worker sees a stop */
#define WORKER_SNDTIMEO_MS 1000 /* a reply that cannot be queued in 1 s is dropped */
#define FRONT_LINGER_MS    500  /* let replies already forwarded reach the wire */
#define SRV_HEARTBEAT_IVL  1000
#define SRV_HEARTBEAT_TMO  3000
#define SRV_ENDPOINT_MAX   256

/* ---------------------------------------------------------------- proxy -- */

/* One multipart message; parts stay initialised and are reused. */
typedef struct {
    zmq_msg_t part[PROXY_MAX_PARTS];
    int n;
    bool overflow; /* more parts came than fit: the message is dropped */
} mpmsg_t;

static void mpmsg_init(mpmsg_t *m)
{
    for (int i = 0; i < PROXY_MAX_PARTS; i++)
        zmq_msg_init(&m->part[i]);
    m->n = 0;
    m->overflow = false;
}

static void mpmsg_close(mpmsg_t *m)
{
    for (int i = 0; i < PROXY_MAX_PARTS; i++)
        zmq_msg_close(&m->part[i]);
}

/* Receives a whole multipart message without blocking. Returns 1 when one
 * was read, 0 when none was waiting, -1 on a socket error. Parts beyond
 * PROXY_MAX_PARTS are read and discarded (ZeroMQ delivers a message whole,
 * so they are there), marking the message as overflowed. */
static int mpmsg_recv(mpmsg_t *m, void *sock)
{
    m->n = 0;
    m->overflow = false;
    zmq_msg_t extra;
    zmq_msg_init(&extra);
    for (;;) {
        zmq_msg_t *dst = m->n < PROXY_MAX_PARTS ? &m->part[m->n] : &extra;
        if (zmq_msg_recv(dst, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&extra);
            if (m->n == 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            return -1; /* cannot happen mid-message */
        }
        if (dst == &extra)
            m->overflow = true;
        else
            m->n++;
        if (!zmq_msg_more(dst))
            break;
    }
    zmq_msg_close(&extra);
    return 1;
}

/* Sends parts [from, n). Returns 0, or -1 when the first part could not be
 * sent (then nothing was). */
static int mpmsg_send(mpmsg_t *m, int from, void *sock)
{
    for (int i = from; i < m->n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < m->n ? ZMQ_SNDMORE : 0);
        if (zmq_msg_send(&m->part[i], sock, flags) < 0)
            return i == from ? -1 : 0; /* later parts of a message cannot fail */
    }
    return 0;
}

/* Sends every part with SNDMORE (more parts follow). Returns 0 or -1. */
static int mpmsg_send_more(mpmsg_t *m, void *sock)
{
    for (int i = 0; i < m->n; i++) {
        if (zmq_msg_send(&m->part[i], sock, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
            return -1;
    }
    return 0;
}

/* A REQ envelope as a ROUTER delivers it: one or more non-empty routing
 * frames, one empty delimiter, exactly one body frame. */
static bool is_req_envelope(mpmsg_t *m)
{
    if (m->overflow || m->n < 3 || zmq_msg_size(&m->part[m->n - 2]) != 0)
        return false;
    for (int i = 0; i < m->n - 2; i++)
        if (zmq_msg_size(&m->part[i]) == 0)
            return false;
    return true;
}

/* Worker routing ids: 'w' and the index, 4 bytes little-endian. */
#define WORKER_ID_LEN 5

static void worker_id(int index, unsigned char id[WORKER_ID_LEN])
{
    id[0] = 'w';
    for (int i = 0; i < 4; i++)
        id[1 + i] = (unsigned char)((unsigned)index >> (8 * i));
}

/* The worker index a routing id names, or -1. */
static int worker_index(zmq_msg_t *id, int nworkers)
{
    const unsigned char *p = zmq_msg_data(id);
    if (zmq_msg_size(id) != WORKER_ID_LEN || p[0] != 'w')
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v |= (unsigned)p[1 + i] << (8 * i);
    return v < (unsigned)nworkers ? (int)v : -1;
}

/* Idle workers of one lane: a stack, the last one used goes first. */
typedef struct {
    int *idle;
    int nidle;
} lane_t;

/* The proxy thread's state (lives in the server, so starting cannot fail on it). */
typedef struct {
    proto_server_t *srv;
    int nworkers;    /* fast + slow */
    int nfast;       /* workers 0 .. nfast-1 are fast, the rest slow */
    mpmsg_t msg;     /* scratch for replies */
    mpmsg_t pending; /* a fast request read from the frontend, not yet dispatched */
    bool has_pending;
    lane_t lane[2];       /* indexed by proto_lane_t */
    bool *busy;           /* per worker: a request is dispatched to it */
    mpmsg_t *queue;       /* slow requests waiting for a slow worker: a ring */
    long long *queued_at; /* monotonic ms each queue slot was filled */
    int qcap, qhead, qlen;
    bool draining;
    bool front_ready, back_ready; /* worth a non-blocking recv */
} proxy_t;

typedef enum { SRV_NEW, SRV_RUNNING, SRV_STOPPED } srv_state_t;

typedef struct {
    proto_server_t *srv;
    int index;
    pthread_t thread;
    bool started;
} worker_t;

struct proto_server {
    void *zctx; /* borrowed */
    proto_server_config_t cfg;
    char *bind;
    proto_handler_fn by_op[PROTO_OP__COUNT];
    char endpoint[SRV_ENDPOINT_MAX];
    char backend_addr[96];
    void *frontend, *backend; /* owned by the proxy thread while it runs */
    pthread_t proxy;
    proxy_t px; /* the proxy thread's state */
    worker_t *workers;
    pthread_mutex_t mu; /* state, start/stop, worker readiness */
    pthread_cond_t cv;
    srv_state_t state;
    int nready, nfailed;
    atomic_int in_flight;
    atomic_int stop_proxy;
    atomic_llong drain_deadline; /* monotonic ms */
    atomic_int stop_workers;
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

/* How a pump ended: the socket has nothing more for now (its ZMQ_FD will
 * signal new input), the batch limit was hit (more may be waiting), or no
 * worker is idle (pump_front only). */
typedef enum { PUMP_DRAINED, PUMP_MORE, PUMP_BLOCKED } pump_t;

/* Sends request `m` to idle worker `w`: [worker id][envelope][body]. */
static int dispatch_to(proxy_t *px, int w, mpmsg_t *m)
{
    unsigned char id[WORKER_ID_LEN];
    worker_id(w, id);
    px->back_ready = true; /* any call may consume the backend's signal */
    if (zmq_send(px->srv->backend, id, sizeof id, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1; /* EHOSTUNREACH: that worker's socket is gone */
    mpmsg_send(m, 0, px->srv->backend);
    px->busy[w] = true;
    atomic_fetch_add_explicit(&px->srv->in_flight, 1, memory_order_relaxed);
    return 0;
}

/* Dispatches `m` to an idle worker of `lane`; -1 when none could take it
 * (a worker whose socket is gone is left out of the idle set). */
static int dispatch_lane(proxy_t *px, proto_lane_t lane, mpmsg_t *m)
{
    lane_t *l = &px->lane[lane];
    while (l->nidle > 0) {
        if (dispatch_to(px, l->idle[--l->nidle], m) == 0)
            return 0;
    }
    return -1;
}

/* Answers request `m` with an error from the proxy itself (its routing
 * frames and delimiter, then the reply). */
static void refuse(proxy_t *px, mpmsg_t *m, const char *why)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    if (proto_reply_encode_err(&out, PROTO_ERR_UNAVAILABLE, why, -1) == 0) {
        int last = m->n - 1;
        m->n = last; /* send the routing frames and the delimiter ... */
        if (mpmsg_send_more(m, px->srv->frontend) == 0) /* ... then the reply */
            zmq_send(px->srv->frontend, out.data, out.size, ZMQ_DONTWAIT);
        m->n = last + 1;
        px->front_ready = true;
    }
    msgpack_sbuffer_destroy(&out);
}

static void mpmsg_move(mpmsg_t *dst, mpmsg_t *src)
{
    for (int i = 0; i < src->n; i++)
        zmq_msg_move(&dst->part[i], &src->part[i]);
    dst->n = src->n;
    dst->overflow = false;
    src->n = 0;
}

/* The lane of a request: slow only when the server has a slow lane and the
 * body frame names a slow op. */
static proto_lane_t lane_of(const proxy_t *px, mpmsg_t *m)
{
    proto_op_t op;
    if (px->nfast == px->nworkers)
        return PROTO_LANE_FAST;
    zmq_msg_t *body = &m->part[m->n - 1];
    if (proto_peek_op(zmq_msg_data(body), zmq_msg_size(body), &op) != 0)
        return PROTO_LANE_FAST; /* a worker will answer bad_request */
    const proto_op_def_t *def = proto_op_def(op);
    return def && def->lane == PROTO_LANE_SLOW ? PROTO_LANE_SLOW : PROTO_LANE_FAST;
}

/* A slow request: to an idle slow worker, else into the queue, else refused. */
static void take_slow(proxy_t *px, mpmsg_t *m)
{
    if (dispatch_lane(px, PROTO_LANE_SLOW, m) == 0)
        return;
    if (px->qlen < px->qcap) {
        int slot = (px->qhead + px->qlen) % px->qcap;
        mpmsg_move(&px->queue[slot], m);
        px->queued_at[slot] = now_ms();
        px->qlen++;
        return;
    }
    refuse(px, m, "busy: too many slow requests");
}

/* Moves requests frontend -> idle workers. */
static pump_t pump_front(proxy_t *px)
{
    proto_server_t *srv = px->srv;
    for (int moved = 0; moved < PROXY_BATCH; moved++) {
        if (!px->has_pending) {
            if (mpmsg_recv(&px->pending, srv->frontend) <= 0)
                return PUMP_DRAINED;
            if (!is_req_envelope(&px->pending))
                continue; /* garbage from a raw peer: dropped, never answered */
            if (lane_of(px, &px->pending) == PROTO_LANE_SLOW) {
                take_slow(px, &px->pending);
                continue;
            }
            px->has_pending = true;
        }
        if (px->lane[PROTO_LANE_FAST].nidle == 0)
            return PUMP_BLOCKED;
        if (dispatch_lane(px, PROTO_LANE_FAST, &px->pending) == 0)
            px->has_pending = false;
    }
    return PUMP_MORE;
}

/* Answers queued slow requests that waited longer than slow_max_wait_ms. */
static void expire_queue(proxy_t *px)
{
    int max = px->srv->cfg.slow_max_wait_ms;
    if (max <= 0)
        return;
    long long now = now_ms();
    while (px->qlen > 0 && now - px->queued_at[px->qhead] > max) {
        refuse(px, &px->queue[px->qhead], "busy: waited too long for a slow worker");
        px->qhead = (px->qhead + 1) % px->qcap;
        px->qlen--;
    }
}

/* A worker finished: it takes the next queued slow request, or goes idle. */
static void worker_done(proxy_t *px, int w)
{
    px->busy[w] = false;
    atomic_fetch_sub_explicit(&px->srv->in_flight, 1, memory_order_relaxed);
    if (w >= px->nfast)
        expire_queue(px);
    if (w >= px->nfast && px->qlen > 0 && !px->draining) {
        mpmsg_t *next = &px->queue[px->qhead];
        px->qhead = (px->qhead + 1) % px->qcap;
        px->qlen--;
        if (dispatch_to(px, w, next) == 0)
            return;
        refuse(px, next, "worker lost");
        return; /* that worker's socket is gone: not idle */
    }
    lane_t *l = &px->lane[w >= px->nfast ? PROTO_LANE_SLOW : PROTO_LANE_FAST];
    l->idle[l->nidle++] = w;
}

/* On shutdown, queued slow requests are answered instead of left to time out. */
static void refuse_queue(proxy_t *px)
{
    while (px->qlen > 0) {
        refuse(px, &px->queue[px->qhead], "shutting down");
        px->qhead = (px->qhead + 1) % px->qcap;
        px->qlen--;
    }
}

/* Moves replies [worker id][envelope][reply] -> frontend, and marks the
 * worker idle. The ROUTER never blocks: a reply to a client that went away
 * is dropped by ZeroMQ. */
static pump_t pump_back(proxy_t *px)
{
    proto_server_t *srv = px->srv;
    for (int moved = 0; moved < PROXY_BATCH; moved++) {
        if (mpmsg_recv(&px->msg, srv->backend) <= 0)
            return PUMP_DRAINED;
        int w = px->msg.n >= 2 ? worker_index(&px->msg.part[0], px->nworkers) : -1;
        if (w < 0 || !px->busy[w])
            continue; /* not a reply we are waiting for */
        /* Done before the reply leaves, so a caller that has its reply
         * never sees the request still counted in flight. */
        worker_done(px, w);
        if (!px->msg.overflow) {
            mpmsg_send(&px->msg, 1, srv->frontend);
            px->front_ready = true; /* any call may consume the frontend's signal */
        }
    }
    return PUMP_MORE;
}

/* True when the proxy loop should end. */
static bool proxy_done(proxy_t *px)
{
    proto_server_t *srv = px->srv;
    if (!px->draining) {
        if (!atomic_load_explicit(&srv->stop_proxy, memory_order_acquire))
            return false;
        px->draining = true;     /* from now on the frontend is not read */
        px->has_pending = false; /* never dispatched: the client will time out */
        refuse_queue(px);
    }
    return atomic_load(&srv->in_flight) <= 0 || now_ms() >= atomic_load(&srv->drain_deadline);
}

static int proxy_poll_timeout(proxy_t *px)
{
    if (!px->draining)
        return PROXY_IDLE_MS;
    long long left = atomic_load(&px->srv->drain_deadline) - now_ms();
    return left < 0 ? 0 : left < PROXY_IDLE_MS ? (int)left : PROXY_IDLE_MS;
}

/* Whether the frontend should be read at all: not while draining, and not
 * while no worker could take what we read. */
static bool front_open(const proxy_t *px)
{
    return !px->draining && !(px->has_pending && px->lane[PROTO_LANE_FAST].nidle == 0);
}

/* Sleeps on the sockets' ZMQ_FDs (edge-style: they signal that the socket
 * has news, not that a message is there) and marks what to look at. */
static void proxy_wait(proxy_t *px, const int fds[2])
{
    bool want_front = front_open(px);
    struct pollfd pfd[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
    int rc = poll(pfd, want_front ? 2 : 1, proxy_poll_timeout(px));
    if (rc == 0) { /* idle tick: look at everything once, cheap insurance */
        px->back_ready = true;
        px->front_ready = true;
        expire_queue(px);
        return;
    }
    if (rc > 0 && (pfd[0].revents & POLLIN))
        px->back_ready = true;
    if (rc > 0 && want_front && (pfd[1].revents & POLLIN))
        px->front_ready = true;
}

/* Forwards in both directions, looking at a socket only when its ZMQ_FD
 * signalled or an operation on it may have consumed the signal. zmq_poll
 * would re-check every socket with several syscalls on each wakeup; at one
 * request in flight those syscalls are a good part of the hop's cost. */
static void proxy_loop(proxy_t *px)
{
    proto_server_t *srv = px->srv;
    int fds[2];
    size_t len = sizeof fds[0];
    if (zmq_getsockopt(srv->backend, ZMQ_FD, &fds[0], &len) != 0 ||
        zmq_getsockopt(srv->frontend, ZMQ_FD, &fds[1], &len) != 0)
        return;
    px->back_ready = px->front_ready = true;
    while (!proxy_done(px)) {
        if (px->back_ready)
            px->back_ready = pump_back(px) == PUMP_MORE;
        if (front_open(px) && (px->front_ready || px->has_pending))
            px->front_ready = pump_front(px) != PUMP_DRAINED;
        if (px->back_ready || (front_open(px) && (px->front_ready || px->has_pending)))
            continue;
        proxy_wait(px, fds);
    }
}

static void *proxy_main(void *arg)
{
    proto_server_t *srv = arg;
    proxy_t *px = &srv->px;
    mpmsg_init(&px->msg);
    mpmsg_init(&px->pending);
    for (int i = 0; i < px->qcap; i++)
        mpmsg_init(&px->queue[i]);
    proxy_loop(px);
    refuse_queue(px);
    for (int i = 0; i < px->qcap; i++)
        mpmsg_close(&px->queue[i]);
    mpmsg_close(&px->msg);
    mpmsg_close(&px->pending);
    zmq_close(srv->frontend);
    zmq_close(srv->backend);
    srv->frontend = srv->backend = NULL;
    return NULL;
}

/* --------------------------------------------------------------- workers -- */

/* A reply body must be one packed map (fixmap, map16 or map32), or empty. */
static bool body_is_map(const msgpack_sbuffer *b)
{
    if (b->size == 0)
        return true;
    unsigned char c = (unsigned char)b->data[0];
    return (c & 0xf0) == 0x80 || c == 0xde || c == 0xdf;
}

/* Runs the handler for a decoded request and encodes its reply into `out`. */
static int dispatch(proto_server_t *srv, const proto_call_ctx_t *cc, const proto_request_t *req,
                    msgpack_sbuffer *out, msgpack_sbuffer *body)
{
    proto_handler_fn fn = (req->op >= 0 && req->op < PROTO_OP__COUNT) ? srv->by_op[req->op] : NULL;
    if (!fn)
        return proto_reply_encode_err(out, PROTO_ERR_BAD_REQUEST, "unknown op", -1);
    msgpack_packer pk;
    proto_fail_t fail = {.msg = "", .retry_after = -1, .limit = -1, .remaining = -1, .reset = -1};
    body->size = 0;
    msgpack_packer_init(&pk, body, msgpack_sbuffer_write);
    proto_err_t err = fn(cc, req, &pk, &fail);
    if (err == PROTO_OK) {
        if (!body_is_map(body))
            return proto_reply_encode_err(out, PROTO_ERR_INTERNAL_ERROR, "bad reply body", -1);
        return proto_reply_encode_ok(out, body->size ? body->data : NULL, body->size);
    }
    fail.msg[sizeof fail.msg - 1] = '\0';
    fail.field[sizeof fail.field - 1] = '\0';
    return proto_reply_encode_fail(out, err, &fail);
}

/* Decodes one request frame and leaves the encoded reply in `out`. */
static void handle_frame(proto_server_t *srv, const proto_call_ctx_t *cc, zmq_msg_t *in,
                         msgpack_sbuffer *out, msgpack_sbuffer *body)
{
    proto_request_t req;
    char why[128] = "";
    int rc;
    proto_request_init(&req);
    out->size = 0;
    if (proto_request_decode(zmq_msg_data(in), zmq_msg_size(in), &srv->cfg.limits, &req, why,
                             sizeof why) != PROTO_OK)
        rc = proto_reply_encode_err(out, PROTO_ERR_BAD_REQUEST, why[0] ? why : NULL, -1);
    else
        rc = dispatch(srv, cc, &req, out, body);
    proto_request_cleanup(&req);
    if (rc != 0) {
        out->size = 0;
        proto_reply_encode_err(out, PROTO_ERR_INTERNAL_ERROR, "cannot encode reply", -1);
    }
}

static void *worker_open(proto_server_t *srv, int index)
{
    unsigned char id[WORKER_ID_LEN];
    void *rep = zmq_socket(srv->zctx, ZMQ_REP);
    if (!rep)
        return NULL;
    worker_id(index, id);
    if (zmq_setsockopt(rep, ZMQ_ROUTING_ID, id, sizeof id) != 0 ||
        set_int(rep, ZMQ_LINGER, 0) != 0 || set_int(rep, ZMQ_RCVTIMEO, WORKER_RCVTIMEO_MS) != 0 ||
        set_int(rep, ZMQ_SNDTIMEO, WORKER_SNDTIMEO_MS) != 0 ||
        zmq_connect(rep, srv->backend_addr) != 0) {
        zmq_close(rep);
        return NULL;
    }
    return rep;
}

static void worker_ready(proto_server_t *srv, bool ok)
{
    pthread_mutex_lock(&srv->mu);
    if (ok)
        srv->nready++;
    else
        srv->nfailed++;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

/* Sends the reply. A REP socket whose send timed out stays in its sending
 * state, so retrying is legal; it cannot really time out on inproc (the
 * proxy gives a worker one request at a time), but must not wedge it. */
static void worker_reply(proto_server_t *srv, void *rep, const msgpack_sbuffer *out)
{
    while (zmq_send(rep, out->data, out->size, 0) < 0) {
        if ((errno != EAGAIN && errno != EINTR) || atomic_load(&srv->stop_workers))
            return;
    }
}

/* Serves requests until told to stop. */
static void worker_loop(proto_server_t *srv, const proto_call_ctx_t *cc, void *rep)
{
    msgpack_sbuffer out, body;
    zmq_msg_t in;
    msgpack_sbuffer_init(&out);
    msgpack_sbuffer_init(&body);
    zmq_msg_init(&in);
    while (!atomic_load_explicit(&srv->stop_workers, memory_order_relaxed)) {
        if (zmq_msg_recv(&in, rep, 0) < 0) {
            if (errno != EAGAIN && errno != EINTR)
                break; /* ETERM, or a socket in a state it cannot leave */
            continue;  /* idle tick: look at the stop flag */
        }
        if (zmq_msg_more(&in)) { /* the proxy forwards one body frame only */
            while (zmq_msg_more(&in) && zmq_msg_recv(&in, rep, 0) >= 0)
                ;
            out.size = 0;
            proto_reply_encode_err(&out, PROTO_ERR_BAD_REQUEST, "multipart request", -1);
        } else {
            handle_frame(srv, cc, &in, &out, &body);
        }
        worker_reply(srv, rep, &out);
    }
    zmq_msg_close(&in);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&body);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    proto_server_t *srv = w->srv;
    proto_call_ctx_t cc = {.svc = srv->cfg.svc, .worker = NULL, .worker_index = w->index};
    /* Slow workers yield the CPU to fast ones (Linux: nice is per thread). */
    if (w->index >= srv->cfg.workers && srv->cfg.slow_nice > 0)
        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), srv->cfg.slow_nice);
    /* Per-worker state first: the worker connects (and can be handed
     * requests) only once it is ready to serve them. */
    if (srv->cfg.worker_init)
        cc.worker = srv->cfg.worker_init(srv->cfg.svc, w->index);
    void *rep = worker_open(srv, w->index);
    worker_ready(srv, rep != NULL);
    if (rep) {
        worker_loop(srv, &cc, rep);
        zmq_close(rep);
    }
    if (srv->cfg.worker_fini)
        srv->cfg.worker_fini(srv->cfg.svc, cc.worker);
    return NULL;
}

/* ------------------------------------------------------------- lifecycle -- */

/* Fills the op -> handler table; -1 on an unknown op or a duplicate. */
static int index_handlers(proto_server_t *self, const proto_server_config_t *cfg)
{
    if (cfg->nhandlers > 0 && !cfg->handlers)
        return -1;
    for (size_t i = 0; i < cfg->nhandlers; i++) {
        proto_op_t op = cfg->handlers[i].op;
        if (op < 0 || op >= PROTO_OP__COUNT || !cfg->handlers[i].fn || self->by_op[op])
            return -1;
        self->by_op[op] = cfg->handlers[i].fn;
    }
    return 0;
}

/* Frees what proto_server_new allocated; NULL-safe members. */
static void server_free(proto_server_t *self)
{
    free(self->px.lane[PROTO_LANE_FAST].idle);
    free(self->px.lane[PROTO_LANE_SLOW].idle);
    free(self->px.queue);
    free(self->px.queued_at);
    free(self->px.busy);
    free(self->workers);
    free(self->bind);
    free(self);
}

proto_server_t *proto_server_new(void *zctx, const proto_server_config_t *cfg)
{
    if (!zctx || !cfg || !cfg->bind || cfg->workers < 1 || cfg->slow_workers < 0 ||
        cfg->slow_queue < 0 || cfg->workers > 4096 || cfg->slow_workers > 4096 ||
        cfg->slow_queue > 65536)
        return NULL;
    proto_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t n = (size_t)cfg->workers + (size_t)cfg->slow_workers;
    self->zctx = zctx;
    self->cfg = *cfg;
    if (self->cfg.limits.max_msg_bytes == 0)
        self->cfg.limits = proto_limits_default();
    self->bind = strdup(cfg->bind);
    self->cfg.bind = self->bind;
    self->workers = calloc(n, sizeof *self->workers);
    self->px.lane[PROTO_LANE_FAST].idle = calloc((size_t)cfg->workers, sizeof(int));
    self->px.lane[PROTO_LANE_SLOW].idle = calloc((size_t)cfg->slow_workers + 1, sizeof(int));
    self->px.qcap = cfg->slow_workers > 0 ? cfg->slow_queue : 0;
    self->px.queue = calloc((size_t)self->px.qcap + 1, sizeof *self->px.queue);
    self->px.queued_at = calloc((size_t)self->px.qcap + 1, sizeof *self->px.queued_at);
    self->px.busy = calloc(n, sizeof *self->px.busy);
    if (!self->bind || !self->workers || !self->px.lane[PROTO_LANE_FAST].idle ||
        !self->px.lane[PROTO_LANE_SLOW].idle || !self->px.queue || !self->px.queued_at ||
        !self->px.busy || index_handlers(self, cfg) != 0)
        goto fail;
    if (pthread_mutex_init(&self->mu, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&self->cv, NULL) != 0) {
        pthread_mutex_destroy(&self->mu);
        goto fail;
    }
    self->state = SRV_NEW;
    /* Unique among live servers: the address of this one, plus the clock in
     * case a freed server's address is reused before its endpoint is gone. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(self->backend_addr, sizeof self->backend_addr, "inproc://proto-server-%p-%lld-%ld",
             (void *)self, (long long)ts.tv_sec, ts.tv_nsec);
    return self;
fail:
    server_free(self);
    return NULL;
}

static int total_workers(const proto_server_t *self)
{
    return self->cfg.workers + self->cfg.slow_workers;
}

/* Every worker starts idle; the lowest index of a lane is handed its first request. */
static void proxy_init(proto_server_t *self)
{
    proxy_t *px = &self->px;
    px->srv = self;
    px->nworkers = total_workers(self);
    px->nfast = self->cfg.workers;
    px->lane[PROTO_LANE_FAST].nidle = px->lane[PROTO_LANE_SLOW].nidle = 0;
    for (int i = px->nworkers - 1; i >= 0; i--) {
        lane_t *l = &px->lane[i >= px->nfast ? PROTO_LANE_SLOW : PROTO_LANE_FAST];
        px->busy[i] = false;
        l->idle[l->nidle++] = i;
    }
    px->qhead = px->qlen = 0;
}

/* Creates, configures and binds the frontend and backend ROUTERs. */
static int open_sockets(proto_server_t *self)
{
    int64_t maxmsg = (int64_t)self->cfg.limits.max_msg_bytes;
    size_t len = sizeof self->endpoint;
    self->frontend = zmq_socket(self->zctx, ZMQ_ROUTER);
    self->backend = zmq_socket(self->zctx, ZMQ_ROUTER);
    if (!self->frontend || !self->backend)
        return -1;
    int rc = zmq_setsockopt(self->frontend, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    rc |= set_int(self->frontend, ZMQ_LINGER, FRONT_LINGER_MS);
    rc |= set_int(self->frontend, ZMQ_HEARTBEAT_IVL, SRV_HEARTBEAT_IVL);
    rc |= set_int(self->frontend, ZMQ_HEARTBEAT_TIMEOUT, SRV_HEARTBEAT_TMO);
    rc |= set_int(self->backend, ZMQ_LINGER, 0);
    rc |= set_int(self->backend, ZMQ_ROUTER_MANDATORY, 1); /* unknown worker: an error */
    if (rc != 0 || zmq_bind(self->frontend, self->bind) != 0 ||
        zmq_getsockopt(self->frontend, ZMQ_LAST_ENDPOINT, self->endpoint, &len) != 0 ||
        zmq_bind(self->backend, self->backend_addr) != 0)
        return -1;
    return 0;
}

static void close_sockets(proto_server_t *self)
{
    if (self->frontend)
        zmq_close(self->frontend);
    if (self->backend)
        zmq_close(self->backend);
    self->frontend = self->backend = NULL;
}

/* Signals the workers to stop and joins those that were started. */
static void join_workers(proto_server_t *self)
{
    atomic_store(&self->stop_workers, 1);
    for (int i = 0; i < total_workers(self); i++) {
        if (self->workers[i].started)
            pthread_join(self->workers[i].thread, NULL);
        self->workers[i].started = false;
    }
}

/* Starts the workers and waits until each is connected (or failed). */
static int start_workers(proto_server_t *self)
{
    for (int i = 0; i < total_workers(self); i++) {
        worker_t *w = &self->workers[i];
        w->srv = self;
        w->index = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            return -1;
        w->started = true;
    }
    pthread_mutex_lock(&self->mu);
    while (self->nready + self->nfailed < total_workers(self))
        pthread_cond_wait(&self->cv, &self->mu);
    int failed = self->nfailed;
    pthread_mutex_unlock(&self->mu);
    return failed ? -1 : 0;
}

int proto_server_start(proto_server_t *self)
{
    if (!self)
        return -1;
    pthread_mutex_lock(&self->mu);
    srv_state_t st = self->state;
    pthread_mutex_unlock(&self->mu);
    if (st != SRV_NEW)
        return -1;
    proxy_init(self);
    if (open_sockets(self) != 0 || start_workers(self) != 0 ||
        pthread_create(&self->proxy, NULL, proxy_main, self) != 0)
        goto fail;
    pthread_mutex_lock(&self->mu);
    self->state = SRV_RUNNING;
    pthread_mutex_unlock(&self->mu);
    return 0;
fail:
    join_workers(self);
    close_sockets(self);
    self->endpoint[0] = '\0';
    pthread_mutex_lock(&self->mu);
    self->state = SRV_STOPPED;
    pthread_mutex_unlock(&self->mu);
    return -1;
}

const char *proto_server_endpoint(const proto_server_t *self)
{
    return self ? self->endpoint : "";
}

int proto_server_in_flight(proto_server_t *self)
{
    return self ? atomic_load(&self->in_flight) : 0;
}

void proto_server_stop(proto_server_t *self, int grace_ms)
{
    if (!self)
        return;
    /* Held throughout, so a concurrent second stop returns only when done. */
    pthread_mutex_lock(&self->mu);
    if (self->state == SRV_RUNNING) {
        atomic_store(&self->drain_deadline, now_ms() + (grace_ms > 0 ? grace_ms : 0));
        atomic_store_explicit(&self->stop_proxy, 1, memory_order_release);
        pthread_join(self->proxy, NULL);
        join_workers(self);
    }
    self->state = SRV_STOPPED;
    pthread_mutex_unlock(&self->mu);
}

void proto_server_destroy(proto_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    proto_server_t *self = *self_p;
    proto_server_stop(self, 0);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    server_free(self);
    *self_p = NULL;
}
