/*
 * rpc_bench: round trips per second of the RPC layer (proto_client ->
 * proto_server, sys.ping) against bare libzmq over TCP loopback with the same
 * request and reply bytes.
 *
 *   bare_zmq     REQ -> REP, one client (the floor for one caller)
 *   bare_broker  REQ -> ROUTER/zmq_proxy/DEALER -> W REP workers, what a
 *                server must do to answer several callers at once (it
 *                round-robins blindly; proto_server dispatches to idle
 *                workers, which costs nothing extra)
 *   proto_rpc    proto_client -> proto_server with W workers
 *
 * Usage: rpc_bench [--seconds S] [--rounds R] [--clients N] [--workers W]
 * Every measurement runs S seconds per round; rounds are interleaved and the
 * best round is reported (other load on the machine only ever slows a run
 * down). Total time is about 5 * S * R seconds. Prints one line per
 * measurement and the ratios proto_rpc/bare for one client (against
 * bare_zmq) and N clients (against bare_broker).
 */
#include "proto_client.h"
#include "proto_server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define EP_MAX    128
#define BENCH_RID "bench-0123456789abcdef0123456789" /* request ~60 bytes */

typedef struct {
    double seconds; /* per measurement and round */
    int rounds;
    int clients;
    int workers;
    void *zctx;
    msgpack_sbuffer req;   /* a sys.ping request, ~60 bytes */
    msgpack_sbuffer reply; /* the reply the proto server sends to it */
} bench_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *zsock(void *zctx, int type, int rcvtimeo)
{
    void *s = zmq_socket(zctx, type);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    return s;
}

