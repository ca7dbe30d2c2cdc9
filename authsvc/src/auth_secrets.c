/*
 * auth_secrets: key derivation, sealing of TOTP secrets, backup-code
 * hashes (see the header for the formats and the reasons).
 */
#include "auth_secrets.h"

#include "rt_uuid.h"

#include <sodium.h>
#include <string.h>

#define KDF_CONTEXT   "restc2fa"
#define SUBKEY_SEAL   1
#define SUBKEY_BACKUP 2
#define SUBKEY_DEVICE 3
#define SEAL_VERSION  0x01
#define SECRET_MAX    64
#define KEY_TEXT_MAX  128

_Static_assert(sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES,
               "a crypto_kdf context is 8 bytes");
_Static_assert(crypto_secretbox_KEYBYTES == AUTH_SECRETS_KEY_BYTES, "secretbox keys are 32 bytes");
_Static_assert(AUTH_SEALED_HEADER == 1 + crypto_secretbox_NONCEBYTES, "nonce size");
_Static_assert(AUTH_SEALED_OVERHEAD == AUTH_SEALED_HEADER + crypto_secretbox_MACBYTES, "MAC size");
_Static_assert(AUTH_SEALED_OVERHEAD + RT_UUID_BYTES + SECRET_MAX <= AUTH_SEALED_MAX, "bound");

/* Guarded by sodium_malloc; read-only once derived. */
struct auth_secrets {
    unsigned char seal[AUTH_SECRETS_KEY_BYTES];
    unsigned char backup[AUTH_SECRETS_KEY_BYTES];
    unsigned char device[AUTH_SECRETS_KEY_BYTES];
};

static int parse_hex(const char *text, size_t len, unsigned char out[AUTH_SECRETS_KEY_BYTES])
{
    size_t bin_len = 0;
    if (len != 2 * AUTH_SECRETS_KEY_BYTES)
        return -1;
    if (sodium_hex2bin(out, AUTH_SECRETS_KEY_BYTES, text, len, NULL, &bin_len, NULL) != 0)
        return -1;
    return bin_len == AUTH_SECRETS_KEY_BYTES ? 0 : -1;
}

static int parse_b64(const char *text, size_t len, unsigned char out[AUTH_SECRETS_KEY_BYTES])
{
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    unsigned char buf[AUTH_SECRETS_KEY_BYTES + 3];
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        size_t bin_len = 0;
        const char *end = NULL;
        if (sodium_base642bin(buf, sizeof buf, text, len, NULL, &bin_len, &end, variants[i]) == 0 &&
            end == text + len && bin_len == AUTH_SECRETS_KEY_BYTES) {
            memcpy(out, buf, AUTH_SECRETS_KEY_BYTES);
            sodium_memzero(buf, sizeof buf);
            return 0;
        }
    }
    sodium_memzero(buf, sizeof buf);
    return -1;
}

int auth_secrets_parse_key(const char *text, unsigned char out[AUTH_SECRETS_KEY_BYTES])
{
    size_t len = text ? strnlen(text, KEY_TEXT_MAX + 1) : 0;
    if (len == 0 || len > KEY_TEXT_MAX || sodium_init() < 0)
        return -1;
    return parse_hex(text, len, out) == 0 || parse_b64(text, len, out) == 0 ? 0 : -1;
}

auth_secrets_t *auth_secrets_new(const char *totp_key, const char *jwt_secret, bool *derived)
{
    unsigned char master[AUTH_SECRETS_KEY_BYTES];
    bool derive = !totp_key || !totp_key[0];
    if (derived)
        *derived = derive;
    if (sodium_init() < 0)
        return NULL;
    if (derive) {
        if (!jwt_secret || !jwt_secret[0])
            return NULL;
        crypto_generichash(master, sizeof master, (const unsigned char *)jwt_secret,
                           strlen(jwt_secret), NULL, 0);
    } else if (auth_secrets_parse_key(totp_key, master) != 0) {
        return NULL;
    }
    auth_secrets_t *self = sodium_malloc(sizeof *self);
    if (self) {
        crypto_kdf_derive_from_key(self->seal, sizeof self->seal, SUBKEY_SEAL, KDF_CONTEXT, master);
        crypto_kdf_derive_from_key(self->backup, sizeof self->backup, SUBKEY_BACKUP, KDF_CONTEXT,
                                   master);
        crypto_kdf_derive_from_key(self->device, sizeof self->device, SUBKEY_DEVICE, KDF_CONTEXT,
                                   master);
        sodium_mprotect_readonly(self);
    }
    sodium_memzero(master, sizeof master);
    return self;
}

void auth_secrets_destroy(auth_secrets_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sodium_free(*self_p); /* wipes it */
    *self_p = NULL;
}

int auth_secrets_seal(const auth_secrets_t *self, const char *user_id, const unsigned char *secret,
                      size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    unsigned char plain[RT_UUID_BYTES + SECRET_MAX];
    if (!self || !secret || len == 0 || len > SECRET_MAX || !out ||
        cap < AUTH_SEALED_OVERHEAD + RT_UUID_BYTES + len || rt_uuid_parse(user_id, plain) != 0)
        return -1;
    memcpy(plain + RT_UUID_BYTES, secret, len);
    out[0] = SEAL_VERSION;
    randombytes_buf(out + 1, crypto_secretbox_NONCEBYTES);
    int rc = crypto_secretbox_easy(out + AUTH_SEALED_HEADER, plain, RT_UUID_BYTES + len, out + 1,
                                   self->seal);
    sodium_memzero(plain, sizeof plain);
    if (rc != 0)
        return -1;
    *out_len = AUTH_SEALED_OVERHEAD + RT_UUID_BYTES + len;
    return 0;
}

int auth_secrets_open(const auth_secrets_t *self, const char *user_id, const unsigned char *in,
                      size_t len, unsigned char *secret, size_t cap, size_t *secret_len)
{
    unsigned char plain[AUTH_SEALED_MAX], id[RT_UUID_BYTES];
    int rc = -1;
    if (!self || !in || len <= AUTH_SEALED_OVERHEAD + RT_UUID_BYTES || len > AUTH_SEALED_MAX ||
        in[0] != SEAL_VERSION || !secret || rt_uuid_parse(user_id, id) != 0)
        return -1;
    size_t plain_len = len - AUTH_SEALED_OVERHEAD;
    if (crypto_secretbox_open_easy(plain, in + AUTH_SEALED_HEADER, len - AUTH_SEALED_HEADER, in + 1,
                                   self->seal) != 0)
        goto cleanup;
    if (sodium_memcmp(plain, id, RT_UUID_BYTES) != 0 || plain_len - RT_UUID_BYTES > cap)
        goto cleanup;
    *secret_len = plain_len - RT_UUID_BYTES;
    memcpy(secret, plain + RT_UUID_BYTES, *secret_len);
    rc = 0;
cleanup:
    sodium_memzero(plain, sizeof plain);
    return rc;
}

void auth_secrets_backup_hash(const auth_secrets_t *self, const char *user_id, const char *code,
                              unsigned char out[AUTH_BACKUP_HASH_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, self->backup, sizeof self->backup, AUTH_BACKUP_HASH_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)user_id, strlen(user_id));
    crypto_generichash_update(&st, (const unsigned char *)"", 1); /* separator */
    crypto_generichash_update(&st, (const unsigned char *)code, strlen(code));
    crypto_generichash_final(&st, out, AUTH_BACKUP_HASH_BYTES);
    sodium_memzero(&st, sizeof st);
}

const unsigned char *auth_secrets_device_key(const auth_secrets_t *self)
{
    return self ? self->device : NULL;
}
