/*
 * gw_rpc: calls from coroutines over a DEALER, against a fake service (a
 * ROUTER on loopback) whose behaviour each request's id chooses:
 *   ok-*        answered at once, with {"rid": <the request id>}
 *   hold-N-*    held until N such requests are in, then all answered in
 *               reverse order
 *   drop-*      never answered
 *   late-*      answered only when the next request arrives, just before it
 *   bad-*       answered with bytes that are no reply
 * and, for the lost-connection tests, bare ROUTERs driven by the test.
 */
#include "gw_coro.h"
#include "gw_rpc.h"
#include "proto_catalog.h"
#include "proto_codec.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include <cmocka.h>

#define HOLD_MAX 64

/* ---- the fake service ---- */

typedef struct {
    zmq_msg_t id, tag;
    char rid[PROTO_RID_MAX + 1];
} held_t;

typedef struct {
    void *zctx;
    void *router;
    char endpoint[128];
    pthread_t tid;
    atomic_bool stop;
    atomic_int received;
    held_t held[HOLD_MAX];
    int nheld;
    bool has_late;
    held_t late;
} fake_t;

static fake_t g_fake;
static void *g_zctx;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Replies on `router` through the routing frames `id` and `tag` (an empty
 * tag: a REQ peer). */
static void send_reply(void *router, zmq_msg_t *id, zmq_msg_t *tag, const char *rid, bool bad)
{
    msgpack_sbuffer body, rep;
    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&rep);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "rid", 3);
    msgpack_pack_str(&pk, strlen(rid));
    msgpack_pack_str_body(&pk, rid, strlen(rid));
    assert_int_equal(proto_reply_encode_ok(&rep, body.data, body.size), 0);
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, id);
    zmq_msg_send(&copy, router, ZMQ_SNDMORE);
    if (zmq_msg_size(tag) > 0) {
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, tag);
        zmq_msg_send(&copy, router, ZMQ_SNDMORE);
    }
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    if (bad)
        zmq_send(router, "\xc1\xc1", 2, 0);
    else
        zmq_send(router, rep.data, rep.size, 0);
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&rep);
}

static void request_rid(zmq_msg_t *frame, char *rid, size_t cap)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    rid[0] = '\0';
    if (msgpack_unpack_next(&u, zmq_msg_data(frame), zmq_msg_size(frame), NULL) ==
        MSGPACK_UNPACK_SUCCESS)
        proto_get_str(&u.data, "rid", rid, cap);
    msgpack_unpacked_destroy(&u);
}

/* Reads one request off `router`: [id][tag][empty][body] from a DEALER,
 * [id][empty][body] from a REQ. The caller closes `id` and `tag`. */
static void read_request(void *router, zmq_msg_t *id, zmq_msg_t *tag, char *rid, size_t cap)
{
    zmq_msg_t empty, body;
    zmq_msg_init(id);
    zmq_msg_init(tag);
    zmq_msg_init(&empty);
    zmq_msg_init(&body);
    zmq_msg_recv(id, router, 0);
    zmq_msg_recv(tag, router, 0);
    if (zmq_msg_size(tag) > 0)
        zmq_msg_recv(&empty, router, 0);
    zmq_msg_recv(&body, router, 0);
    request_rid(&body, rid, cap);
    zmq_msg_close(&empty);
    zmq_msg_close(&body);
}

static void serve_one(fake_t *f)
{
    zmq_msg_t id, tag;
    char rid[PROTO_RID_MAX + 1];
    read_request(f->router, &id, &tag, rid, sizeof rid);
    atomic_fetch_add(&f->received, 1);
    if (f->has_late) { /* a reply for a call that gave up, ahead of this one */
        send_reply(f->router, &f->late.id, &f->late.tag, f->late.rid, false);
        zmq_msg_close(&f->late.id);
        zmq_msg_close(&f->late.tag);
        f->has_late = false;
    }
    bool keep = false;
    if (strncmp(rid, "ok-", 3) == 0) {
        send_reply(f->router, &id, &tag, rid, false);
    } else if (strncmp(rid, "bad-", 4) == 0) {
        send_reply(f->router, &id, &tag, rid, true);
    } else if (strncmp(rid, "late-", 5) == 0) {
        f->late = (held_t){.id = id, .tag = tag};
        snprintf(f->late.rid, sizeof f->late.rid, "%s", rid);
        f->has_late = keep = true;
    } else if (strncmp(rid, "hold-", 5) == 0 && f->nheld < HOLD_MAX) {
        held_t *h = &f->held[f->nheld++];
        h->id = id;
        h->tag = tag;
        snprintf(h->rid, sizeof h->rid, "%s", rid);
        keep = true;
        if (f->nheld == atoi(rid + 5)) {
            for (int i = f->nheld - 1; i >= 0; i--) {
                send_reply(f->router, &f->held[i].id, &f->held[i].tag, f->held[i].rid, false);
                zmq_msg_close(&f->held[i].id);
                zmq_msg_close(&f->held[i].tag);
            }
            f->nheld = 0;
        }
    }
    if (!keep) {
        zmq_msg_close(&id);
        zmq_msg_close(&tag);
    }
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t it = {.socket = f->router, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 20) > 0)
            serve_one(f);
    }
    return NULL;
}

