/*
 * Unit tests for store_blob and its local-directory backend: put/get/delete
 * round trips on a temporary directory, ranged reads, key validation (no
 * escaping the root), check() failing when the directory is gone or not
 * writable, and URL selection (file:// absolute and relative, s3:// refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_blob.h"
#include "store_blob_local.h"

typedef struct {
    char dir[64];
    store_blob_t *blob;
} fixture_t;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    chmod(dir, 0700);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/store_blob_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char url[128];
    snprintf(url, sizeof url, "file://%s/objects", f->dir);
    f->blob = store_blob_open(url, err, sizeof err);
    if (!f->blob)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_blob_destroy(&f->blob);
    store_blob_destroy(&f->blob); /* NULL-safe */
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void test_blob_put_get_roundtrip(void **state)
{
    fixture_t *f = *state;
    char buf[64];
    size_t got = 0;
    uint64_t size = 0;
    assert_string_equal(store_blob_kind(f->blob), "file");
    assert_int_equal(store_blob_put(f->blob, "abc", "hello world", 11), STORE_BLOB_OK);
    assert_int_equal(store_blob_get(f->blob, "abc", 0, buf, sizeof buf, &got, &size),
                     STORE_BLOB_OK);
    assert_int_equal(got, 11);
    assert_int_equal(size, 11);
    assert_memory_equal(buf, "hello world", 11);
}

static void test_blob_get_range(void **state)
{
    fixture_t *f = *state;
    char buf[4];
    size_t got = 0;
    uint64_t size = 0;
    assert_int_equal(store_blob_put(f->blob, "r", "0123456789", 10), STORE_BLOB_OK);
    assert_int_equal(store_blob_get(f->blob, "r", 3, buf, sizeof buf, &got, &size), 0);
    assert_int_equal(got, 4);
    assert_int_equal(size, 10);
    assert_memory_equal(buf, "3456", 4);
    assert_int_equal(store_blob_get(f->blob, "r", 8, buf, sizeof buf, &got, &size), 0);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "89", 2);
    assert_int_equal(store_blob_get(f->blob, "r", 10, buf, sizeof buf, &got, &size), 0);
    assert_int_equal(got, 0);
    assert_int_equal(store_blob_get(f->blob, "r", 1000, buf, sizeof buf, &got, &size), 0);
    assert_int_equal(got, 0);
}

static void test_blob_overwrite_replaces(void **state)
{
    fixture_t *f = *state;
    char buf[16];
    size_t got = 0;
    uint64_t size = 0;
    assert_int_equal(store_blob_put(f->blob, "o", "long old content", 16), 0);
    assert_int_equal(store_blob_put(f->blob, "o", "new", 3), 0);
    assert_int_equal(store_blob_get(f->blob, "o", 0, buf, sizeof buf, &got, &size), 0);
    assert_int_equal(size, 3);
    assert_memory_equal(buf, "new", 3);
}

static void test_blob_empty_object(void **state)
{
    fixture_t *f = *state;
    char buf[4];
    size_t got = 1;
    uint64_t size = 1;
    assert_int_equal(store_blob_put(f->blob, "empty", NULL, 0), 0);
    assert_int_equal(store_blob_get(f->blob, "empty", 0, buf, sizeof buf, &got, &size), 0);
    assert_int_equal(got, 0);
    assert_int_equal(size, 0);
}

static void test_blob_delete_then_missing(void **state)
{
    fixture_t *f = *state;
    char buf[4];
    size_t got = 0;
    uint64_t size = 0;
    assert_int_equal(store_blob_put(f->blob, "d", "x", 1), 0);
    assert_int_equal(store_blob_delete(f->blob, "d"), STORE_BLOB_OK);
    assert_int_equal(store_blob_delete(f->blob, "d"), STORE_BLOB_NOT_FOUND);
    assert_int_equal(store_blob_get(f->blob, "d", 0, buf, sizeof buf, &got, &size),
                     STORE_BLOB_NOT_FOUND);
    assert_int_equal(store_blob_get(f->blob, "never/was", 0, buf, sizeof buf, &got, &size),
                     STORE_BLOB_NOT_FOUND);
}

