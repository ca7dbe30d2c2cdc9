/*
 * Unit tests for auth_app and auth_handlers: authsvc in-process on an
 * ephemeral port, called through the real RPC client. sys.ping answers;
 * sys.health probes storesvc (here a stand-in proto_server answering
 * sys.ping) and reports it "down" within HEALTH_TIMEOUT_MS when nothing
 * answers, as a successful "degraded" reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <time.h>
#include <zmq.h>

#include "auth_app.h"
#include "proto_client.h"
#include "proto_server.h"

#define SECRET32 "0123456789abcdef0123456789abcdef"

typedef struct {
    auth_config_t cfg;
    bool owner;         /* OWNER_* set in the fake environment */
    char store_ep[128]; /* STORESVC_ENDPOINTS as the fake environment says */
    void *zctx;
    proto_server_t *fake_store;
    auth_app_t *app;
    proto_client_t *client;
} fixture_t;

static proto_err_t fake_ping(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail)
{
    (void)cc;
    (void)req;
    (void)fail;
    msgpack_pack_map(body, 1);
    proto_pack_kv_str(body, "svc", "storesvc");
    return PROTO_OK;
}

/* store.user_create as the owner bootstrap calls it: "an admin exists". */
static proto_err_t fake_user_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                                    msgpack_packer *body, proto_fail_t *fail)
{
    (void)cc;
    (void)req;
    (void)body;
    (void)fail;
    return PROTO_ERR_CONFLICT;
}

static const proto_handler_t fake_handlers[] = {{PROTO_OP_SYS_PING, fake_ping},
                                                {PROTO_OP_STORE_USER_CREATE, fake_user_create}};

/* The environment the app is configured from (cheap Argon2 for speed). */
static const char *fake_getenv(const char *name, void *arg)
{
    fixture_t *f = arg;
    static const char *const env[][2] = {
        {"AUTHSVC_BIND", "tcp://127.0.0.1:*"}, {"AUTHSVC_WORKERS", "2"},
        {"JWT_SECRET_KEY", SECRET32},          {"RPC_TIMEOUT_MS", "2000"},
        {"HEALTH_TIMEOUT_MS", "200"},          {"ARGON2_TIME_COST", "1"},
        {"ARGON2_MEMORY_COST", "64"},          {"ARGON2_PARALLELISM", "1"},
        {"AUTHSVC_HASH_WORKERS", "1"},
    };
    static const char *const owner[][2] = {
        {"OWNER_USERNAME", "it-owner"},
        {"OWNER_PASSWORD", "It-0wner!Passphrase-2026"},
        {"OWNER_EMAIL", "it-owner@example.com"},
    };
    if (strcmp(name, "STORESVC_ENDPOINTS") == 0)
        return f->store_ep;
    for (size_t i = 0; f->owner && i < sizeof owner / sizeof owner[0]; i++) {
        if (strcmp(owner[i][0], name) == 0)
            return owner[i][1];
    }
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        if (strcmp(env[i][0], name) == 0)
            return env[i][1];
    }
    return NULL;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->store_ep, sizeof f->store_ep, "tcp://127.0.0.1:1"); /* nothing there */
    f->zctx = zmq_ctx_new();
    *state = f;
    return f->zctx ? 0 : -1;
}

static void start_fake_store(fixture_t *f)
{
    proto_server_config_t sc = {
        .bind = "tcp://127.0.0.1:*",
        .workers = 1,
        .handlers = fake_handlers,
        .nhandlers = sizeof fake_handlers / sizeof fake_handlers[0],
    };
    f->fake_store = proto_server_new(f->zctx, &sc);
    assert_non_null(f->fake_store);
    assert_int_equal(proto_server_start(f->fake_store), 0);
}

static void load_config(fixture_t *f)
{
    char err[256];
    auth_config_free(&f->cfg);
    assert_int_equal(auth_config_load(&f->cfg, fake_getenv, f, err, sizeof err), 0);
}

static void start(fixture_t *f)
{
    proto_limits_t lim = proto_limits_default();
    load_config(f);
    f->app = auth_app_new(&f->cfg, f->zctx);
    assert_non_null(f->app);
    assert_int_equal(auth_app_start(f->app), 0);
    f->client = proto_client_new(f->zctx, auth_app_endpoint(f->app), 3000, &lim);
    assert_non_null(f->client);
}

