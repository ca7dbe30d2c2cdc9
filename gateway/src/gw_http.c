/*
 * gw_http: the libmicrohttpd server. The request life cycle is:
 *
 *   URI callback      -> request context: start time, deadline, request id
 *   first call        -> bounds and framing checks, route match, media type,
 *                        declared length, client IP; any error is kept as
 *                        "pending"
 *   body calls        -> bounded accumulation (JSON routes) or discarding
 *   last call         -> pending error, CORS preflight, or auth.authorize
 *                        (protected routes) + parse + field check + handler
 *   completed         -> one access-log line, context freed
 *
 * Threads: GATEWAY_THREADS event loops, each driving one libmicrohttpd
 * daemon in external-poll mode (shard_loop) together with its own backend
 * sockets (gw_rpc). The work of a request (authorise, body, handler) runs
 * on a coroutine of its loop (gw_coro); a backend call sends a tagged
 * request and yields, the connection is suspended, and the loop serves
 * other connections until the reply (or the deadline) resumes the
 * coroutine, which resumes the connection; the access-handler call that
 * follows answers. So a loop thread never sleeps on a backend, and the
 * number of threads does not bound the requests in flight.
 *
 * Slow routes (route->slow: their op hashes a password) never run their
 * handler on a loop thread. The last call copies what the handler needs
 * into the request context (gw_job_t), suspends the connection and hands
 * the job to the slow pool (gw_slow); the pool thread runs the handler,
 * stores the reply, marks the job done and resumes the connection, and the
 * access-handler call that follows the resume queues the stored reply. A
 * full pool answers 503 the same way (resumed at once). Suspended
 * connections have no deadline (disarmed before any handler) and
 * libmicrohttpd does not time them out; gw_http_stop stops the pool (queued
 * jobs answered 503, running ones finished, every connection resumed)
 * before it stops libmicrohttpd, which must never see a suspended
 * connection at stop.
 *
 * Why the split: libmicrohttpd 0.9.75 closes the connection when a response
 * is queued in the first call, so only errors that must not read a body
 * (oversized Content-Length, ambiguous framing) are answered there.
 * libmicrohttpd also resolves a duplicated Content-Length to the first one and
 * lets Transfer-Encoding win over Content-Length; both are rejected here.
 */
#include "gw_http.h"
#include "gw_accept.h"
#include "gw_api.h"
#include "gw_clientip.h"
#include "gw_coro.h"
#include "gw_headers.h"
#include "gw_iplimit.h"
#include "gw_problem.h"
#include "gw_reaper.h"
#include "gw_rpc.h"
#include "gw_slow.h"
#include "rt_uuid.h"
#include "rt_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* A connection accepted by gw_accept, waiting for its shard's loop. */
typedef struct {
    int fd;
    struct sockaddr_storage addr;
    socklen_t len;
} gw_handoff_t;

/* One libmicrohttpd daemon driven by one event-loop thread: each
 * connection lives on the shard that had the fewest when it was accepted
 * (see gw_accept.h). The loop polls the daemon's epoll descriptor, its
 * inbox and its backend sockets (gw_rpc) together. */
typedef struct {
    gw_http_t *http;
    struct MHD_Daemon *d;
    atomic_int conns; /* counted when handed over, uncounted when closed */
    gw_rpc_t *rpc;    /* NULL: backend calls block the loop (no ZeroMQ context given) */
    pthread_t thread;
    bool thread_started;
    atomic_bool quit;
    int wake_fd; /* eventfd: the inbox has connections, or quit was set */
    int epfd;    /* the daemon's epoll descriptor, polled by the loop */
    pthread_mutex_t mu;
    gw_handoff_t inbox[GW_INBOX_MAX]; /* guarded by mu */
    size_t ninbox;
    bool kick; /* the loop resumed a connection itself: run the daemon again at once */
} gw_shard_t;

/* The shard whose loop runs on this thread, NULL on other threads. */
static _Thread_local gw_shard_t *tls_shard;

struct gw_http {
    gw_http_options_t opt;
    gw_shard_t *shards; /* GATEWAY_THREADS of them, all running while started */
    size_t nshards;
    size_t ninit;           /* shards whose wake_fd and mutex exist */
    atomic_uint next_shard; /* where the least-loaded search starts: ties rotate */
    gw_iplimit_t *iplimit;  /* GATEWAY_MAX_CONNECTIONS_PER_IP over all shards */
    gw_reaper_t *reaper;    /* absolute deadlines (header and body trickle) */
    gw_slow_t *slow;        /* runs the handlers of slow routes */
    gw_accept_t *acceptor;  /* owns the listening socket */
    char *origins[GW_CORS_ORIGINS_MAX];
    size_t norigins;
    atomic_int in_flight;
    atomic_bool stopping;
    atomic_bool running; /* MHD messages are warnings until the daemon runs */
    uint16_t port;
};

/* What the first call learns from the request headers in one pass. */
typedef struct {
    size_t bytes;
    int cl_count, te_count;
    bool te_chunked;
    uint64_t content_length;
    const char *content_type; /* borrowed from libmicrohttpd for the request */
    const char *origin;
    const char *acr_method; /* Access-Control-Request-Method */
    const char *authorization;
    int authz_count;
    const char *user_agent;
} gw_hdrs_t;

/* Everything a handler reads, owned by the request context (never by
 * libmicrohttpd), so that it may run on a slow-pool thread while the
 * connection is suspended. */
