/*
 * auth_password: the field rules of docs/API.md ("Authentication", "Field rules") for what a
 * client submits when registering or changing credentials: password
 * strength, username syntax and reserved names, email syntax and
 * normalisation, and full_name cleaning.
 *
 * Everything here is pure: no state, no allocation, safe from any thread.
 * Inputs are borrowed NUL-terminated strings (the msgpack decoder has
 * already rejected embedded NULs); outputs go into caller-owned buffers.
 * No function ever echoes its input in a message, so the messages can go
 * into an API error "detail" as they are.
 *
 * Character classes for passwords (a documented choice):
 *   - length is counted in Unicode code points of valid UTF-8, not bytes;
 *   - upper / lower / digit are ASCII A-Z, a-z, 0-9 only (no locale, no
 *     Unicode tables: "É" is not an upper-case letter here);
 *   - special is any printable ASCII character that is not a letter or a
 *     digit (space included), or any non-ASCII code point. ASCII control
 *     characters are accepted in a password but count as no class.
 */
#ifndef AUTH_PASSWORD_H
#define AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_PASSWORD_MIN_CHARS 8   /* code points */
#define AUTH_PASSWORD_MAX_CHARS 128 /* code points */
/* Estimated entropy (zxcvbn) a password needs: "Summer2024!" has 19,
 * "Password1!" 8, a random 10-character password 60 and more. */
#define AUTH_PASSWORD_MIN_BITS   20.0
#define AUTH_USERNAME_MIN        3
#define AUTH_USERNAME_MAX        50
#define AUTH_EMAIL_MAX           254 /* bytes, whole address */
#define AUTH_EMAIL_LOCAL_MAX     64  /* bytes, before the @ */
#define AUTH_EMAIL_BUF           (AUTH_EMAIL_MAX + 1)
#define AUTH_FULL_NAME_MAX_CHARS 100 /* code points, after cleaning */
#define AUTH_FULL_NAME_BUF       (AUTH_FULL_NAME_MAX_CHARS * 4 + 1) /* always enough */

/* Return codes of auth_email_normalise and auth_full_name_clean. */
#define AUTH_TEXT_EINVAL   (-1) /* NULL, bad syntax, or not valid UTF-8 */
#define AUTH_TEXT_ETOOLONG (-2) /* over the length limit */
#define AUTH_TEXT_ENOSPACE (-3) /* the output buffer is too small */

/* The first password rule a password breaks, in the order checked. */
typedef enum {
    AUTH_PASSWORD_OK = 0,
    AUTH_PASSWORD_INVALID,            /* NULL, or not valid UTF-8 */
    AUTH_PASSWORD_TOO_SHORT,          /* fewer than 8 code points */
    AUTH_PASSWORD_TOO_LONG,           /* more than 128 code points */
    AUTH_PASSWORD_NO_UPPER,           /* no ASCII upper-case letter */
    AUTH_PASSWORD_NO_LOWER,           /* no ASCII lower-case letter */
    AUTH_PASSWORD_NO_DIGIT,           /* no ASCII digit */
    AUTH_PASSWORD_NO_SPECIAL,         /* no special character (see above) */
    AUTH_PASSWORD_GUESSABLE,          /* under AUTH_PASSWORD_MIN_BITS (zxcvbn), no one reason */
    AUTH_PASSWORD_GUESSABLE_WORD,     /* ... mostly a dictionary word or leaked password */
    AUTH_PASSWORD_GUESSABLE_PERSONAL, /* ... mostly the username */
    AUTH_PASSWORD_GUESSABLE_PATTERN,  /* ... mostly a sequence, repeat or keyboard walk */
    AUTH_PASSWORD_GUESSABLE_DATE,     /* ... mostly a date or a year */
    AUTH_PASSWORD_SAME_AS_USERNAME,   /* equals the username, ignoring ASCII case */
    AUTH_PASSWORD_RULE_COUNT
} auth_password_rule_t;

typedef enum {
    AUTH_USERNAME_OK = 0,
    AUTH_USERNAME_INVALID,  /* NULL */
    AUTH_USERNAME_LENGTH,   /* not 3..50 characters */
    AUTH_USERNAME_CHARSET,  /* a character outside [A-Za-z0-9_-] */
    AUTH_USERNAME_RESERVED, /* admin, root, null, ... in any case */
    AUTH_USERNAME_RULE_COUNT
} auth_username_rule_t;

/* Checks `password` against every strength rule; `username` (may be NULL:
 * that rule is then skipped) is the account's username. Returns 0 when the
 * password is acceptable, -1 otherwise; `*rule` (may be NULL) receives the
 * first rule broken, or AUTH_PASSWORD_OK. Stops reading `password` after
 * 129 code points (516 bytes at most). */
int auth_password_check(const char *password, const char *username, auth_password_rule_t *rule);

/* A sentence for people naming the rule ("Password must contain at least
 * one digit"), a static string; for the "detail" of a weak_password error. */
const char *auth_password_rule_message(auth_password_rule_t rule);

/* zxcvbn's estimate of `password`'s entropy in bits (into *bits, may be
 * NULL), with `username` (may be NULL) as a word an attacker would try
 * first; AUTH_PASSWORD_OK when it reaches AUTH_PASSWORD_MIN_BITS, else the
 * AUTH_PASSWORD_GUESSABLE_* rule that says why. */
auth_password_rule_t auth_password_guessability(const char *password, const char *username,
                                                double *bits);

/* Checks `username` against ^[A-Za-z0-9_-]{3,50}$ and the reserved names.
 * Returns 0 when valid, -1 otherwise with `*rule` (may be NULL) set. */
int auth_username_check(const char *username, auth_username_rule_t *rule);

/* A sentence for people naming the username rule, a static string. */
const char *auth_username_rule_message(auth_username_rule_t rule);

/* Validates `email` and writes it lower-cased into `out` (`out_size` bytes;
 * AUTH_EMAIL_BUF is always enough). Accepted: ASCII only; exactly one '@';
 * a local part of 1..64 bytes in RFC 5322 dot-atom form (letters, digits,
 * !#$%&'*+-/=?^_`{|}~ and dots, no leading, trailing or double dot); a
 * domain of two or more dot-separated labels of 1..63 [A-Za-z0-9-] not
 * starting or ending with '-', whose last label is not all digits; at most
 * 254 bytes in all. No spaces, control characters, quoted local parts,
 * address literals or trailing dot. Returns 0, AUTH_TEXT_EINVAL,
 * AUTH_TEXT_ETOOLONG or AUTH_TEXT_ENOSPACE; on error `out` (if any room)
 * holds "". */
int auth_email_normalise(const char *email, char *out, size_t out_size);

/* Cleans a full name into `out` (`out_size` bytes; AUTH_FULL_NAME_BUF is
 * always enough): removes tags (`<` up to the next `>`), any remaining `<`
 * or `>`, control characters (C0, DEL, C1), bidirectional formatting
 * characters (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and
 * line/paragraph separators (U+2028, U+2029), then leading and trailing
 * spaces. The result must be at most 100 code points. Returns 0,
 * AUTH_TEXT_EINVAL (NULL or invalid UTF-8), AUTH_TEXT_ETOOLONG or
 * AUTH_TEXT_ENOSPACE; on error `out` (if any room) holds "". An input that
 * cleans to nothing gives "" and 0. */
int auth_full_name_clean(const char *name, char *out, size_t out_size);

#endif
