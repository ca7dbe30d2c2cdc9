/*
 * auth_apikey: API key text, hashing and permission sets (see the header).
 */
#include "auth_apikey.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define BIT(p) (UINT32_C(1) << (p))

static const char HEX[] = "0123456789abcdef";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void hash_secret(const char *secret, unsigned char hash[AUTH_APIKEY_HASHLEN])
{
    crypto_hash_sha256(hash, (const unsigned char *)secret, AUTH_APIKEY_SECRET_LEN);
}

int auth_apikey_new(char key[AUTH_APIKEY_BUF], char key_id[AUTH_APIKEY_ID_BUF],
                    unsigned char hash[AUTH_APIKEY_HASHLEN])
{
    unsigned char id_raw[AUTH_APIKEY_ID_LEN / 2], secret_raw[AUTH_APIKEY_SECRET_BYTES];
    char secret[AUTH_APIKEY_SECRET_LEN + 1];
    randombytes_buf(id_raw, sizeof id_raw);
    randombytes_buf(secret_raw, sizeof secret_raw);
    sodium_bin2hex(key_id, AUTH_APIKEY_ID_BUF, id_raw, sizeof id_raw);
    int rc = sodium_bin2base64(secret, sizeof secret, secret_raw, sizeof secret_raw,
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING)
                 ? 0
                 : -1;
    if (rc == 0 && strlen(secret) != AUTH_APIKEY_SECRET_LEN)
        rc = -1;
    if (rc == 0) {
        snprintf(key, AUTH_APIKEY_BUF, "%s%s_%s", AUTH_APIKEY_PREFIX, key_id, secret);
        hash_secret(secret, hash);
    }
    sodium_memzero(secret_raw, sizeof secret_raw);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int auth_apikey_parse(const char *key, char key_id[AUTH_APIKEY_ID_BUF],
                      unsigned char hash[AUTH_APIKEY_HASHLEN])
{
    memset(key_id, 0, AUTH_APIKEY_ID_BUF);
    memset(hash, 0, AUTH_APIKEY_HASHLEN);
    if (!key || strnlen(key, AUTH_APIKEY_LEN + 1) != AUTH_APIKEY_LEN)
        return -1;
    const char *id = key + AUTH_APIKEY_PREFIX_LEN;
    const char *secret = id + AUTH_APIKEY_ID_LEN + 1;
    if (memcmp(key, AUTH_APIKEY_PREFIX, AUTH_APIKEY_PREFIX_LEN) != 0 ||
        strspn(id, HEX) < AUTH_APIKEY_ID_LEN || id[AUTH_APIKEY_ID_LEN] != '_' ||
        strspn(secret, B64URL) != AUTH_APIKEY_SECRET_LEN)
        return -1;
    memcpy(key_id, id, AUTH_APIKEY_ID_LEN);
    hash_secret(secret, hash);
    return 0;
}

bool auth_apikey_hash_equal(const unsigned char a[AUTH_APIKEY_HASHLEN],
                            const unsigned char b[AUTH_APIKEY_HASHLEN])
{
    return sodium_memcmp(a, b, AUTH_APIKEY_HASHLEN) == 0;
}

uint32_t auth_apikey_role_mask(proto_role_t role)
{
    uint32_t m = 0;
    for (int p = 0; p < PROTO_PERM_COUNT; p++) {
        if (proto_rbac_allows(role, (proto_perm_t)p))
            m |= BIT(p);
    }
    return m;
}

auth_apikey_perms_t auth_apikey_perms_subset(proto_role_t role, const char *const *names, size_t n,
                                             uint32_t *mask, size_t *bad)
{
    *mask = 0;
    if (bad)
        *bad = 0;
    if (n == 0)
        return AUTH_APIKEY_PERMS_EMPTY;
    for (size_t i = 0; i < n; i++) {
        proto_perm_t p = proto_perm_parse(names[i]);
        auth_apikey_perms_t st = p == PROTO_PERM_INVALID       ? AUTH_APIKEY_PERMS_UNKNOWN
                                 : !proto_rbac_allows(role, p) ? AUTH_APIKEY_PERMS_NOT_HELD
                                                               : AUTH_APIKEY_PERMS_OK;
        if (st != AUTH_APIKEY_PERMS_OK) {
            *mask = 0;
            if (bad)
                *bad = i;
            return st;
        }
        *mask |= BIT(p);
    }
    return AUTH_APIKEY_PERMS_OK;
}

static const char *const perms_messages[] = {
    [AUTH_APIKEY_PERMS_OK] = "ok",
    [AUTH_APIKEY_PERMS_EMPTY] = "permissions must name at least one permission",
    [AUTH_APIKEY_PERMS_UNKNOWN] = "permissions names an unknown permission",
    [AUTH_APIKEY_PERMS_NOT_HELD] = "permissions asks for more than your role allows",
};

const char *auth_apikey_perms_message(auth_apikey_perms_t st)
{
    if ((unsigned)st >= sizeof perms_messages / sizeof perms_messages[0])
        return "invalid permissions";
    return perms_messages[st];
}

int auth_apikey_perms_format(uint32_t mask, char *out, size_t cap)
{
    size_t len = 0;
    if (!out || cap == 0)
        return -1;
    out[0] = '\0';
    for (int p = 0; p < PROTO_PERM_COUNT; p++) {
        if (!(mask & BIT(p)))
            continue;
        int n = snprintf(out + len, cap - len, "%s%s", len ? " " : "", proto_perm_name(p));
        if (n < 0 || (size_t)n >= cap - len) {
            out[0] = '\0';
            return -1;
        }
        len += (size_t)n;
    }
    return 0;
}

uint32_t auth_apikey_perms_parse(const char *text)
{
    uint32_t mask = 0;
    char name[64];
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0 && n < sizeof name) {
            memcpy(name, p, n);
            name[n] = '\0';
            proto_perm_t perm = proto_perm_parse(name);
            if (perm != PROTO_PERM_INVALID)
                mask |= BIT(perm);
        }
        p += n + (p[n] == ' ');
    }
    return mask;
}

bool auth_apikey_allows(proto_role_t role, bool narrowed, uint32_t key_mask, proto_perm_t perm)
{
    if (!proto_rbac_allows(role, perm))
        return false;
    return !narrowed || (key_mask & BIT(perm)) != 0;
}
