/*
 * gw_http: the HTTP/1.1 server. It owns everything HTTP: reading and
 * bounding requests (gw_h1 heads, gw_chunked bodies), request ids, the
 * route match, CORS, security headers, JSON and problem-JSON replies,
 * keep-alive and pipelining, deadlines and the access log. Handlers
 * (gw_handler.h) see none of it.
 *
 * The gateway reads every byte of a request itself, so every answer it
 * sends - refusals of a malformed head, an oversized header block or
 * target, a trickling client - is one well-formed HTTP/1.1 response with
 * problem JSON, the request id and the security headers.
 *
 * Every connection is served by one of GATEWAY_THREADS event loops, which
 * never block on a backend call (gw_coro, gw_rpc). Protected routes are
 * authorised (auth.authorize) before their handler; slow routes run their
 * handler on a bounded pool (GATEWAY_SLOW_WORKERS, GATEWAY_SLOW_QUEUE)
 * while their request waits.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include "gw_config.h"
#include "gw_metrics.h"
#include "gw_route.h"

#include <stdint.h>

#define GW_URI_MAX          8192  /* request target bytes; longer: 414 */
#define GW_HEADER_BYTES_MAX 16384 /* sum of header names and values (+4 per line); more: 431 */
/* A connection's read buffer: the longest request head it takes (request
 * line, header lines, blank line). A head that has not ended when it is
 * full is refused: 414 when the request line has not ended, else 431. */
#define GW_READ_BUF          32768
#define GW_DISCARD_MAX       (1024 * 1024) /* bytes read and dropped after a refusal, at most */
#define GW_LINGER_MS         2000          /* after a refusal, how long unread input is drained */
#define GW_FORM_OVERHEAD_MAX (64 * 1024)   /* multipart framing allowed beyond MAX_UPLOAD_BYTES */
#define GW_JSON_DEPTH_MAX    16   /* nested arrays/objects in a request body; deeper: 400 */
#define GW_LOG_PATH_MAX      512  /* path bytes in the access log */
#define GW_SWEEP_MS          250  /* how often deadlines are checked */
#define GW_IPLIMIT_SLACK     16   /* per-address table slots beyond GATEWAY_MAX_CONNECTIONS */
#define GW_INBOX_MAX         256  /* accepted connections waiting for one loop thread */
#define GW_LOOP_TICK_MS      500  /* longest sleep of a loop thread */
#define GW_CORO_PER_LOOP     4096 /* requests one loop keeps waiting on backends at once */

typedef struct {
    const gw_config_t *cfg;   /* borrowed; outlives the server */
    const gw_route_t *routes; /* borrowed; outlives the server */
    size_t nroutes;
    const gw_ctx_t *ctx; /* handed to every handler, borrowed */
    /* Handed to the handlers of slow routes instead (their own backend
     * pools, so slow calls never wait for a client of the fast ones);
     * NULL: ctx. Borrowed. */
    const gw_ctx_t *slow_ctx;
    /* The ZeroMQ context for each loop's own backend sockets (gw_rpc), so
     * that waiting for a reply never blocks a loop; NULL: handlers call
     * the pools of ctx and block their loop while they wait. Borrowed. */
    void *zctx;
} gw_http_options_t;

typedef struct gw_http gw_http_t;

/* Copies the options (not what they point to). NULL on bad options or OOM. */
gw_http_t *gw_http_new(const gw_http_options_t *opt);

/* Binds GATEWAY_BIND and starts the event loops. Returns 0 or -1 (logged). */
int gw_http_start(gw_http_t *self);

/* The bound TCP port (useful with port 0), 0 before start. */
uint16_t gw_http_port(const gw_http_t *self);

/* Stops accepting connections; replies from now on close their connection. */
void gw_http_quiesce(gw_http_t *self);

/* Requests received and not yet completed. */
int gw_http_in_flight(gw_http_t *self);

/* Where requests, refusals and bytes are counted (borrowed; NULL: not at
 * all). Before gw_http_start. */
void gw_http_set_metrics(gw_http_t *self, gw_metrics_t *metrics);

/* Render-time callbacks for gw_metrics (`arg` is the gw_http_t). */
double gw_http_metric_open_connections(void *arg);
double gw_http_metric_in_flight(void *arg);

/* Stops the daemon (closing every connection). Idempotent. */
void gw_http_stop(gw_http_t *self);

void gw_http_destroy(gw_http_t **self_p);

#endif
