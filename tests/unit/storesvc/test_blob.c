/*
 * Unit tests for store_blob and its local-directory backend: put/get/delete
 * round trips on a temporary directory, ranged reads, key validation (no
 * escaping the root), check() failing when the directory is gone or not
 * writable, URL selection (file:// absolute and relative; s3:// needs its
 * settings), and the local backend's multipart uploads: parts replaced,
 * complete publishing the object whole, abort leaving nothing, and what a
 * crash leaves (temporary files, upload directories) found and removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_blob.h"
#include "store_blob_local.h"
#include "store_blob_s3.h"

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
    f->blob = store_blob_open(url, NULL, err, sizeof err);
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
    /* the keys storesvc makes for files are valid; the local store's own
     * names (uploads, temporaries) can never be named by a key */
    assert_true(store_blob_key_valid("f/0b3c9a1e-5d2f-4c1a-9e7b-2f1d3c4b5a69"));
    assert_false(store_blob_key_valid(".uploads/0b3c9a1e-5d2f-4c1a-9e7b-2f1d3c4b5a69/p00001"));
    assert_false(store_blob_key_valid("f/.tmp-AbC123"));
    assert_false(store_blob_key_valid("f/.probe-x"));
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
    store_blob_t *b = store_blob_open("s3://bucket", NULL, err, sizeof err);
    assert_null(b);
    assert_non_null(strstr(err, "OBJECT_STORE_URL"));
    store_blob_s3_opts_t o = {.access_key_id = "k", .secret_access_key = "s3cr3t-value"};
    assert_null(store_blob_open("s3://", &o, err, sizeof err));
    assert_non_null(strstr(err, "bucket"));
    assert_null(store_blob_open("s3://Bad_Bucket", &o, err, sizeof err));
    o.endpoint_url = "ftp://127.0.0.1:1";
    assert_null(store_blob_open("s3://bucket", &o, err, sizeof err));
    assert_non_null(strstr(err, "S3_ENDPOINT_URL"));
    o.endpoint_url = "http://127.0.0.1:1/some/path";
    assert_null(store_blob_open("s3://bucket", &o, err, sizeof err));
    o.endpoint_url = "http://127.0.0.1:1";
    o.secret_access_key = "";
    assert_null(store_blob_open("s3://bucket", &o, err, sizeof err));
    assert_non_null(strstr(err, "S3_SECRET_ACCESS_KEY"));
    assert_null(store_blob_open("file://", NULL, err, sizeof err));
    assert_null(store_blob_open("http://x", NULL, err, sizeof err));
    assert_null(store_blob_open(NULL, NULL, err, sizeof err));
}

/* An S3 store nobody listens for: every call is io (unavailable), fast,
 * and no error message holds the secret. */
static void test_blob_s3_unreachable_is_io(void **state)
{
    (void)state;
    char err[256], id[STORE_BLOB_UPLOAD_ID_MAX + 1], buf[8];
    size_t got;
    uint64_t size;
    store_blob_s3_opts_t o = {.endpoint_url = "http://127.0.0.1:1",
                              .access_key_id = "k",
                              .secret_access_key = "s3cr3t-value",
                              .timeout_ms = 500};
    store_blob_t *b = store_blob_open("s3://bucket", &o, err, sizeof err);
    assert_non_null(b);
    assert_string_equal(store_blob_kind(b), "s3");
    assert_int_equal(store_blob_part_size_min(b), 5 * 1024 * 1024);
    assert_int_equal(store_blob_check(b), STORE_BLOB_IO);
    assert_int_equal(store_blob_mp_create(b, "f/x", id, sizeof id), STORE_BLOB_IO);
    assert_int_equal(store_blob_get(b, "f/x", 0, buf, sizeof buf, &got, &size), STORE_BLOB_IO);
    assert_int_equal(store_blob_delete(b, "f/x"), STORE_BLOB_IO);
    store_blob_destroy(&b);
}

static void test_blob_s3_uri_encode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(store_blob_s3_uri_encode("f/a b~c_d-e.f", out, sizeof out), 17);
    assert_string_equal(out, "f%2Fa%20b~c_d-e.f");
    assert_int_equal(store_blob_s3_uri_encode("a+b=c&", out, sizeof out), 12);
    assert_string_equal(out, "a%2Bb%3Dc%26");
    assert_int_equal(store_blob_s3_uri_encode("\xc3\xbc", out, sizeof out), 6);
    assert_string_equal(out, "%C3%BC");
    assert_int_equal(store_blob_s3_uri_encode("abc", out, 3), -1);
    assert_int_equal(store_blob_s3_uri_encode("", out, 1), 0);
}

/* ---- multipart (local) ---- */

