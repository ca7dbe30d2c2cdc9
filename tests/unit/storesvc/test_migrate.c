/*
 * Unit tests for store_migrate's table: versions 1, 2, 3 ... strictly
 * increasing (a gap is a version held by work on another branch),
 * every row named and non-empty, no transaction control inside a row (the
 * runner owns the transaction), and the core tables of migration 1 present.
 * Applying against a real PostgreSQL is covered by the integration tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "store_migrate.h"

static void test_migrate_versions_strictly_increasing(void **state)
{
    (void)state;
    size_t n = 0;
    const store_migration_t *m = store_migrate_table(&n);
    assert_true(n >= 1);
    assert_int_equal(m[0].version, 1);
    for (size_t i = 1; i < n; i++)
        assert_true(m[i].version > m[i - 1].version);
}

static void test_migrate_rows_not_empty(void **state)
{
    (void)state;
    size_t n = 0;
    const store_migration_t *m = store_migrate_table(&n);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(m[i].name);
        assert_true(strlen(m[i].name) > 0);
        assert_non_null(m[i].sql);
        assert_true(strlen(m[i].sql) > 0);
        assert_true(strspn(m[i].sql, " \t\r\n;") < strlen(m[i].sql));
    }
}

/* `sql` without its dollar-quoted bodies ($tag$ ... $tag$): a PL/pgSQL
 * function's BEGIN ... END is a block, not transaction control. */
static char *strip_dollar_quotes(const char *sql)
{
    char *out = strdup(sql), *o = out;
    assert_non_null(out);
    for (const char *p = sql; *p;) {
        const char *end = p[0] == '$' ? strchr(p + 1, '$') : NULL;
        if (end && strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_") == (size_t)(end - p - 1)) {
            size_t tag = (size_t)(end - p + 1);
            char delim[64];
            snprintf(delim, sizeof delim, "%.*s", (int)tag, p);
            const char *close = strstr(end + 1, delim);
            assert_non_null(close); /* an unterminated body */
            p = close + tag;
            continue;
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}

static void test_migrate_no_transaction_control(void **state)
{
    (void)state;
    static const char *const words[] = {"BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION"};
    size_t n = 0;
    const store_migration_t *m = store_migrate_table(&n);
    for (size_t i = 0; i < n; i++) {
        char *sql = strip_dollar_quotes(m[i].sql);
        for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
            if (strcasestr(sql, words[w]))
                fail_msg("migration %d contains %s", m[i].version, words[w]);
        }
        free(sql);
    }
}

static void test_migrate_core_schema_present(void **state)
{
    (void)state;
    static const char *const needles[] = {
        "CREATE TABLE users",
        "CREATE TABLE refresh_tokens",
        "CREATE TABLE files",
        "gen_random_uuid()",
        "tokens_valid_after",
        "token_hash bytea NOT NULL UNIQUE",
        "ON DELETE CASCADE",
        "refresh_tokens (user_id)",
        "files (owner_id",
        "'pending', 'ready'",
        "'admin', 'moderator', 'user', 'viewer'",
    };
    size_t n = 0;
    const store_migration_t *m = store_migrate_table(&n);
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        if (!strstr(m[0].sql, needles[i]))
            fail_msg("migration 1 lacks \"%s\"", needles[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_versions_strictly_increasing),
        cmocka_unit_test(test_migrate_rows_not_empty),
        cmocka_unit_test(test_migrate_no_transaction_control),
        cmocka_unit_test(test_migrate_core_schema_present),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
