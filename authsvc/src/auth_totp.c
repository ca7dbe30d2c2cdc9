/*
 * auth_totp: RFC 6238 through liboath (see the header).
 *
 * liboath's validators compare codes with strcmp unless given a
 * comparison callback; ours compares the six digits with sodium_memcmp, so
 * the time a comparison takes does not depend on how many digits match.
 */
#include "auth_totp.h"

#include <liboath/oath.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int auth_totp_init(void)
{
    return oath_init() == OATH_OK ? 0 : -1;
}

void auth_totp_done(void)
{
    oath_done();
}

int64_t auth_totp_step(int64_t now)
{
    return now < 0 ? 0 : now / AUTH_TOTP_PERIOD;
}

int auth_totp_code_normalise(const char *code, char out[AUTH_TOTP_CODE_BUF])
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = code; p && *p; p++) {
        if (*p == ' ')
            continue;
        if (*p < '0' || *p > '9' || n == AUTH_TOTP_DIGITS)
            return -1;
        out[n++] = *p;
    }
    out[n] = '\0';
    return n == AUTH_TOTP_DIGITS ? 0 : -1;
}

/* liboath's strcmp-like callback: 0 only on a match, in constant time. */
static int same_code(void *handle, const char *test_otp)
{
    const char *want = handle;
    if (strnlen(test_otp, AUTH_TOTP_DIGITS + 1) != AUTH_TOTP_DIGITS)
        return 1;
    return sodium_memcmp(want, test_otp, AUTH_TOTP_DIGITS) == 0 ? 0 : 1;
}

int auth_totp_validate(const unsigned char *secret, size_t len, int64_t now, const char *code,
                       int64_t *step)
{
    char norm[AUTH_TOTP_CODE_BUF];
    uint64_t counter = 0;
    if (!secret || len == 0 || !code || now < 0)
        return -1;
    if (auth_totp_code_normalise(code, norm) != 0)
        return AUTH_TOTP_MALFORMED;
    int rc = oath_totp_validate3_callback((const char *)secret, len, (time_t)now, AUTH_TOTP_PERIOD,
                                          0, AUTH_TOTP_DIGITS, AUTH_TOTP_WINDOW, NULL, &counter,
                                          same_code, norm);
    sodium_memzero(norm, sizeof norm);
    if (rc == OATH_INVALID_OTP)
        return AUTH_TOTP_NO_MATCH;
    if (rc < 0)
        return -1;
    if (step)
        *step = (int64_t)counter;
    return AUTH_TOTP_MATCH;
}

int auth_totp_generate(const unsigned char *secret, size_t len, int64_t now, unsigned digits,
                       char *out, size_t cap)
{
    if (!secret || len == 0 || now < 0 || digits < 6 || digits > 8 || cap <= digits)
        return -1;
    return oath_totp_generate((const char *)secret, len, (time_t)now, AUTH_TOTP_PERIOD, 0, digits,
                              out) == OATH_OK
               ? 0
               : -1;
}

size_t auth_base32_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    size_t need = (len * 8 + 4) / 5, n = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (!out || cap <= need)
        return 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[n++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[n++] = alphabet[(acc << (5 - bits)) & 31];
    out[n] = '\0';
    return n;
}

/* Appends `s` percent-encoded (RFC 3986 unreserved characters pass). */
static bool put_encoded(char *out, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p);
        if (*n + (plain ? 1 : 3) >= cap)
            return false;
        if (plain) {
            out[(*n)++] = (char)*p;
        } else {
            out[(*n)++] = '%';
            out[(*n)++] = hex[*p >> 4];
            out[(*n)++] = hex[*p & 15];
        }
    }
    out[*n] = '\0';
    return true;
}

static bool put_plain(char *out, size_t cap, size_t *n, const char *s)
{
    size_t l = strlen(s);
    if (*n + l >= cap)
        return false;
    memcpy(out + *n, s, l + 1);
    *n += l;
    return true;
}

int auth_totp_uri(const char *issuer, const char *account, const char *secret_b32, char *out,
                  size_t cap)
{
    size_t n = 0;
    char tail[64];
    if (!issuer || !account || !secret_b32 || !out || cap == 0)
        return -1;
    snprintf(tail, sizeof tail, "&algorithm=SHA1&digits=%d&period=%d", AUTH_TOTP_DIGITS,
             AUTH_TOTP_PERIOD);
    out[0] = '\0';
    bool ok = put_plain(out, cap, &n, "otpauth://totp/") && put_encoded(out, cap, &n, issuer) &&
              put_plain(out, cap, &n, ":") && put_encoded(out, cap, &n, account) &&
              put_plain(out, cap, &n, "?secret=") && put_encoded(out, cap, &n, secret_b32) &&
              put_plain(out, cap, &n, "&issuer=") && put_encoded(out, cap, &n, issuer) &&
              put_plain(out, cap, &n, tail);
    if (!ok)
        out[0] = '\0';
    return ok ? 0 : -1;
}
