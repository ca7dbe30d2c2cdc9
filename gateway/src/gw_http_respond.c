/*
 * gw_http_respond: response heads of the HTTP server (see gw_http_int.h):
 * the security headers every response carries, CORS, the Date header,
 * keep-alive, and the problem, OPTIONS and reply responses.
 */
#include "gw_http_int.h"

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
#define HSTS_VALUE "max-age=31536000; includeSubDomains"

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

void gwh_add_headers(gw_conn_t *c, const gw_req_t *r, gw_out_head_t *h, const gw_resp_t *o)
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
bool gwh_may_keep_alive(const gw_conn_t *c, const gw_req_t *r)
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
    c->keep_alive = gwh_may_keep_alive(c, r);
    gwh_add_headers(c, r, &c->out, o);
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

void gwh_respond_problem(gw_conn_t *c, proto_err_t err, const char *detail, const json_t *errors,
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
void gwh_respond_options(gw_conn_t *c)
{
    gw_http_t *self = c->sh->http;
    gw_req_t *r = c->req;
    gw_resp_t o = {.status = 204, .allow = r->match.allow};
    o.preflight =
        r->hdrs.acr_method && gw_origin_listed(r->hdrs.origin, self->origins, self->norigins);
    respond(c, &o);
}

void gwh_respond_reply(gw_conn_t *c, const gw_reply_t *reply)
{
    gw_req_t *r = c->req;
    if (reply->err != PROTO_OK) {
        if (reply->err == PROTO_ERR_INTERNAL_ERROR)
            rt_error(r->rid, "%s %s failed: %s", r->method, r->path, reply->detail);
        gwh_respond_problem(c, reply->err, reply->detail, reply->errors, reply);
        return;
    }
    gw_resp_t o = {.status = reply->status ? reply->status : 200, .reply = reply};
    if (reply->json) {
        o.body = json_dumps(reply->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!o.body) {
            gwh_respond_problem(c, PROTO_ERR_INTERNAL_ERROR, NULL, NULL, reply);
            return;
        }
        o.len = strlen(o.body);
        o.ctype = "application/json";
    }
    respond(c, &o);
}
