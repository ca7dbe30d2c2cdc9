/*
 * Unit tests for auth_rbac: every cell of the 4x10 role/permission matrix of
 * API.md is asserted, once from a literal grid and once from the table text
 * of API.md itself, and anything unknown is denied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth_rbac.h"

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

/* The permission column of API.md's table, verbatim. */
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
        auth_role_t role = auth_role_parse(roles[r]);
        assert_int_equal(role, r);
        for (int p = 0; p < 10; p++) {
            auth_perm_t perm = auth_perm_parse(perms[p]);
            assert_int_not_equal(perm, AUTH_PERM_INVALID);
            if (auth_rbac_allows(role, perm) != (grid[r][p] == 1))
                fail_msg("%s / %s: expected %d", roles[r], perms[p], grid[r][p]);
        }
    }
}

static void test_rbac_matrix_matches_api_md_text(void **state)
{
    (void)state;
    for (int r = 0; r < 4; r++) {
        for (int p = 0; p < 10; p++) {
            int want = row_lists(api_md_rows[r], perms[p]);
            assert_int_equal(want, grid[r][p]);
            assert_int_equal(auth_rbac_allows(auth_role_parse(roles[r]), auth_perm_parse(perms[p])),
                             want);
        }
    }
}

static void test_rbac_names_round_trip(void **state)
{
    (void)state;
    assert_int_equal(AUTH_ROLE_COUNT, 4);
    assert_int_equal(AUTH_PERM_COUNT, 10);
    for (int r = 0; r < AUTH_ROLE_COUNT; r++)
        assert_int_equal(auth_role_parse(auth_role_name((auth_role_t)r)), r);
    for (int p = 0; p < AUTH_PERM_COUNT; p++)
        assert_int_equal(auth_perm_parse(auth_perm_name((auth_perm_t)p)), p);
    assert_string_equal(auth_role_name(AUTH_ROLE_MODERATOR), "moderator");
    assert_string_equal(auth_perm_name(AUTH_PERM_CONTENT_DELETE), "content:delete");
}

static void test_rbac_unknown_role_denied(void **state)
{
    (void)state;
    static const char *const bad[] = {"",     "Admin", "ADMIN", "admin ", " admin",
                                      "root", "owner", "guest", "user\n", "superuser"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(auth_role_parse(bad[i]), AUTH_ROLE_INVALID);
    assert_int_equal(auth_role_parse(NULL), AUTH_ROLE_INVALID);
    assert_null(auth_role_name(AUTH_ROLE_INVALID));
    assert_null(auth_role_name(AUTH_ROLE_COUNT));
    assert_null(auth_role_name((auth_role_t)1000));
    for (int p = 0; p < AUTH_PERM_COUNT; p++) {
        assert_false(auth_rbac_allows(AUTH_ROLE_INVALID, (auth_perm_t)p));
        assert_false(auth_rbac_allows(AUTH_ROLE_COUNT, (auth_perm_t)p));
        assert_false(auth_rbac_allows((auth_role_t)-7, (auth_perm_t)p));
    }
}

static void test_rbac_unknown_perm_denied(void **state)
{
    (void)state;
    static const char *const bad[] = {"",           "users",       "users:*", "*",
                                      "Users:Read", "users:read ", "admin:*", "files:read",
                                      "self",       "content:READ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(auth_perm_parse(bad[i]), AUTH_PERM_INVALID);
    assert_int_equal(auth_perm_parse(NULL), AUTH_PERM_INVALID);
    assert_null(auth_perm_name(AUTH_PERM_INVALID));
    assert_null(auth_perm_name(AUTH_PERM_COUNT));
    for (int r = 0; r < AUTH_ROLE_COUNT; r++) {
        assert_false(auth_rbac_allows((auth_role_t)r, AUTH_PERM_INVALID));
        assert_false(auth_rbac_allows((auth_role_t)r, AUTH_PERM_COUNT));
        assert_false(auth_rbac_allows((auth_role_t)r, (auth_perm_t)99));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rbac_matrix_every_cell),
        cmocka_unit_test(test_rbac_matrix_matches_api_md_text),
        cmocka_unit_test(test_rbac_names_round_trip),
        cmocka_unit_test(test_rbac_unknown_role_denied),
        cmocka_unit_test(test_rbac_unknown_perm_denied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
