/*
 * test_rpc: the RPC runtime end to end over TCP loopback (proto_client,
 * proto_pool, proto_server): round trips, error propagation, garbage input,
 * dead and restarted servers, concurrency through a pool and across workers,
 * graceful stop with requests in flight.
 *
 * Servers bind tcp://127.0.0.1:*. Timing assertions use generous margins:
 * they tell "concurrent" from "serial" and "bounded" from "hung", nothing finer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_client.h"
#include "proto_server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ---- a test service ---- */

enum { HEALTH_OK, HEALTH_ERROR, HEALTH_SLOW, HEALTH_SLOW_FIRST };

typedef struct {
    atomic_int health_mode;
    int slow_ms;
    atomic_int health_calls;
    atomic_int active, max_active;
    atomic_int inits, finis;
} tsvc_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static proto_err_t h_ping(const proto_call_ctx_t *cc, const proto_request_t *req,
                          msgpack_packer *body, proto_fail_t *fail)
{
    msgpack_pack_map(body, 2);
    proto_pack_kv_str(body, "svc", "test");
    proto_pack_kv_str(body, "rid", req->rid);
    return PROTO_OK;
}

static void slow_section(tsvc_t *s)
{
    int now = atomic_fetch_add(&s->active, 1) + 1;
    int max = atomic_load(&s->max_active);
    while (now > max && !atomic_compare_exchange_weak(&s->max_active, &max, now))
        ;
    sleep_ms(s->slow_ms);
    atomic_fetch_sub(&s->active, 1);
}

static proto_err_t h_health(const proto_call_ctx_t *cc, const proto_request_t *req,
                            msgpack_packer *body, proto_fail_t *fail)
{
    tsvc_t *s = cc->svc;
    int n = atomic_fetch_add(&s->health_calls, 1);
    switch (atomic_load(&s->health_mode)) {
    case HEALTH_ERROR:
        strcpy(fail->msg, "slow down");
        fail->retry_after = 42;
        return PROTO_ERR_RATE_LIMITED;
    case HEALTH_SLOW:
        slow_section(s);
        break;
    case HEALTH_SLOW_FIRST:
        if (n == 0)
            slow_section(s);
        break;
    default:
        break;
    }
    msgpack_pack_map(body, 1);
    proto_pack_kv_int(body, "worker", cc->worker_index);
    return PROTO_OK;
}

static void *w_init(void *svc, int index)
{
    atomic_fetch_add(&((tsvc_t *)svc)->inits, 1);
    return svc;
}

static void w_fini(void *svc, void *worker)
{
    assert_ptr_equal(svc, worker);
    atomic_fetch_add(&((tsvc_t *)svc)->finis, 1);
}

static const proto_handler_t handlers[] = {
    {PROTO_OP_SYS_PING, h_ping},
    {PROTO_OP_SYS_HEALTH, h_health},
};

static proto_server_t *server_on(void *zctx, tsvc_t *svc, const char *bind, int workers,
                                 size_t nhandlers)
{
    proto_server_config_t cfg = {
        .bind = bind,
        .workers = workers,
        .handlers = handlers,
        .nhandlers = nhandlers,
        .svc = svc,
        .worker_init = w_init,
        .worker_fini = w_fini,
        .limits = proto_limits_default(),
    };
    cfg.limits.max_msg_bytes = 64 * 1024;
    proto_server_t *srv = proto_server_new(zctx, &cfg);
    assert_non_null(srv);
    assert_int_equal(proto_server_start(srv), 0);
    return srv;
}

static proto_server_t *server_start(void *zctx, tsvc_t *svc, int workers)
{
    return server_on(zctx, svc, "tcp://127.0.0.1:*", workers, 2);
}

static proto_client_t *client_to(void *zctx, const proto_server_t *srv, int timeout_ms)
{
    proto_client_t *c = proto_client_new(zctx, proto_server_endpoint(srv), timeout_ms, NULL);
    assert_non_null(c);
    return c;
}

static void wait_in_flight(proto_server_t *srv, int want)
{
    long long end = now_ms() + 3000;
    while (proto_server_in_flight(srv) != want && now_ms() < end)
        sleep_ms(2);
    assert_int_equal(proto_server_in_flight(srv), want);
}

/* ---- a slow lane ---- */

/* auth.token stands in for any slow op: it sleeps slow_ms and reports the
 * worker that ran it. */
static proto_err_t h_slow(const proto_call_ctx_t *cc, const proto_request_t *req,
                          msgpack_packer *body, proto_fail_t *fail)
{
    slow_section(cc->svc);
    msgpack_pack_map(body, 1);
    proto_pack_kv_int(body, "worker", cc->worker_index);
    return PROTO_OK;
}

static const proto_handler_t lane_handlers[] = {
    {PROTO_OP_SYS_PING, h_ping},
    {PROTO_OP_AUTH_TOKEN, h_slow},
};

/* A valid auth.token body (the codec checks the op's fields). */
static void token_body(msgpack_sbuffer *b)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(b);
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    proto_pack_kv_str(&pk, "username", "u");
    proto_pack_kv_str(&pk, "password", "p");
    proto_pack_kv_str(&pk, "client_ip", "127.0.0.1");
}

typedef struct {
    void *zctx;
    const char *ep;
    proto_err_t err;
    long long ms;
    int64_t worker;
} slow_call_t;

static void *slow_caller(void *arg)
{
    slow_call_t *a = arg;
    msgpack_sbuffer b;
    token_body(&b);
    proto_client_t *c = proto_client_new(a->zctx, a->ep, 5000, NULL);
    proto_reply_t r;
    long long t0 = now_ms();
    a->err = proto_client_call(c, PROTO_OP_AUTH_TOKEN, "slow", b.data, b.size, &r, -1);
    a->ms = now_ms() - t0;
    a->worker = -1;
    if (a->err == PROTO_OK)
        proto_get_int(r.body, "worker", &a->worker);
    proto_reply_cleanup(&r);
    proto_client_destroy(&c);
    msgpack_sbuffer_destroy(&b);
    return NULL;
}

