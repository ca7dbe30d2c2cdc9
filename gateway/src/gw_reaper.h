/*
 * gw_reaper: absolute deadlines for HTTP connections.
 *
 * libmicrohttpd's connection timeout is an inactivity timeout: a client that
 * trickles one header byte per second never trips it, and its request
 * callbacks never run, so nothing in the request path can see the deadline
 * pass. The reaper tracks every open connection (registered from
 * libmicrohttpd's connection notifications) with a deadline, and a
 * background thread shuts down (shutdown(2), never close) the socket of any
 * connection past it; libmicrohttpd then sees the socket fail and cleans up
 * the connection in its own thread. A connection is removed before
 * libmicrohttpd closes its descriptor, under the same lock the sweep takes,
 * so the sweep never touches a descriptor that was reused.
 */
#ifndef GW_REAPER_H
#define GW_REAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_reaper gw_reaper_t;
typedef struct gw_reaper_slot gw_reaper_slot_t;

/* Monotonic clock in nanoseconds; injectable for tests. */
typedef uint64_t (*gw_clock_fn)(void *arg);

/* Room for `capacity` connections; `tick_ms` between sweeps of the thread.
 * `clock` NULL: CLOCK_MONOTONIC. NULL on bad arguments or OOM. */
gw_reaper_t *gw_reaper_new(size_t capacity, int tick_ms, gw_clock_fn clock, void *clock_arg);

/* Starts the sweeping thread. Returns 0 or -1. */
int gw_reaper_start(gw_reaper_t *self);

/* Stops the thread (if started) and frees everything. */
void gw_reaper_destroy(gw_reaper_t **self_p);

/* Registers a connection's socket with a deadline (0: none). NULL when the
 * table is full (the connection then just has no deadline). */
gw_reaper_slot_t *gw_reaper_add(gw_reaper_t *self, int fd, uint64_t deadline_ns);

/* Sets a new deadline (0: none) and clears the "reaped" mark. NULL-safe. */
void gw_reaper_arm(gw_reaper_t *self, gw_reaper_slot_t *slot, uint64_t deadline_ns);

/* True when the sweep shut this connection down. NULL-safe. */
bool gw_reaper_reaped(gw_reaper_t *self, const gw_reaper_slot_t *slot);

/* Unregisters; call before the descriptor is closed. NULL-safe. */
void gw_reaper_remove(gw_reaper_t *self, gw_reaper_slot_t *slot);

/* One sweep at time `now_ns` (what the thread does every tick). Returns the
 * number of connections shut down. */
size_t gw_reaper_sweep(gw_reaper_t *self, uint64_t now_ns);

/* The reaper's clock, for callers computing deadlines. */
uint64_t gw_reaper_now(const gw_reaper_t *self);

/* Connections currently registered. */
size_t gw_reaper_count(gw_reaper_t *self);

#endif
