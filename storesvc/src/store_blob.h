/*
 * store_blob: the object store behind a small vtable (put/get/delete/check),
 * like Redis's rio backends. store_blob_open picks the backend from
 * OBJECT_STORE_URL: file:// is a local directory (store_blob_local.c);
 * s3:// is reserved for the S3 backend of a later issue and is refused with
 * a clear message for now.
 *
 * Keys are validated here, before any backend sees them: 1..STORE_BLOB_KEY_MAX
 * bytes of segments separated by '/', each [A-Za-z0-9_.-] not starting with
 * '.' (so no "..", no hidden or temporary names, no absolute paths).
 * A store_blob_t is safe to use from several threads at once.
 */
#ifndef STORE_BLOB_H
#define STORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define STORE_BLOB_KEY_MAX 200

typedef enum {
    STORE_BLOB_OK = 0,
    STORE_BLOB_NOT_FOUND = -1,
    STORE_BLOB_BAD_KEY = -2,
    STORE_BLOB_IO = -3, /* the store failed (disk, network); see the log */
    STORE_BLOB_UNSUPPORTED = -4,
    STORE_BLOB_NOMEM = -5,
} store_blob_status_t;

/* "ok", "not_found", "bad_key", "io", "unsupported", "nomem". */
const char *store_blob_status_str(int status);

/* A backend. `impl` is the backend's own state; every function returns a
 * store_blob_status_t. */
typedef struct {
    const char *name; /* "file", "s3" */
    /* Stores `len` bytes under `key`, replacing any object atomically. */
    int (*put)(void *impl, const char *key, const void *data, size_t len);
    /* Reads up to `cap` bytes from `offset` into `buf`; `*got` receives the
     * count (0 at or past the end), `*size` the object's total size. */
    int (*get)(void *impl, const char *key, uint64_t offset, void *buf, size_t cap, size_t *got,
               uint64_t *size);
    /* Removes the object; STORE_BLOB_NOT_FOUND when there was none. */
    int (*del)(void *impl, const char *key);
    /* Is the store usable right now (reachable and writable)? */
    int (*check)(void *impl);
    void (*destroy)(void *impl);
} store_blob_ops_t;

typedef struct store_blob store_blob_t;

/* Wraps a backend; takes ownership of `impl` (freed with ops->destroy, also
 * on failure). Returns NULL on failure. */
store_blob_t *store_blob_new(const store_blob_ops_t *ops, void *impl);

/* Opens the store named by `url` (file:///abs, file://relative, s3://bucket),
 * creating a local directory if missing. Returns NULL with `err` set. */
store_blob_t *store_blob_open(const char *url, char *err, size_t errlen);

void store_blob_destroy(store_blob_t **self_p);

/* The backend name, e.g. "file". */
const char *store_blob_kind(const store_blob_t *self);

/* Returns 1 when `key` is acceptable, 0 otherwise. */
int store_blob_key_valid(const char *key);

int store_blob_put(store_blob_t *self, const char *key, const void *data, size_t len);
int store_blob_get(store_blob_t *self, const char *key, uint64_t offset, void *buf, size_t cap,
                   size_t *got, uint64_t *size);
int store_blob_delete(store_blob_t *self, const char *key);
int store_blob_check(store_blob_t *self);

#endif
