/*
 * gw_http: the HTTP/1.1 server (see gw_http.h). A connection goes through
 *
 *   HEAD      bytes are read into its buffer until a whole request head is
 *             in (gw_h1_head_end); the head is copied into the request
 *             context, parsed (gw_h1) and checked (prechecks below)
 *   CONTINUE  "100 Continue" is being sent (the client asked for it)
 *   BODY      the body is read: kept (JSON routes, MAX_JSON_BYTES) or
 *             dropped, by Content-Length or chunked (gw_chunked)
 *   WORK      the request runs on a coroutine of the loop (gw_coro) or on
 *             the slow pool (gw_slow); nothing is read meanwhile
 *   WRITE     the response is being sent; then HEAD again (keep-alive;
 *             pipelined bytes already read start the next request) or
 *   LINGER    after a response that closes the connection: our side is
 *             shut down and the client's unread input drained for at most
 *             GW_LINGER_MS / GW_DISCARD_MAX, so that closing does not reset
 *             the connection before the client has read the answer.
 *
 * Every refusal (malformed head, too large, bad framing, a request that
 * trickles past GATEWAY_REQUEST_TIMEOUT_SECONDS) is an ordinary response
 * built like any other, so it carries problem JSON, X-Request-ID and the
 * security headers, and is counted in the access log.
 *
 * Threads: gw_accept accepts and hands each connection to the loop with
 * the fewest (its inbox, an eventfd). A loop polls its epoll set (edge-
 * triggered: a connection remembers whether it is readable / writable),
 * its inbox and its backend sockets (gw_rpc) together. The work of a
 * request (authorise, body, handler) runs on a coroutine; a backend call
 * yields and the loop serves other connections until the reply (or the
 * deadline) resumes it; the finished request goes on the loop's ready
 * list and is answered there. Slow routes (their op hashes a password) run
 * on the slow pool; a pool thread that finishes puts the request on the
 * loop's done list and wakes the loop. Deadlines are checked every
 * GW_SWEEP_MS by the loop itself.
 */
#include "gw_http.h"
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

static const struct {
    const char *name, *value;
} security_headers[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "strict-origin-when-cross-origin"},
    {"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"},
};

/* Content-Security-Policy: the API's, and the docs page's (GW_ROUTE_PAGE),
 * which lets Swagger UI run its own same-origin scripts, styles (some
 * inline), images and document fetch, and nothing from elsewhere. */
static const char *const csp_values[] = {
    "default-src 'none'; frame-ancestors 'none'",
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'",
};

#define CORS_ALLOW_HEADERS "Authorization, Content-Type, X-API-Key"
#define CORS_EXPOSE_HEADERS                                                                        \
    "X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"
#define HSTS_VALUE     "max-age=31536000; includeSubDomains"
#define CONTINUE_LINE  "HTTP/1.1 100 Continue\r\n\r\n"
#define DETAIL_TIMEOUT "The request was not received in time"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t secs_ns(long s)
{
    return (uint64_t)s * 1000000000u;
}

/* The TCP peer; IPv4-mapped IPv6 addresses count as IPv4. */
static void peer_ip(const struct sockaddr *sa, char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)cap);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)cap);
    }
}

