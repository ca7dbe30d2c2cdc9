/*
 * auth_totp: the TOTP code arithmetic of RFC 6238 as the API contract
 * fixes it (HMAC-SHA-1, 6 digits, 30 s steps from the Unix epoch, one step
 * of clock drift either way), done by liboath, plus the text forms around
 * it: a secret in base32 (RFC 4648, no padding) and the otpauth:// URI an
 * authenticator app scans.
 *
 * auth_totp_validate answers which time step a code belongs to, so that
 * the caller can refuse a step it has accepted before (a code works once).
 * Codes are compared in constant time (sodium_memcmp through liboath's
 * comparison callback). Nothing here keeps state; call auth_totp_init once
 * before the first use (liboath's global set-up) and auth_totp_done after
 * the last.
 */
#ifndef AUTH_TOTP_H
#define AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_TOTP_SECRET_BYTES 20 /* 160 bits, RFC 4226's recommendation */
#define AUTH_TOTP_SECRET_B32   32 /* characters of such a secret in base32 */
#define AUTH_TOTP_DIGITS       6
#define AUTH_TOTP_PERIOD       30 /* seconds per step */
#define AUTH_TOTP_WINDOW       1  /* steps of drift accepted before and after now */
#define AUTH_TOTP_CODE_BUF     (AUTH_TOTP_DIGITS + 1)
#define AUTH_TOTP_URI_MAX      512

/* What auth_totp_validate answers. */
typedef enum {
    AUTH_TOTP_MATCH = 0,    /* the code is that of a step within the window */
    AUTH_TOTP_NO_MATCH = 1, /* a well-formed code of no step in the window */
    AUTH_TOTP_MALFORMED = 2 /* not 6 digits (after removing spaces) */
} auth_totp_result_t;

/* liboath's global set-up and tear-down: 0, or -1. */
int auth_totp_init(void);
void auth_totp_done(void);

/* The time step of Unix time `now` (floor(now / 30); 0 before the epoch). */
int64_t auth_totp_step(int64_t now);

/* Copies `code` without spaces into out: 0 when that leaves exactly six
 * ASCII digits, else -1. */
int auth_totp_code_normalise(const char *code, char out[AUTH_TOTP_CODE_BUF]);

/* Is `code` the code of `secret` (len bytes) for a step within
 * AUTH_TOTP_WINDOW of the step of `now`? On a match `*step` (may be NULL)
 * receives the step the code belongs to. -1 on bad arguments or a liboath
 * failure (treat as no match). */
int auth_totp_validate(const unsigned char *secret, size_t len, int64_t now, const char *code,
                       int64_t *step);

/* The code of `secret` at `now` with `digits` (6..8) digits (tests and
 * tools; a server only validates). 0, or -1. */
int auth_totp_generate(const unsigned char *secret, size_t len, int64_t now, unsigned digits,
                       char *out, size_t cap);

/* Base32 (RFC 4648 alphabet, upper case, no padding) of in[len] into
 * out[cap]. Returns the length written, or 0 when out is too small. */
size_t auth_base32_encode(const unsigned char *in, size_t len, char *out, size_t cap);

/* otpauth://totp/<issuer>:<account>?secret=<b32>&issuer=<issuer>
 * &algorithm=SHA1&digits=6&period=30, issuer and account
 * percent-encoded. 0, or -1 when it does not fit out[cap]. */
int auth_totp_uri(const char *issuer, const char *account, const char *secret_b32, char *out,
                  size_t cap);

#endif
