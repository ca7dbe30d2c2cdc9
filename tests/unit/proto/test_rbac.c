/*
 * Unit tests for proto_rbac: every cell of the 4x10 role/permission matrix
 * of docs/API.md ("Users and roles") is asserted, once from a literal
 * grid and once from that table's text; the administration rules (who may
 * change whose role or status) and who sees every file; anything unknown is
 * denied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto_rbac.h"

static const char *const roles[] = {"admin", "moderator", "user", "viewer"};
static const char *const perms[] = {
    "users:read",   "users:write",   "users:delete",   "admin:read", "admin:write",
    "content:read", "content:write", "content:delete", "self:read",  "self:write",
};

/* The expected matrix, cell by cell: rows follow `roles`, columns `perms`. */
static const int grid[4][10] = {
    /*            u:r u:w u:d a:r a:w c:r c:w c:d s:r s:w */
    /* admin */ {1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    /* mod   */ {1, 1, 0, 0, 0, 1, 1, 1, 1, 1},
    /* user  */ {0, 0, 0, 0, 0, 1, 1, 0, 1, 1},
    /* viewer*/ {0, 0, 0, 0, 0, 1, 0, 0, 1, 0},
};

/* The permission column of docs/API.md's table, verbatim. */
static const char *const api_md_rows[4] = {
    "users:read, users:write, users:delete, admin:read, admin:write, content:read, "
    "content:write, content:delete, self:read, self:write",
    "users:read, users:write, content:read, content:write, content:delete, self:read, "
    "self:write",
    "content:read, content:write, self:read, self:write",
    "content:read, self:read",
};

/* True when `perm` is one of the comma-separated names in `row`. */
static int row_lists(const char *row, const char *perm)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", row);
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok != NULL;
         tok = strtok_r(NULL, ", ", &save)) {
        if (strcmp(tok, perm) == 0)
            return 1;
    }
    return 0;
}

static void test_rbac_matrix_every_cell(void **state)
{
    (void)state;
    for (int r = 0; r < 4; r++) {
        proto_role_t role = proto_role_parse(roles[r]);
        assert_int_equal(role, r);
        for (int p = 0; p < 10; p++) {
            proto_perm_t perm = proto_perm_parse(perms[p]);
            assert_int_not_equal(perm, PROTO_PERM_INVALID);
            if (proto_rbac_allows(role, perm) != (grid[r][p] == 1))
                fail_msg("%s / %s: expected %d", roles[r], perms[p], grid[r][p]);
        }
    }
}

static void test_rbac_matrix_matches_api_doc_text(void **state)
{
    (void)state;
    for (int r = 0; r < 4; r++) {
        for (int p = 0; p < 10; p++) {
            int want = row_lists(api_md_rows[r], perms[p]);
            assert_int_equal(want, grid[r][p]);
            assert_int_equal(
                proto_rbac_allows(proto_role_parse(roles[r]), proto_perm_parse(perms[p])), want);
        }
    }
}

static void test_rbac_names_round_trip(void **state)
{
    (void)state;
    assert_int_equal(PROTO_ROLE_COUNT, 4);
    assert_int_equal(PROTO_PERM_COUNT, 10);
    for (int r = 0; r < PROTO_ROLE_COUNT; r++)
        assert_int_equal(proto_role_parse(proto_role_name((proto_role_t)r)), r);
    for (int p = 0; p < PROTO_PERM_COUNT; p++)
        assert_int_equal(proto_perm_parse(proto_perm_name((proto_perm_t)p)), p);
    assert_string_equal(proto_role_name(PROTO_ROLE_MODERATOR), "moderator");
    assert_string_equal(proto_perm_name(PROTO_PERM_CONTENT_DELETE), "content:delete");
}

