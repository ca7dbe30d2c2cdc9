/*
 * gw_health: liveness (/healthz), readiness (/readyz) and the public health
 * report (/api/v1/health). The last two ask authsvc and storesvc for
 * sys.health in parallel, each bounded by HEALTH_TIMEOUT_MS.
 */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

#include "gw_handler.h"

#include <stdbool.h>

typedef struct {
    bool authsvc;     /* authsvc answered sys.health */
    bool storesvc;    /* storesvc answered sys.health */
    bool database;    /* storesvc reports its database ok */
    bool objectstore; /* storesvc reports its object store ok */
} gw_health_checks_t;

/* Asks both backends at once; returns when both answered or timed out. */
void gw_health_collect(const gw_ctx_t *ctx, const char *rid, bool authsvc_down,
                       gw_health_checks_t *out);

/* {"authsvc":"ok"|"down", ...} for `c`; a new reference, NULL on OOM. */
json_t *gw_health_checks_json(const gw_health_checks_t *c);

/* GET /healthz: 200 {"status":"ok"} without asking anyone. */
void gw_health_live(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* GET /readyz: 200 {"status":"ready"} or 503 {"status":"not_ready","checks":{...}}. */
void gw_health_ready(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* GET /api/v1/health: 200 or 503 {"status":"ok"|"degraded","version","checks"}. */
void gw_health_full(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* Whether a sys.ping answer says the service is ready: it answered and,
 * when it says so ("ready": false while authsvc's start-up work runs),
 * its start-up work is done. */
bool gw_health_ping_ready(proto_err_t err, const proto_reply_t *rep);

#endif
