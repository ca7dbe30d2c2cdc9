/*
 * store_blob_s3: the S3 object store (s3://bucket), for AWS S3 and the
 * S3-compatible servers (MinIO, s3rver): path-style URLs
 * (<endpoint>/<bucket>/<key>), requests signed by libcurl itself
 * (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3"), every payload's SHA-256 sent
 * as x-amz-content-sha256. Multipart uploads are S3's own; parts other than
 * the last must be at least 5 MiB (S3's rule).
 *
 * Every request is bounded: connect timeout, total timeout (timeout_ms),
 * a minimum transfer rate, and answer bodies capped (an XML answer at
 * 64 KiB, a listing page at 2 MiB, an object read at what was asked for).
 * A store that cannot be reached, times out or answers an unexpected error
 * is STORE_BLOB_IO (the caller's `unavailable`), with one log line naming
 * the operation, the HTTP status and S3's error code; never a credential.
 */
#ifndef STORE_BLOB_S3_H
#define STORE_BLOB_S3_H

#include "store_blob.h"

/* `bucket` is what follows "s3://" (a bucket name, nothing else). Returns
 * NULL with `err` set (naming the variable at fault, never a secret). */
store_blob_t *store_blob_s3_new(const char *bucket, const store_blob_s3_opts_t *opts, char *err,
                                size_t errlen);

/* Percent-encodes `in` the way SigV4 wants query values (unreserved
 * characters A-Z a-z 0-9 - _ . ~ kept, every other byte %XX upper-case).
 * Returns the length written, or -1 when `cap` is too small. */
int store_blob_s3_uri_encode(const char *in, char *out, size_t cap);

#endif
