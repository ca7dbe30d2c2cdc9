/*
 * gw_fname: name sanitising and Content-Disposition (see gw_fname.h).
 */
#include "gw_fname.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The length of the UTF-8 sequence at s[0 .. n) and its code point, or 0
 * when it is not a valid, shortest-form sequence. */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = (s[0] & 0xe0) == 0xc0   ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t v = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static bool dropped(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
           (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* Cuts `out` (len bytes) to at most `max`, at a character boundary, keeping
 * an extension of up to 16 bytes. */
static size_t fit(char *out, size_t len, size_t max)
{
    if (len <= max)
        return len;
    const char *dot = memrchr(out, '.', len);
    size_t ext = dot ? len - (size_t)(dot - out) : 0;
    if (ext > 16)
        ext = 0;
    size_t keep = max - ext;
    while (keep > 0 && ((unsigned char)out[keep] & 0xc0) == 0x80)
        keep--; /* do not split a character */
    memmove(out + keep, out + len - ext, ext);
    return keep + ext;
}

size_t gw_fname_sanitise(const char *in, size_t n, char *out, size_t cap)
{
    char buf[4 * GW_FNAME_IN_MAX + 8]; /* a byte can grow to '_' only, a character stays */
    size_t len = 0, seg = 0;           /* seg: where the current path segment began in buf */
    const unsigned char *s = (const unsigned char *)in;
    if (n > GW_FNAME_IN_MAX) { /* keep the end, where the extension is */
        s += n - GW_FNAME_IN_MAX;
        n = GW_FNAME_IN_MAX;
        while (n > 0 && (*s & 0xc0) == 0x80) { /* start at a character */
            s++;
            n--;
        }
    }
    for (size_t i = 0; i <= n && len + 4 < sizeof buf;) {
        bool sep = i == n || s[i] == '/' || s[i] == '\\';
        if (sep) {
            /* close the segment: drop it when empty, "." or ".." */
            size_t sl = len - seg;
            if (sl == 0 || (sl == 1 && buf[seg] == '.') ||
                (sl == 2 && buf[seg] == '.' && buf[seg + 1] == '.'))
                len = seg;
            else
                buf[len++] = '_';
            seg = len;
            i++;
            continue;
        }
        uint32_t cp;
        size_t cl = utf8_char(s + i, n - i, &cp);
        if (cl == 0) {
            buf[len++] = '_'; /* not UTF-8 */
            i++;
            continue;
        }
        if (!dropped(cp)) {
            memcpy(buf + len, s + i, cl);
            len += cl;
        }
        i += cl;
    }
    if (len > 0 && buf[len - 1] == '_')
        len--; /* the separator added after the last segment */
    size_t start = 0;
    while (start < len && (buf[start] == '.' || buf[start] == ' '))
        start++;
    while (len > start && (buf[len - 1] == ' ' || buf[len - 1] == '.'))
        len--;
    len -= start;
    memmove(buf, buf + start, len);
    if (len == 0) {
        memcpy(buf, GW_FNAME_FALLBACK, sizeof GW_FNAME_FALLBACK - 1);
        len = sizeof GW_FNAME_FALLBACK - 1;
    }
    len = fit(buf, len, cap - 1 < GW_FNAME_MAX ? cap - 1 : GW_FNAME_MAX);
    memcpy(out, buf, len);
    out[len] = '\0';
    return len;
}

int gw_fname_disposition(const char *name, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(name), o = 0;
    bool ascii = true;
    char fallback[GW_FNAME_MAX + 1];
    size_t fl = 0;
    for (size_t i = 0; i < n && fl < GW_FNAME_MAX; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 0x80)
            ascii = false;
        fallback[fl++] =
            (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ';') ? '_' : (char)c;
    }
    fallback[fl] = '\0';
    int w = snprintf(out, cap, "attachment; filename=\"%s\"", fallback);
    if (w < 0 || (size_t)w >= cap)
        return -1;
    o = (size_t)w;
    if (ascii)
        return 0;
    static const char ext[] = "; filename*=UTF-8''";
    if (o + sizeof ext > cap)
        return -1;
    memcpy(out + o, ext, sizeof ext - 1);
    o += sizeof ext - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     (c && strchr("!#$&+-.^_`|~", c));
        if (o + 4 > cap)
            return -1;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

long gw_fname_unescape(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            int v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = i + (size_t)k < n ? in[i + (size_t)k] : '\0';
                int d = (h >= '0' && h <= '9')   ? h - '0'
                        : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                        : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                 : -1;
                if (d < 0)
                    return -1;
                v = v * 16 + d;
            }
            c = (char)v;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}