/* A started server with one fast and one slow worker. */
static proto_server_t *lane_server(void *zctx, tsvc_t *svc, int queue, int max_wait_ms, int nice)
{
    proto_server_config_t cfg = {
        .bind = "tcp://127.0.0.1:*",
        .workers = 1,
        .handlers = lane_handlers,
        .nhandlers = 2,
        .svc = svc,
        .limits = proto_limits_default(),
        .slow_workers = 1,
        .slow_queue = queue,
        .slow_nice = nice,
        .slow_max_wait_ms = max_wait_ms,
    };
    proto_server_t *srv = proto_server_new(zctx, &cfg);
    assert_non_null(srv);
    assert_int_equal(proto_server_start(srv), 0);
    return srv;
}

/* Starts `n` threads each making one slow call to `srv`. */
static void start_slow_calls(void *zctx, proto_server_t *srv, slow_call_t *calls, pthread_t *th,
                             int n)
{
    for (int i = 0; i < n; i++) {
        calls[i] = (slow_call_t){.zctx = zctx, .ep = proto_server_endpoint(srv)};
        assert_int_equal(pthread_create(&th[i], NULL, slow_caller, &calls[i]), 0);
    }
}

/* One fast worker, one slow worker, a slow queue of one: of three slow
 * calls one runs, one waits, one is refused at once; fast calls are never
 * held up by them; slow calls run only on the slow worker. */
static void test_rpc_slow_lane_isolates_and_bounds(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.slow_ms = 600};
    proto_server_t *srv = lane_server(zctx, &svc, 1, 0, 5);
    slow_call_t calls[3];
    pthread_t th[3];
    start_slow_calls(zctx, srv, calls, th, 3);
    wait_in_flight(srv, 1); /* the slow worker is busy */
    proto_client_t *c = client_to(zctx, srv, 2000);
    for (int i = 0; i < 5; i++) {
        proto_reply_t r;
        long long t0 = now_ms();
        assert_int_equal(proto_client_call(c, PROTO_OP_SYS_PING, "fast", NULL, 0, &r, -1),
                         PROTO_OK);
        assert_true(now_ms() - t0 < 300); /* not behind a 600 ms slow call */
        proto_reply_cleanup(&r);
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        if (calls[i].err == PROTO_OK) {
            ok++;
            assert_int_equal(calls[i].worker, 1); /* the slow worker's index */
        } else {
            assert_int_equal(calls[i].err, PROTO_ERR_UNAVAILABLE);
            assert_true(calls[i].ms < 500); /* refused at once, not timed out */
            refused++;
        }
    }
    assert_int_equal(ok, 2);
    assert_int_equal(refused, 1);
    assert_int_equal(atomic_load(&svc.max_active), 1);
    proto_client_destroy(&c);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* Queued slow requests that wait longer than slow_max_wait_ms are answered
 * unavailable well before the running one ends, not run after it. */
static void test_rpc_slow_queue_expires_stale_requests(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.slow_ms = 700};
    proto_server_t *srv = lane_server(zctx, &svc, 4, 100, 0);
    slow_call_t calls[3];
    pthread_t th[3];
    start_slow_calls(zctx, srv, calls, th, 3);
    int ok = 0, expired = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        if (calls[i].err == PROTO_OK) {
            ok++;
        } else {
            assert_int_equal(calls[i].err, PROTO_ERR_UNAVAILABLE);
            assert_true(calls[i].ms < 550); /* not after the 700 ms call */
            expired++;
        }
    }
    assert_int_equal(ok, 1);
    assert_int_equal(expired, 2);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* ---- tests ---- */

static void test_rpc_round_trip(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {0};
    proto_server_t *srv = server_start(zctx, &svc, 2);
    const char *ep = proto_server_endpoint(srv);
    assert_true(strncmp(ep, "tcp://127.0.0.1:", 16) == 0);
    assert_null(strchr(ep, '*'));
    assert_int_equal(atomic_load(&svc.inits), 2);

    proto_client_t *c = client_to(zctx, srv, 2000);
    proto_reply_t r1, r2;
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_PING, "rid-1", NULL, 0, &r1, -1), PROTO_OK);
    assert_true(r1.ok);
    /* A second reply must not disturb the first (it owns its frame). */
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_PING, "rid-2", NULL, 0, &r2, -1), PROTO_OK);
    char buf[32];
    assert_int_equal(proto_get_str(r1.body, "svc", buf, sizeof buf), 0);
    assert_string_equal(buf, "test");
    assert_int_equal(proto_get_str(r1.body, "rid", buf, sizeof buf), 0);
    assert_string_equal(buf, "rid-1");
    assert_int_equal(proto_get_str(r2.body, "rid", buf, sizeof buf), 0);
    assert_string_equal(buf, "rid-2");
    proto_reply_cleanup(&r1);
    proto_reply_cleanup(&r2);
    assert_int_equal(proto_server_in_flight(srv), 0);

    proto_client_destroy(&c);
    assert_null(c);
    proto_server_destroy(&srv);
    assert_null(srv);
    assert_int_equal(atomic_load(&svc.finis), 2);
    zmq_ctx_term(zctx);
}

/* A reply of 4 MiB: sent without a copy (its buffer handed to ZeroMQ) and
 * whole, several times on the same workers (whose reply buffer starts
 * empty again each time), next to small replies. Odd rids write the bytes
 * straight into the reply (proto_pack_bin_reserve, as store.file_read
 * does), even ones pack a copy; a rid of "x-fail" fails with half a body
 * packed, which must leave nothing of it in the error reply. */
