/*
 * argon2_bench: aggregate password verifications per second through
 * auth_hash_verify, the code path (and the libargon2 build) that authsvc
 * uses for every login, to size the hashing pool and pick Argon2
 * parameters on the target machine.
 *
 * Usage: argon2_bench [--threads N] [--seconds S] [--t T] [--m KiB] [--p P]
 * (defaults 1 thread, 5 s, t=3, m=65536, p=4). One hash of a fixed
 * password is made with those parameters; N threads then verify it in a
 * loop for S seconds (each verification also starts up to p - 1 threads inside the
 * reference libargon2). Prints one JSON line:
 *   {"threads":2,"t":3,"m":65536,"p":4,"seconds":5.01,"verifies":62,
 *    "verifies_per_s":12.37,"ms_per_verify":161.7,
 *    "argon2":"upstream Argon2 20190702, AVX2"}
 * where ms_per_verify is the mean latency of one verification seen by one
 * thread and argon2 names the linked build (auth_hash_impl). Exits 1 on bad arguments or if any
 * verification fails.
 */
#include "auth_hash.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_PW    "Bench-Password-123!"
#define THREADS_MAX 256

typedef struct {
    int threads;
    double seconds;
    uint32_t t, m, p;
    auth_hash_t *hash;
    char encoded[AUTH_HASH_ENCODED_BUF];
    double deadline;
    atomic_long verifies;
    atomic_int failed;
} bench_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker_main(void *arg)
{
    bench_t *b = arg;
    /* Always finish at least one verification, then run to the deadline. */
    do {
        if (auth_hash_verify(b->hash, b->encoded, BENCH_PW) != AUTH_HASH_MATCH) {
            atomic_store(&b->failed, 1);
            break;
        }
        atomic_fetch_add(&b->verifies, 1);
    } while (now_s() < b->deadline);
    return NULL;
}

/* Parses a positive integer no larger than `max`; -1 on anything else. */
static long parse_pos(const char *s, long max)
{
    char *end;
    long v = strtol(s, &end, 10);
    return end == s || *end != '\0' || v < 1 || v > max ? -1 : v;
}

static int parse_args(bench_t *b, int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return -1;
        const char *k = argv[i], *v = argv[i + 1];
        long n;
        if (strcmp(k, "--seconds") == 0) {
            char *end;
            b->seconds = strtod(v, &end);
            if (end == v || *end != '\0' || !(b->seconds > 0 && b->seconds <= 3600))
                return -1;
            continue;
        }
        if (strcmp(k, "--threads") == 0 && (n = parse_pos(v, THREADS_MAX)) > 0)
            b->threads = (int)n;
        else if (strcmp(k, "--t") == 0 && (n = parse_pos(v, AUTH_HASH_T_MAX)) > 0)
            b->t = (uint32_t)n;
        else if (strcmp(k, "--m") == 0 && (n = parse_pos(v, AUTH_HASH_M_MAX)) > 0)
            b->m = (uint32_t)n;
        else if (strcmp(k, "--p") == 0 && (n = parse_pos(v, AUTH_HASH_P_MAX)) > 0)
            b->p = (uint32_t)n;
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static bench_t b = {.threads = 1, .seconds = 5, .t = 3, .m = 65536, .p = 4};
    pthread_t th[THREADS_MAX];
    int started = 0, rc = 1;

    if (parse_args(&b, argc, argv) != 0) {
        fprintf(stderr,
                "usage: %s [--threads N] [--seconds S] [--t T] [--m KiB] [--p P]\n"
                "  defaults: --threads 1 --seconds 5 --t 3 --m 65536 --p 4\n",
                argv[0]);
        return 1;
    }
    b.hash = auth_hash_new(b.t, b.m, b.p);
    if (b.hash == NULL) {
        fprintf(stderr, "argon2_bench: parameters refused (m must be >= 8 * p)\n");
        return 1;
    }
    if (auth_hash_password(b.hash, BENCH_PW, b.encoded, sizeof b.encoded) != 0) {
        fprintf(stderr, "argon2_bench: hashing failed\n");
        goto cleanup;
    }

    double t0 = now_s();
    b.deadline = t0 + b.seconds;
    for (; started < b.threads; started++) {
        if (pthread_create(&th[started], NULL, worker_main, &b) != 0) {
            fprintf(stderr, "argon2_bench: cannot start thread %d\n", started);
            atomic_store(&b.failed, 1);
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double elapsed = now_s() - t0;
    if (atomic_load(&b.failed)) {
        fprintf(stderr, "argon2_bench: a verification did not match\n");
        goto cleanup;
    }

    long n = atomic_load(&b.verifies);
    printf("{\"threads\":%d,\"t\":%u,\"m\":%u,\"p\":%u,\"seconds\":%.2f,\"verifies\":%ld,"
           "\"verifies_per_s\":%.2f,\"ms_per_verify\":%.1f,\"argon2\":\"%s\"}\n",
           b.threads, b.t, b.m, b.p, elapsed, n, (double)n / elapsed,
           1e3 * elapsed * b.threads / (double)n, auth_hash_impl());
    rc = 0;
cleanup:
    auth_hash_destroy(&b.hash);
    return rc;
}
