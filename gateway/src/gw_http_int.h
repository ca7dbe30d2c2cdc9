/*
 * gw_http_int: what the parts of gw_http share (private to gw_http*.c):
 * the shard, connection and request structures and the functions one part
 * calls in another. The parts, along the server's seams:
 *
 *   gw_http.c          request contexts, the work of a request, bodies,
 *                      connections and their state machine, accepting, the
 *                      event loops, life cycle
 *   gw_http_respond.c  response heads: security headers, CORS, keep-alive,
 *                      problem and reply responses
 *   gw_http_check.c    the request head's fields, the prechecks, the JSON body
 *   gw_http_stream.c   streamed bodies and responses (gw_stream.h)
 */
#ifndef GW_HTTP_INT_H
#define GW_HTTP_INT_H

#include "gw_http.h"
#include "rt_clock.h"
#include "gw_access.h"
#include "gw_accept.h"
#include "gw_api.h"
#include "gw_chunked.h"
#include "gw_clientip.h"
#include "gw_cookie.h"
#include "gw_coro.h"
#include "gw_h1.h"
#include "gw_headers.h"
#include "gw_iplimit.h"
#include "gw_multipart.h"
#include "gw_origin.h"
#include "gw_out.h"
#include "gw_problem.h"
#include "gw_rpc.h"
#include "gw_slow.h"
#include "rt_log.h"
#include "rt_uuid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define EVENTS_MAX 128 /* epoll events taken per loop turn */

typedef struct gw_conn gw_conn_t;
typedef struct gw_req gw_req_t;
typedef struct gw_shard gw_shard_t;

/* A connection accepted by gw_accept, waiting for its shard's loop. */
typedef struct {
    int fd;
    struct sockaddr_storage addr;
    socklen_t len;
} gw_handoff_t;

/* One event loop: its connections, its backend sockets, its inboxes. */
struct gw_shard {
    gw_http_t *http;
    atomic_int conns; /* counted when handed over, uncounted when closed */
    gw_rpc_t *rpc;    /* NULL: backend calls block the loop (no ZeroMQ context given) */
    pthread_t thread;
    bool thread_started;
    atomic_bool quit;
    int wake_fd; /* eventfd: the inbox or the done list has something, or quit was set */
    int epfd;
    pthread_mutex_t mu;
    gw_handoff_t inbox[GW_INBOX_MAX]; /* guarded by mu */
    size_t ninbox;
    gw_req_t *done; /* slow requests finished by the pool; guarded by mu */
    /* Loop thread only: */
    gw_conn_t *all;   /* every open connection */
    gw_conn_t *ready; /* connections whose request finished its work */
    uint64_t next_sweep_ns;
    time_t date_s;
    char date[40]; /* the Date header value for date_s */
};

struct gw_http {
    gw_http_options_t opt;
    gw_shard_t *shards; /* GATEWAY_THREADS of them, all running while started */
    size_t nshards;
    size_t ninit;           /* shards whose wake_fd and mutex exist */
    atomic_uint next_shard; /* where the least-loaded search starts: ties rotate */
    gw_iplimit_t *iplimit;  /* GATEWAY_MAX_CONNECTIONS_PER_IP over all shards */
    gw_slow_t *slow;        /* runs the handlers of slow routes */
    gw_accept_t *acceptor;  /* owns the listening socket */
    char *origins[GW_CORS_ORIGINS_MAX];
    size_t norigins;
    atomic_int in_flight;
    gw_metrics_t *metrics; /* borrowed; NULL: none */
    atomic_bool stopping;
    atomic_bool running;
    uint16_t port;
};

/* What the prechecks learn from the request header fields in one pass.
 * Pointers borrow from the request's copy of its head. */
typedef struct {
    int cl_count, te_count, host_count, authz_count, apikey_count;
    bool cl_bad, cl_huge, te_chunked, expect_continue, conn_close, conn_keep_alive;
    unsigned long long content_length;
    const char *content_type, *origin, *acr_method, *authorization, *user_agent, *host, *fetch_site,
        *range, *if_none_match, *api_key;
} gw_hdrs_t;

/* Everything a handler reads, owned by the request context, so that it may
 * run on a slow-pool thread while the loop goes on. */
typedef struct {
    gw_request_t req;
    gw_reply_t reply;
    gw_principal_t principal;
    json_t *body;
    char *path, *bearer, *user_agent, *cookies;
    int out;             /* OUT_*: how the work before the answer ended */
    proto_err_t out_err; /* OUT_PROBLEM: the problem, its detail and errors */
    const char *out_detail;
    json_t *out_errors;
} gw_job_t;

/* Where a slow request is; only the pool thread moves RUNNING to DONE. */
enum { SLOW_NONE, SLOW_RUNNING, SLOW_DONE };

/* Where the work before the answer is (loop thread only). */
enum { FAST_NONE, FAST_RUNNING, FAST_DONE };

/* How the work ended: the reply in job.reply, a problem (job.out_*), or a
 * slow route whose handler goes to the slow pool. */
enum { OUT_REPLY, OUT_PROBLEM, OUT_SLOW };

