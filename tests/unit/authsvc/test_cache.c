/*
 * Unit tests for auth_cache: hit, miss, revoked sessions, ttl expiry, invalidate, overwrite,
 * LRU and stale-first eviction within a set, the capacity bound under a
 * flood of 100000 distinct ids, race-free fills with generations, argument
 * checks, and 8 threads mixing get/put/invalidate (every hit must be the
 * value stored for that id). The clock is injected; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth_cache.h"
#include "rt_uuid.h"

#define T0         INT64_C(5000)
#define TTL        30
#define FLOOD_N    100000
#define THREADS    8
#define THREAD_OPS 200000
#define POOL       2000 /* distinct ids the threads share */

typedef struct {
    _Atomic int64_t now;
} fake_clock_t;

static int64_t fake_clock(void *arg)
{
    return atomic_load(&((fake_clock_t *)arg)->now);
}

typedef struct {
    fake_clock_t clock;
    auth_cache_t *cache;
} fixture_t;

static fixture_t *fixture_new(size_t capacity)
{
    static fixture_t f;
    atomic_store(&f.clock.now, T0);
    f.cache = auth_cache_new(capacity, TTL, fake_clock, &f.clock);
    return f.cache == NULL ? NULL : &f;
}

static int setup(void **state)
{
    *state = fixture_new(1000);
    return *state == NULL ? -1 : 0;
}

static int setup_one_set(void **state)
{
    *state = fixture_new(8); /* capacity < 16: a single set of 8 ways */
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    auth_cache_destroy(&f->cache);
    return 0;
}

static void advance(fixture_t *f, int64_t s)
{
    atomic_fetch_add(&f->clock.now, s);
}

/* The value the tests store for user number `n`: derived from n, so any
 * hit can be checked against its id. */
static auth_cache_user_t user_of(int n)
{
    auth_cache_user_t u;
    memset(&u, 0, sizeof u);
    snprintf(u.username, sizeof u.username, "name-%d", n);
    u.role = (proto_role_t)(n % PROTO_ROLE_COUNT);
    u.is_active = n % 3 != 0;
    u.valid_after_ms = INT64_C(1700000000000) + n;
    u.nrevoked = (uint8_t)(n % (AUTH_CACHE_REVOKED_MAX + 1));
    for (int i = 0; i < u.nrevoked; i++) {
        u.revoked[i][0] = (unsigned char)i;
        memcpy(&u.revoked[i][1], &n, sizeof n);
    }
    return u;
}

static void id_of(int n, char *out, size_t cap)
{
    snprintf(out, cap, "00000000-0000-4000-8000-%012d", n);
}

static void put_n(auth_cache_t *c, int n)
{
    char id[AUTH_CACHE_ID_MAX + 1];
    auth_cache_user_t u = user_of(n);
    id_of(n, id, sizeof id);
    assert_int_equal(auth_cache_put(c, id, &u), 0);
}

/* 0 on a hit whose value is user_of(n), -1 on a miss; fails on anything else. */
static int get_n(auth_cache_t *c, int n)
{
    char id[AUTH_CACHE_ID_MAX + 1];
    auth_cache_user_t got, want = user_of(n);
    id_of(n, id, sizeof id);
    if (auth_cache_get(c, id, &got) != 0)
        return -1;
    assert_string_equal(got.username, want.username);
    assert_int_equal(got.role, want.role);
    assert_int_equal(got.is_active, want.is_active);
    assert_int_equal(got.valid_after_ms, want.valid_after_ms);
    assert_int_equal(got.nrevoked, want.nrevoked);
    assert_memory_equal(got.revoked, want.revoked, sizeof want.revoked);
    return 0;
}

