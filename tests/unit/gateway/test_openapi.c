/*
 * Unit tests for gw_openapi: the document made from the public route table
 * has exactly its operations (each method and pattern once, unique
 * operation ids), request bodies that are the field tables (types,
 * required, byte bounds, formats), success answers from the calls and
 * answer rows, security from permissions and flags, the problem answers
 * with the rate-limit headers, and every code of the error table in the
 * Problem schema; a table of its own gives a document of just its rows.
 * RESTC_OPENAPI_DUMP=<file> also writes the document there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_api.h"
#include "gw_openapi.h"
#include "gw_route.h"
#include "proto_error.h"

static json_t *doc;

static int setup(void **state)
{
    (void)state;
    size_t n = 0;
    const gw_route_t *t = gw_route_table(&n);
    doc = gw_openapi_new(t, n, "9.9.9");
    const char *dump = getenv("RESTC_OPENAPI_DUMP");
    if (doc && dump && *dump)
        json_dump_file(doc, dump, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    return doc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(doc);
    return 0;
}

static void lower(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
    out[i] = '\0';
}

static json_t *op_of(const char *method, const char *pattern)
{
    char m[16];
    lower(method, m, sizeof m);
    return json_object_get(json_object_get(json_object_get(doc, "paths"), pattern), m);
}

static json_t *at(json_t *v, const char *const *keys)
{
    for (; v && *keys; keys++)
        v = json_object_get(v, *keys);
    return v;
}

static void test_openapi_header(void **state)
{
    (void)state;
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    static const char *const ver[] = {"info", "version", NULL};
    assert_string_equal(json_string_value(at(doc, ver)), "9.9.9");
    static const char *const sch[] = {"components", "securitySchemes", NULL};
    json_t *s = at(doc, sch);
    static const char *const bearer[] = {"bearerAuth", "scheme", NULL};
    assert_string_equal(json_string_value(at(s, bearer)), "bearer");
    static const char *const key[] = {"apiKey", "name", NULL};
    assert_string_equal(json_string_value(at(s, key)), "X-API-Key");
    static const char *const cookie[] = {"refreshCookie", "in", NULL};
    assert_string_equal(json_string_value(at(s, cookie)), "cookie");
}

static void test_openapi_every_route_once(void **state)
{
    (void)state;
    size_t n = 0, ops = 0;
    const gw_route_t *t = gw_route_table(&n);
    json_t *ids = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *op = op_of(t[i].method, t[i].pattern);
        if (!op)
            fail_msg("%s %s is not in the document", t[i].method, t[i].pattern);
        const char *id = json_string_value(json_object_get(op, "operationId"));
        assert_non_null(id);
        if (json_object_get(ids, id))
            fail_msg("operationId %s twice", id);
        json_object_set_new(ids, id, json_true());
        assert_non_null(json_object_get(op, "summary"));
        assert_non_null(json_object_get(op, "responses"));
    }
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        ops += json_object_size(item);
    }
    assert_int_equal(ops, n); /* nothing else */
    json_decref(ids);
}

/* Each JSON route's body schema is its field table. */
static void test_openapi_bodies_are_the_field_tables(void **state)
{
    (void)state;
    size_t n = 0, checked = 0;
    const gw_route_t *t = gw_route_table(&n);
    static const char *const sch[] = {"requestBody", "content", "application/json", "schema", NULL};
    for (size_t i = 0; i < n; i++) {
        if (t[i].body != GW_BODY_JSON && t[i].body != GW_BODY_JSON_OPTIONAL) {
            static const char *const rb[] = {"requestBody", NULL};
            if (t[i].body == GW_BODY_NONE)
                assert_null(at(op_of(t[i].method, t[i].pattern), rb));
            continue;
        }
        json_t *s = at(op_of(t[i].method, t[i].pattern), sch);
        assert_non_null(s);
        static const char *const req_flag[] = {"requestBody", "required", NULL};
        assert_int_equal(json_is_true(at(op_of(t[i].method, t[i].pattern), req_flag)),
                         t[i].body == GW_BODY_JSON);
        assert_true(json_is_false(json_object_get(s, "additionalProperties")));
        json_t *props = json_object_get(s, "properties");
        size_t nfields = 0, nreq = 0;
        for (const gw_field_t *f = t[i].fields; f && f->name; f++, nfields++) {
            json_t *p = json_object_get(props, f->name);
            if (!p)
                fail_msg("%s %s: field %s missing", t[i].method, t[i].pattern, f->name);
            json_t *ml = json_object_get(
                f->type == GW_JSON_STRING_ARRAY ? json_object_get(p, "items") : p, "maxLength");
            if (f->max_bytes)
                assert_int_equal(json_integer_value(ml), (json_int_t)f->max_bytes);
            else
                assert_null(ml);
            if (f->format)
                assert_string_equal(json_string_value(json_object_get(p, "format")), f->format);
            bool listed = false;
            size_t k;
            json_t *r;
            json_array_foreach(json_object_get(s, "required"), k, r)
            {
                listed = listed || strcmp(json_string_value(r), f->name) == 0;
            }
            assert_int_equal(listed, f->required);
            nreq += f->required;
        }
        assert_int_equal(json_object_size(props), nfields);
        assert_int_equal(json_array_size(json_object_get(s, "required")), nreq);
        checked++;
    }
    assert_true(checked >= 10);
    /* Types: null where the type allows it, arrays bounded. */
    json_t *reg = at(op_of("POST", "/api/v1/auth/register"), sch);
    static const char *const fn[] = {"properties", "full_name", "type", NULL};
    assert_int_equal(json_array_size(at(reg, fn)), 2);
    static const char *const em[] = {"properties", "email", "format", NULL};
    assert_string_equal(json_string_value(at(reg, em)), "email");
    json_t *key = at(op_of("POST", "/api/v1/auth/api-keys"), sch);
    static const char *const perms[] = {"properties", "permissions", "maxItems", NULL};
    assert_int_equal(json_integer_value(at(key, perms)), GW_SCHEMA_ARRAY_MAX);
}

