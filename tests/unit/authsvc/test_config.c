/*
 * Unit tests for auth_config: authsvc's variable table. Defaults, values
 * overriding them, JWT_SECRET_KEY required and at least 32 bytes, malformed
 * values failing with a message that names the variable, and the secret
 * never appearing in any error text. The environment is injected through a
 * fake getenv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth_config.h"

#define SECRET32    "S3cr3t-0123456789abcdef-XYZWVUTS" /* 32 bytes */
#define SECRET31    "S3cr3t-0123456789abcdef-XYZWVUT"  /* 31 bytes */
#define SECRET_PART "S3cr3t"

static const char *fake_getenv(const char *name, void *arg)
{
    for (const char *const *p = arg; p[0]; p += 2) {
        if (strcmp(p[0], name) == 0)
            return p[1];
    }
    return NULL;
}

static int load(const char *const *kv, auth_config_t *cfg, char *err, size_t errlen)
{
    err[0] = '\0';
    return auth_config_load(cfg, fake_getenv, (void *)kv, err, errlen);
}

static void test_config_defaults(void **state)
{
    (void)state;
    const char *kv[] = {"JWT_SECRET_KEY", SECRET32, NULL};
    auth_config_t c;
    char err[256];
    assert_int_equal(strlen(SECRET32), 32);
    assert_int_equal(load(kv, &c, err, sizeof err), 0);
    assert_string_equal(c.bind, "tcp://127.0.0.1:7001");
    assert_int_equal(c.workers, 8);
    assert_string_equal(c.storesvc_endpoints, "tcp://127.0.0.1:7002");
    assert_string_equal(c.jwt_secret_key, SECRET32);
    assert_int_equal(c.rpc_timeout_ms, 5000);
    assert_int_equal(c.health_timeout_ms, 1000);
    assert_int_equal(c.log_level, RT_LOG_INFO);
    assert_int_equal(c.shutdown_grace_s, 30);
    /* The defaults of the API contract. */
    assert_string_equal(c.jwt_algorithm, "HS256");
    assert_int_equal(c.access_ttl_min, 15);
    assert_int_equal(c.refresh_ttl_days, 7);
    assert_int_equal(c.refresh_grace_s, 10);
    assert_true(c.registration_enabled);
    assert_int_equal(c.login_max_failures, 5);
    assert_int_equal(c.login_window_s, 300);
    assert_int_equal(c.login_cooldown_s, 900);
    assert_int_equal(c.rate_limit_per_min, 600);
    assert_int_equal(c.register_rate_per_min, 3);
    assert_int_equal(c.argon2_t, 3);
    assert_int_equal(c.argon2_m_kib, 65536);
    assert_int_equal(c.argon2_p, 4);
    assert_int_equal(c.cache_size, 65536);
    assert_int_equal(c.token_cache_size, 16384);
    assert_null(c.owner_username);
    auth_config_free(&c);
    auth_config_free(&c); /* twice is fine */
    assert_null(c.jwt_secret_key);
}

static void test_config_values_override(void **state)
{
    (void)state;
    const char *kv[] = {"JWT_SECRET_KEY",
                        SECRET32,
                        "AUTHSVC_BIND",
                        "tcp://*:7101",
                        "AUTHSVC_WORKERS",
                        "16",
                        "STORESVC_ENDPOINTS",
                        "tcp://s1:7002,tcp://s2:7002",
                        "RPC_TIMEOUT_MS",
                        "1500",
                        "HEALTH_TIMEOUT_MS",
                        "200",
                        "LOG_LEVEL",
                        "warning",
                        "SHUTDOWN_GRACE_SECONDS",
                        "5",
                        NULL};
    auth_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), 0);
    assert_string_equal(c.bind, "tcp://*:7101");
    assert_int_equal(c.workers, 16);
    assert_string_equal(c.storesvc_endpoints, "tcp://s1:7002,tcp://s2:7002");
    assert_int_equal(c.rpc_timeout_ms, 1500);
    assert_int_equal(c.health_timeout_ms, 200);
    assert_int_equal(c.log_level, RT_LOG_WARNING);
    assert_int_equal(c.shutdown_grace_s, 5);
    auth_config_free(&c);
}

static void test_config_missing_secret_named(void **state)
{
    (void)state;
    const char *kv[] = {NULL};
    const char *empty[] = {"JWT_SECRET_KEY", "", NULL};
    auth_config_t c;
    char err[256];
    assert_int_equal(load(kv, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "JWT_SECRET_KEY"));
    auth_config_free(&c);
    assert_int_equal(load(empty, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "JWT_SECRET_KEY"));
    auth_config_free(&c);
}