static void wake(gw_shard_t *sh)
{
    uint64_t one = 1;
    if (write(sh->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        rt_warn(NULL, "cannot wake an HTTP loop: %s", strerror(errno));
}

/* ---- request contexts ---- */

/* Method and path for the log from a head that may not parse. */
static void log_names(gw_req_t *r)
{
    const char *p = r->raw;
    const char *end = r->raw + r->raw_len;
    while (p + 1 < end && p[0] == '\r' && p[1] == '\n')
        p += 2;
    size_t ml = strcspn(p, " \r\n");
    gw_access_sanitise(r->method, sizeof r->method, p, ml);
    const char *t = p + ml + (p[ml] == ' ');
    gw_access_sanitise(r->path, sizeof r->path, t, strcspn(t, " ?#\r\n"));
}

/* A request context with a copy of the head at head[0 .. len). */
static gw_req_t *req_new(gw_conn_t *c, const char *head, size_t len)
{
    gw_http_t *self = c->sh->http;
    gw_req_t *r = calloc(1, sizeof *r + len + 1);
    if (!r)
        return NULL;
    r->http = self;
    r->conn = c;
    r->start_ns = now_ns();
    r->pending = PROTO_OK;
    r->mres = GW_MATCH_NOT_FOUND; /* until the route check says otherwise */
    r->minor = 1;
    rt_uuid_v4(r->rid);
    memcpy(r->client_ip, c->peer, sizeof r->client_ip);
    memcpy(r->raw, head, len);
    r->raw_len = len;
    log_names(r);
    gw_reply_init(&r->job.reply);
    atomic_init(&r->slow, SLOW_NONE);
    atomic_fetch_add(&self->in_flight, 1);
    return r;
}

static void req_free(gw_req_t *r)
{
    if (!r)
        return;
    atomic_fetch_sub(&r->http->in_flight, 1);
    gw_job_t *j = &r->job;
    gw_reply_cleanup(&j->reply);
    json_decref(j->body);
    json_decref(j->out_errors);
    free(j->path);
    free(j->bearer);
    free(j->user_agent);
    free(j->cookies);
    free(r->query);
    free(r->body);
    free(r);
}

static void log_request(const gw_conn_t *c, const gw_req_t *r, const char *outcome)
{
    gw_http_t *self = r->http;
    int route = r->mres == GW_MATCH_OK ? (int)(r->match.route - self->opt.routes) : -1;
    gw_metrics_request(self->metrics, route, r->status, (double)(now_ns() - r->start_ns) / 1e9,
                       r->raw_len + r->bytes_in, r->bytes_out);
    gw_access_t a = {.rid = r->rid,
                     .method = r->method,
                     .path = r->path,
                     .route = route >= 0 ? r->match.route->pattern : NULL,
                     .bytes_in = r->raw_len + r->bytes_in,
                     .bytes_out = r->bytes_out,
                     .status = r->status,
                     .duration_ms = (double)(now_ns() - r->start_ns) / 1e6,
                     .client_ip = r->client_ip,
                     .peer = c->peer,
                     .outcome = r->timed_out ? "deadline" : outcome};
    gw_access_log(&a);
}

/* ---- response heads ---- */

static const char *http_date(gw_shard_t *sh)
{
    time_t t = time(NULL);
    if (t != sh->date_s) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(sh->date, sizeof sh->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        sh->date_s = t;
    }
    return sh->date;
}

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

static void add_cors(gw_http_t *self, const gw_req_t *r, gw_out_head_t *h, const gw_resp_t *o)
{
    if (self->norigins > 0 && r->hdrs.origin)
        gw_out_add(h, "Vary", "Origin");
    const char *origin = gw_origin_listed(r->hdrs.origin, self->origins, self->norigins);
    if (!origin)
        return;
    gw_out_add(h, "Access-Control-Allow-Origin", origin);
    gw_out_add(h, "Access-Control-Allow-Credentials", "true");
    if (o->preflight) {
        gw_out_add(h, "Access-Control-Allow-Methods", r->match.allow);
        gw_out_add(h, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
        gw_out_add(h, "Access-Control-Max-Age", "600");
    } else {
        gw_out_add(h, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    }
}

static void add_headers(gw_conn_t *c, const gw_req_t *r, gw_out_head_t *h, const gw_resp_t *o)
{
    gw_http_t *self = c->sh->http;
    gw_out_start(h, o->status);
    gw_out_add(h, "Date", http_date(c->sh));
    gw_out_add(h, "X-Request-ID", r->rid);
    for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
        gw_out_add(h, security_headers[i].name, security_headers[i].value);
    bool page = r->mres == GW_MATCH_OK && r->match.route && (r->match.route->flags & GW_ROUTE_PAGE);
    gw_out_add(h, "Content-Security-Policy", csp_values[page]);
    /* Every /api/ answer, and every refusal (whatever its target). */
    bool api = r->url && strncmp(r->url, "/api/", 5) == 0;
    if (api || o->status >= 400)
        gw_out_add(h, "Cache-Control", "no-store");
    if (self->opt.cfg->hsts_enabled)
        gw_out_add(h, "Strict-Transport-Security", HSTS_VALUE);
    if (o->ctype)
        gw_out_add(h, "Content-Type", o->ctype);
    if (gw_out_has_body(o->status))
        gw_out_add_uint(h, "Content-Length", o->len);
    if (o->allow && *o->allow)
        gw_out_add(h, "Allow", o->allow);
    for (size_t i = 0; i < o->nextra; i++)
        gw_out_add(h, o->extra[i].name, o->extra[i].value);
    if (o->reply) {
        gw_headers_t hs;
        gw_headers_for_reply(o->reply, &hs);
        for (size_t i = 0; i < hs.n; i++)
            gw_out_add(h, hs.h[i].name, hs.h[i].value);
    }
    add_cors(self, r, h, o);
    if (!c->keep_alive)
        gw_out_add(h, "Connection", "close");
    else if (r->minor == 0)
        gw_out_add(h, "Connection", "keep-alive");
}

/* Whether the connection may carry another request after this one. */
static bool may_keep_alive(const gw_conn_t *c, const gw_req_t *r)
{
    if (r->close_after || !r->body_done || c->rd_eof || atomic_load(&c->sh->http->stopping))
        return false;
    return r->minor == 1 ? !r->hdrs.conn_close : r->hdrs.conn_keep_alive;
}

/* Queues a response; the connection goes to WRITE. The body is handed
 * over (freed here on failure). */
static void respond(gw_conn_t *c, gw_resp_t *o)
{
    gw_req_t *r = c->req;
    c->keep_alive = may_keep_alive(c, r);
    add_headers(c, r, &c->out, o);
    if (gw_out_end(&c->out) != 0) { /* cannot happen with our own headers; stay well-formed */
        rt_error(r->rid, "a response head did not fit in %d bytes", GW_OUT_HEAD_MAX);
        c->keep_alive = false;
        free(o->body);
        o->body = NULL;
        o->len = 0;
        o->status = 500;
        gw_out_start(&c->out, 500);
        gw_out_add(&c->out, "Content-Length", "0");
        gw_out_add(&c->out, "Connection", "close");
        gw_out_end(&c->out);
    }
    c->obody = o->body;
    c->obody_len = (r->head_only || !gw_out_has_body(o->status)) ? 0 : o->len;
    c->ooff = 0;
    c->interim = false;
    r->status = o->status;
    c->state = C_WRITE;
}

static void respond_problem(gw_conn_t *c, proto_err_t err, const char *detail, const json_t *errors,
                            const gw_reply_t *reply)
{
    gw_req_t *r = c->req;
    int status =
        reply && reply->err == err ? gw_reply_problem_status(reply) : gw_problem_status(err);
    gw_resp_t o = {.status = status, .ctype = "application/problem+json", .reply = reply};
    o.body = gw_problem_dumps_status(err, status, detail, r->rid, errors, &o.len);
    if (!o.body) { /* out of memory: still one well-formed answer */
        o.ctype = NULL;
        o.len = 0;
        r->close_after = true;
    }
    if (err == PROTO_ERR_METHOD_NOT_ALLOWED)
        o.allow = r->match.allow;
    respond(c, &o);
}

/* OPTIONS on a known path: a CORS preflight when the origin is allowed and
 * the browser asks for a method, a plain 204 with Allow otherwise. */
static void respond_options(gw_conn_t *c)
{
    gw_http_t *self = c->sh->http;
    gw_req_t *r = c->req;
    gw_resp_t o = {.status = 204, .allow = r->match.allow};
    o.preflight =
        r->hdrs.acr_method && gw_origin_listed(r->hdrs.origin, self->origins, self->norigins);
    respond(c, &o);
}

static void respond_reply(gw_conn_t *c, const gw_reply_t *reply)
{
    gw_req_t *r = c->req;
    if (reply->err != PROTO_OK) {
        if (reply->err == PROTO_ERR_INTERNAL_ERROR)
            rt_error(r->rid, "%s %s failed: %s", r->method, r->path, reply->detail);
        respond_problem(c, reply->err, reply->detail, reply->errors, reply);
        return;
    }
    gw_resp_t o = {.status = reply->status ? reply->status : 200, .reply = reply};
    if (reply->json) {
        o.body = json_dumps(reply->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!o.body) {
            respond_problem(c, PROTO_ERR_INTERNAL_ERROR, NULL, NULL, reply);
            return;
        }
        o.len = strlen(o.body);
        o.ctype = "application/json";
    }
    respond(c, &o);
}

/* ---- the request head: fields and prechecks ---- */

/* Joins the values of every `name` field, in order, with `sep` (heap
 * string); NULL when there is none or out of memory. */
static char *joined(const gw_h1_head_t *h, const char *name, const char *sep)
{
    size_t total = 0, sl = strlen(sep), n = 0;
    for (size_t i = 0; i < h->nfields; i++)
        if (strcasecmp(h->fields[i].name, name) == 0)
            total += h->fields[i].value_len + (n++ ? sl : 0);
    if (n == 0)
        return NULL;
    char *out = malloc(total + 1), *p = out;
    if (!out)
        return NULL;
    n = 0;
    for (size_t i = 0; i < h->nfields; i++) {
        if (strcasecmp(h->fields[i].name, name) != 0)
            continue;
        if (n++) {
            memcpy(p, sep, sl);
            p += sl;
        }
        memcpy(p, h->fields[i].value, h->fields[i].value_len);
        p += h->fields[i].value_len;
    }
    *p = '\0';
    return out;
}

/* One pass over the fields into r->hdrs (first occurrence wins for the
 * ones that may not repeat anyway; those are counted). */
static void read_fields(gw_req_t *r, const gw_h1_head_t *h)
{
    gw_hdrs_t *d = &r->hdrs;
    for (size_t i = 0; i < h->nfields; i++) {
        const char *k = h->fields[i].name, *v = h->fields[i].value;
        if (strcasecmp(k, "Content-Length") == 0) {
            if (d->cl_count++ == 0 && gw_h1_content_length(v, &d->content_length) != 0) {
                d->cl_huge = v[0] && strspn(v, "0123456789") == strlen(v);
                d->cl_bad = !d->cl_huge;
            }
        } else if (strcasecmp(k, "Transfer-Encoding") == 0) {
            d->te_count++;
            d->te_chunked = strcasecmp(v, "chunked") == 0;
        } else if (strcasecmp(k, "Host") == 0) {
            if (d->host_count++ == 0)
                d->host = v;
        } else if (strcasecmp(k, "Content-Type") == 0 && !d->content_type) {
            d->content_type = v;
        } else if (strcasecmp(k, "Origin") == 0 && !d->origin) {
            d->origin = v;
        } else if (strcasecmp(k, "Access-Control-Request-Method") == 0) {
            d->acr_method = v;
        } else if (strcasecmp(k, "Authorization") == 0) {
            if (d->authz_count++ == 0)
                d->authorization = v;
        } else if (strcasecmp(k, "X-API-Key") == 0) {
            if (d->apikey_count++ == 0)
                d->api_key = v;
        } else if (strcasecmp(k, "User-Agent") == 0 && !d->user_agent) {
            d->user_agent = v;
        } else if (strcasecmp(k, "Sec-Fetch-Site") == 0 && !d->fetch_site) {
            d->fetch_site = v;
        } else if (strcasecmp(k, "Range") == 0 && !d->range) {
            d->range = v;
        } else if (strcasecmp(k, "If-None-Match") == 0 && !d->if_none_match) {
            d->if_none_match = v;
        } else if (strcasecmp(k, "Expect") == 0) {
            d->expect_continue = strcasecmp(v, "100-continue") == 0;
        } else if (strcasecmp(k, "Connection") == 0) {
            d->conn_close |= gw_h1_has_token(v, "close");
            d->conn_keep_alive |= gw_h1_has_token(v, "keep-alive");
        }
    }
}

static bool has_body(const gw_hdrs_t *h)
{
    return h->te_count > 0 || h->cl_bad || h->cl_huge || h->content_length > 0;
}

/* "application/json", optionally followed by parameters (charset=utf-8). */
static bool media_is_json(const char *ct)
{
    static const char json[] = "application/json";
    if (!ct)
        return false;
    ct += strspn(ct, " \t");
    if (strncasecmp(ct, json, sizeof json - 1) != 0)
        return false;
    ct += sizeof json - 1;
    ct += strspn(ct, " \t");
    return *ct == '\0' || *ct == ';';
}

typedef proto_err_t (*precheck_fn)(gw_http_t *self, gw_req_t *r, const char **detail);

/* Length headers that leave the end of the body in doubt: the connection
 * cannot go on after the answer (request smuggling). */
static proto_err_t check_framing(gw_http_t *self, gw_req_t *r, const char **detail)
{
    const gw_hdrs_t *h = &r->hdrs;
    r->close_after = true;
    *detail = "Ambiguous message framing: conflicting or repeated length headers";
    if (h->cl_count > 1 || h->te_count > 1 || (h->te_count && h->cl_count))
        return PROTO_ERR_BAD_REQUEST;
    *detail = "Invalid Content-Length";
    if (h->cl_bad)
        return PROTO_ERR_BAD_REQUEST;
    *detail = "Unsupported Transfer-Encoding";
    if (h->te_count && (!h->te_chunked || r->minor == 0))
        return PROTO_ERR_BAD_REQUEST;
    r->close_after = false;
    return PROTO_OK;
}

/* A Host field value: an authority without userinfo (RFC 9110 7.2). */
static bool host_ok(const char *v)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789-._~%!$&'()*+,;=:[]";
    return strspn(v, allowed) == strlen(v);
}

/* RFC 9112 section 3.2: exactly one Host in HTTP/1.1, at most one in 1.0. */
static proto_err_t check_host(gw_http_t *self, gw_req_t *r, const char **detail)
{
    const gw_hdrs_t *h = &r->hdrs;
    *detail = "The request must have exactly one Host header";
    if (h->host_count > 1 || (r->minor == 1 && h->host_count == 0))
        return PROTO_ERR_BAD_REQUEST;
    *detail = "Invalid Host header";
    return (h->host && !host_ok(h->host)) ? PROTO_ERR_BAD_REQUEST : PROTO_OK;
}

static proto_err_t check_route(gw_http_t *self, gw_req_t *r, const char **detail)
{
    r->mres = gw_route_match(self->opt.routes, self->opt.nroutes, r->verb, r->url, &r->match);
    if (r->mres == GW_MATCH_NOT_FOUND) {
        *detail = "The requested resource was not found";
        return PROTO_ERR_NOT_FOUND;
    }
    if (r->mres == GW_MATCH_METHOD_NOT_ALLOWED) {
        r->preflight = strcmp(r->verb, "OPTIONS") == 0;
        *detail = "The method is not allowed for this resource";
        return r->preflight ? PROTO_OK : PROTO_ERR_METHOD_NOT_ALLOWED;
    }
    return PROTO_OK;
}

static bool route_takes_json(const gw_req_t *r)
{
    return r->mres == GW_MATCH_OK &&
           (r->match.route->body == GW_BODY_JSON || r->match.route->body == GW_BODY_JSON_OPTIONAL);
}

static proto_err_t check_media_type(gw_http_t *self, gw_req_t *r, const char **detail)
{
    *detail = "Content-Type must be application/json";
    /* An optional body that is absent needs no Content-Type. */
    bool expected =
        route_takes_json(r) && (r->match.route->body == GW_BODY_JSON || has_body(&r->hdrs));
    if (expected && !media_is_json(r->hdrs.content_type))
        return PROTO_ERR_UNSUPPORTED_MEDIA_TYPE;
    return PROTO_OK;
}

static bool route_streams(const gw_req_t *r)
{
    return r->mres == GW_MATCH_OK && r->match.route->body == GW_BODY_STREAM;
}

/* The largest body a route takes: MAX_JSON_BYTES, or for uploads
 * MAX_UPLOAD_BYTES and, for a multipart form, room for its framing. */
static unsigned long long body_max(gw_http_t *self, const gw_req_t *r)
{
    const gw_config_t *cfg = self->opt.cfg;
    if (!route_streams(r))
        return (unsigned long long)cfg->max_json_bytes;
    bool form = gw_multipart_is_form(r->hdrs.content_type);
    return (unsigned long long)cfg->max_upload_bytes + (form ? GW_FORM_OVERHEAD_MAX : 0);
}

/* A body declared larger than the route takes is refused before a byte
 * of it is read (also after "Expect: 100-continue": no Continue is sent). */
static proto_err_t check_length(gw_http_t *self, gw_req_t *r, const char **detail)
{
    *detail = "The request body is too large";
    if (r->hdrs.cl_huge || r->hdrs.content_length > body_max(self, r))
        return PROTO_ERR_PAYLOAD_TOO_LARGE;
    return PROTO_OK;
}

/* In order: the first failing check decides the answer. */
static const precheck_fn prechecks[] = {
    check_framing, check_host, check_route, check_media_type, check_length,
};

/* The client address behind our trusted proxies: X-Forwarded-For may come
 * as several lines, which are one list, in order. */
static void resolve_client_ip(gw_http_t *self, gw_req_t *r, const gw_h1_head_t *h)
{
    const gw_trusted_t *trusted = self->opt.cfg->trusted;
    if (gw_trusted_count(trusted) == 0)
        return; /* the peer, already in client_ip */
    char *xff = joined(h, "X-Forwarded-For", ",");
    const gw_h1_field_t *xri = gw_h1_get(h, "X-Real-IP");
    char out[GW_CLIENTIP_LEN];
    if (gw_clientip_resolve(trusted, r->conn->peer, xff, xri ? xri->value : NULL, out,
                            sizeof out) == 0)
        snprintf(r->client_ip, sizeof r->client_ip, "%s", out);
    free(xff);
}

/* Copies what the handler reads into the job (the body comes later, once
 * authorised). Returns 0 or -1 (out of memory). */
static int job_init(gw_req_t *r, const gw_h1_head_t *h)
{
    gw_job_t *j = &r->job;
    j->path = strndup(r->url, strcspn(r->url, "?#"));
    j->cookies = joined(h, "Cookie", "; ");
    if (r->hdrs.authz_count == 1 && (j->bearer = malloc(GW_BEARER_MAX + 1)) &&
        gw_bearer_parse(r->hdrs.authorization, j->bearer, GW_BEARER_MAX + 1) != 0) {
        free(j->bearer); /* malformed or duplicated: as if absent (authsvc answers 401) */
        j->bearer = NULL;
    }
    if (r->hdrs.user_agent && r->hdrs.user_agent[0] && (j->user_agent = malloc(GW_UA_MAX + 1)))
        gw_sanitise_ascii(j->user_agent, GW_UA_MAX + 1, r->hdrs.user_agent);
    const char *q = strchr(r->url, '?');
    if (q) /* for list routes; NULL on OOM reads as "no parameters" */
        r->query = strndup(q + 1, strcspn(q + 1, "#"));
    if (!j->path)
        return -1;
    j->req = (gw_request_t){.method = r->method,
                            .path = j->path,
                            .rid = r->rid,
                            .client_ip = r->client_ip,
                            .params = r->match.params,
                            .nparams = r->match.nparams,
                            .query = r->query,
                            .bearer = j->bearer,
                            .api_key = gw_apikey_header(r->hdrs.api_key, r->hdrs.apikey_count),
                            .session_only = r->mres == GW_MATCH_OK &&
                                            (r->match.route->flags & GW_ROUTE_SESSION),
                            .user_agent = j->user_agent,
                            .cookies = j->cookies,
                            .call = r->mres == GW_MATCH_OK ? r->match.route->call : NULL,
                            .content_type = r->hdrs.content_type,
                            .range = r->hdrs.range,
                            .if_none_match = r->hdrs.if_none_match,
                            .head = r->head_only,
                            .stream = &r->stream};
    r->stream.conn = r->conn;
    return 0;
}

static proto_err_t from_h1(gw_h1_status_t st)
{
    switch (st) {
    case GW_H1_URI_TOO_LONG:
        return PROTO_ERR_URI_TOO_LONG;
    case GW_H1_TOO_LARGE:
        return PROTO_ERR_HEADER_TOO_LARGE;
    case GW_H1_BAD_VERSION:
        return PROTO_ERR_HTTP_VERSION_NOT_SUPPORTED;
    default:
        return PROTO_ERR_BAD_REQUEST;
    }
}

/* ---- the body's JSON ---- */

/* Whether the JSON text nests arrays and objects at most `max` deep. Run
 * before jansson, whose parser recurses once per level (2048 by default):
 * that bounds the stack a request can use, on a coroutine's small stack as
 * on a thread's. Brackets inside strings do not count. */
static bool json_depth_ok(const char *s, size_t n, int max)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

static proto_err_t parse_body(const gw_req_t *r, json_t **out, const char **detail)
{
    if (r->body && !json_depth_ok(r->body, r->body_len, GW_JSON_DEPTH_MAX)) {
        *detail = "The request body is nested too deeply";
        return PROTO_ERR_BAD_REQUEST;
    }
    json_error_t je;
    json_t *v = json_loadb(r->body ? r->body : "", r->body_len,
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v && strstr(je.text, "NUL")) {
        /* Valid JSON whose member name holds \u0000: no field is named so. */
        *detail = "The request body has invalid fields";
        return PROTO_ERR_VALIDATION_ERROR;
    }
    if (!v) {
        *detail = "The request body is not valid JSON";
        return PROTO_ERR_BAD_REQUEST;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        *detail = "The request body must be a JSON object";
        return PROTO_ERR_VALIDATION_ERROR;
    }
    *out = v;
    return PROTO_OK;
}

/* The parsed and field-checked body, NULL when the route takes none or an
 * optional one is absent. On failure `*errors` may list the bad fields. */
static proto_err_t take_body(const gw_req_t *r, json_t **out, const char **detail, json_t **errors)
{
    const gw_route_t *route = r->match.route;
    *out = NULL;
    *errors = NULL;
    if (!route_takes_json(r) || (route->body == GW_BODY_JSON_OPTIONAL && r->body_len == 0))
        return PROTO_OK;
    proto_err_t err = parse_body(r, out, detail);
    if (err != PROTO_OK)
        return err;
    if (route->fields && gw_schema_check(route->fields, *out, errors) != 0) {
        json_decref(*out);
        *out = NULL;
        *detail = "The request body has invalid fields";
        return PROTO_ERR_VALIDATION_ERROR;
    }
    if (route->fields && gw_schema_clean(route->fields, *out) != 0) {
        json_decref(*out);
        *out = NULL;
        return PROTO_ERR_INTERNAL_ERROR;
    }
    return PROTO_OK;
}

/* ---- the work of a request ---- */

static void mark_ready(gw_conn_t *c)
{
    if (c->in_ready)
        return;
    c->in_ready = true;
    c->ready_next = c->sh->ready;
    c->sh->ready = c;
}

/* The job is over (on a pool thread, or the loop for a refusal): hand the
 * request back to its loop. */
static void slow_finish(gw_req_t *r)
{
    gw_shard_t *sh = r->conn->sh;
    atomic_store_explicit(&r->slow, SLOW_DONE, memory_order_release);
    pthread_mutex_lock(&sh->mu);
    r->done_next = sh->done;
    sh->done = r;
    pthread_mutex_unlock(&sh->mu);
    wake(sh);
}

static void slow_run(void *arg)
{
    gw_req_t *r = arg;
    const gw_http_t *self = r->http;
    const gw_ctx_t *ctx = self->opt.slow_ctx ? self->opt.slow_ctx : self->opt.ctx;
    r->match.route->handler(ctx, &r->job.req, &r->job.reply);
    slow_finish(r);
}

static void slow_cancel(void *arg, gw_slow_why_t why)
{
    gw_req_t *r = arg;
    bool expired = why == GW_SLOW_EXPIRED;
    gw_reply_error(&r->job.reply, PROTO_ERR_UNAVAILABLE,
                   expired ? "Too many requests in progress. Please try again later."
                           : "The server is shutting down");
    r->job.reply.retry_after = expired ? 1 : -1;
    slow_finish(r);
}

static void start_slow(gw_http_t *self, gw_req_t *r)
{
    atomic_store_explicit(&r->slow, SLOW_RUNNING, memory_order_relaxed);
    if (gw_slow_submit(self->slow, slow_run, slow_cancel, r) != 0) {
        bool stopping = atomic_load(&self->stopping);
        gw_reply_error(&r->job.reply, PROTO_ERR_UNAVAILABLE,
                       stopping ? "The server is shutting down"
                                : "Too many requests in progress. Please try again later.");
        r->job.reply.retry_after = stopping ? -1 : 1;
        slow_finish(r); /* answered when the loop takes its done list */
    }
}

/* Whether a cookie-authenticated request comes from an origin we trust. */
static bool cookie_origin_ok(gw_http_t *self, const gw_req_t *r)
{
    const gw_route_t *route = r->match.route;
    if (!(route->flags & GW_ROUTE_COOKIE))
        return true;
    if (json_is_string(json_object_get(r->job.body, "refresh_token")))
        return true; /* the token is in the body: no cookie involved */
    gw_cookie_vals_t cv;
    gw_cookie_find(r->job.cookies, GW_REFRESH_COOKIE, &cv);
    if (cv.seen == 0)
        return true;
    return gw_origin_may_use_cookie(r->hdrs.origin, r->hdrs.fetch_site, r->hdrs.host, self->origins,
                                    self->norigins);
}

/* The API rate limit for a public route that does not count itself
 * (GW_ROUTE_LIMITED): 0 to go on (the limiter state kept for the headers),
 * -1 with the refusal in the reply. When authsvc cannot be asked the route
 * still runs: the health route reports authsvc down itself. */
static int limit_anonymous(gw_http_t *self, gw_job_t *j)
{
    gw_request_t anon = j->req;
    anon.bearer = NULL;
    anon.api_key = NULL;
    if (gw_api_rate_anonymous(self->opt.ctx, &anon, &j->reply,
                              (int)self->opt.cfg->health_timeout_ms) == 0)
        return 0;
    if (j->reply.err == PROTO_ERR_RATE_LIMITED)
        return -1;
    j->req.authsvc_down = j->reply.err == PROTO_ERR_UNAVAILABLE;
    gw_reply_cleanup(&j->reply);
    gw_reply_init(&j->reply);
    return 0;
}

/* Authorisation, the body and (fast routes) the handler: everything
 * between a whole request and its answer that may wait for a backend.
 * Order: auth.authorize for protected routes (or the anonymous rate limit
 * for the public routes that need it), then the body's JSON and fields,
 * the cookie's origin, then the handler. Authorising before looking at
 * the body means a caller without a valid credential (or permission)
 * learns nothing about a route's body rules: 401/403, never 400/422. */
static void fast_work(gw_req_t *r);

/* The coroutine of a request: when it had to wait, the loop answers it
 * from its ready list. */
static void fast_entry(void *arg)
{
    gw_req_t *r = arg;
    fast_work(r);
    r->fast = FAST_DONE;
    if (r->fast_suspended)
        mark_ready(r->conn);
}

static step_t finish_request(gw_conn_t *c);

/* Queues the answer the work decided on (or hands a slow route over). A
 * handler that streamed its response only needs the request finished. */
static void answer(gw_conn_t *c)
{
    gw_req_t *r = c->req;
    gw_job_t *j = &r->job;
    if (j->reply.streamed) {
        if (r->stream_left > 0) { /* the client went away, or the source failed midway */
            r->outcome = "incomplete";
            c->keep_alive = false;
        }
        (void)finish_request(c);
        return;
    }
    if (route_streams(r) && !r->body_done)
        r->close_after = true; /* the rest of the body is never read */
    if (j->out == OUT_SLOW) {
        start_slow(c->sh->http, r);
        return;
    }
    if (j->out == OUT_PROBLEM) {
        respond_problem(c, j->out_err, j->out_detail, j->out_errors, &j->reply);
        return;
    }
    respond_reply(c, &j->reply);
}

/* The whole request is in: refusals decided earlier and preflights are
 * answered at once; the rest runs on a coroutine of this loop. Without a
 * free coroutine the work runs right here and its backend calls block the
 * loop, as they would on a plain thread. */
static void request_ready(gw_conn_t *c)
{
    gw_req_t *r = c->req;
    if (!route_streams(r))
        c->req_deadline_ns = 0; /* backend calls are bounded by their own timeouts */
    c->state = C_WORK;
    if (r->pending != PROTO_OK) {
        respond_problem(c, r->pending, r->pending_detail, NULL, NULL);
        return;
    }
    if (r->preflight) {
        respond_options(c);
        return;
    }
    r->fast = FAST_RUNNING;
    if (gw_coro_spawn(fast_entry, r, NULL)) {
        r->fast_suspended = true; /* answered from the ready list */
        return;
    }
    answer(c);
}

/* ---- body ---- */

static proto_err_t body_append(gw_req_t *r, const char *data, size_t n, size_t max)
{
    if (r->body_len + n > max)
        return PROTO_ERR_PAYLOAD_TOO_LARGE;
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        char *nb = realloc(r->body, cap);
        if (!nb)
            return PROTO_ERR_INTERNAL_ERROR;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return PROTO_OK;
}

/* Body bytes: kept for JSON routes, counted and dropped for the others.
 * Returns the error that ends the request now, PROTO_OK to go on. */
static proto_err_t body_feed(gw_conn_t *c, const char *data, size_t n)
{
    gw_req_t *r = c->req;
    size_t max = (size_t)c->sh->http->opt.cfg->max_json_bytes;
    r->bytes_in += n;
    if (route_takes_json(r))
        return body_append(r, data, n, max);
    r->discarded += n;
    return r->discarded > max ? PROTO_ERR_PAYLOAD_TOO_LARGE : PROTO_OK;
}

/* Takes what the buffer holds of the body. 1: the body is complete, 0: more
 * is needed, -1: it was refused (answered). */
static int body_consume(gw_conn_t *c)
{
    gw_req_t *r = c->req;
    proto_err_t err = PROTO_OK;
    int done = 0;
    while (c->rpos < c->rlen && !done && err == PROTO_OK) {
        const char *in = c->rbuf + c->rpos;
        size_t avail = c->rlen - c->rpos;
        if (!r->chunked) {
            size_t take = avail < r->body_left ? avail : (size_t)r->body_left;
            err = body_feed(c, in, take);
            c->rpos += take;
            r->body_left -= take;
            done = r->body_left == 0;
            continue;
        }
        size_t used, dlen;
        const char *data;
        gw_chunked_status_t st = gw_chunked_next(&r->chunk, in, avail, &used, &data, &dlen);
        c->rpos += used;
        if (st == GW_CHUNKED_DATA)
            err = body_feed(c, data, dlen);
        else if (st == GW_CHUNKED_DONE)
            done = 1;
        else if (st == GW_CHUNKED_BAD)
            err = PROTO_ERR_BAD_REQUEST;
    }
    if (!r->chunked && r->body_left == 0)
        done = 1;
    if (err == PROTO_OK)
        return done;
    if (err == PROTO_ERR_INTERNAL_ERROR)
        rt_error(r->rid, "out of memory buffering a request body");
    r->close_after = true; /* the rest of the body is never read */
    c->state = C_WORK;
    c->req_deadline_ns = 0;
    respond_problem(c, err,
                    err == PROTO_ERR_PAYLOAD_TOO_LARGE ? "The request body is too large"
                    : err == PROTO_ERR_BAD_REQUEST     ? "Malformed chunked request body"
                                                       : NULL,
                    NULL, NULL);
    return -1;
}

/* ---- connections ---- */

static void conn_close(gw_conn_t *c, const char *outcome)
{
    gw_shard_t *sh = c->sh;
    gw_http_t *self = sh->http;
    if (c->req) {
        log_request(c, c->req, outcome);
        req_free(c->req);
        c->req = NULL;
    }
    free(c->obody);
    close(c->fd); /* leaves the epoll set with it */
    gw_iplimit_release(self->iplimit, (const struct sockaddr *)&c->addr, c->addrlen);
    atomic_fetch_sub(&sh->conns, 1);
    if (c->prev)
        c->prev->next = c->next;
    else
        sh->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* Reads what the socket has. 1: bytes came, 0: nothing now (or no room),
 * -1: end of input or an error. */
static int conn_fill(gw_conn_t *c)
{
    if (c->rd_eof)
        return -1;
    if (!c->readable || c->rlen == GW_READ_BUF)
        return 0;
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, GW_READ_BUF - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            c->io_ns = now_ns();
            return 1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->readable = false;
            return 0;
        }
        c->rd_eof = true;
        return -1;
    }
}

/* The head is whole at rbuf[0 .. end): the request starts. */
static step_t start_request(gw_conn_t *c, size_t end)
{
    gw_http_t *self = c->sh->http;
    gw_req_t *r = req_new(c, c->rbuf, end);
    if (!r) {
        rt_error(NULL, "out of memory for a request");
        conn_close(c, "error");
        return ST_GONE;
    }
    c->req = r;
    c->rpos = end;
    c->scanned = 0;
    static const gw_h1_limits_t lim = {.target_max = GW_URI_MAX,
                                       .field_bytes_max = GW_HEADER_BYTES_MAX};
    gw_h1_head_t head;
    size_t scanned = 0;
    const char *detail;
    gw_h1_status_t st = gw_h1_parse(r->raw, end, end + 1, &lim, &scanned, &head, &detail);
    c->state = C_WORK;
    if (st != GW_H1_DONE) {
        r->close_after = true; /* what follows a malformed head is not a request */
        respond_problem(c, from_h1(st), detail, NULL, NULL);
        return ST_NEXT;
    }
    r->verb = head.method;
    r->url = head.target;
    r->minor = head.minor;
    r->head_only = strcmp(head.method, "HEAD") == 0;
    gw_access_sanitise(r->method, sizeof r->method, head.method, SIZE_MAX);
    gw_access_sanitise(r->path, sizeof r->path, head.target, strcspn(head.target, "?#"));
    read_fields(r, &head);
    for (size_t i = 0; i < sizeof prechecks / sizeof prechecks[0]; i++) {
        r->pending = prechecks[i](self, r, &r->pending_detail);
        if (r->pending != PROTO_OK)
            break;
    }
    resolve_client_ip(self, r, &head);
    if (job_init(r, &head) != 0) {
        rt_error(r->rid, "out of memory preparing a request");
        r->pending = PROTO_ERR_INTERNAL_ERROR;
    }
    /* A refusal with a body to follow is answered now and the body never
     * read (the connection closes after the answer). */
    if (r->pending != PROTO_OK && has_body(&r->hdrs)) {
        r->close_after = true;
        respond_problem(c, r->pending, r->pending_detail, NULL, NULL);
        return ST_NEXT;
    }
    if (!has_body(&r->hdrs)) {
        r->body_done = true;
        request_ready(c);
        return ST_NEXT;
    }
    r->chunked = r->hdrs.te_count > 0;
    r->body_left = r->hdrs.content_length;
    gw_chunked_init(&r->chunk);
    c->req_deadline_ns = r->start_ns + secs_ns(self->opt.cfg->request_timeout_s);
    if (route_streams(r)) { /* its handler reads the body (gw_stream_read) */
        request_ready(c);
        return ST_NEXT;
    }
    if (r->hdrs.expect_continue && r->minor == 1) {
        c->state = C_CONTINUE;
        c->ooff = 0;
        c->interim = true;
        return ST_NEXT;
    }
    c->state = C_BODY;
    return ST_NEXT;
}

/* Refuses a head that filled the whole buffer without ending. */
static step_t refuse_head(gw_conn_t *c)
{
    gw_h1_head_t head;
    size_t scanned = c->scanned;
    const char *detail;
    static const gw_h1_limits_t lim = {.target_max = GW_URI_MAX,
                                       .field_bytes_max = GW_HEADER_BYTES_MAX};
    gw_h1_status_t st = gw_h1_parse(c->rbuf, c->rlen, GW_READ_BUF, &lim, &scanned, &head, &detail);
    gw_req_t *r = req_new(c, c->rbuf, 1024); /* enough of it for the log */
    if (!r) {
        conn_close(c, "error");
        return ST_GONE;
    }
    c->req = r;
    c->rlen = c->rpos = c->scanned = 0;
    r->close_after = true;
    c->state = C_WORK;
    respond_problem(c, from_h1(st), detail, NULL, NULL);
    return ST_NEXT;
}

static step_t step_head(gw_conn_t *c)
{
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = c->scanned = 0;
    } else if (c->rpos > 0) { /* a pipelined request: move it to the front */
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
        c->scanned = 0;
    }
    for (;;) {
        if (c->rlen > 0) {
            if (!c->req_deadline_ns)
                c->req_deadline_ns = now_ns() + secs_ns(c->sh->http->opt.cfg->request_timeout_s);
            size_t end = gw_h1_head_end(c->rbuf, c->rlen, &c->scanned);
            if (end)
                return start_request(c, end);
            if (c->rlen == GW_READ_BUF)
                return refuse_head(c);
        }
        int rd = conn_fill(c);
        if (rd == 0)
            return ST_WAIT;
        if (rd < 0) { /* closed between requests, or in the middle of a head */
            conn_close(c, NULL);
            return ST_GONE;
        }
    }
}

static step_t step_body(gw_conn_t *c)
{
    for (;;) {
        int done = body_consume(c);
        if (done != 0) {
            if (done > 0) {
                c->req->body_done = true;
                request_ready(c);
            }
            return ST_NEXT;
        }
        c->rpos = c->rlen = 0;
        int rd = conn_fill(c);
        if (rd == 0)
            return ST_WAIT;
        if (rd < 0) {
            conn_close(c, "client_abort");
            return ST_GONE;
        }
    }
}

/* The request is over: one access-log line; the connection goes on with
 * the next request or closes. */
static step_t finish_request(gw_conn_t *c)
{
    log_request(c, c->req, c->req->outcome);
    req_free(c->req);
    c->req = NULL;
    free(c->obody);
    c->obody = NULL;
    c->req_deadline_ns = 0;
    if (c->keep_alive) {
        c->state = C_HEAD;
        return ST_NEXT;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->lingered = 0;
    c->linger_until_ns = now_ns() + (uint64_t)GW_LINGER_MS * 1000000u;
    return ST_NEXT;
}

static step_t step_write(gw_conn_t *c)
{
    const char *head = c->interim ? CONTINUE_LINE : c->out.buf;
    size_t hlen = c->interim ? sizeof CONTINUE_LINE - 1 : c->out.len;
    size_t total = hlen + (c->interim ? 0 : c->obody_len);
    while (c->ooff < total) {
        if (!c->writable)
            return ST_WAIT;
        struct iovec iov[2];
        int n = 0;
        if (c->ooff < hlen)
            iov[n++] = (struct iovec){(void *)(head + c->ooff), hlen - c->ooff};
        if (!c->interim && c->obody_len) {
            size_t boff = c->ooff > hlen ? c->ooff - hlen : 0;
            iov[n++] = (struct iovec){c->obody + boff, c->obody_len - boff};
        }
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w > 0) {
            c->ooff += (size_t)w;
            c->io_ns = now_ns();
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->writable = false;
            return ST_WAIT;
        } else {
            conn_close(c, "client_abort");
            return ST_GONE;
        }
    }
    if (c->interim) {
        c->interim = false;
        c->state = C_BODY;
        return ST_NEXT;
    }
    c->req->bytes_out += total;
    return finish_request(c);
}

/* After a closing answer: drop what the client still sends until it
 * closes too, GW_DISCARD_MAX bytes or GW_LINGER_MS. */
static step_t step_linger(gw_conn_t *c)
{
    for (;;) {
        c->rpos = c->rlen = 0;
        int rd = conn_fill(c);
        if (rd == 0)
            return ST_WAIT;
        c->lingered += c->rlen;
        if (rd < 0 || c->lingered > GW_DISCARD_MAX) {
            conn_close(c, NULL);
            return ST_GONE;
        }
    }
}

/* Runs the connection's state machine until it must wait. */
static void conn_drive(gw_conn_t *c)
{
    for (;;) {
        step_t st = ST_WAIT;
        switch (c->state) {
        case C_HEAD:
            st = step_head(c);
            break;
        case C_CONTINUE:
            st = step_write(c);
            break;
        case C_BODY:
            st = step_body(c);
            break;
        case C_WORK:
            return; /* its coroutine or the slow pool answers */
        case C_WRITE:
            st = step_write(c);
            break;
        case C_LINGER:
            st = step_linger(c);
            break;
        }
        if (st != ST_NEXT)
            return;
    }
}

/* A request that did not come in by GATEWAY_REQUEST_TIMEOUT_SECONDS (or
 * stalled for GATEWAY_CONNECTION_TIMEOUT_SECONDS): 408, then close. */
static void conn_timeout(gw_conn_t *c)
{
    if (!c->req) {
        size_t n = c->rlen - c->rpos;
        if (!(c->req = req_new(c, c->rbuf + c->rpos, n < 1024 ? n : 1024))) {
            conn_close(c, "deadline");
            return;
        }
    }
    gw_metrics_refused(c->sh->http->metrics, GW_REFUSED_DEADLINE);
    c->req->timed_out = true;
    c->req->close_after = true;
    c->req_deadline_ns = 0;
    c->state = C_WORK;
    respond_problem(c, PROTO_ERR_REQUEST_TIMEOUT, DETAIL_TIMEOUT, NULL, NULL);
    conn_drive(c);
}

/* Deadlines of every connection of the loop, every GW_SWEEP_MS. */
static void sweep(gw_shard_t *sh, uint64_t now)
{
    const gw_config_t *cfg = sh->http->opt.cfg;
    uint64_t idle = secs_ns(cfg->connection_timeout_s);
    gw_conn_t *next;
    for (gw_conn_t *c = sh->all; c; c = next) {
        next = c->next;
        bool stalled = now - c->io_ns > idle;
        bool late = c->req_deadline_ns && now > c->req_deadline_ns;
        switch (c->state) {
        case C_HEAD:
            if (c->rlen > c->rpos && (late || stalled))
                conn_timeout(c); /* part of a head */
            else if (c->rlen == c->rpos && stalled)
                conn_close(c, NULL); /* an idle keep-alive connection */
            break;
        case C_CONTINUE:
        case C_BODY:
            if (late || stalled)
                conn_timeout(c);
            break;
        case C_WRITE:
            if (stalled)
                conn_close(c, "timeout"); /* the client does not read its answer */
            break;
        case C_LINGER:
            if (now > c->linger_until_ns)
                conn_close(c, NULL);
            break;
        case C_WORK:
            /* A stream stalled, or an upload not in by its deadline. */
            if (c->io_waiter && (stalled || (late && c->io_reading))) {
                c->io_err = GW_STREAM_TIMEOUT;
                if (c->req)
                    c->req->timed_out = true;
                gw_coro_resume(c->io_waiter);
            }
            break;
        }
    }
}

static gw_conn_t *conn_new(gw_shard_t *sh, const gw_handoff_t *h)
{
    gw_conn_t *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, offsetof(gw_conn_t, out));
    c->sh = sh;
    c->fd = h->fd;
    memcpy(&c->addr, &h->addr, h->len);
    c->addrlen = h->len;
    peer_ip((const struct sockaddr *)&c->addr, c->peer, sizeof c->peer);
    c->state = C_HEAD;
    c->readable = c->writable = true;
    c->io_ns = now_ns();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(sh->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        free(c);
        return NULL;
    }
    c->next = sh->all;
    if (sh->all)
        sh->all->prev = c;
    sh->all = c;
    return c;
}

