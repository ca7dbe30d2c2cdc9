/*
 * store_sweep: the sweeper thread and one sweeping round.
 *
 * The round lists candidates first (rows, or entries of the object store
 * older than the bound), then asks PostgreSQL in one statement which of
 * them no row names, then removes those. A listed object or upload that a
 * row names is never removed, and the age bound keeps the sweeper away from
 * an upload that is still being made (its upload exists a moment before
 * its row does).
 */
#include "store_sweep.h"
#include "rt_clock.h"

#include "rt_log.h"
#include "store_db.h"
#include "store_files.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The sweeper's own advisory lock (one-bigint form, unlike the migration lock's value). */
#define SWEEP_LOCK_KEY "8319395946437125232"

struct store_sweep {
    store_db_t *db;
    store_blob_t *blob;
    long interval_s, pending_max_s;
    pthread_t thread;
    bool started;
    atomic_bool stopping; /* also read by a round in progress, between entries */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

typedef struct {
    char key[STORE_BLOB_KEY_MAX + 1];
    char upload[STORE_BLOB_UPLOAD_ID_MAX + 1];
} entry_t;

typedef struct {
    entry_t *v;
    size_t n;
    int64_t before; /* only entries older than this (Unix seconds) */
} entries_t;

static int run(store_sweep_t *self, const char *sql, int n, const char *const *vals, PGresult **res)
{
    const store_query_t q = {.sql = sql, .nparams = n, .values = vals};
    return store_db_exec(self->db, &q, res);
}

/* ------------------------------------------------------ pending rows -- */

static const char sql_stale[] =
    "SELECT id, storage_key, coalesce(upload_id, '') FROM files"
    " WHERE status = 'pending' AND created_at < now() - $1::bigint * interval '1 second'"
    " ORDER BY created_at LIMIT 1000";

static const char sql_drop[] = "DELETE FROM files WHERE id = $1::uuid AND status = 'pending'";

/* Removes one stale upload's traces from the store; 0 when it is clean. */
static int clean_upload(store_blob_t *blob, const char *key, const char *upload)
{
    int rc = upload[0] ? store_blob_mp_abort(blob, key, upload) : STORE_BLOB_OK;
    if (rc == STORE_BLOB_OK || rc == STORE_BLOB_NOT_FOUND)
        rc = store_blob_delete(blob, key); /* published by a complete that died */
    return rc == STORE_BLOB_OK || rc == STORE_BLOB_NOT_FOUND ? 0 : -1;
}

static int sweep_pending(store_sweep_t *self, int *count)
{
    char age[24];
    snprintf(age, sizeof age, "%ld", self->pending_max_s);
    const char *vals[] = {age};
    PGresult *res = NULL;
    if (run(self, sql_stale, 1, vals, &res) != STORE_DB_OK)
        return -1;
    for (int i = 0; i < PQntuples(res) && !atomic_load(&self->stopping); i++) {
        if (clean_upload(self->blob, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2)) != 0)
            break; /* the store is down: the rest waits for the next round */
        const char *id[] = {PQgetvalue(res, i, 0)};
        PGresult *del = NULL;
        if (run(self, sql_drop, 1, id, &del) == STORE_DB_OK && atoi(PQcmdTuples(del)) > 0)
            (*count)++;
        PQclear(del);
    }
    PQclear(res);
    return 0;
}

/* ---------------------------------------------- orphans in the store -- */

static int collect(void *arg, const char *key, const char *upload, int64_t mtime_s)
{
    entries_t *e = arg;
    if (mtime_s >= e->before)
        return 0;
    if (e->n >= STORE_SWEEP_BATCH)
        return 1;
    entry_t *x = &e->v[e->n++];
    /* A local upload whose key could not be read: any key under the prefix
     * reaches it (the local backend finds uploads by id). */
    snprintf(x->key, sizeof x->key, "%s", key && key[0] ? key : STORE_FILES_KEY_PREFIX "lost");
    snprintf(x->upload, sizeof x->upload, "%s", upload ? upload : "");
    return 0;
}

/* A PostgreSQL text[] literal of the entries' keys or upload ids, quoted
 * and escaped (the values are printable ASCII: store_blob checks them). */
static char *array_literal(const entries_t *e, bool uploads)
{
    size_t cap = 3 + e->n * (2 * (STORE_BLOB_UPLOAD_ID_MAX + 1) + 3), o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[o++] = '{';
    for (size_t i = 0; i < e->n; i++) {
        const char *s = uploads ? e->v[i].upload : e->v[i].key;
        if (i)
            out[o++] = ',';
        out[o++] = '"';
        for (; *s; s++) {
            if (*s == '"' || *s == '\\')
                out[o++] = '\\';
            out[o++] = *s;
        }
        out[o++] = '"';
    }
    out[o++] = '}';
    out[o] = '\0';
    return out;
}

static const char sql_free_objects[] =
    "SELECT k FROM unnest($1::text[]) AS k"
    " WHERE NOT EXISTS (SELECT 1 FROM files WHERE storage_key = k)";
static const char sql_free_uploads[] =
    "SELECT u FROM unnest($1::text[]) AS u"
    " WHERE NOT EXISTS (SELECT 1 FROM files WHERE upload_id = u)";

