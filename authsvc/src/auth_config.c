/*
 * auth_config: the authsvc configuration table. Every integer has bounds,
 * so a typo fails at start with the variable's name instead of later.
 */
#include "auth_config.h"

#include <stdio.h>
#include <string.h>

#define F(field) offsetof(auth_config_t, field)

static const rt_cfg_spec_t auth_specs[] = {
    {"AUTHSVC_BIND", RT_CFG_ENDPOINT_LIST, false, "tcp://127.0.0.1:7001", 0, 1024, F(bind)},
    {"AUTHSVC_WORKERS", RT_CFG_INT, false, "4", 1, 64, F(workers)},
    {"STORESVC_ENDPOINTS", RT_CFG_ENDPOINT_LIST, false, "tcp://127.0.0.1:7002", 0, 4096,
     F(storesvc_endpoints)},
    {"JWT_SECRET_KEY", RT_CFG_SECRET, true, NULL, AUTH_CONFIG_SECRET_MIN, 4096, F(jwt_secret_key)},
    {"RPC_TIMEOUT_MS", RT_CFG_INT, false, "5000", 10, 600000, F(rpc_timeout_ms)},
    {"HEALTH_TIMEOUT_MS", RT_CFG_INT, false, "1000", 10, 60000, F(health_timeout_ms)},
    {"LOG_LEVEL", RT_CFG_STR, false, "INFO", 1, 16, F(log_level_text)},
    {"SHUTDOWN_GRACE_SECONDS", RT_CFG_INT, false, "30", 0, 3600, F(shutdown_grace_s)},
};
#define AUTH_NSPECS (sizeof auth_specs / sizeof auth_specs[0])

const rt_cfg_spec_t *auth_config_specs(size_t *n)
{
    *n = AUTH_NSPECS;
    return auth_specs;
}

int auth_config_load(auth_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err,
                     size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (rt_config_load(auth_specs, AUTH_NSPECS, cfg, getenv_fn, arg, err, errlen) != 0)
        return -1;
    if (rt_log_level_parse(cfg->log_level_text, &cfg->log_level) != 0) {
        snprintf(err, errlen, "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR");
        return -1;
    }
    if (strchr(cfg->bind, ',')) {
        snprintf(err, errlen, "AUTHSVC_BIND must be one endpoint");
        return -1;
    }
    return 0;
}

void auth_config_free(auth_config_t *cfg)
{
    if (!cfg)
        return;
    if (cfg->jwt_secret_key)
        explicit_bzero(cfg->jwt_secret_key, strlen(cfg->jwt_secret_key));
    rt_config_free(auth_specs, AUTH_NSPECS, cfg);
}
