/*
 * store_blob_local: objects as files under one directory.
 *
 * Paths are root + "/" + key; store_blob has already validated the key, so
 * it cannot climb out of the root, and files are opened with O_NOFOLLOW.
 * Temporary and probe files start with '.', a prefix no valid key has.
 * The root is resolved to an absolute path once, so a later chdir does not
 * move the store.
 */
#include "store_blob_local.h"

#include "rt_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Writes `data` to a new temporary file in `dir`; its name goes to tmp. */
static int write_temp(const char *dir, const void *data, size_t len, char *tmp, size_t cap)
{
    if (snprintf(tmp, cap, "%s/.tmp-XXXXXX", dir) >= (int)cap)
        return -1;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = (fchmod(fd, 0600) == 0 && write_all(fd, data, len) == 0 && fsync(fd) == 0) ? 0 : -1;
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
        write_temp(dir, data, len, tmp, sizeof tmp) != 0) {
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
    .check = local_check,
    .destroy = local_destroy,
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