/* Removes the listed entries that no row names. */
static int remove_unnamed(store_sweep_t *self, const entries_t *e, bool uploads, int *count)
{
    if (e->n == 0)
        return 0;
    char *lit = array_literal(e, uploads);
    PGresult *res = NULL;
    const char *vals[] = {lit};
    int rc = lit ? run(self, uploads ? sql_free_uploads : sql_free_objects, 1, vals, &res) : -1;
    free(lit);
    if (rc != STORE_DB_OK)
        return -1;
    bool down = false;
    for (int i = 0; i < PQntuples(res) && !down && !atomic_load(&self->stopping); i++) {
        const char *name = PQgetvalue(res, i, 0);
        for (size_t j = 0; j < e->n; j++) {
            const entry_t *x = &e->v[j];
            if (strcmp(uploads ? x->upload : x->key, name) != 0)
                continue;
            int st = uploads ? store_blob_mp_abort(self->blob, x->key, x->upload)
                             : store_blob_delete(self->blob, x->key);
            if (st == STORE_BLOB_OK)
                (*count)++;
            down = st == STORE_BLOB_IO; /* the store is down: next round */
            break;
        }
    }
    PQclear(res);
    return 0;
}

static int sweep_store(store_sweep_t *self, bool uploads, int *count)
{
    entries_t e = {.v = calloc(STORE_SWEEP_BATCH, sizeof(entry_t)),
                   .before = (int64_t)time(NULL) - self->pending_max_s};
    if (!e.v)
        return -1;
    int rc = uploads ? store_blob_list_uploads(self->blob, STORE_FILES_KEY_PREFIX,
                                               STORE_SWEEP_BATCH * 4, collect, &e)
                     : store_blob_list_objects(self->blob, STORE_FILES_KEY_PREFIX,
                                               STORE_SWEEP_BATCH * 4, collect, &e);
    /* A listing cut short by a store failure still yields what it saw. */
    int out = remove_unnamed(self, &e, uploads, count);
    free(e.v);
    return rc == STORE_BLOB_OK ? out : -1;
}

/* ------------------------------------------------------------ a round -- */

int store_sweep_run(store_sweep_t *self, store_sweep_counts_t *out)
{
    store_sweep_counts_t c = {0};
    const char *key[] = {SWEEP_LOCK_KEY};
    PGresult *res = NULL;
    if (!self || run(self, "SELECT pg_try_advisory_lock($1::bigint)", 1, key, &res) != STORE_DB_OK)
        return -1;
    bool locked = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!locked)
        return 1;
    int fails = 0;
    fails += sweep_pending(self, &c.pending_rows) != 0;
    if (!atomic_load(&self->stopping))
        fails += sweep_store(self, true, &c.uploads) != 0;
    if (!atomic_load(&self->stopping))
        fails += sweep_store(self, false, &c.objects) != 0;
    int64_t before = (int64_t)time(NULL) - self->pending_max_s;
    fails += store_blob_sweep_temps(self->blob, before, &c.temps) != STORE_BLOB_OK;
    (void)run(self, "SELECT pg_advisory_unlock($1::bigint)", 1, key, NULL);
    bool any = c.pending_rows || c.uploads || c.objects || c.temps;
    rt_log_fields(any ? RT_LOG_INFO : RT_LOG_DEBUG, NULL, "sweep done",
                  json_pack("{s:i, s:i, s:i, s:i, s:i}", "pending_rows", c.pending_rows, "uploads",
                            c.uploads, "objects", c.objects, "temps", c.temps, "failed_steps",
                            fails));
    if (out)
        *out = c;
    return 0;
}

/* ------------------------------------------------------------ thread -- */

static void *sweep_main(void *arg)
{
    store_sweep_t *self = arg;
    pthread_mutex_lock(&self->mu);
    while (!atomic_load(&self->stopping)) {
        struct timespec until = rt_clock_in(self->interval_s * 1000L);
        while (!atomic_load(&self->stopping) &&
               pthread_cond_timedwait(&self->cv, &self->mu, &until) == 0)
            ; /* woken early without a stop: keep waiting */
        if (atomic_load(&self->stopping))
            break;
        pthread_mutex_unlock(&self->mu);
        (void)store_sweep_run(self, NULL);
        pthread_mutex_lock(&self->mu);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

store_sweep_t *store_sweep_new(const char *conninfo, long db_timeout_ms, store_blob_t *blob,
                               long interval_s, long pending_max_s)
{
    if (!blob || interval_s <= 0 || pending_max_s <= 0)
        return NULL;
    store_sweep_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int cv_rc = pthread_cond_init(&self->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (cv_rc != 0 || pthread_mutex_init(&self->mu, NULL) != 0 ||
        !(self->db = store_db_new(conninfo, db_timeout_ms, "sweeper"))) {
        if (cv_rc == 0)
            pthread_cond_destroy(&self->cv);
        free(self);
        return NULL;
    }
    atomic_init(&self->stopping, false);
    self->blob = blob;
    self->interval_s = interval_s;
    self->pending_max_s = pending_max_s;
    return self;
}

int store_sweep_start(store_sweep_t *self)
{
    if (!self || self->started)
        return -1;
    if (pthread_create(&self->thread, NULL, sweep_main, self) != 0)
        return -1;
    self->started = true;
    return 0;
}

void store_sweep_destroy(store_sweep_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_sweep_t *self = *self_p;
    if (self->started) {
        pthread_mutex_lock(&self->mu);
        atomic_store(&self->stopping, true);
        pthread_cond_broadcast(&self->cv);
        pthread_mutex_unlock(&self->mu);
        pthread_join(self->thread, NULL);
    }
    store_db_destroy(&self->db);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}
