/*
 * store_metrics: storesvc's own Prometheus families, next to the RPC
 * server families of proto_srvmetrics (ops by outcome, durations).
 *
 *   restc_store_db_query_duration_seconds{status}  store_db_exec, reconnect
 *                                                  and retry included; status
 *                                                  ok, down, timeout, error, nomem
 *   restc_store_db_connections_in_use              worker connections running
 *                                                  a query now
 *   restc_store_db_connections                     worker connections in all
 *                                                  (STORESVC_WORKERS)
 *   restc_store_object_request_duration_seconds{backend,op}
 *                                                  requests to the object store
 *                                                  (file or s3; store_blob_op_name)
 *   restc_store_object_request_errors_total{backend,op,status}
 *                                                  those that did not answer ok
 *                                                  (store_blob_status_str)
 *
 * Label values come from fixed tables; series are resolved at creation,
 * recording is relaxed atomic operations. Every function accepts a NULL
 * store_metrics_t (metrics off).
 */
#ifndef STORE_METRICS_H
#define STORE_METRICS_H

#include "rt_metrics.h"
#include "store_blob.h"
#include "store_db.h"

typedef struct store_metrics store_metrics_t;

/* Registers the families in `reg` (borrowed); `backend` is the object
 * store's kind (store_blob_kind), `connections` the number of worker
 * connections. NULL on failure. */
store_metrics_t *store_metrics_new(rt_metrics_t *reg, const char *backend, int connections);

void store_metrics_destroy(store_metrics_t **self_p);

/* The hooks to give each worker's store_db (arg: the metrics); all NULL
 * when `self` is NULL. */
store_db_hooks_t store_metrics_db_hooks(store_metrics_t *self);

/* A store_blob_observe_fn; `arg` is a store_metrics_t *. */
void store_metrics_blob_observe(void *arg, store_blob_op_t op, int status, double seconds);

#endif