static void test_cache_hit(void **state)
{
    fixture_t *f = *state;
    auth_cache_user_t u = user_of(7), got;

    u.stored_at_s = 12345; /* ignored by put */
    assert_int_equal(auth_cache_put(f->cache, "user-7", &u), 0);
    assert_int_equal(auth_cache_get(f->cache, "user-7", &got), 0);
    assert_string_equal(got.username, "name-7");
    assert_int_equal(got.role, u.role);
    assert_int_equal(got.is_active, u.is_active);
    assert_int_equal(got.valid_after_ms, u.valid_after_ms);
    assert_int_equal(got.stored_at_s, T0);
    assert_int_equal(auth_cache_count(f->cache), 1);

    /* Ids are exact: no prefix or case folding. */
    assert_int_equal(auth_cache_get(f->cache, "user-", &got), -1);
    assert_int_equal(auth_cache_get(f->cache, "USER-7", &got), -1);
    assert_int_equal(auth_cache_get(f->cache, "user-77", &got), -1);

    /* A 64-byte id and a 50-character username are the limits. */
    char id[AUTH_CACHE_ID_MAX + 1];
    memset(id, 'i', AUTH_CACHE_ID_MAX);
    id[AUTH_CACHE_ID_MAX] = '\0';
    memset(u.username, 'u', AUTH_CACHE_USERNAME_MAX);
    u.username[AUTH_CACHE_USERNAME_MAX] = '\0';
    assert_int_equal(auth_cache_put(f->cache, id, &u), 0);
    assert_int_equal(auth_cache_get(f->cache, id, &got), 0);
    assert_string_equal(got.username, u.username);
}

/* The revoked sessions of a user come back as stored, and are what
 * auth_cache_session_revoked answers from. */
static void test_cache_revoked_sessions(void **state)
{
    fixture_t *f = *state;
    static const char *const sids[AUTH_CACHE_REVOKED_MAX] = {
        "0b7c5b3e-0000-4000-8000-000000000000", "0b7c5b3e-0000-4000-8000-000000000001",
        "0b7c5b3e-0000-4000-8000-000000000002", "0b7c5b3e-0000-4000-8000-000000000003",
        "0b7c5b3e-0000-4000-8000-000000000004", "0b7c5b3e-0000-4000-8000-000000000005",
        "0b7c5b3e-0000-4000-8000-000000000006", "0B7C5B3E-0000-4000-8000-00000000000A",
    };
    auth_cache_user_t u = user_of(3), got;
    u.nrevoked = 0;
    memset(u.revoked, 0, sizeof u.revoked);
    for (size_t i = 0; i < AUTH_CACHE_REVOKED_MAX; i++)
        assert_int_equal(rt_uuid_parse(sids[i], u.revoked[u.nrevoked++]), 0);
    assert_int_equal(auth_cache_put(f->cache, "user-r", &u), 0);
    assert_int_equal(auth_cache_get(f->cache, "user-r", &got), 0);
    assert_int_equal(got.nrevoked, AUTH_CACHE_REVOKED_MAX);
    for (size_t i = 0; i < AUTH_CACHE_REVOKED_MAX; i++)
        assert_true(auth_cache_session_revoked(&got, sids[i]));
    assert_true(
        auth_cache_session_revoked(&got, "0b7c5b3e-0000-4000-8000-00000000000a")); /* any case */
    assert_false(auth_cache_session_revoked(&got, "0b7c5b3e-0000-4000-8000-000000000007"));
    assert_false(auth_cache_session_revoked(&got, "not-a-uuid"));
    assert_false(auth_cache_session_revoked(&got, ""));
    assert_false(auth_cache_session_revoked(&got, NULL));
    assert_false(auth_cache_session_revoked(NULL, sids[0]));
    /* Only the first nrevoked entries count. */
    got.nrevoked = 2;
    assert_true(auth_cache_session_revoked(&got, sids[1]));
    assert_false(auth_cache_session_revoked(&got, sids[2]));
    /* An entry with none; and more than the bound is refused. */
    u.nrevoked = 0;
    assert_int_equal(auth_cache_put(f->cache, "user-r", &u), 0);
    assert_int_equal(auth_cache_get(f->cache, "user-r", &got), 0);
    assert_false(auth_cache_session_revoked(&got, sids[0]));
    u.nrevoked = AUTH_CACHE_REVOKED_MAX + 1;
    assert_int_equal(auth_cache_put(f->cache, "user-r", &u), -1);
}

