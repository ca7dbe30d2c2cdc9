/*
 * gw_http_check: the request head of the HTTP server (see gw_http_int.h):
 * its fields read in one pass, the prechecks in order (framing, Host,
 * route, media type, length), the client IP, the job a handler reads and
 * the JSON body (bounded depth).
 */
#include "gw_http_int.h"

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

bool gwh_has_body(const gw_hdrs_t *h)
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
        *detail = proto_err_detail(PROTO_ERR_NOT_FOUND);
        return PROTO_ERR_NOT_FOUND;
    }
    if (r->mres == GW_MATCH_METHOD_NOT_ALLOWED) {
        r->preflight = strcmp(r->verb, "OPTIONS") == 0;
        *detail = proto_err_detail(PROTO_ERR_METHOD_NOT_ALLOWED);
        return r->preflight ? PROTO_OK : PROTO_ERR_METHOD_NOT_ALLOWED;
    }
    return PROTO_OK;
}

bool gwh_route_takes_json(const gw_req_t *r)
{
    return r->mres == GW_MATCH_OK &&
           (r->match.route->body == GW_BODY_JSON || r->match.route->body == GW_BODY_JSON_OPTIONAL);
}

static proto_err_t check_media_type(gw_http_t *self, gw_req_t *r, const char **detail)
{
    *detail = "Content-Type must be application/json";
    /* An optional body that is absent needs no Content-Type. */
    bool expected =
        gwh_route_takes_json(r) && (r->match.route->body == GW_BODY_JSON || gwh_has_body(&r->hdrs));
    if (expected && !media_is_json(r->hdrs.content_type))
        return PROTO_ERR_UNSUPPORTED_MEDIA_TYPE;
    return PROTO_OK;
}

bool gwh_route_streams(const gw_req_t *r)
{
    return r->mres == GW_MATCH_OK && r->match.route->body == GW_BODY_STREAM;
}

/* The largest body a route takes: MAX_JSON_BYTES, or for uploads
 * MAX_UPLOAD_BYTES and, for a multipart form, room for its framing. */
static unsigned long long body_max(gw_http_t *self, const gw_req_t *r)
{
    const gw_config_t *cfg = self->opt.cfg;
    if (!gwh_route_streams(r))
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

proto_err_t gwh_h1_error(gw_h1_status_t st)
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
proto_err_t gwh_take_body(const gw_req_t *r, json_t **out, const char **detail, json_t **errors)
{
    const gw_route_t *route = r->match.route;
    *out = NULL;
    *errors = NULL;
    if (!gwh_route_takes_json(r) || (route->body == GW_BODY_JSON_OPTIONAL && r->body_len == 0))
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

int gwh_check_head(gw_http_t *self, gw_req_t *r, const gw_h1_head_t *head)
{
    read_fields(r, head);
    for (size_t i = 0; i < sizeof prechecks / sizeof prechecks[0]; i++) {
        r->pending = prechecks[i](self, r, &r->pending_detail);
        if (r->pending != PROTO_OK)
            break;
    }
    resolve_client_ip(self, r, head);
    return job_init(r, head);
}
