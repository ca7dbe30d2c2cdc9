/*
 * storesvc: all state (PostgreSQL and the object store). Reads the
 * configuration, brings the schema up to date, serves RPC until SIGTERM or
 * SIGINT, then drains gracefully. `storesvc migrate` only applies the
 * migrations and exits. Everything else lives in storesvc_lib.
 */
#include "rt_log.h"
#include "rt_metrics_server.h"
#include "rt_signal.h"
#include "store_app.h"
#include "store_config.h"
#include "store_migrate.h"

#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <zmq.h>

#define DB_WAIT_MS 30000 /* how long start-up waits for PostgreSQL */

/* A termination signal is pending (they are blocked, so it waits for us). */
static bool stop_requested(void *arg)
{
    (void)arg;
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return false;
    return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
}

static int serve(const store_config_t *cfg)
{
    int rc = 1;
    void *zctx = NULL;
    store_app_t *app = NULL;
    rt_metrics_server_t *metrics = NULL;
    char err[256];
    if (!(zctx = zmq_ctx_new()) || !(app = store_app_new(cfg, zctx)))
        goto cleanup;
    if (store_migrate_run(cfg->database_url, DB_WAIT_MS, stop_requested, NULL) != 0) {
        if (stop_requested(NULL)) {
            rt_info(NULL, "stopped before start");
            rc = 0; /* asked to stop while waiting for the database: not a failure */
        }
        goto cleanup;
    }
    if (store_app_start(app) != 0)
        goto cleanup;
    rt_log_fields(
        RT_LOG_INFO, NULL, "listening",
        json_pack("{s:s, s:i}", "endpoint", store_app_endpoint(app), "workers", (int)cfg->workers));
    if (cfg->metrics_at.enabled) {
        if (!(metrics = rt_metrics_server_new(store_app_metrics(app), &cfg->metrics_at, 0, err,
                                              sizeof err))) {
            rt_error(NULL, "%s", err);
            goto cleanup;
        }
        rt_log_fields(RT_LOG_INFO, NULL, "metrics listening",
                      json_pack("{s:i}", "port", rt_metrics_server_port(metrics)));
    }
    int sig = rt_signal_wait();
    rt_info(NULL, "signal %d received, shutting down (grace %lds)", sig, cfg->shutdown_grace_s);
    store_app_stop(app, (int)cfg->shutdown_grace_s * 1000);
    rt_info(NULL, "stopped");
    rc = 0;
cleanup:
    rt_metrics_server_destroy(&metrics);
    store_app_destroy(&app);
    if (zctx)
        zmq_ctx_term(zctx);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 1;
    store_config_t cfg = {0};
    char err[256];
    rt_log_init("storesvc", RT_LOG_INFO, NULL);
    if (rt_signal_block() != 0) {
        rt_error(NULL, "cannot block termination signals");
        return 1;
    }
    bool migrate_only = argc > 1 && strcmp(argv[1], "migrate") == 0;
    if (argc > 2 || (argc == 2 && !migrate_only)) {
        rt_error(NULL, "usage: storesvc [migrate]");
        return 2;
    }
    if (store_config_load(&cfg, NULL, NULL, err, sizeof err) != 0) {
        rt_error(NULL, "%s", err);
        goto cleanup;
    }
    rt_log_init("storesvc", cfg.log_level, NULL);
    if (migrate_only)
        rc = store_migrate_run(cfg.database_url, DB_WAIT_MS, stop_requested, NULL) == 0 ? 0 : 1;
    else
        rc = serve(&cfg);
cleanup:
    store_config_free(&cfg);
    return rc;
}