static void test_cache_miss(void **state)
{
    fixture_t *f = *state;
    auth_cache_user_t got;

    memset(&got, 0x5a, sizeof got);
    assert_int_equal(auth_cache_get(f->cache, "nobody", &got), -1);
    assert_string_equal(got.username, ""); /* zeroed on a miss */
    assert_int_equal(got.valid_after_ms, 0);
    assert_int_equal(auth_cache_count(f->cache), 0);
}

static void test_cache_ttl_expiry(void **state)
{
    fixture_t *f = *state;

    put_n(f->cache, 1);
    advance(f, TTL - 1);
    assert_int_equal(get_n(f->cache, 1), 0); /* still fresh; a hit does not refresh */
    advance(f, 1);
    assert_int_equal(get_n(f->cache, 1), -1);        /* stored TTL seconds ago: stale */
    assert_int_equal(auth_cache_count(f->cache), 0); /* dropped */

    /* A new put restarts the ttl. */
    put_n(f->cache, 1);
    advance(f, TTL - 1);
    put_n(f->cache, 1);
    advance(f, TTL - 1);
    assert_int_equal(get_n(f->cache, 1), 0);

    /* A clock that went backwards does not make entries fresh forever. */
    atomic_store(&f->clock.now, T0 - 100);
    assert_int_equal(get_n(f->cache, 1), -1);
}

static void test_cache_invalidate(void **state)
{
    fixture_t *f = *state;

    put_n(f->cache, 1);
    put_n(f->cache, 2);
    assert_int_equal(auth_cache_count(f->cache), 2);
    assert_int_equal(auth_cache_invalidate(f->cache, "00000000-0000-4000-8000-000000000001"), 0);
    assert_int_equal(get_n(f->cache, 1), -1);
    assert_int_equal(get_n(f->cache, 2), 0);
    assert_int_equal(auth_cache_count(f->cache), 1);
    /* Unknown ids are fine; bad ones are not. */
    assert_int_equal(auth_cache_invalidate(f->cache, "nobody"), 0);
    assert_int_equal(auth_cache_invalidate(f->cache, ""), -1);
    assert_int_equal(auth_cache_invalidate(f->cache, NULL), -1);
    assert_int_equal(auth_cache_invalidate(NULL, "x"), -1);
    assert_int_equal(auth_cache_count(f->cache), 1);
}

static void test_cache_overwrite(void **state)
{
    fixture_t *f = *state;
    auth_cache_user_t u = user_of(1), got;

    assert_int_equal(auth_cache_put(f->cache, "u1", &u), 0);
    advance(f, 5);
    u.role = PROTO_ROLE_VIEWER;
    u.is_active = false;
    u.valid_after_ms = 42;
    strcpy(u.username, "renamed");
    assert_int_equal(auth_cache_put(f->cache, "u1", &u), 0);
    assert_int_equal(auth_cache_count(f->cache), 1);
    assert_int_equal(auth_cache_get(f->cache, "u1", &got), 0);
    assert_string_equal(got.username, "renamed");
    assert_int_equal(got.role, PROTO_ROLE_VIEWER);
    assert_false(got.is_active);
    assert_int_equal(got.valid_after_ms, 42);
    assert_int_equal(got.stored_at_s, T0 + 5);
}

static void test_cache_lru_eviction(void **state)
{
    fixture_t *f = *state; /* one set of 8 ways */

    for (int n = 0; n < 8; n++)
        put_n(f->cache, n);
    assert_int_equal(auth_cache_count(f->cache), 8);
    assert_int_equal(get_n(f->cache, 0), 0); /* 0 is now the most recent; 1 the LRU */
    put_n(f->cache, 8);
    assert_int_equal(auth_cache_count(f->cache), 8);
    assert_int_equal(get_n(f->cache, 1), -1);
    for (int n = 0; n < 9; n++) {
        if (n != 1)
            assert_int_equal(get_n(f->cache, n), 0);
    }
}

