/*
 * rt_sha256: SHA-256 of file bytes, through OpenSSL's libcrypto (its
 * SHA-NI/AVX code hashes ~6x faster than libsodium's portable one, which
 * stays the library of the small secrets). A file is hashed while it
 * streams: new, update per piece, final, destroy.
 */
#ifndef RT_SHA256_H
#define RT_SHA256_H

#include <stddef.h>

#define RT_SHA256_BYTES 32
#define RT_SHA256_HEX   65 /* 64 lowercase hex digits and the NUL */

typedef struct rt_sha256 rt_sha256_t;

rt_sha256_t *rt_sha256_new(void);                                   /* NULL when out of memory */
int rt_sha256_update(rt_sha256_t *h, const void *data, size_t len); /* 0 or -1 */
/* The digest; the context is spent afterwards (destroy it). 0 or -1. */
int rt_sha256_final(rt_sha256_t *h, unsigned char out[RT_SHA256_BYTES]);
void rt_sha256_destroy(rt_sha256_t *h);

/* One-shot digest of a buffer. */
void rt_sha256(const void *data, size_t len, unsigned char out[RT_SHA256_BYTES]);
void rt_sha256_hex(const unsigned char digest[RT_SHA256_BYTES], char out[RT_SHA256_HEX]);

#endif