/* ---- the loop under test ---- */

typedef struct {
    proto_pool_t *pool;
    proto_op_t op;
    const char *rid;
    int timeout_ms;
    proto_err_t err;
    char errmsg[PROTO_ERRMSG_MAX];
    char got[PROTO_RID_MAX + 1];
    bool done;
} job_t;

static void call_job(void *arg)
{
    job_t *j = arg;
    proto_reply_t rep;
    j->err = gw_rpc_call(j->pool, j->op, j->rid, NULL, 0, &rep, j->timeout_ms);
    snprintf(j->errmsg, sizeof j->errmsg, "%s", rep.errmsg);
    if (j->err == PROTO_OK)
        proto_get_str(rep.body, "rid", j->got, sizeof j->got);
    proto_reply_cleanup(&rep);
    j->done = true;
}

typedef struct {
    gw_rpc_t *rpc;
    proto_pool_t *pool;
} loop_t;

static loop_t g_loop;

/* Runs the loop until every job is done or `max_ms` passed. */
static void drive(job_t *jobs, int n, int max_ms)
{
    long long end = now_ms() + max_ms;
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all = all && jobs[i].done;
        if (all || now_ms() > end)
            return;
        zmq_pollitem_t items[GW_RPC_ITEMS_MAX];
        int k = gw_rpc_items(g_loop.rpc, items, GW_RPC_ITEMS_MAX);
        long t = gw_rpc_timeout_ms(g_loop.rpc);
        zmq_poll(items, k, t < 0 || t > 20 ? 20 : t);
        gw_rpc_process(g_loop.rpc);
    }
}

static job_t job(proto_op_t op, const char *rid, int timeout_ms)
{
    return (job_t){.pool = g_loop.pool, .op = op, .rid = rid, .timeout_ms = timeout_ms};
}

static int group_setup(void **state)
{
    g_zctx = zmq_ctx_new();
    fake_t *f = &g_fake;
    f->router = zmq_socket(g_zctx, ZMQ_ROUTER);
    if (zmq_bind(f->router, "tcp://127.0.0.1:*") != 0)
        return -1;
    size_t len = sizeof f->endpoint;
    zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
    atomic_init(&f->stop, false);
    if (pthread_create(&f->tid, NULL, fake_main, f) != 0)
        return -1;
    g_loop.pool = proto_pool_new(g_zctx, f->endpoint, 2, 2000, NULL);
    g_loop.rpc = gw_rpc_new(g_zctx, NULL);
    if (!g_loop.pool || !g_loop.rpc || gw_rpc_add(g_loop.rpc, g_loop.pool, f->endpoint, 2000) != 0)
        return -1;
    gw_rpc_attach(g_loop.rpc);
    gw_coro_setup(128, 0);
    /* Let the DEALER connect before the first call. */
    job_t j = job(PROTO_OP_SYS_PING, "ok-warmup", 2000);
    gw_coro_spawn(call_job, &j, NULL);
    drive(&j, 1, 3000);
    return j.err == PROTO_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    gw_rpc_shutdown(g_loop.rpc);
    gw_coro_teardown();
    gw_rpc_destroy(&g_loop.rpc);
    proto_pool_destroy(&g_loop.pool);
    atomic_store(&g_fake.stop, true);
    pthread_join(g_fake.tid, NULL);
    zmq_close(g_fake.router);
    zmq_ctx_term(g_zctx);
    return 0;
}

