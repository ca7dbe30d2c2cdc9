/*
 * auth_apikey: what an API key is, as pure functions: its text form, its
 * hash, and the permissions it may carry.
 *
 * Format (documented in the README so secret scanners can find leaked
 * keys):
 *
 *     rk_<key id>_<secret>      e.g. rk_3f9c0a1b2c3d4e5f_Vh2...43 chars
 *
 *   "rk_"      the fixed prefix ("restc key");
 *   key id     16 lower-case hex digits (64 random bits): public, the
 *              lookup key in storesvc, shown nowhere else;
 *   "_"
 *   secret     43 base64url characters without padding (256 random bits).
 *
 * 63 characters in all, fixed positions (the secret's alphabet has '_' in
 * it, so parsing goes by position, not by splitting). Only SHA-256 of the
 * secret is stored: with 256 random bits there is nothing for a slow hash
 * to protect, and a lookup by key id plus one SHA-256 and a constant-time
 * comparison keeps a request with a key as cheap as one with a token.
 *
 * Permissions: a key either follows its owner's role (not narrowed), or
 * carries a subset of what the role allowed when it was made (narrowed);
 * either way a request needs the owner's current role to allow the
 * permission too, so a demoted owner's key loses what the role lost.
 * Masks are bits of proto_perm_t, in memory only: names are what is stored.
 *
 * Nothing here allocates or keeps state; safe from any thread.
 */
#ifndef AUTH_APIKEY_H
#define AUTH_APIKEY_H

#include "proto_rbac.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_APIKEY_PREFIX       "rk_"
#define AUTH_APIKEY_PREFIX_LEN   3
#define AUTH_APIKEY_ID_LEN       16 /* hex digits: 64 bits */
#define AUTH_APIKEY_ID_BUF       (AUTH_APIKEY_ID_LEN + 1)
#define AUTH_APIKEY_SECRET_BYTES 32 /* 256 random bits */
#define AUTH_APIKEY_SECRET_LEN   43 /* their base64url text, unpadded */
#define AUTH_APIKEY_LEN          (AUTH_APIKEY_PREFIX_LEN + AUTH_APIKEY_ID_LEN + 1 + AUTH_APIKEY_SECRET_LEN)
#define AUTH_APIKEY_BUF          (AUTH_APIKEY_LEN + 1)
#define AUTH_APIKEY_HASHLEN      32  /* SHA-256 */
#define AUTH_APIKEY_PERMS_BUF    256 /* every permission name, space-separated */

/* A new key: its text into key[AUTH_APIKEY_BUF], its id and the SHA-256 of
 * its secret. 0, or -1 when the encoding failed (never expected). */
int auth_apikey_new(char key[AUTH_APIKEY_BUF], char key_id[AUTH_APIKEY_ID_BUF],
                    unsigned char hash[AUTH_APIKEY_HASHLEN]);

/* Parses a presented key: 0 with its id and the SHA-256 of its secret, or
 * -1 when `key` is not exactly of the format above (then both are zeroed). */
int auth_apikey_parse(const char *key, char key_id[AUTH_APIKEY_ID_BUF],
                      unsigned char hash[AUTH_APIKEY_HASHLEN]);

/* Whether two secret hashes are equal, in constant time. */
bool auth_apikey_hash_equal(const unsigned char a[AUTH_APIKEY_HASHLEN],
                            const unsigned char b[AUTH_APIKEY_HASHLEN]);

/* Every permission of `role`, as a mask (0 for an invalid role). */
uint32_t auth_apikey_role_mask(proto_role_t role);

/* Why a requested permission list is refused. */
typedef enum {
    AUTH_APIKEY_PERMS_OK = 0,
    AUTH_APIKEY_PERMS_EMPTY,    /* no names: a key that may do nothing */
    AUTH_APIKEY_PERMS_UNKNOWN,  /* a name that is not a permission */
    AUTH_APIKEY_PERMS_NOT_HELD, /* a permission the role does not have */
} auth_apikey_perms_t;

/* The mask of `names[0..n)` (duplicates allowed) if each is a permission
 * `role` holds. The first bad name's index goes to *bad (may be NULL). */
auth_apikey_perms_t auth_apikey_perms_subset(proto_role_t role, const char *const *names, size_t n,
                                             uint32_t *mask, size_t *bad);

/* A sentence for people naming the refusal, a static string. */
const char *auth_apikey_perms_message(auth_apikey_perms_t st);

/* `mask` as names in table order separated by single spaces into out[cap].
 * 0, or -1 when it does not fit. An empty mask gives "". */
int auth_apikey_perms_format(uint32_t mask, char *out, size_t cap);

/* The mask of space-separated names as stored. Names this build does not
 * know grant nothing (fail closed). */
uint32_t auth_apikey_perms_parse(const char *text);

/* The verdict on `perm` for a key of an owner whose role is now `role`:
 * the role must allow it, and a narrowed key must carry it. */
bool auth_apikey_allows(proto_role_t role, bool narrowed, uint32_t key_mask, proto_perm_t perm);

#endif