static proto_err_t h_big(const proto_call_ctx_t *cc, const proto_request_t *req,
                         msgpack_packer *body, proto_fail_t *fail)
{
    enum { BIG = 4 * 1024 * 1024 }; /* above ZERO_COPY_MIN */
    static char data[BIG];
    msgpack_pack_map(body, 3); /* the shape of store.file_read's reply */
    proto_pack_cstr(body, "data");
    if (req->rid[0] % 2) {
        char *dst = proto_pack_bin_reserve(body, BIG);
        if (!dst)
            return PROTO_ERR_INTERNAL_ERROR;
        memset(dst, req->rid[0], BIG);
    } else {
        memset(data, req->rid[0], sizeof data);
        msgpack_pack_bin(body, sizeof data);
        msgpack_pack_bin_body(body, data, sizeof data);
    }
    if (strcmp(req->rid, "x-fail") == 0) {
        snprintf(fail->msg, sizeof fail->msg, "gone");
        return PROTO_ERR_NOT_FOUND;
    }
    proto_pack_kv_int(body, "size", (int64_t)BIG);
    proto_pack_kv_str(body, "sha256", "00");
    return PROTO_OK;
}

static void test_rpc_large_reply_round_trip(void **state)
{
    static const proto_handler_t big_handlers[] = {
        {PROTO_OP_STORE_FILE_READ, h_big},
        {PROTO_OP_SYS_HEALTH, h_health},
    };
    msgpack_sbuffer req;
    msgpack_sbuffer_init(&req);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    proto_pack_kv_str(&pk, "id", "0190a4d2-0000-7000-8000-000000000001");
    proto_pack_kv_str(&pk, "actor_id", "0190a4d2-0000-7000-8000-000000000002");
    proto_pack_kv_str(&pk, "actor_role", "user");
    proto_pack_kv_int(&pk, "offset", 0);
    proto_pack_kv_int(&pk, "length", 4 * 1024 * 1024);
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {0};
    proto_server_config_t cfg = {
        .bind = "tcp://127.0.0.1:*",
        .workers = 2,
        .handlers = big_handlers,
        .nhandlers = 2,
        .svc = &svc,
        .worker_init = w_init,
        .worker_fini = w_fini,
        .limits = proto_limits_files(),
    };
    proto_server_t *srv = proto_server_new(zctx, &cfg);
    assert_non_null(srv);
    assert_int_equal(proto_server_start(srv), 0);
    const proto_limits_t files = proto_limits_files(); /* bins as large as a file part */
    proto_client_t *c = proto_client_new(zctx, proto_server_endpoint(srv), 5000, &files);
    assert_non_null(c);
    for (int i = 0; i < 6; i++) {
        char rid[8];
        snprintf(rid, sizeof rid, "%c-rid", 'a' + i);
        proto_reply_t r;
        assert_int_equal(
            proto_client_call(c, PROTO_OP_STORE_FILE_READ, rid, req.data, req.size, &r, -1),
            PROTO_OK);
        const msgpack_object *bin = proto_map_get(r.body, "data");
        assert_non_null(bin);
        assert_int_equal(bin->type, MSGPACK_OBJECT_BIN);
        assert_int_equal(bin->via.bin.size, 4 * 1024 * 1024);
        for (size_t k = 0; k < bin->via.bin.size; k += 4093)
            assert_int_equal(bin->via.bin.ptr[k], rid[0]);
        assert_int_equal(bin->via.bin.ptr[bin->via.bin.size - 1], rid[0]);
        proto_reply_cleanup(&r);
        assert_int_equal(proto_client_call(c, PROTO_OP_SYS_HEALTH, "small", NULL, 0, &r, -1),
                         PROTO_OK);
        assert_true(r.ok);
        proto_reply_cleanup(&r);
        assert_int_equal(
            proto_client_call(c, PROTO_OP_STORE_FILE_READ, "x-fail", req.data, req.size, &r, -1),
            PROTO_ERR_NOT_FOUND);
        assert_false(r.ok);
        assert_string_equal(r.errmsg, "gone");
        assert_null(r.body);
        proto_reply_cleanup(&r);
    }
    msgpack_sbuffer_destroy(&req);
    proto_client_destroy(&c);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

static void test_rpc_error_reply_propagates(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.health_mode = HEALTH_ERROR};
    proto_server_t *srv = server_start(zctx, &svc, 1);
    proto_client_t *c = client_to(zctx, srv, 2000);
    proto_reply_t r;
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_HEALTH, "r", NULL, 0, &r, -1),
                     PROTO_ERR_RATE_LIMITED);
    assert_false(r.ok);
    assert_int_equal(r.err, PROTO_ERR_RATE_LIMITED);
    assert_string_equal(r.errmsg, "slow down");
    assert_int_equal(r.retry_after, 42);
    assert_null(r.body);
    proto_reply_cleanup(&r);
    /* An error is an answer, not a timeout: the handler ran once. */
    assert_int_equal(atomic_load(&svc.health_calls), 1);
    proto_client_destroy(&c);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

static void test_rpc_unknown_op_is_bad_request(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {0};
    /* Only the first row (sys.ping) is installed. */
    proto_server_t *srv = server_on(zctx, &svc, "tcp://127.0.0.1:*", 1, 1);
    proto_client_t *c = client_to(zctx, srv, 2000);
    proto_reply_t r;
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_HEALTH, "r", NULL, 0, &r, -1),
                     PROTO_ERR_BAD_REQUEST);
    assert_string_equal(r.errmsg, "unknown op");
    proto_reply_cleanup(&r);
    proto_client_destroy(&c);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* Sends `len` bytes on a raw REQ and decodes the reply. */
