/*
 * store_blob: backend selection from OBJECT_STORE_URL, and dispatch through
 * the backend vtable. What a backend is handed has been checked here: keys
 * (store_blob_key_valid), upload ids (printable ASCII, bounded; also what a
 * backend returns from mp_create), part numbers, and that the parts of a
 * complete are numbered 1..n in order.
 */
#include "store_blob.h"
#include "rt_clock.h"

#include "store_blob_local.h"
#include "store_blob_s3.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct store_blob {
    const store_blob_ops_t *ops;
    void *impl;
    store_blob_observe_fn observe; /* NULL: requests are not timed */
    void *observe_arg;
};

static const char *const op_names[STORE_BLOB_OP__COUNT] = {
    [STORE_BLOB_OP_PUT] = "put",
    [STORE_BLOB_OP_GET] = "get",
    [STORE_BLOB_OP_DELETE] = "delete",
    [STORE_BLOB_OP_HEAD] = "head",
    [STORE_BLOB_OP_CHECK] = "check",
    [STORE_BLOB_OP_MP_CREATE] = "multipart_create",
    [STORE_BLOB_OP_MP_PART] = "multipart_part",
    [STORE_BLOB_OP_MP_COMPLETE] = "multipart_complete",
    [STORE_BLOB_OP_MP_ABORT] = "multipart_abort",
    [STORE_BLOB_OP_LIST] = "list_objects",
    [STORE_BLOB_OP_LIST_UPLOADS] = "list_uploads",
};

const char *store_blob_op_name(store_blob_op_t op)
{
    return op >= 0 && op < STORE_BLOB_OP__COUNT ? op_names[op] : "unknown";
}

void store_blob_set_observer(store_blob_t *self, store_blob_observe_fn fn, void *arg)
{
    if (!self)
        return;
    self->observe = fn;
    self->observe_arg = arg;
}

/* When a request to the store starts: 0 when nobody observes. */
static double blob_clock(const store_blob_t *self)
{
    return self->observe ? rt_clock_sec() : 0;
}

/* Tells the observer how request `op` went; returns `rc`. */
static int blob_done(const store_blob_t *self, store_blob_op_t op, double t0, int rc)
{
    if (self->observe)
        self->observe(self->observe_arg, op, rc, rt_clock_sec() - t0);
    return rc;
}

static const char *const status_names[] = {"ok",          "not_found", "bad_key", "io",
                                           "unsupported", "nomem",     "rejected"};

const char *store_blob_status_str(int status)
{
    if (status > 0 || status < STORE_BLOB_REJECTED)
        return "unknown";
    return status_names[-status];
}

store_blob_t *store_blob_new(const store_blob_ops_t *ops, void *impl)
{
    store_blob_t *self = ops ? calloc(1, sizeof *self) : NULL;
    if (!self) {
        if (ops && ops->destroy)
            ops->destroy(impl);
        return NULL;
    }
    self->ops = ops;
    self->impl = impl;
    return self;
}

void store_blob_destroy(store_blob_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_blob_t *self = *self_p;
    if (self->ops->destroy)
        self->ops->destroy(self->impl);
    free(self);
    *self_p = NULL;
}

const char *store_blob_kind(const store_blob_t *self)
{
    return self ? self->ops->name : "";
}

static int segment_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

int store_blob_key_valid(const char *key)
{
    if (!key)
        return 0;
    size_t len = strnlen(key, STORE_BLOB_KEY_MAX + 1);
    if (len == 0 || len > STORE_BLOB_KEY_MAX)
        return 0;
    bool seg_start = true;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (c == '/') {
            if (seg_start)
                return 0; /* leading '/' or an empty segment */
            seg_start = true;
            continue;
        }
        if (!segment_char(c) || (seg_start && c == '.'))
            return 0;
        seg_start = false;
    }
    return !seg_start; /* no trailing '/' */
}

uint64_t store_blob_part_size_min(const store_blob_t *self)
{
    return self && self->ops->part_size_min ? self->ops->part_size_min : 1;
}

store_blob_t *store_blob_open(const char *url, const store_blob_s3_opts_t *s3, char *err,
                              size_t errlen)
{
    static const char file_scheme[] = "file://";
    if (url && strncmp(url, file_scheme, sizeof file_scheme - 1) == 0) {
        const char *root = url + sizeof file_scheme - 1;
        if (!*root) {
            snprintf(err, errlen, "OBJECT_STORE_URL: file:// needs a directory");
            return NULL;
        }
        return store_blob_local_new(root, err, errlen);
    }
    if (url && strncmp(url, "s3://", 5) == 0) {
        if (!s3) {
            snprintf(err, errlen, "OBJECT_STORE_URL: s3:// needs the S3_* settings");
            return NULL;
        }
        return store_blob_s3_new(url + 5, s3, err, errlen);
    }
    snprintf(err, errlen, "OBJECT_STORE_URL must start with file:// or s3://");
    return NULL;
}

int store_blob_put(store_blob_t *self, const char *key, const void *data, size_t len)
{
    if (!self || (!data && len > 0))
        return STORE_BLOB_IO;
    if (!store_blob_key_valid(key))
        return STORE_BLOB_BAD_KEY;
    double t0 = blob_clock(self);
    int rc = self->ops->put(self->impl, key, data, len);
    return blob_done(self, STORE_BLOB_OP_PUT, t0, rc);
}

int store_blob_get(store_blob_t *self, const char *key, uint64_t offset, void *buf, size_t cap,
                   size_t *got, uint64_t *size)
{
    if (!self || !got || !size || (!buf && cap > 0))
        return STORE_BLOB_IO;
    *got = 0;
    *size = 0;
    if (!store_blob_key_valid(key))
        return STORE_BLOB_BAD_KEY;
    double t0 = blob_clock(self);
    int rc = self->ops->get(self->impl, key, offset, buf, cap, got, size);
    return blob_done(self, STORE_BLOB_OP_GET, t0, rc);
}