/* ---- streams (gw_stream.h) ---- */

/* Suspends the calling coroutine until its loop sees the socket ready (or
 * the sweep gives up on it). 0, or -1 with `*err`. */
static int io_wait(gw_conn_t *c, bool reading, gw_stream_err_t *err)
{
    c->io_waiter = gw_coro_current();
    c->io_reading = reading;
    c->io_err = GW_STREAM_OK;
    gw_coro_yield();
    c->io_waiter = NULL;
    if (c->io_err != GW_STREAM_OK) {
        *err = c->io_err;
        return -1;
    }
    return 0;
}

/* Sends `n` bytes, waiting while the socket is full. */
static int send_all(gw_conn_t *c, const char *data, size_t n, gw_stream_err_t *err)
{
    while (n > 0) {
        if (!c->writable && io_wait(c, false, err) != 0)
            return -1;
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w > 0) {
            data += w;
            n -= (size_t)w;
            c->io_ns = now_ns();
            if (c->req)
                c->req->bytes_out += (uint64_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->writable = false;
        } else if (!(w < 0 && errno == EINTR)) {
            *err = GW_STREAM_CLOSED;
            return -1;
        }
    }
    return 0;
}

long long gw_stream_length(const gw_stream_t *s)
{
    const gw_req_t *r = s->conn->req;
    return r->hdrs.te_count ? -1 : (long long)r->hdrs.content_length;
}

