/*
 * auth_password: field rules for credentials and profile text. Every check
 * is a single bounded pass over the input with a strict UTF-8 decoder, so a
 * hostile string costs at most its own length and never reads past the
 * limit that makes it invalid anyway.
 *
 * How guessable a password is comes from zxcvbn (Debian's libzxcvbn, the
 * C port of Dropbox's estimator, with its dictionaries of leaked
 * passwords, names, words and keyboard patterns): under
 * AUTH_PASSWORD_MIN_BITS bits of estimated entropy is refused, and the
 * reason names the pattern that made it guessable. zxcvbn holds no state
 * between calls (its dictionaries are constant data), so this stays safe
 * from any thread.
 */
#include "auth_password.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zxcvbn.h>

#define UTF8_MAX 4

static const char *const reserved_usernames[] = {
    "admin",   "administrator", "root", "system",    "api",  "www",   "mail",
    "support", "help",          "null", "undefined", "true", "false",
};

static const char *const password_messages[AUTH_PASSWORD_RULE_COUNT] = {
    [AUTH_PASSWORD_OK] = "Password is acceptable",
    [AUTH_PASSWORD_INVALID] = "Password must be valid UTF-8 text",
    [AUTH_PASSWORD_TOO_SHORT] = "Password must be at least 8 characters long",
    [AUTH_PASSWORD_TOO_LONG] = "Password must be at most 128 characters long",
    [AUTH_PASSWORD_NO_UPPER] = "Password must contain at least one upper-case letter",
    [AUTH_PASSWORD_NO_LOWER] = "Password must contain at least one lower-case letter",
    [AUTH_PASSWORD_NO_DIGIT] = "Password must contain at least one digit",
    [AUTH_PASSWORD_NO_SPECIAL] = "Password must contain at least one special character",
    [AUTH_PASSWORD_GUESSABLE] = "Password is too easy to guess",
    [AUTH_PASSWORD_GUESSABLE_WORD] =
        "Password is too easy to guess: it is based on a common word or a leaked password",
    [AUTH_PASSWORD_GUESSABLE_PERSONAL] = "Password is too easy to guess: it contains the username",
    [AUTH_PASSWORD_GUESSABLE_PATTERN] =
        "Password is too easy to guess: it is a sequence, a repetition or a keyboard pattern",
    [AUTH_PASSWORD_GUESSABLE_DATE] = "Password is too easy to guess: it is based on a date",
    [AUTH_PASSWORD_SAME_AS_USERNAME] = "Password must not be the same as the username",
};

static const char *const username_messages[AUTH_USERNAME_RULE_COUNT] = {
    [AUTH_USERNAME_OK] = "Username is acceptable",
    [AUTH_USERNAME_INVALID] = "Username is required",
    [AUTH_USERNAME_LENGTH] = "Username must be 3 to 50 characters long",
    [AUTH_USERNAME_CHARSET] = "Username may only contain letters, digits, '_' and '-'",
    [AUTH_USERNAME_RESERVED] = "Username is reserved",
};

/* Character classes found in a password, as bits. */
enum { CLASS_UPPER = 1, CLASS_LOWER = 2, CLASS_DIGIT = 4, CLASS_SPECIAL = 8 };

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static bool is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Locale-independent ASCII case-insensitive equality. */
static bool ascii_case_equal(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
            return false;
    }
    return *a == *b;
}

/*
 * Decodes one UTF-8 sequence at `s` into `*cp`. Returns its length (1..4),
 * or 0 when the bytes are not a valid shortest-form encoding of a scalar
 * value (overlong forms, surrogates and values above U+10FFFF included).
 * Stops at the first bad continuation byte, so never reads past a NUL.
 */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    size_t n;
    uint32_t v, min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2, v = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, v = s[0] & 0x0fu, min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4, v = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* The class bit of one code point (0 for ASCII control characters). */
