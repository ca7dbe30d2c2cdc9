/*
 * store_config: storesvc's environment variables as one rt_config table,
 * plus the checks rt_config cannot express on its own (the log level word,
 * the OBJECT_STORE_URL scheme). main() calls store_config_load once and logs
 * the one error line it returns. DATABASE_URL is a secret: it never appears
 * in an error message or a log line.
 */
#ifndef STORE_CONFIG_H
#define STORE_CONFIG_H

#include "rt_config.h"
#include "rt_log.h"

#include <stddef.h>

typedef struct {
    char *bind;             /* STORESVC_BIND, a ZeroMQ endpoint */
    long workers;           /* STORESVC_WORKERS: REP workers = PostgreSQL connections */
    char *database_url;     /* DATABASE_URL (secret) */
    char *object_store_url; /* OBJECT_STORE_URL: file:///abs, file://rel or s3://bucket */
    long db_timeout_ms;     /* DB_TIMEOUT_MS: client-side deadline of every query */
    char *log_level_text;   /* LOG_LEVEL */
    long shutdown_grace_s;  /* SHUTDOWN_GRACE_SECONDS */

    /* Derived by store_config_load. */
    rt_log_level_t log_level;
} store_config_t;

/* The variable table (for docs and tests); `*n` receives its length. */
const rt_cfg_spec_t *store_config_specs(size_t *n);

/* Fills `cfg` from the environment (`getenv_fn` NULL: the real one).
 * Returns 0, or -1 with `err` naming the offending variable (never a secret
 * value); call store_config_free in either case. */
int store_config_load(store_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err,
                      size_t errlen);

/* Frees the strings of `cfg`; safe to call twice. */
void store_config_free(store_config_t *cfg);

#endif