static proto_err_t raw_req(void *zctx, const char *ep, const void *data, size_t len)
{
    void *s = zmq_socket(zctx, ZMQ_REQ);
    int t = 2000, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, ep), 0);
    assert_int_equal(zmq_send(s, data, len, 0), (int)len);
    char buf[512];
    int n = zmq_recv(s, buf, sizeof buf, 0);
    assert_true(n > 0 && n <= (int)sizeof buf);
    proto_reply_t r;
    proto_limits_t lim = proto_limits_default();
    proto_reply_init(&r);
    assert_int_equal(proto_reply_decode(buf, (size_t)n, &lim, &r), PROTO_OK);
    proto_err_t err = r.err;
    proto_reply_cleanup(&r);
    zmq_close(s);
    return err;
}

/* A raw DEALER can send envelopes a REQ never would; the proxy drops them. */
static void raw_dealer_junk(void *zctx, const char *ep)
{
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(d, ep), 0);
    zmq_send(d, "no delimiter", 12, 0); /* [id][body] */
    zmq_send(d, "", 0, ZMQ_SNDMORE);    /* two bodies */
    zmq_send(d, "a", 1, ZMQ_SNDMORE);
    zmq_send(d, "b", 1, 0);
    zmq_send(d, "", 0, ZMQ_SNDMORE); /* two delimiters */
    zmq_send(d, "", 0, ZMQ_SNDMORE);
    zmq_send(d, "c", 1, 0);
    for (int i = 0; i < 20; i++) /* too many parts */
        zmq_send(d, "x", 1, i < 19 ? ZMQ_SNDMORE : 0);
    zmq_send(d, "", 0, ZMQ_SNDMORE); /* a valid envelope with a garbage body */
    zmq_send(d, "\xc1", 1, 0);
    char buf[256];
    int t = 2000;
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &t, sizeof t);
    assert_int_equal(zmq_recv(d, buf, sizeof buf, 0), 0); /* delimiter of the one reply */
    assert_true(zmq_recv(d, buf, sizeof buf, 0) > 0);
    zmq_close(d);
}

/* A frame above ZMQ_MAXMSGSIZE makes ZeroMQ drop the connection. */
static void raw_oversize(void *zctx, const char *ep)
{
    void *s = zmq_socket(zctx, ZMQ_REQ);
    int zero = 0, t = 300;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
    assert_int_equal(zmq_connect(s, ep), 0);
    static char big[128 * 1024];
    assert_int_equal(zmq_send(s, big, sizeof big, 0), (int)sizeof big);
    char buf[16];
    assert_int_equal(zmq_recv(s, buf, sizeof buf, 0), -1);
    zmq_close(s);
}

static void test_rpc_garbage_gets_bad_request(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {0};
    proto_server_t *srv = server_start(zctx, &svc, 2);
    const char *ep = proto_server_endpoint(srv);
    assert_int_equal(raw_req(zctx, ep, "not msgpack\xc1", 12), PROTO_ERR_BAD_REQUEST);
    assert_int_equal(raw_req(zctx, ep, "", 0), PROTO_ERR_BAD_REQUEST);
    assert_int_equal(raw_req(zctx, ep, "\xdf\xff\xff\xff\xff", 5), PROTO_ERR_BAD_REQUEST);
    raw_dealer_junk(zctx, ep);
    raw_oversize(zctx, ep);
    wait_in_flight(srv, 0);

    /* ... and the server keeps answering. */
    proto_client_t *c = client_to(zctx, srv, 2000);
    proto_reply_t r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(proto_client_call(c, PROTO_OP_SYS_PING, "r", NULL, 0, &r, -1), PROTO_OK);
        proto_reply_cleanup(&r);
    }
    proto_client_destroy(&c);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* A peer that answers with something that is not a reply. */
static void *bad_rep_main(void *arg)
{
    void *rep = arg;
    char buf[256];
    if (zmq_recv(rep, buf, sizeof buf, 0) >= 0)
        zmq_send(rep, "garbage", 7, 0);
    return NULL;
}

static void test_rpc_malformed_reply_is_unavailable(void **state)
{
    void *zctx = zmq_ctx_new();
    void *rep = zmq_socket(zctx, ZMQ_REP);
    int zero = 0, t = 3000;
    zmq_setsockopt(rep, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(rep, ZMQ_RCVTIMEO, &t, sizeof t);
    assert_int_equal(zmq_bind(rep, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t len = sizeof ep;
    assert_int_equal(zmq_getsockopt(rep, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bad_rep_main, rep), 0);

    proto_client_t *c = proto_client_new(zctx, ep, 2000, NULL);
    assert_non_null(c);
    proto_reply_t r;
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_PING, "r", NULL, 0, &r, -1),
                     PROTO_ERR_UNAVAILABLE);
    assert_false(r.ok);
    proto_reply_cleanup(&r);
    pthread_join(th, NULL);
    proto_client_destroy(&c);
    zmq_close(rep);
    zmq_ctx_term(zctx);
}

static proto_err_t ping(proto_client_t *c, long long *elapsed)
{
    proto_reply_t r;
    long long t0 = now_ms();
    proto_err_t err = proto_client_call(c, PROTO_OP_SYS_PING, "r", NULL, 0, &r, -1);
    if (elapsed)
        *elapsed = now_ms() - t0;
    proto_reply_cleanup(&r);
    return err;
}

static void test_rpc_dead_endpoint_unavailable_then_recovers(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {0};
    proto_server_t *srv = server_start(zctx, &svc, 1);
    char ep[128];
    strcpy(ep, proto_server_endpoint(srv));
    proto_client_t *c = proto_client_new(zctx, ep, 300, NULL);
    assert_non_null(c);
    assert_int_equal(ping(c, NULL), PROTO_OK);

    /* The server goes away: unavailable, and within the timeout (the request
     * never left, so it is not retried). */
    proto_server_destroy(&srv);
    long long elapsed;
    assert_int_equal(ping(c, &elapsed), PROTO_ERR_UNAVAILABLE);
    assert_true(elapsed >= 250 && elapsed < 1000);
    assert_int_equal(ping(c, &elapsed), PROTO_ERR_UNAVAILABLE);

    /* A new server on the same port: the same client gets through again. */
    srv = server_on(zctx, &svc, ep, 1, 2);
    assert_string_equal(proto_server_endpoint(srv), ep);
    assert_int_equal(ping(c, NULL), PROTO_OK);
    assert_int_equal(ping(c, NULL), PROTO_OK);

    proto_client_destroy(&c);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* Slack allowed past a call's timeout: scheduling, not a second wait. */
#define DEADLINE_SLACK_MS 150

/* A reply that comes after the timeout: the call is unavailable at its
 * deadline and is not sent again (a resend would wait for the same slow
 * peer a second time); the late reply must not answer the next call. */
static void test_rpc_timeout_is_not_resent(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.health_mode = HEALTH_SLOW_FIRST, .slow_ms = 600};
    proto_server_t *srv = server_start(zctx, &svc, 2);
    proto_client_t *c = client_to(zctx, srv, 250);
    proto_reply_t r;
    long long t0 = now_ms();
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_HEALTH, "r", NULL, 0, &r, -1),
                     PROTO_ERR_UNAVAILABLE);
    long long elapsed = now_ms() - t0;
    assert_string_equal(r.errmsg, "service timed out");
    proto_reply_cleanup(&r);
    assert_true(elapsed >= 240 && elapsed < 250 + DEADLINE_SLACK_MS);
    assert_int_equal(atomic_load(&svc.health_calls), 1);
    sleep_ms(500); /* the late reply has come by now */
    assert_int_equal(ping(c, NULL), PROTO_OK);
    assert_int_equal(atomic_load(&svc.health_calls), 1);
    proto_client_destroy(&c);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* ---- a peer under the test's control ---- */

