/*
 * gw_openapi: builds the OpenAPI 3.1 document with jansson. Each part of a
 * route's operation comes from a table below indexed by what the route is
 * (its traits), so a new kind of route is a new row, not a new branch.
 * Every builder returns a new reference or NULL; a NULL anywhere makes the
 * whole document NULL (json_object_set_new fails on a NULL value).
 */
#include "gw_openapi.h"
#include "gw_api.h"
#include "gw_handler.h"
#include "proto_error.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_PROBLEM "#/components/schemas/Problem"
#define DESC_MAX    512
#define OPID_MAX    160

/* What a route is, for the tables below. */
enum {
    T_ANY = 1u << 0,
    T_PROTECTED = 1u << 1, /* a permission: bearer (or API key) */
    T_COUNTED = 1u << 2,   /* counted by the API rate limit: RateLimit-* headers, 429 */
    T_JSON = 1u << 3,      /* a JSON body */
    T_STREAM = 1u << 4,    /* an upload */
    T_PARAM = 1u << 5,     /* a {param} in the path */
    T_DOWNLOAD = 1u << 6,
    T_BACKEND = 1u << 7,      /* calls a backend: 503 when it is down */
    T_COOKIE = 1u << 8,       /* may use the refresh-token cookie */
    T_PROBE = 1u << 9,        /* 503 is the answer's own shape */
    T_SETS_COOKIE = 1u << 10, /* a success sets or clears a cookie */
};

static unsigned traits(const gw_route_t *r)
{
    unsigned t = T_ANY;
    bool own_op = r->call && r->call->svc == GW_SVC_AUTHSVC;
    if (r->permission)
        t |= T_PROTECTED | T_BACKEND;
    if (r->permission || own_op || (r->flags & GW_ROUTE_LIMITED))
        t |= T_COUNTED;
    if (r->body == GW_BODY_JSON || r->body == GW_BODY_JSON_OPTIONAL)
        t |= T_JSON;
    if (r->body == GW_BODY_STREAM)
        t |= T_STREAM;
    if (strchr(r->pattern, '{'))
        t |= T_PARAM;
    if (r->flags & GW_ROUTE_DOWNLOAD)
        t |= T_DOWNLOAD;
    if (r->call)
        t |= T_BACKEND;
    if (r->flags & GW_ROUTE_COOKIE)
        t |= T_COOKIE;
    if (r->flags & GW_ROUTE_PROBE)
        t |= T_PROBE;
    if ((r->flags & (GW_ROUTE_SIGN_IN | GW_ROUTE_COOKIE)) || (r->call && r->call->clear_cookie))
        t |= T_SETS_COOKIE;
    return t;
}

/* ---- schemas ---- */

static json_t *with_type(const char *type, bool nullable)
{
    return nullable ? json_pack("{s:[s,s]}", "type", type, "null")
                    : json_pack("{s:s}", "type", type);
}

static int set(json_t *obj, const char *key, json_t *val)
{
    return json_object_set_new(obj, key, val);
}

/* JSON types of request fields. */
static const struct {
    const char *type;
    bool nullable;
} field_types[] = {
    [GW_JSON_STRING] = {"string", false},      [GW_JSON_STRING_OR_NULL] = {"string", true},
    [GW_JSON_TEXT_OR_NULL] = {"string", true}, [GW_JSON_BOOL] = {"boolean", false},
    [GW_JSON_INTEGER] = {"integer", false},    [GW_JSON_STRING_ARRAY] = {"array", false},
};

