/*
 * store_sweep: the sweeper, which removes what interrupted uploads and
 * crashes leave behind. Every SWEEP_INTERVAL_SECONDS it takes a PostgreSQL
 * advisory lock (so of several replicas one sweeps at a time; the others
 * skip that round) and removes, all older than UPLOAD_PENDING_MAX_SECONDS
 * so an upload in progress is never touched:
 *
 *   - pending file rows, with their multipart upload and any object
 *     published under their key (a complete that crashed half-way);
 *   - multipart uploads (local: upload directories) that no row names;
 *   - objects under the files' key prefix that no row names (a delete
 *     that crashed between the row and the object);
 *   - the local backend's temporary files.
 *
 * Each round handles at most STORE_SWEEP_BATCH entries of each kind; the
 * rest waits for the next round, and so does everything after the object
 * store fails once (a store that is down costs a round one timeout, not one
 * per entry). A stop request is seen between entries. What it removed is
 * logged at INFO (counts).
 */
#ifndef STORE_SWEEP_H
#define STORE_SWEEP_H

#include "store_blob.h"

#define STORE_SWEEP_BATCH 1000

typedef struct {
    int pending_rows, uploads, objects, temps;
} store_sweep_counts_t;

typedef struct store_sweep store_sweep_t;

/* `blob` is borrowed; `conninfo` copied (never logged). `interval_s` > 0. */
store_sweep_t *store_sweep_new(const char *conninfo, long db_timeout_ms, store_blob_t *blob,
                               long interval_s, long pending_max_s);

/* Starts the sweeper thread. Returns 0 or -1. */
int store_sweep_start(store_sweep_t *self);

/* One round now, on the caller's thread. Returns 0 (counts in `out`, may
 * be NULL), 1 when another replica holds the lock, -1 when the database
 * cannot be used. */
int store_sweep_run(store_sweep_t *self, store_sweep_counts_t *out);

/* Stops the thread (waiting for a round in progress) and frees. */
void store_sweep_destroy(store_sweep_t **self_p);

#endif
