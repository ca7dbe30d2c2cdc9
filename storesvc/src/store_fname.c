/*
 * store_fname: file name and media type rules (see store_fname.h). The
 * name check decodes UTF-8 itself, so it refuses malformed sequences even
 * when called on bytes that never went through the wire codec.
 */
#include "store_fname.h"

#include "proto_catalog.h"

#include <stdint.h>
#include <string.h>

/* Code points a name may not contain, as inclusive ranges. */
static const struct {
    uint32_t lo, hi;
} banned[] = {
    {0x00, 0x1f},                                 /* C0 controls */
    {'/', '/'},       {'\\', '\\'}, {0x7f, 0x9f}, /* DEL and C1 controls */
    {0x2028, 0x2029},                             /* line and paragraph separators */
    {0x202a, 0x202e},                             /* bidi embeddings and overrides */
    {0x2066, 0x2069},                             /* bidi isolates */
};

/* Decodes one UTF-8 sequence at s (n bytes left). Returns its length and
 * sets *cp, or 0 when malformed (overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t v = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if ((len > 1 && v < min[len]) || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

bool store_fname_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > PROTO_FILE_NAME_MAX)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t step = utf8_next(s + i, len - i, &cp);
        if (step == 0)
            return false;
        for (size_t b = 0; b < sizeof banned / sizeof banned[0]; b++) {
            if (cp >= banned[b].lo && cp <= banned[b].hi)
                return false;
        }
        i += step;
    }
    return true;
}

static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Skips a token at t[*i]; false when there is none. */
static bool token(const char *t, size_t len, size_t *i)
{
    size_t start = *i;
    while (*i < len && tchar(t[*i]))
        (*i)++;
    return *i > start;
}

static void ows(const char *t, size_t len, size_t *i)
{
    while (*i < len && (t[*i] == ' ' || t[*i] == '\t'))
        (*i)++;
}

/* A quoted-string: printable ASCII (and tab) with \-escapes. */
static bool quoted(const char *t, size_t len, size_t *i)
{
    if (*i >= len || t[*i] != '"')
        return false;
    for ((*i)++; *i < len; (*i)++) {
        unsigned char c = (unsigned char)t[*i];
        if (c == '"') {
            (*i)++;
            return true;
        }
        if (c == '\\' && *i + 1 < len)
            c = (unsigned char)t[++(*i)];
        if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return false;
    }
    return false;
}

bool store_ftype_valid(const char *t, size_t len)
{
    size_t i = 0;
    if (!t || len == 0 || len > PROTO_FILE_TYPE_MAX || !token(t, len, &i) || i >= len ||
        t[i++] != '/' || !token(t, len, &i))
        return false;
    for (;;) {
        ows(t, len, &i);
        if (i == len)
            return true;
        if (t[i++] != ';')
            return false;
        ows(t, len, &i);
        if (!token(t, len, &i) || i >= len || t[i++] != '=')
            return false;
        if (!token(t, len, &i) && !quoted(t, len, &i))
            return false;
    }
}
