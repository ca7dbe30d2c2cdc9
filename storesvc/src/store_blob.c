/*
 * store_blob: backend selection from OBJECT_STORE_URL, key validation, and
 * dispatch through the backend vtable.
 */
#include "store_blob.h"

#include "store_blob_local.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_blob {
    const store_blob_ops_t *ops;
    void *impl;
};

static const char *const status_names[] = {"ok", "not_found",   "bad_key",
                                           "io", "unsupported", "nomem"};

const char *store_blob_status_str(int status)
{
    if (status > 0 || status < STORE_BLOB_NOMEM)
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

store_blob_t *store_blob_open(const char *url, char *err, size_t errlen)
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
        snprintf(err, errlen,
                 "OBJECT_STORE_URL: the s3:// object store is not supported yet; use "
                 "file:///path");
        return NULL;
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
    return self->ops->put(self->impl, key, data, len);
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
    return self->ops->get(self->impl, key, offset, buf, cap, got, size);
}

int store_blob_delete(store_blob_t *self, const char *key)
{
    if (!self)
        return STORE_BLOB_IO;
    if (!store_blob_key_valid(key))
        return STORE_BLOB_BAD_KEY;
    return self->ops->del(self->impl, key);
}

int store_blob_check(store_blob_t *self)
{
    if (!self)
        return STORE_BLOB_IO;
    return self->ops->check(self->impl);
}
