/*
 * End-to-end tests of the API routes through gw_app, in-process: the real
 * public route table on an ephemeral port, against FAKE authsvc and
 * storesvc (proto_servers on tcp://127.0.0.1:* whose stub handlers record
 * the body each op received and answer from a per-op script), spoken to
 * over plain sockets.
 *
 * Checked: each route calls the right op with the right fields (the stubs
 * decode against the catalogue, so a wrong field would already be a
 * bad_request), problem JSON and status mapping, WWW-Authenticate,
 * RateLimit-* and Retry-After, Set-Cookie with COOKIE_SECURE true/false,
 * refresh from the cookie versus the body, 422 on unknown or mistyped
 * fields, client IP resolution through trusted proxies, and the slow lane:
 * a fast protected request stays fast while 32 slow ones are pending, a
 * full slow queue answers 503 at once, a suspended request outlives the
 * request deadline, and shutdown with suspended connections is clean.
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
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "gw_app.h"
#include "http_util.h"
#include "proto_json.h"
#include "proto_server.h"
#include "rt_log.h"

#define USER_ID      "0b7c5b3e-1111-4111-8111-111111111111"
#define ADMIN_ID     "0b7c5b3e-2222-4222-8222-222222222222"
#define OTHER_ID     "0b7c5b3e-3333-4333-8333-333333333333"
#define EXP          1795000000 /* 2026-11-18T11:06:40Z */
#define SECURE_ATTRS "; HttpOnly; SameSite=Lax; Path=/api/v1/auth"

/* ------------------------------------------------------------------ */
/* fake backends                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    pthread_mutex_t mu;
    json_t *last[PROTO_OP__COUNT];   /* the body each op last received */
    int calls[PROTO_OP__COUNT];      /* how often */
    json_t *answer[PROTO_OP__COUNT]; /* canned success body */
    proto_err_t fail[PROTO_OP__COUNT];
    char fail_msg[PROTO_OP__COUNT][128];
    char fail_field[PROTO_OP__COUNT][32];
    long fail_retry[PROTO_OP__COUNT], fail_limit[PROTO_OP__COUNT];
    int delay_ms[PROTO_OP__COUNT];
} fake_t;

static fake_t fk;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *jparse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad JSON %s: %s", text, e.text);
    return v;
}

