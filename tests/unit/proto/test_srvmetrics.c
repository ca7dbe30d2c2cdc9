/*
 * Unit tests for proto_srvmetrics: the RPC server families count exactly
 * the events recorded, label values stay within the catalogue, the
 * observer hook of proto_server feeds them end to end, and each request
 * logs one line with its rid and no body field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_client.h"
#include "proto_srvmetrics.h"
#include "rt_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static char *render(rt_metrics_t *reg)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(rt_metrics_render(reg, &text, &len), 0);
    return text;
}

/* The value of the sample line starting with `series` (name and labels), -1 if none. */
static double sample(const char *text, const char *series)
{
    size_t sl = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, sl) == 0 && p[sl] == ' ')
            return strtod(p + sl + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

static size_t count_lines(const char *text, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, pl) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

static proto_call_event_t answered(proto_op_t op, proto_err_t err, double s)
{
    proto_call_event_t ev = {.kind = PROTO_CALL_ANSWERED,
                             .op = op,
                             .err = err,
                             .decoded = op != PROTO_OP__COUNT,
                             .rid = "r-1",
                             .seconds = s,
                             .lane = PROTO_LANE_FAST};
    return ev;
}

static void test_srvmetrics_counts_exactly(void **state)
{
    (void)state;
    rt_metrics_t *reg = rt_metrics_new();
    proto_srvmetrics_t *m = proto_srvmetrics_new(reg);
    assert_non_null(m);
    for (int i = 0; i < 3; i++) {
        proto_call_event_t ev = answered(PROTO_OP_SYS_PING, PROTO_OK, 0.001);
        proto_srvmetrics_record(m, &ev);
    }
    for (int i = 0; i < 2; i++) {
        proto_call_event_t ev = answered(PROTO_OP_AUTH_VERIFY, PROTO_ERR_UNAUTHORIZED, 0.002);
        proto_srvmetrics_record(m, &ev);
    }
    proto_call_event_t bad = answered(PROTO_OP__COUNT, PROTO_ERR_BAD_REQUEST, 0.0001);
    proto_srvmetrics_record(m, &bad);
    proto_call_event_t drop = {.kind = PROTO_CALL_DROPPED, .op = PROTO_OP__COUNT, .rid = ""};
    for (int i = 0; i < 4; i++)
        proto_srvmetrics_record(m, &drop);
    proto_call_event_t busy = {.kind = PROTO_CALL_REFUSED,
                               .refusal = PROTO_REFUSAL_BUSY,
                               .op = PROTO_OP_AUTH_TOKEN,
                               .err = PROTO_ERR_UNAVAILABLE,
                               .rid = "",
                               .lane = PROTO_LANE_SLOW};
    proto_srvmetrics_record(m, &busy);

    char *t = render(reg);
    assert_true(sample(t, "restc_rpc_requests_total{op=\"sys.ping\",outcome=\"ok\"}") == 3);
    assert_true(
        sample(t, "restc_rpc_requests_total{op=\"auth.verify\",outcome=\"unauthorized\"}") == 2);
    assert_true(sample(t, "restc_rpc_requests_total{op=\"unknown\",outcome=\"bad_request\"}") == 1);
    assert_true(sample(t, "restc_rpc_requests_total{op=\"auth.token\",outcome=\"unavailable\"}") ==
                1);
    assert_true(sample(t, "restc_rpc_request_duration_seconds_count{op=\"sys.ping\"}") == 3);
    assert_true(sample(t, "restc_rpc_request_duration_seconds_count{op=\"auth.verify\"}") == 2);
    assert_true(sample(t, "restc_rpc_dropped_frames_total{reason=\"envelope\"}") == 4);
    assert_true(sample(t, "restc_rpc_dropped_frames_total{reason=\"undecodable\"}") == 1);
    assert_true(sample(t, "restc_rpc_slow_refused_total{reason=\"busy\"}") == 1);
    assert_true(sample(t, "restc_rpc_slow_refused_total{reason=\"expired\"}") == 0);
    /* No series for outcomes or ops never seen. */
    assert_int_equal(count_lines(t, "restc_rpc_requests_total{"), 4);
    assert_int_equal(count_lines(t, "restc_rpc_request_duration_seconds_count{"), 3);
    assert_null(strstr(t, "op=\"store.file_get\""));
    assert_non_null(strstr(t, "# TYPE restc_rpc_requests_in_flight gauge"));
    assert_non_null(strstr(t, "# TYPE restc_rpc_slow_queue_depth gauge"));
    assert_true(sample(t, "restc_rpc_requests_in_flight") == 0); /* no server attached */
    free(t);
    proto_srvmetrics_destroy(&m);
    assert_null(m);
    rt_metrics_destroy(&reg);
}

static void test_srvmetrics_out_of_range_values_are_bounded(void **state)
{
    (void)state;
    rt_metrics_t *reg = rt_metrics_new();
    proto_srvmetrics_t *m = proto_srvmetrics_new(reg);
    for (int i = 0; i < 10000; i++) {
        proto_call_event_t ev =
            answered((proto_op_t)(PROTO_OP__COUNT + i % 50), PROTO_ERR_BAD_REQUEST, 0.0001);
        ev.decoded = false;
        proto_srvmetrics_record(m, &ev);
        ev.op = (proto_op_t)-1 - i;
        ev.err = (proto_err_t)(PROTO_ERR__COUNT + i);
        proto_srvmetrics_record(m, &ev);
    }
    char *t = render(reg);
    assert_true(sample(t, "restc_rpc_requests_total{op=\"unknown\",outcome=\"bad_request\"}") ==
                10000);
    assert_true(sample(t, "restc_rpc_requests_total{op=\"unknown\",outcome=\"internal_error\"}") ==
                10000);
    assert_int_equal(count_lines(t, "restc_rpc_requests_total{"), 2);
    assert_string_equal(proto_srvmetrics_op_label(PROTO_OP__COUNT), "unknown");
    assert_string_equal(proto_srvmetrics_op_label(PROTO_OP_SYS_PING), "sys.ping");
    free(t);
    proto_srvmetrics_destroy(&m);
    rt_metrics_destroy(&reg);
}

static void test_srvmetrics_null_is_off(void **state)
{
    (void)state;
    assert_null(proto_srvmetrics_new(NULL));
    proto_call_event_t ev = answered(PROTO_OP_SYS_PING, PROTO_OK, 0.001);
    proto_srvmetrics_record(NULL, &ev);
    proto_srvmetrics_attach(NULL, NULL);
    proto_srvmetrics_destroy(NULL);
    proto_srvmetrics_t *none = NULL;
    proto_srvmetrics_destroy(&none);
}

static proto_err_t h_ping(const proto_call_ctx_t *cc, const proto_request_t *req,
                          msgpack_packer *body, proto_fail_t *fail)
{
    (void)cc;
    (void)req;
    (void)fail;
    msgpack_pack_map(body, 0);
    return PROTO_OK;
}

static const proto_handler_t handlers[] = {{PROTO_OP_SYS_PING, h_ping}};

/* Through a real proto_server: answered requests, an op without handler and
 * a raw frame that is no envelope; each request logs one line with its rid. */
static void test_srvmetrics_observes_a_server(void **state)
{
    (void)state;
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *logf = open_memstream(&logbuf, &loglen);
    assert_non_null(logf);
    rt_log_init("test", RT_LOG_INFO, logf);
    void *zctx = zmq_ctx_new();
    rt_metrics_t *reg = rt_metrics_new();
    proto_srvmetrics_t *m = proto_srvmetrics_new(reg);
    proto_server_config_t cfg = {.bind = "tcp://127.0.0.1:*",
                                 .workers = 2,
                                 .handlers = handlers,
                                 .nhandlers = 1,
                                 .observe = proto_srvmetrics_observe,
                                 .observe_arg = m};
    proto_server_t *srv = proto_server_new(zctx, &cfg);
    assert_non_null(srv);
    assert_int_equal(proto_server_start(srv), 0);
    proto_srvmetrics_attach(m, srv);
    proto_client_t *c = proto_client_new(zctx, proto_server_endpoint(srv), 3000, NULL);
    assert_non_null(c);
    for (int i = 0; i < 5; i++) {
        proto_reply_t r;
        assert_int_equal(proto_client_call(c, PROTO_OP_SYS_PING, "rid-srvm-7", NULL, 0, &r, -1),
                         PROTO_OK);
        proto_reply_cleanup(&r);
    }
    proto_reply_t r;
    assert_int_equal(proto_client_call(c, PROTO_OP_SYS_HEALTH, "rid-nohandler", NULL, 0, &r, -1),
                     PROTO_ERR_BAD_REQUEST);
    proto_reply_cleanup(&r);
    /* A DEALER sends a frame without the empty delimiter: dropped, unanswered. */
    void *raw = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(raw, proto_server_endpoint(srv)), 0);
    assert_true(zmq_send(raw, "junk", 4, 0) == 4);
    char *t = NULL;
    for (int tries = 0; tries < 200; tries++) {
        free(t);
        t = render(reg);
        if (sample(t, "restc_rpc_dropped_frames_total{reason=\"envelope\"}") == 1)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(sample(t, "restc_rpc_dropped_frames_total{reason=\"envelope\"}") == 1);
    assert_true(sample(t, "restc_rpc_requests_total{op=\"sys.ping\",outcome=\"ok\"}") == 5);
    assert_true(sample(t, "restc_rpc_requests_total{op=\"sys.health\",outcome=\"bad_request\"}") ==
                1);
    assert_true(sample(t, "restc_rpc_request_duration_seconds_count{op=\"sys.ping\"}") == 5);
    free(t);
    zmq_close(raw);
    proto_client_destroy(&c);
    proto_srvmetrics_attach(m, NULL);
    proto_server_destroy(&srv);
    fflush(logf);
    /* One line per request (5 + 1), with the rid and the outcome. */
    size_t lines = 0, with_rid = 0;
    for (char *p = logbuf; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (strstr(p, "\"msg\":\"rpc\"")) {
            lines++;
            if (strstr(p, "\"rid\":\"rid-srvm-7\"") && strstr(p, "\"op\":\"sys.ping\"") &&
                strstr(p, "\"outcome\":\"ok\"") && strstr(p, "\"duration_ms\":"))
                with_rid++;
        }
        p = nl ? nl + 1 : NULL;
    }
    assert_int_equal(lines, 6);
    assert_int_equal(with_rid, 5);
    rt_log_init("test", RT_LOG_INFO, NULL);
    fclose(logf);
    free(logbuf);
    proto_srvmetrics_destroy(&m);
    rt_metrics_destroy(&reg);
    zmq_ctx_term(zctx);
}

static proto_err_t h_sleepy(const proto_call_ctx_t *cc, const proto_request_t *req,
                            msgpack_packer *body, proto_fail_t *fail)
{
    (void)cc;
    (void)req;
    (void)fail;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    msgpack_pack_map(body, 0);
    return PROTO_OK;
}

static const proto_handler_t slow_handlers[] = {{PROTO_OP_AUTH_TOKEN, h_sleepy}};

typedef struct {
    void *zctx;
    const char *ep;
    proto_err_t err;
} slow_call_t;

static void *slow_caller(void *arg)
{
    slow_call_t *a = arg;
    msgpack_sbuffer b;
    msgpack_packer pk;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    const char *kv[][2] = {{"username", "u"}, {"password", "p"}, {"client_ip", "127.0.0.1"}};
    for (int i = 0; i < 3; i++) {
        msgpack_pack_str_with_body(&pk, kv[i][0], strlen(kv[i][0]));
        msgpack_pack_str_with_body(&pk, kv[i][1], strlen(kv[i][1]));
    }
    proto_client_t *c = proto_client_new(a->zctx, a->ep, 5000, NULL);
    proto_reply_t r;
    a->err = proto_client_call(c, PROTO_OP_AUTH_TOKEN, "slow-rid", b.data, b.size, &r, -1);
    proto_reply_cleanup(&r);
    proto_client_destroy(&c);
    msgpack_sbuffer_destroy(&b);
    return NULL;
}

/* One slow worker, no queue: of four concurrent slow calls one runs and the
 * others are refused busy at once; the families say exactly that, and the
 * answered one waited in the queue (wait histogram). */
static void test_srvmetrics_counts_slow_lane_refusals(void **state)
{
    (void)state;
    rt_log_init("test", RT_LOG_ERROR, NULL);
    void *zctx = zmq_ctx_new();
    rt_metrics_t *reg = rt_metrics_new();
    proto_srvmetrics_t *m = proto_srvmetrics_new(reg);
    proto_server_config_t cfg = {.bind = "tcp://127.0.0.1:*",
                                 .workers = 1,
                                 .handlers = slow_handlers,
                                 .nhandlers = 1,
                                 .slow_workers = 1,
                                 .slow_queue = 0,
                                 .observe = proto_srvmetrics_observe,
                                 .observe_arg = m};
    proto_server_t *srv = proto_server_new(zctx, &cfg);
    assert_non_null(srv);
    assert_int_equal(proto_server_start(srv), 0);
    proto_srvmetrics_attach(m, srv);
    enum { N = 4 };
    slow_call_t calls[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        calls[i] = (slow_call_t){.zctx = zctx, .ep = proto_server_endpoint(srv)};
        assert_int_equal(pthread_create(&th[i], NULL, slow_caller, &calls[i]), 0);
    }
    int ok = 0, unavailable = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += calls[i].err == PROTO_OK;
        unavailable += calls[i].err == PROTO_ERR_UNAVAILABLE;
    }
    assert_int_equal(ok + unavailable, N);
    assert_true(ok >= 1);
    char *t = render(reg);
    assert_true(sample(t, "restc_rpc_requests_total{op=\"auth.token\",outcome=\"ok\"}") == ok);
    if (unavailable)
        assert_true(sample(t, "restc_rpc_requests_total{op=\"auth.token\",outcome="
                              "\"unavailable\"}") == unavailable);
    assert_true(sample(t, "restc_rpc_slow_refused_total{reason=\"busy\"}") == unavailable);
    assert_true(sample(t, "restc_rpc_slow_queue_wait_seconds_count") == ok);
    assert_true(sample(t, "restc_rpc_request_duration_seconds_count{op=\"auth.token\"}") == ok);
    assert_true(sample(t, "restc_rpc_slow_queue_depth") == 0);
    assert_true(sample(t, "restc_rpc_requests_in_flight") == 0);
    free(t);
    proto_srvmetrics_attach(m, NULL);
    proto_server_destroy(&srv);
    proto_srvmetrics_destroy(&m);
    rt_metrics_destroy(&reg);
    zmq_ctx_term(zctx);
    rt_log_init("test", RT_LOG_INFO, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srvmetrics_counts_exactly),
        cmocka_unit_test(test_srvmetrics_out_of_range_values_are_bounded),
        cmocka_unit_test(test_srvmetrics_null_is_off),
        cmocka_unit_test(test_srvmetrics_observes_a_server),
        cmocka_unit_test(test_srvmetrics_counts_slow_lane_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
