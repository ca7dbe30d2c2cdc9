/*
 * Tests for gw_http through gw_app: the whole gateway runs in-process on an
 * ephemeral port without backends (their endpoints point at unused ports
 * with short timeouts), and plain sockets speak HTTP/1.1 to it, so framing
 * attacks (duplicate Content-Length, Transfer-Encoding with Content-Length)
 * can be sent byte for byte. The route table is injected: the public health
 * rows plus test-only routes (a JSON echo, a failing and a slow handler).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gw_app.h"
#include "http_util.h"
#include "gw_health.h"
#include "rt_uuid.h"
#include "rt_log.h"

#define ORIGIN_OK  "https://app.example.com"
#define MAX_JSON   1024
#define CLIENT_RID "client-chosen-request-id"

/* ---- test-only handlers ---- */

static void h_echo(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    gw_reply_json(reply, 200, json_pack("{s:O}", "echo", req->body));
}

static void h_fail(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "db password=hunter2 at /srv/db.c:12");
}

static void h_slow(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    struct timespec ts = {0, 400 * 1000000L};
    nanosleep(&ts, NULL);
    gw_reply_json(reply, 200, json_pack("{s:s}", "slow", "done"));
}

/* A rendezvous: each request waits until MEET_N requests are in a handler at
 * once (200), or gives up after 2 s (503). Only connections served by
 * different pool threads can all be inside together. */
#define MEET_N 4
static pthread_mutex_t meet_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t meet_cv = PTHREAD_COND_INITIALIZER;
static int meet_inside;

static void h_meet(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&meet_mu);
    meet_inside++;
    pthread_cond_broadcast(&meet_cv);
    int rc = 0;
    while (meet_inside < MEET_N && rc == 0)
        rc = pthread_cond_timedwait(&meet_cv, &meet_mu, &until);
    bool met = meet_inside >= MEET_N;
    pthread_mutex_unlock(&meet_mu);
    gw_reply_json(reply, met ? 200 : 503, json_pack("{s:b}", "met", met));
}