int store_blob_delete(store_blob_t *self, const char *key)
{
    if (!self)
        return STORE_BLOB_IO;
    if (!store_blob_key_valid(key))
        return STORE_BLOB_BAD_KEY;
    double t0 = blob_clock(self);
    int rc = self->ops->del(self->impl, key);
    return blob_done(self, STORE_BLOB_OP_DELETE, t0, rc);
}

int store_blob_check(store_blob_t *self)
{
    if (!self)
        return STORE_BLOB_IO;
    double t0 = blob_clock(self);
    int rc = self->ops->check(self->impl);
    return blob_done(self, STORE_BLOB_OP_CHECK, t0, rc);
}

int store_blob_head(store_blob_t *self, const char *key, uint64_t *size)
{
    if (!self || !size)
        return STORE_BLOB_IO;
    *size = 0;
    if (!store_blob_key_valid(key))
        return STORE_BLOB_BAD_KEY;
    double t0 = blob_clock(self);
    int rc = self->ops->head(self->impl, key, size);
    return blob_done(self, STORE_BLOB_OP_HEAD, t0, rc);
}

/* An upload id: 1..STORE_BLOB_UPLOAD_ID_MAX printable ASCII bytes. */
static int upload_id_ok(const char *id)
{
    if (!id)
        return 0;
    size_t n = strnlen(id, STORE_BLOB_UPLOAD_ID_MAX + 1);
    if (n == 0 || n > STORE_BLOB_UPLOAD_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (id[i] <= ' ' || id[i] > '~')
            return 0;
    }
    return 1;
}

int store_blob_mp_create(store_blob_t *self, const char *key, char *upload_id, size_t cap)
{
    if (!self || !upload_id || cap == 0)
        return STORE_BLOB_IO;
    upload_id[0] = '\0';
    if (!store_blob_key_valid(key))
        return STORE_BLOB_BAD_KEY;
    double t0 = blob_clock(self);
    int rc = self->ops->mp_create(self->impl, key, upload_id, cap);
    if (rc == STORE_BLOB_OK && !upload_id_ok(upload_id))
        rc = STORE_BLOB_IO; /* the store answered something we could not use again */
    return blob_done(self, STORE_BLOB_OP_MP_CREATE, t0, rc);
}

int store_blob_mp_part(store_blob_t *self, const char *key, const char *upload_id, int part_no,
                       const void *data, size_t len, char *etag, size_t cap)
{
    if (!self || !etag || cap == 0 || (!data && len > 0) || part_no < 1 || part_no > 10000)
        return STORE_BLOB_IO;
    etag[0] = '\0';
    if (!store_blob_key_valid(key) || !upload_id_ok(upload_id))
        return STORE_BLOB_BAD_KEY;
    double t0 = blob_clock(self);
    int rc = self->ops->mp_part(self->impl, key, upload_id, part_no, data, len, etag, cap);
    return blob_done(self, STORE_BLOB_OP_MP_PART, t0, rc);
}

int store_blob_mp_complete(store_blob_t *self, const char *key, const char *upload_id,
                           const store_blob_part_t *parts, size_t nparts)
{
    if (!self || !parts || nparts == 0)
        return STORE_BLOB_IO;
    if (!store_blob_key_valid(key) || !upload_id_ok(upload_id))
        return STORE_BLOB_BAD_KEY;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].part_no != (int)i + 1 || !parts[i].etag)
            return STORE_BLOB_REJECTED; /* 1..n in order, each with its ETag */
    }
    double t0 = blob_clock(self);
    int rc = self->ops->mp_complete(self->impl, key, upload_id, parts, nparts);
    return blob_done(self, STORE_BLOB_OP_MP_COMPLETE, t0, rc);
}

int store_blob_mp_abort(store_blob_t *self, const char *key, const char *upload_id)
{
    if (!self)
        return STORE_BLOB_IO;
    if (!store_blob_key_valid(key) || !upload_id_ok(upload_id))
        return STORE_BLOB_BAD_KEY;
    double t0 = blob_clock(self);
    int rc = self->ops->mp_abort(self->impl, key, upload_id);
    return blob_done(self, STORE_BLOB_OP_MP_ABORT, t0, rc);
}

int store_blob_list_objects(store_blob_t *self, const char *prefix, size_t max,
                            store_blob_list_fn fn, void *arg)
{
    if (!self || !prefix || !fn)
        return STORE_BLOB_IO;
    double t0 = blob_clock(self);
    int rc = self->ops->list_objects(self->impl, prefix, max, fn, arg);
    return blob_done(self, STORE_BLOB_OP_LIST, t0, rc);
}

int store_blob_list_uploads(store_blob_t *self, const char *prefix, size_t max,
                            store_blob_list_fn fn, void *arg)
{
    if (!self || !prefix || !fn)
        return STORE_BLOB_IO;
    double t0 = blob_clock(self);
    int rc = self->ops->list_uploads(self->impl, prefix, max, fn, arg);
    return blob_done(self, STORE_BLOB_OP_LIST_UPLOADS, t0, rc);
}

int store_blob_sweep_temps(store_blob_t *self, int64_t before_s, int *removed)
{
    if (removed)
        *removed = 0;
    if (!self || !removed)
        return STORE_BLOB_IO;
    return self->ops->sweep_temps ? self->ops->sweep_temps(self->impl, before_s, removed)
                                  : STORE_BLOB_OK;
}
