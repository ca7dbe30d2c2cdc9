/*
 * Unit tests for proto_doc: the parts rendered from the catalogue say what
 * the catalogue says (a few facts checked against the tables themselves),
 * and the check of a document finds every kind of drift: a generated line
 * edited by hand, a part missing, doubled, unknown or unterminated, and an
 * op named in the prose that the catalogue does not have. The check of the
 * real proto/PROTOCOL.md is the ctest tools_protocol_md_is_current.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_rbac.h"
#include "proto_catalog.h"
#include "proto_doc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const proto_doc_ctx_t CTX = {.examples_dir = PROTO_EXAMPLES_DIR};

/* A part rendered into a string (the caller frees). */
static char *part(const char *name)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(proto_doc_render(&CTX, name, f, stderr), 0);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* The check of `doc`: the number of problems; the report into *report
 * (the caller frees). */
static int check(const char *doc, char **report)
{
    size_t len = 0;
    FILE *f = open_memstream(report, &len);
    assert_non_null(f);
    int n = proto_doc_check(&CTX, doc, strlen(doc), f);
    assert_int_equal(fclose(f), 0);
    return n;
}

/* A document of every part, empty, between prose lines (the caller frees). */
static char *skeleton(void)
{
    size_t n = 0, len = 0;
    const char *const *names = proto_doc_sections(&n);
    char *text = NULL;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    fputs("# Wire protocol\n\nProse about `auth.token` and `store.file_read`.\n\n", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "<!-- BEGIN proto_doc %s (generated) -->\n<!-- END proto_doc %s -->\n\n",
                names[i], names[i]);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* The skeleton with every part filled in (the caller frees). */
static char *current(void)
{
    char *skel = skeleton();
    char *doc = proto_doc_update(&CTX, skel, strlen(skel), stderr);
    assert_non_null(doc);
    free(skel);
    return doc;
}

/* `doc` with the first `from` after `after` replaced by `to` (the caller frees). */
static char *edit(const char *doc, const char *after, const char *from, const char *to)
{
    const char *a = strstr(doc, after);
    assert_non_null(a);
    const char *p = strstr(a, from);
    assert_non_null(p);
    size_t head = (size_t)(p - doc), flen = strlen(from), tlen = strlen(to);
    char *out = malloc(strlen(doc) - flen + tlen + 1);
    assert_non_null(out);
    memcpy(out, doc, head);
    memcpy(out + head, to, tlen);
    strcpy(out + head + tlen, p + flen);
    return out;
}

static void test_proto_doc_every_op_is_in_one_part(void **state)
{
    (void)state;
    size_t n = 0;
    const char *const *names = proto_doc_sections(&n);
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        const char *family = proto_doc_family_of(op);
        assert_non_null(family);
        char want[64];
        snprintf(want, sizeof want, "ops:%s", family);
        bool listed = false;
        for (size_t i = 0; i < n; i++)
            listed |= strcmp(names[i], want) == 0;
        assert_true(listed);
        /* ... and its part has a row for it. */
        char *text = part(want), row[80];
        snprintf(row, sizeof row, "| `%s` |", proto_op_name((proto_op_t)op));
        assert_non_null(strstr(text, row));
        free(text);
    }
    assert_null(proto_doc_family_of(PROTO_OP__COUNT));
    assert_null(proto_doc_family_of(-1));
}

static void test_proto_doc_rows_say_what_the_catalogue_says(void **state)
{
    (void)state;
    char *pub = part("ops:auth-public"), *adm = part("ops:auth-admission");
    /* auth.logout answers the rate, not {} (what the hand-written table said). */
    const char *logout = strstr(pub, "| `auth.logout` |");
    assert_non_null(logout);
    assert_non_null(strstr(logout, "| {\"rate\"?: Rate} |"));
    /* auth.authorize: count_rate, and bad_request among its errors. */
    const char *authz = strstr(adm, "| `auth.authorize` |");
    assert_non_null(authz);
    assert_non_null(strstr(authz, "`count_rate`? bool"));
    assert_non_null(strstr(authz, "`client_ip` addr"));
    assert_non_null(strstr(authz, "`bad_request`, `unauthorized`, `forbidden`, `rate_limited` |"));
    free(pub);
    free(adm);
    /* The values of an outcome are the value set's. */
    char *store = part("ops:store");
    assert_non_null(
        strstr(store, "{\"outcome\": \"rotated\"\\|\"grace\"\\|\"reused\"\\|\"invalid\""));
    assert_non_null(strstr(store, "`per_page` int 1–100"));
    assert_non_null(strstr(store, "`token_hash` bin=32"));
    free(store);
    char *files = part("ops:store-files");
    char bound[64];
    snprintf(bound, sizeof bound, "`part_no` int 1–%d", PROTO_FILE_PARTS_MAX);
    assert_non_null(strstr(files, bound));
    snprintf(bound, sizeof bound, "`data` bin 1–%u", PROTO_FILE_PART_MAX);
    assert_non_null(strstr(files, bound));
    free(files);
}

static void test_proto_doc_role_matrix_is_proto_rbac(void **state)
{
    (void)state;
    char *text = part("rbac");
    for (int p = 0; p < PROTO_PERM_COUNT; p++) {
        char row[160], *at = NULL;
        int n = snprintf(row, sizeof row, "| `%s` |", proto_perm_name((proto_perm_t)p));
        for (int r = 0; r < PROTO_ROLE_COUNT; r++)
            n += snprintf(row + n, sizeof row - (size_t)n, " %s |",
                          proto_rbac_allows((proto_role_t)r, (proto_perm_t)p) ? "yes" : "—");
        at = strstr(text, row);
        assert_non_null(at);
    }
    free(text);
}