/* A bare ROUTER on a free loopback port (never answers by itself). */
static void *router_on(void *zctx, const char *bind, char *ep, size_t cap)
{
    void *r = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
    /* The port of a ROUTER just closed may be busy for a moment. */
    long long end = now_ms() + 2000;
    while (zmq_bind(r, bind) != 0) {
        assert_true(now_ms() < end);
        sleep_ms(10);
    }
    size_t len = cap;
    assert_int_equal(zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    return r;
}

/* Requests that reached `r` within `wait_ms`, each [id][empty][body];
 * the last one's identity is kept in `id` when given (for a reply). */
static int take_requests(void *r, int wait_ms, zmq_msg_t *id)
{
    int n = 0;
    zmq_pollitem_t it = {.socket = r, .events = ZMQ_POLLIN};
    long long end = now_ms() + wait_ms;
    while (zmq_poll(&it, 1, (long)(end > now_ms() ? end - now_ms() : 0)) > 0) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        for (int i = 0; zmq_msg_recv(&part, r, ZMQ_DONTWAIT) >= 0; i++) {
            if (i == 0 && id) {
                zmq_msg_close(id);
                zmq_msg_init(id);
                zmq_msg_copy(id, &part);
            }
            if (!zmq_msg_more(&part))
                break;
        }
        zmq_msg_close(&part);
        n++;
        if (wait_ms == 0 || (id && n > 0))
            break;
    }
    return n;
}

/* Sends a valid {"v":1,"ok":true} reply to the peer `id`. */
static void answer(void *r, zmq_msg_t *id)
{
    msgpack_sbuffer rep;
    msgpack_sbuffer_init(&rep);
    assert_int_equal(proto_reply_encode_ok(&rep, NULL, 0), 0);
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, id);
    zmq_msg_send(&copy, r, ZMQ_SNDMORE);
    zmq_send(r, "", 0, ZMQ_SNDMORE);
    zmq_send(r, rep.data, rep.size, 0);
    msgpack_sbuffer_destroy(&rep);
}

/* A peer that takes requests and never answers (a SIGSTOPped service
 * looks like this: the connection stays up, nothing comes back). Even an
 * idempotent op costs one timeout, not two, and is sent once. */
static void test_rpc_silent_peer_is_unavailable_within_the_timeout(void **state)
{
    void *zctx = zmq_ctx_new();
    char ep[128];
    void *r = router_on(zctx, "tcp://127.0.0.1:*", ep, sizeof ep);
    proto_client_t *c = proto_client_new(zctx, ep, 300, NULL);
    assert_non_null(c);
    proto_reply_t rep;
    long long t0 = now_ms();
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_HEALTH, "silent", NULL, 0, &rep, -1),
                     PROTO_ERR_UNAVAILABLE);
    long long elapsed = now_ms() - t0;
    proto_reply_cleanup(&rep);
    assert_true(elapsed >= 290 && elapsed < 300 + DEADLINE_SLACK_MS);
    assert_int_equal(take_requests(r, 100, NULL), 1);
    proto_client_destroy(&c);
    zmq_close(r);
    zmq_ctx_term(zctx);
}

typedef struct {
    proto_pool_t *pool;
    proto_op_t op;
    int start_after_ms;
    proto_err_t err;
    long long elapsed;
} pool_call_t;

static void *pool_call_thread(void *arg)
{
    pool_call_t *a = arg;
    msgpack_sbuffer b;
    token_body(&b); /* sent with auth.token only: sys.* ops take no fields */
    sleep_ms(a->start_after_ms);
    proto_reply_t r;
    long long t0 = now_ms();
    bool body = a->op == PROTO_OP_AUTH_TOKEN;
    a->err =
        proto_pool_call(a->pool, a->op, "pool", body ? b.data : NULL, body ? b.size : 0, &r, -1);
    a->elapsed = now_ms() - t0;
    proto_reply_cleanup(&r);
    msgpack_sbuffer_destroy(&b);
    return NULL;
}

/* Waiting for a pool's client is part of the call's one deadline: a
 * caller that waited for the only client gets what is left, not a fresh
 * timeout on top. */
