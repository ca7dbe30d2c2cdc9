/*
 * Unit tests for store_config: storesvc's variable table. Defaults, values
 * overriding them, malformed values failing with a message that names the
 * variable, and DATABASE_URL never appearing in any error text. The
 * environment is injected through a fake getenv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store_config.h"

#define DB_URL         "postgresql://app:Sup3rSecretPw@db.internal:5432/app"
#define DB_SECRET_PART "Sup3rSecretPw"

static const char *fake_getenv(const char *name, void *arg)
{
    for (const char *const *p = arg; p[0]; p += 2) {
        if (strcmp(p[0], name) == 0)
            return p[1];
    }
    return NULL;
}

static int load(const char *const *kv, store_config_t *cfg, char *err, size_t errlen)
{
    err[0] = '\0';
    return store_config_load(cfg, fake_getenv, (void *)kv, err, errlen);
}

static void test_config_defaults(void **state)
{
    (void)state;
    const char *kv[] = {"DATABASE_URL", DB_URL, NULL};
    store_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), 0);
    assert_string_equal(c.bind, "tcp://127.0.0.1:7002");
    assert_int_equal(c.workers, 8);
    assert_int_equal(c.file_workers, 8);
    assert_int_equal(c.file_queue, 512);
    assert_int_equal(c.file_max_wait_ms, 30000);
    assert_string_equal(c.database_url, DB_URL);
    assert_string_equal(c.object_store_url, "file://./data/objects");
    assert_int_equal(c.db_timeout_ms, 3000);
    assert_string_equal(c.log_level_text, "INFO");
    assert_int_equal(c.log_level, RT_LOG_INFO);
    assert_int_equal(c.shutdown_grace_s, 30);
    assert_string_equal(c.s3_region, "us-east-1");
    assert_string_equal(c.s3_endpoint_url, "");
    assert_int_equal(c.s3_timeout_ms, 10000);
    assert_int_equal(c.sweep_interval_s, 60);
    assert_int_equal(c.pending_max_s, 3600);
    store_config_free(&c);
    store_config_free(&c); /* twice is fine */
}

static void test_config_values_override(void **state)
{
    (void)state;
    const char *kv[] = {"DATABASE_URL",
                        DB_URL,
                        "STORESVC_BIND",
                        "tcp://0.0.0.0:9",
                        "STORESVC_WORKERS",
                        "64",
                        "OBJECT_STORE_URL",
                        "s3://bucket",
                        "DB_TIMEOUT_MS",
                        "250",
                        "LOG_LEVEL",
                        "debug",
                        "SHUTDOWN_GRACE_SECONDS",
                        "0",
                        "S3_ACCESS_KEY_ID",
                        "AKID",
                        "S3_SECRET_ACCESS_KEY",
                        "s3-secret-value",
                        "S3_ENDPOINT_URL",
                        "http://127.0.0.1:9000",
                        "S3_REGION",
                        "eu-west-1",
                        "S3_TIMEOUT_MS",
                        "2500",
                        "SWEEP_INTERVAL_SECONDS",
                        "0",
                        "UPLOAD_PENDING_MAX_SECONDS",
                        "5",
                        "STORESVC_FILE_WORKERS",
                        "3",
                        "STORESVC_FILE_QUEUE",
                        "0",
                        "STORESVC_FILE_MAX_WAIT_MS",
                        "1500",
                        NULL};
    store_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), 0);
    assert_string_equal(c.s3_endpoint_url, "http://127.0.0.1:9000");
    assert_string_equal(c.s3_region, "eu-west-1");
    assert_string_equal(c.s3_access_key_id, "AKID");
    assert_string_equal(c.s3_secret, "s3-secret-value");
    assert_int_equal(c.s3_timeout_ms, 2500);
    assert_int_equal(c.sweep_interval_s, 0);
    assert_int_equal(c.pending_max_s, 5);
    store_blob_s3_opts_t o = store_config_s3(&c);
    assert_string_equal(o.secret_access_key, "s3-secret-value");
    assert_int_equal(o.timeout_ms, 2500);
    assert_string_equal(c.bind, "tcp://0.0.0.0:9");
    assert_int_equal(c.workers, 64);
    assert_string_equal(c.object_store_url, "s3://bucket");
    assert_int_equal(c.db_timeout_ms, 250);
    assert_int_equal(c.log_level, RT_LOG_DEBUG);
    assert_int_equal(c.shutdown_grace_s, 0);
    store_config_free(&c);
}

