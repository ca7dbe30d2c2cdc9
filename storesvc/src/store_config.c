/*
 * store_config: the storesvc configuration table. Every integer has bounds,
 * so a typo fails at start with the variable's name instead of later.
 */
#include "store_config.h"

#include <stdio.h>
#include <string.h>

#define F(field) offsetof(store_config_t, field)

static const rt_cfg_spec_t store_specs[] = {
    {"STORESVC_BIND", RT_CFG_ENDPOINT_LIST, false, "tcp://127.0.0.1:7002", 0, 1024, F(bind)},
    {"STORESVC_WORKERS", RT_CFG_INT, false, "8", 1, 64, F(workers)},
    {"STORESVC_FILE_WORKERS", RT_CFG_INT, false, "8", 1, 64, F(file_workers)},
    {"STORESVC_FILE_QUEUE", RT_CFG_INT, false, "512", 0, 65536, F(file_queue)},
    {"STORESVC_FILE_MAX_WAIT_MS", RT_CFG_INT, false, "30000", 0, 600000, F(file_max_wait_ms)},
    {"DATABASE_URL", RT_CFG_SECRET, true, NULL, 1, 4096, F(database_url)},
    {"OBJECT_STORE_URL", RT_CFG_STR, false, "file://./data/objects", 8, 4096, F(object_store_url)},
    {"DB_TIMEOUT_MS", RT_CFG_INT, false, "3000", 50, 600000, F(db_timeout_ms)},
    {"S3_ENDPOINT_URL", RT_CFG_STR, false, "", 0, 512, F(s3_endpoint_url)},
    {"S3_REGION", RT_CFG_STR, false, "us-east-1", 1, 32, F(s3_region)},
    {"S3_ACCESS_KEY_ID", RT_CFG_STR, false, "", 0, 256, F(s3_access_key_id)},
    {"S3_SECRET_ACCESS_KEY", RT_CFG_SECRET, false, "", 0, 256, F(s3_secret)},
    {"S3_TIMEOUT_MS", RT_CFG_INT, false, "10000", 100, 600000, F(s3_timeout_ms)},
    {"SWEEP_INTERVAL_SECONDS", RT_CFG_INT, false, "60", 0, 86400, F(sweep_interval_s)},
    {"UPLOAD_PENDING_MAX_SECONDS", RT_CFG_INT, false, "3600", 1, 604800, F(pending_max_s)},
    {"LOG_LEVEL", RT_CFG_STR, false, "INFO", 1, 16, F(log_level_text)},
    {"SHUTDOWN_GRACE_SECONDS", RT_CFG_INT, false, "30", 0, 3600, F(shutdown_grace_s)},
    RT_METRICS_CFG_SPEC(STORE_METRICS_PORT_DEFAULT, F(metrics_port)),
};
#define STORE_NSPECS (sizeof store_specs / sizeof store_specs[0])

const rt_cfg_spec_t *store_config_specs(size_t *n)
{
    *n = STORE_NSPECS;
    return store_specs;
}

/* file:// with something after it, or s3:// with a bucket name. The blob
 * module parses the rest; here only the shape is checked, so a bad value
 * fails at start with the variable's name. */
static int valid_object_store_url(const char *url)
{
    static const char *const schemes[] = {"file://", "s3://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t sl = strlen(schemes[i]);
        if (strncmp(url, schemes[i], sl) == 0)
            return url[sl] != '\0';
    }
    return 0;
}

int store_config_load(store_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err,
                      size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (rt_config_load(store_specs, STORE_NSPECS, cfg, getenv_fn, arg, err, errlen) != 0)
        return -1;
    if (rt_log_level_parse(cfg->log_level_text, &cfg->log_level) != 0) {
        snprintf(err, errlen, "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR");
        return -1;
    }
    if (strchr(cfg->bind, ',')) {
        snprintf(err, errlen, "STORESVC_BIND must be one endpoint");
        return -1;
    }
    if (!valid_object_store_url(cfg->object_store_url)) {
        snprintf(err, errlen,
                 "OBJECT_STORE_URL must be file:///absolute/path, file://relative/path or "
                 "s3://bucket");
        return -1;
    }
    if (strncmp(cfg->object_store_url, "s3://", 5) == 0 &&
        (!cfg->s3_access_key_id || !cfg->s3_access_key_id[0])) {
        snprintf(err, errlen, "S3_ACCESS_KEY_ID is required with an s3:// OBJECT_STORE_URL");
        return -1;
    }
    if (strncmp(cfg->object_store_url, "s3://", 5) == 0 &&
        (!cfg->s3_secret || !cfg->s3_secret[0])) {
        snprintf(err, errlen, "S3_SECRET_ACCESS_KEY is required with an s3:// OBJECT_STORE_URL");
        return -1;
    }
    return rt_metrics_listen_parse(cfg->metrics_port, &cfg->metrics_at, err, errlen);
}

store_blob_s3_opts_t store_config_s3(const store_config_t *cfg)
{
    store_blob_s3_opts_t o = {
        .endpoint_url = cfg->s3_endpoint_url,
        .region = cfg->s3_region,
        .access_key_id = cfg->s3_access_key_id,
        .secret_access_key = cfg->s3_secret,
        .timeout_ms = cfg->s3_timeout_ms,
    };
    return o;
}

void store_config_free(store_config_t *cfg)
{
    if (cfg)
        rt_config_free(store_specs, STORE_NSPECS, cfg);
}
