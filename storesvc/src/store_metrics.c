/*
 * store_metrics: storesvc's families (see store_metrics.h).
 */
#include "store_metrics.h"

#include <stdlib.h>

#define DB_STATUSES   5 /* STORE_DB_OK .. STORE_DB_NOMEM, negated */
#define BLOB_STATUSES 7 /* STORE_BLOB_OK .. STORE_BLOB_REJECTED, negated */

enum { F_DB, F_INUSE, F_CONNS, F_BLOB, F_BLOB_ERR, NF };

static const rt_metric_desc_t families[NF] = {
    [F_DB] = {"restc_store_db_query_duration_seconds",
              "PostgreSQL queries of the workers, reconnect and retry included, by status",
              RT_METRIC_HISTOGRAM,
              {"status", NULL},
              DB_STATUSES,
              rt_metrics_seconds_buckets,
              RT_METRICS_SECONDS_BUCKETS_N},
    [F_INUSE] = {"restc_store_db_connections_in_use",
                 "Worker PostgreSQL connections running a query now",
                 RT_METRIC_GAUGE,
                 {NULL},
                 1,
                 NULL,
                 0},
    [F_CONNS] = {"restc_store_db_connections",
                 "Worker PostgreSQL connections in all (STORESVC_WORKERS)",
                 RT_METRIC_GAUGE,
                 {NULL},
                 1,
                 NULL,
                 0},
    [F_BLOB] = {"restc_store_object_request_duration_seconds",
                "Requests to the object store, by backend and operation",
                RT_METRIC_HISTOGRAM,
                {"backend", "op", NULL},
                STORE_BLOB_OP__COUNT,
                rt_metrics_seconds_buckets,
                RT_METRICS_SECONDS_BUCKETS_N},
    [F_BLOB_ERR] = {"restc_store_object_request_errors_total",
                    "Requests to the object store that did not answer ok, by backend, "
                    "operation and status",
                    RT_METRIC_COUNTER,
                    {"backend", "op", "status", NULL},
                    STORE_BLOB_OP__COUNT *(BLOB_STATUSES - 1),
                    NULL,
                    0},
};

struct store_metrics {
    rt_metric_family_t *fam[NF];
    rt_metric_series_t *db[DB_STATUSES];
    rt_metric_series_t *in_use;
    rt_metric_series_t *blob[STORE_BLOB_OP__COUNT];
    rt_metric_series_t *blob_err[STORE_BLOB_OP__COUNT][BLOB_STATUSES]; /* [op][0] unused */
};

store_metrics_t *store_metrics_new(rt_metrics_t *reg, const char *backend, int connections)
{
    if (!reg || !backend)
        return NULL;
    store_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (rt_metrics_register_all(reg, families, NF, m->fam) != 0) {
        free(m);
        return NULL;
    }
    for (int s = 0; s < DB_STATUSES; s++)
        m->db[s] = RT_METRIC_SERIES(m->fam[F_DB], store_db_status_str(-s));
    m->in_use = rt_metric_series(m->fam[F_INUSE], NULL, 0);
    rt_metric_gauge_set(rt_metric_series(m->fam[F_CONNS], NULL, 0), connections);
    for (int op = 0; op < STORE_BLOB_OP__COUNT; op++) {
        const char *name = store_blob_op_name((store_blob_op_t)op);
        m->blob[op] = RT_METRIC_SERIES(m->fam[F_BLOB], backend, name);
        for (int s = 1; s < BLOB_STATUSES; s++)
            m->blob_err[op][s] =
                RT_METRIC_SERIES(m->fam[F_BLOB_ERR], backend, name, store_blob_status_str(-s));
    }
    return m;
}

void store_metrics_destroy(store_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static void db_begin(void *arg)
{
    store_metrics_t *m = arg;
    rt_metric_gauge_add(m->in_use, 1);
}

static void db_end(void *arg, int status, double seconds)
{
    store_metrics_t *m = arg;
    rt_metric_gauge_add(m->in_use, -1);
    int s = -status;
    rt_metric_observe(m->db[s >= 0 && s < DB_STATUSES ? s : -STORE_DB_ERROR], seconds);
}

store_db_hooks_t store_metrics_db_hooks(store_metrics_t *self)
{
    store_db_hooks_t h = {0};
    if (self)
        h = (store_db_hooks_t){.begin = db_begin, .end = db_end, .arg = self};
    return h;
}

void store_metrics_blob_observe(void *arg, store_blob_op_t op, int status, double seconds)
{
    store_metrics_t *m = arg;
    if (!m || op < 0 || op >= STORE_BLOB_OP__COUNT)
        return;
    rt_metric_observe(m->blob[op], seconds);
    int s = -status;
    if (status != STORE_BLOB_OK)
        rt_metric_counter_inc(m->blob_err[op][s > 0 && s < BLOB_STATUSES ? s : -STORE_BLOB_IO]);
}
