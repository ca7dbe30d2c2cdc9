/*
 * gw_config: the gateway's environment variables as one rt_config table,
 * plus the checks rt_config cannot express on its own (the log level word,
 * the CORS origin list, resolving GATEWAY_BIND to a socket address).
 * main() calls gw_config_load once and logs the one error line it returns.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include "gw_clientip.h"
#include "rt_config.h"
#include "rt_log.h"
#include "rt_metrics_server.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define GW_CORS_ORIGINS_MAX 32 /* entries of CORS_ORIGINS */
/* /metrics on loopback; authsvc and storesvc default to the next two ports,
 * so the three share one host (deploy/run.sh) without settings. */
#define GW_METRICS_PORT_DEFAULT "9464"
/* Media types an upload may have unless UPLOAD_ALLOWED_TYPES says otherwise:
 * none that a browser renders or runs (HTML, SVG, XML, JavaScript). */
#define GW_UPLOAD_TYPES_DEFAULT                                                                    \
    "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,text/csv,"               \
    "application/json,application/zip,application/gzip,application/octet-stream"

typedef struct {
    char *bind;               /* GATEWAY_BIND "host:port" */
    char *authsvc_endpoints;  /* AUTHSVC_ENDPOINTS */
    char *storesvc_endpoints; /* STORESVC_ENDPOINTS */
    long threads;             /* GATEWAY_THREADS: event-loop threads */
    long max_connections;     /* GATEWAY_MAX_CONNECTIONS */
    long max_connections_per_ip;
    long connection_timeout_s; /* inactivity timeout */
    long request_timeout_s;    /* absolute deadline to receive a whole request */
    long rpc_timeout_ms;
    long health_timeout_ms;
    long max_json_bytes;
    long max_upload_bytes;      /* MAX_UPLOAD_BYTES: largest file */
    long file_timeout_ms;       /* GATEWAY_FILE_TIMEOUT_MS: storesvc calls that move file bytes */
    long readahead_mib;         /* GATEWAY_DOWNLOAD_READAHEAD_MIB: read-ahead of all downloads */
    char *upload_allowed_types; /* UPLOAD_ALLOWED_TYPES: comma-separated media types */
    char *cors_origins;         /* comma-separated, "" = none */
    bool hsts_enabled;
    char *log_level_text;
    long shutdown_grace_s;
    bool cookie_secure;      /* COOKIE_SECURE: the refresh-token cookie gets Secure */
    char *trusted_proxy_ips; /* LOGIN_TRUSTED_PROXY_IPS, comma-separated IPs/CIDRs */
    long slow_workers;       /* GATEWAY_SLOW_WORKERS: threads running slow routes */
    long slow_queue;         /* GATEWAY_SLOW_QUEUE: slow requests waiting for one */
    long slow_max_wait_ms;   /* GATEWAY_SLOW_MAX_WAIT_MS: longest wait in that queue */
    char *metrics_port;      /* METRICS_PORT: where /metrics is served (rt_metrics_server.h) */
    bool docs_enabled;       /* DOCS_ENABLED: /api/v1/openapi.json (and the page) are served */
    char *docs_ui_dir;       /* DOCS_UI_DIR: swagger-ui-dist's files for /api/v1/docs; "": none */

    /* Derived by gw_config_load. */
    rt_log_level_t log_level;
    struct sockaddr_storage bind_addr;
    socklen_t bind_addrlen;
    gw_trusted_t *trusted; /* parsed LOGIN_TRUSTED_PROXY_IPS (owned, never NULL after load) */
    rt_metrics_listen_t metrics_at; /* parsed METRICS_PORT */
} gw_config_t;

/* The variable table (for docs and tests); `*n` receives its length. */
const rt_cfg_spec_t *gw_config_specs(size_t *n);

/* Fills `cfg` from the environment (`getenv_fn` NULL: the real one).
 * Returns 0, or -1 with `err` naming the offending variable; call
 * gw_config_free in either case. */
int gw_config_load(gw_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err, size_t errlen);

/* Frees the strings of `cfg`; safe to call twice. */
void gw_config_free(gw_config_t *cfg);

/* Splits a CORS_ORIGINS value. Returns the number of origins (0..max)
 * written into `out` as heap strings (caller frees each), or -1 when an
 * entry is not "http(s)://host[:port]" or there are more than `max`. */
int gw_config_split_origins(const char *text, char **out, size_t max);

#endif