/* ---- tests ---- */

static void test_rpc_outside_a_coroutine_uses_the_pool(void **state)
{
    job_t j = job(PROTO_OP_AUTH_VERIFY, "ok-plain", -1);
    call_job(&j); /* not on a coroutine: a blocking pool call */
    assert_true(j.done);
    assert_int_equal(j.err, PROTO_OK);
    assert_string_equal(j.got, "ok-plain");
    assert_int_equal(gw_rpc_pending(g_loop.rpc), 0);
}

static void test_rpc_call_yields_until_the_reply(void **state)
{
    job_t j = job(PROTO_OP_AUTH_VERIFY, "ok-async", -1);
    assert_non_null(gw_coro_spawn(call_job, &j, NULL)); /* suspended, not blocked */
    assert_false(j.done);
    assert_int_equal(gw_rpc_pending(g_loop.rpc), 1);
    drive(&j, 1, 2000);
    assert_true(j.done);
    assert_int_equal(j.err, PROTO_OK);
    assert_string_equal(j.got, "ok-async");
    assert_int_equal(gw_rpc_pending(g_loop.rpc), 0);
    assert_int_equal(gw_coro_alive(), 0);
}

static void test_rpc_replies_in_any_order_reach_their_calls(void **state)
{
    enum { N = 20 };
    static char rids[N][32];
    job_t jobs[N];
    for (int i = 0; i < N; i++) {
        snprintf(rids[i], sizeof rids[i], "hold-%d-%d", N, i);
        jobs[i] = job(PROTO_OP_AUTH_VERIFY, rids[i], -1);
        assert_non_null(gw_coro_spawn(call_job, &jobs[i], NULL));
    }
    assert_int_equal(gw_rpc_pending(g_loop.rpc), N);
    drive(jobs, N, 3000);
    for (int i = 0; i < N; i++) {
        assert_true(jobs[i].done);
        assert_int_equal(jobs[i].err, PROTO_OK);
        assert_string_equal(jobs[i].got, rids[i]);
    }
}

static void test_rpc_timeout_and_the_late_reply_is_dropped(void **state)
{
    int before = atomic_load(&g_fake.received);
    job_t j = job(PROTO_OP_AUTH_TOKEN, "late-1", 150); /* not idempotent: never resent */
    long long t0 = now_ms();
    assert_non_null(gw_coro_spawn(call_job, &j, NULL));
    drive(&j, 1, 2000);
    long long took = now_ms() - t0;
    assert_true(j.done);
    assert_int_equal(j.err, PROTO_ERR_UNAVAILABLE);
    assert_string_equal(j.errmsg, "service timed out");
    assert_true(took >= 140 && took < 1000);
    assert_int_equal(atomic_load(&g_fake.received) - before, 1);
    /* The late reply comes just before this call's own: it must not answer it. */
    job_t next = job(PROTO_OP_AUTH_VERIFY, "ok-after-late", -1);
    assert_non_null(gw_coro_spawn(call_job, &next, NULL));
    drive(&next, 1, 2000);
    assert_int_equal(next.err, PROTO_OK);
    assert_string_equal(next.got, "ok-after-late");
}

/* Slack allowed past a call's deadline: scheduling, not a second wait. */
#define DEADLINE_SLACK_MS 150

/* A peer that takes requests and never answers (a SIGSTOPped service):
 * even an idempotent op costs one timeout and is sent once. */
static void test_rpc_silent_peer_costs_one_timeout(void **state)
{
    int before = atomic_load(&g_fake.received);
    job_t never = job(PROTO_OP_SYS_HEALTH, "drop-health", 300);
    long long t0 = now_ms();
    assert_non_null(gw_coro_spawn(call_job, &never, NULL));
    drive(&never, 1, 2000);
    long long took = now_ms() - t0;
    assert_int_equal(never.err, PROTO_ERR_UNAVAILABLE);
    assert_string_equal(never.errmsg, "service timed out");
    assert_true(took >= 290 && took < 300 + DEADLINE_SLACK_MS);
    assert_int_equal(atomic_load(&g_fake.received) - before, 1);
}

