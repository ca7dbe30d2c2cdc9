/*
 * Unit tests for gw_config: the gateway's variable table. Defaults, values
 * overriding them, and every malformed value failing with a message that
 * names its variable. The environment is injected through a fake getenv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <netinet/in.h>

#include "gw_config.h"

static const char *fake_getenv(const char *name, void *arg)
{
    for (const char *const *p = arg; p[0]; p += 2) {
        if (strcmp(p[0], name) == 0)
            return p[1];
    }
    return NULL;
}

static int load(const char *const *kv, gw_config_t *cfg, char *err, size_t errlen)
{
    err[0] = '\0';
    return gw_config_load(cfg, fake_getenv, (void *)kv, err, errlen);
}

static void test_config_defaults(void **state)
{
    (void)state;
    const char *kv[] = {NULL};
    gw_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), 0);
    assert_string_equal(c.bind, "127.0.0.1:8000");
    assert_string_equal(c.authsvc_endpoints, "tcp://127.0.0.1:7001");
    assert_string_equal(c.storesvc_endpoints, "tcp://127.0.0.1:7002");
    assert_int_equal(c.threads, 2);
    assert_int_equal(c.max_connections, 1024);
    assert_int_equal(c.max_connections_per_ip, 128);
    assert_int_equal(c.connection_timeout_s, 30);
    assert_int_equal(c.request_timeout_s, 60);
    assert_int_equal(c.rpc_timeout_ms, 5000);
    assert_int_equal(c.health_timeout_ms, 1000);
    assert_int_equal(c.max_json_bytes, 65536);
    assert_string_equal(c.cors_origins, "");
    assert_false(c.hsts_enabled);
    assert_false(c.docs_enabled); /* no document served unless asked for */
    assert_string_equal(c.docs_ui_dir, "");
    assert_int_equal(c.log_level, RT_LOG_INFO);
    assert_int_equal(c.shutdown_grace_s, 30);
    assert_true(c.cookie_secure);
    assert_string_equal(c.trusted_proxy_ips, "");
    assert_non_null(c.trusted);
    assert_int_equal(gw_trusted_count(c.trusted), 0);
    assert_int_equal(c.slow_workers, 16);
    assert_int_equal(c.slow_queue, 256);
    assert_int_equal(c.bind_addr.ss_family, AF_INET);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)&c.bind_addr;
    assert_int_equal(ntohs(sin->sin_port), 8000);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    gw_config_free(&c);
    gw_config_free(&c); /* twice is fine */
}

static void test_config_values_override(void **state)
{
    (void)state;
    const char *kv[] = {"GATEWAY_BIND",
                        "[::1]:0",
                        "AUTHSVC_ENDPOINTS",
                        "tcp://a:1,tcp://b:1",
                        "GATEWAY_THREADS",
                        "8",
                        "MAX_JSON_BYTES",
                        "1024",
                        "CORS_ORIGINS",
                        " https://a.example.com , http://localhost:3000 ",
                        "HSTS_ENABLED",
                        "true",
                        "LOG_LEVEL",
                        "debug",
                        "SHUTDOWN_GRACE_SECONDS",
                        "0",
                        "COOKIE_SECURE",
                        "false",
                        "LOGIN_TRUSTED_PROXY_IPS",
                        "10.0.0.0/8, ::1",
                        "GATEWAY_SLOW_WORKERS",
                        "2",
                        "GATEWAY_SLOW_QUEUE",
                        "0",
                        NULL};
    gw_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), 0);
    assert_false(c.cookie_secure);
    assert_int_equal(gw_trusted_count(c.trusted), 2);
    assert_true(gw_trusted_contains(c.trusted, "10.1.2.3"));
    assert_int_equal(c.slow_workers, 2);
    assert_int_equal(c.slow_queue, 0);
    assert_string_equal(c.authsvc_endpoints, "tcp://a:1,tcp://b:1");
    assert_int_equal(c.threads, 8);
    assert_int_equal(c.max_json_bytes, 1024);
    assert_true(c.hsts_enabled);
    assert_int_equal(c.log_level, RT_LOG_DEBUG);
    assert_int_equal(c.shutdown_grace_s, 0);
    assert_int_equal(c.bind_addr.ss_family, AF_INET6);
    gw_config_free(&c);
}

