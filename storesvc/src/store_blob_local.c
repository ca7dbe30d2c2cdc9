/*
 * store_blob_local: objects as files under one directory.
 *
 * Paths are root + "/" + key; store_blob has already validated the key, so
 * it cannot climb out of the root, and files are opened with O_NOFOLLOW.
 * Temporary and probe files start with '.', a prefix no valid key has.
 * The root is resolved to an absolute path once, so a later chdir does not
 * move the store.
 *
 * Multipart uploads live in root/.uploads/<upload id>/ (a UUID the backend
 * makes; a dot directory, so no key can name it): part n is the file
 * "p<n>" there, written as a temporary file and renamed into place, so a
 * part is whole or absent and sending it again replaces it (parts are not
 * fsync'd: the completion fsyncs the object they are copied into).
 * Completing concatenates the parts into a temporary file next to the
 * object, fsyncs it and renames it to the key: readers see no object or
 * the whole one. A crash leaves at worst a temporary file (".tmp-*") or an
 * upload directory; sweep_temps and the sweeper's list_uploads find them.
 */
#include "store_blob_local.h"

#include "rt_log.h"
#include "rt_uuid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define UPLOADS_DIR ".uploads" /* under the root; a dot name, so never a key */
#define WALK_DEPTH  16         /* directory levels a listing descends at most */

typedef struct {
    char *root;               /* absolute, no trailing '/' */
    atomic_bool check_failed; /* the last check failed (log transitions only) */
} local_t;

/* root + "/" + rel into out. Returns 0, or -1 when it does not fit. */
static int join(const local_t *lb, const char *rel, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", lb->root, rel);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* mkdir -p with mode 0700 for what it creates. Returns 0 when `path` ends up
 * a directory. */
static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    struct stat st;
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static void log_io(const char *what, const char *key, int err)
{
    rt_log_fields(
        RT_LOG_WARNING, NULL, "object store error",
        json_pack("{s:s, s:s, s:s}", "op", what, "key", key ? key : "", "error", strerror(err)));
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync of a directory, so a rename or unlink in it is durable. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The directory part of `path` (which has at least one '/') into out. */
static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* Writes `data` to a new temporary file in `dir`; its name goes to tmp.
 * `durable`: fsync'd before it is closed. */
static int write_temp(const char *dir, const void *data, size_t len, char *tmp, size_t cap,
                      bool durable)
{
    if (snprintf(tmp, cap, "%s/.tmp-XXXXXX", dir) >= (int)cap)
        return -1;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc =
        (fchmod(fd, 0600) == 0 && write_all(fd, data, len) == 0 && (!durable || fsync(fd) == 0))
            ? 0
            : -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0)
        rc = -1;
    if (rc != 0) {
        unlink(tmp);
        errno = saved;
    }
    return rc;
}

static int local_put(void *impl, const char *key, const void *data, size_t len)
{
    local_t *lb = impl;
    char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX];
    if (join(lb, key, path, sizeof path) != 0)
        return STORE_BLOB_BAD_KEY;
    dir_of(path, dir, sizeof dir);
    if ((strchr(key, '/') && mkdir_p(dir) != 0) ||
        write_temp(dir, data, len, tmp, sizeof tmp, true) != 0) {
        log_io("put", key, errno);
        return STORE_BLOB_IO;
    }
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        log_io("put", key, saved);
        return STORE_BLOB_IO;
    }
    sync_dir(dir);
    return STORE_BLOB_OK;
}

