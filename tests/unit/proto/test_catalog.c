/*
 * Unit tests for proto_catalog beyond the op rows (test_error checks those):
 * the field tables' bounds are coherent, every reply shape and error list
 * is well formed, and the value sets replies name parse back to themselves.
 * These are the rows proto/PROTOCOL.md is generated from, so a row that
 * breaks a rule here would be documented wrong too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_catalog.h"

#include <string.h>

#define KEYS_CAP 64

static void test_catalog_fields_have_coherent_bounds(void **state)
{
    (void)state;
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        const proto_op_def_t *def = proto_op_def((proto_op_t)op);
        for (size_t i = 0; i < def->nfields; i++) {
            const proto_field_t *f = &def->fields[i];
            for (size_t j = 0; j < i; j++)
                assert_string_not_equal(f->name, def->fields[j].name);
            switch (f->type) {
            case PROTO_T_STR:
            case PROTO_T_NIL_OR_STR:
            case PROTO_T_BIN:
                assert_true(f->max > 0);
                assert_true(f->min <= f->max);
                break;
            case PROTO_T_INT:
                assert_true(f->lo <= f->hi);
                break;
            default:
                assert_int_equal(f->min, 0);
            }
            /* A form is a string's; every client_ip has the client form. */
            if (f->fmt != PROTO_FMT_ANY)
                assert_true(f->type == PROTO_T_STR || f->type == PROTO_T_NIL_OR_STR);
            assert_int_equal(strcmp(f->name, "client_ip") == 0, f->fmt == PROTO_FMT_CLIENT_IP);
            if (f->fmt == PROTO_FMT_CLIENT_IP)
                assert_int_equal(f->max, PROTO_B_IP);
        }
    }
    /* The internal form fits the bound exactly. */
    assert_int_equal(strlen(PROTO_CLIENT_INTERNAL) + PROTO_CLIENT_NAME_MAX, PROTO_B_IP);
}

/* Checks one level of keys: unique, each of a known type with what it needs. */
static void check_keys(const proto_shape_t *shape)
{
    const proto_rkey_t *keys[KEYS_CAP];
    size_t n = proto_shape_keys(shape, keys, KEYS_CAP);
    assert_true(n <= KEYS_CAP);
    for (size_t i = 0; i < n; i++) {
        const proto_rkey_t *k = keys[i];
        assert_non_null(k->key);
        assert_true(k->key[0] != '\0');
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(k->key, keys[j]->key);
        assert_true(k->type != PROTO_R_SPREAD); /* flattened */
        if (k->type == PROTO_R_SHAPE)
            assert_non_null(k->shape);
        if (k->values != PROTO_VALS_NONE)
            assert_true(k->type == PROTO_R_STR || k->type == PROTO_R_MAP);
        if (k->type == PROTO_R_MAP)
            assert_true(k->values != PROTO_VALS_NONE);
        if (k->shape)
            check_keys(k->shape);
    }
}

static void test_catalog_every_op_has_a_reply_shape(void **state)
{
    (void)state;
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        const proto_op_def_t *def = proto_op_def((proto_op_t)op);
        assert_non_null(def->reply);
        assert_null(def->reply->name);
        check_keys(def->reply);
    }
    for (int id = 0; id < PROTO_SHAPE__COUNT; id++) {
        const proto_shape_t *sh = proto_shape((proto_shape_id_t)id);
        assert_non_null(sh);
        assert_non_null(sh->name);
        assert_true(sh->nkeys > 0);
        check_keys(sh);
        for (int j = 0; j < id; j++)
            assert_string_not_equal(sh->name, proto_shape((proto_shape_id_t)j)->name);
    }
    assert_null(proto_shape(PROTO_SHAPE__COUNT));
    assert_null(proto_shape((proto_shape_id_t)-1));
}

static void test_catalog_spread_flattens_in_order(void **state)
{
    (void)state;
    const proto_rkey_t *keys[KEYS_CAP];
    const proto_shape_t *sessions = proto_shape(PROTO_SHAPE_AUTH_SESSION);
    const proto_shape_t *base = proto_shape(PROTO_SHAPE_SESSION);
    size_t n = proto_shape_keys(sessions, keys, KEYS_CAP);
    assert_int_equal(n, base->nkeys + 1);
    for (size_t i = 0; i < base->nkeys; i++)
        assert_ptr_equal(keys[i], &base->keys[i]);
    assert_string_equal(keys[n - 1]->key, "current");
    /* A short array gets what fits; the count is the whole. */
    assert_int_equal(proto_shape_keys(sessions, keys, 2), n);
    assert_ptr_equal(keys[1], &base->keys[1]);
    assert_int_equal(proto_shape_keys(sessions, NULL, 0), n);
    assert_int_equal(proto_shape_keys(NULL, keys, KEYS_CAP), 0);
    /* A reply that is a shared shape is that shape. */
    n = proto_shape_keys(proto_op_def(PROTO_OP_STORE_USER_GET)->reply, keys, KEYS_CAP);
    assert_int_equal(n, proto_shape(PROTO_SHAPE_USER)->nkeys);
}

