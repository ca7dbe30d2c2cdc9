/*
 * auth_device: signing and checking device cookies (see the header).
 */
#include "auth_device.h"

#include <sodium.h>
#include <string.h>

#define VERSION   0x01
#define TAG_LEN   16
#define NONCE_LEN 16
#define BODY_LEN  (1 + TAG_LEN + 8 + NONCE_LEN)
#define RAW_LEN   (BODY_LEN + crypto_auth_hmacsha256_BYTES)
#define B64       sodium_base64_VARIANT_URLSAFE_NO_PADDING

_Static_assert(AUTH_DEVICE_KEY_BYTES == crypto_auth_hmacsha256_KEYBYTES, "HMAC key size");

/* The account tag: HMAC("user:" || id), first TAG_LEN bytes. */
static void account_tag(const unsigned char *key, const char *user_id, unsigned char out[TAG_LEN])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, key, AUTH_DEVICE_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"user:", 5);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)user_id, strlen(user_id));
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, mac, TAG_LEN);
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int auth_device_sign(const unsigned char key[AUTH_DEVICE_KEY_BYTES], const char *user_id,
                     int64_t now, char out[AUTH_DEVICE_BUF])
{
    unsigned char raw[RAW_LEN];
    if (!key || !user_id || !user_id[0] || now < 0)
        return -1;
    raw[0] = VERSION;
    account_tag(key, user_id, raw + 1);
    put_be64(raw + 1 + TAG_LEN, (uint64_t)now);
    randombytes_buf(raw + 1 + TAG_LEN + 8, NONCE_LEN);
    crypto_auth_hmacsha256(raw + BODY_LEN, raw, BODY_LEN, key);
    return sodium_bin2base64(out, AUTH_DEVICE_BUF, raw, sizeof raw, B64) ? 0 : -1;
}

auth_device_result_t auth_device_verify(const unsigned char key[AUTH_DEVICE_KEY_BYTES],
                                        const char *cookie, const char *user_id, int64_t now,
                                        int64_t max_age_s, char id[AUTH_DEVICE_ID_BUF])
{
    unsigned char raw[RAW_LEN], tag[TAG_LEN];
    size_t len = 0;
    const char *end = NULL;
    if (!key || !cookie || !user_id || strnlen(cookie, AUTH_DEVICE_LEN + 1) != AUTH_DEVICE_LEN ||
        sodium_base642bin(raw, sizeof raw, cookie, AUTH_DEVICE_LEN, NULL, &len, &end, B64) != 0 ||
        len != RAW_LEN || end != cookie + AUTH_DEVICE_LEN || raw[0] != VERSION)
        return AUTH_DEVICE_MALFORMED;
    if (crypto_auth_hmacsha256_verify(raw + BODY_LEN, raw, BODY_LEN, key) != 0)
        return AUTH_DEVICE_BAD_MAC;
    if (id)
        sodium_bin2hex(id, AUTH_DEVICE_ID_BUF, raw + 1 + TAG_LEN + 8, NONCE_LEN);
    account_tag(key, user_id, tag);
    if (sodium_memcmp(tag, raw + 1, TAG_LEN) != 0)
        return AUTH_DEVICE_OTHER_USER;
    uint64_t issued = get_be64(raw + 1 + TAG_LEN);
    if (now < 0 || issued > (uint64_t)now + AUTH_DEVICE_SKEW_S ||
        (issued < (uint64_t)now && (uint64_t)now - issued > (uint64_t)max_age_s))
        return AUTH_DEVICE_EXPIRED;
    return AUTH_DEVICE_VALID;
}