static void test_rbac_unknown_role_denied(void **state)
{
    (void)state;
    static const char *const bad[] = {"",     "Admin", "ADMIN", "admin ", " admin",
                                      "root", "owner", "guest", "user\n", "superuser"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(proto_role_parse(bad[i]), PROTO_ROLE_INVALID);
    assert_int_equal(proto_role_parse(NULL), PROTO_ROLE_INVALID);
    assert_null(proto_role_name(PROTO_ROLE_INVALID));
    assert_null(proto_role_name(PROTO_ROLE_COUNT));
    assert_null(proto_role_name((proto_role_t)1000));
    for (int p = 0; p < PROTO_PERM_COUNT; p++) {
        assert_false(proto_rbac_allows(PROTO_ROLE_INVALID, (proto_perm_t)p));
        assert_false(proto_rbac_allows(PROTO_ROLE_COUNT, (proto_perm_t)p));
        assert_false(proto_rbac_allows((proto_role_t)-7, (proto_perm_t)p));
    }
}

static void test_rbac_unknown_perm_denied(void **state)
{
    (void)state;
    static const char *const bad[] = {"",           "users",       "users:*", "*",
                                      "Users:Read", "users:read ", "admin:*", "files:read",
                                      "self",       "content:READ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(proto_perm_parse(bad[i]), PROTO_PERM_INVALID);
    assert_int_equal(proto_perm_parse(NULL), PROTO_PERM_INVALID);
    assert_null(proto_perm_name(PROTO_PERM_INVALID));
    assert_null(proto_perm_name(PROTO_PERM_COUNT));
    for (int r = 0; r < PROTO_ROLE_COUNT; r++) {
        assert_false(proto_rbac_allows((proto_role_t)r, PROTO_PERM_INVALID));
        assert_false(proto_rbac_allows((proto_role_t)r, PROTO_PERM_COUNT));
        assert_false(proto_rbac_allows((proto_role_t)r, (proto_perm_t)99));
    }
}

/* Who may change whom, every pair: an admin changes anyone's role and
 * status; a moderator only the status of user and viewer accounts; nobody
 * their own account. */
static void test_rbac_admin_rules_every_pair(void **state)
{
    (void)state;
    static const int status_ok[4][4] = {
        /*          admin mod user viewer (target) */
        /* admin */ {1, 1, 1, 1},
        /* mod   */ {0, 0, 1, 1},
        /* user  */ {0, 0, 0, 0},
        /* viewer*/ {0, 0, 0, 0},
    };
    for (int a = 0; a < 4; a++) {
        for (int t = 0; t < 4; t++) {
            proto_admin_rule_t st = proto_rbac_may_change(a, t, false, false);
            assert_int_equal(st == PROTO_ADMIN_OK, status_ok[a][t]);
            if (!status_ok[a][t])
                assert_int_equal(st, PROTO_ADMIN_TARGET_DENIED);
            proto_admin_rule_t role = proto_rbac_may_change(a, t, true, false);
            if (a == PROTO_ROLE_ADMIN)
                assert_int_equal(role, PROTO_ADMIN_OK);
            else
                assert_int_equal(role, PROTO_ADMIN_ROLE_DENIED);
            assert_int_equal(proto_rbac_may_change(a, t, false, true), PROTO_ADMIN_SELF);
            assert_int_equal(proto_rbac_may_change(a, t, true, true), PROTO_ADMIN_SELF);
        }
    }
    assert_int_not_equal(proto_rbac_may_change(PROTO_ROLE_INVALID, PROTO_ROLE_VIEWER, false, false),
                         PROTO_ADMIN_OK);
    assert_int_not_equal(proto_rbac_may_change(PROTO_ROLE_ADMIN, PROTO_ROLE_INVALID, false, false),
                         PROTO_ADMIN_OK);
    assert_int_not_equal(proto_rbac_may_change(PROTO_ROLE_ADMIN, (proto_role_t)9, false, false),
                         PROTO_ADMIN_OK);
}

static void test_rbac_sees_all_content(void **state)
{
    (void)state;
    assert_true(proto_rbac_sees_all_content(PROTO_ROLE_ADMIN));
    assert_true(proto_rbac_sees_all_content(PROTO_ROLE_MODERATOR));
    assert_false(proto_rbac_sees_all_content(PROTO_ROLE_USER));
    assert_false(proto_rbac_sees_all_content(PROTO_ROLE_VIEWER));
    assert_false(proto_rbac_sees_all_content(PROTO_ROLE_INVALID));
    assert_false(proto_rbac_sees_all_content(PROTO_ROLE_COUNT));
}

/* PROTO_PERMISSION is a plain string constant usable in static tables. */
static const char *const route_perm = PROTO_PERMISSION(content, write);

static void test_rbac_permission_macro(void **state)
{
    (void)state;
    assert_string_equal(route_perm, "content:write");
    assert_int_equal(proto_perm_parse(PROTO_PERMISSION(users, delete)), PROTO_PERM_USERS_DELETE);
    assert_int_equal(proto_perm_parse(PROTO_PERMISSION(self, read)), PROTO_PERM_SELF_READ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rbac_matrix_every_cell),
        cmocka_unit_test(test_rbac_matrix_matches_api_doc_text),
        cmocka_unit_test(test_rbac_names_round_trip),
        cmocka_unit_test(test_rbac_unknown_role_denied),
        cmocka_unit_test(test_rbac_unknown_perm_denied),
        cmocka_unit_test(test_rbac_admin_rules_every_pair),
        cmocka_unit_test(test_rbac_sees_all_content),
        cmocka_unit_test(test_rbac_permission_macro),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
