/*
 * auth_device: device cookies (OWASP's defence against account lock-out by
 * distributed guessing). A client that logged into an account carries a
 * cookie that authsvc signed for that account; a login that presents a
 * valid one for the account it names is exempt from the account's delay
 * (auth_acctlimit.h), so guessing from elsewhere cannot lock the owner out.
 *
 * Value: base64url (no padding) of
 *     0x01 (version) || tag (16) || issued (8, big-endian Unix seconds)
 *     || nonce (16) || HMAC-SHA-256 (32) of everything before it
 * 98 characters. tag is HMAC-SHA-256("user:" || user id) truncated to 16
 * bytes, so the cookie names its account without showing the id; the
 * nonce makes every cookie distinct (auth_device_id names one, for a
 * limiter of its own failures). Key: 32 bytes only authsvc holds
 * (auth_secrets_device_key). Stateless and thread-safe.
 */
#ifndef AUTH_DEVICE_H
#define AUTH_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_DEVICE_KEY_BYTES 32
#define AUTH_DEVICE_LEN       98 /* characters of a cookie value */
#define AUTH_DEVICE_BUF       (AUTH_DEVICE_LEN + 1)
#define AUTH_DEVICE_ID_BUF    33  /* hex of the nonce and its NUL */
#define AUTH_DEVICE_SKEW_S    300 /* an issued time this far ahead of now is tolerated */

typedef enum {
    AUTH_DEVICE_VALID = 0,
    AUTH_DEVICE_MALFORMED,  /* not a cookie of ours (length, alphabet, version) */
    AUTH_DEVICE_BAD_MAC,    /* tampered with, or signed under another key */
    AUTH_DEVICE_OTHER_USER, /* genuine, but for another account */
    AUTH_DEVICE_EXPIRED,    /* older than max_age_s, or issued in the future */
} auth_device_result_t;

/* Signs a cookie for `user_id` issued at `now` into out. 0, or -1. */
int auth_device_sign(const unsigned char key[AUTH_DEVICE_KEY_BYTES], const char *user_id,
                     int64_t now, char out[AUTH_DEVICE_BUF]);

/* Checks `cookie` for `user_id` at `now` (valid for max_age_s after it was
 * issued). When the cookie is genuine (VALID, OTHER_USER, EXPIRED) and
 * `id` is not NULL, id receives the hex of its nonce. */
auth_device_result_t auth_device_verify(const unsigned char key[AUTH_DEVICE_KEY_BYTES],
                                        const char *cookie, const char *user_id, int64_t now,
                                        int64_t max_age_s, char id[AUTH_DEVICE_ID_BUF]);

#endif
