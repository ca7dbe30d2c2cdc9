/*
 * gw_metrics: the gateway's Prometheus families (rt_metrics) and the
 * handles its hot paths use. Every label value comes from a fixed set - a
 * route template of the route table (or "unmatched"), its method, a status
 * class, a backend service and op name, a refusal reason - so no client can
 * add a series: 10,000 random paths are 10,000 counts of one series.
 *
 * Handles are resolved once at start (per route and status class, per
 * service and op), so recording is a relaxed atomic add; all functions
 * accept a NULL gw_metrics_t (metrics off) and do nothing.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "gw_route.h"
#include "proto_catalog.h"
#include "rt_metrics.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct gw_metrics gw_metrics_t;

/* Why an accepted connection was closed at once, or a request cut off. */
typedef enum {
    GW_REFUSED_LIMIT,    /* GATEWAY_MAX_CONNECTIONS */
    GW_REFUSED_PER_IP,   /* GATEWAY_MAX_CONNECTIONS_PER_IP */
    GW_REFUSED_INBOX,    /* the chosen loop's inbox was full */
    GW_REFUSED_DEADLINE, /* a request that did not come in in time (408) */
    GW_REFUSED__COUNT
} gw_refused_t;

/* Which backend a call went to. */
typedef enum { GW_BACKEND_AUTHSVC, GW_BACKEND_STORESVC, GW_BACKEND__COUNT } gw_backend_t;

/* Registers the gateway's families in `reg` (borrowed, outlives the
 * result) with one series set per row of `routes`. `open_conns` and
 * `in_flight` are read when the registry renders. NULL on failure. */
gw_metrics_t *gw_metrics_new(rt_metrics_t *reg, const gw_route_t *routes, size_t nroutes,
                             rt_metric_fn open_conns, rt_metric_fn in_flight, void *arg);

void gw_metrics_destroy(gw_metrics_t **self_p);

/* One request answered (or ended): `route` its row in the table, -1 when
 * no route matched. */
void gw_metrics_request(gw_metrics_t *m, int route, int status, double seconds, uint64_t bytes_in,
                        uint64_t bytes_out);

void gw_metrics_refused(gw_metrics_t *m, gw_refused_t why);

/* One backend call: `failed` when it ended unavailable or undecodable. */
void gw_metrics_backend(gw_metrics_t *m, gw_backend_t svc, proto_op_t op, bool failed,
                        double seconds);

#endif