/* Role -> permissions, as the API contract lists them (a stub of authsvc's RBAC). */
static bool role_may(const char *role, const char *perm)
{
    static const char *const rows[][2] = {
        {"admin", "users:read users:write users:delete admin:read admin:write self:read "
                  "self:write"},
        {"user", "content:read content:write self:read self:write"},
        {"viewer", "content:read self:read"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (strcmp(rows[i][0], role) == 0)
            return strstr(rows[i][1], perm) != NULL;
    }
    return false;
}

/* auth.authorize: "tok-user" / "tok-admin" / "tok-viewer" are valid. */
static proto_err_t stub_authorize(const json_t *got, msgpack_packer *body, proto_fail_t *fail)
{
    const char *cred = json_string_value(json_object_get(got, "credential"));
    const char *perm = json_string_value(json_object_get(got, "permission"));
    const char *role = NULL, *id = NULL;
    if (cred && strcmp(cred, "tok-user") == 0)
        role = "user", id = USER_ID;
    else if (cred && strcmp(cred, "tok-admin") == 0)
        role = "admin", id = ADMIN_ID;
    else if (cred && strcmp(cred, "tok-viewer") == 0)
        role = "viewer", id = OTHER_ID;
    if (!cred && !perm) { /* anonymous, nothing required: counted, as authsvc answers it */
        json_t *anon = json_pack("{s:b, s:{s:i, s:i, s:i}}", "anonymous", 1, "rate", "limit", 600,
                                 "remaining", 598, "reset", 42);
        int rc = proto_pack_json(body, anon);
        json_decref(anon);
        return rc == 0 ? PROTO_OK : PROTO_ERR_INTERNAL_ERROR;
    }
    if (!role) {
        strcpy(fail->msg, "token expired at /srv/auth_jwt.c:42");
        return PROTO_ERR_UNAUTHORIZED;
    }
    if (perm && !role_may(role, perm)) {
        strcpy(fail->msg, "Your role does not allow this");
        fail->limit = 600; /* the request counted: authsvc reports the limiter */
        fail->remaining = 596;
        fail->reset = 40;
        return PROTO_ERR_FORBIDDEN;
    }
    json_t *ans = json_pack("{s:b, s:s, s:s, s:s, s:s, s:i, s:{s:i, s:i, s:i}}", "anonymous", 0,
                            "user_id", id, "username", role, "role", role, "sid", "sid-current",
                            "exp", EXP, "rate", "limit", 600, "remaining", 597, "reset", 41);
    int rc = proto_pack_json(body, ans);
    json_decref(ans);
    return rc == 0 ? PROTO_OK : PROTO_ERR_INTERNAL_ERROR;
}

static proto_err_t stub(const proto_call_ctx_t *cc, const proto_request_t *req,
                        msgpack_packer *body, proto_fail_t *fail)
{
    fake_t *f = cc->svc;
    proto_op_t op = req->op;
    json_t *got = proto_to_json(req->body);
    pthread_mutex_lock(&f->mu);
    json_decref(f->last[op]);
    f->last[op] = json_incref(got);
    f->calls[op]++;
    proto_err_t err = f->fail[op];
    int delay = f->delay_ms[op];
    json_t *ans = json_incref(f->answer[op]);
    if (err != PROTO_OK) {
        snprintf(fail->msg, sizeof fail->msg, "%s", f->fail_msg[op]);
        snprintf(fail->field, sizeof fail->field, "%s", f->fail_field[op]);
        fail->retry_after = f->fail_retry[op];
        fail->limit = f->fail_limit[op];
    }
    pthread_mutex_unlock(&f->mu);
    if (delay > 0)
        sleep_ms(delay);
    if (err == PROTO_OK && op == PROTO_OP_AUTH_AUTHORIZE)
        err = stub_authorize(got, body, fail);
    else if (err == PROTO_OK)
        err = ans ? (proto_pack_json(body, ans) == 0 ? PROTO_OK : PROTO_ERR_INTERNAL_ERROR)
                  : (msgpack_pack_map(body, 0), PROTO_OK);
    json_decref(ans);
    json_decref(got);
    return err;
}

#define USER_JSON                                                                                  \
    "{\"id\":\"" USER_ID "\",\"username\":\"alice\",\"email\":\"alice@example.com\","              \
    "\"full_name\":\"Alice\",\"role\":\"user\",\"is_active\":true,\"totp_enabled\":false,"         \
    "\"created_at\":\"2026-01-02T03:04:05Z\",\"password_hash\":\"$argon2id$v=19$secret\"}"
#define USER_OUT                                                                                   \
    "{\"id\":\"" USER_ID "\",\"username\":\"alice\",\"email\":\"alice@example.com\","              \
    "\"full_name\":\"Alice\",\"role\":\"user\",\"is_active\":true,\"totp_enabled\":false,"         \
    "\"created_at\":\"2026-01-02T03:04:05Z\"}"
#define RATE_JSON "{\"limit\":3,\"remaining\":2,\"reset\":59}"
#define PAIR_JSON(at, rt)                                                                          \
    "{\"access_token\":\"" at "\",\"token_type\":\"bearer\",\"expires_in\":900,"                   \
    "\"refresh_token\":\"" rt "\",\"refresh_expires_in\":604800,\"session_id\":\"sid-9\","         \
    "\"rate\":" RATE_JSON "}"

static const struct {
    proto_op_t op;
    const char *json;
} answers[] = {
    {PROTO_OP_AUTH_REGISTER, "{\"user\":" USER_JSON ",\"rate\":" RATE_JSON "}"},
    {PROTO_OP_AUTH_TOKEN, PAIR_JSON("at-1", "rt-1")},
    {PROTO_OP_AUTH_REFRESH, PAIR_JSON("at-2", "rt-2")},
    {PROTO_OP_AUTH_SESSIONS,
     "{\"sessions\":[{\"id\":\"sid-current\",\"created_at\":\"2026-01-01T00:00:00Z\","
     "\"last_used_at\":\"2026-01-02T00:00:00Z\",\"client_ip\":\"192.0.2.1\","
     "\"user_agent\":\"ua\",\"current\":true,\"family_hash\":\"x\"}]}"},
    {PROTO_OP_AUTH_UPDATE_SELF, USER_JSON},
    {PROTO_OP_AUTH_USER_UPDATE, USER_JSON},
    {PROTO_OP_AUTH_STATS, "{\"users\":3,\"files\":1,\"bytes_stored\":10,\"active_sessions\":2,"
                          "\"blocked_sources\":0,\"internal\":1}"},
    {PROTO_OP_STORE_USER_GET, USER_JSON},
    {PROTO_OP_STORE_USER_LIST,
     "{\"users\":[" USER_JSON "],\"total\":1,\"page\":1,\"per_page\":20,\"pages\":1}"},
};

static void fake_reset(void)
{
    pthread_mutex_lock(&fk.mu);
    for (int i = 0; i < PROTO_OP__COUNT; i++) {
        json_decref(fk.last[i]);
        fk.last[i] = NULL;
        fk.calls[i] = 0;
        fk.fail[i] = PROTO_OK;
        fk.fail_msg[i][0] = '\0';
        fk.fail_field[i][0] = '\0';
        fk.fail_retry[i] = fk.fail_limit[i] = -1;
        fk.delay_ms[i] = 0;
    }
    pthread_mutex_unlock(&fk.mu);
}

static void fake_fail(proto_op_t op, proto_err_t err, const char *msg, long retry, long limit)
{
    pthread_mutex_lock(&fk.mu);
    fk.fail[op] = err;
    snprintf(fk.fail_msg[op], sizeof fk.fail_msg[op], "%s", msg ? msg : "");
    fk.fail_retry[op] = retry;
    fk.fail_limit[op] = limit;
    pthread_mutex_unlock(&fk.mu);
}

/* The next failures of `op` name `field` (err.field). */
static void fake_fail_field(proto_op_t op, const char *field)
{
    pthread_mutex_lock(&fk.mu);
    snprintf(fk.fail_field[op], sizeof fk.fail_field[op], "%s", field);
    pthread_mutex_unlock(&fk.mu);
}

static void fake_delay(proto_op_t op, int ms)
{
    pthread_mutex_lock(&fk.mu);
    fk.delay_ms[op] = ms;
    pthread_mutex_unlock(&fk.mu);
}

static int fake_calls(proto_op_t op)
{
    pthread_mutex_lock(&fk.mu);
    int n = fk.calls[op];
    pthread_mutex_unlock(&fk.mu);
    return n;
}

/* The body `op` last received (a new reference), failing when never called. */
static json_t *fake_last(proto_op_t op)
{
    pthread_mutex_lock(&fk.mu);
    json_t *v = json_incref(fk.last[op]);
    pthread_mutex_unlock(&fk.mu);
    if (!v)
        fail_msg("%s was not called", proto_op_name(op));
    return v;
}

/* Asserts that `op` last received exactly the JSON `want`. */
static void assert_received(proto_op_t op, const char *want)
{
    json_t *got = fake_last(op), *w = jparse(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("%s received %s, want %s", proto_op_name(op), g, want);
    }
    json_decref(got);
    json_decref(w);
}

static const proto_handler_t stub_handlers[] = {
#define STUB_ROW(id, name, idem, lane) {PROTO_OP_##id, stub},
    PROTO_OPS(STUB_ROW)
#undef STUB_ROW
};

static void *g_zctx;
static proto_server_t *g_authsvc, *g_storesvc;
static char g_auth_ep[128], g_store_ep[128];
static FILE *g_log;

static proto_server_t *fake_server(int workers)
{
    proto_server_config_t cfg = {
        .bind = "tcp://127.0.0.1:*",
        .workers = workers,
        .handlers = stub_handlers,
        .nhandlers = sizeof stub_handlers / sizeof stub_handlers[0],
        .svc = &fk,
        .limits = proto_limits_default(),
    };
    proto_server_t *srv = proto_server_new(g_zctx, &cfg);
    if (!srv || proto_server_start(srv) != 0)
        return NULL;
    return srv;
}

/* ------------------------------------------------------------------ */
/* the gateway under test                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    gw_config_t cfg;
    gw_app_t *app;
    uint16_t port;
} gw_t;

static gw_t gw;       /* the shared one: trusts 127.0.0.1 as a proxy */
static uint16_t port; /* where requests go */

static const char *base_env[] = {
    "GATEWAY_BIND",
    "127.0.0.1:0",
    "AUTHSVC_ENDPOINTS",
    g_auth_ep,
    "STORESVC_ENDPOINTS",
    g_store_ep,
    "GATEWAY_THREADS",
    "2",
    "GATEWAY_REQUEST_TIMEOUT_SECONDS",
    "1",
    "RPC_TIMEOUT_MS",
    "3000",
    "MAX_JSON_BYTES",
    "4096",
    "LOGIN_TRUSTED_PROXY_IPS",
    "127.0.0.1",
    NULL,
};

static const char *fake_getenv(const char *name, void *arg)
{
    return env_lookup(name, arg, base_env);
}

static int gw_start(gw_t *g, const char *const *overrides)
{
    char err[256];
    memset(g, 0, sizeof *g);
    if (gw_config_load(&g->cfg, fake_getenv, (void *)overrides, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    g->app = gw_app_new(&g->cfg, NULL, 0);
    if (!g->app || gw_app_start(g->app) != 0)
        return -1;
    g->port = gw_app_port(g->app);
    return g->port ? 0 : -1;
}

static void gw_stop(gw_t *g)
{
    gw_app_shutdown(g->app, 1);
    gw_app_destroy(&g->app);
    gw_config_free(&g->cfg);
}

static int group_setup(void **state)
{
    g_log = tmpfile();
    rt_log_init("gateway", RT_LOG_INFO, g_log);
    pthread_mutex_init(&fk.mu, NULL);
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++)
        fk.answer[answers[i].op] = jparse(answers[i].json);
    fake_reset();
    g_zctx = zmq_ctx_new();
    /* Enough workers that 32 slow stubs never hold up a fast one. */
    if (!(g_authsvc = fake_server(40)) || !(g_storesvc = fake_server(4)))
        return -1;
    snprintf(g_auth_ep, sizeof g_auth_ep, "%s", proto_server_endpoint(g_authsvc));
    snprintf(g_store_ep, sizeof g_store_ep, "%s", proto_server_endpoint(g_storesvc));
    if (gw_start(&gw, NULL) != 0)
        return -1;
    port = gw.port;
    return 0;
}

static int group_teardown(void **state)
{
    gw_stop(&gw);
    proto_server_destroy(&g_authsvc);
    proto_server_destroy(&g_storesvc);
    zmq_ctx_term(g_zctx);
    fake_reset();
    for (int i = 0; i < PROTO_OP__COUNT; i++)
        json_decref(fk.answer[i]);
    rt_log_init("gateway", RT_LOG_INFO, NULL);
    if (g_log)
        fclose(g_log);
    return 0;
}

static int test_setup(void **state)
{
    fake_reset();
    port = gw.port;
    return 0;
}

/* ------------------------------------------------------------------ */
/* a minimal HTTP/1.1 client                                            */
/* ------------------------------------------------------------------ */

/* resp_t, http_connect, read_response, header: http_util.h */

/* Formats one request: `headers` are extra lines ("Name: v\r\n..."); a
 * non-NULL `json` is sent with Content-Type: application/json. */
static char *format_request(const char *method, const char *path, const char *headers,
                            const char *json)
{
    char *raw = NULL;
    int n;
    if (json)
        n = asprintf(&raw,
                     "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, headers ? headers : "", strlen(json), json);
    else
        n = asprintf(&raw, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n", method, path,
                     headers ? headers : "");
    return n > 0 ? raw : NULL;
}

/* One request on a fresh connection to `p`. Thread-safe (no cmocka inside). */
static int request_to(uint16_t p, const char *method, const char *path, const char *headers,
                      const char *json, resp_t *r)
{
    memset(r, 0, sizeof *r);
    char *raw = format_request(method, path, headers, json);
    int fd = http_connect(p, 10);
    int rc = -1;
    if (raw && fd >= 0 && http_send_all(fd, raw, strlen(raw)) == 0)
        rc = read_response(fd, r, 0);
    if (fd >= 0)
        close(fd);
    free(raw);
    return rc;
}

static void request(const char *method, const char *path, const char *headers, const char *json,
                    resp_t *r)
{
    if (request_to(port, method, path, headers, json, r) != 0)
        fail_msg("%s %s: no response", method, path);
}

static json_t *body_json(const resp_t *r)
{
    json_error_t e;
    json_t *v = json_loadb(r->body, r->body_len, 0, &e);
    if (!v)
        fail_msg("body is not JSON: %s", r->body);
    return v;
}

/* The "errors" of a problem reply (a new reference; NULL when absent). */
static json_t *problem_errors(const resp_t *r)
{
    json_t *p = body_json(r);
    json_t *e = json_incref(json_object_get(p, "errors"));
    json_decref(p);
    return e;
}

static void assert_body(const resp_t *r, const char *want)
{
    json_t *got = body_json(r), *w = jparse(want);
    if (!json_equal(got, w))
        fail_msg("body %s, want %s", r->body, want);
    json_decref(got);
    json_decref(w);
}

/* A problem reply: status, media type, code, request_id; returns its detail (static copy). */
static const char *assert_problem(const resp_t *r, int status, const char *code)
{
    static char detail[512];
    if (r->status != status)
        fail_msg("status %d, want %d: %s", r->status, status, r->body);
    assert_string_equal(header(r, "Content-Type"), "application/problem+json");
    json_t *p = body_json(r);
    assert_string_equal(json_string_value(json_object_get(p, "code")), code);
    assert_int_equal(json_integer_value(json_object_get(p, "status")), status);
    assert_string_equal(json_string_value(json_object_get(p, "request_id")),
                        header(r, "X-Request-ID"));
    snprintf(detail, sizeof detail, "%s", json_string_value(json_object_get(p, "detail")));
    json_decref(p);
    return detail;
}

#define AUTH_USER  "Authorization: Bearer tok-user\r\n"
#define AUTH_ADMIN "Authorization: Bearer tok-admin\r\n"

/* ------------------------------------------------------------------ */
/* public auth routes                                                   */
/* ------------------------------------------------------------------ */

static void test_api_register_201_user_only(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/register", NULL,
            "{\"username\":\"alice\",\"email\":\"alice@example.com\",\"password\":\"Pw1!pw1!\","
            "\"full_name\":null}",
            &r);
    assert_int_equal(r.status, 201);
    assert_body(&r, USER_OUT); /* the User itself: no hash, no rate, no wrapper */
    assert_received(PROTO_OP_AUTH_REGISTER,
                    "{\"username\":\"alice\",\"email\":\"alice@example.com\","
                    "\"password\":\"Pw1!pw1!\",\"full_name\":null,\"client_ip\":\"127.0.0.1\"}");
    assert_string_equal(header(&r, "RateLimit-Limit"), "3");
    assert_string_equal(header(&r, "RateLimit-Remaining"), "2");
    assert_string_equal(header(&r, "RateLimit-Reset"), "59");
}

static void test_api_register_mass_assignment_422(void **state)
{
    static const char *const bodies[][2] = {
        {"{\"username\":\"a\",\"email\":\"e\",\"password\":\"p\",\"role\":\"admin\"}", "role"},
        {"{\"username\":\"a\",\"email\":\"e\",\"password\":\"p\",\"is_active\":true}", "is_active"},
        {"{\"username\":\"a\",\"email\":\"e\",\"password\":\"p\",\"client_ip\":\"1.2.3.4\"}",
         "client_ip"},
        {"{\"username\":5,\"email\":\"e\",\"password\":\"p\"}", "username"},
        {"{\"username\":\"a\",\"email\":\"e\"}", "password"},
        {"{\"username\":\"a\",\"email\":\"e\",\"password\":[\"p\"]}", "password"},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        resp_t r;
        request("POST", "/api/v1/auth/register", NULL, bodies[i][0], &r);
        assert_problem(&r, 422, "validation_error");
        json_t *p = body_json(&r);
        json_t *errors = json_object_get(p, "errors");
        assert_true(json_array_size(errors) >= 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")),
                            bodies[i][1]);
        json_decref(p);
    }
    assert_int_equal(fake_calls(PROTO_OP_AUTH_REGISTER), 0);
}

static void test_api_register_backend_errors(void **state)
{
    resp_t r;
    const char *body = "{\"username\":\"alice\",\"email\":\"a@b.c\",\"password\":\"weak\"}";
    fake_fail(PROTO_OP_AUTH_REGISTER, PROTO_ERR_WEAK_PASSWORD,
              "Password must contain an upper-case letter", -1, -1);
    fake_fail_field(PROTO_OP_AUTH_REGISTER, "password");
    request("POST", "/api/v1/auth/register", NULL, body, &r);
    assert_string_equal(assert_problem(&r, 400, "weak_password"),
                        "Password must contain an upper-case letter");
    json_t *
        errors = problem_errors(&r),
       *want = jparse(
           "[{\"field\":\"password\",\"message\":\"Password must contain an upper-case letter\"}]");
    assert_true(json_equal(errors, want));
    json_decref(errors);
    json_decref(want);
    /* A field rule authsvc checks: 422 naming the field. */
    fake_fail(PROTO_OP_AUTH_REGISTER, PROTO_ERR_VALIDATION_ERROR, "Username is reserved", -1, -1);
    fake_fail_field(PROTO_OP_AUTH_REGISTER, "username");
    request("POST", "/api/v1/auth/register", NULL, body, &r);
    assert_string_equal(assert_problem(&r, 422, "validation_error"), "Username is reserved");
    errors = problem_errors(&r);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")),
                        "username");
    json_decref(errors);
    fake_fail_field(PROTO_OP_AUTH_REGISTER, "");
    /* registration_failed: the fixed text, whatever the service says. */
    fake_fail(PROTO_OP_AUTH_REGISTER, PROTO_ERR_REGISTRATION_FAILED, "username alice taken", -1,
              -1);
    fake_fail_field(PROTO_OP_AUTH_REGISTER, "username"); /* never shown for this code */
    request("POST", "/api/v1/auth/register", NULL, body, &r);
    assert_string_equal(assert_problem(&r, 400, "registration_failed"),
                        "Unable to create account with provided information");
    assert_null(problem_errors(&r));
    fake_fail_field(PROTO_OP_AUTH_REGISTER, "");
    fake_fail(PROTO_OP_AUTH_REGISTER, PROTO_ERR_RATE_LIMITED, "Too many registrations", 20, 3);
    request("POST", "/api/v1/auth/register", NULL, body, &r);
    assert_problem(&r, 429, "rate_limited");
    assert_string_equal(header(&r, "Retry-After"), "20");
    assert_string_equal(header(&r, "RateLimit-Limit"), "3");
    assert_string_equal(header(&r, "RateLimit-Remaining"), "0");
    assert_string_equal(header(&r, "RateLimit-Reset"), "20");
    fake_fail(PROTO_OP_AUTH_REGISTER, PROTO_ERR_REGISTRATION_DISABLED, NULL, -1, -1);
    request("POST", "/api/v1/auth/register", NULL, body, &r);
    assert_problem(&r, 403, "registration_disabled");
}

static void test_api_register_wrong_media_type_415(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/register", "Content-Type: text/plain\r\nContent-Length: 2\r\n",
            NULL, &r);
    /* (the two body bytes never come: the answer does not wait for them) */
    assert_problem(&r, 415, "unsupported_media_type");
}