/* Body bytes from what the connection buffer holds: > 0 copied, 0 when the
 * body ended, -2 when more must be read, -1 malformed. */
static long take_buffered(gw_conn_t *c, char *buf, size_t cap)
{
    gw_req_t *r = c->req;
    while (c->rpos < c->rlen) {
        const char *in = c->rbuf + c->rpos;
        size_t avail = c->rlen - c->rpos;
        if (!r->chunked) {
            size_t take = avail < r->body_left ? avail : (size_t)r->body_left;
            take = take < cap ? take : cap;
            memcpy(buf, in, take);
            c->rpos += take;
            r->body_left -= take;
            r->body_done = r->body_left == 0;
            r->bytes_in += take;
            return (long)take;
        }
        size_t used, dlen;
        const char *data;
        gw_chunked_status_t st =
            gw_chunked_next(&r->chunk, in, avail < cap ? avail : cap, &used, &data, &dlen);
        c->rpos += used;
        if (st == GW_CHUNKED_DATA && dlen > 0) {
            memcpy(buf, data, dlen);
            r->bytes_in += dlen;
            return (long)dlen;
        }
        if (st == GW_CHUNKED_DONE) {
            r->body_done = true;
            return 0;
        }
        if (st == GW_CHUNKED_BAD)
            return -1;
    }
    return -2;
}