static void test_rpc_pool_wait_counts_against_the_deadline(void **state)
{
    enum { T = 400 };
    void *zctx = zmq_ctx_new();
    char ep[128];
    void *r = router_on(zctx, "tcp://127.0.0.1:*", ep, sizeof ep);
    proto_pool_t *pool = proto_pool_new(zctx, ep, 1, T, NULL);
    assert_non_null(pool);
    pool_call_t a = {pool, PROTO_OP_AUTH_TOKEN, 0, PROTO_OK, 0};
    pool_call_t b = {pool, PROTO_OP_SYS_PING, T / 2, PROTO_OK, 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, pool_call_thread, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, pool_call_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.err, PROTO_ERR_UNAVAILABLE);
    assert_int_equal(b.err, PROTO_ERR_UNAVAILABLE);
    assert_true(a.elapsed < T + DEADLINE_SLACK_MS);
    assert_true(b.elapsed >= T - 10 && b.elapsed < T + DEADLINE_SLACK_MS);
    proto_pool_destroy(&pool);
    zmq_close(r);
    zmq_ctx_term(zctx);
}

/* The peer of the lost-connection tests: takes one request on a ROUTER,
 * closes it (the connection breaks: that request is lost), binds a new
 * ROUTER on the same port and answers whatever comes there. */
typedef struct {
    void *zctx;
    char ep[128];
    void *first;
    atomic_int second_got; /* requests that reached the new ROUTER */
    int second_wait_ms;
} vanish_t;

static void *vanish_main(void *arg)
{
    vanish_t *v = arg;
    zmq_msg_t id;
    zmq_msg_init(&id);
    if (take_requests(v->first, 3000, &id) == 1) {
        zmq_close(v->first);
        v->first = NULL;
        char ep[128];
        void *second = router_on(v->zctx, v->ep, ep, sizeof ep);
        long long end = now_ms() + v->second_wait_ms;
        while (now_ms() < end) {
            if (take_requests(second, (int)(end - now_ms()), &id) == 1) {
                atomic_fetch_add(&v->second_got, 1);
                answer(second, &id);
            }
        }
        zmq_close(second);
    }
    zmq_msg_close(&id);
    return NULL;
}

static void vanish_start(vanish_t *v, void *zctx, int second_wait_ms, pthread_t *th)
{
    *v = (vanish_t){.zctx = zctx, .second_wait_ms = second_wait_ms};
    v->first = router_on(zctx, "tcp://127.0.0.1:*", v->ep, sizeof v->ep);
    atomic_init(&v->second_got, 0);
    assert_int_equal(pthread_create(th, NULL, vanish_main, v), 0);
}

/* The connection an idempotent request went out on breaks before the
 * reply: the request is known lost, and it is sent again at once (on the
 * new connection) within the same deadline, instead of waiting for a
 * reply that cannot come. */
static void test_rpc_lost_connection_resends_idempotent_op(void **state)
{
    enum { T = 3000 };
    void *zctx = zmq_ctx_new();
    vanish_t v;
    pthread_t th;
    vanish_start(&v, zctx, T + 1000, &th);
    proto_client_t *c = proto_client_new(zctx, v.ep, T, NULL);
    assert_non_null(c);
    proto_reply_t rep;
    long long t0 = now_ms();
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_HEALTH, "lost", NULL, 0, &rep, -1),
                     PROTO_OK);
    long long elapsed = now_ms() - t0;
    proto_reply_cleanup(&rep);
    assert_true(elapsed < T / 2); /* not after waiting out the deadline */
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&v.second_got), 1);
    proto_client_destroy(&c);
    zmq_ctx_term(zctx);
}

/* A non-idempotent op is never sent twice, lost connection or not: it
 * ends unavailable at its deadline (the first copy may have been run). */
static void test_rpc_lost_connection_never_resends_other_ops(void **state)
{
    enum { T = 800 };
    void *zctx = zmq_ctx_new();
    vanish_t v;
    pthread_t th;
    vanish_start(&v, zctx, T + 500, &th);
    proto_client_t *c = proto_client_new(zctx, v.ep, T, NULL);
    msgpack_sbuffer b;
    token_body(&b);
    proto_reply_t rep;
    long long t0 = now_ms();
    assert_int_equal(proto_client_call(c, PROTO_OP_AUTH_TOKEN, "lost", b.data, b.size, &rep, -1),
                     PROTO_ERR_UNAVAILABLE);
    long long elapsed = now_ms() - t0;
    proto_reply_cleanup(&rep);
    assert_true(elapsed < T + DEADLINE_SLACK_MS);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&v.second_got), 0);
    msgpack_sbuffer_destroy(&b);
    proto_client_destroy(&c);
    zmq_ctx_term(zctx);
}

/* A pool reports each call to its outage tracker: a failed call (no
 * valid reply) counts, any reply (an error reply too) ends the outage. */
static void test_rpc_pool_reports_outages(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.health_mode = HEALTH_ERROR};
    proto_server_t *srv = server_start(zctx, &svc, 1);
    char ep[128];
    strcpy(ep, proto_server_endpoint(srv));
    proto_outage_t *o = proto_outage_new("testsvc");
    proto_pool_t *pool = proto_pool_new(zctx, ep, 2, 200, NULL);
    proto_pool_set_outage(pool, o);
    assert_ptr_equal(proto_pool_outage(pool), o);
    proto_reply_t r;
    assert_int_equal(proto_pool_call(pool, PROTO_OP_SYS_PING, "r", NULL, 0, &r, -1), PROTO_OK);
    proto_reply_cleanup(&r);
    assert_int_equal(proto_outage_failures(o), 0);

    proto_server_destroy(&srv);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(proto_pool_call(pool, PROTO_OP_SYS_PING, "r", NULL, 0, &r, -1),
                         PROTO_ERR_UNAVAILABLE);
        proto_reply_cleanup(&r);
    }
    assert_int_equal(proto_outage_failures(o), 3);

    srv = server_on(zctx, &svc, ep, 1, 2); /* back, answering with an error */
    long long end = now_ms() + 3000;
    proto_err_t err;
    do {
        err = proto_pool_call(pool, PROTO_OP_SYS_HEALTH, "r", NULL, 0, &r, -1);
        proto_reply_cleanup(&r);
    } while (err == PROTO_ERR_UNAVAILABLE && now_ms() < end);
    assert_int_equal(err, PROTO_ERR_RATE_LIMITED);
    assert_int_equal(proto_outage_failures(o), 0);
    proto_pool_destroy(&pool);
    proto_outage_destroy(&o);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