typedef struct {
    gw_request_t req;
    gw_reply_t reply;
    gw_principal_t principal;
    json_t *body;
    char *path, *bearer, *user_agent, *cookies;
    struct MHD_Connection *conn; /* the connection, for suspending and resuming it */
    int out;                     /* OUT_*: how the work before the answer ended */
    proto_err_t out_err;         /* OUT_PROBLEM: the problem, its detail and errors */
    const char *out_detail;
    json_t *out_errors;
} gw_job_t;

/* Where a slow request is; only the pool thread moves RUNNING to DONE. */
enum { SLOW_NONE, SLOW_RUNNING, SLOW_DONE };

/* Where the work before the answer is (loop thread only): running on a
 * coroutine that waits for a backend (the connection is suspended), or done. */
enum { FAST_NONE, FAST_RUNNING, FAST_DONE };

/* How it ended: the reply in job.reply, a problem (job.out_*), or a slow
 * route whose handler goes to the slow pool. */
enum { OUT_REPLY, OUT_PROBLEM, OUT_SLOW };

typedef struct {
    gw_http_t *http;
    gw_shard_t *shard;      /* whose loop drives the connection */
    gw_reaper_slot_t *slot; /* the connection's deadline; may be NULL */
    uint64_t start_ns, deadline_ns;
    char rid[RT_UUID_BUF];
    char peer[GW_IP_MAX];           /* the TCP peer */
    char client_ip[GW_IP_MAX];      /* resolved through LOGIN_TRUSTED_PROXY_IPS */
    char *query;                    /* raw query string, NULL when none */
    char method[16];                /* for the log, sanitised */
    char path[GW_LOG_PATH_MAX + 1]; /* for the log, sanitised */
    const char *url, *mhd_method;   /* borrowed from libmicrohttpd */
    bool started, uri_too_long, preflight, dropped;
    int status;
    gw_hdrs_t hdrs;
    gw_match_result_t mres;
    gw_match_t match;
    proto_err_t pending; /* error decided before the handler; PROTO_OK if none */
    const char *pending_detail;
    char *body;
    size_t body_len, body_cap, discarded;
    gw_job_t job;
    atomic_int slow;     /* SLOW_* */
    int fast;            /* FAST_* */
    bool fast_suspended; /* the connection was suspended while the work waited */
} gw_req_t;

/* A reply ready to be queued; `body` is heap memory handed to libmicrohttpd. */
typedef struct {
    int status;
    const char *ctype;
    char *body;
    size_t len;
    const char *allow;
    const gw_reply_t *reply; /* its rate-limit, challenge and cookie headers; may be NULL */
    bool preflight;
} gw_out_t;

static const struct {
    const char *name, *value;
} security_headers[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "strict-origin-when-cross-origin"},
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
    {"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"},
};

#define CORS_ALLOW_HEADERS "Authorization, Content-Type, X-API-Key"
#define CORS_EXPOSE_HEADERS                                                                        \
    "X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"
#define HSTS_VALUE "max-age=31536000; includeSubDomains"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Copies at most `n` bytes of `src`, printable ASCII only, so log lines stay
 * valid JSON and single-line. */