static void stop_app(fixture_t *f)
{
    proto_client_destroy(&f->client);
    auth_app_destroy(&f->app);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    proto_client_destroy(&f->client);
    auth_app_destroy(&f->app);
    auth_app_destroy(&f->app); /* NULL-safe */
    if (f->fake_store)
        proto_server_stop(f->fake_store, 0);
    proto_server_destroy(&f->fake_store);
    auth_config_free(&f->cfg);
    zmq_ctx_term(f->zctx);
    free(f);
    return 0;
}

static void call_ok(fixture_t *f, proto_op_t op, proto_reply_t *rep)
{
    proto_reply_init(rep);
    assert_int_equal(proto_client_call(f->client, op, "test-rid", NULL, 0, rep, -1), PROTO_OK);
    assert_true(rep->ok);
    assert_non_null(rep->body);
}

static void assert_str(const msgpack_object *map, const char *key, const char *want)
{
    char got[64];
    assert_int_equal(proto_get_str(map, key, got, sizeof got), 0);
    assert_string_equal(got, want);
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_app_ping(void **state)
{
    fixture_t *f = *state;
    proto_reply_t rep;
    start(f);
    call_ok(f, PROTO_OP_SYS_PING, &rep);
    assert_str(rep.body, "svc", "authsvc");
    proto_reply_cleanup(&rep);
}

static void test_app_health_storesvc_down(void **state)
{
    fixture_t *f = *state;
    proto_reply_t rep;
    struct timespec t0;
    start(f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    call_ok(f, PROTO_OP_SYS_HEALTH, &rep);
    /* HEALTH_TIMEOUT_MS, not RPC_TIMEOUT_MS, bounds the probe (one retry). */
    assert_true(elapsed_ms(&t0) < 1500);
    assert_str(rep.body, "status", "degraded");
    assert_str(proto_map_get(rep.body, "checks"), "storesvc", "down");
    proto_reply_cleanup(&rep);
}

static void test_app_health_storesvc_ok(void **state)
{
    fixture_t *f = *state;
    proto_reply_t rep;
    start_fake_store(f);
    snprintf(f->store_ep, sizeof f->store_ep, "%s", proto_server_endpoint(f->fake_store));
    start(f);
    call_ok(f, PROTO_OP_SYS_HEALTH, &rep);
    assert_str(rep.body, "status", "ok");
    assert_str(proto_map_get(rep.body, "checks"), "storesvc", "ok");
    proto_reply_cleanup(&rep);
}

/* With OWNER_* set, sys.health is not ok until the owner bootstrap is
 * done (sys.ping answers all along), and ok once it is. */
static void test_app_not_ready_until_the_owner_bootstrap_is_done(void **state)
{
    fixture_t *f = *state;
    proto_reply_t rep;
    f->owner = true; /* and no storesvc yet: the bootstrap cannot finish */
    start(f);
    call_ok(f, PROTO_OP_SYS_PING, &rep);
    proto_reply_cleanup(&rep);
    proto_reply_init(&rep);
    assert_int_equal(
        proto_client_call(f->client, PROTO_OP_SYS_HEALTH, "test-rid", NULL, 0, &rep, -1),
        PROTO_ERR_UNAVAILABLE);
    assert_false(rep.ok);
    assert_non_null(strstr(rep.errmsg, "starting"));
    proto_reply_cleanup(&rep);
    /* The same with a storesvc that answers: ready once the bootstrap ran. */
    stop_app(f);
    start_fake_store(f);
    snprintf(f->store_ep, sizeof f->store_ep, "%s", proto_server_endpoint(f->fake_store));
    start(f);
    bool ok = false;
    for (int i = 0; i < 200 && !ok; i++) {
        proto_reply_init(&rep);
        ok = proto_client_call(f->client, PROTO_OP_SYS_HEALTH, "test-rid", NULL, 0, &rep, -1) ==
             PROTO_OK;
        proto_reply_cleanup(&rep);
        if (!ok) {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(ok);
}

/* Without OWNER_*, ready from the first request. */
static void test_app_ready_at_once_without_owner(void **state)
{
    fixture_t *f = *state;
    proto_reply_t rep;
    start(f);
    call_ok(f, PROTO_OP_SYS_HEALTH, &rep);
    proto_reply_cleanup(&rep);
}

static void test_app_new_rejects_bad_arguments(void **state)
{
    fixture_t *f = *state;
    load_config(f);
    assert_null(auth_app_new(NULL, f->zctx));
    assert_null(auth_app_new(&f->cfg, NULL));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_app_ping),
        T(test_app_health_storesvc_down),
        T(test_app_health_storesvc_ok),
        T(test_app_not_ready_until_the_owner_bootstrap_is_done),
        T(test_app_ready_at_once_without_owner),
        T(test_app_new_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
