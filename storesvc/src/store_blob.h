/*
 * store_blob: the object store behind a small vtable, like Redis's rio
 * backends. store_blob_open picks the backend from OBJECT_STORE_URL:
 * file:// is a local directory (store_blob_local.c), s3:// a bucket of an
 * S3-compatible service (store_blob_s3.c: AWS, MinIO, s3rver).
 *
 * Besides whole objects (put/get/delete/head) the vtable has multipart
 * uploads, the way S3 has them: create an upload for a key, send numbered
 * parts (each answered with an ETag), complete it with the list of parts
 * (the object appears whole, at once) or abort it (nothing remains). The
 * sweeper lists objects and open uploads under a prefix to find what a
 * crash left behind.
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

#define STORE_BLOB_KEY_MAX       200
#define STORE_BLOB_UPLOAD_ID_MAX 512 /* an upload id, without the NUL */
#define STORE_BLOB_ETAG_MAX      128 /* a part's ETag as the store gave it, quotes included */

typedef enum {
    STORE_BLOB_OK = 0,
    STORE_BLOB_NOT_FOUND = -1, /* no such object or upload */
    STORE_BLOB_BAD_KEY = -2,
    STORE_BLOB_IO = -3, /* the store failed or cannot be reached (disk, network); see the log */
    STORE_BLOB_UNSUPPORTED = -4,
    STORE_BLOB_NOMEM = -5,
    STORE_BLOB_REJECTED = -6, /* the store refused the request as such (parts too small, ...) */
} store_blob_status_t;

/* "ok", "not_found", "bad_key", "io", "unsupported", "nomem", "rejected". */
const char *store_blob_status_str(int status);

/* The requests a store is observed making (store_blob_set_observer). */
typedef enum {
    STORE_BLOB_OP_PUT,
    STORE_BLOB_OP_GET,
    STORE_BLOB_OP_DELETE,
    STORE_BLOB_OP_HEAD,
    STORE_BLOB_OP_CHECK,
    STORE_BLOB_OP_MP_CREATE,
    STORE_BLOB_OP_MP_PART,
    STORE_BLOB_OP_MP_COMPLETE,
    STORE_BLOB_OP_MP_ABORT,
    STORE_BLOB_OP_LIST,
    STORE_BLOB_OP_LIST_UPLOADS,
    STORE_BLOB_OP__COUNT
} store_blob_op_t;

/* "put", "get", "delete", "head", "check", "multipart_create",
 * "multipart_part", "multipart_complete", "multipart_abort",
 * "list_objects", "list_uploads"; "unknown" out of range. */
const char *store_blob_op_name(store_blob_op_t op);

/* Told after each request reaches the backend (local or S3), on the
 * calling thread: the op, its store_blob_status_t and how long it took.
 * Requests refused before (a bad key) are not told. */
typedef void (*store_blob_observe_fn)(void *arg, store_blob_op_t op, int status, double seconds);

/* One part of a multipart upload, as complete wants them: in order. */
typedef struct {
    int part_no;      /* 1..10000 */
    const char *etag; /* what the part upload answered */
    uint64_t size;    /* bytes */
} store_blob_part_t;

/* Called for each listed entry; `upload_id` is NULL when listing objects,
 * `key` may be "" for an upload whose key the backend does not keep.
 * `mtime_s`: Unix seconds of the object's last change or the upload's
 * start. Return non-zero to stop the listing. */
typedef int (*store_blob_list_fn)(void *arg, const char *key, const char *upload_id,
                                  int64_t mtime_s);