long gw_stream_read(gw_stream_t *s, void *buf, size_t cap, gw_stream_err_t *err)
{
    gw_conn_t *c = s->conn;
    gw_req_t *r = c->req;
    *err = GW_STREAM_OK;
    if (!gw_coro_current()) {
        *err = GW_STREAM_BUSY;
        return -1;
    }
    if (r->body_done || cap == 0)
        return 0;
    if (r->hdrs.expect_continue && r->minor == 1 && !r->continued) {
        r->continued = true;
        if (send_all(c, CONTINUE_LINE, sizeof CONTINUE_LINE - 1, err) != 0)
            return -1;
    }
    for (;;) {
        long got = take_buffered(c, buf, cap);
        if (got >= 0)
            return got;
        if (got == -1) {
            *err = GW_STREAM_BAD;
            return -1;
        }
        c->rpos = c->rlen = 0;
        int rd = conn_fill(c);
        if (rd < 0) {
            *err = GW_STREAM_CLOSED;
            return -1;
        }
        if (rd == 0 && io_wait(c, true, err) != 0)
            return -1;
    }
}

int gw_stream_start(gw_stream_t *s, int status, const char *ctype, uint64_t length,
                    const gw_stream_header_t *extra, size_t nextra, gw_stream_err_t *err)
{
    gw_conn_t *c = s->conn;
    gw_req_t *r = c->req;
    *err = GW_STREAM_OK;
    if (!gw_coro_current()) {
        *err = GW_STREAM_BUSY;
        return -1;
    }
    gw_resp_t o = {.status = status,
                   .ctype = ctype,
                   .len = (size_t)length,
                   .reply = &r->job.reply,
                   .extra = extra,
                   .nextra = nextra};
    c->keep_alive = may_keep_alive(c, r);
    add_headers(c, r, &c->out, &o);
    if (gw_out_end(&c->out) != 0) {
        *err = GW_STREAM_BAD;
        return -1;
    }
    r->status = status;
    r->stream_left = (r->head_only || !gw_out_has_body(status)) ? 0 : length;
    r->job.reply.streamed = true;
    return send_all(c, c->out.buf, c->out.len, err);
}

