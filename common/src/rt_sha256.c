/*
 * rt_sha256: a thin owner of an EVP_MD_CTX (see rt_sha256.h).
 */
#include "rt_sha256.h"

#include <openssl/evp.h>

struct rt_sha256 {
    EVP_MD_CTX *ctx;
};

rt_sha256_t *rt_sha256_new(void)
{
    rt_sha256_t *h = OPENSSL_zalloc(sizeof *h);
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        rt_sha256_destroy(h);
        return NULL;
    }
    return h;
}

int rt_sha256_update(rt_sha256_t *h, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    return EVP_DigestUpdate(h->ctx, data, len) == 1 ? 0 : -1;
}

int rt_sha256_final(rt_sha256_t *h, unsigned char out[RT_SHA256_BYTES])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != RT_SHA256_BYTES)
        return -1;
    return 0;
}

void rt_sha256_destroy(rt_sha256_t *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    OPENSSL_free(h);
}

void rt_sha256(const void *data, size_t len, unsigned char out[RT_SHA256_BYTES])
{
    unsigned int n = 0;
    /* EVP_Digest fails only without memory; a zero digest then matches nothing. */
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1)
        for (size_t i = 0; i < RT_SHA256_BYTES; i++)
            out[i] = 0;
}

void rt_sha256_hex(const unsigned char digest[RT_SHA256_BYTES], char out[RT_SHA256_HEX])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < RT_SHA256_BYTES; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[RT_SHA256_HEX - 1] = '\0';
}
