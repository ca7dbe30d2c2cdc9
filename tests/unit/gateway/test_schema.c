/*
 * Unit tests for gw_schema: request bodies against field tables (unknown
 * fields, wrong JSON types, missing required fields, string bounds, what an
 * error may echo) and answers projected onto documented keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_schema.h"

static const gw_field_t fields[] = {
    {"username", GW_JSON_STRING, true, 8, NULL},
    {"password", GW_JSON_STRING, true, 0, NULL},
    {"full_name", GW_JSON_STRING_OR_NULL, false, 0, NULL},
    {"is_active", GW_JSON_BOOL, false, 0, NULL},
    {"count", GW_JSON_INTEGER, false, 0, NULL},
    {"bio", GW_JSON_TEXT_OR_NULL, false, 64, NULL},
    {NULL, GW_JSON_STRING, false, 0, NULL},
};

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return v;
}

/* Checks `text` and returns the errors array (NULL when it conforms). */
static json_t *check(const char *text)
{
    json_t *body = parse(text);
    json_t *errors = (json_t *)0x1;
    int rc = gw_schema_check(fields, body, &errors);
    json_decref(body);
    if (rc == 0) {
        assert_null(errors);
        return NULL;
    }
    assert_int_equal(rc, -1);
    assert_true(json_is_array(errors));
    assert_true(json_array_size(errors) > 0);
    return errors;
}

/* True when `errors` has an entry for `field` whose message contains `msg`. */
static int has_error(const json_t *errors, const char *field, const char *msg)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        const char *m = json_string_value(json_object_get(e, "message"));
        assert_non_null(f);
        assert_non_null(m);
        if (strcmp(f, field) == 0 && strstr(m, msg))
            return 1;
    }
    return 0;
}

static void test_schema_valid_bodies_pass(void **state)
{
    assert_null(check("{\"username\":\"alice\",\"password\":\"x\"}"));
    assert_null(check("{\"username\":\"alice\",\"password\":\"\",\"full_name\":null,"
                      "\"is_active\":false,\"count\":-3}"));
    assert_null(check("{\"password\":\"p\",\"full_name\":\"Alice A\",\"username\":\"12345678\"}"));
}

static void test_schema_unknown_field_rejected(void **state)
{
    /* Mass assignment: role/id/is_admin are not in a register body. */
    json_t *e = check("{\"username\":\"a\",\"password\":\"b\",\"role\":\"admin\",\"id\":\"x\"}");
    assert_true(has_error(e, "role", "unknown field"));
    assert_true(has_error(e, "id", "unknown field"));
    assert_int_equal(json_array_size(e), 2);
    json_decref(e);
}

