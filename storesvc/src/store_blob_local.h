/*
 * store_blob_local: the local-directory object store (file://). Objects are
 * files under one root directory (keys with '/' make sub-directories); a put
 * writes a temporary file, fsyncs it and renames it into place, so readers
 * see the old object or the new one, never half of one. Multipart uploads
 * keep their parts in root/.uploads/<id>/ until complete concatenates them
 * the same way. Directories are created with mode 0700, files with 0600.
 */
#ifndef STORE_BLOB_LOCAL_H
#define STORE_BLOB_LOCAL_H

#include "store_blob.h"

/* Opens (creating with mkdir -p, mode 0700, if missing) the directory
 * `root`, relative to the working directory unless absolute. Returns NULL
 * with `err` set. */
store_blob_t *store_blob_local_new(const char *root, char *err, size_t errlen);

#endif
