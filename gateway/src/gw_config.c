/*
 * gw_config: the gateway's configuration table. Every integer has bounds so
 * a typo (GATEWAY_THREADS=4000) fails at start instead of at 3 a.m.
 */
#include "gw_config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define F(field) offsetof(gw_config_t, field)

static const rt_cfg_spec_t gw_specs[] = {
    {"GATEWAY_BIND", RT_CFG_HOSTPORT, false, "127.0.0.1:8000", 0, 0, F(bind)},
    {"AUTHSVC_ENDPOINTS", RT_CFG_ENDPOINT_LIST, false, "tcp://127.0.0.1:7001", 0, 4096,
     F(authsvc_endpoints)},
    {"STORESVC_ENDPOINTS", RT_CFG_ENDPOINT_LIST, false, "tcp://127.0.0.1:7002", 0, 4096,
     F(storesvc_endpoints)},
    {"GATEWAY_THREADS", RT_CFG_INT, false, "2", 1, 256, F(threads)},
    {"GATEWAY_MAX_CONNECTIONS", RT_CFG_INT, false, "1024", 1, 65536, F(max_connections)},
    {"GATEWAY_MAX_CONNECTIONS_PER_IP", RT_CFG_INT, false, "128", 1, 65536,
     F(max_connections_per_ip)},
    {"GATEWAY_CONNECTION_TIMEOUT_SECONDS", RT_CFG_INT, false, "30", 1, 3600,
     F(connection_timeout_s)},
    {"GATEWAY_REQUEST_TIMEOUT_SECONDS", RT_CFG_INT, false, "60", 1, 3600, F(request_timeout_s)},
    {"RPC_TIMEOUT_MS", RT_CFG_INT, false, "5000", 10, 600000, F(rpc_timeout_ms)},
    {"HEALTH_TIMEOUT_MS", RT_CFG_INT, false, "1000", 10, 60000, F(health_timeout_ms)},
    {"MAX_JSON_BYTES", RT_CFG_INT, false, "65536", 2, 16777216, F(max_json_bytes)},
    /* At most PROTO_FILE_PARTS_MAX parts of GW_UPLOAD_PART_BYTES (48 GiB). */
    {"MAX_UPLOAD_BYTES", RT_CFG_INT, false, "52428800", 1, 52428800000L, F(max_upload_bytes)},
    {"UPLOAD_ALLOWED_TYPES", RT_CFG_STR, false, GW_UPLOAD_TYPES_DEFAULT, 0, 4096,
     F(upload_allowed_types)},
    /* Longer than storesvc's S3_TIMEOUT_MS (10 s), so a slow object store is
     * answered unavailable by storesvc rather than timed out here. */
    {"GATEWAY_FILE_TIMEOUT_MS", RT_CFG_INT, false, "30000", 100, 600000, F(file_timeout_ms)},
    {"GATEWAY_DOWNLOAD_READAHEAD_MIB", RT_CFG_INT, false, "256", 0, 1048576, F(readahead_mib)},
    {"CORS_ORIGINS", RT_CFG_STR, false, "", 0, 4096, F(cors_origins)},
    {"HSTS_ENABLED", RT_CFG_BOOL, false, "false", 0, 0, F(hsts_enabled)},
    {"LOG_LEVEL", RT_CFG_STR, false, "INFO", 1, 16, F(log_level_text)},
    {"SHUTDOWN_GRACE_SECONDS", RT_CFG_INT, false, "30", 0, 3600, F(shutdown_grace_s)},
    {"COOKIE_SECURE", RT_CFG_BOOL, false, "true", 0, 0, F(cookie_secure)},
    {"LOGIN_TRUSTED_PROXY_IPS", RT_CFG_STR, false, "", 0, GW_TRUSTED_MAX_CSV, F(trusted_proxy_ips)},
    {"GATEWAY_SLOW_WORKERS", RT_CFG_INT, false, "16", 1, 1024, F(slow_workers)},
    {"GATEWAY_SLOW_QUEUE", RT_CFG_INT, false, "256", 0, 65536, F(slow_queue)},
    {"GATEWAY_SLOW_MAX_WAIT_MS", RT_CFG_INT, false, "5000", 0, 600000, F(slow_max_wait_ms)},
    RT_METRICS_CFG_SPEC(GW_METRICS_PORT_DEFAULT, F(metrics_port)),
    {"DOCS_ENABLED", RT_CFG_BOOL, false, "false", 0, 0, F(docs_enabled)},
    {"DOCS_UI_DIR", RT_CFG_STR, false, "", 0, 4096, F(docs_ui_dir)},
};
#define GW_NSPECS (sizeof gw_specs / sizeof gw_specs[0])