static int char_class(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return CLASS_UPPER;
    if (cp >= 'a' && cp <= 'z')
        return CLASS_LOWER;
    if (cp >= '0' && cp <= '9')
        return CLASS_DIGIT;
    if ((cp >= 0x20 && cp < 0x7f) || cp >= 0x80)
        return CLASS_SPECIAL;
    return 0;
}

/*
 * Scans a password: its length in code points (stopping once it is over
 * the maximum) and the classes it contains. Returns the rule broken by the
 * scan itself (INVALID, TOO_SHORT, TOO_LONG) or OK.
 */
static auth_password_rule_t scan_password(const char *password, int *classes)
{
    const unsigned char *p = (const unsigned char *)password;
    size_t count = 0;

    *classes = 0;
    while (*p != '\0') {
        uint32_t cp;
        size_t n = utf8_decode(p, &cp);
        if (n == 0)
            return AUTH_PASSWORD_INVALID;
        if (++count > AUTH_PASSWORD_MAX_CHARS)
            return AUTH_PASSWORD_TOO_LONG;
        *classes |= char_class(cp);
        p += n;
    }
    return count < AUTH_PASSWORD_MIN_CHARS ? AUTH_PASSWORD_TOO_SHORT : AUTH_PASSWORD_OK;
}

/* The first class rule that `classes` breaks, or OK. */
static auth_password_rule_t class_rule(int classes)
{
    static const struct {
        int bit;
        auth_password_rule_t rule;
    } order[] = {
        {CLASS_UPPER, AUTH_PASSWORD_NO_UPPER},
        {CLASS_LOWER, AUTH_PASSWORD_NO_LOWER},
        {CLASS_DIGIT, AUTH_PASSWORD_NO_DIGIT},
        {CLASS_SPECIAL, AUTH_PASSWORD_NO_SPECIAL},
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if ((classes & order[i].bit) == 0)
            return order[i].rule;
    }
    return AUTH_PASSWORD_OK;
}

int auth_password_check(const char *password, const char *username, auth_password_rule_t *rule)
{
    auth_password_rule_t r = AUTH_PASSWORD_INVALID;
    int classes = 0;

    if (password == NULL)
        goto done;
    r = scan_password(password, &classes);
    if (r == AUTH_PASSWORD_OK)
        r = class_rule(classes);
    if (r == AUTH_PASSWORD_OK && username != NULL && ascii_case_equal(password, username))
        r = AUTH_PASSWORD_SAME_AS_USERNAME;
    if (r == AUTH_PASSWORD_OK)
        r = auth_password_guessability(password, username, NULL);
done:
    if (rule != NULL)
        *rule = r;
    return r == AUTH_PASSWORD_OK ? 0 : -1;
}

const char *auth_password_rule_message(auth_password_rule_t rule)
{
    if ((unsigned)rule >= AUTH_PASSWORD_RULE_COUNT)
        return "Password is not acceptable";
    return password_messages[rule];
}

/* Which rule a guessable password breaks, from the zxcvbn match that
 * covers the most of it. */
static auth_password_rule_t guessable_reason(const ZxcMatch_t *info)
{
    static const struct {
        ZxcTypeMatch_t type;
        auth_password_rule_t rule;
    } reasons[] = {
        {DICTIONARY_MATCH, AUTH_PASSWORD_GUESSABLE_WORD},
        {DICT_LEET_MATCH, AUTH_PASSWORD_GUESSABLE_WORD},
        {USER_MATCH, AUTH_PASSWORD_GUESSABLE_PERSONAL},
        {USER_LEET_MATCH, AUTH_PASSWORD_GUESSABLE_PERSONAL},
        {REPEATS_MATCH, AUTH_PASSWORD_GUESSABLE_PATTERN},
        {SEQUENCE_MATCH, AUTH_PASSWORD_GUESSABLE_PATTERN},
        {SPATIAL_MATCH, AUTH_PASSWORD_GUESSABLE_PATTERN},
        {DATE_MATCH, AUTH_PASSWORD_GUESSABLE_DATE},
        {YEAR_MATCH, AUTH_PASSWORD_GUESSABLE_DATE},
    };
    auth_password_rule_t best = AUTH_PASSWORD_GUESSABLE;
    int longest = 0;
    for (const ZxcMatch_t *m = info; m; m = m->Next) {
        ZxcTypeMatch_t t = (ZxcTypeMatch_t)(m->Type & ~MULTIPLE_MATCH);
        for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
            if (reasons[i].type == t && m->Length > longest) {
                longest = m->Length;
                /* A part said again and again ("aaaaaaa") is a repetition. */
                best =
                    (m->Type & MULTIPLE_MATCH) ? AUTH_PASSWORD_GUESSABLE_PATTERN : reasons[i].rule;
            }
        }
    }
    return best;
}