static void copy_sanitised(char *dst, size_t cap, const char *src, size_t n)
{
    size_t i = 0;
    for (; src && i < n && src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[i] = '\0';
}

/* The TCP peer; IPv4-mapped IPv6 addresses count as IPv4. */
static void peer_ip(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
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

static gw_shard_t *shard_of(gw_http_t *self, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
    for (size_t i = 0; ci && i < self->nshards; i++)
        if (self->shards[i].d == ci->daemon)
            return &self->shards[i];
    return NULL;
}

static gw_req_t *req_new(gw_http_t *self, struct MHD_Connection *conn)
{
    gw_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->http = self;
    r->start_ns = now_ns();
    r->deadline_ns = r->start_ns + (uint64_t)self->opt.cfg->request_timeout_s * 1000000000u;
    r->pending = PROTO_OK;
    rt_uuid_v4(r->rid);
    peer_ip(conn, r->peer, sizeof r->peer);
    memcpy(r->client_ip, r->peer, sizeof r->client_ip);
    gw_reply_init(&r->job.reply);
    atomic_init(&r->slow, SLOW_NONE);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->slot = ci ? ci->socket_context : NULL;
    r->shard = shard_of(self, conn);
    gw_reaper_arm(self->reaper, r->slot, r->deadline_ns);
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

/* ---- headers of the reply ---- */

static const char *allowed_origin(const gw_http_t *self, const char *origin)
{
    for (size_t i = 0; origin && i < self->norigins; i++) {
        if (strcasecmp(origin, self->origins[i]) == 0)
            return self->origins[i];
    }
    return NULL;
}

static int add_cors(gw_http_t *self, const gw_req_t *r, struct MHD_Response *resp,
                    const gw_out_t *o)
{
    int ok = MHD_YES;
    if (self->norigins > 0 && r->hdrs.origin)
        ok &= MHD_add_response_header(resp, "Vary", "Origin");
    const char *origin = allowed_origin(self, r->hdrs.origin);
    if (!origin)
        return ok;
    ok &= MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    ok &= MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
    if (o->preflight) {
        ok &= MHD_add_response_header(resp, "Access-Control-Allow-Methods", r->match.allow);
        ok &= MHD_add_response_header(resp, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
        ok &= MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    } else {
        ok &= MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    }
    return ok;
}

static int add_headers(gw_http_t *self, const gw_req_t *r, struct MHD_Response *resp,
                       const gw_out_t *o)
{
    int ok = MHD_add_response_header(resp, "X-Request-ID", r->rid);
    for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++)
        ok &= MHD_add_response_header(resp, security_headers[i].name, security_headers[i].value);
    if (r->url && strncmp(r->url, "/api/", 5) == 0)
        ok &= MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (self->opt.cfg->hsts_enabled)
        ok &= MHD_add_response_header(resp, "Strict-Transport-Security", HSTS_VALUE);
    if (o->ctype)
        ok &= MHD_add_response_header(resp, "Content-Type", o->ctype);
    if (o->allow && *o->allow)
        ok &= MHD_add_response_header(resp, "Allow", o->allow);
    if (o->reply) {
        gw_headers_t hs;
        gw_headers_for_reply(o->reply, &hs);
        for (size_t i = 0; i < hs.n; i++)
            ok &= MHD_add_response_header(resp, hs.h[i].name, hs.h[i].value);
    }
    if (atomic_load(&self->stopping))
        ok &= MHD_add_response_header(resp, "Connection", "close");
    return ok & add_cors(self, r, resp, o);
}

/* ---- queuing replies ---- */

static enum MHD_Result send_out(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r,
                                gw_out_t *o)
{
    struct MHD_Response *resp;
    if (o->body)
        resp = MHD_create_response_from_buffer(o->len, o->body, MHD_RESPMEM_MUST_FREE);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(o->body);
        return MHD_NO;
    }
    o->body = NULL; /* libmicrohttpd owns it now */
    enum MHD_Result rc = MHD_NO;
    if (add_headers(self, r, resp, o) == MHD_YES)
        rc = MHD_queue_response(conn, (unsigned)o->status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES)
        r->status = o->status;
    return rc;
}

static enum MHD_Result send_problem(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r,
                                    proto_err_t err, const char *detail, const json_t *errors,
                                    const gw_reply_t *reply)
{
    gw_out_t o = {
        .status = gw_problem_status(err), .ctype = "application/problem+json", .reply = reply};
    o.body = gw_problem_dumps(err, detail, r->rid, errors, &o.len);
    if (!o.body)
        return MHD_NO;
    if (err == PROTO_ERR_METHOD_NOT_ALLOWED)
        o.allow = r->match.allow;
    return send_out(self, conn, r, &o);
}

/* OPTIONS on a known path: a CORS preflight when the origin is allowed and
 * the browser asks for a method, a plain 204 with Allow otherwise. */
static enum MHD_Result send_options(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r)
{
    gw_out_t o = {.status = 204, .allow = r->match.allow};
    o.preflight = r->hdrs.acr_method && allowed_origin(self, r->hdrs.origin);
    return send_out(self, conn, r, &o);
}

static enum MHD_Result send_reply(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r,
                                  const gw_reply_t *reply)
{
    if (reply->err != PROTO_OK) {
        if (gw_problem_status(reply->err) >= 500)
            rt_error(r->rid, "%s %s failed: %s: %s", r->method, r->path, proto_err_code(reply->err),
                     reply->detail);
        return send_problem(self, conn, r, reply->err, reply->detail, reply->errors, reply);
    }
    gw_out_t o = {.status = reply->status ? reply->status : 200, .reply = reply};
    if (reply->json) {
        o.body = json_dumps(reply->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!o.body)
            return send_problem(self, conn, r, PROTO_ERR_INTERNAL_ERROR, NULL, NULL, reply);
        o.len = strlen(o.body);
        o.ctype = "application/json";
    }
    return send_out(self, conn, r, &o);
}

/* ---- first call: checks on the request line and headers ---- */

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    gw_hdrs_t *h = cls;
    h->bytes += key_size + value_size + 4; /* ": " and CRLF */
    if (strcasecmp(key, "Content-Length") == 0) {
        if (h->cl_count++ == 0)
            h->content_length = strtoull(value, NULL, 10);
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        h->te_count++;
        h->te_chunked = strcasecmp(value, "chunked") == 0;
    } else if (strcasecmp(key, "Content-Type") == 0 && !h->content_type) {
        h->content_type = value;
    } else if (strcasecmp(key, "Origin") == 0 && !h->origin) {
        h->origin = value;
    } else if (strcasecmp(key, "Access-Control-Request-Method") == 0) {
        h->acr_method = value;
    } else if (strcasecmp(key, "Authorization") == 0) {
        if (h->authz_count++ == 0)
            h->authorization = value;
    } else if (strcasecmp(key, "User-Agent") == 0 && !h->user_agent) {
        h->user_agent = value;
    }
    return MHD_YES;
}

static bool has_body(const gw_hdrs_t *h)
{
    return h->te_count > 0 || h->content_length > 0;
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

static proto_err_t check_uri(gw_http_t *self, gw_req_t *r, const char **detail)
{
    *detail = "The request target is too long";
    return r->uri_too_long ? PROTO_ERR_URI_TOO_LONG : PROTO_OK;
}

static proto_err_t check_header_size(gw_http_t *self, gw_req_t *r, const char **detail)
{
    *detail = "The request headers are too large";
    return r->hdrs.bytes > GW_HEADER_BYTES_MAX ? PROTO_ERR_HEADER_TOO_LARGE : PROTO_OK;
}

static proto_err_t check_framing(gw_http_t *self, gw_req_t *r, const char **detail)
{
    const gw_hdrs_t *h = &r->hdrs;
    *detail = "Ambiguous message framing: conflicting or repeated length headers";
    if (h->cl_count > 1 || h->te_count > 1 || (h->te_count && h->cl_count))
        return PROTO_ERR_BAD_REQUEST;
    *detail = "Unsupported Transfer-Encoding";
    return (h->te_count && !h->te_chunked) ? PROTO_ERR_BAD_REQUEST : PROTO_OK;
}

static proto_err_t check_route(gw_http_t *self, gw_req_t *r, const char **detail)
{
    r->mres = gw_route_match(self->opt.routes, self->opt.nroutes, r->mhd_method, r->url, &r->match);
    if (r->mres == GW_MATCH_NOT_FOUND) {
        *detail = "The requested resource was not found";
        return PROTO_ERR_NOT_FOUND;
    }
    if (r->mres == GW_MATCH_METHOD_NOT_ALLOWED) {
        r->preflight = strcmp(r->mhd_method, "OPTIONS") == 0;
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

static proto_err_t check_length(gw_http_t *self, gw_req_t *r, const char **detail)
{
    *detail = "The request body is too large";
    if (r->hdrs.content_length > (uint64_t)self->opt.cfg->max_json_bytes)
        return PROTO_ERR_PAYLOAD_TOO_LARGE;
    return PROTO_OK;
}

/* In order: the first failing check decides the answer. */
static const precheck_fn prechecks[] = {
    check_uri, check_header_size, check_framing, check_route, check_media_type, check_length,
};

/* Joins every line of one header, in order, with `sep`. */
typedef struct {
    const char *name, *sep;
    char *buf; /* NULL while no line was seen */
    size_t len;
    bool oom;
} joiner_t;

static enum MHD_Result join_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    joiner_t *j = cls;
    if (j->oom || strcasecmp(key, j->name) != 0)
        return MHD_YES;
    size_t sl = j->buf ? strlen(j->sep) : 0;
    char *nb = realloc(j->buf, j->len + sl + value_size + 1);
    if (!nb) {
        j->oom = true;
        return MHD_YES;
    }
    memcpy(nb + j->len, j->sep, sl);
    memcpy(nb + j->len + sl, value, value_size);
    j->len += sl + value_size;
    nb[j->len] = '\0';
    j->buf = nb;
    return MHD_YES;
}

/* A heap string of every `name` line joined by `sep`; NULL when none (or OOM). */
static char *joined_header(struct MHD_Connection *conn, const char *name, const char *sep)
{
    joiner_t j = {.name = name, .sep = sep};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, join_header, &j);
    if (j.oom) {
        free(j.buf);
        return NULL;
    }
    return j.buf;
}

/* The client address behind our trusted proxies (API.md, "Client IP").
 * X-Forwarded-For may come as several lines: they are one list, in order. */
static void resolve_client_ip(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r)
{
    const gw_trusted_t *trusted = self->opt.cfg->trusted;
    if (gw_trusted_count(trusted) == 0)
        return; /* the peer, already in client_ip */
    char *xff = joined_header(conn, "X-Forwarded-For", ",");
    const char *xri = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Real-IP");
    char out[GW_CLIENTIP_LEN];
    if (gw_clientip_resolve(trusted, r->peer, xff, xri, out, sizeof out) == 0)
        snprintf(r->client_ip, sizeof r->client_ip, "%s", out);
    free(xff);
}

static enum MHD_Result on_headers(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r,
                                  const char *url, const char *method)
{
    r->started = true;
    r->url = url;
    r->mhd_method = method;
    copy_sanitised(r->method, sizeof r->method, method, SIZE_MAX);
    copy_sanitised(r->path, sizeof r->path, url, SIZE_MAX);
    if (now_ns() > r->deadline_ns) {
        r->dropped = true; /* headers trickled in past the deadline */
        return MHD_NO;
    }
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, count_header, &r->hdrs);
    for (size_t i = 0; i < sizeof prechecks / sizeof prechecks[0]; i++) {
        r->pending = prechecks[i](self, r, &r->pending_detail);
        if (r->pending != PROTO_OK)
            break;
    }
    /* An error with a body to follow is answered now, so the body is never
     * read (libmicrohttpd then closes the connection). Otherwise wait for the
     * next call, which keeps the connection alive. */
    if (r->pending != PROTO_OK && has_body(&r->hdrs))
        return send_problem(self, conn, r, r->pending, r->pending_detail, NULL, NULL);
    resolve_client_ip(self, conn, r);
    return MHD_YES;
}

/* ---- body calls ---- */

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

static void set_pending(gw_req_t *r, proto_err_t err)
{
    if (err == PROTO_ERR_INTERNAL_ERROR)
        rt_error(r->rid, "out of memory buffering a request body");
    r->pending = err;
    r->pending_detail = err == PROTO_ERR_PAYLOAD_TOO_LARGE ? "The request body is too large" : NULL;
}

static enum MHD_Result on_body(gw_http_t *self, gw_req_t *r, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    if (now_ns() > r->deadline_ns) {
        r->dropped = true; /* a body trickling in: drop, a reply would wait for it */
        return MHD_NO;
    }
    size_t max = (size_t)self->opt.cfg->max_json_bytes;
    if (r->pending == PROTO_OK && route_takes_json(r)) {
        proto_err_t err = body_append(r, data, n, max);
        if (err == PROTO_OK)
            return MHD_YES;
        set_pending(r, err);
    }
    r->discarded += n;
    if (r->pending == PROTO_OK && r->discarded > max)
        set_pending(r, PROTO_ERR_PAYLOAD_TOO_LARGE);
    /* An answer cannot go out before the body ends; stop reading a flood. */
    return r->discarded > GW_DISCARD_MAX ? MHD_NO : MHD_YES;
}

/* ---- last call ---- */

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
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
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
    return PROTO_OK;
}

