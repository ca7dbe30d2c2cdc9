/*
 * store_app: storesvc as one object, so main() stays thin and tests can run
 * the service in-process: the object store, the handler context and the
 * RPC server whose workers each hold a PostgreSQL connection.
 * Migrations are not part of it (store_migrate_run runs before start).
 */
#ifndef STORE_APP_H
#define STORE_APP_H

#include "rt_metrics.h"
#include "store_config.h"

typedef struct store_app store_app_t;

/* `cfg` and `zctx` (a libzmq context) are borrowed and must outlive the app.
 * Opens the object store (creating a local directory if needed), so a bad
 * OBJECT_STORE_URL fails here, before any wait for the database.
 * Returns NULL on failure (logged). */
store_app_t *store_app_new(const store_config_t *cfg, void *zctx);

/* Binds and starts serving. Returns 0, or -1 (logged). */
int store_app_start(store_app_t *self);

/* The endpoint actually bound (real port when '*' was asked), borrowed; ""
 * before start. */
const char *store_app_endpoint(const store_app_t *self);

/* The metrics registry for rt_metrics_server, NULL with METRICS_PORT=off.
 * Stop the metrics server before destroying the app. */
rt_metrics_t *store_app_metrics(store_app_t *self);

/* Stops taking requests; in-flight ones get `grace_ms` to finish. Idempotent. */
void store_app_stop(store_app_t *self, int grace_ms);

/* Stops without grace if still running, then frees everything. */
void store_app_destroy(store_app_t **self_p);

#endif
