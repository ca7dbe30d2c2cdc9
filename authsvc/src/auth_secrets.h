/*
 * auth_secrets: the keys only authsvc holds for the second factor and the
 * login limiter's device cookies, and what is done with them.
 *
 * One 32-byte master key: TOTP_ENCRYPTION_KEY (64 hex digits, or base64
 * of 32 bytes) when set; otherwise derived from JWT_SECRET_KEY as
 * BLAKE2b-256(JWT_SECRET_KEY) (changing that key then makes every stored
 * TOTP secret unreadable and every backup code and device cookie invalid,
 * which is why deployments set TOTP_ENCRYPTION_KEY). Three subkeys come
 * from it by libsodium's crypto_kdf (BLAKE2b) under the context
 * "restc2fa", ids 1..3:
 *
 *   1  sealing TOTP secrets: crypto_secretbox_easy (XSalsa20-Poly1305)
 *      with a random nonce per seal. Sealed form: 0x01 (version), the
 *      24-byte nonce, then the box of (user id as 16 bytes || secret). The
 *      user id inside binds a ciphertext to its user: copied to another
 *      user's row it does not open. Tampering fails the MAC.
 *   2  hashing backup codes: keyed BLAKE2b-256 of (user id || code). The
 *      codes are random (50 bits each), so a fast keyed hash is enough:
 *      without this key a stolen table cannot even be tested against a
 *      guess, and a lookup by hash needs no per-row salt (Argon2 would
 *      cost one slow hash per stored code on every use).
 *   3  signing device cookies (auth_device.h).
 *
 * The keys live in memory that libsodium guards (sodium_malloc, read-only
 * after set-up) and are wiped on destroy. Immutable after _new: any thread
 * may use it.
 */
#ifndef AUTH_SECRETS_H
#define AUTH_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_SECRETS_KEY_BYTES 32
#define AUTH_SEALED_HEADER     (1 + 24)      /* version, nonce */
#define AUTH_SEALED_OVERHEAD   (1 + 24 + 16) /* version, nonce, MAC */
#define AUTH_SEALED_MAX        128           /* bytes of a sealed secret, at most */
#define AUTH_BACKUP_HASH_BYTES 32

typedef struct auth_secrets auth_secrets_t;

/* Parses a key as 64 hex digits or as base64 (standard or URL-safe alphabet,
 * padded or not) of exactly 32 bytes. 0, or -1. */
int auth_secrets_parse_key(const char *text, unsigned char out[AUTH_SECRETS_KEY_BYTES]);

/* The keys from `totp_key` (TOTP_ENCRYPTION_KEY; NULL or "" derives them
 * from `jwt_secret`, and *derived is set). NULL on a malformed totp_key,
 * neither given, or out of memory. */
auth_secrets_t *auth_secrets_new(const char *totp_key, const char *jwt_secret, bool *derived);

/* Wipes and frees `*self_p`, sets it to NULL. Safe on NULL. */
void auth_secrets_destroy(auth_secrets_t **self_p);

/* Seals secret[len] (1..64 bytes) for `user_id` (a UUID) into out[cap].
 * 0 with *out_len, or -1 (bad id, sizes). */
int auth_secrets_seal(const auth_secrets_t *self, const char *user_id, const unsigned char *secret,
                      size_t len, unsigned char *out, size_t cap, size_t *out_len);

/* Opens a sealed secret of `user_id` into secret[cap]: 0 with *secret_len,
 * or -1 when it was tampered with, sealed for another user or under
 * another key, or is malformed. */
int auth_secrets_open(const auth_secrets_t *self, const char *user_id, const unsigned char *in,
                      size_t len, unsigned char *secret, size_t cap, size_t *secret_len);

/* The stored form of a (normalised) backup code of `user_id`. */
void auth_secrets_backup_hash(const auth_secrets_t *self, const char *user_id, const char *code,
                              unsigned char out[AUTH_BACKUP_HASH_BYTES]);

/* The device-cookie signing key (AUTH_SECRETS_KEY_BYTES), borrowed. */
const unsigned char *auth_secrets_device_key(const auth_secrets_t *self);

#endif
