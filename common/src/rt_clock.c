/*
 * rt_clock: the monotonic clock (see rt_clock.h).
 */
#include "rt_clock.h"

static struct timespec mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

long long rt_clock_ms(void)
{
    struct timespec ts = mono();
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t rt_clock_ns(void)
{
    struct timespec ts = mono();
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t rt_clock_s(void)
{
    return (int64_t)mono().tv_sec;
}

double rt_clock_sec(void)
{
    struct timespec ts = mono();
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec rt_clock_in(long ms)
{
    struct timespec ts = mono();
    if (ms > 0) {
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    return ts;
}