static void test_blob_nested_key_makes_private_dirs(void **state)
{
    fixture_t *f = *state;
    char path[256];
    struct stat st;
    assert_int_equal(store_blob_put(f->blob, "ab/cd/0123-file.bin", "data", 4), 0);
    snprintf(path, sizeof path, "%s/objects/ab/cd", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/objects/ab/cd/0123-file.bin", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/objects", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_blob_bad_keys_rejected(void **state)
{
    fixture_t *f = *state;
    static const char *const bad[] = {"",         "/abs", "../up", "a/../b", "a//b",
                                      "a/",       ".hid", "a/.b",  "sp ce",  "semi;c",
                                      "back\\sl", "nl\n", "..",    "a/..",   "ü"};
    char buf[4];
    size_t got;
    uint64_t size;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (store_blob_key_valid(bad[i]))
            fail_msg("key \"%s\" accepted", bad[i]);
        assert_int_equal(store_blob_put(f->blob, bad[i], "x", 1), STORE_BLOB_BAD_KEY);
        assert_int_equal(store_blob_get(f->blob, bad[i], 0, buf, 4, &got, &size),
                         STORE_BLOB_BAD_KEY);
        assert_int_equal(store_blob_delete(f->blob, bad[i]), STORE_BLOB_BAD_KEY);
    }
    char longkey[STORE_BLOB_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_false(store_blob_key_valid(longkey));
    longkey[STORE_BLOB_KEY_MAX] = '\0';
    assert_true(store_blob_key_valid(longkey));
    assert_true(store_blob_key_valid("users/0b3c/file-1.v2_x"));
    assert_false(store_blob_key_valid(NULL));
}

static void test_blob_check_ok(void **state)
{
    fixture_t *f = *state;
    char path[256];
    assert_int_equal(store_blob_check(f->blob), STORE_BLOB_OK);
    assert_int_equal(store_blob_check(f->blob), STORE_BLOB_OK);
    /* The probe leaves nothing behind. */
    snprintf(path, sizeof path, "%s/objects", f->dir);
    assert_int_equal(rmdir(path), 0);
}

static void test_blob_check_fails_when_dir_removed(void **state)
{
    fixture_t *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/objects", f->dir);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(store_blob_check(f->blob), STORE_BLOB_IO);
    /* A regular file in its place is not a store either. */
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(store_blob_check(f->blob), STORE_BLOB_IO);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(store_blob_check(f->blob), STORE_BLOB_OK);
}

/* As root, mode bits do not stop writes: check from a child that dropped to
 * an unprivileged user instead, on a directory it can read but not write. */
static int check_as_nobody(store_blob_t *blob)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        _exit(store_blob_check(blob) == STORE_BLOB_IO ? 0 : 1);
    }
    int status = -1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_blob_check_fails_when_unwritable(void **state)
{
    fixture_t *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/objects", f->dir);
    if (geteuid() == 0) {
        assert_int_equal(chmod(f->dir, 0755), 0);
        assert_int_equal(chmod(path, 0755), 0);
        assert_int_equal(check_as_nobody(f->blob), 0);
        assert_int_equal(store_blob_check(f->blob), STORE_BLOB_OK);
        return;
    }
    assert_int_equal(chmod(path, 0500), 0);
    assert_int_equal(store_blob_check(f->blob), STORE_BLOB_IO);
    assert_int_equal(store_blob_put(f->blob, "k", "x", 1), STORE_BLOB_IO);
    assert_int_equal(chmod(path, 0700), 0);
    assert_int_equal(store_blob_check(f->blob), STORE_BLOB_OK);
}

static void test_blob_open_rejects_bad_urls(void **state)
{
    (void)state;
    char err[256];
    store_blob_t *b = store_blob_open("s3://bucket", err, sizeof err);
    assert_null(b);
    assert_non_null(strstr(err, "OBJECT_STORE_URL"));
    assert_non_null(strstr(err, "not supported yet"));
    assert_null(store_blob_open("file://", err, sizeof err));
    assert_null(store_blob_open("http://x", err, sizeof err));
    assert_null(store_blob_open(NULL, err, sizeof err));
}

static void test_blob_open_fails_on_regular_file(void **state)
{
    fixture_t *f = *state;
    char path[256], url[300], err[256];
    snprintf(path, sizeof path, "%s/plain", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(url, sizeof url, "file://%s", path);
    assert_null(store_blob_open(url, err, sizeof err));
    assert_non_null(strstr(err, "OBJECT_STORE_URL"));
}

static void test_blob_open_relative_path(void **state)
{
    fixture_t *f = *state;
    char cwd[512], err[256], path[256];
    struct stat st;
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    store_blob_t *b = store_blob_open("file://./rel/objects", err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    assert_non_null(b);
    /* Resolved once: it keeps working after the working directory changed. */
    assert_int_equal(store_blob_put(b, "k", "v", 1), 0);
    snprintf(path, sizeof path, "%s/rel/objects/k", f->dir);
    assert_int_equal(stat(path, &st), 0);
    store_blob_destroy(&b);
    assert_null(b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_blob_put_get_roundtrip),
        T(test_blob_get_range),
        T(test_blob_overwrite_replaces),
        T(test_blob_empty_object),
        T(test_blob_delete_then_missing),
        T(test_blob_nested_key_makes_private_dirs),
        T(test_blob_bad_keys_rejected),
        T(test_blob_check_ok),
        T(test_blob_check_fails_when_dir_removed),
        T(test_blob_check_fails_when_unwritable),
        cmocka_unit_test(test_blob_open_rejects_bad_urls),
        T(test_blob_open_fails_on_regular_file),
        T(test_blob_open_relative_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