struct gw_req {
    gw_http_t *http;
    gw_conn_t *conn;
    gw_req_t *done_next; /* on the shard's done list */
    uint64_t start_ns;
    char rid[RT_UUID_BUF];
    char client_ip[GW_IP_MAX];      /* resolved through LOGIN_TRUSTED_PROXY_IPS */
    char method[16];                /* for the log, sanitised */
    char path[GW_LOG_PATH_MAX + 1]; /* for the log, sanitised, no query */
    const char *verb, *url;         /* the parsed request line, in raw */
    int minor;
    bool head_only;   /* HEAD: the response goes without its body */
    bool preflight;   /* OPTIONS on a known path */
    bool close_after; /* the connection cannot carry another request */
    bool timed_out;
    int status; /* of the response queued, 0 before */
    gw_hdrs_t hdrs;
    gw_match_result_t mres;
    gw_match_t match;
    proto_err_t pending; /* error decided before the handler; PROTO_OK if none */
    const char *pending_detail;
    char *query; /* raw query string, NULL when none */
    char *body;
    size_t body_len, body_cap, discarded;
    unsigned long long body_left; /* Content-Length bytes still to come */
    bool chunked;
    gw_chunked_t chunk;
    gw_job_t job;
    atomic_int slow; /* SLOW_* */
    int fast;        /* FAST_* */
    bool fast_suspended;
    /* Streamed bodies and responses (gw_stream.h). */
    struct gw_stream {
        gw_conn_t *conn;
    } stream;
    bool body_done;       /* the whole body has been read */
    bool continued;       /* "100 Continue" was sent */
    uint64_t stream_left; /* bytes of a streamed response still to send */
    const char *outcome;  /* for the log, when it did not end as it should */
    uint64_t bytes_in, bytes_out;
    size_t raw_len;
    char raw[]; /* a copy of the request head, parsed in place */
};

enum { C_HEAD, C_CONTINUE, C_BODY, C_WORK, C_WRITE, C_LINGER };

/* What a step of a connection's state machine left: wait for an event, go
 * on with the next state, or the connection is gone (freed). */
typedef enum { ST_WAIT, ST_NEXT, ST_GONE } step_t;

struct gw_conn {
    gw_shard_t *sh;
    gw_conn_t *prev, *next; /* sh->all */
    gw_conn_t *ready_next;  /* sh->ready */
    bool in_ready;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char peer[GW_IP_MAX];
    int state;
    bool readable, writable, rd_eof, keep_alive;
    uint64_t io_ns;           /* last progress in either direction */
    uint64_t req_deadline_ns; /* the request being received must be in by then; 0: none */
    uint64_t linger_until_ns;
    size_t lingered;
    size_t rlen, rpos, scanned; /* rbuf[rpos .. rlen) not yet consumed */
    gw_req_t *req;
    /* The response being sent: out.buf, then obody (heap, owned). */
    char *obody;
    size_t obody_len, ooff;
    bool interim; /* what is being sent is "100 Continue" */
    /* A coroutine waiting for this socket (gw_stream), and why it was woken. */
    gw_coro_t *io_waiter;
    gw_stream_err_t io_err;
    bool io_reading;
    gw_out_head_t out;
    char rbuf[GW_READ_BUF];
};

/* What a response is made of besides its head's standard lines. */
typedef struct {
    int status;
    const char *ctype;
    char *body; /* heap, handed over */
    size_t len;
    const char *allow;
    const gw_reply_t *reply; /* its rate-limit, challenge and cookie headers; may be NULL */
    bool preflight;
    const gw_stream_header_t *extra; /* a streamed response's own headers */
    size_t nextra;
} gw_resp_t;

#define CONTINUE_LINE  "HTTP/1.1 100 Continue\r\n\r\n"
#define DETAIL_TIMEOUT "The request was not received in time"

static inline uint64_t secs_ns(long s)
{
    return (uint64_t)s * 1000000000u;
}

/* ---- gw_http_check.c ---- */

/* Reads the head's fields into r->hdrs, runs the prechecks (the first that
 * fails leaves its error in r->pending), resolves the client IP and fills
 * the job. -1 when out of memory. */
int gwh_check_head(gw_http_t *self, gw_req_t *r, const gw_h1_head_t *head);

/* The answer to a head gw_h1 refused. */
proto_err_t gwh_h1_error(gw_h1_status_t st);

/* Whether the head announces a body (Content-Length > 0 or chunked). */
bool gwh_has_body(const gw_hdrs_t *h);

/* Whether the matched route reads a JSON body, or streams its body. */
bool gwh_route_takes_json(const gw_req_t *r);
bool gwh_route_streams(const gw_req_t *r);

/* The parsed and field-checked body, NULL when the route takes none or an
 * optional one is absent. On failure `*errors` may list the bad fields. */
proto_err_t gwh_take_body(const gw_req_t *r, json_t **out, const char **detail, json_t **errors);

/* ---- gw_http_respond.c ---- */

/* Queue a response on `c` (state C_WRITE): a problem (its detail and
 * field errors; `reply` may add rate-limit headers), the answer to a CORS
 * preflight, or a handler's reply. */
void gwh_respond_problem(gw_conn_t *c, proto_err_t err, const char *detail, const json_t *errors,
                         const gw_reply_t *reply);
void gwh_respond_options(gw_conn_t *c);

/* The parts of a response head besides its status line (used by streamed
 * responses too): standard, security, CORS and `o`'s own headers. */
bool gwh_may_keep_alive(const gw_conn_t *c, const gw_req_t *r);
void gwh_add_headers(gw_conn_t *c, const gw_req_t *r, gw_out_head_t *h, const gw_resp_t *o);

/* ---- gw_http.c ---- */

/* Reads what the socket has into c->rbuf. 1: bytes came, 0: nothing now
 * (or no room), -1: end of input or an error. */
int gwh_conn_fill(gw_conn_t *c);
void gwh_respond_reply(gw_conn_t *c, const gw_reply_t *reply);

#endif
