/*
 * rt_clock: the monotonic clock (see rt_clock.h).
 */
#include "rt_clock.h"

#include <time.h>

long long rt_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
