/*
 * authsvc: identity and admission decisions. Reads the configuration,
 * serves RPC until SIGTERM or SIGINT, then drains gracefully. Everything
 * else lives in authsvc_lib.
 */
#include "auth_app.h"
#include "auth_config.h"
#include "rt_log.h"
#include "rt_metrics_server.h"
#include "rt_signal.h"

#include <zmq.h>

static int serve(const auth_config_t *cfg)
{
    int rc = 1;
    void *zctx = NULL;
    auth_app_t *app = NULL;
    rt_metrics_server_t *metrics = NULL;
    char err[256];
    if (!(zctx = zmq_ctx_new()) || !(app = auth_app_new(cfg, zctx)) || auth_app_start(app) != 0)
        goto cleanup;
    rt_log_fields(
        RT_LOG_INFO, NULL, "listening",
        json_pack("{s:s, s:i}", "endpoint", auth_app_endpoint(app), "workers", (int)cfg->workers));
    if (cfg->metrics_at.enabled) {
        if (!(metrics = rt_metrics_server_new(auth_app_metrics(app), &cfg->metrics_at, 0, err,
                                              sizeof err))) {
            rt_error(NULL, "%s", err);
            goto cleanup;
        }
        rt_log_fields(RT_LOG_INFO, NULL, "metrics listening",
                      json_pack("{s:i}", "port", rt_metrics_server_port(metrics)));
    }
    int sig = rt_signal_wait();
    rt_info(NULL, "signal %d received, shutting down (grace %lds)", sig, cfg->shutdown_grace_s);
    auth_app_stop(app, (int)cfg->shutdown_grace_s * 1000);
    rt_info(NULL, "stopped");
    rc = 0;
cleanup:
    rt_metrics_server_destroy(&metrics);
    auth_app_destroy(&app);
    if (zctx)
        zmq_ctx_term(zctx);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 1;
    auth_config_t cfg = {0};
    char err[256];
    rt_log_init("authsvc", RT_LOG_INFO, NULL);
    if (rt_signal_block() != 0) {
        rt_error(NULL, "cannot block termination signals");
        return 1;
    }
    if (argc > 1) {
        rt_error(NULL, "usage: authsvc (configuration comes from the environment)");
        return 2;
    }
    if (auth_config_load(&cfg, NULL, NULL, err, sizeof err) != 0) {
        rt_error(NULL, "%s", err);
        goto cleanup;
    }
    rt_log_init("authsvc", cfg.log_level, NULL);
    rc = serve(&cfg);
cleanup:
    auth_config_free(&cfg);
    return rc;
}
