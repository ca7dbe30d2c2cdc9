/*
 * store_files: the store.file_* ops (PROTOCOL.md, "storesvc: files").
 *
 *   store.file_begin    -> {id, part_size_min}  validation_error (name, content_type)
 *   store.file_part     -> {part_no, size}      not_found (not the actor's pending upload)
 *   store.file_complete -> File                 bad_request (parts do not add up: aborted)
 *   store.file_abort    -> {}                   (also when there was nothing to abort)
 *   store.file_get      -> File                 not_found
 *   store.file_list     -> {files, total, page, per_page, pages}
 *   store.file_read     -> {data, size, sha256} not_found
 *   store.file_delete   -> {}                   not_found
 *
 * File: {id, name, content_type, size, sha256, owner_id, created_at}.
 *
 * An upload is a 'pending' row holding the object key (made here, never
 * from the name), the store's multipart upload id and, in file_parts, the
 * ETag and size of every part received; completing publishes the object
 * and turns the row 'ready'. No state stays in the process between calls,
 * so any replica takes any step. Who sees a ready file is one rule (the
 * owner; the roles that see everything), written once as a WHERE clause.
 * Object-store failures are `unavailable`; an object gone under a reader
 * (deleted meanwhile) is `not_found`.
 */
#ifndef STORE_FILES_H
#define STORE_FILES_H

#include "proto_server.h"

/* Object keys of files start with this; the sweeper looks only there. */
#define STORE_FILES_KEY_PREFIX "f/"

proto_err_t store_files_begin(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_files_part(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_files_complete(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_files_abort(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_files_get(const proto_call_ctx_t *cc, const proto_request_t *req,
                            msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_files_list(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_files_read(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_files_delete(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail);

/* The wire error for an object-store status (store_blob_status_t). */
proto_err_t store_files_blob_err(int status);

#endif