static void test_proto_doc_current_document_passes(void **state)
{
    (void)state;
    char *report = NULL, *skel = skeleton(), *doc = current();
    /* Empty parts are all stale, and the check says so. */
    size_t n = 0;
    (void)proto_doc_sections(&n);
    assert_int_equal(check(skel, &report), (int)n);
    free(report);
    assert_int_equal(check(doc, &report), 0);
    assert_string_equal(report, "");
    free(report);
    /* Updating a current document changes nothing. */
    char *again = proto_doc_update(&CTX, doc, strlen(doc), stderr);
    assert_string_equal(again, doc);
    free(again);
    free(skel);
    free(doc);
}

static void test_proto_doc_edited_row_is_reported_with_its_line(void **state)
{
    (void)state;
    char *report = NULL, *doc = current();
    char *bad = edit(doc, "| `auth.logout` |", "{\"rate\"?: Rate}", "{}");
    assert_int_equal(check(bad, &report), 1);
    assert_non_null(strstr(report, "the part ops:auth-public is not what the catalogue gives"));
    assert_non_null(strstr(report, "document:  | `auth.logout`"));
    /* The line number is that of the row. */
    size_t line = 1;
    for (const char *p = bad; p < strstr(bad, "| `auth.logout` |"); p++)
        line += *p == '\n';
    char where[64];
    snprintf(where, sizeof where, "PROTOCOL.md:%zu: the part ops:auth-public", line);
    assert_non_null(strstr(report, where));
    free(report);
    free(bad);
    /* A bound, an error code, a matrix cell, a limit: each is drift. */
    static const char *const edits[][3] = {
        {"| `auth.verify` |", "str≤4200", "str≤4096"},
        {"| `auth.authorize` |", "`forbidden`, ", ""},
        {"| `content:delete` |", "yes", "—"},
        {"| parts of one upload |", "10000", "1000"},
        {"| `unauthorized` |", "401", "403"},
        {"`proto/examples/req_client.py`", "DEADLINE_MS = 2000", "DEADLINE_MS = 5000"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        bad = edit(doc, edits[i][0], edits[i][1], edits[i][2]);
        assert_int_equal(check(bad, &report), 1);
        free(report);
        free(bad);
    }
    free(doc);
}

static void test_proto_doc_broken_markers_are_reported(void **state)
{
    (void)state;
    char *report = NULL, *doc = current();
    char *missing = edit(doc, "<!-- BEGIN proto_doc rbac", "<!-- BEGIN proto_doc rbac", "<!-- B");
    assert_true(check(missing, &report) > 0); /* an END without its BEGIN */
    assert_non_null(strstr(report, "END marker without its BEGIN"));
    free(report);
    free(missing);
    char *unknown = edit(doc, "<!-- BEGIN proto_doc rbac", "proto_doc rbac (", "proto_doc roles (");
    char *unknown2 =
        edit(unknown, "<!-- END proto_doc rbac", "proto_doc rbac -->", "proto_doc roles -->");
    assert_int_equal(check(unknown2, &report), 2); /* rbac missing, roles unknown */
    assert_non_null(strstr(report, "no part is named roles"));
    assert_non_null(strstr(report, "the part rbac appears 0 times"));
    free(report);
    free(unknown);
    free(unknown2);
    char *open = edit(doc, "<!-- END proto_doc vectors", "<!-- END proto_doc vectors -->", "");
    assert_true(check(open, &report) > 0);
    free(report);
    free(open);
    free(doc);
}

static void test_proto_doc_prose_names_only_known_ops(void **state)
{
    (void)state;
    char *report = NULL, *doc = current();
    char *bad = edit(doc, "Prose about", "`store.file_read`", "`store.file_fetch`");
    assert_int_equal(check(bad, &report), 1);
    assert_non_null(strstr(report, "PROTOCOL.md:3: `store.file_fetch` is no op of the catalogue"));
    free(report);
    free(bad);
    /* Something that is no op name at all is not one: `auth.` alone, a path. */
    bad = edit(doc, "Prose about", "`store.file_read`", "`auth.` and `proto/src/proto_codec.c`");
    assert_int_equal(check(bad, &report), 0);
    free(report);
    free(bad);
    free(doc);
}

static void test_proto_doc_json_holds_every_op(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(proto_doc_json(f), 0);
    assert_int_equal(fclose(f), 0);
    json_error_t jerr;
    json_t *all = json_loads(text, 0, &jerr);
    assert_non_null(all);
    json_t *ops = json_object_get(all, "ops");
    assert_int_equal(json_object_size(ops), PROTO_OP__COUNT);
    json_t *logout = json_object_get(ops, "auth.logout");
    json_t *reply = json_object_get(logout, "reply");
    assert_int_equal(json_array_size(reply), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reply, 0), "key")),
                        "rate");
    assert_true(json_is_true(json_object_get(json_array_get(reply, 0), "optional")));
    json_t *user = json_object_get(json_object_get(all, "shapes"), "User");
    assert_int_equal(json_array_size(user), proto_shape(PROTO_SHAPE_USER)->nkeys);
    json_decref(all);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_doc_every_op_is_in_one_part),
        cmocka_unit_test(test_proto_doc_rows_say_what_the_catalogue_says),
        cmocka_unit_test(test_proto_doc_role_matrix_is_proto_rbac),
        cmocka_unit_test(test_proto_doc_current_document_passes),
        cmocka_unit_test(test_proto_doc_edited_row_is_reported_with_its_line),
        cmocka_unit_test(test_proto_doc_broken_markers_are_reported),
        cmocka_unit_test(test_proto_doc_prose_names_only_known_ops),
        cmocka_unit_test(test_proto_doc_json_holds_every_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