static void test_config_bad_values_name_variable(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"GATEWAY_BIND", "8000"},
        {"GATEWAY_BIND", "127.0.0.1:70000"},
        {"GATEWAY_BIND", "[not-an-address]:80"},
        {"AUTHSVC_ENDPOINTS", "http://x"},
        {"STORESVC_ENDPOINTS", "tcp://x,"},
        {"GATEWAY_THREADS", "0"},
        {"GATEWAY_THREADS", "257"},
        {"GATEWAY_THREADS", "four"},
        {"GATEWAY_MAX_CONNECTIONS", "0"},
        {"GATEWAY_MAX_CONNECTIONS_PER_IP", "-1"},
        {"GATEWAY_CONNECTION_TIMEOUT_SECONDS", "0"},
        {"GATEWAY_REQUEST_TIMEOUT_SECONDS", "3601"},
        {"RPC_TIMEOUT_MS", "5"},
        {"HEALTH_TIMEOUT_MS", "60001"},
        {"MAX_JSON_BYTES", "1"},
        {"MAX_JSON_BYTES", "99999999"},
        {"CORS_ORIGINS", "*"},
        {"CORS_ORIGINS", "https://a.example.com/path"},
        {"CORS_ORIGINS", "a.example.com"},
        {"HSTS_ENABLED", "maybe"},
        {"LOG_LEVEL", "LOUD"},
        {"SHUTDOWN_GRACE_SECONDS", "-5"},
        {"COOKIE_SECURE", "sometimes"},
        {"LOGIN_TRUSTED_PROXY_IPS", "10.0.0.1/8"},
        {"LOGIN_TRUSTED_PROXY_IPS", "proxy.internal"},
        {"LOGIN_TRUSTED_PROXY_IPS", "10.0.0.1,,10.0.0.2"},
        {"GATEWAY_SLOW_WORKERS", "0"},
        {"GATEWAY_SLOW_WORKERS", "1025"},
        {"GATEWAY_SLOW_QUEUE", "-1"},
        {"GATEWAY_SLOW_QUEUE", "65537"},
        {"GATEWAY_SLOW_MAX_WAIT_MS", "-1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *kv[] = {bad[i][0], bad[i][1], NULL};
        gw_config_t c;
        char err[256];
        assert_int_equal(load(kv, &c, err, sizeof err), -1);
        if (!strstr(err, bad[i][0]))
            fail_msg("%s=%s: error \"%s\" does not name the variable", bad[i][0], bad[i][1], err);
        gw_config_free(&c);
    }
}

static void test_config_empty_value_means_default(void **state)
{
    (void)state;
    const char *kv[] = {"GATEWAY_THREADS", "", "CORS_ORIGINS", "", NULL};
    gw_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), 0);
    assert_int_equal(c.threads, 2);
    assert_string_equal(c.cors_origins, "");
    gw_config_free(&c);
}

static void test_config_split_origins(void **state)
{
    (void)state;
    char *out[4];
    assert_int_equal(gw_config_split_origins("", out, 4), 0);
    assert_int_equal(gw_config_split_origins(" , ,", out, 4), 0);
    assert_int_equal(gw_config_split_origins("https://a.io, http://b.io:8080", out, 4), 2);
    assert_string_equal(out[0], "https://a.io");
    assert_string_equal(out[1], "http://b.io:8080");
    free(out[0]);
    free(out[1]);
    assert_int_equal(gw_config_split_origins("https://a,https://b,https://c", out, 2), -1);
    assert_int_equal(gw_config_split_origins("https://a b", out, 4), -1);
    assert_int_equal(gw_config_split_origins("https://", out, 4), -1);
}

static void test_config_table_lists_every_variable(void **state)
{
    (void)state;
    static const char *const names[] = {
        "GATEWAY_BIND",
        "AUTHSVC_ENDPOINTS",
        "STORESVC_ENDPOINTS",
        "GATEWAY_THREADS",
        "GATEWAY_MAX_CONNECTIONS",
        "GATEWAY_MAX_CONNECTIONS_PER_IP",
        "GATEWAY_CONNECTION_TIMEOUT_SECONDS",
        "GATEWAY_REQUEST_TIMEOUT_SECONDS",
        "RPC_TIMEOUT_MS",
        "HEALTH_TIMEOUT_MS",
        "MAX_JSON_BYTES",
        "MAX_UPLOAD_BYTES",
        "UPLOAD_ALLOWED_TYPES",
        "GATEWAY_FILE_TIMEOUT_MS",
        "GATEWAY_DOWNLOAD_READAHEAD_MIB",
        "CORS_ORIGINS",
        "HSTS_ENABLED",
        "LOG_LEVEL",
        "SHUTDOWN_GRACE_SECONDS",
        "COOKIE_SECURE",
        "LOGIN_TRUSTED_PROXY_IPS",
        "GATEWAY_SLOW_WORKERS",
        "GATEWAY_SLOW_QUEUE",
        "GATEWAY_SLOW_MAX_WAIT_MS",
        "METRICS_PORT",
        "DOCS_ENABLED",
        "DOCS_UI_DIR",
    };
    size_t n = 0;
    const rt_cfg_spec_t *specs = gw_config_specs(&n);
    assert_int_equal(n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(specs[i].name, names[i]);
        if (specs[i].type == RT_CFG_INT)
            assert_true(specs[i].min <= specs[i].max && specs[i].max > 0);
    }
}

static void test_config_bad_proxy_list_error_names_entry(void **state)
{
    (void)state;
    const char *kv[] = {"LOGIN_TRUSTED_PROXY_IPS", "127.0.0.1, 300.1.1.1", NULL};
    gw_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "LOGIN_TRUSTED_PROXY_IPS"));
    assert_non_null(strstr(err, "300.1.1.1"));
    assert_null(c.trusted);
    gw_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_values_override),
        cmocka_unit_test(test_config_bad_values_name_variable),
        cmocka_unit_test(test_config_empty_value_means_default),
        cmocka_unit_test(test_config_split_origins),
        cmocka_unit_test(test_config_table_lists_every_variable),
        cmocka_unit_test(test_config_bad_proxy_list_error_names_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