typedef struct {
    proto_pool_t *pool;
    int calls;
    atomic_int *ok;
} pool_arg_t;

static void *pool_thread(void *arg)
{
    pool_arg_t *a = arg;
    for (int i = 0; i < a->calls; i++) {
        proto_reply_t r;
        char rid[32];
        snprintf(rid, sizeof rid, "t-%d", i);
        if (proto_pool_call(a->pool, PROTO_OP_SYS_PING, rid, NULL, 0, &r, -1) == PROTO_OK) {
            char got[32];
            if (proto_get_str(r.body, "rid", got, sizeof got) == 0 && strcmp(got, rid) == 0)
                atomic_fetch_add(a->ok, 1);
        }
        proto_reply_cleanup(&r);
    }
    return NULL;
}

static void test_rpc_pool_many_threads(void **state)
{
    enum { THREADS = 16, CALLS = 100 };
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {0};
    proto_server_t *srv = server_start(zctx, &svc, 4);
    proto_pool_t *pool = proto_pool_new(zctx, proto_server_endpoint(srv), 4, 5000, NULL);
    assert_non_null(pool);
    atomic_int ok = 0;
    pthread_t th[THREADS];
    pool_arg_t arg = {.pool = pool, .calls = CALLS, .ok = &ok};
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, pool_thread, &arg), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&ok), THREADS * CALLS);
    proto_pool_destroy(&pool);
    assert_null(pool);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

typedef struct {
    void *zctx;
    const char *ep;
    int timeout_ms; /* 0: 5 s */
    proto_err_t err;
    long long done_at;
} call_arg_t;

static void *health_thread(void *arg)
{
    call_arg_t *a = arg;
    proto_client_t *c =
        proto_client_new(a->zctx, a->ep, a->timeout_ms ? a->timeout_ms : 5000, NULL);
    proto_reply_t r;
    a->err = proto_client_call(c, PROTO_OP_SYS_HEALTH, "slow", NULL, 0, &r, -1);
    a->done_at = now_ms();
    proto_reply_cleanup(&r);
    proto_client_destroy(&c);
    return NULL;
}

static void test_rpc_stop_lets_in_flight_finish(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.health_mode = HEALTH_SLOW, .slow_ms = 400};
    proto_server_t *srv = server_start(zctx, &svc, 2);
    call_arg_t a = {.zctx = zctx, .ep = proto_server_endpoint(srv), .err = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, health_thread, &a), 0);
    wait_in_flight(srv, 1);

    long long t0 = now_ms();
    proto_server_stop(srv, 5000);
    long long stop_took = now_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(a.err, PROTO_OK);
    /* stop waited for the handler, not for the whole grace period. */
    assert_true(stop_took < 3000);
    assert_true(a.done_at <= now_ms());
    assert_int_equal(proto_server_in_flight(srv), 0);
    assert_int_equal(atomic_load(&svc.finis), 2);

    proto_server_stop(srv, 5000); /* idempotent */
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* After stop, requests that were waiting for a worker are not taken any more:
 * only the one in flight completes, and stop does not wait the whole grace. */
static void test_rpc_stop_takes_no_new_requests(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.health_mode = HEALTH_SLOW, .slow_ms = 500};
    proto_server_t *srv = server_start(zctx, &svc, 1);
    call_arg_t a = {.zctx = zctx, .ep = proto_server_endpoint(srv), .err = -1};
    call_arg_t b = a;
    b.timeout_ms = 800;
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, health_thread, &a), 0);
    wait_in_flight(srv, 1);
    assert_int_equal(pthread_create(&tb, NULL, health_thread, &b), 0);
    sleep_ms(100); /* b's request now waits for the only worker */
    long long t0 = now_ms();
    proto_server_stop(srv, 4000);
    assert_true(now_ms() - t0 < 3000);
    pthread_join(ta, NULL);
    assert_int_equal(a.err, PROTO_OK);
    assert_int_equal(atomic_load(&svc.health_calls), 1);
    proto_server_destroy(&srv);
    pthread_join(tb, NULL);
    assert_int_equal(b.err, PROTO_ERR_UNAVAILABLE);
    zmq_ctx_term(zctx);
}

static void test_rpc_workers_run_concurrently(void **state)
{
    enum { N = 4, SLOW = 400 };
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.health_mode = HEALTH_SLOW, .slow_ms = SLOW};
    proto_server_t *srv = server_start(zctx, &svc, N);
    call_arg_t a[N];
    pthread_t th[N];
    long long t0 = now_ms();
    for (int i = 0; i < N; i++) {
        a[i] = (call_arg_t){.zctx = zctx, .ep = proto_server_endpoint(srv), .err = -1};
        assert_int_equal(pthread_create(&th[i], NULL, health_thread, &a[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].err, PROTO_OK);
    }
    long long elapsed = now_ms() - t0;
    /* Serial would be N * SLOW = 1600 ms. */
    assert_true(elapsed < 2 * SLOW + 400);
    assert_true(atomic_load(&svc.max_active) >= 2);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* A fast request goes to an idle worker; it never queues behind a slow one
 * while another worker is free. */
static void test_rpc_fast_request_not_behind_slow(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.health_mode = HEALTH_SLOW_FIRST, .slow_ms = 1500};
    proto_server_t *srv = server_start(zctx, &svc, 2);
    call_arg_t a = {.zctx = zctx, .ep = proto_server_endpoint(srv), .err = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, health_thread, &a), 0);
    wait_in_flight(srv, 1);
    const proto_limits_t files = proto_limits_files(); /* bins as large as a file part */
    proto_client_t *c = proto_client_new(zctx, proto_server_endpoint(srv), 5000, &files);
    assert_non_null(c);
    for (int i = 0; i < 6; i++) {
        long long elapsed;
        assert_int_equal(ping(c, &elapsed), PROTO_OK);
        assert_true(elapsed < 700);
    }
    pthread_join(th, NULL);
    assert_int_equal(a.err, PROTO_OK);
    proto_client_destroy(&c);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