static int bind_any(void *s, const char *addr, char *ep)
{
    size_t len = EP_MAX;
    if (zmq_bind(s, addr) != 0 || zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) != 0) {
        fprintf(stderr, "bind %s: %s\n", addr, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* ---- bare REP echo (the worker of both bare setups) ---- */

typedef struct {
    bench_t *b;
    const char *ep; /* connect here (behind a broker) ... */
    void *bound;    /* ... or serve this already bound REP (direct) */
    atomic_int *stop;
    atomic_int *ready;
} rep_arg_t;

static void *bare_rep_main(void *arg)
{
    rep_arg_t *a = arg;
    void *rep = a->bound ? a->bound : zsock(a->b->zctx, ZMQ_REP, 100);
    char buf[512];
    if (!a->bound && zmq_connect(rep, a->ep) != 0)
        fprintf(stderr, "rep: %s\n", zmq_strerror(zmq_errno()));
    atomic_fetch_add(a->ready, 1);
    while (!atomic_load(a->stop)) {
        if (zmq_recv(rep, buf, sizeof buf, 0) < 0)
            continue;
        zmq_send(rep, a->b->reply.data, a->b->reply.size, 0);
    }
    zmq_close(rep);
    return NULL;
}

/* ---- clients ---- */

typedef struct {
    bench_t *b;
    const char *ep;
    bool proto;
    pthread_barrier_t *go;
    long count;
    long errors;
} client_arg_t;

static void bare_client(client_arg_t *a)
{
    void *req = zsock(a->b->zctx, ZMQ_REQ, 2000);
    char buf[512];
    zmq_connect(req, a->ep);
    for (int i = 0; i < 20; i++) { /* warm up: connect, first allocations */
        zmq_send(req, a->b->req.data, a->b->req.size, 0);
        zmq_recv(req, buf, sizeof buf, 0);
    }
    pthread_barrier_wait(a->go);
    double deadline = now_s() + a->b->seconds;
    while (now_s() < deadline) {
        if (zmq_send(req, a->b->req.data, a->b->req.size, 0) < 0 ||
            zmq_recv(req, buf, sizeof buf, 0) < 0) {
            a->errors++;
            break; /* a REQ that missed a reply is stuck */
        }
        a->count++;
    }
    zmq_close(req);
}

static void proto_client_loop(client_arg_t *a)
{
    proto_client_t *c = proto_client_new(a->b->zctx, a->ep, 2000, NULL);
    proto_reply_t r;
    for (int i = 0; i < 20; i++) {
        proto_client_call(c, PROTO_OP_SYS_PING, BENCH_RID, NULL, 0, &r, -1);
        proto_reply_cleanup(&r);
    }
    pthread_barrier_wait(a->go);
    double deadline = now_s() + a->b->seconds;
    while (now_s() < deadline) {
        if (proto_client_call(c, PROTO_OP_SYS_PING, BENCH_RID, NULL, 0, &r, -1) == PROTO_OK)
            a->count++;
        else
            a->errors++;
        proto_reply_cleanup(&r);
    }
    proto_client_destroy(&c);
}

static void *client_main(void *arg)
{
    client_arg_t *a = arg;
    if (a->proto)
        proto_client_loop(a);
    else
        bare_client(a);
    return NULL;
}

/* Runs `n` client threads against `ep` for b->seconds; returns round trips/s.
 * Each client warms up, then all start together at a barrier. */
static double run_clients(bench_t *b, const char *ep, int n, bool proto)
{
    pthread_t *th = calloc((size_t)n, sizeof *th);
    client_arg_t *args = calloc((size_t)n, sizeof *args);
    pthread_barrier_t go;
    long total = 0, errors = 0;
    if (!th || !args)
        goto cleanup;
    pthread_barrier_init(&go, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        args[i] = (client_arg_t){.b = b, .ep = ep, .proto = proto, .go = &go};
        pthread_create(&th[i], NULL, client_main, &args[i]);
    }
    pthread_barrier_wait(&go);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += args[i].count;
        errors += args[i].errors;
    }
    double elapsed = now_s() - t0;
    pthread_barrier_destroy(&go);
    if (errors)
        fprintf(stderr, "warning: %ld failed calls\n", errors);
cleanup:
    free(th);
    free(args);
    return total > 0 ? (double)total / elapsed : 0.0;
}

/* ---- setups ---- */

/* REQ -> REP directly: one client. */
static double bench_bare_direct(bench_t *b)
{
    char ep[EP_MAX];
    atomic_int stop = 0, ready = 0;
    /* Bound here to learn the port; the thread then owns the socket. */
    void *rep = zsock(b->zctx, ZMQ_REP, 100);
    if (bind_any(rep, "tcp://127.0.0.1:*", ep) != 0) {
        zmq_close(rep);
        return 0;
    }
    rep_arg_t ra = {.b = b, .bound = rep, .stop = &stop, .ready = &ready};
    pthread_t th;
    pthread_create(&th, NULL, bare_rep_main, &ra);
    while (!atomic_load(&ready))
        ;
    double rate = run_clients(b, ep, 1, false);
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    return rate;
}

typedef struct {
    void *front, *back, *ctl;
} broker_t;

static void *broker_main(void *arg)
{
    broker_t *k = arg;
    zmq_proxy_steerable(k->front, k->back, NULL, k->ctl);
    return NULL;
}

/* REQ -> ROUTER/zmq_proxy/DEALER -> W REP workers. */
static double bench_bare_broker(bench_t *b, int nclients)
{
    char ep[EP_MAX], back_ep[EP_MAX];
    atomic_int stop = 0, ready = 0;
    broker_t k = {zsock(b->zctx, ZMQ_ROUTER, -1), zsock(b->zctx, ZMQ_DEALER, -1),
                  zsock(b->zctx, ZMQ_PAIR, -1)};
    void *ctl = zsock(b->zctx, ZMQ_PAIR, -1);
    double rate = 0;
    rep_arg_t ra = {.b = b, .ep = back_ep, .stop = &stop, .ready = &ready};
    pthread_t bt, *wt = calloc((size_t)b->workers, sizeof *wt);
    if (!wt || bind_any(k.front, "tcp://127.0.0.1:*", ep) != 0 ||
        bind_any(k.back, "inproc://bench-back", back_ep) != 0 ||
        zmq_bind(k.ctl, "inproc://bench-ctl") != 0 || zmq_connect(ctl, "inproc://bench-ctl") != 0)
        goto cleanup;
    for (int i = 0; i < b->workers; i++)
        pthread_create(&wt[i], NULL, bare_rep_main, &ra);
    while (atomic_load(&ready) < b->workers)
        ;
    pthread_create(&bt, NULL, broker_main, &k);
    rate = run_clients(b, ep, nclients, false);
    zmq_send(ctl, "TERMINATE", 9, 0);
    pthread_join(bt, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < b->workers; i++)
        pthread_join(wt[i], NULL);
cleanup:
    free(wt);
    zmq_close(ctl);
    zmq_close(k.front);
    zmq_close(k.back);
    zmq_close(k.ctl);
    return rate;
}

static proto_err_t bench_ping(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail)
{
    msgpack_pack_map(body, 1);
    proto_pack_kv_str(body, "svc", "bench");
    return PROTO_OK;
}

static const proto_handler_t bench_handlers[] = {{PROTO_OP_SYS_PING, bench_ping}};

/* proto_client -> proto_server. */
static double bench_proto(bench_t *b, int nclients)
{
    proto_server_config_t cfg = {.bind = "tcp://127.0.0.1:*",
                                 .workers = b->workers,
                                 .handlers = bench_handlers,
                                 .nhandlers = 1,
                                 .limits = proto_limits_default()};
    proto_server_t *srv = proto_server_new(b->zctx, &cfg);
    if (!srv || proto_server_start(srv) != 0) {
        fprintf(stderr, "proto_server: cannot start\n");
        proto_server_destroy(&srv);
        return 0;
    }
    double rate = run_clients(b, proto_server_endpoint(srv), nclients, true);
    proto_server_destroy(&srv);
    return rate;
}

/* The same bytes the proto path puts on the wire. */
static int build_payloads(bench_t *b)
{
    char body[32];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_str(&pk, "svc", "bench");
    memcpy(body, sb.data, sb.size);
    size_t body_len = sb.size;
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_init(&b->req);
    msgpack_sbuffer_init(&b->reply);
    if (proto_request_encode(&b->req, PROTO_OP_SYS_PING, BENCH_RID, NULL, 0) != 0 ||
        proto_reply_encode_ok(&b->reply, body, body_len) != 0)
        return -1;
    return 0;
}

static int parse_args(bench_t *b, int argc, char **argv)
{
    b->seconds = 1;
    b->rounds = 3;
    b->clients = 4;
    b->workers = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0)
            b->seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            b->rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--clients") == 0)
            b->clients = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            b->workers = atoi(argv[i + 1]);
        else
            return -1;
    }
    if (argc % 2 == 0 || b->seconds <= 0 || b->seconds > 60 || b->rounds < 1 || b->rounds > 20 ||
        b->clients < 1 || b->clients > 256 || b->workers < 1 || b->workers > 256)
        return -1;
    return 0;
}