static void test_schema_wrong_types_rejected(void **state)
{
    static const char *const cases[][3] = {
        {"{\"username\":1,\"password\":\"b\"}", "username", "must be a string"},
        {"{\"username\":null,\"password\":\"b\"}", "username", "must be a string"},
        {"{\"username\":[\"a\"],\"password\":\"b\"}", "username", "must be a string"},
        {"{\"username\":\"a\",\"password\":{}}", "password", "must be a string"},
        {"{\"username\":\"a\",\"password\":\"b\",\"full_name\":3}", "full_name", "string or null"},
        {"{\"username\":\"a\",\"password\":\"b\",\"is_active\":\"true\"}", "is_active", "boolean"},
        {"{\"username\":\"a\",\"password\":\"b\",\"is_active\":1}", "is_active", "boolean"},
        {"{\"username\":\"a\",\"password\":\"b\",\"count\":1.5}", "count", "integer"},
        {"{\"username\":\"a\",\"password\":\"b\",\"count\":\"1\"}", "count", "integer"},
        {"{\"username\":\"a\",\"password\":\"b\",\"count\":true}", "count", "integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *e = check(cases[i][0]);
        if (!e || !has_error(e, cases[i][1], cases[i][2]))
            fail_msg("case %zu (%s): no \"%s\" error for %s", i, cases[i][0], cases[i][2],
                     cases[i][1]);
        json_decref(e);
    }
}

static void test_schema_missing_required_rejected(void **state)
{
    json_t *e = check("{}");
    assert_true(has_error(e, "username", "is required"));
    assert_true(has_error(e, "password", "is required"));
    assert_int_equal(json_array_size(e), 2);
    json_decref(e);
    e = check("{\"password\":\"x\",\"full_name\":null}");
    assert_true(has_error(e, "username", "is required"));
    assert_int_equal(json_array_size(e), 1);
    json_decref(e);
}

static void test_schema_string_bound_in_bytes(void **state)
{
    /* 8 bytes fit; 9 do not; "é" is 2 bytes, so 5 of them (10 bytes) do not. */
    assert_null(check("{\"username\":\"abcdefgh\",\"password\":\"x\"}"));
    json_t *e = check("{\"username\":\"abcdefghi\",\"password\":\"x\"}");
    assert_true(has_error(e, "username", "at most 8 bytes"));
    json_decref(e);
    e = check("{\"username\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\",\"password\":\"x\"}");
    assert_true(has_error(e, "username", "at most 8 bytes"));
    json_decref(e);
}

static void test_schema_errors_never_echo_values_or_odd_names(void **state)
{
    json_t *e = check("{\"username\":\"s3cret-value-xyz\",\"password\":7,"
                      "\"<script>alert(1)</script>\":1,\"\":2}");
    char *text = json_dumps(e, 0);
    assert_null(strstr(text, "s3cret"));
    assert_null(strstr(text, "script"));
    free(text);
    assert_true(has_error(e, "", "unknown field")); /* the odd names, unnamed */
    json_decref(e);
}

static void test_schema_errors_are_bounded(void **state)
{
    char body[8192] = "{\"username\":\"a\",\"password\":\"b\"";
    size_t off = strlen(body);
    for (int i = 0; i < 100; i++)
        off += (size_t)snprintf(body + off, sizeof body - off, ",\"x%d\":1", i);
    snprintf(body + off, sizeof body - off, "}");
    json_t *e = check(body);
    assert_int_equal(json_array_size(e), GW_SCHEMA_ERRORS_MAX);
    json_decref(e);
}

static void test_schema_non_object_rejected(void **state)
{
    static const char *const bodies[] = {"[]", "\"x\"", "1", "null"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *e = check(bodies[i]);
        assert_int_equal(json_array_size(e), 1);
        json_decref(e);
    }
}

static void test_schema_field_lookup(void **state)
{
    assert_ptr_equal(gw_schema_field(fields, "password"), &fields[1]);
    assert_null(gw_schema_field(fields, "role"));
    assert_null(gw_schema_field(NULL, "role"));
}

/* ---- projection ---- */

static const gw_key_t item_keys[] = {
    {"id", NULL, GW_KEY_ID}, {"name", NULL, GW_KEY_STRING}, {NULL, NULL, GW_KEY_STRING}};
static const gw_key_t top_keys[] = {{"items", item_keys, GW_KEY_OBJECTS},
                                    {"one", item_keys, GW_KEY_OBJECT},
                                    {"total", NULL, GW_KEY_INTEGER},
                                    {"missing", NULL, GW_KEY_STRING},
                                    {NULL, NULL, GW_KEY_STRING}};

static void test_schema_shape_keeps_documented_keys_only(void **state)
{
    json_t *src = parse("{\"total\":2,\"rate\":{\"limit\":1},\"password_hash\":\"$argon2\","
                        "\"items\":[{\"id\":\"a\",\"name\":\"A\",\"secret\":1},7,"
                        "{\"id\":\"b\"}],\"one\":{\"id\":\"c\",\"x\":1}}");
    json_t *out = gw_shape_apply(top_keys, src);
    json_t *want = parse("{\"items\":[{\"id\":\"a\",\"name\":\"A\"},{\"id\":\"b\"}],"
                         "\"one\":{\"id\":\"c\"},\"total\":2}");
    assert_true(json_equal(out, want));
    json_decref(out);
    json_decref(want);
    json_decref(src);
}

static void test_schema_shape_of_non_object_is_null(void **state)
{
    json_t *arr = parse("[1]");
    assert_null(gw_shape_apply(top_keys, arr));
    assert_null(gw_shape_apply(top_keys, NULL));
    json_decref(arr);
    json_t *empty = parse("{}");
    json_t *out = gw_shape_apply(top_keys, empty);
    assert_int_equal(json_object_size(out), 0);
    json_decref(out);
    json_decref(empty);
}

/* \u0000 is valid JSON: a field with rules refuses it by name, free text
 * loses it (the wire cannot carry it). */
static void test_schema_nul_refused_by_name_or_removed_from_text(void **state)
{
    json_t *errs = check("{\"username\":\"a\\u0000b\",\"password\":\"p\"}");
    assert_true(has_error(errs, "username", "NUL"));
    json_decref(errs);
    errs = check("{\"username\":\"ab\",\"password\":\"\\u0000\"}");
    assert_true(has_error(errs, "password", "NUL"));
    json_decref(errs);
    json_t *body = parse("{\"username\":\"ab\",\"password\":\"p\",\"bio\":\"A\\u0000B\\u0000\"}");
    json_t *e2 = NULL;
    assert_int_equal(gw_schema_check(fields, body, &e2), 0);
    assert_int_equal(gw_schema_clean(fields, body), 0);
    const json_t *bio = json_object_get(body, "bio");
    assert_int_equal(json_string_length(bio), 2);
    assert_string_equal(json_string_value(bio), "AB");
    json_decref(body);
}

static void test_schema_string_array(void **state)
{
    static const gw_field_t arr_fields[] = {
        {"permissions", GW_JSON_STRING_ARRAY, false, 8, NULL},
        {NULL, GW_JSON_STRING, false, 0, NULL},
    };
    static const char *const ok[] = {
        "{}",
        "{\"permissions\": []}",
        "{\"permissions\": [\"self:rea\", \"12345678\"]}",
        "{\"permissions\": "
        "[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
        "\"a\",\"a\",\"a\",\"a\"]}",
    };
    static const char *const bad[] = {
        "{\"permissions\": \"self:read\"}",
        "{\"permissions\": [1]}",
        "{\"permissions\": [\"123456789\"]}",
        "{\"permissions\": [\"a\\u0000b\"]}",
        "{\"permissions\": null}",
        "{\"permissions\": [[\"a\"]]}",
        "{\"permissions\": "
        "[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
        "\"a\",\"a\",\"a\",\"a\",\"a\"]}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        json_t *b = json_loads(ok[i], JSON_ALLOW_NUL, NULL), *errs = NULL;
        assert_non_null(b);
        if (gw_schema_check(arr_fields, b, &errs) != 0)
            fail_msg("refused %s", ok[i]);
        json_decref(b);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *b = json_loads(bad[i], JSON_ALLOW_NUL, NULL), *errs = NULL;
        assert_non_null(b);
        if (gw_schema_check(arr_fields, b, &errs) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 0), "field")),
                            "permissions");
        json_decref(errs);
        json_decref(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_valid_bodies_pass),
        cmocka_unit_test(test_schema_nul_refused_by_name_or_removed_from_text),
        cmocka_unit_test(test_schema_unknown_field_rejected),
        cmocka_unit_test(test_schema_wrong_types_rejected),
        cmocka_unit_test(test_schema_missing_required_rejected),
        cmocka_unit_test(test_schema_string_bound_in_bytes),
        cmocka_unit_test(test_schema_errors_never_echo_values_or_odd_names),
        cmocka_unit_test(test_schema_errors_are_bounded),
        cmocka_unit_test(test_schema_non_object_rejected),
        cmocka_unit_test(test_schema_field_lookup),
        cmocka_unit_test(test_schema_shape_keeps_documented_keys_only),
        cmocka_unit_test(test_schema_shape_of_non_object_is_null),
        cmocka_unit_test(test_schema_string_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
