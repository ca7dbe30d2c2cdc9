/*
 * Unit tests for proto_error and proto_catalog: every error row maps to its
 * wire code, HTTP status and title and back through proto_err_from_code;
 * unknown codes and out-of-range values fall back to internal_error; ops are
 * found by their exact wire name (length-delimited) and out-of-range ops have
 * no definition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_catalog.h"
#include "proto_error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The X-macro rows, with the enum name as text. */
typedef struct {
    proto_err_t err;
    const char *name;
    const char *code;
    int status;
    const char *title;
} err_row_t;

static const err_row_t ERR_ROWS[] = {
#define ROW(name, code, status, title, pass, detail) {name, #name, code, status, title},
    PROTO_ERRORS(ROW)
#undef ROW
};
#define NROWS (sizeof ERR_ROWS / sizeof ERR_ROWS[0])

/* The statuses docs/API.md promises, written out independently of the table. */
static const struct {
    proto_err_t err;
    const char *code;
    int status;
} SPEC[] = {
    {PROTO_OK, "ok", 200},
    {PROTO_ERR_BAD_REQUEST, "bad_request", 400},
    {PROTO_ERR_WEAK_PASSWORD, "weak_password", 400},
    {PROTO_ERR_REGISTRATION_FAILED, "registration_failed", 400},
    {PROTO_ERR_INVALID_PASSWORD, "invalid_password", 400},
    {PROTO_ERR_CANNOT_DELETE_SELF, "cannot_delete_self", 400},
    {PROTO_ERR_INVALID_RESET_TOKEN, "invalid_reset_token", 400},
    {PROTO_ERR_UNAUTHORIZED, "unauthorized", 401},
    {PROTO_ERR_INVALID_CREDENTIALS, "invalid_credentials", 401},
    {PROTO_ERR_TOTP_REQUIRED, "totp_required", 401},
    {PROTO_ERR_TOTP_INVALID, "totp_invalid", 401},
    {PROTO_ERR_INVALID_REFRESH_TOKEN, "invalid_refresh_token", 401},
    {PROTO_ERR_REFRESH_TOKEN_REUSED, "refresh_token_reused", 401},
    {PROTO_ERR_FORBIDDEN, "forbidden", 403},
    {PROTO_ERR_REGISTRATION_DISABLED, "registration_disabled", 403},
    {PROTO_ERR_ACCOUNT_DISABLED, "account_disabled", 403},
    {PROTO_ERR_NOT_FOUND, "not_found", 404},
    {PROTO_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405},
    {PROTO_ERR_CONFLICT, "conflict", 409},
    {PROTO_ERR_PAYLOAD_TOO_LARGE, "payload_too_large", 413},
    {PROTO_ERR_URI_TOO_LONG, "uri_too_long", 414},
    {PROTO_ERR_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415},
    {PROTO_ERR_RANGE_NOT_SATISFIABLE, "range_not_satisfiable", 416},
    {PROTO_ERR_VALIDATION_ERROR, "validation_error", 422},
    {PROTO_ERR_LOGIN_RATE_LIMITED, "login_rate_limited", 429},
    {PROTO_ERR_RATE_LIMITED, "rate_limited", 429},
    {PROTO_ERR_HEADER_TOO_LARGE, "header_too_large", 431},
    {PROTO_ERR_INTERNAL_ERROR, "internal_error", 500},
    {PROTO_ERR_UNAVAILABLE, "unavailable", 503},
};

/* ---- error table ---- */

static void test_error_table_matches_rows(void **state)
{
    (void)state;
    assert_int_equal(NROWS, PROTO_ERR__COUNT);
    for (size_t i = 0; i < NROWS; i++) {
        const err_row_t *r = &ERR_ROWS[i];
        assert_int_equal(r->err, (proto_err_t)i); /* enum order is row order */
        assert_string_equal(proto_err_code(r->err), r->code);
        assert_int_equal(proto_err_http_status(r->err), r->status);
        assert_string_equal(proto_err_title(r->err), r->title);
        assert_true(r->title[0] != '\0');
        if (r->err == PROTO_OK)
            assert_int_equal(r->status, 200);
        else
            assert_true(r->status >= 400 && r->status <= 599);
    }
}

static void test_error_spec_statuses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof SPEC / sizeof SPEC[0]; i++) {
        assert_string_equal(proto_err_code(SPEC[i].err), SPEC[i].code);
        assert_int_equal(proto_err_http_status(SPEC[i].err), SPEC[i].status);
        assert_int_equal(proto_err_from_code(SPEC[i].code, strlen(SPEC[i].code)), SPEC[i].err);
    }
    assert_string_equal(proto_err_title(PROTO_ERR_INVALID_CREDENTIALS), "Unauthorized");
    assert_string_equal(proto_err_title(PROTO_ERR_PAYLOAD_TOO_LARGE), "Content Too Large");
    assert_string_equal(proto_err_title(PROTO_ERR_VALIDATION_ERROR), "Unprocessable Content");
    assert_string_equal(proto_err_title(PROTO_ERR_UNAVAILABLE), "Service Unavailable");
}

