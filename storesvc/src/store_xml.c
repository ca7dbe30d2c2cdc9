/*
 * store_xml: bounded element search and text decoding (see store_xml.h).
 * Every loop advances through the document at least one byte per step and
 * stops at `len`, so a hostile body costs at most a few passes over it.
 */
#include "store_xml.h"

#include <stdio.h>
#include <string.h>

#define TAG_MAX 64

/* The first occurrence of needle[0, nlen) in hay[from, len), or -1. */
static long find(const char *hay, size_t len, size_t from, const char *needle, size_t nlen)
{
    if (nlen == 0 || from > len || len - from < nlen)
        return -1;
    const char *p = memmem(hay + from, len - from, needle, nlen);
    return p ? (long)(p - hay) : -1;
}

int store_xml_next(const char *doc, size_t len, const char *tag, size_t *pos, const char **inner,
                   size_t *inner_len)
{
    char open[TAG_MAX + 2], close[TAG_MAX + 4];
    size_t tlen = tag ? strlen(tag) : 0;
    if (!doc || !pos || tlen == 0 || tlen > TAG_MAX)
        return -1;
    int olen = snprintf(open, sizeof open, "<%s", tag);
    int clen = snprintf(close, sizeof close, "</%s>", tag);
    size_t at = *pos;
    for (;;) {
        long start = find(doc, len, at, open, (size_t)olen);
        if (start < 0)
            return -1;
        size_t after = (size_t)start + (size_t)olen; /* just past "<tag" */
        if (after >= len)
            return -1;
        char c = doc[after];
        if (c != '>' && c != ' ' && c != '/' && c != '\t' && c != '\r' && c != '\n') {
            at = after; /* "<tagLonger": not ours */
            continue;
        }
        long gt = find(doc, len, after, ">", 1);
        if (gt < 0)
            return -1;
        if (doc[gt - 1] == '/') { /* <tag/> or <tag attr="x"/> */
            *inner = doc + gt + 1;
            *inner_len = 0;
            *pos = (size_t)gt + 1;
            return 0;
        }
        long end = find(doc, len, (size_t)gt + 1, close, (size_t)clen);
        if (end < 0)
            return -1;
        *inner = doc + gt + 1;
        *inner_len = (size_t)(end - gt - 1);
        *pos = (size_t)end + (size_t)clen;
        return 0;
    }
}

static const struct {
    const char *name;
    char ch;
} entities[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};

/* Decodes the entity at s[0] == '&' (n bytes available). Returns the bytes
 * it spans and sets *ch, or 0 when it is not one we accept. */
static size_t entity(const char *s, size_t n, char *ch)
{
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
        size_t el = strlen(entities[i].name);
        if (n > el && memcmp(s + 1, entities[i].name, el) == 0) {
            *ch = entities[i].ch;
            return el + 1;
        }
    }
    if (n < 4 || s[1] != '#')
        return 0;
    unsigned v = 0;
    size_t i = 2;
    int hex = s[2] == 'x';
    if (hex)
        i++;
    size_t digits = 0;
    for (; i < n && i < 12 && s[i] != ';'; i++, digits++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'          ? c - '0'
                : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                              : -1;
        if (d < 0)
            return 0;
        v = v * (hex ? 16u : 10u) + (unsigned)d;
    }
    if (i >= n || s[i] != ';' || digits == 0 || v == 0 || v > 0x7f)
        return 0;
    *ch = (char)v;
    return i + 1;
}

int store_xml_text(const char *doc, size_t len, const char *tag, char *out, size_t cap)
{
    const char *in = NULL;
    size_t in_len = 0, pos = 0, o = 0;
    if (!out || cap == 0 || store_xml_next(doc, len, tag, &pos, &in, &in_len) != 0)
        return -1;
    for (size_t i = 0; i < in_len;) {
        char c = in[i];
        if (c == '<' || c == '\0')
            return -1;
        if (c == '&') {
            size_t used = entity(in + i, in_len - i, &c);
            if (used == 0)
                return -1;
            i += used;
        } else {
            i++;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int store_xml_escape(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        const char *rep = NULL;
        char one[2] = {*p, '\0'};
        switch (*p) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            rep = one;
        }
        size_t rl = strlen(rep);
        if (o + rl >= cap)
            return -1;
        memcpy(out + o, rep, rl);
        o += rl;
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (int)o;
}