auth_password_rule_t auth_password_guessability(const char *password, const char *username,
                                                double *bits)
{
    const char *user_words[] = {username, NULL};
    ZxcMatch_t *info = NULL;
    double e = ZxcvbnMatch(password, username ? user_words : NULL, &info);
    auth_password_rule_t r = e < AUTH_PASSWORD_MIN_BITS ? guessable_reason(info) : AUTH_PASSWORD_OK;
    ZxcvbnFreeInfo(info);
    if (bits)
        *bits = e;
    return r;
}

static bool is_reserved_username(const char *username)
{
    for (size_t i = 0; i < sizeof reserved_usernames / sizeof reserved_usernames[0]; i++) {
        if (ascii_case_equal(username, reserved_usernames[i]))
            return true;
    }
    return false;
}

int auth_username_check(const char *username, auth_username_rule_t *rule)
{
    auth_username_rule_t r = AUTH_USERNAME_INVALID;
    size_t len;

    if (username == NULL)
        goto done;
    len = strnlen(username, AUTH_USERNAME_MAX + 1);
    r = AUTH_USERNAME_OK;
    if (len < AUTH_USERNAME_MIN || len > AUTH_USERNAME_MAX)
        r = AUTH_USERNAME_LENGTH;
    for (size_t i = 0; r == AUTH_USERNAME_OK && i < len; i++) {
        int c = (unsigned char)username[i];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-')
            r = AUTH_USERNAME_CHARSET;
    }
    if (r == AUTH_USERNAME_OK && is_reserved_username(username))
        r = AUTH_USERNAME_RESERVED;
done:
    if (rule != NULL)
        *rule = r;
    return r == AUTH_USERNAME_OK ? 0 : -1;
}

const char *auth_username_rule_message(auth_username_rule_t rule)
{
    if ((unsigned)rule >= AUTH_USERNAME_RULE_COUNT)
        return "Username is not acceptable";
    return username_messages[rule];
}

/* RFC 5322 atext: what a dot-atom local part may hold besides dots. */
static bool is_atext(int c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Local part: 1..64 bytes of dot-atom (no leading, trailing or double dot). */
static bool local_part_ok(const char *s, size_t len)
{
    if (len == 0 || len > AUTH_EMAIL_LOCAL_MAX || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '.' ? s[i + 1] == '.' : !is_atext(c))
            return false;
    }
    return true;
}

/* One domain label: 1..63 of [A-Za-z0-9-], not starting or ending with '-'. */
static bool label_ok(const char *s, size_t len, bool *all_digits)
{
    *all_digits = true;
    if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return false;
        if (!is_digit(c))
            *all_digits = false;
    }
    return true;
}

/* Domain: two or more labels, the last one not all digits. */
static bool domain_ok(const char *s, size_t len)
{
    size_t labels = 0;
    bool all_digits = false;

    for (size_t start = 0; start <= len;) {
        const char *dot = memchr(s + start, '.', len - start);
        size_t end = dot != NULL ? (size_t)(dot - s) : len;
        if (!label_ok(s + start, end - start, &all_digits))
            return false;
        labels++;
        start = end + 1;
    }
    return labels >= 2 && !all_digits;
}