const rt_cfg_spec_t *gw_config_specs(size_t *n)
{
    *n = GW_NSPECS;
    return gw_specs;
}

/* "http(s)://host[:port]": no path, no wildcard, no whitespace. */
static int valid_origin(const char *o, size_t len)
{
    static const char *const schemes[] = {"http://", "https://"};
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(schemes[i]);
        if (len <= sl || strncasecmp(o, schemes[i], sl) != 0)
            continue;
        for (size_t j = sl; j < len; j++) {
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]",
                        o[j]))
                return 0;
        }
        return 1;
    }
    return 0;
}

static void free_origins(char **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(out[i]);
        out[i] = NULL;
    }
}

int gw_config_split_origins(const char *text, char **out, size_t max)
{
    size_t n = 0;
    const char *p = text ? text : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > p) {
            if (n == max || !valid_origin(p, (size_t)(e - p)) || !(out[n] = strndup(p, e - p)))
                goto fail;
            n++;
        }
        p = comma ? comma + 1 : end;
    }
    return (int)n;
fail:
    free_origins(out, n);
    return -1;
}

/* Resolves GATEWAY_BIND; "[::1]:8000" and "0.0.0.0:8000" both work. */
static int resolve_bind(gw_config_t *cfg)
{
    char host[256];
    const char *colon = strrchr(cfg->bind, ':');
    size_t hl = (size_t)(colon - cfg->bind);
    const char *h = cfg->bind;
    int numeric = 0;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* an IPv6 literal */
        h++;
        hl -= 2;
        numeric = AI_NUMERICHOST;
    }
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV | numeric};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return -1;
    memcpy(&cfg->bind_addr, res->ai_addr, res->ai_addrlen);
    cfg->bind_addrlen = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Checks that rt_config's table cannot express. */
static int load_derived(gw_config_t *cfg, char *err, size_t errlen)
{
    if (rt_log_level_parse(cfg->log_level_text, &cfg->log_level) != 0) {
        snprintf(err, errlen, "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR");
        return -1;
    }
    char *origins[GW_CORS_ORIGINS_MAX];
    int n = gw_config_split_origins(cfg->cors_origins, origins, GW_CORS_ORIGINS_MAX);
    if (n < 0) {
        snprintf(err, errlen,
                 "CORS_ORIGINS must be a comma-separated list of at most %d origins "
                 "like https://app.example.com",
                 GW_CORS_ORIGINS_MAX);
        return -1;
    }
    free_origins(origins, (size_t)n);
    char why[160];
    if (!(cfg->trusted = gw_trusted_new(cfg->trusted_proxy_ips, why, sizeof why))) {
        snprintf(err, errlen,
                 "LOGIN_TRUSTED_PROXY_IPS must be a comma-separated list of IP addresses or "
                 "CIDR blocks: %s",
                 why);
        return -1;
    }
    if (resolve_bind(cfg) != 0) {
        snprintf(err, errlen, "GATEWAY_BIND must be an address this host can bind, as host:port");
        return -1;
    }
    return rt_metrics_listen_parse(cfg->metrics_port, &cfg->metrics_at, err, errlen);
}

int gw_config_load(gw_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (rt_config_load(gw_specs, GW_NSPECS, cfg, getenv_fn, arg, err, errlen) != 0)
        return -1;
    return load_derived(cfg, err, errlen);
}

void gw_config_free(gw_config_t *cfg)
{
    if (!cfg)
        return;
    rt_config_free(gw_specs, GW_NSPECS, cfg);
    gw_trusted_destroy(&cfg->trusted);
}
