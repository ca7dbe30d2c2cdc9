/*
 * Unit tests for gw_route: exact and {param} segments, bounds on captured
 * values, 404 versus 405 with the Allow list, query strings ignored; and
 * the public table checked against the op catalogue (every accepted JSON
 * field exists in the op with a compatible type and bound, every required
 * op field is supplied, slow routes are exactly the slow-lane ops).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_api.h"
#include "gw_auth.h"
#include "gw_route.h"
#include "proto_catalog.h"

#include <stdio.h>

static void h_dummy(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    (void)ctx;
    (void)req;
    (void)reply;
}

static const gw_route_t routes[] = {
    {"GET", "/api/v1/users", h_dummy, "users:read", GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
    {"GET", "/api/v1/users/{id}", h_dummy, "users:read", GW_BODY_NONE, NULL, false, NULL, NULL,
     NULL},
    {"PATCH", "/api/v1/users/{id}", h_dummy, "users:write", GW_BODY_JSON, NULL, false, NULL, NULL,
     NULL},
    {"DELETE", "/api/v1/users/{id}", h_dummy, "users:delete", GW_BODY_NONE, NULL, false, NULL, NULL,
     NULL},
    {"GET", "/api/v1/users/me", h_dummy, "self:read", GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
    {"POST", "/api/v1/auth/login", h_dummy, NULL, GW_BODY_JSON, NULL, false, NULL, NULL, NULL},
    {"GET", "/api/v1/files/{id}/content", h_dummy, "content:read", GW_BODY_NONE, NULL, false, NULL,
     NULL, NULL},
    {"GET", "/a/{x}/b/{y}", h_dummy, NULL, GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
    {"GET", "/", h_dummy, NULL, GW_BODY_NONE, NULL, false, NULL, NULL, NULL},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static gw_match_result_t match(const char *method, const char *target, gw_match_t *m)
{
    return gw_route_match(routes, NROUTES, method, target, m);
}

static void test_route_exact_match(void **state)
{
    (void)state;
    gw_match_t m;
    assert_int_equal(match("GET", "/api/v1/users", &m), GW_MATCH_OK);
    assert_ptr_equal(m.route, &routes[0]);
    assert_int_equal(m.nparams, 0);
    assert_int_equal(match("GET", "/", &m), GW_MATCH_OK);
    assert_ptr_equal(m.route, &routes[8]);
}

static void test_route_param_captured(void **state)
{
    (void)state;
    gw_match_t m;
    assert_int_equal(match("GET", "/api/v1/users/42ab", &m), GW_MATCH_OK);
    assert_ptr_equal(m.route, &routes[1]);
    assert_int_equal(m.nparams, 1);
    assert_int_equal(m.params[0].name_len, 2);
    assert_memory_equal(m.params[0].name, "id", 2);
    assert_string_equal(m.params[0].value, "42ab");
    gw_request_t req = {.params = m.params, .nparams = m.nparams};
    assert_string_equal(gw_request_param(&req, "id"), "42ab");
    assert_null(gw_request_param(&req, "i"));
    assert_null(gw_request_param(&req, "idx"));
}

static void test_route_two_params(void **state)
{
    (void)state;
    gw_match_t m;
    assert_int_equal(match("GET", "/a/one/b/two", &m), GW_MATCH_OK);
    gw_request_t req = {.params = m.params, .nparams = m.nparams};
    assert_string_equal(gw_request_param(&req, "x"), "one");
    assert_string_equal(gw_request_param(&req, "y"), "two");
}

static void test_route_first_row_wins(void **state)
{
    (void)state;
    gw_match_t m;
    /* "/api/v1/users/me" is also "/api/v1/users/{id}"; table order decides. */
    assert_int_equal(match("GET", "/api/v1/users/me", &m), GW_MATCH_OK);
    assert_ptr_equal(m.route, &routes[1]);
}

static void test_route_method_selects_row(void **state)
{
    (void)state;
    gw_match_t m;
    assert_int_equal(match("PATCH", "/api/v1/users/7", &m), GW_MATCH_OK);
    assert_ptr_equal(m.route, &routes[2]);
    assert_int_equal(m.route->body, GW_BODY_JSON);
    assert_string_equal(m.route->permission, "users:write");
    assert_int_equal(match("DELETE", "/api/v1/users/7", &m), GW_MATCH_OK);
    assert_ptr_equal(m.route, &routes[3]);
}