static bool has_status(json_t *op, const char *status)
{
    return json_object_get(json_object_get(op, "responses"), status) != NULL;
}

static void test_openapi_success_answers(void **state)
{
    (void)state;
    assert_true(has_status(op_of("POST", "/api/v1/auth/register"), "201"));
    assert_true(has_status(op_of("POST", "/api/v1/auth/logout"), "204"));
    assert_true(has_status(op_of("POST", "/api/v1/auth/password-reset"), "202"));
    assert_true(has_status(op_of("POST", "/api/v1/files"), "201"));
    json_t *me = op_of("GET", "/api/v1/users/me");
    static const char *const user[] = {"responses", "200",        "content", "application/json",
                                       "schema",    "properties", NULL};
    json_t *props = at(me, user);
    assert_non_null(props);
    size_t nkeys = 0;
    for (const gw_key_t *k = gw_shape_user; k->key; k++, nkeys++)
        assert_non_null(json_object_get(props, k->key));
    assert_int_equal(json_object_size(props), nkeys);
    static const char *const id_fmt[] = {"id", "format", NULL};
    assert_string_equal(json_string_value(at(props, id_fmt)), "uuid");
    /* The browser login answers the browser shape, not the pair. */
    json_t *login = at(op_of("POST", "/api/v1/auth/login"), user);
    assert_null(json_object_get(login, "refresh_token"));
    assert_non_null(json_object_get(login, "access_token"));
    /* No body on 204. */
    static const char *const none[] = {"responses", "204", "content", NULL};
    assert_null(at(op_of("DELETE", "/api/v1/users/{id}"), none));
    /* The download: bytes, a part, not modified, not satisfiable, Range. */
    json_t *dl = op_of("GET", "/api/v1/files/{id}/content");
    static const char *const bin[] = {"responses", "200",    "content", "application/octet-stream",
                                      "schema",    "format", NULL};
    assert_string_equal(json_string_value(at(dl, bin)), "binary");
    assert_true(has_status(dl, "206") && has_status(dl, "304") && has_status(dl, "416"));
    bool range = false;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(dl, "parameters"), i, p)
    {
        range = range || strcmp(json_string_value(json_object_get(p, "name")), "Range") == 0;
    }
    assert_true(range);
    /* The upload: multipart with a file part, or raw. */
    static const char *const mp[] = {"requestBody", "content",    "multipart/form-data",
                                     "schema",      "properties", "file",
                                     "format",      NULL};
    assert_string_equal(json_string_value(at(op_of("POST", "/api/v1/files"), mp)), "binary");
    /* Probes answer 503 with their own shape, not a problem. */
    static const char *const ready503[] = {"responses", "503", "content", "application/json", NULL};
    assert_non_null(at(op_of("GET", "/readyz"), ready503));
}

static size_t nschemes(json_t *op, const char *name)
{
    size_t i, found = 0;
    json_t *alt;
    json_array_foreach(json_object_get(op, "security"), i, alt)
    {
        found += json_object_get(alt, name) != NULL;
    }
    return found;
}

static void test_openapi_security(void **state)
{
    (void)state;
    size_t n = 0;
    const gw_route_t *t = gw_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *op = op_of(t[i].method, t[i].pattern);
        assert_non_null(json_object_get(op, "security"));
        bool session = t[i].flags & GW_ROUTE_SESSION;
        assert_int_equal(nschemes(op, "bearerAuth"), t[i].permission ? 1 : 0);
        assert_int_equal(nschemes(op, "apiKey"), t[i].permission && !session ? 1 : 0);
        assert_int_equal(nschemes(op, "refreshCookie"), (t[i].flags & GW_ROUTE_COOKIE) ? 1 : 0);
        if (t[i].permission) {
            assert_true(has_status(op, "401") && has_status(op, "403"));
            assert_string_equal(json_string_value(json_object_get(op, "x-permission")),
                                t[i].permission);
        }
    }
    assert_int_equal(nschemes(op_of("GET", "/api/v1/auth/sessions"), "apiKey"), 0);
    assert_int_equal(nschemes(op_of("GET", "/api/v1/users/me"), "apiKey"), 1);
}

