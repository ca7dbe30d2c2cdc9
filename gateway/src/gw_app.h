/*
 * gw_app: the gateway as one object, so main() stays thin and tests can run
 * the whole thing in-process: a ZeroMQ context, one RPC client pool per
 * backend, and the HTTP server over a route table.
 */
#ifndef GW_APP_H
#define GW_APP_H

#include "gw_config.h"
#include "gw_route.h"
#include "rt_metrics.h"

#include <stdint.h>

typedef struct gw_app gw_app_t;

/* `cfg` is borrowed and must outlive the app. `routes` NULL selects the
 * public table (gw_route_table); tests inject their own (borrowed too).
 * Returns NULL on failure (logged). */
gw_app_t *gw_app_new(const gw_config_t *cfg, const gw_route_t *routes, size_t nroutes);

/* Starts listening. Returns 0, or -1 (logged). */
int gw_app_start(gw_app_t *self);

/* The bound TCP port, 0 before start. */
uint16_t gw_app_port(const gw_app_t *self);

/* The metrics registry (the gateway's families, process_*, build_info),
 * for the /metrics server main() starts on METRICS_PORT. Borrowed. */
rt_metrics_t *gw_app_metrics(gw_app_t *self);

/* Graceful stop: no new connections, in-flight requests (slow ones
 * included) get up to `grace_s` seconds to finish; then slow requests
 * still queued are answered 503, running ones are waited for (each is
 * bounded by RPC_TIMEOUT_MS), and every connection is closed. */
void gw_app_shutdown(gw_app_t *self, long grace_s);

/* Shuts down without grace if still running, then frees everything. */
void gw_app_destroy(gw_app_t **self_p);

#endif
