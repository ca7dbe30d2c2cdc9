/*
 * limiter_bench: memory and speed of the login brute-force limiter and the
 * API rate limiter under a flood of distinct source addresses.
 *
 *   limiter_bench [--sources N] [--max-keys K] [--threads T]
 *
 * Feeds N distinct IPv4 addresses (one failed login each: begin + end
 * FAILURE; and one rate-limit check each) into limiters sized for K
 * sources, from T threads, and prints one JSON line per limiter: tables'
 * bytes (fixed at creation), bytes per tracked source, sources tracked
 * after the flood (never above K), the process's peak RSS growth during
 * the flood (what the flood cost beyond the preallocated tables), and
 * nanoseconds per operation. Then it checks that a source blocked before
 * the flood is still blocked after it (a flood must not lift blocks).
 */
#include "auth_limiter.h"
#include "auth_ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
    auth_limiter_t *lim;
    auth_ratelimit_t *rl;
    long from, to;
} slice_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void source_ip(long i, char *out, size_t cap)
{
    unsigned long v = 0x0a000000ul + (unsigned long)i; /* 10.0.0.0 + i */
    snprintf(out, cap, "%lu.%lu.%lu.%lu", (v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255,
             v & 255);
}

static void *login_flood(void *arg)
{
    slice_t *s = arg;
    char ip[32];
    for (long i = s->from; i < s->to; i++) {
        source_ip(i, ip, sizeof ip);
        if (auth_limiter_begin(s->lim, ip, NULL) == AUTH_LIMITER_ALLOWED)
            auth_limiter_end(s->lim, ip, AUTH_LIMITER_FAILURE, NULL);
    }
    return NULL;
}

static void *rate_flood(void *arg)
{
    slice_t *s = arg;
    char ip[32];
    for (long i = s->from; i < s->to; i++) {
        source_ip(i, ip, sizeof ip);
        auth_ratelimit_check(s->rl, ip, 600, NULL, NULL, NULL);
    }
    return NULL;
}

/* Runs `fn` over [0, n) on `threads` threads; returns the seconds taken. */
static double flood(void *(*fn)(void *), auth_limiter_t *lim, auth_ratelimit_t *rl, long n,
                    int threads)
{
    pthread_t th[64];
    slice_t sl[64];
    double t0 = now_s();
    for (int t = 0; t < threads; t++) {
        sl[t] = (slice_t){lim, rl, n * t / threads, n * (t + 1) / threads};
        pthread_create(&th[t], NULL, fn, &sl[t]);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    return now_s() - t0;
}

/* Blocks "192.0.2.1" before the flood; 1 when it is still blocked after. */
static void block_canary(auth_limiter_t *lim, int failures)
{
    for (int i = 0; i < failures; i++) {
        if (auth_limiter_begin(lim, "192.0.2.1", NULL) == AUTH_LIMITER_ALLOWED)
            auth_limiter_end(lim, "192.0.2.1", AUTH_LIMITER_FAILURE, NULL);
    }
}

int main(int argc, char **argv)
{
    long n = 1000000, keys = 100000;
    int threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--sources") == 0)
            n = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--max-keys") == 0)
            keys = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
    }
    if (n < 1 || keys < 1 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: limiter_bench [--sources N] [--max-keys K] [--threads T]\n");
        return 2;
    }
    auth_limiter_config_t lc;
    auth_limiter_config_defaults(&lc);
    lc.max_keys = (size_t)keys;
    auth_ratelimit_config_t rc;
    auth_ratelimit_config_defaults(&rc);
    rc.max_keys = (size_t)keys;
    long rss0 = peak_rss_kib();
    auth_limiter_t *lim = auth_limiter_new(&lc, NULL, NULL);
    auth_ratelimit_t *rl = auth_ratelimit_new(&rc, NULL, NULL);
    if (!lim || !rl) {
        fprintf(stderr, "limiter_bench: cannot create the limiters\n");
        return 1;
    }
    block_canary(lim, lc.max_failures);
    long rss1 = peak_rss_kib();
    double secs = flood(login_flood, lim, rl, n, threads);
    long rss2 = peak_rss_kib();
    bool still_blocked = auth_limiter_begin(lim, "192.0.2.1", NULL) == AUTH_LIMITER_BLOCKED;
    printf("{\"limiter\":\"login\",\"sources\":%ld,\"max_keys\":%ld,\"table_bytes\":%zu,"
           "\"bytes_per_source\":%.1f,\"tracked_after\":%zu,\"rss_growth_during_flood_kib\":%ld,"
           "\"rss_at_creation_kib\":%ld,\"ns_per_attempt\":%.0f,\"blocked_source_kept\":%s}\n",
           n, keys, auth_limiter_memory_bytes(lim),
           (double)auth_limiter_memory_bytes(lim) / (double)keys, auth_limiter_tracked_count(lim),
           rss2 - rss1, rss1 - rss0, secs * 1e9 / (double)n, still_blocked ? "true" : "false");
    rss1 = peak_rss_kib();
    secs = flood(rate_flood, lim, rl, n, threads);
    rss2 = peak_rss_kib();
    printf("{\"limiter\":\"api\",\"sources\":%ld,\"max_keys\":%ld,\"table_bytes\":%zu,"
           "\"bytes_per_source\":%.1f,\"tracked_after\":%zu,\"rss_growth_during_flood_kib\":%ld,"
           "\"ns_per_check\":%.0f}\n",
           n, keys, auth_ratelimit_memory_bytes(rl),
           (double)auth_ratelimit_memory_bytes(rl) / (double)keys, auth_ratelimit_tracked_count(rl),
           rss2 - rss1, secs * 1e9 / (double)n);
    auth_limiter_destroy(&lim);
    auth_ratelimit_destroy(&rl);
    return still_blocked ? 0 : 1;
}