/* Settings of the S3 backend; the strings are borrowed for the call. */
typedef struct {
    const char *endpoint_url;      /* http(s)://host[:port]; NULL/"": AWS for the region */
    const char *region;            /* NULL: us-east-1 */
    const char *access_key_id;     /* required for s3:// */
    const char *secret_access_key; /* required for s3:// (secret: never logged) */
    long timeout_ms;               /* total bound of one request; <= 0: 10000 */
} store_blob_s3_opts_t;

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
    /* Removes the object; STORE_BLOB_NOT_FOUND when there was none (a
     * backend that cannot tell answers OK). */
    int (*del)(void *impl, const char *key);
    /* The object's size; STORE_BLOB_NOT_FOUND when there is none. */
    int (*head)(void *impl, const char *key, uint64_t *size);
    /* Is the store usable right now (reachable and writable)? */
    int (*check)(void *impl);
    /* Starts an upload for `key`; its id goes to `upload_id` (`cap` bytes). */
    int (*mp_create)(void *impl, const char *key, char *upload_id, size_t cap);
    /* Stores part `part_no` (the same number again replaces it); its ETag
     * goes to `etag` (`cap` bytes). NOT_FOUND: no such upload. */
    int (*mp_part)(void *impl, const char *key, const char *upload_id, int part_no,
                   const void *data, size_t len, char *etag, size_t cap);
    /* Publishes the object from `parts` (in order, at least one) and ends
     * the upload. NOT_FOUND: no such upload; REJECTED: the parts do not
     * match what was stored. */
    int (*mp_complete)(void *impl, const char *key, const char *upload_id,
                       const store_blob_part_t *parts, size_t nparts);
    /* Ends the upload and drops its parts. NOT_FOUND: there was none. */
    int (*mp_abort)(void *impl, const char *key, const char *upload_id);
    /* Lists the objects whose keys start with `prefix` (at most `max`). */
    int (*list_objects)(void *impl, const char *prefix, size_t max, store_blob_list_fn fn,
                        void *arg);
    /* Lists the open uploads of keys under `prefix` (at most `max`). */
    int (*list_uploads)(void *impl, const char *prefix, size_t max, store_blob_list_fn fn,
                        void *arg);
    /* Optional (NULL: nothing to do): removes the backend's own temporary
     * files last changed before `before_s` (Unix seconds); `*removed`
     * receives their count. */
    int (*sweep_temps)(void *impl, int64_t before_s, int *removed);
    void (*destroy)(void *impl);
    /* The smallest size the store accepts for a part that is not the last. */
    uint64_t part_size_min;
} store_blob_ops_t;

typedef struct store_blob store_blob_t;

/* Wraps a backend; takes ownership of `impl` (freed with ops->destroy, also
 * on failure). Returns NULL on failure. */
store_blob_t *store_blob_new(const store_blob_ops_t *ops, void *impl);

/* Opens the store named by `url` (file:///abs, file://relative, s3://bucket;
 * `s3` NULL: s3:// is refused), creating a local directory if missing.
 * Returns NULL with `err` set (never holding a secret). */
store_blob_t *store_blob_open(const char *url, const store_blob_s3_opts_t *s3, char *err,
                              size_t errlen);

void store_blob_destroy(store_blob_t **self_p);

/* The backend name, e.g. "file". */
const char *store_blob_kind(const store_blob_t *self);

/* Sets (fn NULL: clears) the observer; call before the store is shared
 * between threads. NULL-safe. */
void store_blob_set_observer(store_blob_t *self, store_blob_observe_fn fn, void *arg);

/* The smallest non-last part the backend accepts (5 MiB for S3, 1 locally). */
uint64_t store_blob_part_size_min(const store_blob_t *self);

/* Returns 1 when `key` is acceptable, 0 otherwise. */
int store_blob_key_valid(const char *key);

int store_blob_put(store_blob_t *self, const char *key, const void *data, size_t len);
int store_blob_get(store_blob_t *self, const char *key, uint64_t offset, void *buf, size_t cap,
                   size_t *got, uint64_t *size);
int store_blob_delete(store_blob_t *self, const char *key);
int store_blob_head(store_blob_t *self, const char *key, uint64_t *size);
int store_blob_check(store_blob_t *self);

int store_blob_mp_create(store_blob_t *self, const char *key, char *upload_id, size_t cap);
int store_blob_mp_part(store_blob_t *self, const char *key, const char *upload_id, int part_no,
                       const void *data, size_t len, char *etag, size_t cap);
int store_blob_mp_complete(store_blob_t *self, const char *key, const char *upload_id,
                           const store_blob_part_t *parts, size_t nparts);
int store_blob_mp_abort(store_blob_t *self, const char *key, const char *upload_id);

int store_blob_list_objects(store_blob_t *self, const char *prefix, size_t max,
                            store_blob_list_fn fn, void *arg);
int store_blob_list_uploads(store_blob_t *self, const char *prefix, size_t max,
                            store_blob_list_fn fn, void *arg);
int store_blob_sweep_temps(store_blob_t *self, int64_t before_s, int *removed);

#endif