static void test_catalog_error_lists(void **state)
{
    (void)state;
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        const proto_op_def_t *def = proto_op_def((proto_op_t)op);
        assert_non_null(def->errors);
        assert_int_equal(def->errors[def->nerrors], PROTO_OK); /* the end */
        for (size_t i = 0; i < def->nerrors; i++) {
            proto_err_t e = def->errors[i];
            assert_true(e > PROTO_OK && e < PROTO_ERR__COUNT);
            /* These any op may answer: listing them would say nothing. */
            assert_true(e != PROTO_ERR_INTERNAL_ERROR && e != PROTO_ERR_UNAVAILABLE);
            for (size_t j = 0; j < i; j++)
                assert_int_not_equal(e, def->errors[j]);
        }
    }
    /* auth.authorize answers bad_request itself (an unknown permission). */
    const proto_op_def_t *authz = proto_op_def(PROTO_OP_AUTH_AUTHORIZE);
    bool bad = false;
    for (size_t i = 0; i < authz->nerrors; i++)
        bad |= authz->errors[i] == PROTO_ERR_BAD_REQUEST;
    assert_true(bad);
}

static void test_catalog_value_sets_round_trip(void **state)
{
    (void)state;
    assert_int_equal(proto_val_count(PROTO_VALS_NONE), 0);
    assert_int_equal(proto_val_count(PROTO_VALS__COUNT), 0);
    assert_int_equal(proto_val_count(PROTO_VALS_ROTATE), PROTO_ROTATE__COUNT);
    assert_int_equal(proto_val_count(PROTO_VALS_TOTP_ENABLE), PROTO_TOTP_ENABLE__COUNT);
    assert_int_equal(proto_val_count(PROTO_VALS_HEALTH), PROTO_HEALTH__COUNT);
    assert_int_equal(proto_val_count(PROTO_VALS_CHECK), PROTO_CHECK__COUNT);
    assert_int_equal(proto_val_count(PROTO_VALS_TOKEN_TYPE), PROTO_TOKEN_TYPE__COUNT);
    for (int set = 1; set < PROTO_VALS__COUNT; set++) {
        int n = proto_val_count((proto_vals_t)set);
        assert_true(n > 0);
        for (int v = 0; v < n; v++) {
            const char *name = proto_val_name((proto_vals_t)set, v);
            assert_non_null(name);
            assert_int_equal(proto_val_parse((proto_vals_t)set, name, strlen(name)), v);
            /* A prefix names nothing. */
            assert_int_equal(proto_val_parse((proto_vals_t)set, name, strlen(name) - 1), -1);
        }
        assert_null(proto_val_name((proto_vals_t)set, n));
        assert_null(proto_val_name((proto_vals_t)set, -1));
        assert_int_equal(proto_val_parse((proto_vals_t)set, NULL, 0), -1);
    }
    /* The wire names other services and callers rely on. */
    assert_string_equal(proto_val_name(PROTO_VALS_ROTATE, PROTO_ROTATE_REUSED), "reused");
    assert_string_equal(proto_val_name(PROTO_VALS_TOTP_ENABLE, PROTO_TOTP_STALE), "stale");
    assert_string_equal(proto_val_name(PROTO_VALS_TOKEN_TYPE, PROTO_TOKEN_TYPE_BEARER), "bearer");
    assert_int_equal(proto_val_parse(PROTO_VALS_ROTATE, "grace", 5), PROTO_ROTATE_GRACE);
    assert_int_equal(proto_val_parse(PROTO_VALS_ROTATE, "Grace", 5), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_fields_have_coherent_bounds),
        cmocka_unit_test(test_catalog_every_op_has_a_reply_shape),
        cmocka_unit_test(test_catalog_spread_flattens_in_order),
        cmocka_unit_test(test_catalog_error_lists),
        cmocka_unit_test(test_catalog_value_sets_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