static void test_cache_stale_evicted_first(void **state)
{
    fixture_t *f = *state; /* one set of 8 ways */

    put_n(f->cache, 0);
    advance(f, 5);
    for (int n = 1; n < 8; n++)
        put_n(f->cache, n);
    advance(f, 1);
    assert_int_equal(get_n(f->cache, 0), 0); /* 0 most recently used, 1 the LRU */
    advance(f, TTL - 6);                     /* 0 is stale now, 1..7 are not */
    put_n(f->cache, 8);
    assert_int_equal(auth_cache_count(f->cache), 8);
    for (int n = 1; n < 9; n++)
        assert_int_equal(get_n(f->cache, n), 0);
    assert_int_equal(get_n(f->cache, 0), -1);
}

static void test_cache_capacity_bound(void **state)
{
    fixture_t *f = *state; /* capacity 1000 */

    for (int n = 0; n < FLOOD_N; n++) {
        put_n(f->cache, n);
        if (n % 97 == 0 || n >= FLOOD_N - 1000)
            assert_true(auth_cache_count(f->cache) <= 1000);
    }
    assert_int_equal(auth_cache_count(f->cache), 1000); /* every way of every set in use */
    assert_int_equal(get_n(f->cache, FLOOD_N - 1), 0);  /* the newest is there */
    int hits = 0;
    for (int n = 0; n < FLOOD_N; n++)
        hits += get_n(f->cache, n) == 0;
    assert_int_equal(hits, 1000);
    print_message("%zu bytes per entry, %zu for 1000\n", auth_cache_entry_bytes(),
                  auth_cache_entry_bytes() * 1000);
}

static void test_cache_generation_skips_stale_fill(void **state)
{
    fixture_t *f = *state;
    auth_cache_user_t old = user_of(1), fresh = user_of(1), got;
    fresh.is_active = false;

    /* A fill reads the database, the user is deactivated and invalidated,
     * then the fill stores what it read: skipped. */
    uint64_t gen = auth_cache_generation(f->cache, "u1");
    assert_int_equal(auth_cache_invalidate(f->cache, "u1"), 0);
    assert_int_equal(auth_cache_put_if_current(f->cache, "u1", &old, gen), 1);
    assert_int_equal(auth_cache_get(f->cache, "u1", &got), -1);

    /* A fill that started after the invalidation stores. */
    gen = auth_cache_generation(f->cache, "u1");
    assert_int_equal(auth_cache_put_if_current(f->cache, "u1", &fresh, gen), 0);
    assert_int_equal(auth_cache_get(f->cache, "u1", &got), 0);
    assert_false(got.is_active);
    assert_int_equal(auth_cache_put_if_current(f->cache, "", &fresh, gen), -1);
    assert_int_equal(auth_cache_generation(f->cache, ""), 0);
    assert_int_equal(auth_cache_generation(NULL, "u1"), 0);
}

static void test_cache_bad_arguments(void **state)
{
    fixture_t *f = *state;
    auth_cache_user_t u = user_of(1), got;
    char long_id[AUTH_CACHE_ID_MAX + 2];

    assert_null(auth_cache_new(0, TTL, NULL, NULL));
    assert_null(auth_cache_new(AUTH_CACHE_MAX_CAPACITY + 1, TTL, NULL, NULL));
    assert_null(auth_cache_new(10, 0, NULL, NULL));
    assert_null(auth_cache_new(10, -1, NULL, NULL));
    assert_null(auth_cache_new(10, AUTH_CACHE_MAX_TTL + 1, NULL, NULL));

    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(auth_cache_put(f->cache, long_id, &u), -1);
    assert_int_equal(auth_cache_get(f->cache, long_id, &got), -1);
    assert_int_equal(auth_cache_put(f->cache, "", &u), -1);
    assert_int_equal(auth_cache_put(f->cache, NULL, &u), -1);
    assert_int_equal(auth_cache_put(f->cache, "u", NULL), -1);
    assert_int_equal(auth_cache_put(NULL, "u", &u), -1);
    assert_int_equal(auth_cache_get(f->cache, "u", NULL), -1);
    assert_int_equal(auth_cache_get(NULL, "u", &got), -1);
    assert_int_equal(auth_cache_get(f->cache, NULL, &got), -1);

    u.role = PROTO_ROLE_INVALID;
    assert_int_equal(auth_cache_put(f->cache, "u", &u), -1);
    u.role = PROTO_ROLE_COUNT;
    assert_int_equal(auth_cache_put(f->cache, "u", &u), -1);
    u = user_of(1);
    memset(u.username, 'x', sizeof u.username); /* not NUL-terminated */
    assert_int_equal(auth_cache_put(f->cache, "u", &u), -1);
    assert_int_equal(auth_cache_count(f->cache), 0);
    assert_int_equal(auth_cache_count(NULL), 0);

    auth_cache_destroy(NULL);
    auth_cache_t *none = NULL;
    auth_cache_destroy(&none);
}

