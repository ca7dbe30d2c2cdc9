/*
 * gateway: the HTTP front door. Reads the configuration, starts gw_app,
 * waits for SIGTERM/SIGINT, and shuts down gracefully. Everything else
 * lives in gateway_lib so the tests can run it in-process.
 */
#include "gw_app.h"
#include "gw_config.h"
#include "rt_log.h"
#include "rt_metrics_server.h"
#include "rt_signal.h"

#include <stdio.h>
#include <string.h>

#define LOG_FLUSH_MS 50 /* the longest an access-log line waits in the buffer */

/* "host:port" with the port actually bound (GATEWAY_BIND may ask for 0). */
static json_t *listen_fields(const gw_config_t *cfg, unsigned port)
{
    char addr[300];
    const char *colon = strrchr(cfg->bind, ':');
    snprintf(addr, sizeof addr, "%.*s:%u", (int)(colon - cfg->bind), cfg->bind, port);
    return json_pack("{s:s, s:i}", "address", addr, "port", (int)port);
}

int main(void)
{
    int rc = 1;
    gw_config_t cfg;
    gw_app_t *app = NULL;
    rt_metrics_server_t *metrics = NULL;
    char err[256];
    rt_log_init("gateway", RT_LOG_INFO, NULL);
    if (rt_signal_block() != 0) {
        rt_error(NULL, "cannot block termination signals");
        return 1;
    }
    if (gw_config_load(&cfg, NULL, NULL, err, sizeof err) != 0) {
        rt_error(NULL, "%s", err);
        goto cleanup;
    }
    rt_log_init("gateway", cfg.log_level, NULL);
    /* One access-log line per request: written in batches, not one write(2)
     * each (WARNING and ERROR lines still go out at once). */
    if (rt_log_buffer_start(LOG_FLUSH_MS) != 0)
        rt_warn(NULL, "log buffering unavailable; writing every line at once");
    if (!(app = gw_app_new(&cfg, NULL, 0)) || gw_app_start(app) != 0)
        goto cleanup;
    rt_log_fields(RT_LOG_INFO, NULL, "listening", listen_fields(&cfg, gw_app_port(app)));
    if (cfg.metrics_at.enabled) {
        if (!(metrics = rt_metrics_server_new(gw_app_metrics(app), &cfg.metrics_at, 0, err,
                                              sizeof err))) {
            rt_error(NULL, "%s", err);
            goto cleanup;
        }
        rt_log_fields(RT_LOG_INFO, NULL, "metrics listening",
                      json_pack("{s:i}", "port", rt_metrics_server_port(metrics)));
    }
    int sig = rt_signal_wait();
    rt_info(NULL, "signal %d received, shutting down (grace %lds)", sig, cfg.shutdown_grace_s);
    gw_app_shutdown(app, cfg.shutdown_grace_s);
    rt_info(NULL, "stopped");
    rc = 0;
cleanup:
    rt_metrics_server_destroy(&metrics);
    gw_app_destroy(&app);
    gw_config_free(&cfg);
    rt_log_buffer_stop();
    return rc;
}
