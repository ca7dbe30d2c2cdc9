/*
 * rt_clock: CLOCK_MONOTONIC in milliseconds, the clock of every deadline
 * and duration (a wall-clock step must never stretch or cut a timeout).
 */
#ifndef RT_CLOCK_H
#define RT_CLOCK_H

long long rt_clock_ms(void);

#endif