/* Wire codes are the enum names lower-cased without PROTO_ERR_. */
static void test_error_codes_follow_enum_names(void **state)
{
    (void)state;
    const char *prefix = "PROTO_ERR_";
    for (size_t i = 0; i < NROWS; i++) {
        const char *name = ERR_ROWS[i].name;
        char want[64];
        if (strcmp(name, "PROTO_OK") == 0) {
            snprintf(want, sizeof want, "ok");
        } else {
            assert_true(strncmp(name, prefix, strlen(prefix)) == 0);
            const char *s = name + strlen(prefix);
            size_t n = strlen(s);
            assert_true(n < sizeof want);
            for (size_t k = 0; k <= n; k++)
                want[k] = (char)tolower((unsigned char)s[k]);
        }
        assert_string_equal(proto_err_code(ERR_ROWS[i].err), want);
    }
}

static void test_error_every_code_round_trips(void **state)
{
    (void)state;
    for (int i = 0; i < PROTO_ERR__COUNT; i++) {
        const char *code = proto_err_code((proto_err_t)i);
        assert_non_null(code);
        assert_true(code[0] != '\0');
        assert_int_equal(proto_err_from_code(code, strlen(code)), (proto_err_t)i);
        /* Codes are unique. */
        for (int j = 0; j < i; j++)
            assert_string_not_equal(code, proto_err_code((proto_err_t)j));
    }
}

static void test_error_same_status_same_title(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        for (size_t j = 0; j < i; j++) {
            if (ERR_ROWS[i].status == ERR_ROWS[j].status)
                assert_string_equal(ERR_ROWS[i].title, ERR_ROWS[j].title);
        }
    }
}