int auth_email_normalise(const char *email, char *out, size_t out_size)
{
    const char *at;
    size_t len;

    if (out != NULL && out_size > 0)
        out[0] = '\0';
    if (email == NULL || out == NULL)
        return AUTH_TEXT_EINVAL;
    len = strnlen(email, AUTH_EMAIL_MAX + 1);
    if (len > AUTH_EMAIL_MAX)
        return AUTH_TEXT_ETOOLONG;
    at = strchr(email, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL)
        return AUTH_TEXT_EINVAL;
    if (!local_part_ok(email, (size_t)(at - email)) ||
        !domain_ok(at + 1, len - (size_t)(at - email) - 1))
        return AUTH_TEXT_EINVAL;
    if (out_size < len + 1)
        return AUTH_TEXT_ENOSPACE;
    for (size_t i = 0; i <= len; i++)
        out[i] = (char)ascii_lower((unsigned char)email[i]);
    return 0;
}

/* Code points a full name loses: controls, bidi formatting, line separators. */
static bool is_removed_char(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
        return true;
    if (cp == 0x061c || cp == 0x200e || cp == 0x200f || cp == 0x2028 || cp == 0x2029)
        return true;
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* True when all of `s` is valid UTF-8. */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;

    while (*p != '\0') {
        size_t n = utf8_decode(p, &cp);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* Output state of auth_full_name_clean: spaces are held back until some
 * other character follows them, which trims both ends for free. */
typedef struct {
    char *out;
    size_t size, used, chars, spaces;
} name_out_t;

/* Appends one kept code point (bytes `s`, `n`); returns 0 or an error. */
static int name_put(name_out_t *o, const char *s, size_t n)
{
    if (n == 1 && s[0] == ' ') {
        if (o->chars > 0)
            o->spaces++;
        return 0;
    }
    if (o->chars + o->spaces + 1 > AUTH_FULL_NAME_MAX_CHARS)
        return AUTH_TEXT_ETOOLONG;
    if (o->used + o->spaces + n + 1 > o->size)
        return AUTH_TEXT_ENOSPACE;
    memset(o->out + o->used, ' ', o->spaces);
    o->used += o->spaces;
    o->chars += o->spaces + 1;
    o->spaces = 0;
    memcpy(o->out + o->used, s, n);
    o->used += n;
    return 0;
}

/* The next '>' at or after `p`, remembered in `*gt` so that a run of '<'
 * without any '>' costs one scan in all, not one per '<'. `*gt` starts at
 * the input's first byte and is rescanned whenever it is behind `p` or not
 * a '>'; once NULL, no '>' is left. */
static const char *next_close(const char *p, const char **gt)
{
    if (*gt != NULL && (*gt < p || **gt != '>'))
        *gt = strchr(p, '>');
    return *gt;
}

int auth_full_name_clean(const char *name, char *out, size_t out_size)
{
    name_out_t o = {out, out_size, 0, 0, 0};
    const char *p = name, *gt = name;
    int rc = 0;

    if (out == NULL || out_size == 0)
        return AUTH_TEXT_ENOSPACE;
    out[0] = '\0';
    if (name == NULL || !utf8_valid(name))
        return AUTH_TEXT_EINVAL;
    while (*p != '\0' && rc == 0) {
        uint32_t cp = 0;
        size_t n = utf8_decode((const unsigned char *)p, &cp);
        const char *close = cp == '<' ? next_close(p, &gt) : NULL;
        if (n == 0)
            rc = AUTH_TEXT_EINVAL; /* cannot happen after utf8_valid() */
        else if (close != NULL)
            n = (size_t)(close - p) + 1; /* a tag: drop it whole */
        else if (cp != '<' && cp != '>' && !is_removed_char(cp))
            rc = name_put(&o, p, n);
        p += n;
    }
    out[rc == 0 ? o.used : 0] = '\0';
    return rc;
}