static void test_api_token_pair_and_user_agent(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/token", "User-Agent: curl/8 \xc3\xa9t\xc3\xa9\r\n",
            "{\"username\":\"alice\",\"password\":\"pw\",\"totp_code\":\"123456\"}", &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "{\"access_token\":\"at-1\",\"token_type\":\"bearer\",\"expires_in\":900,"
                    "\"refresh_token\":\"rt-1\",\"refresh_expires_in\":604800}");
    assert_null(header(&r, "Set-Cookie"));
    assert_received(PROTO_OP_AUTH_TOKEN,
                    "{\"username\":\"alice\",\"password\":\"pw\",\"totp_code\":\"123456\","
                    "\"client_ip\":\"127.0.0.1\",\"user_agent\":\"curl/8 ??t??\"}");
    /* No User-Agent: the field is left out. */
    request("POST", "/api/v1/auth/token", NULL, "{\"username\":\"a\",\"password\":\"p\"}", &r);
    assert_received(PROTO_OP_AUTH_TOKEN,
                    "{\"username\":\"a\",\"password\":\"p\",\"client_ip\":\"127.0.0.1\"}");
}

static void test_api_user_agent_truncated_to_512(void **state)
{
    char headers[1200] = "User-Agent: ";
    size_t off = strlen(headers);
    memset(headers + off, 'u', 700);
    memcpy(headers + off + 700, "\r\n", 3);
    resp_t r;
    request("POST", "/api/v1/auth/token", headers, "{\"username\":\"a\",\"password\":\"p\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *got = fake_last(PROTO_OP_AUTH_TOKEN);
    assert_int_equal(json_string_length(json_object_get(got, "user_agent")), 512);
    json_decref(got);
}

static void test_api_token_failures(void **state)
{
    resp_t r;
    const char *body = "{\"username\":\"ghost\",\"password\":\"x\"}";
    fake_fail(PROTO_OP_AUTH_TOKEN, PROTO_ERR_INVALID_CREDENTIALS, "no such user ghost", -1, -1);
    request("POST", "/api/v1/auth/token", NULL, body, &r);
    assert_string_equal(assert_problem(&r, 401, "invalid_credentials"), "Invalid credentials");
    assert_string_equal(header(&r, "WWW-Authenticate"), "Bearer");
    assert_null(strstr(r.body, "ghost"));
    fake_fail(PROTO_OP_AUTH_TOKEN, PROTO_ERR_LOGIN_RATE_LIMITED,
              "Too many failed login attempts. Please try again later.", 900, -1);
    request("POST", "/api/v1/auth/token", NULL, body, &r);
    assert_string_equal(assert_problem(&r, 429, "login_rate_limited"),
                        "Too many failed login attempts. Please try again later.");
    assert_string_equal(header(&r, "Retry-After"), "900");
    assert_null(header(&r, "RateLimit-Remaining"));
    fake_fail(PROTO_OP_AUTH_TOKEN, PROTO_ERR_ACCOUNT_DISABLED, NULL, -1, -1);
    request("POST", "/api/v1/auth/token", NULL, body, &r);
    assert_problem(&r, 403, "account_disabled");
    fake_fail(PROTO_OP_AUTH_TOKEN, PROTO_ERR_TOTP_REQUIRED, NULL, -1, -1);
    request("POST", "/api/v1/auth/token", NULL, body, &r);
    assert_problem(&r, 401, "totp_required");
    assert_string_equal(header(&r, "WWW-Authenticate"), "Bearer");
}

static void test_api_backend_internal_and_unavailable_generic(void **state)
{
    resp_t r;
    const char *body = "{\"username\":\"a\",\"password\":\"x\"}";
    fake_fail(PROTO_OP_AUTH_TOKEN, PROTO_ERR_UNAVAILABLE, "storesvc down: tcp://10.0.0.5:7002", -1,
              -1);
    request("POST", "/api/v1/auth/token", NULL, body, &r);
    assert_problem(&r, 503, "unavailable");
    assert_null(strstr(r.body, "10.0.0.5"));
    fake_fail(PROTO_OP_AUTH_TOKEN, PROTO_ERR_INTERNAL_ERROR, "SQL: SELECT * FROM users", -1, -1);
    request("POST", "/api/v1/auth/token", NULL, body, &r);
    assert_problem(&r, 500, "internal_error");
    assert_null(strstr(r.body, "SELECT"));
    fake_fail(PROTO_OP_AUTH_TOKEN, PROTO_ERR_BAD_REQUEST, "field username too long", -1, -1);
    request("POST", "/api/v1/auth/token", NULL, body, &r);
    assert_problem(&r, 400, "bad_request");
    assert_null(strstr(r.body, "too long"));
}

static void test_api_field_bound_422_before_backend(void **state)
{
    char body[1400];
    char pw[1100];
    memset(pw, 'p', 1025);
    pw[1025] = '\0';
    snprintf(body, sizeof body, "{\"username\":\"a\",\"password\":\"%s\"}", pw);
    resp_t r;
    request("POST", "/api/v1/auth/token", NULL, body, &r);
    assert_problem(&r, 422, "validation_error");
    assert_int_equal(fake_calls(PROTO_OP_AUTH_TOKEN), 0);
}

static void test_api_login_cookie_secure(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/login", NULL, "{\"username\":\"alice\",\"password\":\"pw\"}", &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "{\"access_token\":\"at-1\",\"token_type\":\"bearer\",\"expires_in\":900}");
    assert_string_equal(header(&r, "Set-Cookie"),
                        "refresh_token=rt-1" SECURE_ATTRS "; Max-Age=604800; Secure");
    assert_received(PROTO_OP_AUTH_TOKEN, "{\"username\":\"alice\",\"password\":\"pw\","
                                         "\"client_ip\":\"127.0.0.1\"}");
    assert_string_equal(header(&r, "RateLimit-Remaining"), "2");
}

static void test_api_login_cookie_not_secure_when_disabled(void **state)
{
    static const char *const env[] = {"COOKIE_SECURE", "false", NULL};
    gw_t g;
    assert_int_equal(gw_start(&g, env), 0);
    port = g.port;
    resp_t r;
    request("POST", "/api/v1/auth/login", NULL, "{\"username\":\"alice\",\"password\":\"pw\"}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Set-Cookie"),
                        "refresh_token=rt-1" SECURE_ATTRS "; Max-Age=604800");
    request("POST", "/api/v1/auth/logout", NULL, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(header(&r, "Set-Cookie"), "refresh_token=" SECURE_ATTRS "; Max-Age=0");
    port = gw.port;
    gw_stop(&g);
}

static void test_api_refresh_from_cookie(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/refresh",
            "Cookie: theme=dark; refresh_token=rt-old; lang=en\r\nUser-Agent: ua/1\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "{\"access_token\":\"at-2\",\"token_type\":\"bearer\",\"expires_in\":900}");
    assert_string_equal(header(&r, "Set-Cookie"),
                        "refresh_token=rt-2" SECURE_ATTRS "; Max-Age=604800; Secure");
    assert_received(PROTO_OP_AUTH_REFRESH, "{\"refresh_token\":\"rt-old\","
                                           "\"client_ip\":\"127.0.0.1\",\"user_agent\":\"ua/1\"}");
    /* An empty JSON object is a body without a token: the cookie is used. */
    request("POST", "/api/v1/auth/refresh", "Cookie: refresh_token=rt-c\r\n", "{}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(header(&r, "Set-Cookie"));
}

static void test_api_refresh_from_body(void **state)
{
    resp_t r;
    /* The body's token wins over a cookie. */
    request("POST", "/api/v1/auth/refresh", "Cookie: refresh_token=rt-cookie\r\n",
            "{\"refresh_token\":\"rt-body\"}", &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "{\"access_token\":\"at-2\",\"token_type\":\"bearer\",\"expires_in\":900,"
                    "\"refresh_token\":\"rt-2\",\"refresh_expires_in\":604800}");
    assert_null(header(&r, "Set-Cookie"));
    assert_received(PROTO_OP_AUTH_REFRESH,
                    "{\"refresh_token\":\"rt-body\",\"client_ip\":\"127.0.0.1\"}");
}

static void test_api_refresh_without_token_401(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/refresh", NULL, NULL, &r);
    assert_problem(&r, 401, "invalid_refresh_token");
    assert_string_equal(header(&r, "WWW-Authenticate"), "Bearer");
    assert_null(header(&r, "Set-Cookie"));
    /* Two different cookie values: ambiguous, refused and cleared. */
    request("POST", "/api/v1/auth/refresh", "Cookie: refresh_token=a1; refresh_token=b2\r\n", NULL,
            &r);
    assert_problem(&r, 401, "invalid_refresh_token");
    assert_string_equal(header(&r, "Set-Cookie"),
                        "refresh_token=" SECURE_ATTRS "; Max-Age=0; Secure");
    assert_int_equal(fake_calls(PROTO_OP_AUTH_REFRESH), 0);
}

static void test_api_refresh_reuse_clears_cookie(void **state)
{
    resp_t r;
    fake_fail(PROTO_OP_AUTH_REFRESH, PROTO_ERR_REFRESH_TOKEN_REUSED, NULL, -1, -1);
    request("POST", "/api/v1/auth/refresh", "Cookie: refresh_token=rt-used\r\n", NULL, &r);
    assert_problem(&r, 401, "refresh_token_reused");
    assert_string_equal(header(&r, "Set-Cookie"),
                        "refresh_token=" SECURE_ATTRS "; Max-Age=0; Secure");
    /* From the body: no cookie to clear. */
    request("POST", "/api/v1/auth/refresh", NULL, "{\"refresh_token\":\"rt-used\"}", &r);
    assert_problem(&r, 401, "refresh_token_reused");
    assert_null(header(&r, "Set-Cookie"));
}

static void test_api_refresh_body_checks(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/refresh", NULL, "{\"refresh_token\":\"x\",\"user_id\":\"u\"}",
            &r);
    assert_problem(&r, 422, "validation_error");
    request("POST", "/api/v1/auth/refresh", NULL, "{\"refresh_token\":42}", &r);
    assert_problem(&r, 422, "validation_error");
    request("POST", "/api/v1/auth/refresh", NULL, "[]", &r);
    assert_problem(&r, 422, "validation_error");
    request("POST", "/api/v1/auth/refresh", "Content-Length: 2\r\n", NULL, &r);
    assert_problem(&r, 415, "unsupported_media_type"); /* a body needs its type */
    assert_int_equal(fake_calls(PROTO_OP_AUTH_REFRESH), 0);
}

/* A refresh token longer than any authsvc could have issued (the wire bound
 * of refresh_token) is an unknown token: 401 invalid_refresh_token from
 * the gateway, nothing forwarded. Only a non-string is a field error. */
static void test_api_refresh_overlong_token_401_without_a_call(void **state)
{
    static const size_t sizes[] = {PROTO_B_TOKEN + 1, 300, 4000}; /* MAX_JSON_BYTES is 4096 here */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *tok = malloc(sizes[i] + 1), *body = NULL;
        assert_non_null(tok);
        memset(tok, 'A', sizes[i]);
        tok[sizes[i]] = '\0';
        assert_true(asprintf(&body, "{\"refresh_token\":\"%s\"}", tok) > 0);
        resp_t r;
        request("POST", "/api/v1/auth/refresh", NULL, body, &r);
        assert_problem(&r, 401, "invalid_refresh_token");
        assert_null(header(&r, "Set-Cookie"));
        assert_null(strstr(r.body, "AAAA")); /* never echoed */
        free(body);
        free(tok);
    }
    assert_int_equal(fake_calls(PROTO_OP_AUTH_REFRESH), 0);
    /* At the bound it is authsvc's to judge. */
    char body[PROTO_B_TOKEN + 32], tok[PROTO_B_TOKEN + 1];
    memset(tok, 'B', PROTO_B_TOKEN);
    tok[PROTO_B_TOKEN] = '\0';
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", tok);
    resp_t r;
    request("POST", "/api/v1/auth/refresh", NULL, body, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(fake_calls(PROTO_OP_AUTH_REFRESH), 1);
    static const char *const typed[] = {"{\"refresh_token\":42}", "{\"refresh_token\":{}}",
                                        "{\"refresh_token\":[]}", "{\"refresh_token\":true}",
                                        "{\"refresh_token\":null}"};
    for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++) {
        request("POST", "/api/v1/auth/refresh", NULL, typed[i], &r);
        assert_problem(&r, 422, "validation_error");
    }
    assert_int_equal(fake_calls(PROTO_OP_AUTH_REFRESH), 1);
}

/* logout with such a token: an unknown token, so nothing is revoked (not
 * even the bearer's session, as with any unknown token), 204, the cookie
 * cleared; authsvc still counts the call, and gets nothing over the bound. */
static void test_api_logout_overlong_token_is_an_unknown_token(void **state)
{
    char *tok = malloc(4001), *body = NULL;
    assert_non_null(tok);
    memset(tok, 'A', 4000);
    tok[4000] = '\0';
    assert_true(asprintf(&body, "{\"refresh_token\":\"%s\"}", tok) > 0);
    resp_t r;
    request("POST", "/api/v1/auth/logout", AUTH_USER, body, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(header(&r, "Set-Cookie"),
                        "refresh_token=" SECURE_ATTRS "; Max-Age=0; Secure");
    assert_int_equal(fake_calls(PROTO_OP_AUTH_LOGOUT), 1);
    assert_received(PROTO_OP_AUTH_LOGOUT, "{\"client_ip\":\"127.0.0.1\"}");
    request("POST", "/api/v1/auth/logout", NULL, "{\"refresh_token\":7}", &r);
    assert_problem(&r, 422, "validation_error");
    assert_int_equal(fake_calls(PROTO_OP_AUTH_LOGOUT), 1);
    free(body);
    free(tok);
}

static void test_api_logout_cookie_bearer_and_idempotent(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/logout", "Cookie: refresh_token=rt-9\r\n" AUTH_USER, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(header(&r, "Set-Cookie"),
                        "refresh_token=" SECURE_ATTRS "; Max-Age=0; Secure");
    assert_received(PROTO_OP_AUTH_LOGOUT, "{\"refresh_token\":\"rt-9\",\"credential\":\"tok-user\","
                                          "\"client_ip\":\"127.0.0.1\"}");
    /* Nothing at all: still 204, and authsvc still sees the call. */
    request("POST", "/api/v1/auth/logout", NULL, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_received(PROTO_OP_AUTH_LOGOUT, "{\"client_ip\":\"127.0.0.1\"}");
    /* The body's token. */
    request("POST", "/api/v1/auth/logout", NULL, "{\"refresh_token\":\"rt-b\"}", &r);
    assert_int_equal(r.status, 204);
    assert_received(PROTO_OP_AUTH_LOGOUT,
                    "{\"refresh_token\":\"rt-b\",\"client_ip\":\"127.0.0.1\"}");
    /* Two cookie values: both revoked. */
    int before = fake_calls(PROTO_OP_AUTH_LOGOUT);
    request("POST", "/api/v1/auth/logout", "Cookie: refresh_token=x1; refresh_token=x2\r\n", NULL,
            &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(fake_calls(PROTO_OP_AUTH_LOGOUT), before + 2);
    assert_received(PROTO_OP_AUTH_LOGOUT, "{\"refresh_token\":\"x2\",\"client_ip\":\"127.0.0.1\"}");
    /* A failure is reported, not hidden behind a 204. */
    fake_fail(PROTO_OP_AUTH_LOGOUT, PROTO_ERR_RATE_LIMITED, NULL, 5, 600);
    request("POST", "/api/v1/auth/logout", NULL, NULL, &r);
    assert_problem(&r, 429, "rate_limited");
    assert_null(header(&r, "Set-Cookie"));
}

/* ------------------------------------------------------------------ */
/* protected routes                                                     */
/* ------------------------------------------------------------------ */

static void test_api_protected_without_credential_401(void **state)
{
    static const char *const headers[] = {
        NULL,
        "Authorization: Basic dTpw\r\n",
        "Authorization: Bearer\r\n",
        "Authorization: Bearer a b\r\n",
        "Authorization: Bearer tok-user\r\nAuthorization: Bearer tok-admin\r\n",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        resp_t r;
        request("GET", "/api/v1/users/me", headers[i], NULL, &r);
        const char *detail = assert_problem(&r, 401, "unauthorized");
        assert_string_equal(header(&r, "WWW-Authenticate"), "Bearer");
        assert_null(strstr(detail, "/srv")); /* the service's text is not shown */
        /* authsvc decided: asked without a credential, for the permission. */
        assert_received(PROTO_OP_AUTH_AUTHORIZE,
                        "{\"client_ip\":\"127.0.0.1\",\"permission\":\"self:read\"}");
    }
    resp_t r;
    request("GET", "/api/v1/users/me", "Authorization: Bearer expired.token.x\r\n", NULL, &r);
    assert_problem(&r, 401, "unauthorized");
    assert_received(PROTO_OP_AUTH_AUTHORIZE,
                    "{\"credential\":\"expired.token.x\",\"client_ip\":\"127.0.0.1\","
                    "\"permission\":\"self:read\"}");
    assert_int_equal(fake_calls(PROTO_OP_STORE_USER_GET), 0);
}

static void test_api_protected_forbidden_403(void **state)
{
    resp_t r;
    request("GET", "/api/v1/users", AUTH_USER, NULL, &r);
    assert_string_equal(assert_problem(&r, 403, "forbidden"), "Your role does not allow this");
    assert_null(header(&r, "WWW-Authenticate"));
    /* A refusal that counted against the limit carries its state (err.limit/remaining/reset). */
    assert_string_equal(header(&r, "RateLimit-Limit"), "600");
    assert_string_equal(header(&r, "RateLimit-Remaining"), "596");
    assert_string_equal(header(&r, "RateLimit-Reset"), "40");
    assert_int_equal(fake_calls(PROTO_OP_STORE_USER_LIST), 0);
    request("GET", "/api/v1/admin/stats", "Authorization: Bearer tok-viewer\r\n", NULL, &r);
    assert_problem(&r, 403, "forbidden");
}

static void test_api_authorisation_before_body_validation(void **state)
{
    static const char *const bodies[] = {"{\"role\":\"admin\"}", "[]",
                                         "{\"full_name\":", "{\"email\":5}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        resp_t r;
        /* No credential: 401, whatever the body; the body rules stay unknown. */
        request("PATCH", "/api/v1/users/me", NULL, bodies[i], &r);
        assert_problem(&r, 401, "unauthorized");
        /* A role without the permission: 403 before any body check. */
        request("PATCH", "/api/v1/users/me", "Authorization: Bearer tok-viewer\r\n", bodies[i], &r);
        assert_problem(&r, 403, "forbidden");
        request("PATCH", "/api/v1/users/" OTHER_ID, AUTH_USER, bodies[i], &r);
        assert_problem(&r, 403, "forbidden");
    }
    resp_t r;
    request("POST", "/api/v1/users/me/password", NULL, "{}", &r);
    assert_problem(&r, 401, "unauthorized");
    /* Authorised: now the body counts, and the answer carries the limiter state. */
    request("PATCH", "/api/v1/users/me", AUTH_USER, "{\"role\":\"admin\"}", &r);
    assert_problem(&r, 422, "validation_error");
    assert_string_equal(header(&r, "RateLimit-Remaining"), "597");
    request("PATCH", "/api/v1/users/me", AUTH_USER, "{\"full_name\":", &r);
    assert_problem(&r, 400, "bad_request");
    assert_int_equal(fake_calls(PROTO_OP_AUTH_UPDATE_SELF), 0);
}

static void test_api_rate_limited_on_authorize(void **state)
{
    resp_t r;
    fake_fail(PROTO_OP_AUTH_AUTHORIZE, PROTO_ERR_RATE_LIMITED, "Rate limit exceeded", 30, 600);
    request("GET", "/api/v1/auth/session", AUTH_USER, NULL, &r);
    assert_string_equal(assert_problem(&r, 429, "rate_limited"), "Rate limit exceeded");
    assert_string_equal(header(&r, "Retry-After"), "30");
    assert_string_equal(header(&r, "RateLimit-Limit"), "600");
    assert_string_equal(header(&r, "RateLimit-Remaining"), "0");
    assert_string_equal(header(&r, "RateLimit-Reset"), "30");
}

static void test_api_session_from_principal(void **state)
{
    resp_t r;
    request("GET", "/api/v1/auth/session", AUTH_USER, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "{\"user_id\":\"" USER_ID "\",\"username\":\"user\",\"role\":\"user\","
                    "\"expires_at\":\"2026-11-18T11:06:40Z\"}");
    assert_received(PROTO_OP_AUTH_AUTHORIZE, "{\"credential\":\"tok-user\",\"client_ip\":"
                                             "\"127.0.0.1\",\"permission\":\"self:read\"}");
    /* The limiter state authorize reported, on the answer. */
    assert_string_equal(header(&r, "RateLimit-Limit"), "600");
    assert_string_equal(header(&r, "RateLimit-Remaining"), "597");
    assert_string_equal(header(&r, "RateLimit-Reset"), "41");
    assert_string_equal(header(&r, "Cache-Control"), "no-store");
}

static void test_api_sessions_and_revoke(void **state)
{
    resp_t r;
    request("GET", "/api/v1/auth/sessions", AUTH_USER, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_body(&r,
                "{\"sessions\":[{\"id\":\"sid-current\",\"created_at\":\"2026-01-01T00:00:00Z\","
                "\"last_used_at\":\"2026-01-02T00:00:00Z\",\"client_ip\":\"192.0.2.1\","
                "\"user_agent\":\"ua\",\"current\":true}]}");
    assert_received(PROTO_OP_AUTH_SESSIONS,
                    "{\"actor_id\":\"" USER_ID "\",\"actor_sid\":\"sid-current\"}");
    request("DELETE", "/api/v1/auth/sessions/fam-123", AUTH_USER, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_received(PROTO_OP_AUTH_SESSION_REVOKE,
                    "{\"actor_id\":\"" USER_ID "\",\"session_id\":\"fam-123\"}");
    fake_fail(PROTO_OP_AUTH_SESSION_REVOKE, PROTO_ERR_NOT_FOUND, "family of bob", -1, -1);
    request("DELETE", "/api/v1/auth/sessions/fam-456", AUTH_USER, NULL, &r);
    assert_string_equal(assert_problem(&r, 404, "not_found"),
                        "The requested resource was not found");
    /* What cannot be an id is 404 without asking (after authorisation). */
    int before = fake_calls(PROTO_OP_AUTH_SESSION_REVOKE);
    request("DELETE", "/api/v1/auth/sessions/a.b", AUTH_USER, NULL, &r);
    assert_problem(&r, 404, "not_found");
    assert_int_equal(fake_calls(PROTO_OP_AUTH_SESSION_REVOKE), before);
}

static void test_api_logout_all_204_clears_cookie(void **state)
{
    resp_t r;
    request("POST", "/api/v1/auth/logout-all", AUTH_USER, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(header(&r, "Set-Cookie"),
                        "refresh_token=" SECURE_ATTRS "; Max-Age=0; Secure");
    assert_received(PROTO_OP_AUTH_LOGOUT_ALL, "{\"actor_id\":\"" USER_ID "\"}");
}

static void test_api_users_me(void **state)
{
    resp_t r;
    request("GET", "/api/v1/users/me", AUTH_USER, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, USER_OUT);
    assert_received(PROTO_OP_STORE_USER_GET, "{\"id\":\"" USER_ID "\"}");
    request("PATCH", "/api/v1/users/me", AUTH_USER,
            "{\"full_name\":null,\"email\":\"new@example.com\"}", &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, USER_OUT);
    assert_received(PROTO_OP_AUTH_UPDATE_SELF, "{\"full_name\":null,\"email\":\"new@example.com\","
                                               "\"actor_id\":\"" USER_ID "\"}");
    static const char *const bad[] = {"{\"role\":\"admin\"}", "{\"email\":null}",
                                      "{\"full_name\":1}", "{\"id\":\"" ADMIN_ID "\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        request("PATCH", "/api/v1/users/me", AUTH_USER, bad[i], &r);
        assert_problem(&r, 422, "validation_error");
    }
    fake_fail(PROTO_OP_AUTH_UPDATE_SELF, PROTO_ERR_VALIDATION_ERROR, "email: not a valid address",
              -1, -1);
    fake_fail_field(PROTO_OP_AUTH_UPDATE_SELF, "email");
    request("PATCH", "/api/v1/users/me", AUTH_USER, "{\"email\":\"x\"}", &r);
    assert_string_equal(assert_problem(&r, 422, "validation_error"), "email: not a valid address");
    json_t *errors = problem_errors(&r);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")),
                        "email");
    json_decref(errors);
}

static void test_api_change_password(void **state)
{
    resp_t r;
    request("POST", "/api/v1/users/me/password", AUTH_USER,
            "{\"current_password\":\"old\",\"new_password\":\"New1!new\"}", &r);
    assert_int_equal(r.status, 204);
    assert_received(PROTO_OP_AUTH_CHANGE_PASSWORD,
                    "{\"current_password\":\"old\",\"new_password\":\"New1!new\","
                    "\"actor_id\":\"" USER_ID "\",\"actor_sid\":\"sid-current\"}");
    fake_fail(PROTO_OP_AUTH_CHANGE_PASSWORD, PROTO_ERR_INVALID_PASSWORD,
              "The current password is wrong", -1, -1);
    request("POST", "/api/v1/users/me/password", AUTH_USER,
            "{\"current_password\":\"bad\",\"new_password\":\"New1!new\"}", &r);
    assert_string_equal(assert_problem(&r, 400, "invalid_password"),
                        "The current password is wrong");
    request("POST", "/api/v1/users/me/password", AUTH_USER, "{\"new_password\":\"x\"}", &r);
    assert_problem(&r, 422, "validation_error");
    /* Unauthenticated: refused on the HTTP thread, the slow op never runs. */
    int before = fake_calls(PROTO_OP_AUTH_CHANGE_PASSWORD);
    request("POST", "/api/v1/users/me/password", NULL,
            "{\"current_password\":\"a\",\"new_password\":\"b\"}", &r);
    assert_problem(&r, 401, "unauthorized");
    assert_int_equal(fake_calls(PROTO_OP_AUTH_CHANGE_PASSWORD), before);
}

static void test_api_users_list_query(void **state)
{
    resp_t r;
    request("GET", "/api/v1/users", AUTH_ADMIN, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_body(&r,
                "{\"users\":[" USER_OUT "],\"total\":1,\"page\":1,\"per_page\":20,\"pages\":1}");
    assert_received(PROTO_OP_STORE_USER_LIST, "{\"page\":1,\"per_page\":20}");
    request("GET", "/api/v1/users?per_page=500&page=3&sort=name", AUTH_ADMIN, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_received(PROTO_OP_STORE_USER_LIST, "{\"page\":3,\"per_page\":100}");
    static const char *const bad[] = {"page=0",
                                      "per_page=-1",
                                      "page=abc",
                                      "page=",
                                      "page=1&page=2",
                                      "per_page=1.5",
                                      "page=99999999999999999999"};
    int before = fake_calls(PROTO_OP_STORE_USER_LIST);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/v1/users?%s", bad[i]);
        request("GET", path, AUTH_ADMIN, NULL, &r);
        assert_problem(&r, 400, "bad_request");
    }
    assert_int_equal(fake_calls(PROTO_OP_STORE_USER_LIST), before);
}

static void test_api_users_by_id(void **state)
{
    resp_t r;
    request("GET", "/api/v1/users/" OTHER_ID, AUTH_ADMIN, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, USER_OUT);
    assert_received(PROTO_OP_STORE_USER_GET, "{\"id\":\"" OTHER_ID "\"}");
    fake_fail(PROTO_OP_STORE_USER_GET, PROTO_ERR_NOT_FOUND, NULL, -1, -1);
    request("GET", "/api/v1/users/" OTHER_ID, AUTH_ADMIN, NULL, &r);
    assert_problem(&r, 404, "not_found");

    request("PATCH", "/api/v1/users/" OTHER_ID, AUTH_ADMIN,
            "{\"role\":\"moderator\",\"is_active\":false}", &r);
    assert_int_equal(r.status, 200);
    assert_received(PROTO_OP_AUTH_USER_UPDATE,
                    "{\"role\":\"moderator\",\"is_active\":false,\"actor_id\":\"" ADMIN_ID
                    "\",\"actor_role\":\"admin\",\"id\":\"" OTHER_ID "\"}");
    request("PATCH", "/api/v1/users/" OTHER_ID, AUTH_ADMIN, "{\"is_active\":\"no\"}", &r);
    assert_problem(&r, 422, "validation_error");
    request("PATCH", "/api/v1/users/" OTHER_ID, AUTH_ADMIN, "{\"email\":\"x@y.z\"}", &r);
    assert_problem(&r, 422, "validation_error");

    request("DELETE", "/api/v1/users/" OTHER_ID, AUTH_ADMIN, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_received(PROTO_OP_AUTH_USER_DELETE,
                    "{\"actor_id\":\"" ADMIN_ID "\",\"actor_role\":\"admin\",\"id\":\"" OTHER_ID
                    "\"}");
    fake_fail(PROTO_OP_AUTH_USER_DELETE, PROTO_ERR_CANNOT_DELETE_SELF, NULL, -1, -1);
    request("DELETE", "/api/v1/users/" ADMIN_ID, AUTH_ADMIN, NULL, &r);
    assert_problem(&r, 400, "cannot_delete_self");
}

static void test_api_admin_stats(void **state)
{
    resp_t r;
    request("GET", "/api/v1/admin/stats", AUTH_ADMIN, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "{\"users\":3,\"files\":1,\"bytes_stored\":10,\"active_sessions\":2,"
                    "\"blocked_sources\":0}");
    assert_received(PROTO_OP_AUTH_STATS, "{}");
}

/* ------------------------------------------------------------------ */
/* client IP                                                            */
/* ------------------------------------------------------------------ */

/* The access-log line of request `rid` (a new reference), waiting for it. */
static json_t *log_line(const char *rid)
{
    for (int tries = 0; tries < 100; tries++) {
        char line[8192];
        json_t *found = NULL;
        fflush(g_log);
        rewind(g_log);
        while (!found && fgets(line, sizeof line, g_log)) {
            json_error_t e;
            json_t *v = json_loads(line, 0, &e);
            const char *vrid = json_string_value(json_object_get(v, "rid"));
            const char *msg = json_string_value(json_object_get(v, "msg"));
            if (vrid && msg && strcmp(vrid, rid) == 0 && strcmp(msg, "request") == 0)
                found = json_incref(v);
            json_decref(v);
        }
        fseek(g_log, 0, SEEK_END);
        if (found)
            return found;
        sleep_ms(10);
    }
    fail_msg("no access-log line for %s", rid);
    return NULL;
}

static void test_api_client_ip_through_trusted_proxy(void **state)
{
    resp_t r;
    /* Two X-Forwarded-For lines are one list: the rightmost untrusted wins. */
    request("POST", "/api/v1/auth/token",
            "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-For: 198.51.100.9, 127.0.0.1\r\n",
            "{\"username\":\"a\",\"password\":\"p\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *got = fake_last(PROTO_OP_AUTH_TOKEN);
    assert_string_equal(json_string_value(json_object_get(got, "client_ip")), "198.51.100.9");
    json_decref(got);
    json_t *line = log_line(header(&r, "X-Request-ID"));
    assert_string_equal(json_string_value(json_object_get(line, "client_ip")), "198.51.100.9");
    assert_string_equal(json_string_value(json_object_get(line, "peer")), "127.0.0.1");
    json_decref(line);
    /* No X-Forwarded-For: X-Real-IP. */
    request("GET", "/api/v1/auth/session", AUTH_USER "X-Real-IP: 192.0.2.44\r\n", NULL, &r);
    assert_received(PROTO_OP_AUTH_AUTHORIZE, "{\"credential\":\"tok-user\",\"client_ip\":"
                                             "\"192.0.2.44\",\"permission\":\"self:read\"}");
    /* Garbage in the list: the proxy itself. */
    request("POST", "/api/v1/auth/register", "X-Forwarded-For: 198.51.100.9, bogus\r\n",
            "{\"username\":\"a\",\"email\":\"e\",\"password\":\"p\"}", &r);
    got = fake_last(PROTO_OP_AUTH_REGISTER);
    assert_string_equal(json_string_value(json_object_get(got, "client_ip")), "127.0.0.1");
    json_decref(got);
}

static void test_api_client_ip_untrusted_peer_ignores_headers(void **state)
{
    static const char *const env[] = {"LOGIN_TRUSTED_PROXY_IPS", "10.0.0.0/8", NULL};
    gw_t g;
    assert_int_equal(gw_start(&g, env), 0);
    port = g.port;
    resp_t r;
    request("POST", "/api/v1/auth/token",
            "X-Forwarded-For: 198.51.100.9\r\nX-Real-IP: 192.0.2.1\r\n",
            "{\"username\":\"a\",\"password\":\"p\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *got = fake_last(PROTO_OP_AUTH_TOKEN);
    assert_string_equal(json_string_value(json_object_get(got, "client_ip")), "127.0.0.1");
    json_decref(got);
    port = gw.port;
    gw_stop(&g);
}

/* ------------------------------------------------------------------ */
/* the slow lane                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    uint16_t port;
    const char *method, *path, *headers, *json;
    resp_t r;
    long long done_ms;
    pthread_t tid;
} client_t;

static void *client_main(void *arg)
{
    client_t *c = arg;
    request_to(c->port, c->method, c->path, c->headers, c->json, &c->r);
    c->done_ms = now_ms();
    return NULL;
}

static void start_clients(client_t *cs, size_t n, uint16_t p, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        cs[i] = (client_t){.port = p,
                           .method = "POST",
                           .path = path,
                           .json = "{\"username\":\"a\",\"password\":\"p\"}"};
        assert_int_equal(pthread_create(&cs[i].tid, NULL, client_main, &cs[i]), 0);
    }
}

static void join_clients(client_t *cs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pthread_join(cs[i].tid, NULL);
}

static void wait_calls(proto_op_t op, int n)
{
    long long end = now_ms() + 5000;
    while (fake_calls(op) < n && now_ms() < end)
        sleep_ms(2);
    assert_true(fake_calls(op) >= n);
}

static void test_api_fast_request_not_blocked_by_slow_ones(void **state)
{
    enum { NSLOW = 32 };
    static client_t cs[NSLOW];
    fake_delay(PROTO_OP_AUTH_TOKEN, 300);
    long long t0 = now_ms();
    start_clients(cs, NSLOW, port, "/api/v1/auth/token");
    /* Every slow worker (16 by default) is inside the 300 ms stub now, and
     * the other 16 are queued in the gateway: 32 pending, 2 HTTP threads. */
    wait_calls(PROTO_OP_AUTH_TOKEN, 16);
    long long start = now_ms();
    resp_t r;
    request("GET", "/api/v1/users/me", AUTH_USER, NULL, &r);
    long long took = now_ms() - start;
    assert_int_equal(r.status, 200);
    bool pending = fake_calls(PROTO_OP_AUTH_TOKEN) < NSLOW || now_ms() - t0 < 300;
    join_clients(cs, NSLOW);
    if (took >= 100)
        fail_msg("a fast request took %lld ms behind the slow ones", took);
    if (getenv("GW_TEST_VERBOSE"))
        fprintf(stderr, "fast request: %lld ms while %d slow ones pending\n", took, NSLOW);
    assert_true(pending); /* it really overlapped them */
    for (size_t i = 0; i < NSLOW; i++) {
        if (cs[i].r.status != 200)
            fail_msg("slow request %zu: status %d", i, cs[i].r.status);
    }
    assert_int_equal(fake_calls(PROTO_OP_AUTH_TOKEN), NSLOW);
}

static const char *const one_loop[] = {"GATEWAY_THREADS", "1", NULL};

/* n clients, each GET /api/v1/users/me as a user, on threads. */
static void start_me_clients(client_t *cs, size_t n, uint16_t p)
{
    for (size_t i = 0; i < n; i++) {
        cs[i] = (client_t){
            .port = p, .method = "GET", .path = "/api/v1/users/me", .headers = AUTH_USER};
        assert_int_equal(pthread_create(&cs[i].tid, NULL, client_main, &cs[i]), 0);
    }
}

/* One event loop keeps many requests waiting on backends at once: with
 * GATEWAY_THREADS=1 and every auth.authorize taking 300 ms, NWAIT requests
 * finish in about one delay (one after the other they would take NWAIT
 * delays), and a request that needs no backend is answered meanwhile. */
static void test_api_one_loop_keeps_many_backend_calls_in_flight(void **state)
{
    enum { NWAIT = 24 };
    gw_t g;
    assert_int_equal(gw_start(&g, one_loop), 0);
    fake_delay(PROTO_OP_AUTH_AUTHORIZE, 300);
    static client_t cs[NWAIT];
    long long t0 = now_ms();
    start_me_clients(cs, NWAIT, g.port);
    wait_calls(PROTO_OP_AUTH_AUTHORIZE, NWAIT); /* all of them are out at once */
    long long t1 = now_ms();
    resp_t r;
    assert_int_equal(request_to(g.port, "GET", "/healthz", NULL, NULL, &r), 0);
    long long quick = now_ms() - t1;
    assert_int_equal(r.status, 200);
    join_clients(cs, NWAIT);
    long long took = now_ms() - t0;
    for (size_t i = 0; i < NWAIT; i++) {
        if (cs[i].r.status != 200)
            fail_msg("request %zu: status %d", i, cs[i].r.status);
    }
    if (getenv("GW_TEST_VERBOSE"))
        fprintf(stderr, "%d waiting requests: %lld ms; /healthz meanwhile %lld ms\n", NWAIT, took,
                quick);
    if (quick >= 150)
        fail_msg("/healthz took %lld ms while %d requests waited on a backend", quick, NWAIT);
    if (took >= 300 * NWAIT / 4)
        fail_msg("%d requests of 300 ms each took %lld ms on one loop", NWAIT, took);
    gw_stop(&g);
}

/* Stopping while requests wait on a backend: their calls fail (the loop
 * shuts its sockets' calls down), the coroutines finish, and the gateway
 * stops without waiting for the backend; each client gets a 503 or a
 * closed connection, never a hang. (Under ASan this also checks that no
 * coroutine, request or reply is leaked.) */
static void test_api_stop_while_calls_wait_on_a_backend(void **state)
{
    enum { NWAIT = 6 };
    gw_t g;
    assert_int_equal(gw_start(&g, one_loop), 0);
    fake_delay(PROTO_OP_AUTH_AUTHORIZE, 4000);
    static client_t cs[NWAIT];
    start_me_clients(cs, NWAIT, g.port);
    wait_calls(PROTO_OP_AUTH_AUTHORIZE, NWAIT);
    long long t0 = now_ms();
    gw_stop(&g); /* 1 s of grace, then the calls still out fail */
    long long took = now_ms() - t0;
    join_clients(cs, NWAIT);
    fake_delay(PROTO_OP_AUTH_AUTHORIZE, 0);
    if (getenv("GW_TEST_VERBOSE"))
        fprintf(stderr, "stop: %lld ms; first status %d\n", took, cs[0].r.status);
    if (took >= 3000)
        fail_msg("stop took %lld ms: it waited for the backend", took);
    for (size_t i = 0; i < NWAIT; i++) {
        if (cs[i].r.status != 503 && cs[i].r.status != 0)
            fail_msg("request %zu: status %d", i, cs[i].r.status);
    }
}

static void test_api_slow_queue_full_503_at_once(void **state)
{
    static const char *const env[] = {"GATEWAY_SLOW_WORKERS", "1", "GATEWAY_SLOW_QUEUE", "1", NULL};
    gw_t g;
    assert_int_equal(gw_start(&g, env), 0);
    fake_delay(PROTO_OP_AUTH_REGISTER, 400);
    static client_t busy[2];
    for (size_t i = 0; i < 2; i++) {
        busy[i] = (client_t){.port = g.port,
                             .method = "POST",
                             .path = "/api/v1/auth/register",
                             .json = "{\"username\":\"a\",\"email\":\"e\",\"password\":\"p\"}"};
        assert_int_equal(pthread_create(&busy[i].tid, NULL, client_main, &busy[i]), 0);
        if (i == 0)
            wait_calls(PROTO_OP_AUTH_REGISTER, 1); /* the worker is busy */
    }
    sleep_ms(50); /* the second one is queued by now */
    long long t0 = now_ms();
    resp_t r;
    assert_int_equal(request_to(g.port, "POST", "/api/v1/auth/token", NULL,
                                "{\"username\":\"a\",\"password\":\"p\"}", &r),
                     0);
    long long took = now_ms() - t0;
    assert_problem(&r, 503, "unavailable");
    assert_string_equal(header(&r, "Retry-After"), "1");
    assert_true(took < 200);
    join_clients(busy, 2);
    assert_int_equal(busy[0].r.status, 201);
    assert_int_equal(busy[1].r.status, 201);
    gw_stop(&g);
}

static void test_api_slow_request_outlives_request_deadline(void **state)
{
    /* GATEWAY_REQUEST_TIMEOUT_SECONDS is 1: a suspended request must not be
     * reaped while its (bounded) backend call runs. */
    fake_delay(PROTO_OP_AUTH_TOKEN, 1400);
    resp_t r;
    request("POST", "/api/v1/auth/login", NULL, "{\"username\":\"a\",\"password\":\"p\"}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(header(&r, "Set-Cookie"));
}

static void test_api_slow_route_keeps_connection_alive(void **state)
{
    int fd = http_connect(port, 10);
    assert_true(fd >= 0);
    for (int i = 0; i < 3; i++) {
        char *raw = format_request("POST", "/api/v1/auth/token", NULL,
                                   "{\"username\":\"a\",\"password\":\"p\"}");
        assert_int_equal(http_send_all(fd, raw, strlen(raw)), 0);
        free(raw);
        resp_t r;
        assert_int_equal(read_response(fd, &r, 0), 0);
        assert_int_equal(r.status, 200);
        const char *conn = header(&r, "Connection");
        if (conn && strcasecmp(conn, "close") == 0)
            fail_msg("slow reply %d closed the connection", i);
    }
    /* A fast one on the same connection after the slow ones. */
    char *raw = format_request("GET", "/api/v1/users/me", AUTH_USER, NULL);
    assert_int_equal(http_send_all(fd, raw, strlen(raw)), 0);
    free(raw);
    resp_t r;
    assert_int_equal(read_response(fd, &r, 0), 0);
    assert_int_equal(r.status, 200);
    close(fd);
}

static void test_api_shutdown_with_suspended_connections(void **state)
{
    static const char *const env[] = {"GATEWAY_SLOW_WORKERS", "1", "GATEWAY_SLOW_QUEUE", "8", NULL};
    gw_t g;
    assert_int_equal(gw_start(&g, env), 0);
    fake_delay(PROTO_OP_AUTH_TOKEN, 300);
    enum { N = 5 };
    static client_t cs[N];
    start_clients(cs, N, g.port, "/api/v1/auth/token");
    wait_calls(PROTO_OP_AUTH_TOKEN, 1);
    sleep_ms(50); /* the other four are queued, their connections suspended */
    long long t0 = now_ms();
    gw_app_shutdown(g.app, 0); /* no grace: queued ones are answered 503, then stop */
    long long took = now_ms() - t0;
    join_clients(cs, N);
    assert_true(took < 2000);
    int answered = 0;
    for (size_t i = 0; i < N; i++) {
        int s = cs[i].r.status;
        if (s != 0 && s != 200 && s != 503)
            fail_msg("client %zu: status %d", i, s);
        answered += s != 0;
    }
    (void)answered; /* connections closed by the stop may have had no answer */
    gw_app_destroy(&g.app);
    gw_config_free(&g.cfg);
}

static void test_api_shutdown_grace_finishes_slow_requests(void **state)
{
    gw_t g;
    assert_int_equal(gw_start(&g, NULL), 0);
    fake_delay(PROTO_OP_AUTH_TOKEN, 300);
    static client_t cs[3];
    start_clients(cs, 3, g.port, "/api/v1/auth/login");
    wait_calls(PROTO_OP_AUTH_TOKEN, 3);
    gw_app_shutdown(g.app, 5);
    join_clients(cs, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(cs[i].r.status, 200);
        assert_non_null(header(&cs[i].r, "Connection"));
        assert_string_equal(header(&cs[i].r, "Connection"), "close");
    }
    gw_app_destroy(&g.app);
    gw_config_free(&g.cfg);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup(name, test_setup)
    const struct CMUnitTest tests[] = {
        T(test_api_register_201_user_only),
        T(test_api_register_mass_assignment_422),
        T(test_api_register_backend_errors),
        T(test_api_register_wrong_media_type_415),
        T(test_api_token_pair_and_user_agent),
        T(test_api_user_agent_truncated_to_512),
        T(test_api_token_failures),
        T(test_api_backend_internal_and_unavailable_generic),
        T(test_api_field_bound_422_before_backend),
        T(test_api_login_cookie_secure),
        T(test_api_login_cookie_not_secure_when_disabled),
        T(test_api_refresh_from_cookie),
        T(test_api_refresh_from_body),
        T(test_api_refresh_without_token_401),
        T(test_api_refresh_reuse_clears_cookie),
        T(test_api_refresh_body_checks),
        T(test_api_logout_cookie_bearer_and_idempotent),
        T(test_api_refresh_overlong_token_401_without_a_call),
        T(test_api_logout_overlong_token_is_an_unknown_token),
        T(test_api_protected_without_credential_401),
        T(test_api_protected_forbidden_403),
        T(test_api_authorisation_before_body_validation),
        T(test_api_rate_limited_on_authorize),
        T(test_api_session_from_principal),
        T(test_api_sessions_and_revoke),
        T(test_api_logout_all_204_clears_cookie),
        T(test_api_users_me),
        T(test_api_change_password),
        T(test_api_users_list_query),
        T(test_api_users_by_id),
        T(test_api_admin_stats),
        T(test_api_client_ip_through_trusted_proxy),
        T(test_api_client_ip_untrusted_peer_ignores_headers),
        T(test_api_fast_request_not_blocked_by_slow_ones),
        T(test_api_one_loop_keeps_many_backend_calls_in_flight),
        T(test_api_stop_while_calls_wait_on_a_backend),
        T(test_api_slow_queue_full_503_at_once),
        T(test_api_slow_request_outlives_request_deadline),
        T(test_api_slow_route_keeps_connection_alive),
        T(test_api_shutdown_with_suspended_connections),
        T(test_api_shutdown_grace_finishes_slow_requests),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