static void test_config_short_secret_rejected(void **state)
{
    (void)state;
    const char *kv[] = {"JWT_SECRET_KEY", SECRET31, NULL};
    auth_config_t c;
    char err[256];
    assert_int_equal(strlen(SECRET31), 31);
    assert_int_equal(load(kv, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "JWT_SECRET_KEY"));
    assert_non_null(strstr(err, "32"));
    assert_null(strstr(err, SECRET_PART));
    auth_config_free(&c);
}

/* Each row: a variable, a bad value for it. Every one must fail, naming it,
 * and the (valid) secret loaded before it must not leak into the message. */
static void test_config_bad_values_name_variable(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"AUTHSVC_WORKERS", "0"},
        {"AUTHSVC_WORKERS", "65"},
        {"AUTHSVC_WORKERS", "lots"},
        {"RPC_TIMEOUT_MS", "5s"},
        {"RPC_TIMEOUT_MS", "0"},
        {"HEALTH_TIMEOUT_MS", "-5"},
        {"HEALTH_TIMEOUT_MS", "99999999999999999999"},
        {"SHUTDOWN_GRACE_SECONDS", "x"},
        {"AUTHSVC_BIND", "0.0.0.0:7001"},
        {"AUTHSVC_BIND", "tcp://a:1,tcp://b:2"},
        {"STORESVC_ENDPOINTS", "http://storesvc:7002"},
        {"STORESVC_ENDPOINTS", "tcp://a:1,"},
        {"LOG_LEVEL", "TRACE"},
        {"JWT_ALGORITHM", "none"},
        {"JWT_ALGORITHM", "HS512"},
        {"ACCESS_TOKEN_EXPIRE_MINUTES", "0"},
        {"REFRESH_TOKEN_EXPIRE_DAYS", "366"},
        {"REFRESH_REUSE_GRACE_SECONDS", "-1"},
        {"REGISTRATION_ENABLED", "maybe"},
        {"LOGIN_MAX_FAILURES", "0"},
        {"LOGIN_COOLDOWN_SECONDS", "0"},
        {"RATE_LIMIT_PER_MINUTE", "-1"},
        {"REGISTER_RATE_LIMIT_PER_MINUTE", "x"},
        {"ARGON2_TIME_COST", "0"},
        {"ARGON2_MEMORY_COST", "4"},
        {"ARGON2_PARALLELISM", "65"},
        {"RATE_LIMIT_REDIS_URL", "redis://127.0.0.1:6379"},
        {"OWNER_USERNAME", "owner"}, /* without OWNER_PASSWORD / OWNER_EMAIL */
        {"TOTP_ENCRYPTION_KEY", "S3cr3t-not-32-bytes"},
        {"TOTP_ENCRYPTION_KEY", "S3cr3t0123456789abcdef0123456789abcdef0123456789abcdef0123456789"},
        {"LOGIN_ACCOUNT_MAX_FAILURES", "0"},
        {"LOGIN_MAX_ACCOUNTS", "0"},
        {"LOGIN_DEVICE_COOKIE_DAYS", "0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *kv[] = {"JWT_SECRET_KEY", SECRET32, bad[i][0], bad[i][1], NULL};
        auth_config_t c;
        char err[256];
        assert_int_equal(load(kv, &c, err, sizeof err), -1);
        if (!strstr(err, bad[i][0]))
            fail_msg("%s=%s: error \"%s\" does not name the variable", bad[i][0], bad[i][1], err);
        assert_null(strstr(err, SECRET_PART));
        auth_config_free(&c);
    }
}

/* TOTP_ENCRYPTION_KEY: 32 bytes as 64 hex digits or base64; unset is
 * allowed (the keys are then derived from JWT_SECRET_KEY). */
static void test_config_totp_key_forms(void **state)
{
    (void)state;
    static const char *const good[] = {
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *kv[] = {"JWT_SECRET_KEY", SECRET32, "TOTP_ENCRYPTION_KEY", good[i], NULL};
        auth_config_t c;
        char err[256];
        if (load(kv, &c, err, sizeof err) != 0)
            fail_msg("%s refused: %s", good[i], err);
        auth_config_free(&c);
    }
    const char *unset[] = {"JWT_SECRET_KEY", SECRET32, NULL};
    auth_config_t c;
    char err[256];
    assert_int_equal(load(unset, &c, err, sizeof err), 0);
    assert_null(c.totp_encryption_key);
    assert_int_equal(c.login_account_max_failures, 10);
    assert_string_equal(c.totp_issuer, "restc");
    auth_config_free(&c);
}

