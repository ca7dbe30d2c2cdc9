/*
 * gw_files: the handlers that move file bytes (the metadata routes are
 * gw_api_handle rows).
 *
 * Upload (POST /api/v1/files?name=...): the body, raw or a multipart form
 * with one "file" part, is read as it arrives (gw_stream) into a part
 * buffer of GW_UPLOAD_PART_BYTES; each full buffer goes to storesvc as
 * store.file_part without being copied (gw_rpc_call_tail) and the next
 * one is read meanwhile: up to GW_UPLOAD_PARTS_IN_FLIGHT parts of an
 * upload on their way while the gateway-wide GW_UPLOAD_EXTRA_PARTS_MAX
 * lasts, else one, so memory per upload is two parts whatever the file
 * size, plus all uploads' share of the extra ones. The first bytes are checked
 * before anything is stored: the declared type must be in
 * UPLOAD_ALLOWED_TYPES and markup must not hide behind another type
 * (gw_sniff); size and SHA-256 are counted on the way; over
 * MAX_UPLOAD_BYTES, a client gone, a malformed body or a failing store
 * abort the upload (store.file_abort), so nothing is left behind.
 *
 * Download (GET /api/v1/files/{id}/content): the metadata first (404 for
 * what the caller may not see), then If-None-Match (304) and Range
 * (206 / 416), then the bytes in chunks of GW_DOWNLOAD_CHUNK_BYTES read
 * with store.file_read and written as the client takes them, with up to
 * GW_DOWNLOAD_READS_AHEAD further chunks read meanwhile while the
 * gateway-wide read-ahead budget (GATEWAY_DOWNLOAD_READAHEAD_MIB) lasts:
 * a download holds 1 to 1 + GW_DOWNLOAD_READS_AHEAD chunks. Always an
 * attachment; types a browser would run are sent as
 * application/octet-stream.
 */
#ifndef GW_FILES_H
#define GW_FILES_H

#include "gw_handler.h"

#define GW_UPLOAD_PART_BYTES          (5u * 1024 * 1024) /* S3's smallest part but the last */
#define GW_UPLOAD_PARTS_IN_FLIGHT     3 /* at most, of one upload, while the next is read */
#define GW_UPLOAD_EXTRA_PARTS_MAX     2 /* beyond the first of each upload, all uploads together */
#define GW_DOWNLOAD_CHUNK_BYTES       (8u * 1024 * 1024)
#define GW_DOWNLOAD_FIRST_CHUNK_BYTES (256u * 1024) /* doubling up to a full chunk */
#define GW_DOWNLOAD_READS_AHEAD       2             /* at most, chunks read while one is written */

void gw_files_upload(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);
void gw_files_content(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* Bytes of read-ahead chunks all downloads hold now (the gauge
 * restc_download_readahead_bytes); `arg` is unused (rt_metric_fn). */
double gw_files_readahead_bytes(void *arg);

#endif
