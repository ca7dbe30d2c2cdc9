/*
 * Unit tests for gw_docs: the document is rendered at creation (valid JSON,
 * the routes it was given); without DOCS_UI_DIR no file is read; with it
 * every file of the page must be there (a missing or oversized one is an
 * error naming DOCS_UI_DIR), and each is read whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gw_docs.h"

static const char *const ui_files[] = {
    "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
    "swagger-ui.css",       "index.css",
    "favicon-32x32.png",    "favicon-16x16.png",
};
#define NUI (sizeof ui_files / sizeof ui_files[0])

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_files(void)
{
    char path[256];
    for (size_t i = 0; i < NUI; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, ui_files[i]);
        unlink(path);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gw_docs_test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_files();
    rmdir(dir);
    return 0;
}

static void test_docs_renders_the_document(void **state)
{
    (void)state;
    size_t n = 0, len = 0;
    const gw_route_t *t = gw_route_table(&n);
    static char none[] = "";
    gw_config_t cfg = {.docs_enabled = true, .docs_ui_dir = none};
    char err[256] = "";
    gw_docs_t *d = gw_docs_new(&cfg, t, 2, err, sizeof err); /* the first two rows only */
    assert_non_null(d);
    const char *text = gw_docs_openapi_text(d, &len);
    assert_int_equal(strlen(text), len);
    json_error_t e;
    json_t *doc = json_loadb(text, len, 0, &e);
    assert_non_null(doc);
    json_t *paths = json_object_get(doc, "paths");
    assert_int_equal(json_object_size(paths), 2);
    assert_non_null(json_object_get(paths, t[0].pattern));
    json_decref(doc);
    gw_docs_destroy(&d);
    assert_null(d);
    gw_docs_destroy(&d); /* twice is fine */
}

static void test_docs_ui_dir_needs_every_file(void **state)
{
    (void)state;
    size_t n = 0;
    const gw_route_t *t = gw_route_table(&n);
    gw_config_t cfg = {.docs_enabled = true, .docs_ui_dir = dir};
    char err[256] = "";
    for (size_t i = 0; i + 1 < NUI; i++)
        write_file(ui_files[i], "x");
    assert_null(gw_docs_new(&cfg, t, n, err, sizeof err));
    assert_non_null(strstr(err, "DOCS_UI_DIR"));
    assert_non_null(strstr(err, ui_files[NUI - 1]));
    write_file(ui_files[NUI - 1], "png");
    err[0] = '\0';
    gw_docs_t *d = gw_docs_new(&cfg, t, n, err, sizeof err);
    assert_non_null(d);
    assert_string_equal(err, "");
    gw_docs_destroy(&d);
}

static void test_docs_refuses_a_directory_in_place_of_a_file(void **state)
{
    (void)state;
    size_t n = 0;
    const gw_route_t *t = gw_route_table(&n);
    gw_config_t cfg = {.docs_enabled = true, .docs_ui_dir = dir};
    char path[256], err[256] = "";
    remove_files();
    for (size_t i = 1; i < NUI; i++)
        write_file(ui_files[i], "x");
    snprintf(path, sizeof path, "%s/%s", dir, ui_files[0]);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(gw_docs_new(&cfg, t, n, err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));
    rmdir(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_renders_the_document),
        cmocka_unit_test(test_docs_ui_dir_needs_every_file),
        cmocka_unit_test(test_docs_refuses_a_directory_in_place_of_a_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