static void test_openapi_problems_and_rate_headers(void **state)
{
    (void)state;
    static const char *const codes[] = {"components", "schemas", "Problem", "properties",
                                        "code",       "enum",    NULL};
    json_t *e = at(doc, codes);
    assert_int_equal(json_array_size(e), PROTO_ERR__COUNT - PROTO_OK - 1);
    for (int c = PROTO_OK + 1; c < PROTO_ERR__COUNT; c++) {
        bool found = false;
        size_t i;
        json_t *v;
        json_array_foreach(e, i, v)
        {
            found = found || strcmp(json_string_value(v), proto_err_code((proto_err_t)c)) == 0;
        }
        if (!found)
            fail_msg("code %s not in the Problem schema", proto_err_code((proto_err_t)c));
    }
    static const char *const problem[] = {
        "responses", "422", "content", "application/problem+json", "schema", "$ref", NULL};
    assert_string_equal(json_string_value(at(op_of("PATCH", "/api/v1/users/me"), problem)),
                        "#/components/schemas/Problem");
    static const char *const ra[] = {"responses", "429", "headers", "Retry-After", NULL};
    static const char *const rl[] = {"responses", "200", "headers", "RateLimit-Remaining", NULL};
    assert_non_null(at(op_of("GET", "/api/v1/users/me"), ra));
    assert_non_null(at(op_of("GET", "/api/v1/users/me"), rl));
    assert_non_null(at(op_of("POST", "/api/v1/auth/token"), ra));
    /* The probes outside /api/ are never limited. */
    assert_null(at(op_of("GET", "/healthz"), rl));
    assert_false(has_status(op_of("GET", "/healthz"), "429"));
    /* Cookies: the sign-ins set them, refresh and the logouts set or clear
     * the refresh cookie; other routes never. */
    static const char *const ck200[] = {"responses", "200", "headers", "Set-Cookie", NULL};
    static const char *const ck204[] = {"responses", "204", "headers", "Set-Cookie", NULL};
    assert_non_null(at(op_of("POST", "/api/v1/auth/token"), ck200));
    assert_non_null(at(op_of("POST", "/api/v1/auth/login"), ck200));
    assert_non_null(at(op_of("POST", "/api/v1/auth/refresh"), ck200));
    assert_non_null(at(op_of("POST", "/api/v1/auth/logout"), ck204));
    assert_non_null(at(op_of("POST", "/api/v1/auth/logout-all"), ck204));
    assert_null(at(op_of("GET", "/api/v1/users/me"), ck200));
    assert_null(at(op_of("POST", "/api/v1/auth/2fa/disable"), ck204));
    static const char *const www[] = {"responses", "401", "headers", "WWW-Authenticate", NULL};
    assert_non_null(at(op_of("GET", "/api/v1/users"), www));
}

/* One source: a table of its own gives a document of its rows only. */
static void test_openapi_follows_the_table(void **state)
{
    (void)state;
    static const gw_field_t fields[] = {
        {"title", GW_JSON_STRING, true, 40, NULL},
        {NULL, GW_JSON_STRING, false, 0, NULL},
    };
    static const gw_answer_t answer = {201, NULL, NULL};
    static const gw_route_t rows[] = {
        {"POST", "/api/v1/notes", NULL, "content:write", GW_BODY_JSON, fields, 0, NULL,
         "Add a note", &answer},
        {"GET", "/api/v1/notes/{note}", NULL, "content:read", GW_BODY_NONE, NULL, 0, NULL, NULL,
         &answer},
    };
    json_t *d = gw_openapi_new(rows, 2, "1");
    assert_non_null(d);
    json_t *paths = json_object_get(d, "paths");
    assert_int_equal(json_object_size(paths), 2);
    static const char *const title[] = {"/api/v1/notes",    "post",   "requestBody", "content",
                                        "application/json", "schema", "properties",  "title",
                                        "maxLength",        NULL};
    assert_int_equal(json_integer_value(at(paths, title)), 40);
    static const char *const pname[] = {"/api/v1/notes/{note}", "get", "parameters", NULL};
    json_t *p0 = json_array_get(at(paths, pname), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "note");
    assert_string_equal(json_string_value(json_object_get(p0, "in")), "path");
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openapi_header),
        cmocka_unit_test(test_openapi_every_route_once),
        cmocka_unit_test(test_openapi_bodies_are_the_field_tables),
        cmocka_unit_test(test_openapi_success_answers),
        cmocka_unit_test(test_openapi_security),
        cmocka_unit_test(test_openapi_problems_and_rate_headers),
        cmocka_unit_test(test_openapi_follows_the_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