/* Far more requests than workers, all at once from one peer: the excess
 * waits (not dropped, not stuck) and every request is answered. */
static void test_rpc_flood_is_fully_answered(void **state)
{
    enum { N = 3000 };
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {.health_mode = HEALTH_SLOW, .slow_ms = 1};
    proto_server_t *srv = server_start(zctx, &svc, 2);
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0, t = 10000;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &t, sizeof t);
    assert_int_equal(zmq_connect(d, proto_server_endpoint(srv)), 0);
    msgpack_sbuffer req;
    msgpack_sbuffer_init(&req);
    assert_int_equal(proto_request_encode(&req, PROTO_OP_SYS_HEALTH, "flood", NULL, 0), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(zmq_send(d, "", 0, ZMQ_SNDMORE), 0);
        assert_int_equal(zmq_send(d, req.data, req.size, 0), (int)req.size);
    }
    char buf[256];
    int got = 0;
    while (got < N && zmq_recv(d, buf, sizeof buf, 0) == 0 && zmq_recv(d, buf, sizeof buf, 0) > 0)
        got++;
    assert_int_equal(got, N);
    assert_int_equal(atomic_load(&svc.health_calls), N);
    wait_in_flight(srv, 0);
    msgpack_sbuffer_destroy(&req);
    zmq_close(d);
    proto_server_destroy(&srv);
    zmq_ctx_term(zctx);
}

static void test_rpc_lifecycle_edges(void **state)
{
    void *zctx = zmq_ctx_new();
    tsvc_t svc = {0};
    proto_server_config_t cfg = {.bind = "tcp://127.0.0.1:*",
                                 .workers = 1,
                                 .handlers = handlers,
                                 .nhandlers = 2,
                                 .svc = &svc};
    /* Destroy without start; stop without start. */
    proto_server_t *srv = proto_server_new(zctx, &cfg);
    assert_non_null(srv);
    proto_server_stop(srv, 0);
    proto_server_destroy(&srv);
    proto_server_destroy(&srv); /* NULL-safe */

    /* Bad configs. */
    cfg.workers = 0;
    assert_null(proto_server_new(zctx, &cfg));
    cfg.workers = 1;
    const proto_handler_t dup[] = {{PROTO_OP_SYS_PING, h_ping}, {PROTO_OP_SYS_PING, h_ping}};
    cfg.handlers = dup;
    assert_null(proto_server_new(zctx, &cfg));
    cfg.handlers = handlers;

    /* Address in use. */
    proto_server_t *a = server_start(zctx, &svc, 1);
    cfg.bind = proto_server_endpoint(a);
    proto_server_t *b = proto_server_new(zctx, &cfg);
    assert_non_null(b);
    assert_int_equal(proto_server_start(b), -1);
    proto_server_destroy(&b);
    proto_server_destroy(&a); /* stops a running server */

    /* Clients: bad arguments. */
    assert_null(proto_client_new(zctx, "", 100, NULL));
    assert_null(proto_client_new(zctx, "bogus://x", 100, NULL));
    assert_null(proto_client_new(zctx, "tcp://127.0.0.1:1", 0, NULL));
    proto_client_t *c = proto_client_new(zctx, "tcp://127.0.0.1:1, tcp://127.0.0.1:2", 50, NULL);
    assert_non_null(c);
    proto_client_destroy(&c);
    proto_client_destroy(&c);
    zmq_ctx_term(zctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_round_trip),
        cmocka_unit_test(test_rpc_large_reply_round_trip),
        cmocka_unit_test(test_rpc_error_reply_propagates),
        cmocka_unit_test(test_rpc_slow_lane_isolates_and_bounds),
        cmocka_unit_test(test_rpc_slow_queue_expires_stale_requests),
        cmocka_unit_test(test_rpc_unknown_op_is_bad_request),
        cmocka_unit_test(test_rpc_garbage_gets_bad_request),
        cmocka_unit_test(test_rpc_malformed_reply_is_unavailable),
        cmocka_unit_test(test_rpc_dead_endpoint_unavailable_then_recovers),
        cmocka_unit_test(test_rpc_timeout_is_not_resent),
        cmocka_unit_test(test_rpc_silent_peer_is_unavailable_within_the_timeout),
        cmocka_unit_test(test_rpc_pool_wait_counts_against_the_deadline),
        cmocka_unit_test(test_rpc_lost_connection_resends_idempotent_op),
        cmocka_unit_test(test_rpc_lost_connection_never_resends_other_ops),
        cmocka_unit_test(test_rpc_pool_reports_outages),
        cmocka_unit_test(test_rpc_pool_many_threads),
        cmocka_unit_test(test_rpc_stop_lets_in_flight_finish),
        cmocka_unit_test(test_rpc_stop_takes_no_new_requests),
        cmocka_unit_test(test_rpc_workers_run_concurrently),
        cmocka_unit_test(test_rpc_fast_request_not_behind_slow),
        cmocka_unit_test(test_rpc_flood_is_fully_answered),
        cmocka_unit_test(test_rpc_lifecycle_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