static void test_route_query_string_ignored(void **state)
{
    (void)state;
    gw_match_t m;
    assert_int_equal(match("GET", "/api/v1/users?page=1&per_page=20", &m), GW_MATCH_OK);
    assert_ptr_equal(m.route, &routes[0]);
    assert_int_equal(match("GET", "/api/v1/users/9?x=/y", &m), GW_MATCH_OK);
    assert_string_equal(m.params[0].value, "9");
}

static void test_route_not_found(void **state)
{
    (void)state;
    static const char *const misses[] = {
        "/api/v1/user",    "/api/v1/users/",         "/api/v1/users/1/x",      "/api/v1",
        "/api/v1/users//", "//api/v1/users",         "/API/v1/users",          "",
        "api/v1/users",    "/api/v1/files/1/conten", "/api/v1/files//content", "/a/1/b/",
    };
    for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
        gw_match_t m;
        assert_int_equal(match("GET", misses[i], &m), GW_MATCH_NOT_FOUND);
        assert_null(m.route);
        assert_string_equal(m.allow, "");
    }
}

static void test_route_method_not_allowed_lists_allow(void **state)
{
    (void)state;
    gw_match_t m;
    assert_int_equal(match("POST", "/api/v1/users/5", &m), GW_MATCH_METHOD_NOT_ALLOWED);
    assert_null(m.route);
    assert_string_equal(m.allow, "GET, PATCH, DELETE, HEAD, OPTIONS");
    assert_int_equal(match("GET", "/api/v1/auth/login", &m), GW_MATCH_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "POST, OPTIONS");
    /* OPTIONS itself is answered by the server from the Allow list. */
    assert_int_equal(match("OPTIONS", "/api/v1/users", &m), GW_MATCH_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS");
}

static void test_route_head_served_by_get(void **state)
{
    (void)state;
    gw_match_t m;
    assert_int_equal(match("HEAD", "/api/v1/users/1", &m), GW_MATCH_OK);
    assert_ptr_equal(m.route, &routes[1]);
    assert_int_equal(match("HEAD", "/api/v1/auth/login", &m), GW_MATCH_METHOD_NOT_ALLOWED);
}

static void test_route_param_length_bounds(void **state)
{
    (void)state;
    char path[64 + GW_PARAM_MAX + 2];
    gw_match_t m;
    strcpy(path, "/api/v1/users/");
    size_t base = strlen(path);
    memset(path + base, 'a', GW_PARAM_MAX);
    path[base + GW_PARAM_MAX] = '\0';
    assert_int_equal(match("GET", path, &m), GW_MATCH_OK);
    assert_int_equal(strlen(m.params[0].value), GW_PARAM_MAX);
    path[base + GW_PARAM_MAX] = 'a';
    path[base + GW_PARAM_MAX + 1] = '\0';
    assert_int_equal(match("GET", path, &m), GW_MATCH_NOT_FOUND);
}

static void test_route_public_table_has_health(void **state)
{
    (void)state;
    size_t n = 0;
    const gw_route_t *t = gw_route_table(&n);
    assert_true(n >= 3);
    static const char *const paths[] = {"/healthz", "/readyz", "/api/v1/health"};
    for (size_t i = 0; i < 3; i++) {
        gw_match_t m;
        assert_int_equal(gw_route_match(t, n, "GET", paths[i], &m), GW_MATCH_OK);
        assert_null(m.route->permission);
        assert_int_equal(m.route->body, GW_BODY_NONE);
    }
}

static const char *const api_permissions[] = {
    "users:read",   "users:write",   "users:delete",   "admin:read", "admin:write",
    "content:read", "content:write", "content:delete", "self:read",  "self:write",
};

static bool known_permission(const char *p)
{
    for (size_t i = 0; i < sizeof api_permissions / sizeof api_permissions[0]; i++) {
        if (strcmp(p, api_permissions[i]) == 0)
            return true;
    }
    return false;
}

static const proto_field_t *op_field(const proto_op_def_t *def, const char *name)
{
    for (size_t i = 0; i < def->nfields; i++) {
        if (strcmp(def->fields[i].name, name) == 0)
            return &def->fields[i];
    }
    return NULL;
}

static bool type_fits(gw_json_type_t jt, proto_type_t pt)
{
    switch (jt) {
    case GW_JSON_STRING:
        return pt == PROTO_T_STR || pt == PROTO_T_NIL_OR_STR;
    case GW_JSON_STRING_OR_NULL:
    case GW_JSON_TEXT_OR_NULL:
        return pt == PROTO_T_NIL_OR_STR;
    case GW_JSON_BOOL:
        return pt == PROTO_T_BOOL;
    case GW_JSON_INTEGER:
        return pt == PROTO_T_INT;
    case GW_JSON_STRING_ARRAY:
        return pt == PROTO_T_ARRAY;
    }
    return false;
}

/* The op fields the gateway itself adds for `r`: first the ones never
 * taken from a client (args, the path id), `*nfixed` of them, then what a
 * handler computes (possibly from a body field of the same name). */
static size_t added_fields(const gw_route_t *r, const char **out, size_t *nfixed)
{
    static const struct {
        unsigned bit;
        const char *name;
    } bits[] = {
        {GW_ARG_CLIENT_IP, "client_ip"}, {GW_ARG_USER_AGENT, "user_agent"},
        {GW_ARG_ACTOR_ID, "actor_id"},   {GW_ARG_ACTOR_ROLE, "actor_role"},
        {GW_ARG_ACTOR_SID, "actor_sid"}, {GW_ARG_SELF_ID, "id"},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        if (r->call->args & bits[i].bit)
            out[n++] = bits[i].name;
    }
    if (r->call->param)
        out[n++] = r->call->param;
    *nfixed = n;
    if (r->handler == gw_auth_refresh || r->handler == gw_auth_logout)
        out[n++] = "refresh_token";
    if (r->handler == gw_auth_logout)
        out[n++] = "credential";
    if (r->handler == gw_auth_login || r->handler == gw_auth_token)
        out[n++] = "device_cookie";
    if (r->handler == gw_api_users_list) {
        out[n++] = "page";
        out[n++] = "per_page";
    }
    return n;
}

static bool listed(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

/* Fields the schema leaves unbounded because their handler enforces the
 * wire bound itself (test_api checks that nothing over it is forwarded):
 * refresh tokens, where any over-long value is an unknown token (401 or a
 * no-op logout), not a 422. */
static bool bounded_by_handler(const gw_route_t *r, const gw_field_t *f)
{
    return (r->handler == gw_auth_refresh || r->handler == gw_auth_logout) &&
           strcmp(f->name, "refresh_token") == 0 && f->max_bytes == 0;
}

static void check_route_against_catalogue(const gw_route_t *r)
{
    const proto_op_def_t *def = proto_op_def(r->call->op);
    assert_non_null(def);
    const char *added[16];
    size_t nfixed = 0;
    size_t nadded = added_fields(r, added, &nfixed);
    for (const gw_field_t *f = r->fields; f && f->name; f++) {
        const proto_field_t *pf = op_field(def, f->name);
        if (!pf || !type_fits(f->type, pf->type))
            fail_msg("%s %s: field %s does not fit %s", r->method, r->pattern, f->name, def->name);
        if (pf->type == PROTO_T_ARRAY && (GW_SCHEMA_ARRAY_MAX > pf->max || f->max_bytes == 0))
            fail_msg("%s %s: items of %s exceed the catalogue", r->method, r->pattern, f->name);
        if (pf->type != PROTO_T_BOOL && pf->type != PROTO_T_INT && pf->type != PROTO_T_ARRAY &&
            !bounded_by_handler(r, f) && (f->max_bytes == 0 || f->max_bytes > pf->max))
            fail_msg("%s %s: bound of %s exceeds the catalogue", r->method, r->pattern, f->name);
        if (listed(added, nfixed, f->name)) /* a client could otherwise set it */
            fail_msg("%s %s: %s is both a body field and gateway-added", r->method, r->pattern,
                     f->name);
    }
    for (size_t i = 0; i < nadded; i++) {
        if (!op_field(def, added[i]))
            fail_msg("%s %s: %s adds %s, not a field of %s", r->method, r->pattern, added[i],
                     added[i], def->name);
    }
    for (size_t i = 0; i < def->nfields; i++) {
        const proto_field_t *pf = &def->fields[i];
        const gw_field_t *f = gw_schema_field(r->fields, pf->name);
        if (pf->required && !(f && f->required) && !listed(added, nadded, pf->name))
            fail_msg("%s %s: nothing supplies %s of %s", r->method, r->pattern, pf->name,
                     def->name);
    }
    if (((r->flags & GW_ROUTE_SLOW) != 0) != (def->lane == PROTO_LANE_SLOW))
        fail_msg("%s %s: slow flag disagrees with the lane of %s", r->method, r->pattern,
                 def->name);
}

static void test_route_public_table_matches_catalogue(void **state)
{
    size_t n = 0;
    const gw_route_t *t = gw_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        const gw_route_t *r = &t[i];
        if (r->permission && !known_permission(r->permission))
            fail_msg("%s %s: unknown permission %s", r->method, r->pattern, r->permission);
        if ((r->body == GW_BODY_JSON || r->body == GW_BODY_JSON_OPTIONAL) && !r->fields)
            fail_msg("%s %s: a JSON route without a field table", r->method, r->pattern);
        bool actor = r->call && (r->call->args & (GW_ARG_ACTOR_ID | GW_ARG_ACTOR_ROLE |
                                                  GW_ARG_ACTOR_SID | GW_ARG_SELF_ID));
        if (actor && !r->permission)
            fail_msg("%s %s: actor fields on a public route", r->method, r->pattern);
        if (r->call)
            check_route_against_catalogue(r);
        else
            assert_false(r->flags & GW_ROUTE_SLOW);
    }
}

/* The API rate limit covers every /api/ route: protected ones through
 * auth.authorize, public ones through their own authsvc op (which counts
 * the request) or, for those without one, an anonymous auth.authorize
 * (GW_ROUTE_LIMITED); the probes outside /api/ are never limited. */
static void test_route_every_api_route_is_rate_limited(void **state)
{
    size_t n = 0;
    const gw_route_t *t = gw_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        const gw_route_t *r = &t[i];
        bool api = strncmp(r->pattern, "/api/", 5) == 0;
        bool own_op = r->call && r->call->svc == GW_SVC_AUTHSVC;
        bool limited = r->permission || own_op || (r->flags & GW_ROUTE_LIMITED);
        if (api && !limited)
            fail_msg("%s %s: not rate-limited", r->method, r->pattern);
        if (!api && (r->flags & GW_ROUTE_LIMITED))
            fail_msg("%s %s: a probe must not be rate-limited", r->method, r->pattern);
        if (r->permission && (r->flags & GW_ROUTE_LIMITED))
            fail_msg("%s %s: limited twice", r->method, r->pattern);
    }
}

