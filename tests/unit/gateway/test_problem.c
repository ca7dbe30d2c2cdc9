/*
 * Unit tests for gw_problem: every field of the problem JSON, escaping,
 * the errors array, and that internal errors never show their detail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_problem.h"

#define RID "5b7c1a2e-0000-4000-8000-000000000001"

static const char *str_field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_problem_fields(void **state)
{
    (void)state;
    json_t *p = gw_problem_new(PROTO_ERR_INVALID_CREDENTIALS, "Invalid credentials", RID, NULL);
    assert_non_null(p);
    assert_string_equal(str_field(p, "type"), "about:blank");
    assert_string_equal(str_field(p, "title"), "Unauthorized");
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 401);
    assert_string_equal(str_field(p, "detail"), "Invalid credentials");
    assert_string_equal(str_field(p, "code"), "invalid_credentials");
    assert_string_equal(str_field(p, "request_id"), RID);
    assert_null(json_object_get(p, "errors"));
    assert_int_equal(json_object_size(p), 6);
    json_decref(p);
}

static void test_problem_status_from_table(void **state)
{
    (void)state;
    static const struct {
        proto_err_t err;
        int status;
        const char *code;
    } rows[] = {
        {PROTO_ERR_BAD_REQUEST, 400, "bad_request"},
        {PROTO_ERR_NOT_FOUND, 404, "not_found"},
        {PROTO_ERR_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
        {PROTO_ERR_PAYLOAD_TOO_LARGE, 413, "payload_too_large"},
        {PROTO_ERR_URI_TOO_LONG, 414, "uri_too_long"},
        {PROTO_ERR_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type"},
        {PROTO_ERR_VALIDATION_ERROR, 422, "validation_error"},
        {PROTO_ERR_HEADER_TOO_LARGE, 431, "header_too_large"},
        {PROTO_ERR_UNAVAILABLE, 503, "unavailable"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *p = gw_problem_new(rows[i].err, "x", RID, NULL);
        assert_int_equal(json_integer_value(json_object_get(p, "status")), rows[i].status);
        assert_int_equal(gw_problem_status(rows[i].err), rows[i].status);
        assert_string_equal(str_field(p, "code"), rows[i].code);
        json_decref(p);
    }
}

static void test_problem_escaping(void **state)
{
    (void)state;
    size_t len = 0;
    char *text = gw_problem_dumps(PROTO_ERR_BAD_REQUEST, "quote \" backslash \\ nl \n </script>",
                                  RID, NULL, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "quote \\\" backslash \\\\ nl \\n"));
    json_error_t e;
    json_t *p = json_loads(text, 0, &e);
    assert_non_null(p);
    assert_string_equal(str_field(p, "detail"), "quote \" backslash \\ nl \n </script>");
    json_decref(p);
    free(text);
}

static void test_problem_invalid_utf8_detail_uses_public_detail(void **state)
{
    (void)state;
    json_t *p = gw_problem_new(PROTO_ERR_BAD_REQUEST, "bad \xff\xfe bytes", RID, NULL);
    assert_non_null(p);
    assert_string_equal(str_field(p, "detail"), "The request could not be processed");
    json_decref(p);
    /* A code whose row has no public detail falls back to its title. */
    p = gw_problem_new(PROTO_ERR_PAYLOAD_TOO_LARGE, "bad \xff bytes", RID, NULL);
    assert_non_null(p);
    assert_string_equal(str_field(p, "detail"), "Content Too Large");
    json_decref(p);
}

static void test_problem_missing_detail_uses_public_detail(void **state)
{
    (void)state;
    json_t *p = gw_problem_new(PROTO_ERR_NOT_FOUND, NULL, NULL, NULL);
    assert_string_equal(str_field(p, "detail"), "The requested resource was not found");
    assert_string_equal(str_field(p, "request_id"), "");
    json_decref(p);
    p = gw_problem_new(PROTO_ERR_NOT_FOUND, "", RID, NULL);
    assert_string_equal(str_field(p, "detail"), "The requested resource was not found");
    json_decref(p);
}

