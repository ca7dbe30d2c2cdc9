/*
 * rt_metrics_server: the scrape endpoint, a tiny HTTP/1.1 listener on its
 * own thread for Prometheus. It is not a public port and shares nothing
 * with a service's own server.
 *
 * It answers GET /metrics (a query string is ignored) with the registry's
 * exposition, other paths 404, other methods 405, a malformed request line
 * 400 and a head longer than RT_METRICS_SERVER_HEAD_MAX 431, then closes:
 * one request per connection. At most RT_METRICS_SERVER_MAX_CONNS
 * connections are served at once (further ones wait in the listen
 * backlog), each within one deadline for the whole exchange, so a client
 * that sends nothing holds one slot until the deadline and no longer.
 *
 * Where it listens comes from METRICS_PORT:
 *   "9464"          127.0.0.1:9464: a bare port stays on loopback
 *   "0.0.0.0:9464"  every IPv4 address (in a container, for the scraper)
 *   "[::]:9464"     IPv6 in brackets; a host name is resolved at start
 *   "0"             an ephemeral loopback port (tests: see rt_metrics_server_port)
 *   "off"           no listener
 */
#ifndef RT_METRICS_SERVER_H
#define RT_METRICS_SERVER_H

#include "rt_config.h"
#include "rt_metrics.h"

#include <stdbool.h>
#include <stddef.h>

#define RT_METRICS_PORT_VAR          "METRICS_PORT"
#define RT_METRICS_LISTEN_MAX        262 /* longest METRICS_PORT value: "[" host "]:" port */
#define RT_METRICS_HOST_MAX          253
#define RT_METRICS_SERVER_HEAD_MAX   8192 /* request line and header fields */
#define RT_METRICS_SERVER_MAX_CONNS  4
#define RT_METRICS_SERVER_TIMEOUT_MS 5000 /* default deadline of one exchange */

/* The row of a service's rt_config table that reads METRICS_PORT as a
 * string into the char * field at `offset`, defaulting to `def` (e.g.
 * "9464" or "off"); check it with rt_metrics_listen_parse after loading. */
#define RT_METRICS_CFG_SPEC(def, offset)                                                           \
    {                                                                                              \
        RT_METRICS_PORT_VAR, RT_CFG_STR, false, (def), 1, RT_METRICS_LISTEN_MAX, (offset)          \
    }

typedef struct {
    bool enabled;                       /* false for "off" */
    char host[RT_METRICS_HOST_MAX + 1]; /* without brackets */
    int port;                           /* 0..65535, 0: ephemeral */
} rt_metrics_listen_t;

/* Parses a METRICS_PORT value (forms above). Returns 0, or -1 with `err`
 * set to a message naming METRICS_PORT. */
int rt_metrics_listen_parse(const char *text, rt_metrics_listen_t *out, char *err, size_t errlen);

typedef struct rt_metrics_server rt_metrics_server_t;

/* Binds `at` and starts the serving thread, which renders `m` (borrowed:
 * it must outlive the server) per scrape. `timeout_ms` <= 0 means
 * RT_METRICS_SERVER_TIMEOUT_MS. Returns NULL with `err` set (naming
 * METRICS_PORT and the address) when `at` is off or the address cannot
 * be bound. Start it after blocking signals, like every service thread. */
rt_metrics_server_t *rt_metrics_server_new(rt_metrics_t *m, const rt_metrics_listen_t *at,
                                           int timeout_ms, char *err, size_t errlen);

/* The bound port (the one chosen when `at->port` was 0). */
int rt_metrics_server_port(const rt_metrics_server_t *srv);

/* Stops the thread (joined: no scrape runs after this returns), closes
 * every connection and frees the server. NULL-safe; sets *self_p to NULL. */
void rt_metrics_server_destroy(rt_metrics_server_t **self_p);

#endif