static void read_all(store_blob_t *b, const char *key, char *buf, size_t cap, size_t *got)
{
    uint64_t size = 0;
    assert_int_equal(store_blob_get(b, key, 0, buf, cap, got, &size), STORE_BLOB_OK);
    assert_int_equal(size, *got);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_blob_local_multipart_roundtrip(void **state)
{
    fixture_t *f = *state;
    char id[STORE_BLOB_UPLOAD_ID_MAX + 1], e1[STORE_BLOB_ETAG_MAX + 1], e2[STORE_BLOB_ETAG_MAX + 1];
    char buf[64], path[256];
    size_t got = 0;
    assert_int_equal(store_blob_part_size_min(f->blob), 1);
    assert_int_equal(store_blob_mp_create(f->blob, "f/obj", id, sizeof id), STORE_BLOB_OK);
    assert_true(strlen(id) > 0);
    assert_int_equal(store_blob_mp_part(f->blob, "f/obj", id, 2, "world", 5, e2, sizeof e2), 0);
    assert_int_equal(store_blob_mp_part(f->blob, "f/obj", id, 1, "HELLO ", 6, e1, sizeof e1), 0);
    /* the same part again replaces it */
    assert_int_equal(store_blob_mp_part(f->blob, "f/obj", id, 1, "hello ", 6, e1, sizeof e1), 0);
    uint64_t size = 0;
    assert_int_equal(store_blob_head(f->blob, "f/obj", &size), STORE_BLOB_NOT_FOUND);
    store_blob_part_t parts[] = {{1, e1, 6}, {2, e2, 5}};
    assert_int_equal(store_blob_mp_complete(f->blob, "f/obj", id, parts, 2), STORE_BLOB_OK);
    read_all(f->blob, "f/obj", buf, sizeof buf, &got);
    assert_int_equal(got, 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(store_blob_head(f->blob, "f/obj", &size), STORE_BLOB_OK);
    assert_int_equal(size, 11);
    /* the upload is gone: its parts with it */
    snprintf(path, sizeof path, "%s/objects/.uploads", f->dir);
    assert_int_equal(count_entries(path), 0);
    assert_int_equal(store_blob_mp_part(f->blob, "f/obj", id, 3, "x", 1, e1, sizeof e1),
                     STORE_BLOB_NOT_FOUND);
    assert_int_equal(store_blob_mp_complete(f->blob, "f/obj", id, parts, 2), STORE_BLOB_NOT_FOUND);
}

static void test_blob_local_complete_checks_parts(void **state)
{
    fixture_t *f = *state;
    char id[STORE_BLOB_UPLOAD_ID_MAX + 1], e1[STORE_BLOB_ETAG_MAX + 1];
    assert_int_equal(store_blob_mp_create(f->blob, "f/chk", id, sizeof id), STORE_BLOB_OK);
    assert_int_equal(store_blob_mp_part(f->blob, "f/chk", id, 1, "abc", 3, e1, sizeof e1), 0);
    store_blob_part_t wrong_size[] = {{1, e1, 4}};
    store_blob_part_t missing[] = {{1, e1, 3}, {2, e1, 3}};
    store_blob_part_t gap[] = {{2, e1, 3}};
    assert_int_equal(store_blob_mp_complete(f->blob, "f/chk", id, wrong_size, 1),
                     STORE_BLOB_REJECTED);
    assert_int_equal(store_blob_mp_complete(f->blob, "f/chk", id, missing, 2), STORE_BLOB_REJECTED);
    assert_int_equal(store_blob_mp_complete(f->blob, "f/chk", id, gap, 1), STORE_BLOB_REJECTED);
    uint64_t size;
    assert_int_equal(store_blob_head(f->blob, "f/chk", &size), STORE_BLOB_NOT_FOUND);
    /* a refused complete leaves no temporary file beside the object */
    char path[256];
    snprintf(path, sizeof path, "%s/objects/f", f->dir);
    assert_int_equal(count_entries(path), 0);
    assert_int_equal(store_blob_mp_part(f->blob, "bad key", id, 1, "x", 1, e1, sizeof e1),
                     STORE_BLOB_BAD_KEY);
    assert_int_equal(store_blob_mp_part(f->blob, "f/chk", "../../etc", 1, "x", 1, e1, sizeof e1),
                     STORE_BLOB_NOT_FOUND);
}

static void test_blob_local_abort_leaves_nothing(void **state)
{
    fixture_t *f = *state;
    char id[STORE_BLOB_UPLOAD_ID_MAX + 1], e1[STORE_BLOB_ETAG_MAX + 1], path[256];
    assert_int_equal(store_blob_mp_create(f->blob, "f/ab", id, sizeof id), STORE_BLOB_OK);
    assert_int_equal(store_blob_mp_part(f->blob, "f/ab", id, 1, "abc", 3, e1, sizeof e1), 0);
    assert_int_equal(store_blob_mp_abort(f->blob, "f/ab", id), STORE_BLOB_OK);
    assert_int_equal(store_blob_mp_abort(f->blob, "f/ab", id), STORE_BLOB_NOT_FOUND);
    snprintf(path, sizeof path, "%s/objects/.uploads", f->dir);
    assert_int_equal(count_entries(path), 0);
    uint64_t size;
    assert_int_equal(store_blob_head(f->blob, "f/ab", &size), STORE_BLOB_NOT_FOUND);
    assert_int_equal(store_blob_mp_part(f->blob, "f/ab", id, 2, "x", 1, e1, sizeof e1),
                     STORE_BLOB_NOT_FOUND);
}

typedef struct {
    char keys[8][256];
    char uploads[8][64];
    int n;
} seen_t;

static int remember(void *arg, const char *key, const char *upload_id, int64_t mtime_s)
{
    seen_t *s = arg;
    (void)mtime_s;
    if (s->n < 8) {
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
        snprintf(s->uploads[s->n], sizeof s->uploads[0], "%s", upload_id ? upload_id : "");
        s->n++;
    }
    return 0;
}

static void age(const char *path, long seconds)
{
    struct utimbuf t = {.actime = time(NULL) - seconds, .modtime = time(NULL) - seconds};
    assert_int_equal(utime(path, &t), 0);
}

/* What a crash leaves: a temporary file beside an object, one in an upload
 * directory, the upload itself. Listings find the uploads and the objects
 * (never the temporaries); sweep_temps removes only old temporaries. */
static void test_blob_local_crash_leftovers(void **state)
{
    fixture_t *f = *state;
    char id[STORE_BLOB_UPLOAD_ID_MAX + 1], e1[STORE_BLOB_ETAG_MAX + 1], path[1024], fresh[1024];
    assert_int_equal(store_blob_put(f->blob, "f/kept", "k", 1), 0);
    assert_int_equal(store_blob_put(f->blob, "other/x", "o", 1), 0);
    assert_int_equal(store_blob_mp_create(f->blob, "f/up", id, sizeof id), STORE_BLOB_OK);
    assert_int_equal(store_blob_mp_part(f->blob, "f/up", id, 1, "abc", 3, e1, sizeof e1), 0);
    snprintf(path, sizeof path, "%s/objects/f/.tmp-crash1", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    age(path, 100);
    snprintf(fresh, sizeof fresh, "%s/objects/.uploads/%s/.tmp-crash2", f->dir, id);
    fp = fopen(fresh, "w");
    assert_non_null(fp);
    fclose(fp);

    seen_t objs = {0}, ups = {0};
    assert_int_equal(store_blob_list_objects(f->blob, "f/", 100, remember, &objs), 0);
    assert_int_equal(objs.n, 1);
    assert_string_equal(objs.keys[0], "f/kept");
    assert_int_equal(store_blob_list_uploads(f->blob, "f/", 100, remember, &ups), 0);
    assert_int_equal(ups.n, 1);
    assert_string_equal(ups.keys[0], "f/up");
    assert_string_equal(ups.uploads[0], id);

    int removed = -1;
    assert_int_equal(store_blob_sweep_temps(f->blob, (int64_t)time(NULL) - 50, &removed), 0);
    assert_int_equal(removed, 1); /* the old one only */
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(access(fresh, F_OK), 0);
    /* the sweeper aborts the upload it found by id and key */
    assert_int_equal(store_blob_mp_abort(f->blob, ups.keys[0], ups.uploads[0]), STORE_BLOB_OK);
    snprintf(path, sizeof path, "%s/objects/.uploads", f->dir);
    assert_int_equal(count_entries(path), 0);
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
    assert_null(store_blob_open(url, NULL, err, sizeof err));
    assert_non_null(strstr(err, "OBJECT_STORE_URL"));
}

static void test_blob_open_relative_path(void **state)
{
    fixture_t *f = *state;
    char cwd[512], err[256], path[256];
    struct stat st;
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    store_blob_t *b = store_blob_open("file://./rel/objects", NULL, err, sizeof err);
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
        cmocka_unit_test(test_blob_s3_unreachable_is_io),
        cmocka_unit_test(test_blob_s3_uri_encode),
        T(test_blob_local_multipart_roundtrip),
        T(test_blob_local_complete_checks_parts),
        T(test_blob_local_abort_leaves_nothing),
        T(test_blob_local_crash_leftovers),
        T(test_blob_open_fails_on_regular_file),
        T(test_blob_open_relative_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
