/*
 * store_handlers: storesvc's op table and the per-worker state behind it.
 * Each proto-server worker owns one store_worker_t (one PostgreSQL
 * connection); the store_ctx_t is shared and read-only after start.
 */
#ifndef STORE_HANDLERS_H
#define STORE_HANDLERS_H

#include "store_metrics.h"
#include "proto_server.h"
#include "store_blob.h"
#include "store_config.h"
#include "store_db.h"

typedef struct {
    const store_config_t *cfg; /* borrowed */
    store_blob_t *blob;        /* borrowed; thread-safe */
    store_metrics_t *metrics;  /* borrowed; NULL with METRICS_PORT=off */
} store_ctx_t;

typedef struct {
    store_db_t *db;
} store_worker_t;

/* The handler table (static); `*n` receives its length. */
const proto_handler_t *store_handlers(size_t *n);

/* proto_server worker hooks: `svc` is a store_ctx_t. worker_init connects
 * eagerly but tolerates a database that is down (the first use retries). */
void *store_worker_init(void *svc, int index);
void store_worker_fini(void *svc, void *worker);

#endif