static void test_config_owner_needs_all_three(void **state)
{
    (void)state;
    const char *partial[] = {"JWT_SECRET_KEY", SECRET32, "OWNER_USERNAME", "owner", "OWNER_EMAIL",
                             "o@example.com",  NULL};
    const char *full[] = {"JWT_SECRET_KEY", SECRET32,        "OWNER_USERNAME",
                          "owner",          "OWNER_EMAIL",   "o@example.com",
                          "OWNER_PASSWORD", "Owner-Pw-123!", NULL};
    auth_config_t c;
    char err[256];
    assert_int_equal(load(partial, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "OWNER_PASSWORD"));
    auth_config_free(&c);
    assert_int_equal(load(full, &c, err, sizeof err), 0);
    assert_string_equal(c.owner_username, "owner");
    auth_config_free(&c);
    assert_null(c.owner_password);
}

static void test_config_mail_and_reset_defaults_and_rules(void **state)
{
    (void)state;
    auth_config_t c;
    char err[256];
    const char *dev[] = {"JWT_SECRET_KEY", SECRET32, NULL};
    assert_int_equal(load(dev, &c, err, sizeof err), 0);
    assert_null(c.smtp_url); /* dev mode */
    assert_int_equal(c.reset_ttl_s, 1800);
    assert_int_equal(c.reset_per_email_hour, 3);
    assert_int_equal(c.mail_queue_size, 256);
    assert_int_equal(c.smtp_timeout_ms, 10000);
    assert_int_equal(c.apikey_used_interval_s, 60);
    auth_config_free(&c);
    static const struct {
        const char *k1, *v1, *k2, *v2, *named;
    } bad[] = {
        {"SMTP_URL", "http://mail.example.com", NULL, NULL, "SMTP_URL"},
        {"SMTP_URL", "smtp://mail.example.com", NULL, NULL, "MAIL_FROM"},
        {"SMTP_URL", "smtp://mail.example.com", "MAIL_FROM", "not an address", "MAIL_FROM"},
        {"SMTP_PASSWORD", "pw-" SECRET_PART, NULL, NULL, "SMTP_URL"},
        {"SMTP_URL", "smtp://mail.example.com", "SMTP_PASSWORD", "pw-" SECRET_PART,
         "SMTP_PASSWORD"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *kv[] = {"JWT_SECRET_KEY", SECRET32,  bad[i].k1, bad[i].v1,
                            bad[i].k2,        bad[i].v2, NULL};
        if (!bad[i].k2)
            kv[4] = NULL;
        assert_int_equal(load(kv, &c, err, sizeof err), -1);
        if (!strstr(err, bad[i].named))
            fail_msg("case %zu: %s does not name %s", i, err, bad[i].named);
        assert_null(strstr(err, SECRET_PART));
        auth_config_free(&c);
    }
    const char *ok[] = {"JWT_SECRET_KEY",
                        SECRET32,
                        "SMTP_URL",
                        "smtp+starttls://mail.example.com:587",
                        "MAIL_FROM",
                        "noreply@example.com",
                        "SMTP_PASSWORD",
                        "pw",
                        NULL};
    assert_int_equal(load(ok, &c, err, sizeof err), 0);
    assert_string_equal(c.smtp_password, "pw");
    auth_config_free(&c);
}

static void test_config_table_lists_every_variable(void **state)
{
    (void)state;
    static const char *const names[] = {"AUTHSVC_BIND",
                                        "AUTHSVC_WORKERS",
                                        "STORESVC_ENDPOINTS",
                                        "JWT_SECRET_KEY",
                                        "RPC_TIMEOUT_MS",
                                        "HEALTH_TIMEOUT_MS",
                                        "LOG_LEVEL",
                                        "SHUTDOWN_GRACE_SECONDS",
                                        "JWT_ALGORITHM",
                                        "JWT_ISSUER",
                                        "JWT_AUDIENCE",
                                        "ACCESS_TOKEN_EXPIRE_MINUTES",
                                        "REFRESH_TOKEN_EXPIRE_DAYS",
                                        "REFRESH_REUSE_GRACE_SECONDS",
                                        "JWT_LEEWAY_SECONDS",
                                        "OWNER_USERNAME",
                                        "OWNER_PASSWORD",
                                        "OWNER_EMAIL",
                                        "REGISTRATION_ENABLED",
                                        "HIBP_ENABLED",
                                        "HIBP_URL",
                                        "HIBP_TIMEOUT_MS",
                                        "HIBP_FAIL_CLOSED",
                                        "LOGIN_MAX_FAILURES",
                                        "LOGIN_WINDOW_SECONDS",
                                        "LOGIN_COOLDOWN_SECONDS",
                                        "LOGIN_MAX_SOURCES",
                                        "LOGIN_ACCOUNT_MAX_FAILURES",
                                        "LOGIN_MAX_ACCOUNTS",
                                        "LOGIN_DEVICE_COOKIE_DAYS",
                                        "TOTP_ENCRYPTION_KEY",
                                        "TOTP_ISSUER",
                                        "RATE_LIMIT_PER_MINUTE",
                                        "REGISTER_RATE_LIMIT_PER_MINUTE",
                                        "RATE_LIMIT_MAX_KEYS",
                                        "RATE_LIMIT_REDIS_URL",
                                        "ARGON2_TIME_COST",
                                        "ARGON2_MEMORY_COST",
                                        "ARGON2_PARALLELISM",
                                        "AUTHSVC_HASH_WORKERS",
                                        "AUTHSVC_HASH_QUEUE",
                                        "AUTHSVC_HASH_MAX_WAIT_MS",
                                        "AUTH_CACHE_TTL_SECONDS",
                                        "AUTH_CACHE_SIZE",
                                        "AUTH_TOKEN_CACHE_SIZE",
                                        "AUTHSVC_TEST_STARTUP_DELAY_MS",
                                        "SMTP_URL",
                                        "MAIL_FROM",
                                        "SMTP_USERNAME",
                                        "SMTP_PASSWORD",
                                        "SMTP_TIMEOUT_MS",
                                        "MAIL_QUEUE_SIZE",
                                        "PASSWORD_RESET_TTL_SECONDS",
                                        "PASSWORD_RESET_PER_EMAIL_PER_HOUR",
                                        "PASSWORD_RESET_PER_IP_PER_HOUR",
                                        "AUTH_API_KEY_CACHE_SIZE",
                                        "API_KEY_LAST_USED_INTERVAL_SECONDS",
                                        "API_KEY_MAX_PER_USER",
                                        "METRICS_PORT"};
    size_t n = 0;
    const rt_cfg_spec_t *specs = auth_config_specs(&n);
    assert_int_equal(n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(specs[i].name, names[i]);
        if (strcmp(names[i], "TOTP_ENCRYPTION_KEY") == 0) {
            assert_int_equal(specs[i].type, RT_CFG_SECRET);
            assert_false(specs[i].required);
        }
        if (strcmp(names[i], "JWT_SECRET_KEY") == 0) {
            assert_int_equal(specs[i].type, RT_CFG_SECRET);
            assert_true(specs[i].required);
            assert_int_equal(specs[i].min, 32);
        }
        if (strcmp(names[i], "OWNER_PASSWORD") == 0)
            assert_int_equal(specs[i].type, RT_CFG_SECRET);
    }
}

/* METRICS_PORT: 9465 on loopback by default, the gateway's forms, "off". */
static void test_config_metrics_port(void **state)
{
    (void)state;
    auth_config_t c;
    char err[256];
    const char *def[] = {"JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef", NULL};
    assert_int_equal(load(def, &c, err, sizeof err), 0);
    assert_true(c.metrics_at.enabled);
    assert_string_equal(c.metrics_at.host, "127.0.0.1");
    assert_int_equal(c.metrics_at.port, 9465);
    auth_config_free(&c);
    const char *off[] = {"JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef", "METRICS_PORT",
                         "off", NULL};
    assert_int_equal(load(off, &c, err, sizeof err), 0);
    assert_false(c.metrics_at.enabled);
    auth_config_free(&c);
    const char *v6[] = {"JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef", "METRICS_PORT",
                        "[::1]:0", NULL};
    assert_int_equal(load(v6, &c, err, sizeof err), 0);
    assert_string_equal(c.metrics_at.host, "::1");
    assert_int_equal(c.metrics_at.port, 0);
    auth_config_free(&c);
    const char *bad[] = {"JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef", "METRICS_PORT",
                         "99999", NULL};
    assert_int_equal(load(bad, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "METRICS_PORT"));
    auth_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_values_override),
        cmocka_unit_test(test_config_missing_secret_named),
        cmocka_unit_test(test_config_short_secret_rejected),
        cmocka_unit_test(test_config_bad_values_name_variable),
        cmocka_unit_test(test_config_owner_needs_all_three),
        cmocka_unit_test(test_config_mail_and_reset_defaults_and_rules),
        cmocka_unit_test(test_config_totp_key_forms),
        cmocka_unit_test(test_config_table_lists_every_variable),
        cmocka_unit_test(test_config_metrics_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
