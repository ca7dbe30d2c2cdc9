/*
 * store_migrate: the database schema as a static table of versioned
 * migrations compiled into storesvc (containers need no SQL files).
 *
 * Applying takes a session-level advisory lock (one fixed key), so replicas
 * starting together migrate one at a time; each migration runs in its own
 * transaction together with its row in schema_migrations, so a migration is
 * either wholly applied and recorded or not at all. Applying twice is a no-op.
 * Migrations are append-only: never edit a row that has shipped.
 */
#ifndef STORE_MIGRATE_H
#define STORE_MIGRATE_H

#include "store_db.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int version; /* strictly increasing from 1 */
    const char *name;
    const char *sql; /* one or more statements, no transaction control */
} store_migration_t;

/* The table, in order; `*n` receives its length. */
const store_migration_t *store_migrate_table(size_t *n);

/* The advisory-lock key that serialises migrations across replicas. */
#define STORE_MIGRATE_LOCK_KEY "8319396948779169379" /* "storesvc" in ASCII */

/* Each migration statement (and the wait for the lock) may take this long. */
#define STORE_MIGRATE_TIMEOUT_MS 120000

/* Applies what is missing on `db` (its own timeout bounds each statement).
 * Returns 0, or -1 (logged). `*applied` (may be NULL) receives how many
 * migrations this call applied. */
int store_migrate_apply(store_db_t *db, int *applied);

/* Returns true when the caller should stop waiting (e.g. SIGTERM pending). */
typedef bool (*store_stop_fn)(void *arg);

/* The start-up sequence: connects to `conninfo`, retrying every second for
 * up to `wait_ms` (giving up early when `stop` says so), then applies the
 * migrations. Returns 0, or -1 (logged). The URL is never logged. */
int store_migrate_run(const char *conninfo, long wait_ms, store_stop_fn stop, void *stop_arg);

#endif
