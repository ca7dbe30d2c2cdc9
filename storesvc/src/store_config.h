/*
 * store_config: storesvc's environment variables as one rt_config table,
 * plus the checks rt_config cannot express on its own (the log level word,
 * the OBJECT_STORE_URL scheme, the S3 credentials s3:// needs). main() calls
 * store_config_load once and logs the one error line it returns.
 * DATABASE_URL and S3_SECRET_ACCESS_KEY are secrets: they never appear in
 * an error message or a log line.
 */
#ifndef STORE_CONFIG_H
#define STORE_CONFIG_H

#include "rt_config.h"
#include "rt_log.h"
#include "rt_metrics_server.h"
#include "store_blob.h"

#include <stddef.h>

/* /metrics on loopback, after the gateway's 9464 and authsvc's 9465 (rt_metrics_server.h). */
#define STORE_METRICS_PORT_DEFAULT "9466"

typedef struct {
    char *bind;             /* STORESVC_BIND, a ZeroMQ endpoint */
    long workers;           /* STORESVC_WORKERS: REP workers = PostgreSQL connections */
    long file_workers;      /* STORESVC_FILE_WORKERS: more, only for the file transfer ops */
    long file_queue;        /* STORESVC_FILE_QUEUE: transfers waiting for a file worker */
    long file_max_wait_ms;  /* STORESVC_FILE_MAX_WAIT_MS: a longer wait is answered unavailable */
    char *database_url;     /* DATABASE_URL (secret) */
    char *object_store_url; /* OBJECT_STORE_URL: file:///abs, file://rel or s3://bucket */
    char *s3_endpoint_url;  /* S3_ENDPOINT_URL: http(s)://host[:port]; empty: AWS */
    char *s3_region;        /* S3_REGION */
    char *s3_access_key_id; /* S3_ACCESS_KEY_ID */
    char *s3_secret;        /* S3_SECRET_ACCESS_KEY (secret) */
    long s3_timeout_ms;     /* S3_TIMEOUT_MS: total bound of one S3 request */
    long sweep_interval_s;  /* SWEEP_INTERVAL_SECONDS: 0 turns the sweeper off */
    long pending_max_s;     /* UPLOAD_PENDING_MAX_SECONDS: age of an abandoned upload */
    long db_timeout_ms;     /* DB_TIMEOUT_MS: client-side deadline of every query */
    char *log_level_text;   /* LOG_LEVEL */
    long shutdown_grace_s;  /* SHUTDOWN_GRACE_SECONDS */
    char *metrics_port;     /* METRICS_PORT: where /metrics is served (rt_metrics_server.h) */

    /* Derived by store_config_load. */
    rt_log_level_t log_level;
    rt_metrics_listen_t metrics_at; /* parsed METRICS_PORT */
} store_config_t;

/* The variable table (for docs and tests); `*n` receives its length. */
const rt_cfg_spec_t *store_config_specs(size_t *n);

/* Fills `cfg` from the environment (`getenv_fn` NULL: the real one).
 * Returns 0, or -1 with `err` naming the offending variable (never a secret
 * value); call store_config_free in either case. */
int store_config_load(store_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err,
                      size_t errlen);

/* The S3 settings of `cfg` for store_blob_open (strings borrowed from it). */
store_blob_s3_opts_t store_config_s3(const store_config_t *cfg);

/* Frees the strings of `cfg`; safe to call twice. */
void store_config_free(store_config_t *cfg);

#endif