static void test_config_missing_database_url_named(void **state)
{
    (void)state;
    const char *kv[] = {NULL};
    const char *empty[] = {"DATABASE_URL", "", NULL};
    store_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABASE_URL"));
    store_config_free(&c);
    assert_int_equal(load(empty, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABASE_URL"));
    store_config_free(&c);
}

/* Each row: a variable, a bad value for it. Every one must fail, naming it. */
static void test_config_bad_values_name_variable(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"STORESVC_WORKERS", "0"},
        {"STORESVC_WORKERS", "65"},
        {"STORESVC_WORKERS", "four"},
        {"STORESVC_WORKERS", "4x"},
        {"STORESVC_FILE_WORKERS", "0"},
        {"STORESVC_FILE_WORKERS", "65"},
        {"STORESVC_FILE_QUEUE", "-1"},
        {"STORESVC_FILE_QUEUE", "65537"},
        {"STORESVC_FILE_MAX_WAIT_MS", "600001"},
        {"DB_TIMEOUT_MS", "-1"},
        {"DB_TIMEOUT_MS", "10"},
        {"DB_TIMEOUT_MS", "9999999999"},
        {"SHUTDOWN_GRACE_SECONDS", "3601"},
        {"STORESVC_BIND", "127.0.0.1:7002"},
        {"STORESVC_BIND", "tcp://a:1,tcp://b:2"},
        {"OBJECT_STORE_URL", "ftp://x/y"},
        {"OBJECT_STORE_URL", "file://"},
        {"OBJECT_STORE_URL", "/data/objects"},
        {"LOG_LEVEL", "LOUD"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *kv[] = {"DATABASE_URL", DB_URL, bad[i][0], bad[i][1], NULL};
        store_config_t c;
        char err[256];
        assert_int_equal(load(kv, &c, err, sizeof err), -1);
        if (!strstr(err, bad[i][0]))
            fail_msg("%s=%s: error \"%s\" does not name the variable", bad[i][0], bad[i][1], err);
        assert_null(strstr(err, DB_SECRET_PART));
        store_config_free(&c);
    }
}

static void test_config_secret_never_in_error(void **state)
{
    (void)state;
    char longurl[5000];
    memset(longurl, 'p', sizeof longurl - 1);
    longurl[sizeof longurl - 1] = '\0';
    memcpy(longurl, DB_SECRET_PART, strlen(DB_SECRET_PART));
    const char *kv[] = {"DATABASE_URL", longurl, NULL};
    store_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "DATABASE_URL"));
    assert_null(strstr(err, DB_SECRET_PART));
    assert_null(strstr(err, "pppp"));
    store_config_free(&c);
}

/* s3:// without credentials fails at start naming the variable; the
 * secret's value never appears in a message. */
static void test_config_s3_needs_credentials(void **state)
{
    (void)state;
    const char *no_key[] = {"DATABASE_URL", DB_URL, "OBJECT_STORE_URL", "s3://bucket", NULL};
    const char *no_secret[] = {
        "DATABASE_URL", DB_URL, "OBJECT_STORE_URL", "s3://bucket", "S3_ACCESS_KEY_ID",
        "AKID",         NULL};
    const char *bad_timeout[] = {
        "DATABASE_URL", DB_URL, "S3_TIMEOUT_MS", "5", "S3_SECRET_ACCESS_KEY", "hush-0", NULL};
    store_config_t c;
    char err[256];
    assert_int_equal(load(no_key, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "S3_ACCESS_KEY_ID"));
    store_config_free(&c);
    assert_int_equal(load(no_secret, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "S3_SECRET_ACCESS_KEY"));
    store_config_free(&c);
    assert_int_equal(load(bad_timeout, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "S3_TIMEOUT_MS"));
    assert_null(strstr(err, "hush-0"));
    store_config_free(&c);
}

static void test_config_table_lists_every_variable(void **state)
{
    (void)state;
    static const char *const names[] = {"STORESVC_BIND",
                                        "STORESVC_WORKERS",
                                        "STORESVC_FILE_WORKERS",
                                        "STORESVC_FILE_QUEUE",
                                        "STORESVC_FILE_MAX_WAIT_MS",
                                        "DATABASE_URL",
                                        "OBJECT_STORE_URL",
                                        "DB_TIMEOUT_MS",
                                        "S3_ENDPOINT_URL",
                                        "S3_REGION",
                                        "S3_ACCESS_KEY_ID",
                                        "S3_SECRET_ACCESS_KEY",
                                        "S3_TIMEOUT_MS",
                                        "SWEEP_INTERVAL_SECONDS",
                                        "UPLOAD_PENDING_MAX_SECONDS",
                                        "LOG_LEVEL",
                                        "SHUTDOWN_GRACE_SECONDS",
                                        "METRICS_PORT"};
    size_t n = 0;
    const rt_cfg_spec_t *specs = store_config_specs(&n);
    assert_int_equal(n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(specs[i].name, names[i]);
        if (strcmp(names[i], "DATABASE_URL") == 0 ||
            strcmp(names[i], "S3_SECRET_ACCESS_KEY") == 0) {
            assert_int_equal(specs[i].type, RT_CFG_SECRET);
            assert_true(specs[i].required == (strcmp(names[i], "DATABASE_URL") == 0));
        }
    }
}

/* METRICS_PORT: 9466 on loopback by default, the gateway's forms, "off". */
static void test_config_metrics_port(void **state)
{
    (void)state;
    store_config_t c;
    char err[256];
    const char *def[] = {"DATABASE_URL", DB_URL, NULL};
    assert_int_equal(load(def, &c, err, sizeof err), 0);
    assert_true(c.metrics_at.enabled);
    assert_string_equal(c.metrics_at.host, "127.0.0.1");
    assert_int_equal(c.metrics_at.port, 9466);
    store_config_free(&c);
    const char *off[] = {"DATABASE_URL", DB_URL, "METRICS_PORT", "off", NULL};
    assert_int_equal(load(off, &c, err, sizeof err), 0);
    assert_false(c.metrics_at.enabled);
    store_config_free(&c);
    const char *any[] = {"DATABASE_URL", DB_URL, "METRICS_PORT", "0.0.0.0:9999", NULL};
    assert_int_equal(load(any, &c, err, sizeof err), 0);
    assert_string_equal(c.metrics_at.host, "0.0.0.0");
    assert_int_equal(c.metrics_at.port, 9999);
    store_config_free(&c);
    const char *bad[] = {"DATABASE_URL", DB_URL, "METRICS_PORT", "nope:x", NULL};
    assert_int_equal(load(bad, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "METRICS_PORT"));
    store_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_values_override),
        cmocka_unit_test(test_config_missing_database_url_named),
        cmocka_unit_test(test_config_bad_values_name_variable),
        cmocka_unit_test(test_config_secret_never_in_error),
        cmocka_unit_test(test_config_s3_needs_credentials),
        cmocka_unit_test(test_config_table_lists_every_variable),
        cmocka_unit_test(test_config_metrics_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
