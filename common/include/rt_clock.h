/*
 * rt_clock: CLOCK_MONOTONIC, the clock of every deadline and duration (a
 * wall-clock step must never stretch or cut a timeout), in the units the
 * services use. This is the one place that reads it.
 *
 * rt_clock_in() is an absolute deadline for pthread_cond_timedwait() on a
 * condition variable whose clock was set to CLOCK_MONOTONIC
 * (pthread_condattr_setclock), and for comparing such deadlines.
 */
#ifndef RT_CLOCK_H
#define RT_CLOCK_H

#include <stdint.h>
#include <time.h>

long long rt_clock_ms(void);
uint64_t rt_clock_ns(void);
int64_t rt_clock_s(void);
double rt_clock_sec(void); /* seconds with the fraction, for durations */

/* Now plus `ms` (negative counts as 0), normalised. */
struct timespec rt_clock_in(long ms);

#endif