enum { M_BARE1, M_BROKER1, M_PROTO1, M_BROKERN, M_PROTON, M__COUNT };

/* One round of every measurement, interleaved so that a burst of load from
 * elsewhere on the machine hits both sides of a comparison alike. */
static void run_round(bench_t *b, double best[M__COUNT])
{
    double r[M__COUNT] = {
        [M_BARE1] = bench_bare_direct(b),        [M_BROKER1] = bench_bare_broker(b, 1),
        [M_PROTO1] = bench_proto(b, 1),          [M_BROKERN] = bench_bare_broker(b, b->clients),
        [M_PROTON] = bench_proto(b, b->clients),
    };
    for (int i = 0; i < M__COUNT; i++)
        if (r[i] > best[i])
            best[i] = r[i];
}

int main(int argc, char **argv)
{
    bench_t b = {0};
    double best[M__COUNT] = {0};
    if (parse_args(&b, argc, argv) != 0) {
        fprintf(stderr, "usage: %s [--seconds S] [--rounds R] [--clients N] [--workers W]\n",
                argv[0]);
        return 2;
    }
    b.zctx = zmq_ctx_new();
    if (!b.zctx || build_payloads(&b) != 0)
        return 1;
    printf("payload request_bytes=%zu reply_bytes=%zu seconds=%.1f rounds=%d (best round)\n",
           b.req.size, b.reply.size, b.seconds, b.rounds);
    for (int i = 0; i < b.rounds; i++)
        run_round(&b, best);
    printf("bare_zmq clients=1 rt_per_s=%.0f\n", best[M_BARE1]);
    printf("bare_broker clients=1 workers=%d rt_per_s=%.0f\n", b.workers, best[M_BROKER1]);
    printf("proto_rpc clients=1 workers=%d rt_per_s=%.0f\n", b.workers, best[M_PROTO1]);
    printf("bare_broker clients=%d workers=%d rt_per_s=%.0f\n", b.clients, b.workers,
           best[M_BROKERN]);
    printf("proto_rpc clients=%d workers=%d rt_per_s=%.0f\n", b.clients, b.workers, best[M_PROTON]);
    printf("ratio clients=1 proto_rpc/bare_zmq=%.2f\n",
           best[M_BARE1] > 0 ? best[M_PROTO1] / best[M_BARE1] : 0.0);
    printf("ratio clients=%d proto_rpc/bare_broker=%.2f\n", b.clients,
           best[M_BROKERN] > 0 ? best[M_PROTON] / best[M_BROKERN] : 0.0);
    msgpack_sbuffer_destroy(&b.req);
    msgpack_sbuffer_destroy(&b.reply);
    zmq_ctx_term(b.zctx);
    return 0;
}