static void test_problem_errors_array(void **state)
{
    (void)state;
    json_t *errors = json_pack("[{s:s, s:s}, {s:s, s:s}]", "field", "username", "message",
                               "too short", "field", "email", "message", "invalid");
    json_t *p = gw_problem_new(PROTO_ERR_VALIDATION_ERROR, "Invalid fields", RID, errors);
    json_t *got = json_object_get(p, "errors");
    assert_true(json_is_array(got));
    assert_int_equal(json_array_size(got), 2);
    assert_string_equal(str_field(json_array_get(got, 0), "field"), "username");
    assert_string_equal(str_field(json_array_get(got, 1), "message"), "invalid");
    assert_true(json_equal(got, errors));
    assert_int_equal(errors->refcount, 1); /* borrowed, not stolen */
    json_decref(p);
    json_decref(errors);
}

static void test_problem_errors_not_array_ignored(void **state)
{
    (void)state;
    json_t *bogus = json_object();
    json_t *p = gw_problem_new(PROTO_ERR_VALIDATION_ERROR, "x", RID, bogus);
    assert_null(json_object_get(p, "errors"));
    json_decref(p);
    json_decref(bogus);
}

static void test_problem_internal_error_generic_detail(void **state)
{
    (void)state;
    json_t *p = gw_problem_new(PROTO_ERR_INTERNAL_ERROR,
                               "PQexec failed: relation users at /srv/x.c:42", RID, NULL);
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 500);
    assert_string_equal(str_field(p, "title"), "Internal Server Error");
    assert_string_equal(str_field(p, "detail"), "An unexpected error occurred");
    assert_string_equal(str_field(p, "code"), "internal_error");
    json_decref(p);
}

/* A route may answer a code with another status (totp_invalid on the 2FA
 * routes: 400): status and title follow it, the code stays. */
static void test_problem_dumps_with_another_status(void **state)
{
    (void)state;
    size_t len = 0;
    char *text =
        gw_problem_dumps_status(PROTO_ERR_TOTP_INVALID, 400, "Wrong code", RID, NULL, &len);
    assert_non_null(text);
    json_t *p = json_loads(text, 0, NULL);
    assert_non_null(p);
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 400);
    assert_string_equal(str_field(p, "title"), "Bad Request");
    assert_string_equal(str_field(p, "code"), "totp_invalid");
    assert_int_equal(len, strlen(text));
    json_decref(p);
    free(text);
    text = gw_problem_dumps_status(PROTO_ERR_TOTP_INVALID, 0, NULL, RID, NULL, &len);
    p = json_loads(text, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 401);
    assert_string_equal(str_field(p, "title"), "Unauthorized");
    json_decref(p);
    free(text);
}

static void test_problem_ok_or_out_of_range_is_internal(void **state)
{
    (void)state;
    json_t *p = gw_problem_new(PROTO_OK, "secret detail", RID, NULL);
    assert_int_equal(json_integer_value(json_object_get(p, "status")), 500);
    assert_string_equal(str_field(p, "detail"), "An unexpected error occurred");
    json_decref(p);
    p = gw_problem_new((proto_err_t)9999, "secret", RID, NULL);
    assert_string_equal(str_field(p, "code"), "internal_error");
    assert_int_equal(gw_problem_status((proto_err_t)9999), 500);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_problem_fields),
        cmocka_unit_test(test_problem_status_from_table),
        cmocka_unit_test(test_problem_escaping),
        cmocka_unit_test(test_problem_invalid_utf8_detail_uses_public_detail),
        cmocka_unit_test(test_problem_missing_detail_uses_public_detail),
        cmocka_unit_test(test_problem_errors_array),
        cmocka_unit_test(test_problem_errors_not_array_ignored),
        cmocka_unit_test(test_problem_internal_error_generic_detail),
        cmocka_unit_test(test_problem_ok_or_out_of_range_is_internal),
        cmocka_unit_test(test_problem_dumps_with_another_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