static void test_cache_real_clock(void **state)
{
    (void)state;
    auth_cache_t *c = auth_cache_new(3, 60, NULL, NULL); /* tiny: one set of 3 */
    assert_non_null(c);
    for (int n = 0; n < 10; n++)
        put_n(c, n);
    assert_int_equal(auth_cache_count(c), 3);
    assert_int_equal(get_n(c, 9), 0);
    auth_cache_destroy(&c);
    assert_null(c);
}

/* ---- concurrency ---- */

typedef struct {
    fixture_t *f;
    unsigned seed;
    int thread;
    long hits;
} worker_t;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    char id[AUTH_CACHE_ID_MAX + 1];

    for (int i = 0; i < THREAD_OPS; i++) {
        int n = (int)(next_rand(&w->seed) % POOL);
        unsigned op = next_rand(&w->seed) % 100;
        id_of(n, id, sizeof id);
        if (op < 65) {
            auth_cache_user_t got, want = user_of(n);
            if (auth_cache_get(w->f->cache, id, &got) == 0) {
                /* cmocka asserts are not thread-safe: abort by hand */
                if (strcmp(got.username, want.username) != 0 || got.role != want.role ||
                    got.valid_after_ms != want.valid_after_ms)
                    abort();
                w->hits++;
            }
        } else if (op < 90) {
            auth_cache_user_t u = user_of(n);
            if (auth_cache_put(w->f->cache, id, &u) != 0)
                abort();
        } else if (op < 95) {
            uint64_t gen = auth_cache_generation(w->f->cache, id);
            auth_cache_user_t u = user_of(n);
            if (auth_cache_put_if_current(w->f->cache, id, &u, gen) < 0)
                abort();
        } else if (op < 99) {
            if (auth_cache_invalidate(w->f->cache, id) != 0)
                abort();
        } else if (auth_cache_count(w->f->cache) > 256) {
            abort();
        }
        if (w->thread == 0 && i % 5000 == 0)
            advance(w->f, 1); /* entries go stale under the others' feet */
    }
    return NULL;
}

static void test_cache_concurrent(void **state)
{
    fixture_t *f = *state; /* capacity 256: heavy eviction */
    pthread_t th[THREADS];
    worker_t w[THREADS];
    long hits = 0;

    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.f = f, .seed = 0x9e3779b9u * (unsigned)(i + 1), .thread = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        hits += w[i].hits;
    }
    assert_true(auth_cache_count(f->cache) <= 256);
    assert_true(hits > 0);
    print_message("%d threads x %d ops: %ld hits\n", THREADS, THREAD_OPS, hits);
}

static int setup_256(void **state)
{
    *state = fixture_new(256);
    return *state == NULL ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_revoked_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_ttl_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_lru_eviction, setup_one_set, teardown),
        cmocka_unit_test_setup_teardown(test_cache_stale_evicted_first, setup_one_set, teardown),
        cmocka_unit_test_setup_teardown(test_cache_capacity_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_generation_skips_stale_fill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_bad_arguments, setup, teardown),
        cmocka_unit_test(test_cache_real_clock),
        cmocka_unit_test_setup_teardown(test_cache_concurrent, setup_256, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
