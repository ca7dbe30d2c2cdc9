/*
 * Unit tests for auth_vcache: a cached token answers exactly like a full
 * verification (claims, expiry, a clock gone back), altered or foreign
 * tokens never hit, refusals are not stored, memory stays at capacity, and
 * concurrent verifications agree. The verifier's clock is injected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>

#include "auth_jwt.h"
#include "auth_vcache.h"

#define SECRET "0123456789abcdef0123456789abcdef-vcache-test"
#define OTHER  "fedcba9876543210fedcba9876543210-other-secret"
#define TTL    900
#define LEEWAY 5
#define T0     INT64_C(1700000000)

static _Atomic int64_t fake_now = T0;

static int64_t fake_clock(void)
{
    return fake_now;
}

typedef struct {
    auth_jwt_t *jwt;
    auth_vcache_t *cache;
} fixture_t;

static auth_jwt_t *new_jwt(const char *secret)
{
    return auth_jwt_new((const unsigned char *)secret, strlen(secret), "restc", "restc-api", TTL,
                        LEEWAY, fake_clock);
}

static int setup_cap(void **state, size_t capacity)
{
    fake_now = T0;
    fixture_t *f = calloc(1, sizeof *f);
    if (!f || !(f->jwt = new_jwt(SECRET)) || !(f->cache = auth_vcache_new(f->jwt, capacity)))
        return -1;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_cap(state, 64);
}

static int setup_small(void **state)
{
    return setup_cap(state, 16);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    auth_vcache_destroy(&f->cache);
    auth_jwt_destroy(&f->jwt);
    free(f);
    return 0;
}

/* A fresh token for user `n` (distinct tokens: distinct sub and jti). */
static char *issue(const auth_jwt_t *jwt, int n)
{
    char sub[32];
    snprintf(sub, sizeof sub, "user-%d", n);
    auth_jwt_claims_in_t in = {.sub = sub, .role = "user", .sid = "family-1"};
    char *token = NULL;
    assert_int_equal(auth_jwt_issue(jwt, &in, &token, NULL, NULL), 0);
    return token;
}

static auth_vcache_stats_t stats(fixture_t *f)
{
    auth_vcache_stats_t s;
    auth_vcache_stats(f->cache, &s);
    return s;
}

static void test_vcache_new_rejects_bad_arguments(void **state)
{
    fixture_t *f = *state;
    assert_null(auth_vcache_new(NULL, 16));
    assert_null(auth_vcache_new(f->jwt, 0));
    assert_null(auth_vcache_new(f->jwt, SIZE_MAX));
    auth_vcache_t *c = NULL;
    auth_vcache_destroy(&c);
    auth_vcache_destroy(NULL);
}

static void test_vcache_hit_answers_like_full_verification(void **state)
{
    fixture_t *f = *state;
    char *token = issue(f->jwt, 1);
    auth_jwt_claims_t full, first, second;
    assert_int_equal(auth_jwt_verify(f->jwt, token, &full), AUTH_JWT_OK);
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, &first), AUTH_JWT_OK);
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, &second), AUTH_JWT_OK);
    assert_memory_equal(&first, &full, sizeof full);
    assert_memory_equal(&second, &full, sizeof full);
    assert_string_equal(second.sub, "user-1");
    auth_vcache_stats_t s = stats(f);
    assert_int_equal(s.misses, 1);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.entries, 1);
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, NULL), AUTH_JWT_OK);
    assert_int_equal(stats(f).hits, 2);
    free(token);
}

static void test_vcache_cached_token_still_expires(void **state)
{
    fixture_t *f = *state;
    char *token = issue(f->jwt, 1);
    auth_jwt_claims_t out;
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, &out), AUTH_JWT_OK);
    fake_now = T0 + TTL + LEEWAY - 1; /* last second inside the leeway: a hit */
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, &out), AUTH_JWT_OK);
    assert_int_equal(stats(f).hits, 1);
    fake_now = T0 + TTL + LEEWAY;
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, &out), AUTH_JWT_EXPIRED);
    assert_string_equal(out.sub, "");
    assert_int_equal(stats(f).entries, 0); /* dropped, not kept for later */
    assert_int_equal(stats(f).hits, 1);
    free(token);
}

static void test_vcache_clock_gone_back_is_not_yet_valid(void **state)
{
    fixture_t *f = *state;
    char *token = issue(f->jwt, 1);
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, NULL), AUTH_JWT_OK);
    fake_now = T0 - LEEWAY; /* still inside */
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, NULL), AUTH_JWT_OK);
    fake_now = T0 - LEEWAY - 1;
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, NULL), AUTH_JWT_NOT_YET_VALID);
    free(token);
}