int gw_stream_write(gw_stream_t *s, const void *data, size_t n, gw_stream_err_t *err)
{
    gw_conn_t *c = s->conn;
    gw_req_t *r = c->req;
    *err = GW_STREAM_OK;
    if (r->head_only)
        return 0;
    if (n > r->stream_left) {
        *err = GW_STREAM_BAD;
        return -1;
    }
    if (send_all(c, data, n, err) != 0)
        return -1;
    r->stream_left -= n;
    return 0;
}

/* ---- accepting ---- */

/* The shard with the fewest connections, and whether all of them together
 * are below GATEWAY_MAX_CONNECTIONS. The search starts one further each
 * time, so equal shards take turns. */
static gw_shard_t *pick_shard(gw_http_t *self, bool *room)
{
    size_t start = atomic_fetch_add(&self->next_shard, 1) % self->nshards;
    gw_shard_t *best = NULL;
    int best_n = 0;
    long total = 0;
    for (size_t k = 0; k < self->nshards; k++) {
        gw_shard_t *sh = &self->shards[(start + k) % self->nshards];
        int n = atomic_load(&sh->conns);
        total += n;
        if (!best || n < best_n) {
            best = sh;
            best_n = n;
        }
    }
    *room = total < (long)self->opt.cfg->max_connections;
    return best;
}