/* Reads up to cap bytes at offset, looping over short reads. */
static int read_at(int fd, uint64_t offset, char *buf, size_t cap, size_t *got)
{
    while (*got < cap) {
        ssize_t n = pread(fd, buf + *got, cap - *got, (off_t)(offset + *got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

static int local_get(void *impl, const char *key, uint64_t offset, void *buf, size_t cap,
                     size_t *got, uint64_t *size)
{
    local_t *lb = impl;
    char path[PATH_MAX];
    struct stat st;
    if (join(lb, key, path, sizeof path) != 0)
        return STORE_BLOB_BAD_KEY;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return STORE_BLOB_NOT_FOUND;
        log_io("get", key, errno);
        return STORE_BLOB_IO;
    }
    int rc = STORE_BLOB_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = STORE_BLOB_IO;
    } else {
        *size = (uint64_t)st.st_size;
        if (offset < *size && read_at(fd, offset, buf, cap, got) != 0)
            rc = STORE_BLOB_IO;
    }
    if (rc != STORE_BLOB_OK)
        log_io("get", key, errno);
    close(fd);
    return rc;
}

static int local_del(void *impl, const char *key)
{
    local_t *lb = impl;
    char path[PATH_MAX], dir[PATH_MAX];
    if (join(lb, key, path, sizeof path) != 0)
        return STORE_BLOB_BAD_KEY;
    if (unlink(path) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return STORE_BLOB_NOT_FOUND;
        log_io("delete", key, errno);
        return STORE_BLOB_IO;
    }
    dir_of(path, dir, sizeof dir);
    sync_dir(dir);
    return STORE_BLOB_OK;
}

/* The root is a directory in which a file can be created, written, removed. */
static int probe(const local_t *lb)
{
    char tmp[PATH_MAX];
    struct stat st;
    if (stat(lb->root, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    if (snprintf(tmp, sizeof tmp, "%s/.probe-XXXXXX", lb->root) >= (int)sizeof tmp)
        return -1;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = write_all(fd, "x", 1);
    int saved = errno;
    close(fd);
    if (unlink(tmp) != 0 && rc == 0)
        return -1;
    errno = saved;
    return rc;
}

static int local_check(void *impl)
{
    local_t *lb = impl;
    int rc = probe(lb);
    int err = errno;
    bool was_failed = atomic_exchange(&lb->check_failed, rc != 0);
    if (rc != 0 && !was_failed)
        log_io("check", NULL, err);
    else if (rc == 0 && was_failed)
        rt_info(NULL, "object store usable again");
    return rc == 0 ? STORE_BLOB_OK : STORE_BLOB_IO;
}

static int local_head(void *impl, const char *key, uint64_t *size)
{
    local_t *lb = impl;
    char path[PATH_MAX];
    struct stat st;
    if (join(lb, key, path, sizeof path) != 0)
        return STORE_BLOB_BAD_KEY;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return STORE_BLOB_NOT_FOUND;
        log_io("head", key, errno);
        return STORE_BLOB_IO;
    }
    if (!S_ISREG(st.st_mode))
        return STORE_BLOB_NOT_FOUND;
    *size = (uint64_t)st.st_size;
    return STORE_BLOB_OK;
}

/* ------------------------------------------------------------ multipart -- */

/* root/.uploads/<id> into out; -1 when the id is not one of ours. */
static int upload_dir(const local_t *lb, const char *upload_id, char *out, size_t cap)
{
    if (!rt_uuid_valid(upload_id))
        return -1;
    int n = snprintf(out, cap, "%s/" UPLOADS_DIR "/%s", lb->root, upload_id);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int remove_upload(const char *dir);

/* The upload's key, kept in its directory (file "key") for the sweeper. */
static int write_key(const char *dir, const char *key)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/key", dir) >= (int)sizeof path ||
        write_temp(dir, key, strlen(key), tmp, sizeof tmp, true) != 0)
        return -1;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Reads the key of the upload in `dir` into out (""  when unreadable). */
static void read_key(const char *dir, char *out, size_t cap)
{
    char path[PATH_MAX];
    out[0] = '\0';
    if (snprintf(path, sizeof path, "%s/key", dir) >= (int)sizeof path)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    if (!store_blob_key_valid(out))
        out[0] = '\0';
}

static int local_mp_create(void *impl, const char *key, char *upload_id, size_t cap)
{
    local_t *lb = impl;
    char id[RT_UUID_BUF], dir[PATH_MAX];
    rt_uuid_v4(id);
    if (cap < sizeof id || upload_dir(lb, id, dir, sizeof dir) != 0)
        return STORE_BLOB_IO;
    if (mkdir_p(dir) != 0 || write_key(dir, key) != 0) {
        log_io("mp_create", key, errno);
        (void)remove_upload(dir);
        return STORE_BLOB_IO;
    }
    memcpy(upload_id, id, sizeof id);
    return STORE_BLOB_OK;
}

/* The path of part `part_no` of the upload in `dir`. */
static int part_path(const char *dir, int part_no, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/p%05d", dir, part_no);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* A part's ETag: BLAKE2b-128 of its bytes, in hex. */
static void part_etag(const void *data, size_t len, char *etag, size_t cap)
{
    unsigned char h[16];
    char hex[sizeof h * 2 + 1];
    crypto_generichash(h, sizeof h, data, len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(etag, cap, "%s", hex);
}

static int local_mp_part(void *impl, const char *key, const char *upload_id, int part_no,
                         const void *data, size_t len, char *etag, size_t cap)
{
    local_t *lb = impl;
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
    struct stat st;
    if (upload_dir(lb, upload_id, dir, sizeof dir) != 0 ||
        part_path(dir, part_no, path, sizeof path) != 0)
        return STORE_BLOB_NOT_FOUND;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return STORE_BLOB_NOT_FOUND; /* aborted, completed, or never made */
    /* Not fsync'd: a part is made durable by the completion, which fsyncs
     * the object it is copied into. A machine that crashes in between
     * loses the upload, which is still pending (the caller aborts it or the
     * sweeper removes it); one fsync per part cost more than the copy. */
    if (write_temp(dir, data, len, tmp, sizeof tmp, false) != 0) {
        int saved = errno;
        if (saved == ENOENT)
            return STORE_BLOB_NOT_FOUND; /* aborted while we wrote */
        log_io("mp_part", key, saved);
        return STORE_BLOB_IO;
    }
    if (rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        if (saved == ENOENT)
            return STORE_BLOB_NOT_FOUND;
        log_io("mp_part", key, saved);
        return STORE_BLOB_IO;
    }
    part_etag(data, len, etag, cap);
    return STORE_BLOB_OK;
}

/* Appends the whole of `src` (`size` bytes) to `dst`. */
static int copy_fd(int dst, int src, uint64_t size)
{
    uint64_t left = size;
    while (left > 0) {
        ssize_t n = copy_file_range(src, NULL, dst, NULL, left > (1u << 30) ? (1u << 30) : left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL))
            break; /* fall back to read/write below */
        if (n <= 0)
            return -1;
        left -= (uint64_t)n;
    }
    char buf[65536];
    while (left > 0) {
        ssize_t n = read(src, buf, left < sizeof buf ? left : sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || write_all(dst, buf, (size_t)n) != 0)
            return -1;
        left -= (uint64_t)n;
    }
    return 0;
}

/* Appends part `p` of the upload in `dir` to `dst`, checking its size. */
static int append_part(int dst, const char *dir, const store_blob_part_t *p)
{
    char path[PATH_MAX];
    struct stat st;
    if (part_path(dir, p->part_no, path, sizeof path) != 0)
        return STORE_BLOB_REJECTED;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? STORE_BLOB_REJECTED : STORE_BLOB_IO;
    int rc = STORE_BLOB_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = STORE_BLOB_IO;
    else if ((uint64_t)st.st_size != p->size)
        rc = STORE_BLOB_REJECTED; /* not the part that was recorded */
    else if (copy_fd(dst, fd, p->size) != 0)
        rc = STORE_BLOB_IO;
    close(fd);
    return rc;
}

/* Removes an upload directory and what is in it. NOT_FOUND when absent. */
static int remove_upload(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? STORE_BLOB_NOT_FOUND : STORE_BLOB_IO;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            (void)unlink(path);
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        return STORE_BLOB_IO; /* a part written meanwhile: the sweeper takes it later */
    return STORE_BLOB_OK;
}

/* Concatenates the parts into a temporary file in the object's directory
 * (name into `tmp`), fsync'd. */
static int assemble(const char *dir, const char *objdir, const store_blob_part_t *parts,
                    size_t nparts, char *tmp, size_t cap)
{
    if (snprintf(tmp, cap, "%s/.tmp-XXXXXX", objdir) >= (int)cap)
        return STORE_BLOB_IO;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return STORE_BLOB_IO;
    int rc = fchmod(fd, 0600) == 0 ? STORE_BLOB_OK : STORE_BLOB_IO;
    for (size_t i = 0; rc == STORE_BLOB_OK && i < nparts; i++)
        rc = append_part(fd, dir, &parts[i]);
    if (rc == STORE_BLOB_OK && fsync(fd) != 0)
        rc = STORE_BLOB_IO;
    if (close(fd) != 0 && rc == STORE_BLOB_OK)
        rc = STORE_BLOB_IO;
    if (rc != STORE_BLOB_OK)
        unlink(tmp);
    return rc;
}

static int local_mp_complete(void *impl, const char *key, const char *upload_id,
                             const store_blob_part_t *parts, size_t nparts)
{
    local_t *lb = impl;
    char dir[PATH_MAX], path[PATH_MAX], objdir[PATH_MAX], tmp[PATH_MAX];
    struct stat st;
    if (upload_dir(lb, upload_id, dir, sizeof dir) != 0)
        return STORE_BLOB_NOT_FOUND;
    if (join(lb, key, path, sizeof path) != 0)
        return STORE_BLOB_BAD_KEY;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return STORE_BLOB_NOT_FOUND;
    dir_of(path, objdir, sizeof objdir);
    if (strchr(key, '/') && mkdir_p(objdir) != 0) {
        log_io("mp_complete", key, errno);
        return STORE_BLOB_IO;
    }
    int rc = assemble(dir, objdir, parts, nparts, tmp, sizeof tmp);
    if (rc == STORE_BLOB_OK && rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        rc = STORE_BLOB_IO;
    }
    if (rc == STORE_BLOB_IO)
        log_io("mp_complete", key, errno);
    if (rc != STORE_BLOB_OK)
        return rc;
    sync_dir(objdir);
    (void)remove_upload(dir); /* the object is published; leftovers are the sweeper's */
    return STORE_BLOB_OK;
}

static int local_mp_abort(void *impl, const char *key, const char *upload_id)
{
    local_t *lb = impl;
    char dir[PATH_MAX];
    if (upload_dir(lb, upload_id, dir, sizeof dir) != 0)
        return STORE_BLOB_NOT_FOUND;
    int rc = remove_upload(dir);
    if (rc == STORE_BLOB_IO)
        log_io("mp_abort", key, errno);
    return rc;
}

/* ------------------------------------------------------------- listings -- */

typedef struct {
    const char *prefix;
    size_t max, seen;
    store_blob_list_fn fn;
    void *arg;
    bool stop;
} walk_t;

/* Lists the regular files below root/rel (rel "" for the root itself),
 * skipping dot names, `depth` levels at most. */
static void walk_objects(const local_t *lb, walk_t *w, const char *rel, int depth)
{
    char dirpath[PATH_MAX], key[PATH_MAX];
    int n = rel[0] ? snprintf(dirpath, sizeof dirpath, "%s/%s", lb->root, rel)
                   : snprintf(dirpath, sizeof dirpath, "%s", lb->root);
    if (n < 0 || (size_t)n >= sizeof dirpath)
        return;
    DIR *d = opendir(dirpath);
    if (!d)
        return;
    struct dirent *e;
    while (!w->stop && (e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.')
            continue; /* ., .., temporaries, uploads */
        if (snprintf(key, sizeof key, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
            (int)sizeof key)
            continue;
        char path[PATH_MAX];
        if (join(lb, key, path, sizeof path) != 0 || lstat(path, &st) != 0)
            continue;
        size_t plen = strlen(w->prefix), klen = strlen(key);
        if (S_ISDIR(st.st_mode) && depth > 0) {
            /* descend only where the prefix can still match */
            size_t common = klen < plen ? klen : plen;
            if (strncmp(key, w->prefix, common) == 0)
                walk_objects(lb, w, key, depth - 1);
        } else if (S_ISREG(st.st_mode) && strncmp(key, w->prefix, plen) == 0 &&
                   store_blob_key_valid(key)) {
            if (w->seen++ >= w->max || w->fn(w->arg, key, NULL, (int64_t)st.st_mtime) != 0)
                w->stop = true;
        }
    }
    closedir(d);
}

static int local_list_objects(void *impl, const char *prefix, size_t max, store_blob_list_fn fn,
                              void *arg)
{
    walk_t w = {.prefix = prefix, .max = max, .fn = fn, .arg = arg};
    walk_objects(impl, &w, "", WALK_DEPTH);
    return STORE_BLOB_OK;
}

/* An upload's time is its directory's: that of its last part. */
static int local_list_uploads(void *impl, const char *prefix, size_t max, store_blob_list_fn fn,
                              void *arg)
{
    local_t *lb = impl;
    char dir[PATH_MAX], path[PATH_MAX];
    size_t seen = 0;
    if (snprintf(dir, sizeof dir, "%s/" UPLOADS_DIR, lb->root) >= (int)sizeof dir)
        return STORE_BLOB_IO;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? STORE_BLOB_OK : STORE_BLOB_IO;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (!rt_uuid_valid(e->d_name) ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        char key[STORE_BLOB_KEY_MAX + 1];
        read_key(path, key, sizeof key);
        if (key[0] && strncmp(key, prefix, strlen(prefix)) != 0)
            continue;
        if (seen++ >= max || fn(arg, key, e->d_name, (int64_t)st.st_mtime) != 0)
            break;
    }
    closedir(d);
    return STORE_BLOB_OK;
}

static bool is_temp_name(const char *name)
{
    return strncmp(name, ".tmp-", 5) == 0 || strncmp(name, ".probe-", 7) == 0;
}

/* Removes temporary files older than `before` below `dir`, dot directories
 * (the uploads) included. */
static void sweep_dir(const char *dir, int64_t before, int depth, int *removed)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth > 0)
            sweep_dir(path, before, depth - 1, removed);
        else if (S_ISREG(st.st_mode) && is_temp_name(e->d_name) && (int64_t)st.st_mtime < before &&
                 unlink(path) == 0)
            (*removed)++;
    }
    closedir(d);
}

static int local_sweep_temps(void *impl, int64_t before_s, int *removed)
{
    local_t *lb = impl;
    sweep_dir(lb->root, before_s, WALK_DEPTH, removed);
    return STORE_BLOB_OK;
}

static void local_destroy(void *impl)
{
    local_t *lb = impl;
    if (lb) {
        free(lb->root);
        free(lb);
    }
}

static const store_blob_ops_t local_ops = {
    .name = "file",
    .put = local_put,
    .get = local_get,
    .del = local_del,
    .head = local_head,
    .check = local_check,
    .mp_create = local_mp_create,
    .mp_part = local_mp_part,
    .mp_complete = local_mp_complete,
    .mp_abort = local_mp_abort,
    .list_objects = local_list_objects,
    .list_uploads = local_list_uploads,
    .sweep_temps = local_sweep_temps,
    .destroy = local_destroy,
    .part_size_min = 1,
};

store_blob_t *store_blob_local_new(const char *root, char *err, size_t errlen)
{
    local_t *lb = NULL;
    if (!root || !*root || mkdir_p(root) != 0) {
        snprintf(err, errlen, "OBJECT_STORE_URL: cannot create directory: %s", strerror(errno));
        return NULL;
    }
    if (!(lb = calloc(1, sizeof *lb)) || !(lb->root = realpath(root, NULL))) {
        snprintf(err, errlen, "OBJECT_STORE_URL: cannot resolve directory: %s", strerror(errno));
        local_destroy(lb);
        return NULL;
    }
    atomic_init(&lb->check_failed, false);
    store_blob_t *blob = store_blob_new(&local_ops, lb);
    if (!blob)
        snprintf(err, errlen, "object store: out of memory");
    return blob;
}
