/*
 * Unit tests for gw_route: exact and {param} segments, bounds on captured
 * values, 404 versus 405 with the Allow list, query strings ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_route.h"

static void h_dummy(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    (void)ctx;
    (void)req;
    (void)reply;
}

static const gw_route_t routes[] = {
    {"GET", "/api/v1/users", h_dummy, "users:read", GW_BODY_NONE},
    {"GET", "/api/v1/users/{id}", h_dummy, "users:read", GW_BODY_NONE},
    {"PATCH", "/api/v1/users/{id}", h_dummy, "users:write", GW_BODY_JSON},
    {"DELETE", "/api/v1/users/{id}", h_dummy, "users:delete", GW_BODY_NONE},
    {"GET", "/api/v1/users/me", h_dummy, "self:read", GW_BODY_NONE},
    {"POST", "/api/v1/auth/login", h_dummy, NULL, GW_BODY_JSON},
    {"GET", "/api/v1/files/{id}/content", h_dummy, "content:read", GW_BODY_NONE},
    {"GET", "/a/{x}/b/{y}", h_dummy, NULL, GW_BODY_NONE},
    {"GET", "/", h_dummy, NULL, GW_BODY_NONE},
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