/* Queues an accepted connection for the shard's loop. -1 when the inbox is
 * full. */
static int hand_over(gw_shard_t *sh, int fd, const struct sockaddr *peer, socklen_t len)
{
    if (len > (socklen_t)sizeof(struct sockaddr_storage))
        return -1;
    pthread_mutex_lock(&sh->mu);
    bool room = sh->ninbox < GW_INBOX_MAX;
    if (room) {
        gw_handoff_t *h = &sh->inbox[sh->ninbox++];
        h->fd = fd;
        memcpy(&h->addr, peer, len);
        h->len = len;
    }
    pthread_mutex_unlock(&sh->mu);
    if (room)
        wake(sh);
    return room ? 0 : -1;
}

/* An accepted connection goes to the least-loaded shard, unless the
 * connection limits say no (then it is closed at once). */
static void on_accept(void *cls, int fd, const struct sockaddr *peer, socklen_t len)
{
    gw_http_t *self = cls;
    bool room;
    gw_shard_t *sh = pick_shard(self, &room);
    if (!room || !gw_iplimit_take(self->iplimit, peer, len)) {
        rt_debug(NULL, "connection refused: %s", room ? "per-address limit" : "connection limit");
        gw_metrics_refused(self->metrics, room ? GW_REFUSED_PER_IP : GW_REFUSED_LIMIT);
        close(fd);
        return;
    }
    atomic_fetch_add(&sh->conns, 1);
    if (hand_over(sh, fd, peer, len) != 0) {
        gw_metrics_refused(self->metrics, GW_REFUSED_INBOX);
        rt_debug(NULL, "connection refused: the loop's inbox is full");
        close(fd);
        atomic_fetch_sub(&sh->conns, 1);
        gw_iplimit_release(self->iplimit, peer, len);
    }
}

