/*
 * Unit tests for store_app and store_handlers: storesvc in-process on an
 * ephemeral port, called through the real RPC client. sys.ping answers;
 * sys.health reports the database and the object store separately, and is
 * a successful "degraded" reply (not an error) when either is down. With
 * STORE_TEST_DATABASE_URL set, the all-ok case runs against that database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "proto_client.h"
#include "store_app.h"

#define UNREACHABLE_DB "postgresql://nobody@127.0.0.1:1/none"

typedef struct {
    char dir[64];
    char url[128];
    store_config_t cfg;
    void *zctx;
    store_app_t *app;
    proto_client_t *client;
} fixture_t;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/store_app_XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    snprintf(f->url, sizeof f->url, "file://%s/objects", f->dir);
    f->cfg.bind = "tcp://127.0.0.1:*";
    f->cfg.workers = 2;
    f->cfg.database_url = UNREACHABLE_DB;
    f->cfg.object_store_url = f->url;
    f->cfg.db_timeout_ms = 500;
    f->cfg.log_level = RT_LOG_INFO;
    f->zctx = zmq_ctx_new();
    *state = f;
    return f->zctx ? 0 : -1;
}

/* Starts the app and a client to it; separate from setup so a test can
 * change the configuration first. */
static void start(fixture_t *f)
{
    proto_limits_t lim = proto_limits_default();
    f->app = store_app_new(&f->cfg, f->zctx);
    assert_non_null(f->app);
    assert_int_equal(store_app_start(f->app), 0);
    assert_non_null(strstr(store_app_endpoint(f->app), "tcp://127.0.0.1:"));
    f->client = proto_client_new(f->zctx, store_app_endpoint(f->app), 3000, &lim);
    assert_non_null(f->client);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    proto_client_destroy(&f->client);
    store_app_stop(f->app, 1000);
    store_app_destroy(&f->app);
    store_app_destroy(&f->app); /* NULL-safe */
    zmq_ctx_term(f->zctx);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Calls `op` and checks the reply is ok. */
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

static void test_app_ping(void **state)
{
    fixture_t *f = *state;
    proto_reply_t rep;
    start(f);
    call_ok(f, PROTO_OP_SYS_PING, &rep);
    assert_str(rep.body, "svc", "storesvc");
    proto_reply_cleanup(&rep);
}

static void test_app_health_degraded_without_db(void **state)
{
    fixture_t *f = *state;
    proto_reply_t rep;
    start(f);
    call_ok(f, PROTO_OP_SYS_HEALTH, &rep);
    assert_str(rep.body, "status", "degraded");
    const msgpack_object *checks = proto_map_get(rep.body, "checks");
    assert_non_null(checks);
    assert_str(checks, "database", "down");
    assert_str(checks, "objectstore", "ok");
    proto_reply_cleanup(&rep);
}

static void test_app_health_objectstore_down(void **state)
{
    fixture_t *f = *state;
    char path[128];
    proto_reply_t rep;
    start(f);
    snprintf(path, sizeof path, "%s/objects", f->dir);
    assert_int_equal(rmdir(path), 0);
    call_ok(f, PROTO_OP_SYS_HEALTH, &rep);
    assert_str(rep.body, "status", "degraded");
    assert_str(proto_map_get(rep.body, "checks"), "objectstore", "down");
    proto_reply_cleanup(&rep);
}

static void test_app_health_ok_with_db(void **state)
{
    fixture_t *f = *state;
    const char *url = getenv("STORE_TEST_DATABASE_URL");
    proto_reply_t rep;
    if (!url || !*url)
        skip();
    f->cfg.database_url = (char *)url;
    start(f);
    call_ok(f, PROTO_OP_SYS_HEALTH, &rep);
    assert_str(rep.body, "status", "ok");
    assert_str(proto_map_get(rep.body, "checks"), "database", "ok");
    assert_str(proto_map_get(rep.body, "checks"), "objectstore", "ok");
    proto_reply_cleanup(&rep);
}

static void test_app_rejects_s3_for_now(void **state)
{
    fixture_t *f = *state;
    f->cfg.object_store_url = "s3://bucket";
    assert_null(store_app_new(&f->cfg, f->zctx));
    assert_null(store_app_new(NULL, f->zctx));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_app_ping),
        T(test_app_health_degraded_without_db),
        T(test_app_health_objectstore_down),
        T(test_app_health_ok_with_db),
        T(test_app_rejects_s3_for_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