static void test_vcache_altered_token_never_hits(void **state)
{
    fixture_t *f = *state;
    char *token = issue(f->jwt, 1);
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, NULL), AUTH_JWT_OK);
    size_t n = strlen(token);
    char *altered = strdup(token);
    assert_non_null(altered);
    altered[n - 2] = altered[n - 2] == 'A' ? 'B' : 'A';
    auth_jwt_claims_t out;
    assert_int_not_equal(auth_vcache_verify(f->cache, f->jwt, altered, &out), AUTH_JWT_OK);
    assert_string_equal(out.sub, "");
    altered[n - 2] = token[n - 2];
    altered[n - 1] = '\0'; /* a prefix of a cached token */
    assert_int_not_equal(auth_vcache_verify(f->cache, f->jwt, altered, NULL), AUTH_JWT_OK);
    assert_int_equal(stats(f).hits, 0);
    free(altered);
    free(token);
}

static void test_vcache_refusals_are_not_stored(void **state)
{
    fixture_t *f = *state;
    const char *bad[] = {"", "garbage", "a.b.c", NULL};
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            assert_int_not_equal(auth_vcache_verify(f->cache, f->jwt, bad[i], NULL), AUTH_JWT_OK);
    assert_int_equal(stats(f).entries, 0);
    assert_int_equal(stats(f).hits, 0);
}

static void test_vcache_other_verifier_bypasses_cache(void **state)
{
    fixture_t *f = *state;
    char *token = issue(f->jwt, 1);
    assert_int_equal(auth_vcache_verify(f->cache, f->jwt, token, NULL), AUTH_JWT_OK);
    auth_jwt_t *other = new_jwt(OTHER);
    assert_non_null(other);
    assert_int_equal(auth_vcache_verify(f->cache, other, token, NULL), AUTH_JWT_BAD_SIGNATURE);
    assert_int_equal(auth_vcache_verify(NULL, other, token, NULL), AUTH_JWT_BAD_SIGNATURE);
    assert_int_equal(auth_vcache_verify(NULL, f->jwt, token, NULL), AUTH_JWT_OK);
    assert_int_equal(stats(f).hits, 0);
    auth_jwt_destroy(&other);
    free(token);
}

static void test_vcache_memory_stays_at_capacity(void **state)
{
    fixture_t *f = *state; /* capacity 16 */
    enum { N = 200 };
    char *tokens[N];
    for (int i = 0; i < N; i++) {
        tokens[i] = issue(f->jwt, i);
        assert_int_equal(auth_vcache_verify(f->cache, f->jwt, tokens[i], NULL), AUTH_JWT_OK);
    }
    auth_vcache_stats_t s = stats(f);
    assert_int_equal(s.capacity, 16);
    assert_true(s.entries <= 16);
    assert_true(s.entries >= 8); /* at least one set full */
    auth_jwt_claims_t out;
    for (int i = 0; i < N; i++) { /* evicted or not, every one still verifies */
        assert_int_equal(auth_vcache_verify(f->cache, f->jwt, tokens[i], &out), AUTH_JWT_OK);
        char sub[32];
        snprintf(sub, sizeof sub, "user-%d", i);
        assert_string_equal(out.sub, sub);
        free(tokens[i]);
    }
    assert_true(stats(f).entries <= 16);
    assert_true(auth_vcache_entry_bytes() > 0);
}

typedef struct {
    fixture_t *f;
    char **tokens;
    int ntokens;
    int rounds;
    int failures;
} worker_arg_t;

static void *worker(void *p)
{
    worker_arg_t *a = p;
    for (int r = 0; r < a->rounds; r++) {
        int i = r % a->ntokens;
        auth_jwt_claims_t out;
        char sub[32];
        snprintf(sub, sizeof sub, "user-%d", i);
        if (auth_vcache_verify(a->f->cache, a->f->jwt, a->tokens[i], &out) != AUTH_JWT_OK ||
            strcmp(out.sub, sub) != 0)
            a->failures++;
    }
    return NULL;
}

static void test_vcache_concurrent_verifications_agree(void **state)
{
    fixture_t *f = *state; /* capacity 16, 24 tokens: hits, misses and evictions race */
    enum { TOKENS = 24, THREADS = 4, ROUNDS = 3000 };
    char *tokens[TOKENS];
    for (int i = 0; i < TOKENS; i++)
        tokens[i] = issue(f->jwt, i);
    pthread_t th[THREADS];
    worker_arg_t args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (worker_arg_t){f, tokens, TOKENS, ROUNDS, 0};
        assert_int_equal(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].failures, 0);
    }
    auth_vcache_stats_t s = stats(f);
    assert_int_equal(s.hits + s.misses, THREADS * ROUNDS);
    assert_true(s.entries <= 16);
    for (int i = 0; i < TOKENS; i++)
        free(tokens[i]);
}

#define T(fn)  cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TS(fn) cmocka_unit_test_setup_teardown(fn, setup_small, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_vcache_new_rejects_bad_arguments),
        T(test_vcache_hit_answers_like_full_verification),
        T(test_vcache_cached_token_still_expires),
        T(test_vcache_clock_gone_back_is_not_yet_valid),
        T(test_vcache_altered_token_never_hits),
        T(test_vcache_refusals_are_not_stored),
        T(test_vcache_other_verifier_bypasses_cache),
        TS(test_vcache_memory_stays_at_capacity),
        TS(test_vcache_concurrent_verifications_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
