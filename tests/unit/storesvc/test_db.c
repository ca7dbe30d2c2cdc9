/*
 * Unit tests for store_db: the client-side deadline and the reconnect
 * back-off, against servers that refuse or never answer (no PostgreSQL
 * needed). When STORE_TEST_DATABASE_URL names a disposable database the
 * test_db_live_* cases also run queries, a server-side error, a timed-out
 * query followed by a reconnect, and the migrations twice; otherwise they
 * are skipped (the integration tests cover the database for real).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store_db.h"
#include "store_migrate.h"

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A TCP listener on an ephemeral port that accepts (in the kernel) and
 * never says a word: a hung database. */
static int silent_listener(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_db_status_str(void **state)
{
    (void)state;
    assert_string_equal(store_db_status_str(STORE_DB_OK), "ok");
    assert_string_equal(store_db_status_str(STORE_DB_DOWN), "down");
    assert_string_equal(store_db_status_str(STORE_DB_TIMEOUT), "timeout");
    assert_string_equal(store_db_status_str(STORE_DB_ERROR), "error");
    assert_string_equal(store_db_status_str(STORE_DB_NOMEM), "nomem");
    assert_string_equal(store_db_status_str(-99), "unknown");
    assert_string_equal(store_db_status_str(3), "unknown");
}

static void test_db_refused_is_down_and_backs_off(void **state)
{
    (void)state;
    store_db_t *db = store_db_new("postgresql://nobody@127.0.0.1:1/none", 2000, "t");
    assert_non_null(db);
    assert_false(store_db_connected(db));
    assert_int_equal(store_db_ping(db), STORE_DB_DOWN);
    /* Within the back-off no attempt is made at all: immediate answer. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(store_db_ping(db), STORE_DB_DOWN);
    assert_true(elapsed_ms(&t0) < 50);
    assert_int_equal(store_db_sqlstate(db)[0], '\0');
    store_db_destroy(&db);
    store_db_destroy(&db);
    assert_null(db);
}

static void test_db_silent_server_hits_deadline(void **state)
{
    (void)state;
    int port = 0;
    int fd = silent_listener(&port);
    assert_true(fd >= 0);
    char url[128];
    snprintf(url, sizeof url, "postgresql://nobody@127.0.0.1:%d/none", port);
    store_db_t *db = store_db_new(url, 300, "t");
    assert_non_null(db);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(store_db_connect(db, 0), STORE_DB_DOWN);
    long ms = elapsed_ms(&t0);
    assert_true(ms >= 250);
    assert_true(ms < 1500); /* libpq's own connect_timeout would be 2 s */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(store_db_connect(db, 100), STORE_DB_DOWN);
    assert_true(elapsed_ms(&t0) < 1000);
    store_db_destroy(&db);
    close(fd);
}

static void test_db_new_rejects_bad_arguments(void **state)
{
    (void)state;
    assert_null(store_db_new(NULL, 1000, "t"));
    assert_null(store_db_new("postgresql://x@127.0.0.1/x", 0, "t"));
    const store_query_t q = {.sql = NULL};
    store_db_t *db = store_db_new("postgresql://x@127.0.0.1:1/x", 100, NULL);
    assert_non_null(db);
    PGresult *res = (PGresult *)1;
    assert_int_equal(store_db_exec(db, &q, &res), STORE_DB_ERROR);
    assert_null(res);
    assert_int_equal(store_db_exec(NULL, &q, NULL), STORE_DB_ERROR);
    store_db_destroy(&db);
}

/* ------------------------------------------------ with a real PostgreSQL -- */

static const char *live_url(void)
{
    const char *url = getenv("STORE_TEST_DATABASE_URL");
    return url && *url ? url : NULL;
}

static void test_db_live_queries(void **state)
{
    (void)state;
    if (!live_url())
        skip();
    store_db_t *db = store_db_new(live_url(), 2000, "t");
    assert_int_equal(store_db_ping(db), STORE_DB_OK);
    assert_true(store_db_connected(db));
    /* Parameters travel separately from the SQL text, binary ones too. */
    const char *vals[] = {"it's; DROP TABLE x --", "\x00\x01\xff"};
    const int lens[] = {0, 3};
    const int fmts[] = {0, 1};
    const store_query_t q = {.sql = "SELECT $1::text, length($2::bytea)",
                             .nparams = 2,
                             .values = vals,
                             .lengths = lens,
                             .formats = fmts};
    PGresult *res = NULL;
    assert_int_equal(store_db_exec(db, &q, &res), STORE_DB_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), vals[0]);
    assert_string_equal(PQgetvalue(res, 0, 1), "3");
    PQclear(res);
    const store_query_t bad = {.sql = "SELECT 1/0"};
    assert_int_equal(store_db_exec(db, &bad, NULL), STORE_DB_ERROR);
    assert_string_equal(store_db_sqlstate(db), "22012");
    assert_int_equal(store_db_ping(db), STORE_DB_OK); /* the session survived */
    /* The server holds the same deadline as the client. */
    const store_query_t show = {.sql = "SELECT current_setting('statement_timeout')"};
    assert_int_equal(store_db_exec(db, &show, &res), STORE_DB_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "2s");
    PQclear(res);
    store_db_destroy(&db);
}

static void test_db_live_timeout_then_recovers(void **state)
{
    (void)state;
    if (!live_url())
        skip();
    store_db_t *db = store_db_new(live_url(), 300, "t");
    const store_query_t slow = {.sql = "SELECT pg_sleep(5)"};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = store_db_exec(db, &slow, NULL);
    assert_true(rc == STORE_DB_TIMEOUT);
    assert_true(elapsed_ms(&t0) < 1500);
    assert_int_equal(store_db_ping(db), STORE_DB_OK);
    store_db_destroy(&db);
}

static void test_db_live_migrations_idempotent(void **state)
{
    (void)state;
    if (!live_url())
        skip();
    store_db_t *db = store_db_new(live_url(), STORE_MIGRATE_TIMEOUT_MS, "t");
    int applied = -1;
    assert_int_equal(store_migrate_apply(db, &applied), 0);
    assert_int_equal(store_migrate_apply(db, &applied), 0);
    assert_int_equal(applied, 0);
    const store_query_t q = {.sql = "SELECT count(*) FROM schema_migrations"};
    PGresult *res = NULL;
    size_t n = 0;
    (void)store_migrate_table(&n);
    assert_int_equal(store_db_exec(db, &q, &res), STORE_DB_OK);
    assert_int_equal(atoi(PQgetvalue(res, 0, 0)), (int)n);
    PQclear(res);
    store_db_destroy(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_status_str),
        cmocka_unit_test(test_db_refused_is_down_and_backs_off),
        cmocka_unit_test(test_db_silent_server_hits_deadline),
        cmocka_unit_test(test_db_new_rejects_bad_arguments),
        cmocka_unit_test(test_db_live_queries),
        cmocka_unit_test(test_db_live_timeout_then_recovers),
        cmocka_unit_test(test_db_live_migrations_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