static void test_route_public_table_api_rows(void **state)
{
    size_t n = 0;
    const gw_route_t *t = gw_route_table(&n);
    static const struct {
        const char *method, *path, *permission;
    } rows[] = {
        {"POST", "/api/v1/auth/register", NULL},
        {"POST", "/api/v1/auth/token", NULL},
        {"POST", "/api/v1/auth/login", NULL},
        {"POST", "/api/v1/auth/refresh", NULL},
        {"POST", "/api/v1/auth/logout", NULL},
        {"POST", "/api/v1/auth/logout-all", "self:read"},
        {"GET", "/api/v1/auth/session", "self:read"},
        {"GET", "/api/v1/auth/sessions", "self:read"},
        {"DELETE", "/api/v1/auth/sessions/abc", "self:read"},
        {"POST", "/api/v1/auth/2fa/setup", "self:write"},
        {"POST", "/api/v1/auth/2fa/enable", "self:write"},
        {"POST", "/api/v1/auth/2fa/disable", "self:write"},
        {"GET", "/api/v1/users/me", "self:read"},
        {"PATCH", "/api/v1/users/me", "self:write"},
        {"POST", "/api/v1/users/me/password", "self:write"},
        {"GET", "/api/v1/users?page=2", "users:read"},
        {"GET", "/api/v1/users/0b7c5b3e-0000-4000-8000-000000000000", "users:read"},
        {"PATCH", "/api/v1/users/x", "users:write"},
        {"DELETE", "/api/v1/users/x", "users:delete"},
        {"GET", "/api/v1/admin/stats", "admin:read"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        gw_match_t m;
        if (gw_route_match(t, n, rows[i].method, rows[i].path, &m) != GW_MATCH_OK)
            fail_msg("%s %s: no route", rows[i].method, rows[i].path);
        if (rows[i].permission)
            assert_string_equal(m.route->permission, rows[i].permission);
        else
            assert_null(m.route->permission);
    }
    gw_match_t m;
    assert_int_equal(gw_route_match(t, n, "GET", "/api/v1/users/me", &m), GW_MATCH_OK);
    assert_string_equal(m.route->pattern, "/api/v1/users/me"); /* not /users/{id} */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_exact_match),
        cmocka_unit_test(test_route_param_captured),
        cmocka_unit_test(test_route_two_params),
        cmocka_unit_test(test_route_first_row_wins),
        cmocka_unit_test(test_route_method_selects_row),
        cmocka_unit_test(test_route_query_string_ignored),
        cmocka_unit_test(test_route_not_found),
        cmocka_unit_test(test_route_method_not_allowed_lists_allow),
        cmocka_unit_test(test_route_head_served_by_get),
        cmocka_unit_test(test_route_param_length_bounds),
        cmocka_unit_test(test_route_public_table_has_health),
        cmocka_unit_test(test_route_public_table_matches_catalogue),
        cmocka_unit_test(test_route_every_api_route_is_rate_limited),
        cmocka_unit_test(test_route_public_table_api_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