static const gw_route_t test_routes[] = {
    {"GET", "/api/v1/test/meet", h_meet, NULL, GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
    {"GET", "/healthz", gw_health_live, NULL, GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
    {"GET", "/readyz", gw_health_ready, NULL, GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
    {"GET", "/api/v1/health", gw_health_full, NULL, GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
    {"POST", "/api/v1/test/echo", h_echo, NULL, GW_BODY_JSON, NULL, false, NULL, NULL, NULL},
    {"GET", "/api/v1/test/fail", h_fail, NULL, GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
    {"GET", "/api/v1/test/slow", h_slow, NULL, GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
};
#define NTEST_ROUTES (sizeof test_routes / sizeof test_routes[0])

/* ---- the gateway under test ---- */

typedef struct {
    gw_config_t cfg;
    gw_app_t *app;
    uint16_t port;
} fixture_t;

static fixture_t fx;
/* Access log of every gateway in this file. Set before any gateway thread
 * runs and reset after the last one stopped (rt_log_init is not thread-safe). */
static FILE *g_log;

static const char *const test_env[] = {
    "GATEWAY_BIND",
    "127.0.0.1:0",
    "AUTHSVC_ENDPOINTS",
    "tcp://127.0.0.1:9",
    "STORESVC_ENDPOINTS",
    "tcp://127.0.0.1:9",
    "GATEWAY_THREADS",
    "2",
    "GATEWAY_REQUEST_TIMEOUT_SECONDS",
    "1",
    "RPC_TIMEOUT_MS",
    "100",
    "HEALTH_TIMEOUT_MS",
    "100",
    "MAX_JSON_BYTES",
    "1024",
    "CORS_ORIGINS",
    ORIGIN_OK ",http://localhost:3000",
    "SHUTDOWN_GRACE_SECONDS",
    "5",
    NULL,
};

/* Looks `name` up in the test's overrides first, then in test_env. */
static const char *fake_getenv(const char *name, void *arg)
{
    return env_lookup(name, arg, test_env);
}

static int start_gateway(fixture_t *f, const char *const *overrides)
{
    char err[256];
    memset(f, 0, sizeof *f);
    if (gw_config_load(&f->cfg, fake_getenv, (void *)overrides, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    f->app = gw_app_new(&f->cfg, test_routes, NTEST_ROUTES);
    if (!f->app || gw_app_start(f->app) != 0)
        return -1;
    f->port = gw_app_port(f->app);
    return f->port ? 0 : -1;
}

static void stop_gateway(fixture_t *f)
{
    gw_app_shutdown(f->app, 1);
    gw_app_destroy(&f->app);
    gw_config_free(&f->cfg);
}

static int group_setup(void **state)
{
    g_log = tmpfile();
    rt_log_init("gateway", RT_LOG_INFO, g_log);
    return start_gateway(&fx, NULL);
}

static int group_teardown(void **state)
{
    stop_gateway(&fx);
    rt_log_init("gateway", RT_LOG_INFO, NULL);
    if (g_log)
        fclose(g_log);
    return 0;
}

/* ---- a minimal HTTP/1.1 client ---- */

/* resp_t, read_response, header: http_util.h; these fail the test instead. */

static int connect_gw(void)
{
    int fd = http_connect(fx.port, 5);
    assert_true(fd >= 0);
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    assert_int_equal(http_send_all(fd, data, len), 0);
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* True when the peer closed the connection (EOF or reset) within 5 s. */
static int peer_closed(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void roundtrip(const char *raw, resp_t *r)
{
    int fd = connect_gw();
    send_str(fd, raw);
    assert_int_equal(read_response(fd, r, 0), 0);
    close(fd);
}

static void get(const char *path, const char *extra_headers, resp_t *r)
{
    char *raw = NULL;
    assert_true(asprintf(&raw, "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n", path,
                         extra_headers ? extra_headers : "") > 0);
    roundtrip(raw, r);
    free(raw);
}

static void post_json(const char *ctype, const char *body, resp_t *r)
{
    char raw[8192];
    snprintf(raw, sizeof raw,
             "POST /api/v1/test/echo HTTP/1.1\r\nHost: t\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
             ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", strlen(body),
             body);
    roundtrip(raw, r);
}

static json_t *body_json(const resp_t *r)
{
    json_error_t e;
    json_t *v = json_loadb(r->body, r->body_len, 0, &e);
    if (!v)
        fail_msg("body is not JSON: %s", r->body);
    return v;
}

/* Checks a problem reply: status, media type, code, request_id = X-Request-ID. */
static void assert_problem(const resp_t *r, int status, const char *code)
{
    assert_int_equal(r->status, status);
    assert_string_equal(header(r, "Content-Type"), "application/problem+json");
    json_t *p = body_json(r);
    assert_string_equal(json_string_value(json_object_get(p, "type")), "about:blank");
    assert_int_equal(json_integer_value(json_object_get(p, "status")), status);
    assert_string_equal(json_string_value(json_object_get(p, "code")), code);
    assert_non_null(json_string_value(json_object_get(p, "title")));
    assert_non_null(json_string_value(json_object_get(p, "detail")));
    assert_string_equal(json_string_value(json_object_get(p, "request_id")),
                        header(r, "X-Request-ID"));
    json_decref(p);
}

static void assert_security_headers(const resp_t *r)
{
    static const char *const want[][2] = {
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "strict-origin-when-cross-origin"},
        {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
        {"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = header(r, want[i][0]);
        if (!v || strcmp(v, want[i][1]) != 0)
            fail_msg("header %s: got \"%s\"", want[i][0], v ? v : "(missing)");
    }
    assert_true(rt_uuid_valid(header(r, "X-Request-ID")));
    assert_null(header(r, "Server"));
    assert_null(header(r, "X-Powered-By"));
    assert_null(header(r, "Strict-Transport-Security")); /* HSTS_ENABLED defaults to false */
}

/* ---- tests ---- */

static void test_http_healthz_ok_with_security_headers(void **state)
{
    resp_t r;
    get("/healthz", "X-Request-ID: " CLIENT_RID "\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type"), "application/json");
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    assert_security_headers(&r);
    assert_string_not_equal(header(&r, "X-Request-ID"), CLIENT_RID);
    assert_null(header(&r, "Cache-Control")); /* only /api/ paths */
}

static void test_http_request_ids_are_fresh_uuids(void **state)
{
    resp_t a, b;
    get("/healthz", NULL, &a);
    get("/healthz", NULL, &b);
    assert_true(rt_uuid_valid(header(&a, "X-Request-ID")));
    assert_int_equal(header(&a, "X-Request-ID")[14], '4'); /* version 4 */
    assert_string_not_equal(header(&a, "X-Request-ID"), header(&b, "X-Request-ID"));
}

static void test_http_unknown_route_404(void **state)
{
    resp_t r;
    get("/api/v1/nope?token=abc", NULL, &r);
    assert_problem(&r, 404, "not_found");
    assert_security_headers(&r);
    assert_string_equal(header(&r, "Cache-Control"), "no-store");
}

static void test_http_wrong_method_405_with_allow(void **state)
{
    resp_t r;
    roundtrip("DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    assert_problem(&r, 405, "method_not_allowed");
    assert_string_equal(header(&r, "Allow"), "GET, HEAD, OPTIONS");
}

static void test_http_head_has_no_body(void **state)
{
    int fd = connect_gw();
    send_str(fd, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    resp_t r;
    assert_int_equal(read_response(fd, &r, 1), 0);
    assert_int_equal(r.status, 200);
    /* The next reply on the same connection must start right away. */
    send_str(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(fd, &r, 0), 0);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    close(fd);
}

static void test_http_json_echo_ok(void **state)
{
    resp_t r;
    post_json("application/json; charset=utf-8", "{\"a\":[1,2],\"b\":\"\\u00e9\"}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type"), "application/json");
    json_t *v = body_json(&r);
    assert_int_equal(json_array_size(json_object_get(json_object_get(v, "echo"), "a")), 2);
    json_decref(v);
}

static void test_http_json_wrong_content_type_415(void **state)
{
    resp_t r;
    post_json("text/plain", "{\"a\":1}", &r);
    assert_problem(&r, 415, "unsupported_media_type");
    post_json(NULL, "{\"a\":1}", &r);
    assert_problem(&r, 415, "unsupported_media_type");
    post_json("application/jsonx", "{\"a\":1}", &r);
    assert_problem(&r, 415, "unsupported_media_type");
}

static void test_http_json_content_length_over_limit_413(void **state)
{
    /* Only the headers are sent: the answer must not wait for the body. */
    int fd = connect_gw();
    send_str(fd, "POST /api/v1/test/echo HTTP/1.1\r\nHost: t\r\n"
                 "Content-Type: application/json\r\nContent-Length: 1025\r\n\r\n");
    resp_t r;
    assert_int_equal(read_response(fd, &r, 0), 0);
    assert_problem(&r, 413, "payload_too_large");
    assert_true(peer_closed(fd));
    close(fd);
}

static void test_http_json_chunked_over_limit_413(void **state)
{
    int fd = connect_gw();
    send_str(fd, "POST /api/v1/test/echo HTTP/1.1\r\nHost: t\r\n"
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, ' ', sizeof chunk);
    for (int i = 0; i < 2; i++) {
        send_str(fd, "258\r\n"); /* 600 bytes */
        send_all(fd, chunk, sizeof chunk);
        send_str(fd, "\r\n");
    }
    send_str(fd, "0\r\n\r\n");
    resp_t r;
    assert_int_equal(read_response(fd, &r, 0), 0);
    assert_problem(&r, 413, "payload_too_large");
    close(fd);
}

static void test_http_json_chunked_within_limit_ok(void **state)
{
    resp_t r;
    roundtrip("POST /api/v1/test/echo HTTP/1.1\r\nHost: t\r\n"
              "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
              "4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
              &r);
    assert_int_equal(r.status, 200);
}

static void test_http_json_malformed_400(void **state)
{
    static const char *const bodies[] = {"{\"a\":", "{a:1}", "", "{\"a\":1}x", "{\"a\":1,\"a\":2}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        resp_t r;
        post_json("application/json", bodies[i], &r);
        assert_problem(&r, 400, "bad_request");
    }
}

static void test_http_json_not_object_422(void **state)
{
    static const char *const bodies[] = {"[1,2]", "\"text\"", "42", "null"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        resp_t r;
        post_json("application/json", bodies[i], &r);
        assert_problem(&r, 422, "validation_error");
    }
}

static void test_http_duplicate_content_length_400(void **state)
{
    resp_t r;
    roundtrip("POST /api/v1/test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Content-Length: 7\r\nContent-Length: 2\r\n\r\n{\"a\":1}",
              &r);
    assert_problem(&r, 400, "bad_request");
}

static void test_http_transfer_encoding_with_content_length_400(void **state)
{
    resp_t r;
    roundtrip("POST /api/v1/test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n",
              &r);
    assert_problem(&r, 400, "bad_request");
}

static void test_http_uri_too_long_414(void **state)
{
    char path[9000];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    resp_t r;
    get(path, NULL, &r);
    assert_problem(&r, 414, "uri_too_long");
    assert_security_headers(&r);
}

static void test_http_headers_too_large_431(void **state)
{
    char big[20000];
    size_t off = 0;
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(big + off, sizeof big - off, "X-Filler-%02d: %0400d\r\n", i, 0);
    resp_t r;
    get("/healthz", big, &r);
    assert_problem(&r, 431, "header_too_large");
}

static void test_http_internal_error_generic(void **state)
{
    resp_t r;
    get("/api/v1/test/fail", NULL, &r);
    assert_problem(&r, 500, "internal_error");
    assert_null(strstr(r.body, "hunter2"));
    assert_null(strstr(r.body, "/srv"));
}

static void test_http_health_degraded_503(void **state)
{
    resp_t r;
    get("/api/v1/health", NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(header(&r, "Content-Type"), "application/json");
    assert_string_equal(header(&r, "Cache-Control"), "no-store");
    json_t *v = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(v, "status")), "degraded");
    assert_string_equal(json_string_value(json_object_get(v, "version")), RESTC_VERSION);
    json_t *checks = json_object_get(v, "checks");
    static const char *const names[] = {"authsvc", "storesvc", "database", "objectstore"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(checks, names[i])), "down");
    assert_int_equal(json_object_size(checks), 4);
    json_decref(v);
}

static void test_http_readyz_not_ready_503(void **state)
{
    resp_t r;
    get("/readyz", NULL, &r);
    assert_int_equal(r.status, 503);
    json_t *v = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(v, "status")), "not_ready");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "checks"), "storesvc")), "down");
    json_decref(v);
}

static void test_http_cors_allowed_origin(void **state)
{
    resp_t r;
    get("/healthz", "Origin: " ORIGIN_OK "\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Access-Control-Allow-Origin"), ORIGIN_OK);
    assert_string_equal(header(&r, "Access-Control-Allow-Credentials"), "true");
    assert_string_equal(header(&r, "Vary"), "Origin");
    assert_non_null(strstr(header(&r, "Access-Control-Expose-Headers"), "X-Request-ID"));
    assert_non_null(strstr(header(&r, "Access-Control-Expose-Headers"), "Retry-After"));
}

static void test_http_cors_other_origin_gets_nothing(void **state)
{
    resp_t r;
    get("/healthz", "Origin: https://evil.example.com\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_null(header(&r, "Access-Control-Allow-Origin"));
    assert_null(header(&r, "Access-Control-Allow-Credentials"));
    get("/healthz", "Origin: null\r\n", &r);
    assert_null(header(&r, "Access-Control-Allow-Origin"));
}

static void test_http_cors_preflight_204(void **state)
{
    resp_t r;
    roundtrip("OPTIONS /api/v1/test/echo HTTP/1.1\r\nHost: t\r\nOrigin: " ORIGIN_OK "\r\n"
              "Access-Control-Request-Method: POST\r\n"
              "Access-Control-Request-Headers: content-type\r\n\r\n",
              &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(header(&r, "Access-Control-Allow-Origin"), ORIGIN_OK);
    assert_string_equal(header(&r, "Access-Control-Allow-Methods"), "POST, OPTIONS");
    assert_string_equal(header(&r, "Access-Control-Allow-Headers"),
                        "Authorization, Content-Type, X-API-Key");
    assert_string_equal(header(&r, "Access-Control-Max-Age"), "600");
    assert_security_headers(&r);
    /* The same preflight from a foreign origin is not approved. */
    roundtrip("OPTIONS /api/v1/test/echo HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.test\r\n"
              "Access-Control-Request-Method: POST\r\n\r\n",
              &r);
    assert_int_equal(r.status, 204);
    assert_null(header(&r, "Access-Control-Allow-Origin"));
    assert_null(header(&r, "Access-Control-Allow-Methods"));
}

static void test_http_keepalive_connection_reused(void **state)
{
    int fd = connect_gw();
    static const char *const reqs[] = {
        "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n",
        ("POST /api/v1/test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Content-Length: 7\r\n\r\n{\"a\":1}"),
        "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    };
    static const int status[] = {200, 404, 200, 200};
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        resp_t r;
        send_str(fd, reqs[i]);
        assert_int_equal(read_response(fd, &r, 0), 0);
        assert_int_equal(r.status, status[i]);
        const char *conn = header(&r, "Connection");
        if (conn && strcasecmp(conn, "close") == 0)
            fail_msg("request %zu answered with Connection: close", i);
    }
    close(fd);
}

static void test_http_trickling_body_answered_408_at_deadline(void **state)
{
    int fd = connect_gw();
    send_str(fd, "POST /api/v1/test/echo HTTP/1.1\r\nHost: t\r\n"
                 "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{");
    struct timespec ts = {1, 300 * 1000000L}; /* past GATEWAY_REQUEST_TIMEOUT_SECONDS=1 */
    nanosleep(&ts, NULL);
    send(fd, "\"", 1, MSG_NOSIGNAL);
    resp_t r; /* answered (not just dropped), then closed */
    assert_int_equal(read_response(fd, &r, 0), 0);
    assert_problem(&r, 408, "request_timeout");
    assert_string_equal(header(&r, "Connection"), "close");
    assert_true(peer_closed(fd));
    close(fd);
}

/* Finds the access-log line of request `rid`. */
static json_t *find_log_line(const char *rid)
{
    char line[8192];
    json_t *found = NULL;
    fflush(g_log);
    rewind(g_log);
    while (!found && fgets(line, sizeof line, g_log)) {
        json_error_t e;
        json_t *v = json_loads(line, 0, &e);
        const char *vrid = json_string_value(json_object_get(v, "rid"));
        if (vrid && strcmp(vrid, rid) == 0 &&
            strcmp(json_string_value(json_object_get(v, "msg")), "request") == 0)
            found = json_incref(v);
        json_decref(v);
    }
    fseek(g_log, 0, SEEK_END);
    return found;
}

static void test_http_access_log_line(void **state)
{
    resp_t r;
    get("/api/v1/nope?token=s3cret", "Authorization: Bearer abc.def\r\n", &r);
    json_t *line = NULL;
    for (int i = 0; i < 50 && !line; i++) { /* written when the request completes */
        line = find_log_line(header(&r, "X-Request-ID"));
        if (!line) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "INFO");
    assert_string_equal(json_string_value(json_object_get(line, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(line, "path")), "/api/v1/nope");
    assert_int_equal(json_integer_value(json_object_get(line, "status")), 404);
    assert_true(json_is_real(json_object_get(line, "duration_ms")));
    assert_string_equal(json_string_value(json_object_get(line, "client_ip")), "127.0.0.1");
    char *text = json_dumps(line, 0);
    assert_null(strstr(text, "s3cret"));
    assert_null(strstr(text, "abc.def"));
    free(text);
    json_decref(line);
}

/* ---- tests that run their own gateway ---- */

static void test_http_hsts_when_enabled(void **state)
{
    static const char *const env[] = {"HSTS_ENABLED", "true", NULL};
    fixture_t saved = fx;
    assert_int_equal(start_gateway(&fx, env), 0);
    resp_t r;
    get("/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Strict-Transport-Security"),
                        "max-age=31536000; includeSubDomains");
    get("/nope", NULL, &r);
    assert_string_equal(header(&r, "Strict-Transport-Security"),
                        "max-age=31536000; includeSubDomains");
    stop_gateway(&fx);
    fx = saved;
}

static void *slow_client(void *arg)
{
    resp_t *r = arg;
    get("/api/v1/test/slow", NULL, r);
    return NULL;
}

/* A burst of connections is dealt over the pool threads: MEET_N connections
 * opened together on a gateway of MEET_N threads are served at the same time.
 * (an accept shared by all threads put a whole burst on the first one awake.) */
static void test_http_burst_of_connections_spread_over_threads(void **state)
{
    fixture_t saved = fx;
    static const char *const four[] = {"GATEWAY_THREADS", "4", NULL};
    assert_int_equal(start_gateway(&fx, four), 0);
    meet_inside = 0;
    /* All connected before any request is sent: each goes to the thread
     * with the fewest connections, whatever their descriptor numbers. */
    int fd[MEET_N];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(fx.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < MEET_N; i++) {
        fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd[i] >= 0);
        struct timeval tv = {5, 0};
        setsockopt(fd[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    for (int i = 0; i < MEET_N; i++)
        assert_int_equal(connect(fd[i], (struct sockaddr *)&sa, sizeof sa), 0);
    for (int i = 0; i < MEET_N; i++)
        send_str(fd[i], "GET /api/v1/test/meet HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < MEET_N; i++) {
        resp_t r;
        assert_int_equal(read_response(fd[i], &r, 0), 0);
        if (r.status != 200)
            fail_msg("connection %d: %d %s (served one after another)", i, r.status, r.body);
        close(fd[i]);
    }
    stop_gateway(&fx);
    fx = saved;
}

static void test_http_shutdown_waits_for_in_flight(void **state)
{
    fixture_t saved = fx;
    assert_int_equal(start_gateway(&fx, NULL), 0);
    resp_t r;
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, slow_client, &r), 0);
    struct timespec ts = {0, 150 * 1000000L}; /* the request is in the handler now */
    nanosleep(&ts, NULL);
    gw_app_shutdown(fx.app, 5);
    pthread_join(tid, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Connection"), "close");
    /* No new connections after shutdown. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(fx.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_not_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    stop_gateway(&fx);
    fx = saved;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_healthz_ok_with_security_headers),
        cmocka_unit_test(test_http_request_ids_are_fresh_uuids),
        cmocka_unit_test(test_http_unknown_route_404),
        cmocka_unit_test(test_http_wrong_method_405_with_allow),
        cmocka_unit_test(test_http_head_has_no_body),
        cmocka_unit_test(test_http_json_echo_ok),
        cmocka_unit_test(test_http_json_wrong_content_type_415),
        cmocka_unit_test(test_http_json_content_length_over_limit_413),
        cmocka_unit_test(test_http_json_chunked_over_limit_413),
        cmocka_unit_test(test_http_json_chunked_within_limit_ok),
        cmocka_unit_test(test_http_json_malformed_400),
        cmocka_unit_test(test_http_json_not_object_422),
        cmocka_unit_test(test_http_duplicate_content_length_400),
        cmocka_unit_test(test_http_transfer_encoding_with_content_length_400),
        cmocka_unit_test(test_http_uri_too_long_414),
        cmocka_unit_test(test_http_headers_too_large_431),
        cmocka_unit_test(test_http_internal_error_generic),
        cmocka_unit_test(test_http_health_degraded_503),
        cmocka_unit_test(test_http_readyz_not_ready_503),
        cmocka_unit_test(test_http_cors_allowed_origin),
        cmocka_unit_test(test_http_cors_other_origin_gets_nothing),
        cmocka_unit_test(test_http_cors_preflight_204),
        cmocka_unit_test(test_http_keepalive_connection_reused),
        cmocka_unit_test(test_http_trickling_body_answered_408_at_deadline),
        cmocka_unit_test(test_http_access_log_line),
        cmocka_unit_test(test_http_hsts_when_enabled),
        cmocka_unit_test(test_http_burst_of_connections_spread_over_threads),
        cmocka_unit_test(test_http_shutdown_waits_for_in_flight),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
