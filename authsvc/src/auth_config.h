/*
 * auth_config: authsvc's environment variables as one rt_config table, plus
 * the checks rt_config cannot express on its own (the log level word).
 * main() calls auth_config_load once and logs the one error line it returns.
 * JWT_SECRET_KEY is a secret: it never appears in an error or a log line.
 */
#ifndef AUTH_CONFIG_H
#define AUTH_CONFIG_H

#include "rt_config.h"
#include "rt_log.h"

#include <stddef.h>

#define AUTH_CONFIG_SECRET_MIN 32 /* bytes of JWT_SECRET_KEY, at least (HS256 key) */

typedef struct {
    char *bind;               /* AUTHSVC_BIND, a ZeroMQ endpoint */
    long workers;             /* AUTHSVC_WORKERS */
    char *storesvc_endpoints; /* STORESVC_ENDPOINTS, comma-separated */
    char *jwt_secret_key;     /* JWT_SECRET_KEY (secret) */
    long rpc_timeout_ms;      /* RPC_TIMEOUT_MS: calls to storesvc */
    long health_timeout_ms;   /* HEALTH_TIMEOUT_MS: the storesvc probe of sys.health */
    char *log_level_text;     /* LOG_LEVEL */
    long shutdown_grace_s;    /* SHUTDOWN_GRACE_SECONDS */

    /* Derived by auth_config_load. */
    rt_log_level_t log_level;
} auth_config_t;

/* The variable table (for docs and tests); `*n` receives its length. */
const rt_cfg_spec_t *auth_config_specs(size_t *n);

/* Fills `cfg` from the environment (`getenv_fn` NULL: the real one).
 * Returns 0, or -1 with `err` naming the offending variable (never a secret
 * value); call auth_config_free in either case. */
int auth_config_load(auth_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err,
                     size_t errlen);

/* Frees the strings of `cfg` (wiping the secret first); safe to call twice. */
void auth_config_free(auth_config_t *cfg);

#endif