static void test_rpc_malformed_reply_is_unavailable(void **state)
{
    job_t j = job(PROTO_OP_AUTH_VERIFY, "bad-1", -1);
    assert_non_null(gw_coro_spawn(call_job, &j, NULL));
    drive(&j, 1, 2000);
    assert_int_equal(j.err, PROTO_ERR_UNAVAILABLE);
    assert_string_equal(j.errmsg, "malformed reply");
}

static void test_rpc_no_peer_is_unavailable_at_the_deadline(void **state)
{
    /* A second loop whose service is not there. */
    gw_rpc_t *lonely = gw_rpc_new(g_zctx, NULL);
    proto_pool_t *pool = proto_pool_new(g_zctx, "tcp://127.0.0.1:1", 1, 100, NULL);
    assert_non_null(lonely);
    assert_non_null(pool);
    assert_int_equal(gw_rpc_add(lonely, pool, "tcp://127.0.0.1:1", 100), 0);
    gw_rpc_attach(lonely);
    job_t j = {.pool = pool, .op = PROTO_OP_AUTH_VERIFY, .rid = "ok-nobody", .timeout_ms = -1};
    long long t0 = now_ms();
    assert_non_null(gw_coro_spawn(call_job, &j, NULL));
    while (!j.done && now_ms() - t0 < 2000) {
        zmq_pollitem_t items[GW_RPC_ITEMS_MAX];
        int k = gw_rpc_items(lonely, items, GW_RPC_ITEMS_MAX);
        assert_true(items[0].events & ZMQ_POLLOUT); /* it waits for a peer */
        zmq_poll(items, k, 20);
        gw_rpc_process(lonely);
    }
    assert_true(j.done);
    assert_int_equal(j.err, PROTO_ERR_UNAVAILABLE);
    assert_string_equal(j.errmsg, "no service reachable");
    assert_true(now_ms() - t0 >= 90);
    gw_rpc_attach(g_loop.rpc);
    gw_rpc_destroy(&lonely);
    proto_pool_destroy(&pool);
}

/* ---- a peer whose connection breaks ---- */

/* A bare ROUTER bound to `bind` (retried: the port of a ROUTER just
 * closed may be busy for a moment); its endpoint into ep[cap]. */