static void test_error_unknown_code_is_internal(void **state)
{
    (void)state;
    static const char *const unknown[] = {
        "nope",       "NOT_FOUND", "Not_Found", "not-found", "not_foundx",
        " not_found", "internal",  "okay",      "400",
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_int_equal(proto_err_from_code(unknown[i], strlen(unknown[i])),
                         PROTO_ERR_INTERNAL_ERROR);
    assert_int_equal(proto_err_from_code("", 0), PROTO_ERR_INTERNAL_ERROR);
    assert_int_equal(proto_err_from_code(NULL, 0), PROTO_ERR_INTERNAL_ERROR);
    assert_int_equal(proto_err_from_code(NULL, 9), PROTO_ERR_INTERNAL_ERROR);
    /* "ok" is a row of the table. */
    assert_int_equal(proto_err_from_code("ok", 2), PROTO_OK);
}

static void test_error_from_code_is_length_delimited(void **state)
{
    (void)state;
    /* Only the first len bytes count; no NUL terminator is needed or honoured. */
    const char buf[] = {'n', 'o', 't', '_', 'f', 'o', 'u', 'n', 'd', 'X', 'Y'};
    assert_int_equal(proto_err_from_code(buf, 9), PROTO_ERR_NOT_FOUND);
    assert_int_equal(proto_err_from_code(buf, 8), PROTO_ERR_INTERNAL_ERROR);
    assert_int_equal(proto_err_from_code(buf, 10), PROTO_ERR_INTERNAL_ERROR);
    assert_int_equal(proto_err_from_code("not_found\0", 10), PROTO_ERR_INTERNAL_ERROR);
    assert_int_equal(proto_err_from_code("conflict", 3), PROTO_ERR_INTERNAL_ERROR);
    assert_int_equal(proto_err_from_code("okay", 2), PROTO_OK);
}

static void test_error_out_of_range_is_internal(void **state)
{
    (void)state;
    const proto_err_t bad[] = {PROTO_ERR__COUNT, (proto_err_t)(PROTO_ERR__COUNT + 1),
                               (proto_err_t)1000, (proto_err_t)-1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_string_equal(proto_err_code(bad[i]), "internal_error");
        assert_int_equal(proto_err_http_status(bad[i]), 500);
        assert_string_equal(proto_err_title(bad[i]), "Internal Server Error");
    }
}

/* ---- op catalogue ---- */

typedef struct {
    proto_op_t op;
    const char *name;
    bool idempotent;
} op_row_t;

/* Rows may carry more columns after `idempotent`; only the first three are read. */
#define FIRST(a, ...) a
static const op_row_t OP_ROWS[] = {
#define ROW(id, name, ...) {PROTO_OP_##id, name, FIRST(__VA_ARGS__, 0)},
    PROTO_OPS(ROW)
#undef ROW
};
#define NOPS (sizeof OP_ROWS / sizeof OP_ROWS[0])

static void test_error_catalog_defs_match_rows(void **state)
{
    (void)state;
    assert_int_equal(NOPS, PROTO_OP__COUNT);
    for (size_t i = 0; i < NOPS; i++) {
        const op_row_t *r = &OP_ROWS[i];
        assert_int_equal(r->op, (proto_op_t)i);
        const proto_op_def_t *def = proto_op_def(r->op);
        assert_non_null(def);
        assert_int_equal(def->op, r->op);
        assert_string_equal(def->name, r->name);
        assert_string_equal(proto_op_name(r->op), r->name);
        assert_int_equal(def->idempotent, r->idempotent);
        assert_true(def->nfields == 0 || def->fields != NULL);
        for (size_t f = 0; f < def->nfields; f++) {
            assert_non_null(def->fields[f].name);
            assert_true(def->fields[f].name[0] != '\0');
        }
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(r->name, OP_ROWS[j].name);
    }
}

static void test_error_catalog_sys_ops(void **state)
{
    (void)state;
    proto_op_t op = PROTO_OP__COUNT;
    assert_int_equal(proto_op_lookup("sys.ping", 8, &op), 0);
    assert_int_equal(op, PROTO_OP_SYS_PING);
    assert_int_equal(proto_op_lookup("sys.health", 10, &op), 0);
    assert_int_equal(op, PROTO_OP_SYS_HEALTH);
    assert_string_equal(proto_op_name(PROTO_OP_SYS_PING), "sys.ping");
    assert_string_equal(proto_op_name(PROTO_OP_SYS_HEALTH), "sys.health");
    /* Both take no body fields and are safe to retry. */
    assert_int_equal(proto_op_def(PROTO_OP_SYS_PING)->nfields, 0);
    assert_int_equal(proto_op_def(PROTO_OP_SYS_HEALTH)->nfields, 0);
    assert_true(proto_op_def(PROTO_OP_SYS_PING)->idempotent);
    assert_true(proto_op_def(PROTO_OP_SYS_HEALTH)->idempotent);
}

static void test_error_catalog_lookup_every_op(void **state)
{
    (void)state;
    for (int i = 0; i < PROTO_OP__COUNT; i++) {
        const char *name = proto_op_name((proto_op_t)i);
        proto_op_t op = PROTO_OP__COUNT;
        assert_int_equal(proto_op_lookup(name, strlen(name), &op), 0);
        assert_int_equal(op, (proto_op_t)i);
    }
}

static void test_error_catalog_lookup_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "sys.nope",  "sys.pin", "sys.pingg", "SYS.PING", "sys.Ping",     " sys.ping",
        "sys.ping ", "sys",     "ping",      "sys_ping", "sys.health.x",
    };
    proto_op_t op;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(proto_op_lookup(bad[i], strlen(bad[i]), &op), -1);
    assert_int_equal(proto_op_lookup("", 0, &op), -1);
    assert_int_equal(proto_op_lookup("sys.ping\0", 9, &op), -1);
    assert_int_equal(proto_op_lookup(NULL, 0, &op), -1);
    assert_int_equal(proto_op_lookup("sys.ping", 8, NULL), -1);
}

static void test_error_catalog_lookup_is_length_delimited(void **state)
{
    (void)state;
    proto_op_t op = PROTO_OP__COUNT;
    assert_int_equal(proto_op_lookup("sys.pingXYZ", 8, &op), 0);
    assert_int_equal(op, PROTO_OP_SYS_PING);
    assert_int_equal(proto_op_lookup("sys.health", 7, &op), -1);
}

static void test_error_catalog_out_of_range(void **state)
{
    (void)state;
    const proto_op_t bad[] = {PROTO_OP__COUNT, (proto_op_t)(PROTO_OP__COUNT + 1), (proto_op_t)1000,
                              (proto_op_t)-1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(proto_op_def(bad[i]));
        assert_non_null(proto_op_name(bad[i]));
        assert_string_equal(proto_op_name(bad[i]), "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_table_matches_rows),
        cmocka_unit_test(test_error_spec_statuses),
        cmocka_unit_test(test_error_codes_follow_enum_names),
        cmocka_unit_test(test_error_every_code_round_trips),
        cmocka_unit_test(test_error_same_status_same_title),
        cmocka_unit_test(test_error_unknown_code_is_internal),
        cmocka_unit_test(test_error_from_code_is_length_delimited),
        cmocka_unit_test(test_error_out_of_range_is_internal),
        cmocka_unit_test(test_error_catalog_defs_match_rows),
        cmocka_unit_test(test_error_catalog_sys_ops),
        cmocka_unit_test(test_error_catalog_lookup_every_op),
        cmocka_unit_test(test_error_catalog_lookup_rejects),
        cmocka_unit_test(test_error_catalog_lookup_is_length_delimited),
        cmocka_unit_test(test_error_catalog_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
