/*
 * auth_app: authsvc as one object, so main() stays thin and tests can run
 * the service in-process: the RPC pool to storesvc, the handler context and
 * the RPC server.
 */
#ifndef AUTH_APP_H
#define AUTH_APP_H

#include "auth_config.h"
#include "rt_metrics.h"

typedef struct auth_app auth_app_t;

/* `cfg` and `zctx` (a libzmq context) are borrowed and must outlive the app.
 * Returns NULL on failure (logged). */
auth_app_t *auth_app_new(const auth_config_t *cfg, void *zctx);

/* Binds and starts serving. Returns 0, or -1 (logged). */
int auth_app_start(auth_app_t *self);

/* The endpoint actually bound (real port when '*' was asked), borrowed; ""
 * before start. */
const char *auth_app_endpoint(const auth_app_t *self);

/* The metrics registry for rt_metrics_server, NULL with METRICS_PORT=off.
 * Stop the metrics server before destroying the app. */
rt_metrics_t *auth_app_metrics(auth_app_t *self);

/* Stops taking requests; in-flight ones get `grace_ms` to finish. Idempotent. */
void auth_app_stop(auth_app_t *self, int grace_ms);

/* Stops without grace if still running, then frees everything. */
void auth_app_destroy(auth_app_t **self_p);

#endif
