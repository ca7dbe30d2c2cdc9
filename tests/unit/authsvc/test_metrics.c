/*
 * Unit tests for auth_metrics: logins, limiter blocks, verifications and
 * rate-limit refusals counted exactly from request events; the cache
 * callbacks read the caches' own counters; NULL is off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth_metrics.h"

#include <stdlib.h>
#include <string.h>

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

static char *render(rt_metrics_t *reg)
{
    char *t = NULL;
    size_t n = 0;
    assert_int_equal(rt_metrics_render(reg, &t, &n), 0);
    return t;
}

static void event(auth_metrics_t *m, proto_op_t op, proto_err_t err, int times)
{
    for (int i = 0; i < times; i++) {
        proto_call_event_t ev = {.kind = PROTO_CALL_ANSWERED, .op = op, .err = err, .rid = ""};
        auth_metrics_record(m, &ev);
    }
}

static void test_metrics_counts_request_events(void **state)
{
    (void)state;
    auth_ctx_t ctx = {0};
    rt_metrics_t *reg = rt_metrics_new();
    auth_metrics_t *m = auth_metrics_new(reg, &ctx);
    assert_non_null(m);
    event(m, PROTO_OP_AUTH_TOKEN, PROTO_OK, 2);
    event(m, PROTO_OP_AUTH_TOKEN, PROTO_ERR_INVALID_CREDENTIALS, 5);
    event(m, PROTO_OP_AUTH_TOKEN, PROTO_ERR_LOGIN_RATE_LIMITED, 3);
    event(m, PROTO_OP_AUTH_TOKEN, PROTO_ERR_TOTP_REQUIRED, 1);
    event(m, PROTO_OP_AUTH_AUTHORIZE, PROTO_OK, 7);
    event(m, PROTO_OP_AUTH_AUTHORIZE, PROTO_ERR_UNAUTHORIZED, 2);
    event(m, PROTO_OP_AUTH_AUTHORIZE, PROTO_ERR_RATE_LIMITED, 4);
    event(m, PROTO_OP_AUTH_VERIFY, PROTO_OK, 1);
    event(m, PROTO_OP_AUTH_REGISTER, PROTO_ERR_RATE_LIMITED, 6);
    event(m, PROTO_OP_SYS_PING, PROTO_OK, 9); /* none of the families */
    proto_call_event_t drop = {.kind = PROTO_CALL_DROPPED, .op = PROTO_OP_AUTH_TOKEN, .rid = ""};
    auth_metrics_record(m, &drop);
    char *t = render(reg);
    assert_true(sample(t, "restc_auth_logins_total{outcome=\"ok\"}") == 2);
    assert_true(sample(t, "restc_auth_logins_total{outcome=\"invalid_credentials\"}") == 5);
    assert_true(sample(t, "restc_auth_logins_total{outcome=\"login_rate_limited\"}") == 3);
    assert_true(sample(t, "restc_auth_logins_total{outcome=\"totp_required\"}") == 1);
    assert_true(sample(t, "restc_auth_login_limiter_blocks_total") == 3);
    assert_true(
        sample(t, "restc_auth_token_verifications_total{op=\"auth.authorize\",result=\"ok\"}") ==
        7);
    assert_true(sample(t, "restc_auth_token_verifications_total{op=\"auth.authorize\",result="
                          "\"unauthorized\"}") == 2);
    assert_true(
        sample(t, "restc_auth_token_verifications_total{op=\"auth.verify\",result=\"ok\"}") == 1);
    assert_true(sample(t, "restc_auth_rate_limited_total{op=\"auth.authorize\"}") == 4);
    assert_true(sample(t, "restc_auth_rate_limited_total{op=\"auth.register\"}") == 6);
    assert_true(sample(t, "restc_auth_login_blocked_sources") == 0);
    assert_true(sample(t, "restc_auth_user_cache_hits_total") == 0);
    assert_true(sample(t, "restc_auth_mail_queue_depth") == 0);
    free(t);
    auth_metrics_destroy(&m);
    assert_null(m);
    rt_metrics_destroy(&reg);
}

static void test_metrics_cache_callbacks_read_the_caches(void **state)
{
    (void)state;
    auth_ctx_t ctx = {0};
    ctx.cache = auth_cache_new(64, 60, NULL, NULL);
    ctx.keycache = auth_keycache_new(64, 60, NULL, NULL);
    assert_non_null(ctx.cache);
    assert_non_null(ctx.keycache);
    rt_metrics_t *reg = rt_metrics_new();
    auth_metrics_t *m = auth_metrics_new(reg, &ctx);
    const char *id = "7d3f6c2a-1b2c-4d5e-8f90-0123456789ab";
    auth_cache_user_t u = {.username = "alice", .role = PROTO_ROLE_USER, .is_active = true};
    auth_cache_user_t out;
    assert_int_equal(auth_cache_get(ctx.cache, id, &out), -1);
    assert_int_equal(auth_cache_put(ctx.cache, id, &u), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(auth_cache_get(ctx.cache, id, &out), 0);
    auth_keycache_key_t k;
    assert_int_equal(auth_keycache_get(ctx.keycache, "nokey", &k), -1);
    char *t = render(reg);
    assert_true(sample(t, "restc_auth_user_cache_hits_total") == 3);
    assert_true(sample(t, "restc_auth_user_cache_misses_total") == 1);
    assert_true(sample(t, "restc_auth_apikey_cache_hits_total") == 0);
    assert_true(sample(t, "restc_auth_apikey_cache_misses_total") == 1);
    assert_true(sample(t, "restc_auth_token_cache_hits_total") == 0); /* no vcache: 0 */
    free(t);
    auth_metrics_destroy(&m);
    rt_metrics_destroy(&reg);
    auth_cache_destroy(&ctx.cache);
    auth_keycache_destroy(&ctx.keycache);
}

static void test_metrics_null_is_off(void **state)
{
    (void)state;
    auth_ctx_t ctx = {0};
    assert_null(auth_metrics_new(NULL, &ctx));
    event(NULL, PROTO_OP_AUTH_TOKEN, PROTO_OK, 1);
    auth_metrics_destroy(NULL);
    uint64_t h = 1, mi = 1;
    auth_cache_lookups(NULL, &h, &mi);
    assert_true(h == 0 && mi == 0);
    /* A second registration of the same families in one registry fails. */
    rt_metrics_t *reg = rt_metrics_new();
    auth_metrics_t *a = auth_metrics_new(reg, &ctx);
    assert_non_null(a);
    assert_null(auth_metrics_new(reg, &ctx));
    auth_metrics_destroy(&a);
    rt_metrics_destroy(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_counts_request_events),
        cmocka_unit_test(test_metrics_cache_callbacks_read_the_caches),
        cmocka_unit_test(test_metrics_null_is_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