/* Copies what the handler reads out of libmicrohttpd's memory into the job
 * (the body comes later, once authorised). Returns 0 or -1 (out of memory). */
static int job_init(struct MHD_Connection *conn, gw_req_t *r)
{
    gw_job_t *j = &r->job;
    j->path = strndup(r->url, strcspn(r->url, "?"));
    j->cookies = joined_header(conn, "Cookie", "; ");
    if (r->hdrs.authz_count == 1 && (j->bearer = malloc(GW_BEARER_MAX + 1)) &&
        gw_bearer_parse(r->hdrs.authorization, j->bearer, GW_BEARER_MAX + 1) != 0) {
        free(j->bearer); /* malformed or duplicated: as if absent (authsvc answers 401) */
        j->bearer = NULL;
    }
    if (r->hdrs.user_agent && r->hdrs.user_agent[0] && (j->user_agent = malloc(GW_UA_MAX + 1)))
        gw_sanitise_ascii(j->user_agent, GW_UA_MAX + 1, r->hdrs.user_agent);
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
                            .user_agent = j->user_agent,
                            .cookies = j->cookies,
                            .call = r->match.route->call};
    return 0;
}

/* ---- slow routes ---- */

static void wake(gw_shard_t *sh)
{
    uint64_t one = 1;
    if (write(sh->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        rt_warn(NULL, "cannot wake an HTTP loop: %s", strerror(errno));
}

/* Resumes r's connection and makes sure its loop runs the daemon soon:
 * libmicrohttpd 0.9.75 in external-poll mode does not make its epoll
 * descriptor readable for a resume, so the loop that resumes one itself
 * runs the daemon again without sleeping, and another thread (the slow
 * pool) wakes the loop through its eventfd. */
static void resume(gw_req_t *r)
{
    gw_shard_t *sh = r->shard;
    MHD_resume_connection(r->job.conn); /* from here on `r` may be completed and freed */
    if (tls_shard && tls_shard == sh)
        sh->kick = true;
    else if (sh)
        wake(sh);
}

/* The job is over: publish the reply, then let libmicrohttpd go on. */
static void slow_finish(gw_req_t *r)
{
    atomic_store_explicit(&r->slow, SLOW_DONE, memory_order_release);
    resume(r);
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

/* Suspends first: a pool thread may resume the connection at once, and
 * resuming one that is not suspended is undefined in libmicrohttpd. */
static enum MHD_Result start_slow(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r)
{
    atomic_store_explicit(&r->slow, SLOW_RUNNING, memory_order_relaxed);
    MHD_suspend_connection(conn);
    if (gw_slow_submit(self->slow, slow_run, slow_cancel, r) != 0) {
        bool stopping = atomic_load(&self->stopping);
        gw_reply_error(&r->job.reply, PROTO_ERR_UNAVAILABLE,
                       stopping ? "The server is shutting down"
                                : "Too many requests in progress. Please try again later.");
        r->job.reply.retry_after = stopping ? -1 : 1;
        slow_finish(r); /* answered by the call that follows the resume */
    }
    return MHD_YES;
}

/* Authorisation, the body and (fast routes) the handler: everything
 * between a whole request and its answer that may wait for a backend.
 * Order: auth.authorize for protected routes, then the body's JSON and
 * fields, then the handler. Authorising before looking at the body means a
 * caller without a valid credential (or permission) learns nothing about a
 * route's body rules: 401/403, never 400/422. Authorising is fast, so it
 * runs here even for slow routes, and unauthorised requests never take a
 * slow thread. Backend calls are bounded by RPC_TIMEOUT_MS /
 * HEALTH_TIMEOUT_MS. */
static void fast_work(gw_req_t *r)
{
    gw_http_t *self = r->http;
    gw_job_t *j = &r->job;
    const char *permission = r->match.route->permission;
    j->out = OUT_REPLY;
    if (permission) {
        if (gw_api_authorize(self->opt.ctx, &j->req, permission, &j->principal, &j->reply) != 0)
            return;
        j->req.principal = &j->principal;
    }
    j->out_err = take_body(r, &j->body, &j->out_detail, &j->out_errors);
    if (j->out_err != PROTO_OK) { /* answered with the limiter state authorize reported */
        j->out = OUT_PROBLEM;
        return;
    }
    j->req.body = j->body;
    if (r->match.route->slow) {
        j->out = OUT_SLOW;
        return;
    }
    r->match.route->handler(self->opt.ctx, &j->req, &j->reply);
}

/* The coroutine of a request. When the work had to wait, the connection
 * was suspended meanwhile; resuming it makes libmicrohttpd call the access
 * handler again, which answers (on_complete, FAST_DONE). */
static void fast_entry(void *arg)
{
    gw_req_t *r = arg;
    fast_work(r);
    r->fast = FAST_DONE;
    if (r->fast_suspended)
        resume(r);
}

/* Queues the answer the work decided on (or hands a slow route over). */
static enum MHD_Result answer(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r)
{
    gw_job_t *j = &r->job;
    if (j->out == OUT_SLOW)
        return start_slow(self, conn, r);
    if (j->out == OUT_PROBLEM)
        return send_problem(self, conn, r, j->out_err, j->out_detail, j->out_errors, &j->reply);
    return send_reply(self, conn, r, &j->reply);
}

/* The last call (and the calls after a resume). Errors found before the
 * body (kept pending) and CORS preflights are answered at once; the rest
 * runs on a coroutine of this loop (gw_coro): when it waits for a backend,
 * the connection is suspended and the loop serves others until the reply
 * comes (gw_rpc). Without a free coroutine the work runs right here and
 * its backend calls block this loop, as they would on a plain thread. */
static enum MHD_Result on_complete(gw_http_t *self, struct MHD_Connection *conn, gw_req_t *r)
{
    int slow = atomic_load_explicit(&r->slow, memory_order_acquire);
    if (slow == SLOW_DONE) /* the call after the resume: never the first call */
        return send_reply(self, conn, r, &r->job.reply);
    if (slow == SLOW_RUNNING || r->fast == FAST_RUNNING)
        return MHD_YES; /* suspended connections get no calls; nothing to do if one comes */
    if (r->fast == FAST_DONE)
        return answer(self, conn, r);
    if (r->pending != PROTO_OK)
        return send_problem(self, conn, r, r->pending, r->pending_detail, NULL, NULL);
    if (r->preflight)
        return send_options(self, conn, r);
    /* The whole request is in: the deadline stops here (also for a request
     * about to be suspended), backend calls are bounded by their own
     * timeouts. */
    gw_reaper_arm(self->reaper, r->slot, 0);
    if (job_init(conn, r) != 0) {
        rt_error(r->rid, "out of memory preparing a request");
        return send_problem(self, conn, r, PROTO_ERR_INTERNAL_ERROR, NULL, NULL, NULL);
    }
    r->job.conn = conn;
    r->fast = FAST_RUNNING;
    if (gw_coro_spawn(fast_entry, r, NULL)) { /* waiting for a backend */
        r->fast_suspended = true;
        MHD_suspend_connection(conn);
        return MHD_YES;
    }
    return answer(self, conn, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    gw_http_t *self = cls;
    gw_req_t *r = *con_cls;
    if (!r) { /* the URI callback could not allocate; try once more */
        if (!(r = req_new(self, conn)))
            return MHD_NO;
        *con_cls = r;
    }
    if (!r->started)
        return on_headers(self, conn, r, url, method);
    if (*upload_data_size > 0)
        return on_body(self, r, upload_data, upload_data_size);
    if (r->status != 0)
        return MHD_YES; /* answered in the first call */
    return on_complete(self, conn, r);
}

/* ---- libmicrohttpd callbacks around the request ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    gw_req_t *r = req_new(cls, conn);
    if (!r)
        return NULL;
    r->uri_too_long = strnlen(uri, GW_URI_MAX + 1) > GW_URI_MAX;
    const char *q = strchr(uri, '?');
    if (q && !r->uri_too_long) /* for list routes; NULL on OOM reads as "no parameters" */
        r->query = strndup(q + 1, strcspn(q + 1, "#"));
    /* For the log in case libmicrohttpd answers before our first call; never
     * the query string, which may carry credentials. */
    copy_sanitised(r->path, sizeof r->path, uri, strcspn(uri, "?"));
    return r;
}

static const char *const termination_names[] = {
    "completed", "error", "timeout", "shutdown", "read_error", "client_abort",
};

static const char *outcome_name(const gw_req_t *r, enum MHD_RequestTerminationCode toe)
{
    size_t t = (size_t)toe;
    if (r->dropped)
        return "deadline";
    return t < sizeof termination_names / sizeof termination_names[0] ? termination_names[t]
                                                                      : "error";
}

/* Appends printf output to f[*n .. cap); false when it does not fit. */
static bool __attribute__((format(printf, 4, 5)))
put_raw(char *f, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(f + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *n)
        return false;
    *n += (size_t)w;
    return true;
}

/* Appends ["," ]"key":"<escaped value>". */
static bool put_str(char *f, size_t cap, size_t *n, const char *key, const char *val)
{
    return put_raw(f, cap, n, "%s\"%s\":", *n ? "," : "", key) && rt_json_str(f, cap, n, val) == 0;
}

static void access_log(const gw_req_t *r, enum MHD_RequestTerminationCode toe)
{
    if (!rt_log_enabled(RT_LOG_INFO))
        return;
    /* Formatted by hand: one line per request, the hottest log line there
     * is (a jansson tree for it cost a quarter of /healthz throughput). */
    char f[1200];
    size_t n = 0;
    double ms = (double)(now_ns() - r->start_ns) / 1e6;
    int status = r->dropped ? 408 : r->status;
    bool ok = put_str(f, sizeof f, &n, "method", r->method) &&
              put_str(f, sizeof f, &n, "path", r->path) &&
              put_raw(f, sizeof f, &n, ",\"status\":%d,\"duration_ms\":%.3f", status, ms) &&
              put_str(f, sizeof f, &n, "client_ip", r->client_ip) &&
              put_str(f, sizeof f, &n, "peer", r->peer);
    if (ok && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        ok = put_str(f, sizeof f, &n, "outcome", outcome_name(r, toe));
    rt_log_line(RT_LOG_INFO, r->rid, "request", ok ? f : NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    gw_http_t *self = cls;
    gw_req_t *r = *con_cls;
    if (!r)
        return;
    if (gw_reaper_reaped(self->reaper, r->slot))
        r->dropped = true;
    /* Until the next request line arrives the connection may idle (the
     * inactivity timeout applies) and then has a whole request's time. */
    const gw_config_t *cfg = self->opt.cfg;
    gw_reaper_arm(self->reaper, r->slot,
                  now_ns() +
                      (uint64_t)(cfg->connection_timeout_s + cfg->request_timeout_s) * 1000000000u);
    if (r->status == 0) { /* libmicrohttpd may have answered itself (e.g. 431) */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        r->status = ci ? (int)ci->http_status : 0;
    }
    access_log(r, toe);
    req_free(r);
    *con_cls = NULL;
}

/* The length of a peer address libmicrohttpd reports (it keeps no length). */
static socklen_t peer_len(const struct sockaddr *sa)
{
    if (!sa)
        return 0;
    return sa->sa_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                     : (socklen_t)sizeof(struct sockaddr_in);
}

/* Registers each connection with the reaper (socket context = its slot);
 * a closed connection gives back its shard and per-IP counts. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    gw_shard_t *shard = cls;
    gw_http_t *self = shard->http;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        uint64_t deadline = now_ns() + (uint64_t)self->opt.cfg->request_timeout_s * 1000000000u;
        *socket_context = ci ? gw_reaper_add(self->reaper, ci->connect_fd, deadline) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        gw_reaper_remove(self->reaper, *socket_context); /* before MHD closes the fd */
        *socket_context = NULL;
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ai && ai->client_addr)
            gw_iplimit_release(self->iplimit, ai->client_addr, peer_len(ai->client_addr));
        atomic_fetch_sub(&shard->conns, 1);
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    gw_http_t *self = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    /* After start, libmicrohttpd mostly reports what clients did wrong. */
    rt_log(atomic_load(&self->running) ? RT_LOG_DEBUG : RT_LOG_WARNING, NULL, "libmicrohttpd: %s",
           msg);
}

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

/* Queues an accepted connection for the shard's loop thread, which adds
 * it to its daemon (libmicrohttpd in external-poll mode must only be
 * driven from the loop's own thread). -1 when the inbox is full. */
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
 * connection limits say no. libmicrohttpd closes the socket itself when it
 * refuses one (memory). */
static void on_accept(void *cls, int fd, const struct sockaddr *peer, socklen_t len)
{
    gw_http_t *self = cls;
    bool room;
    gw_shard_t *sh = pick_shard(self, &room);
    if (!room || !gw_iplimit_take(self->iplimit, peer, len)) {
        rt_debug(NULL, "connection refused: %s", room ? "per-address limit" : "connection limit");
        close(fd);
        return;
    }
    atomic_fetch_add(&sh->conns, 1);
    if (hand_over(sh, fd, peer, len) != 0) {
        rt_debug(NULL, "connection refused: the loop's inbox is full");
        close(fd);
        atomic_fetch_sub(&sh->conns, 1);
        gw_iplimit_release(self->iplimit, peer, len);
    }
}

/* The loop's side of hand_over. */
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
    pthread_mutex_unlock(&sh->mu);
    gw_http_t *self = sh->http;
    for (size_t i = 0; i < n; i++) {
        const struct sockaddr *peer = (const struct sockaddr *)&batch[i].addr;
        if (MHD_add_connection(sh->d, batch[i].fd, peer, batch[i].len) != MHD_YES) {
            rt_debug(NULL, "connection refused: %s", strerror(errno));
            atomic_fetch_sub(&sh->conns, 1);
            gw_iplimit_release(self->iplimit, peer, batch[i].len);
        }
    }
}

/* Connections handed over but never added (the loop stopped first). */
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

/* How long the loop may sleep: until libmicrohttpd's next timeout or the
 * nearest backend deadline, at most GW_LOOP_TICK_MS. */
static long loop_timeout(const gw_shard_t *sh)
{
    long t = GW_LOOP_TICK_MS;
    if (sh->kick)
        return 0;
    MHD_UNSIGNED_LONG_LONG mt;
    if (MHD_get_timeout(sh->d, &mt) == MHD_YES && mt < (MHD_UNSIGNED_LONG_LONG)t)
        t = (long)mt;
    long rt = sh->rpc ? gw_rpc_timeout_ms(sh->rpc) : -1;
    if (rt >= 0 && rt < t)
        t = rt;
    return t;
}

static void *shard_loop(void *arg)
{
    gw_shard_t *sh = arg;
    int epfd = sh->epfd;
    tls_shard = sh;
    gw_coro_setup(GW_CORO_PER_LOOP, 0);
    gw_rpc_attach(sh->rpc);
    while (!atomic_load(&sh->quit)) {
        zmq_pollitem_t items[2 + GW_RPC_LINKS_MAX] = {
            {.fd = epfd, .events = ZMQ_POLLIN},
            {.fd = sh->wake_fd, .events = ZMQ_POLLIN},
        };
        int n = 2;
        if (sh->rpc)
            n += gw_rpc_items(sh->rpc, items + 2, GW_RPC_LINKS_MAX);
        if (zmq_poll(items, n, loop_timeout(sh)) < 0 && errno != EINTR) {
            rt_error(NULL, "HTTP loop: zmq_poll: %s", strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            take_inbox(sh);
        if (sh->rpc)
            gw_rpc_process(sh->rpc);
        sh->kick = false;
        MHD_run(sh->d);
    }
    /* Every call still out fails: their coroutines finish and resume their
     * connections, which libmicrohttpd answers here or closes at stop. */
    if (sh->rpc)
        gw_rpc_shutdown(sh->rpc);
    MHD_run(sh->d);
    gw_rpc_attach(NULL);
    gw_coro_teardown();
    tls_shard = NULL;
    return NULL;
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

static unsigned daemon_flags(const gw_config_t *cfg)
{
    /* No listening socket of its own: gw_accept hands connections over. */
    /* External polling: shard_loop drives the daemon through its epoll
     * descriptor; the ITC wakes it when another thread resumes a connection
     * (the slow pool). */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (cfg->bind_addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return flags;
}

/* The shard's backend links: its own DEALER per service (gw_rpc). */
static int shard_rpc(gw_http_t *self, gw_shard_t *sh)
{
    const gw_ctx_t *ctx = self->opt.ctx;
    const gw_config_t *cfg = self->opt.cfg;
    if (!self->opt.zctx)
        return 0;
    proto_limits_t lim = proto_limits_default();
    sh->rpc = gw_rpc_new(self->opt.zctx, &lim);
    if (!sh->rpc ||
        (ctx->authsvc && gw_rpc_add(sh->rpc, ctx->authsvc, cfg->authsvc_endpoints,
                                    (int)cfg->rpc_timeout_ms) != 0) ||
        (ctx->storesvc && gw_rpc_add(sh->rpc, ctx->storesvc, cfg->storesvc_endpoints,
                                     (int)cfg->rpc_timeout_ms) != 0)) {
        gw_rpc_destroy(&sh->rpc);
        return -1;
    }
    return 0;
}

/* Starts one daemon and one loop thread per GATEWAY_THREADS. */
static int start_shards(gw_http_t *self)
{
    const gw_config_t *cfg = self->opt.cfg;
    for (size_t i = 0; i < self->nshards; i++) {
        gw_shard_t *sh = &self->shards[i];
        sh->http = self;
        atomic_store(&sh->conns, 0);
        atomic_store(&sh->quit, false);
        /* The logger must be the first option, or early messages bypass it.
         * Connection limits are applied before the hand-over (on_accept). */
        sh->d = MHD_start_daemon(
            daemon_flags(cfg), 0, NULL, NULL, on_request, self, MHD_OPTION_EXTERNAL_LOGGER,
            on_mhd_log, self, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)GW_CONN_MEMORY, MHD_OPTION_URI_LOG_CALLBACK,
            on_uri, self, MHD_OPTION_NOTIFY_COMPLETED, on_completed, self,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, sh, MHD_OPTION_END);
        if (!sh->d || shard_rpc(self, sh) != 0)
            return -1;
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(sh->d, MHD_DAEMON_INFO_EPOLL_FD);
        sh->epfd = di ? di->epoll_fd : -1;
        if (sh->epfd < 0)
            return -1; /* the loop has nothing to wait on */
        if (pthread_create(&sh->thread, NULL, shard_loop, sh) != 0)
            return -1;
        sh->thread_started = true;
    }
    return 0;
}

/* Stops the loops, then the daemons (each closes its connections: slots
 * come back). */
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
        if (sh->d)
            MHD_stop_daemon(sh->d);
        sh->d = NULL;
        drop_inbox(sh);
        gw_rpc_destroy(&sh->rpc);
    }
}

int gw_http_start(gw_http_t *self)
{
    const gw_config_t *cfg = self->opt.cfg;
    self->reaper = gw_reaper_new((size_t)cfg->max_connections + GW_REAPER_SLACK, GW_REAPER_TICK_MS,
                                 NULL, NULL);
    if (!self->reaper || gw_reaper_start(self->reaper) != 0) {
        rt_error(NULL, "cannot start the connection reaper");
        gw_reaper_destroy(&self->reaper);
        return -1;
    }
    self->iplimit = gw_iplimit_new((size_t)cfg->max_connections + GW_REAPER_SLACK,
                                   (unsigned)cfg->max_connections_per_ip);
    if (!self->iplimit) {
        rt_error(NULL, "cannot allocate the per-address connection table");
        gw_reaper_destroy(&self->reaper);
        return -1;
    }
    if (gw_slow_start(self->slow) != 0) {
        rt_error(NULL, "cannot start the slow-request pool (GATEWAY_SLOW_WORKERS)");
        gw_reaper_destroy(&self->reaper);
        return -1;
    }
    self->acceptor =
        gw_accept_new((const struct sockaddr *)&cfg->bind_addr, cfg->bind_addrlen, on_accept, self);
    if (!self->acceptor) {
        rt_error(NULL, "cannot listen on GATEWAY_BIND %s: %s", cfg->bind, strerror(errno));
        gw_slow_stop(self->slow);
        gw_reaper_destroy(&self->reaper);
        return -1;
    }
    if (start_shards(self) != 0 || gw_accept_start(self->acceptor) != 0) {
        rt_error(NULL, "cannot start the HTTP server on GATEWAY_BIND %s", cfg->bind);
        stop_shards(self);
        gw_accept_destroy(&self->acceptor);
        gw_slow_stop(self->slow);
        gw_reaper_destroy(&self->reaper);
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

void gw_http_stop(gw_http_t *self)
{
    if (!self || !atomic_load(&self->running))
        return;
    atomic_store(&self->stopping, true);
    gw_accept_pause(self->acceptor);
    /* libmicrohttpd must never be stopped with a suspended connection.
     * Stopping the pool answers every queued slow job (503) and waits for
     * the running ones; each resumes its connection. A slow request that
     * arrives from now on is refused and resumed by its own HTTP thread
     * before that thread can exit, and MHD_stop_daemon processes pending
     * resumes before it checks for suspended connections. */
    gw_slow_stop(self->slow);
    stop_shards(self); /* closes every connection: slots come back */
    atomic_store(&self->running, false);
    gw_reaper_destroy(&self->reaper);
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