static void *bare_router(const char *bind, char *ep, size_t cap)
{
    void *r = zmq_socket(g_zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
    long long end = now_ms() + 2000;
    while (zmq_bind(r, bind) != 0) {
        assert_true(now_ms() < end);
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    size_t len = cap;
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &len);
    return r;
}

/* Runs `rpc`'s loop until `j` is done (or, with stop_at_request, a request
 * reaches `peer`) or `max_ms` passed. Requests reaching `peer` are counted
 * in *got; with `answer` they are answered. */
static void drive_peer(gw_rpc_t *rpc, job_t *j, void *peer, bool answer, bool stop_at_request,
                       int *got, int max_ms)
{
    long long end = now_ms() + max_ms;
    while (!j->done && now_ms() < end) {
        zmq_pollitem_t items[GW_RPC_ITEMS_MAX + 1];
        int k = gw_rpc_items(rpc, items, GW_RPC_ITEMS_MAX);
        items[k] = (zmq_pollitem_t){.socket = peer, .events = ZMQ_POLLIN};
        long t = gw_rpc_timeout_ms(rpc);
        zmq_poll(items, k + 1, t < 0 || t > 20 ? 20 : t);
        if (items[k].revents & ZMQ_POLLIN) {
            zmq_msg_t id, tag;
            char rid[PROTO_RID_MAX + 1];
            read_request(peer, &id, &tag, rid, sizeof rid);
            (*got)++;
            if (answer)
                send_reply(peer, &id, &tag, rid, false);
            zmq_msg_close(&id);
            zmq_msg_close(&tag);
            if (stop_at_request)
                return;
        }
        gw_rpc_process(rpc);
    }
}

/* A loop with one link to `ep` (timeout `tmo`), attached to this thread. */
static gw_rpc_t *loop_to(const char *ep, int tmo, proto_pool_t **pool)
{
    gw_rpc_t *rpc = gw_rpc_new(g_zctx, NULL);
    *pool = proto_pool_new(g_zctx, ep, 1, tmo, NULL);
    assert_non_null(rpc);
    assert_non_null(*pool);
    assert_int_equal(gw_rpc_add(rpc, *pool, ep, tmo), 0);
    gw_rpc_attach(rpc);
    return rpc;
}

/* Sends `op` to a ROUTER that takes the request and goes away with it (the
 * connection breaks: that copy is lost); a new ROUTER then answers on the
 * same port. Returns what the call took, in ms; *got: copies the new
 * ROUTER saw. */
static long long call_through_a_lost_connection(proto_op_t op, int tmo, job_t *j, int *got)
{
    char ep[128];
    proto_pool_t *pool;
    void *first = bare_router("tcp://127.0.0.1:*", ep, sizeof ep);
    gw_rpc_t *rpc = loop_to(ep, tmo, &pool);
    *j = (job_t){.pool = pool, .op = op, .rid = "lost-1", .timeout_ms = -1};
    long long t0 = now_ms();
    assert_non_null(gw_coro_spawn(call_job, j, NULL));
    int first_got = 0;
    drive_peer(rpc, j, first, false, true, &first_got, 3000);
    assert_int_equal(first_got, 1);
    zmq_close(first);
    char ep2[128];
    void *second = bare_router(ep, ep2, sizeof ep2);
    *got = 0;
    drive_peer(rpc, j, second, true, false, got, tmo + 1000);
    long long took = now_ms() - t0;
    assert_true(j->done);
    drive_peer(rpc, j, second, true, false, got, 200); /* nothing more comes */
    zmq_close(second);
    gw_rpc_attach(g_loop.rpc);
    gw_rpc_destroy(&rpc);
    proto_pool_destroy(&pool);
    return took;
}

/* The connection an idempotent call went out on breaks before the reply:
 * the request is known lost and goes out again, on the new connection,
 * at once and within the same deadline. */
static void test_rpc_lost_connection_resends_idempotent_call(void **state)
{
    enum { T = 3000 };
    job_t j;
    int got;
    long long took = call_through_a_lost_connection(PROTO_OP_SYS_HEALTH, T, &j, &got);
    assert_int_equal(j.err, PROTO_OK);
    assert_string_equal(j.got, "lost-1");
    assert_true(took < T / 2); /* not after waiting out the deadline */
    assert_int_equal(got, 1);
}

/* Any other op is never sent twice: it ends unavailable at its deadline. */
static void test_rpc_lost_connection_never_resends_other_calls(void **state)
{
    enum { T = 800 };
    job_t j;
    int got;
    long long took = call_through_a_lost_connection(PROTO_OP_AUTH_TOKEN, T, &j, &got);
    assert_int_equal(j.err, PROTO_ERR_UNAVAILABLE);
    assert_true(took >= T - 10 && took < T + DEADLINE_SLACK_MS);
    assert_int_equal(got, 0);
}

/* A loop's calls report to the outage tracker of their pool, the same one
 * the pool's own calls use: failures count, a reply (a malformed one does
 * not count as one) ends the outage, a stopping loop's failures are not
 * the service's. */
static void test_rpc_calls_report_to_the_pool_outage(void **state)
{
    proto_outage_t *o = proto_outage_new("fakesvc");
    proto_pool_t *pool = proto_pool_new(g_zctx, g_fake.endpoint, 1, 2000, NULL);
    proto_pool_set_outage(pool, o);
    gw_rpc_t *rpc = gw_rpc_new(g_zctx, NULL);
    assert_int_equal(gw_rpc_add(rpc, pool, g_fake.endpoint, 2000), 0);
    gw_rpc_attach(rpc);
    job_t jobs[] = {
        {.pool = pool, .op = PROTO_OP_SYS_PING, .rid = "drop-o1", .timeout_ms = 100},
        {.pool = pool, .op = PROTO_OP_SYS_PING, .rid = "bad-o2", .timeout_ms = -1},
        {.pool = pool, .op = PROTO_OP_SYS_PING, .rid = "ok-o3", .timeout_ms = -1},
        {.pool = pool, .op = PROTO_OP_SYS_PING, .rid = "drop-o4", .timeout_ms = -1},
    };
    const uint64_t want[] = {1, 2, 0};
    for (int i = 0; i < 3; i++) {
        assert_non_null(gw_coro_spawn(call_job, &jobs[i], NULL));
        long long end = now_ms() + 2000;
        while (!jobs[i].done && now_ms() < end) {
            zmq_pollitem_t items[GW_RPC_ITEMS_MAX];
            int k = gw_rpc_items(rpc, items, GW_RPC_ITEMS_MAX);
            zmq_poll(items, k, 20);
            gw_rpc_process(rpc);
        }
        assert_true(jobs[i].done);
        assert_int_equal(proto_outage_failures(o), want[i]);
    }
    assert_non_null(gw_coro_spawn(call_job, &jobs[3], NULL));
    gw_rpc_shutdown(rpc);
    assert_true(jobs[3].done);
    assert_int_equal(proto_outage_failures(o), 0);
    gw_rpc_attach(g_loop.rpc);
    gw_rpc_destroy(&rpc);
    proto_pool_destroy(&pool);
    proto_outage_destroy(&o);
}

static void test_rpc_shutdown_fails_calls_in_flight_and_later(void **state)
{
    gw_rpc_t *rpc = gw_rpc_new(g_zctx, NULL);
    assert_int_equal(gw_rpc_add(rpc, g_loop.pool, g_fake.endpoint, 5000), 0);
    gw_rpc_attach(rpc);
    job_t j = job(PROTO_OP_AUTH_VERIFY, "drop-forever", -1);
    assert_non_null(gw_coro_spawn(call_job, &j, NULL));
    gw_rpc_shutdown(rpc);
    assert_true(j.done);
    assert_int_equal(j.err, PROTO_ERR_UNAVAILABLE);
    job_t after = job(PROTO_OP_AUTH_VERIFY, "ok-too-late", -1);
    assert_null(gw_coro_spawn(call_job, &after, NULL)); /* failed without waiting */
    assert_int_equal(after.err, PROTO_ERR_UNAVAILABLE);
    gw_rpc_attach(g_loop.rpc);
    gw_rpc_destroy(&rpc);
}

typedef struct {
    gw_rpc_req_t reqs[3];
    proto_reply_t reps[3];
    int rc;
    bool done;
} fan_t;

static void fan_job(void *arg)
{
    fan_t *f = arg;
    f->rc = gw_rpc_call_all(f->reqs, 3, "hold-3-fan");
    f->done = true;
}

static void test_rpc_call_all_waits_for_every_reply(void **state)
{
    fan_t f = {.rc = -2};
    for (int i = 0; i < 3; i++)
        f.reqs[i] = (gw_rpc_req_t){.pool = g_loop.pool,
                                   .op = i == 1 ? PROTO_OP_SYS_PING : PROTO_OP_AUTH_VERIFY,
                                   .timeout_ms = -1,
                                   .reply = &f.reps[i]};
    /* Outside a coroutine it does nothing and says so. */
    assert_int_equal(gw_rpc_call_all(f.reqs, 3, "ok-x"), -1);
    /* The fake answers "hold-3" requests only once all three are in: the
     * three went out together, not one after the other. */
    job_t waiter = {.done = false};
    assert_non_null(gw_coro_spawn(fan_job, &f, NULL));
    assert_int_equal(gw_rpc_pending(g_loop.rpc), 3);
    long long end = now_ms() + 3000;
    while (!f.done && now_ms() < end)
        drive(&waiter, 1, 20);
    assert_true(f.done);
    assert_int_equal(f.rc, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f.reqs[i].err, PROTO_OK);
        char got[PROTO_RID_MAX + 1] = "";
        proto_get_str(f.reps[i].body, "rid", got, sizeof got);
        assert_string_equal(got, "hold-3-fan");
        proto_reply_cleanup(&f.reps[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_outside_a_coroutine_uses_the_pool),
        cmocka_unit_test(test_rpc_call_yields_until_the_reply),
        cmocka_unit_test(test_rpc_replies_in_any_order_reach_their_calls),
        cmocka_unit_test(test_rpc_timeout_and_the_late_reply_is_dropped),
        cmocka_unit_test(test_rpc_silent_peer_costs_one_timeout),
        cmocka_unit_test(test_rpc_malformed_reply_is_unavailable),
        cmocka_unit_test(test_rpc_no_peer_is_unavailable_at_the_deadline),
        cmocka_unit_test(test_rpc_lost_connection_resends_idempotent_call),
        cmocka_unit_test(test_rpc_lost_connection_never_resends_other_calls),
        cmocka_unit_test(test_rpc_calls_report_to_the_pool_outage),
        cmocka_unit_test(test_rpc_shutdown_fails_calls_in_flight_and_later),
        cmocka_unit_test(test_rpc_call_all_waits_for_every_reply),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
