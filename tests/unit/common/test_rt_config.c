/*
 * Unit tests for rt_config: table-driven environment configuration.
 * The environment is injected through a fake getenv over a small table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rt_config.h"

typedef struct {
    char *name;
    char *secret;
    char *bind;
    char *endpoints;
    long workers;
    bool hsts;
} cfg_t;

static const rt_cfg_spec_t specs[] = {
    {"NAME", RT_CFG_STR, false, "default-name", 0, 20, offsetof(cfg_t, name)},
    {"SECRET", RT_CFG_SECRET, true, NULL, 32, 0, offsetof(cfg_t, secret)},
    {"BIND", RT_CFG_HOSTPORT, false, "127.0.0.1:8000", 0, 0, offsetof(cfg_t, bind)},
    {"ENDPOINTS", RT_CFG_ENDPOINT_LIST, false, "tcp://127.0.0.1:7001", 0, 0,
     offsetof(cfg_t, endpoints)},
    {"WORKERS", RT_CFG_INT, false, "4", 1, 64, offsetof(cfg_t, workers)},
    {"HSTS", RT_CFG_BOOL, false, "false", 0, 0, offsetof(cfg_t, hsts)},
};
#define NSPECS (sizeof specs / sizeof specs[0])

#define GOOD_SECRET "0123456789abcdef0123456789abcdef"

typedef struct {
    const char *const *kv; /* NULL-terminated name/value pairs */
} fake_env_t;

static const char *fake_getenv(const char *name, void *arg)
{
    const fake_env_t *env = arg;
    for (const char *const *p = env->kv; p[0]; p += 2) {
        if (strcmp(p[0], name) == 0)
            return p[1];
    }
    return NULL;
}

static int load(const char *const *kv, cfg_t *cfg, char *err, size_t errlen)
{
    fake_env_t env = {kv};
    memset(cfg, 0, sizeof *cfg);
    return rt_config_load(specs, NSPECS, cfg, fake_getenv, &env, err, errlen);
}

static void test_rt_config_defaults_apply(void **state)
{
    (void)state;
    const char *kv[] = {"SECRET", GOOD_SECRET, NULL};
    cfg_t cfg;
    char err[256] = "";
    assert_int_equal(load(kv, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.name, "default-name");
    assert_string_equal(cfg.bind, "127.0.0.1:8000");
    assert_string_equal(cfg.endpoints, "tcp://127.0.0.1:7001");
    assert_int_equal(cfg.workers, 4);
    assert_false(cfg.hsts);
    assert_string_equal(cfg.secret, GOOD_SECRET);
    rt_config_free(specs, NSPECS, &cfg);
    assert_null(cfg.name);
    rt_config_free(specs, NSPECS, &cfg); /* twice is safe */
}

static void test_rt_config_values_override_defaults(void **state)
{
    (void)state;
    const char *kv[] = {"SECRET",  GOOD_SECRET, "NAME",      "svc",
                        "WORKERS", "64",        "HSTS",      "TRUE",
                        "BIND",    "0.0.0.0:1", "ENDPOINTS", "tcp://a:1,ipc:///tmp/x",
                        NULL};
    cfg_t cfg;
    char err[256] = "";
    assert_int_equal(load(kv, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.name, "svc");
    assert_int_equal(cfg.workers, 64);
    assert_true(cfg.hsts);
    assert_string_equal(cfg.bind, "0.0.0.0:1");
    assert_string_equal(cfg.endpoints, "tcp://a:1,ipc:///tmp/x");
    rt_config_free(specs, NSPECS, &cfg);
}

static void test_rt_config_missing_required_names_variable(void **state)
{
    (void)state;
    const char *kv[] = {NULL};
    cfg_t cfg;
    char err[256] = "";
    assert_int_equal(load(kv, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "SECRET"));
    rt_config_free(specs, NSPECS, &cfg);
}

static void test_rt_config_empty_required_is_missing(void **state)
{
    (void)state;
    const char *kv[] = {"SECRET", "", NULL};
    cfg_t cfg;
    char err[256] = "";
    assert_int_equal(load(kv, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "SECRET"));
    rt_config_free(specs, NSPECS, &cfg);
}

static void test_rt_config_short_secret_rejected_without_echo(void **state)
{
    (void)state;
    const char *kv[] = {"SECRET", "tooshort-secret-value-31-bytes!", NULL};
    cfg_t cfg;
    char err[256] = "";
    assert_int_equal(strlen(kv[1]), 31);
    assert_int_equal(load(kv, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "SECRET"));
    assert_null(strstr(err, "tooshort"));
    rt_config_free(specs, NSPECS, &cfg);
}

/* Each row: a bad value for one variable; the error must name it. */
static void test_rt_config_bad_values_name_variable(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"WORKERS", "abc"},
        {"WORKERS", "0"},
        {"WORKERS", "65"},
        {"WORKERS", "4x"},
        {"WORKERS", "99999999999999999999"},
        {"HSTS", "maybe"},
        {"BIND", "nohost"},
        {"BIND", "h:-1"},
        {"BIND", "h:70000"},
        {"BIND", ":80"},
        {"ENDPOINTS", "http://x"},
        {"ENDPOINTS", "tcp://a:1,"},
        {"ENDPOINTS", "tcp://"},
        {"NAME", "123456789012345678901"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *kv[] = {"SECRET", GOOD_SECRET, bad[i][0], bad[i][1], NULL};
        cfg_t cfg;
        char err[256] = "";
        assert_int_equal(load(kv, &cfg, err, sizeof err), -1);
        assert_non_null(strstr(err, bad[i][0]));
        rt_config_free(specs, NSPECS, &cfg);
    }
}

static void test_rt_config_parse_bool_words(void **state)
{
    (void)state;
    bool b = false;
    assert_int_equal(rt_parse_bool("yes", &b), 0);
    assert_true(b);
    assert_int_equal(rt_parse_bool("Off", &b), 0);
    assert_false(b);
    assert_int_equal(rt_parse_bool("", &b), -1);
    assert_int_equal(rt_parse_bool("2", &b), -1);
}

static void test_rt_config_parse_long_strict(void **state)
{
    (void)state;
    long v = 0;
    assert_int_equal(rt_parse_long("-12", &v), 0);
    assert_int_equal(v, -12);
    assert_int_equal(rt_parse_long("", &v), -1);
    assert_int_equal(rt_parse_long(NULL, &v), -1);
    assert_int_equal(rt_parse_long("1 ", &v), -1);
    assert_int_equal(rt_parse_long("0x10", &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_config_defaults_apply),
        cmocka_unit_test(test_rt_config_values_override_defaults),
        cmocka_unit_test(test_rt_config_missing_required_names_variable),
        cmocka_unit_test(test_rt_config_empty_required_is_missing),
        cmocka_unit_test(test_rt_config_short_secret_rejected_without_echo),
        cmocka_unit_test(test_rt_config_bad_values_name_variable),
        cmocka_unit_test(test_rt_config_parse_bool_words),
        cmocka_unit_test(test_rt_config_parse_long_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