/* The loop's side of hand_over and slow_finish. */
static void take_inbox(gw_shard_t *sh)
{
    gw_handoff_t batch[GW_INBOX_MAX];
    uint64_t count;
    if (read(sh->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
        rt_debug(NULL, "eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&sh->mu);
    size_t n = sh->ninbox;
    memcpy(batch, sh->inbox, n * sizeof batch[0]);
    sh->ninbox = 0;
    gw_req_t *done = sh->done;
    sh->done = NULL;
    pthread_mutex_unlock(&sh->mu);
    for (; done; done = done->done_next)
        mark_ready(done->conn);
    gw_http_t *self = sh->http;
    for (size_t i = 0; i < n; i++) {
        gw_conn_t *c = conn_new(sh, &batch[i]);
        if (!c) {
            rt_debug(NULL, "connection refused: %s", strerror(errno));
            close(batch[i].fd);
            atomic_fetch_sub(&sh->conns, 1);
            gw_iplimit_release(self->iplimit, (const struct sockaddr *)&batch[i].addr,
                               batch[i].len);
            continue;
        }
        conn_drive(c);
    }
}

/* Connections handed over but never taken (the loop stopped first). */
static void drop_inbox(gw_shard_t *sh)
{
    gw_http_t *self = sh->http;
    for (size_t i = 0; i < sh->ninbox; i++) {
        close(sh->inbox[i].fd);
        atomic_fetch_sub(&sh->conns, 1);
        gw_iplimit_release(self->iplimit, (const struct sockaddr *)&sh->inbox[i].addr,
                           sh->inbox[i].len);
    }
    sh->ninbox = 0;
}

/* ---- the event loops ---- */

/* Answers the requests whose work is over. */
static void run_ready(gw_shard_t *sh)
{
    while (sh->ready) {
        gw_conn_t *c = sh->ready;
        sh->ready = c->ready_next;
        c->in_ready = false;
        gw_req_t *r = c->req;
        if (c->state != C_WORK || !r)
            continue;
        if (atomic_load_explicit(&r->slow, memory_order_acquire) == SLOW_DONE)
            respond_reply(c, &r->job.reply);
        else if (r->fast == FAST_DONE)
            answer(c);
        conn_drive(c);
    }
}

static void take_events(gw_shard_t *sh)
{
    struct epoll_event ev[EVENTS_MAX];
    int n = epoll_wait(sh->epfd, ev, EVENTS_MAX, 0);
    for (int i = 0; i < n; i++) {
        gw_conn_t *c = ev[i].data.ptr;
        if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            c->readable = true;
        if (ev[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            c->writable = true;
        if (c->state != C_WORK)
            conn_drive(c);
        else if (c->io_waiter) /* a streamed body or response waits for the socket */
            gw_coro_resume(c->io_waiter);
    }
}

/* How long the loop may sleep: until the next sweep or the nearest
 * backend deadline, at most GW_LOOP_TICK_MS. */
static long loop_timeout(const gw_shard_t *sh, uint64_t now)
{
    if (sh->ready)
        return 0;
    long t = GW_LOOP_TICK_MS;
    if (sh->all) {
        long s = sh->next_sweep_ns > now ? (long)((sh->next_sweep_ns - now) / 1000000u) + 1 : 0;
        if (s < t)
            t = s;
    }
    long rt = sh->rpc ? gw_rpc_timeout_ms(sh->rpc) : -1;
    if (rt >= 0 && rt < t)
        t = rt;
    return t;
}

static void loop_turn(gw_shard_t *sh)
{
    zmq_pollitem_t items[2 + GW_RPC_ITEMS_MAX] = {
        {.fd = sh->epfd, .events = ZMQ_POLLIN},
        {.fd = sh->wake_fd, .events = ZMQ_POLLIN},
    };
    int n = 2;
    if (sh->rpc)
        n += gw_rpc_items(sh->rpc, items + 2, GW_RPC_ITEMS_MAX);
    if (zmq_poll(items, n, loop_timeout(sh, now_ns())) < 0 && errno != EINTR)
        rt_error(NULL, "HTTP loop: zmq_poll: %s", strerror(errno));
    if (items[1].revents & ZMQ_POLLIN)
        take_inbox(sh);
    if (sh->rpc)
        gw_rpc_process(sh->rpc);
    take_events(sh);
    run_ready(sh);
    uint64_t now = now_ns();
    if (now >= sh->next_sweep_ns) {
        sweep(sh, now);
        sh->next_sweep_ns = now + (uint64_t)GW_SWEEP_MS * 1000000u;
    }
}

/* A stopping loop: every call still out fails and every stream waiting for
 * its client is told it closed, so every coroutine ends and its request is
 * answered (one attempt to send it); then every connection closes. */
static void loop_close(gw_shard_t *sh)
{
    if (sh->rpc)
        gw_rpc_shutdown(sh->rpc);
    /* Streams waiting for a client end too: their handlers unwind (an
     * upload aborts, its calls now failing at once) and finish. */
    for (gw_conn_t *c = sh->all; c; c = c->next) {
        if (c->io_waiter) {
            c->io_err = GW_STREAM_CLOSED;
            gw_coro_resume(c->io_waiter);
        }
    }
    take_inbox(sh);
    run_ready(sh);
    while (sh->all) {
        gw_conn_t *c = sh->all;
        if (c->state == C_WRITE && c->writable)
            conn_drive(c);
        if (sh->all == c)
            conn_close(c, "shutdown");
    }
}

static void *shard_loop(void *arg)
{
    gw_shard_t *sh = arg;
    gw_coro_setup(GW_CORO_PER_LOOP, 0);
    gw_rpc_attach(sh->rpc);
    while (!atomic_load(&sh->quit))
        loop_turn(sh);
    loop_close(sh);
    gw_rpc_attach(NULL);
    gw_coro_teardown();
    return NULL;
}

static void fast_work(gw_req_t *r)
{
    gw_http_t *self = r->http;
    gw_job_t *j = &r->job;
    const gw_route_t *route = r->match.route;
    j->out = OUT_REPLY;
    if (route->permission) {
        if (gw_api_authorize(self->opt.ctx, &j->req, route->permission, &j->principal, &j->reply) !=
            0)
            return;
        j->req.principal = &j->principal;
    } else if ((route->flags & GW_ROUTE_LIMITED) && limit_anonymous(self, j) != 0) {
        return;
    }
    j->out_err = take_body(r, &j->body, &j->out_detail, &j->out_errors);
    if (j->out_err != PROTO_OK) { /* answered with the limiter state authorize reported */
        j->out = OUT_PROBLEM;
        return;
    }
    j->req.body = j->body;
    if (!cookie_origin_ok(self, r)) {
        rt_warn(r->rid, "refresh cookie sent from an origin that may not use it");
        j->out = OUT_PROBLEM;
        j->out_err = PROTO_ERR_FORBIDDEN;
        j->out_detail = "This origin may not use the session cookie";
        return;
    }
    if (route->flags & GW_ROUTE_SLOW) {
        j->out = OUT_SLOW;
        return;
    }
    route->handler(self->opt.ctx, &j->req, &j->reply);
}

/* ---- life cycle ---- */

gw_http_t *gw_http_new(const gw_http_options_t *opt)
{
    if (!opt || !opt->cfg || !opt->routes || !opt->ctx)
        return NULL;
    gw_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->opt = *opt;
    atomic_init(&self->in_flight, 0);
    atomic_init(&self->stopping, false);
    atomic_init(&self->running, false);
    int n = gw_config_split_origins(opt->cfg->cors_origins, self->origins, GW_CORS_ORIGINS_MAX);
    if (n < 0) {
        free(self);
        return NULL;
    }
    self->norigins = (size_t)n;
    self->slow = gw_slow_new((int)opt->cfg->slow_workers, (int)opt->cfg->slow_queue,
                             opt->cfg->slow_max_wait_ms);
    self->nshards = opt->cfg->threads > 0 ? (size_t)opt->cfg->threads : 1;
    self->shards = calloc(self->nshards, sizeof *self->shards);
    if (!self->slow || !self->shards) {
        gw_http_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < self->nshards; i++) {
        gw_shard_t *sh = &self->shards[i];
        sh->epfd = -1;
        sh->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (sh->wake_fd < 0 || pthread_mutex_init(&sh->mu, NULL) != 0) {
            if (sh->wake_fd >= 0)
                close(sh->wake_fd);
            sh->wake_fd = -1;
            gw_http_destroy(&self);
            return NULL;
        }
        self->ninit = i + 1;
    }
    return self;
}

/* The shard's backend links: its own DEALER per service (gw_rpc). */
static int shard_rpc(gw_http_t *self, gw_shard_t *sh)
{
    const gw_ctx_t *ctx = self->opt.ctx;
    const gw_config_t *cfg = self->opt.cfg;
    if (!self->opt.zctx)
        return 0;
    proto_limits_t lim = proto_limits_default();
    proto_limits_t files = proto_limits_files(); /* file parts and reads go to storesvc */
    sh->rpc = gw_rpc_new(self->opt.zctx, &lim);
    if (!sh->rpc ||
        (ctx->authsvc &&
         gw_rpc_add_limits(sh->rpc, ctx->authsvc, cfg->authsvc_endpoints, (int)cfg->rpc_timeout_ms,
                           &lim, GW_BACKEND_AUTHSVC) != 0) ||
        (ctx->storesvc &&
         gw_rpc_add_limits(sh->rpc, ctx->storesvc, cfg->storesvc_endpoints,
                           (int)cfg->rpc_timeout_ms, &files, GW_BACKEND_STORESVC) != 0)) {
        gw_rpc_destroy(&sh->rpc);
        return -1;
    }
    gw_rpc_set_metrics(sh->rpc, self->metrics);
    return 0;
}

/* Starts one loop thread per GATEWAY_THREADS. */
static int start_shards(gw_http_t *self)
{
    for (size_t i = 0; i < self->nshards; i++) {
        gw_shard_t *sh = &self->shards[i];
        sh->http = self;
        atomic_store(&sh->conns, 0);
        atomic_store(&sh->quit, false);
        sh->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (sh->epfd < 0 || shard_rpc(self, sh) != 0)
            return -1;
        if (pthread_create(&sh->thread, NULL, shard_loop, sh) != 0)
            return -1;
        sh->thread_started = true;
    }
    return 0;
}

/* Stops the loops (each closes its connections). */
static void stop_shards(gw_http_t *self)
{
    for (size_t i = 0; i < self->nshards; i++) {
        gw_shard_t *sh = &self->shards[i];
        if (!sh->thread_started)
            continue;
        atomic_store(&sh->quit, true);
        wake(sh);
    }
    for (size_t i = 0; i < self->nshards; i++) {
        gw_shard_t *sh = &self->shards[i];
        if (sh->thread_started)
            pthread_join(sh->thread, NULL);
        sh->thread_started = false;
        drop_inbox(sh);
        gw_rpc_destroy(&sh->rpc);
        if (sh->epfd >= 0)
            close(sh->epfd);
        sh->epfd = -1;
    }
}

int gw_http_start(gw_http_t *self)
{
    const gw_config_t *cfg = self->opt.cfg;
    self->iplimit = gw_iplimit_new((size_t)cfg->max_connections + GW_IPLIMIT_SLACK,
                                   (unsigned)cfg->max_connections_per_ip);
    if (!self->iplimit) {
        rt_error(NULL, "cannot allocate the per-address connection table");
        return -1;
    }
    if (gw_slow_start(self->slow) != 0) {
        rt_error(NULL, "cannot start the slow-request pool (GATEWAY_SLOW_WORKERS)");
        gw_iplimit_destroy(&self->iplimit);
        return -1;
    }
    self->acceptor =
        gw_accept_new((const struct sockaddr *)&cfg->bind_addr, cfg->bind_addrlen, on_accept, self);
    if (!self->acceptor) {
        rt_error(NULL, "cannot listen on GATEWAY_BIND %s: %s", cfg->bind, strerror(errno));
        gw_slow_stop(self->slow);
        gw_iplimit_destroy(&self->iplimit);
        return -1;
    }
    if (start_shards(self) != 0 || gw_accept_start(self->acceptor) != 0) {
        rt_error(NULL, "cannot start the HTTP server on GATEWAY_BIND %s", cfg->bind);
        gw_accept_pause(self->acceptor);
        gw_slow_stop(self->slow);
        stop_shards(self);
        gw_accept_destroy(&self->acceptor);
        gw_iplimit_destroy(&self->iplimit);
        return -1;
    }
    self->port = gw_accept_port(self->acceptor);
    atomic_store(&self->running, true);
    return 0;
}

uint16_t gw_http_port(const gw_http_t *self)
{
    return self ? self->port : 0;
}

void gw_http_quiesce(gw_http_t *self)
{
    if (!self || !atomic_load(&self->running) || atomic_exchange(&self->stopping, true))
        return;
    gw_accept_pause(self->acceptor); /* no new connections; the socket stays open */
}

int gw_http_in_flight(gw_http_t *self)
{
    return self ? atomic_load(&self->in_flight) : 0;
}

void gw_http_set_metrics(gw_http_t *self, gw_metrics_t *metrics)
{
    if (self)
        self->metrics = metrics;
}

double gw_http_metric_open_connections(void *arg)
{
    gw_http_t *self = arg;
    long n = 0;
    for (size_t i = 0; self && i < self->nshards; i++)
        n += atomic_load(&self->shards[i].conns);
    return (double)n;
}

double gw_http_metric_in_flight(void *arg)
{
    return (double)gw_http_in_flight(arg);
}

void gw_http_stop(gw_http_t *self)
{
    if (!self || !atomic_load(&self->running))
        return;
    atomic_store(&self->stopping, true);
    gw_accept_pause(self->acceptor);
    /* Stopping the pool answers every queued slow job (503) and waits for
     * the running ones; each lands on its loop's done list, which the
     * loops answer before they close their connections. */
    gw_slow_stop(self->slow);
    stop_shards(self);
    atomic_store(&self->running, false);
    gw_accept_destroy(&self->acceptor);
    gw_iplimit_destroy(&self->iplimit);
}

void gw_http_destroy(gw_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_http_t *self = *self_p;
    gw_http_stop(self);
    gw_slow_destroy(&self->slow);
    for (size_t i = 0; i < self->norigins; i++)
        free(self->origins[i]);
    for (size_t i = 0; i < self->ninit; i++) {
        close(self->shards[i].wake_fd);
        pthread_mutex_destroy(&self->shards[i].mu);
    }
    free(self->shards);
    free(self);
    *self_p = NULL;
}