static json_t *field_schema(const gw_field_t *f)
{
    json_t *s = with_type(field_types[f->type].type, field_types[f->type].nullable);
    if (!s)
        return NULL;
    int rc = 0;
    char desc[96];
    if (f->type == GW_JSON_STRING_ARRAY) {
        json_t *item = json_pack("{s:s}", "type", "string");
        if (item && f->max_bytes)
            rc |= set(item, "maxLength", json_integer((json_int_t)f->max_bytes));
        rc |= set(s, "items", item);
        rc |= set(s, "maxItems", json_integer(GW_SCHEMA_ARRAY_MAX));
    } else if (f->max_bytes) {
        rc |= set(s, "maxLength", json_integer((json_int_t)f->max_bytes));
        snprintf(desc, sizeof desc, "At most %zu bytes of UTF-8.", f->max_bytes);
        rc |= set(s, "description", json_string(desc));
    }
    if (f->format)
        rc |= set(s, "format", json_string(f->format));
    if (rc != 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* An object of the fields: properties, required, nothing else. NULL
 * fields: any object. */
static json_t *fields_schema(const gw_field_t *fields)
{
    json_t *s = json_pack("{s:s}", "type", "object");
    if (!s || !fields)
        return s;
    json_t *props = json_object(), *req = json_array();
    int rc = 0;
    for (const gw_field_t *f = fields; f->name && props && req; f++) {
        rc |= set(props, f->name, field_schema(f));
        if (f->required)
            rc |= json_array_append_new(req, json_string(f->name));
    }
    rc |= set(s, "properties", props);
    if (json_array_size(req) > 0)
        rc |= set(s, "required", req);
    else
        json_decref(req);
    rc |= set(s, "additionalProperties", json_false());
    if (rc != 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static json_t *keys_schema(const gw_key_t *keys);

/* Answer key types: a JSON type and format, or built from items. */
static const struct {
    const char *type;
    bool nullable;
    const char *format;
} key_types[] = {
    [GW_KEY_STRING] = {"string", false, NULL},
    [GW_KEY_STRING_OR_NULL] = {"string", true, NULL},
    [GW_KEY_ID] = {"string", false, "uuid"},
    [GW_KEY_TIME] = {"string", false, "date-time"},
    [GW_KEY_TIME_OR_NULL] = {"string", true, "date-time"},
    [GW_KEY_INTEGER] = {"integer", false, NULL},
    [GW_KEY_BOOL] = {"boolean", false, NULL},
    [GW_KEY_STRINGS] = {"array", false, NULL},
    [GW_KEY_STRINGS_OR_NULL] = {"array", true, NULL},
    [GW_KEY_OBJECT] = {"object", false, NULL},
    [GW_KEY_OBJECTS] = {"array", false, NULL},
};

static json_t *key_schema(const gw_key_t *k)
{
    if (k->type == GW_KEY_OBJECT && k->items)
        return keys_schema(k->items);
    json_t *s = with_type(key_types[k->type].type, key_types[k->type].nullable);
    int rc = s ? 0 : -1;
    if (s && key_types[k->type].format)
        rc |= set(s, "format", json_string(key_types[k->type].format));
    if (s && (k->type == GW_KEY_STRINGS || k->type == GW_KEY_STRINGS_OR_NULL))
        rc |= set(s, "items", json_pack("{s:s}", "type", "string"));
    if (s && k->type == GW_KEY_OBJECT)
        rc |= set(s, "additionalProperties", json_pack("{s:s}", "type", "string"));
    if (s && k->type == GW_KEY_OBJECTS)
        rc |= set(s, "items", keys_schema(k->items));
    if (rc != 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* An answer object: the documented keys (an answer may leave one out,
 * never add one: gw_shape_apply projects onto them). */
static json_t *keys_schema(const gw_key_t *keys)
{
    json_t *s = json_pack("{s:s}", "type", "object");
    if (!s || !keys)
        return s;
    json_t *props = json_object();
    int rc = 0;
    for (const gw_key_t *k = keys; k->key && props; k++)
        rc |= set(props, k->key, key_schema(k));
    rc |= set(s, "properties", props);
    rc |= set(s, "additionalProperties", json_false());
    if (rc != 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static json_t *problem_schema(void)
{
    json_t *codes = json_array();
    for (int e = PROTO_OK + 1; e < PROTO_ERR__COUNT && codes; e++) {
        if (json_array_append_new(codes, json_string(proto_err_code((proto_err_t)e))) != 0) {
            json_decref(codes);
            codes = NULL;
        }
    }
    return json_pack(
        "{s:s, s:s, s:[s,s,s,s,s,s], s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:i, s:i}, "
        "s:{s:s, s:s}, s:{s:s, s:o, s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:{s:s, s:[s,s], "
        "s:{s:{s:s}, s:{s:s}}, s:b}}}, s:b}",
        "description",
        "RFC 9457 problem details, as every error answer carries them "
        "(Content-Type application/problem+json).",
        "type", "object", "required", "type", "title", "status", "detail", "code", "request_id",
        "properties", "type", "type", "string", "description", "Always about:blank.", "title",
        "type", "string", "description", "The HTTP title of status.", "status", "type", "integer",
        "minimum", 400, "maximum", 599, "detail", "type", "string", "description",
        "Text for people; never the submitted input.", "code", "type", "string", "enum", codes,
        "description", "The stable machine-readable error code.", "request_id", "type", "string",
        "format", "uuid", "description", "Equals the X-Request-ID header.", "errors", "type",
        "array", "description",
        "Validation errors: the field (\"\" for an unknown field whose name is not a plain "
        "identifier) and what is wrong.",
        "items", "type", "object", "required", "field", "message", "properties", "field", "type",
        "string", "message", "type", "string", "additionalProperties", 0, "additionalProperties",
        0);
}

/* ---- responses ---- */

static const struct {
    int status;
    const char *title;
} success_titles[] = {
    {200, "OK"},         {201, "Created"},         {202, "Accepted"},
    {204, "No Content"}, {206, "Partial Content"}, {304, "Not Modified"},
};

static const char *status_title(int status)
{
    for (size_t i = 0; i < sizeof success_titles / sizeof success_titles[0]; i++) {
        if (success_titles[i].status == status)
            return success_titles[i].title;
    }
    for (int e = PROTO_OK + 1; e < PROTO_ERR__COUNT; e++) {
        if (proto_err_http_status((proto_err_t)e) == status)
            return proto_err_title((proto_err_t)e);
    }
    return "Response";
}

static json_t *header_ref(const char *name)
{
    char ref[96];
    snprintf(ref, sizeof ref, "#/components/headers/%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

/* The headers object of a response, made when missing (NULL: OOM). */
static json_t *headers_of(json_t *resp)
{
    json_t *h = json_object_get(resp, "headers");
    if (!h && set(resp, "headers", json_object()) == 0)
        h = json_object_get(resp, "headers");
    return h;
}

/* The RateLimit-* headers of a counted route's answers (and Retry-After
 * where asked). */
static int add_rate_headers(json_t *resp, unsigned t, bool retry_after)
{
    static const char *const names[] = {"RateLimit-Limit", "RateLimit-Remaining",
                                        "RateLimit-Reset"};
    if (!(t & T_COUNTED) && !retry_after)
        return 0;
    json_t *h = headers_of(resp);
    int rc = h ? 0 : -1;
    for (size_t i = 0; h && (t & T_COUNTED) && i < sizeof names / sizeof names[0]; i++)
        rc |= set(h, names[i], header_ref(names[i]));
    if (h && retry_after)
        rc |= set(h, "Retry-After", header_ref("Retry-After"));
    return rc;
}

static json_t *problem_response(int status, const char *desc)
{
    return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", desc ? desc : status_title(status),
                     "content", "application/problem+json", "schema", "$ref", REF_PROBLEM);
}

/* Problems by route traits: a route answers the statuses of every row
 * whose traits it has one of (docs/API.md, "Errors common to routes of a
 * kind"). Rows are in status order. */
static const struct {
    int status;
    unsigned when;
    bool retry_after;
    const char *desc;
} problem_rows[] = {
    {400, T_ANY, false, "Bad Request: malformed HTTP or JSON, a bad query, a refused value"},
    {401, T_PROTECTED, false, "Unauthorized: no, malformed, expired or revoked credential"},
    {403, T_PROTECTED | T_COOKIE, false,
     "Forbidden: the permission is missing, an API key on a session-only route, the refresh "
     "cookie from an untrusted origin"},
    {404, T_PARAM, false, "Not Found: an unknown id, or one the caller may not see"},
    {408, T_STREAM, false, "Request Timeout: the upload did not arrive in time"},
    {413, T_JSON | T_STREAM, false, "Content Too Large"},
    {415, T_JSON | T_STREAM, false, "Unsupported Media Type"},
    {416, T_DOWNLOAD, false, "Range Not Satisfiable (with Content-Range: bytes */size)"},
    {422, T_JSON | T_STREAM, false, "Unprocessable Content: field errors, listed in errors"},
    {429, T_COUNTED, true, "Too Many Requests (with Retry-After)"},
    {503, T_BACKEND | T_COUNTED | T_PROBE, true,
     "Service Unavailable: a backend is down or timed out"},
};

/* The success answer of `r`: its answer row, else its call's. */
static gw_answer_t success_of(const gw_route_t *r)
{
    if (r->answer)
        return *r->answer;
    gw_answer_t a = {200, NULL, NULL};
    if (r->call) {
        a.keys = r->call->shape;
        a.status = r->call->status ? r->call->status : (r->call->shape ? 200 : 204);
    }
    return a;
}

static json_t *binary_content(const char *media)
{
    return json_pack("{s:{s:{s:s, s:s}}}", media, "schema", "type", "string", "format", "binary");
}

static json_t *answer_content(const gw_answer_t *a)
{
    if (a->media && strcmp(a->media, "text/html") == 0)
        return json_pack("{s:{s:{s:s}}}", a->media, "schema", "type", "string");
    if (a->media)
        return binary_content(a->media);
    return json_pack("{s:{s:o}}", "application/json", "schema", keys_schema(a->keys));
}

static json_t *success_response(const gw_answer_t *a, unsigned t, int status, const char *desc)
{
    json_t *resp = json_pack("{s:s}", "description", desc ? desc : status_title(status));
    int rc = resp ? 0 : -1;
    if (resp && status != 204 && status != 202 && status != 304)
        rc |= set(resp, "content", answer_content(a));
    if (resp)
        rc |= add_rate_headers(resp, t, false);
    if (resp && (t & T_SETS_COOKIE) && status < 300) {
        json_t *h = headers_of(resp);
        rc |= h ? set(h, "Set-Cookie", header_ref("Set-Cookie")) : -1;
    }
    if (rc != 0) {
        json_decref(resp);
        return NULL;
    }
    return resp;
}

/* A download's extra answers: the part (206) and the unchanged file (304). */
static int add_download(json_t *responses, const gw_answer_t *a, unsigned t)
{
    int rc = 0;
    rc |= set(responses, "206",
              success_response(a, t, 206, "Partial Content: the one range asked for"));
    rc |= set(responses, "304", success_response(a, t, 304, "Not Modified: If-None-Match matched"));
    json_t *ok = json_object_get(responses, "200");
    json_t *h = ok ? json_object_get(ok, "headers") : NULL;
    static const struct {
        const char *name, *desc;
    } dl_headers[] = {
        {"ETag", "\"<sha256>\" of the file"},
        {"Accept-Ranges", "bytes"},
        {"Content-Disposition", "attachment; filename=\"...\" (and filename* for non-ASCII)"},
    };
    for (size_t i = 0; h && i < sizeof dl_headers / sizeof dl_headers[0]; i++)
        rc |= set(h, dl_headers[i].name,
                  json_pack("{s:s, s:{s:s}}", "description", dl_headers[i].desc, "schema", "type",
                            "string"));
    return rc;
}

static json_t *responses_of(const gw_route_t *r, unsigned t)
{
    gw_answer_t a = success_of(r);
    json_t *responses = json_object();
    if (!responses)
        return NULL;
    char code[8];
    snprintf(code, sizeof code, "%d", a.status);
    int rc = set(responses, code, success_response(&a, t, a.status, NULL));
    if (t & T_DOWNLOAD)
        rc |= add_download(responses, &a, t);
    for (size_t i = 0; i < sizeof problem_rows / sizeof problem_rows[0]; i++) {
        if (!(problem_rows[i].when & t))
            continue;
        snprintf(code, sizeof code, "%d", problem_rows[i].status);
        json_t *resp;
        if (problem_rows[i].status == 503 && (t & T_PROBE))
            resp =
                success_response(&a, t, 503, "Service Unavailable: not ok (the checks say which)");
        else
            resp = problem_response(problem_rows[i].status, problem_rows[i].desc);
        if (resp)
            rc |= add_rate_headers(resp, t, problem_rows[i].retry_after);
        if (resp && problem_rows[i].status == 401) {
            json_t *h = headers_of(resp);
            rc |= h ? set(h, "WWW-Authenticate", header_ref("WWW-Authenticate")) : -1;
        }
        rc |= set(responses, code, resp);
    }
    rc |= set(responses, "default",
              problem_response(0, "Any other error of the error table (problem JSON)"));
    if (rc != 0) {
        json_decref(responses);
        return NULL;
    }
    return responses;
}

/* ---- operations ---- */

static json_t *param(const char *name, const char *in, bool required, json_t *schema,
                     const char *desc)
{
    return json_pack("{s:s, s:s, s:b, s:o, s:s}", "name", name, "in", in, "required", required,
                     "schema", schema, "description", desc);
}

static int add_params(json_t *params, const gw_route_t *r, unsigned t)
{
    int rc = 0;
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        char name[GW_PARAM_MAX + 1];
        size_t nl = e ? (size_t)(e - p - 1) : 0;
        if (nl == 0 || nl > GW_PARAM_MAX)
            continue;
        memcpy(name, p + 1, nl);
        name[nl] = '\0';
        rc |= json_array_append_new(params,
                                    param(name, "path", true,
                                          json_pack("{s:s, s:i, s:i}", "type", "string",
                                                    "minLength", 1, "maxLength", GW_PARAM_MAX),
                                          "An id (a UUID); a value that cannot be one is 404."));
    }
    if (r->flags & GW_ROUTE_PAGED) {
        rc |= json_array_append_new(
            params, param("page", "query", false,
                          json_pack("{s:s, s:i, s:i, s:i}", "type", "integer", "minimum", 1,
                                    "maximum", 2147483647, "default", 1),
                          "Page number, plain decimal digits."));
        rc |= json_array_append_new(
            params,
            param("per_page", "query", false,
                  json_pack("{s:s, s:i, s:i}", "type", "integer", "minimum", 1, "default", 20),
                  "Items per page; values above 100 are capped to 100."));
    }
    if (t & T_STREAM)
        rc |= json_array_append_new(
            params, param("name", "query", false, json_pack("{s:s}", "type", "string"),
                          "The file's name: required for a raw upload; a multipart upload "
                          "falls back to the part's filename."));
    if (t & T_DOWNLOAD) {
        rc |= json_array_append_new(
            params, param("Range", "header", false, json_pack("{s:s}", "type", "string"),
                          "One range: bytes=a-b, a- or -n (206); several are ignored (200)."));
        rc |= json_array_append_new(params, param("If-None-Match", "header", false,
                                                  json_pack("{s:s}", "type", "string"),
                                                  "An ETag list: 304 when it names the file's."));
    }
    return rc;
}

static json_t *request_body(const gw_route_t *r, unsigned t)
{
    if (t & T_STREAM)
        return json_pack(
            "{s:b, s:s, s:{s:{s:{s:s, s:[s], s:{s:{s:s, s:s}}}}, s:{s:{s:s, s:s}}}}", "required", 1,
            "description",
            "multipart/form-data with exactly one part named file (with a filename), or the "
            "file as the body under its own Content-Type with ?name=.",
            "content", "multipart/form-data", "schema", "type", "object", "required", "file",
            "properties", "file", "type", "string", "format", "binary", "*/*", "schema", "type",
            "string", "format", "binary");
    if (!(t & T_JSON))
        return NULL;
    return json_pack("{s:b, s:{s:{s:o}}}", "required", r->body == GW_BODY_JSON, "content",
                     "application/json", "schema", fields_schema(r->fields));
}

static json_t *security_of(const gw_route_t *r, unsigned t)
{
    if ((t & T_PROTECTED) && (r->flags & GW_ROUTE_SESSION))
        return json_pack("[{s:[]}]", "bearerAuth");
    if (t & T_PROTECTED)
        return json_pack("[{s:[]}, {s:[]}]", "bearerAuth", "apiKey");
    if (t & T_COOKIE)
        return json_pack("[{}, {s:[]}]", "refreshCookie");
    return json_array();
}

/* Traits told in words, in this order. */
static const struct {
    unsigned flag;
    const char *text;
} flag_words[] = {
    {GW_ROUTE_SESSION, " Session-only: an API key is refused (403)."},
    {GW_ROUTE_SLOW,
     " Hashes a password on the slow lane: 503 with Retry-After: 1 when the lane is full."},
    {GW_ROUTE_COOKIE, " May authenticate with the refresh_token cookie instead of the body: "
                      "refused (403) from an untrusted Origin."},
    {GW_ROUTE_DOCS, " Served only with DOCS_ENABLED=true (else 404)."},
};

static json_t *description_of(const gw_route_t *r)
{
    char d[DESC_MAX];
    size_t n;
    if (r->permission)
        n = (size_t)snprintf(d, sizeof d, "Needs the permission %s.", r->permission);
    else
        n = (size_t)snprintf(d, sizeof d, "Public.");
    for (size_t i = 0; i < sizeof flag_words / sizeof flag_words[0] && n < sizeof d; i++) {
        if (r->flags & flag_words[i].flag)
            n += (size_t)snprintf(d + n, sizeof d - n, "%s", flag_words[i].text);
    }
    return json_string(d);
}

/* "get_api_v1_users_id" from GET /api/v1/users/{id}. */
static json_t *operation_id(const gw_route_t *r)
{
    char id[OPID_MAX];
    size_t n = 0;
    for (const char *p = r->method; *p && n + 1 < sizeof id; p++)
        id[n++] = (char)tolower((unsigned char)*p);
    for (const char *p = r->pattern; *p && n + 1 < sizeof id; p++) {
        if (isalnum((unsigned char)*p))
            id[n++] = *p;
        else if (id[n - 1] != '_')
            id[n++] = '_';
    }
    while (n > 1 && id[n - 1] == '_')
        n--;
    id[n] = '\0';
    return json_string(id);
}

/* The route's tag: the first segment under /api/v1/ up to '/' or '.';
 * "health" for the probes outside /api/, "docs" for the docs routes. */
static json_t *tag_of(const gw_route_t *r)
{
    static const char base[] = "/api/v1/";
    if (r->flags & GW_ROUTE_DOCS)
        return json_string("docs");
    if (strncmp(r->pattern, base, sizeof base - 1) != 0)
        return json_string("health");
    const char *s = r->pattern + sizeof base - 1;
    return json_stringn(s, strcspn(s, "/."));
}

static json_t *operation(const gw_route_t *r)
{
    unsigned t = traits(r);
    json_t *op = json_object(), *params = json_array();
    int rc = op && params ? 0 : -1;
    if (rc == 0) {
        rc |= set(op, "tags", json_pack("[o]", tag_of(r)));
        rc |= set(op, "summary", json_string(r->summary ? r->summary : r->pattern));
        rc |= set(op, "description", description_of(r));
        rc |= set(op, "operationId", operation_id(r));
        if (r->permission)
            rc |= set(op, "x-permission", json_string(r->permission));
        rc |= add_params(params, r, t);
        if (json_array_size(params) > 0)
            rc |= set(op, "parameters", json_incref(params));
        json_t *body = request_body(r, t);
        if (body)
            rc |= set(op, "requestBody", body);
        rc |= set(op, "responses", responses_of(r, t));
        rc |= set(op, "security", security_of(r, t));
    }
    json_decref(params);
    if (rc != 0) {
        json_decref(op);
        return NULL;
    }
    return op;
}

/* ---- the document ---- */

static json_t *components(void)
{
    static const char *const rl[][2] = {
        {"RateLimit-Limit", "Requests allowed per minute (RATE_LIMIT_PER_MINUTE)."},
        {"RateLimit-Remaining", "Requests left in the current window."},
        {"RateLimit-Reset", "Seconds until the current window ends (1-60)."},
        {"Retry-After", "Seconds until a request would be allowed."},
    };
    json_t *headers = json_object();
    int rc = headers ? 0 : -1;
    for (size_t i = 0; headers && i < sizeof rl / sizeof rl[0]; i++)
        rc |= set(headers, rl[i][0],
                  json_pack("{s:s, s:{s:s, s:i}}", "description", rl[i][1], "schema", "type",
                            "integer", "minimum", 0));
    if (headers)
        rc |=
            set(headers, "Set-Cookie",
                json_pack("{s:s, s:{s:s}}", "description",
                          "The refresh_token cookie (HttpOnly; SameSite=Lax; Path=/api/v1/auth; "
                          "set by login and a cookie refresh, cleared by logout, logout-all and a "
                          "refused cookie refresh) and the device cookie (HttpOnly; "
                          "SameSite=Strict; set by every sign-in).",
                          "schema", "type", "string"));
    if (headers)
        rc |= set(headers, "WWW-Authenticate",
                  json_pack("{s:s, s:{s:s}}", "description", "Bearer", "schema", "type", "string"));
    json_t *c = json_pack(
        "{s:{s:o}, s:{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}}",
        "schemas", "Problem", problem_schema(), "securitySchemes", "bearerAuth", "type", "http",
        "scheme", "bearer", "bearerFormat", "JWT", "description",
        "An access token from /api/v1/auth/token, /auth/login or /auth/refresh.", "apiKey", "type",
        "apiKey", "in", "header", "name", "X-API-Key", "description",
        "An API key (rk_...), on the routes that are not session-only.", "refreshCookie", "type",
        "apiKey", "in", "cookie", "name", GW_REFRESH_COOKIE, "description",
        "The HttpOnly refresh-token cookie set by /api/v1/auth/login (refresh and logout only).");
    if (c)
        rc |= set(c, "headers", headers);
    else
        json_decref(headers);
    if (rc != 0 || !c) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* The tags in the order of their first route. */
static json_t *tags_of(const gw_route_t *routes, size_t n)
{
    json_t *tags = json_array(), *seen = json_object();
    int rc = tags && seen ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *tag = tag_of(&routes[i]);
        const char *name = json_string_value(tag);
        if (name && !json_object_get(seen, name)) {
            rc |= set(seen, name, json_true());
            rc |= json_array_append_new(tags, json_pack("{s:O}", "name", tag));
        }
        rc |= tag ? 0 : -1;
        json_decref(tag);
    }
    json_decref(seen);
    if (rc != 0) {
        json_decref(tags);
        return NULL;
    }
    return tags;
}

json_t *gw_openapi_new(const gw_route_t *routes, size_t n, const char *version)
{
    json_t *paths = json_object();
    int rc = paths ? 0 : -1;
    char method[16];
    for (size_t i = 0; i < n && rc == 0; i++) {
        const gw_route_t *r = &routes[i];
        size_t ml = strlen(r->method);
        if (ml >= sizeof method)
            continue;
        for (size_t k = 0; k <= ml; k++)
            method[k] = (char)tolower((unsigned char)r->method[k]);
        json_t *item = json_object_get(paths, r->pattern);
        if (!item && set(paths, r->pattern, item = json_object()) != 0)
            rc = -1;
        else
            rc |= set(item, method, operation(r));
    }
    json_t *doc = NULL;
    if (rc == 0)
        doc = json_pack(
            "{s:s, s:{s:s, s:s, s:s}, s:o, s:o, s:o}", "openapi", "3.1.0", "info", "title",
            "restc API", "version", version ? version : "0", "description",
            "The HTTP API of the restc gateway, generated from its route table. Every error is "
            "RFC 9457 problem JSON (components/schemas/Problem); HEAD is served by every GET "
            "route and OPTIONS by every routed path.",
            "tags", tags_of(routes, n), "paths", json_incref(paths), "components", components());
    json_decref(paths);
    return doc;
}

char *gw_openapi_dumps(const gw_route_t *routes, size_t n, const char *version, size_t *len)
{
    json_t *doc = gw_openapi_new(routes, n, version);
    if (!doc)
        return NULL;
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (text && len)
        *len = strlen(text);
    return text;
}
