/*
 * gw_sniff: markup signatures and media-type lists (see gw_sniff.h).
 */
#include "gw_sniff.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* WHATWG MIME Sniffing, "identifying a resource with an unknown MIME type":
 * each pattern must be followed by a space or '>' (tag-terminating byte),
 * except the XML and comment ones. */
static const struct {
    const char *sig;
    bool needs_end;
} signatures[] = {
    {"<!DOCTYPE HTML", true},
    {"<HTML", true},
    {"<HEAD", true},
    {"<SCRIPT", true},
    {"<IFRAME", true},
    {"<H1", true},
    {"<DIV", true},
    {"<FONT", true},
    {"<TABLE", true},
    {"<A", true},
    {"<STYLE", true},
    {"<TITLE", true},
    {"<B", true},
    {"<BODY", true},
    {"<BR", true},
    {"<P", true},
    {"<!--", true},
    {"<?xml", false},
    {"<SVG", true},
};

bool gw_sniff_is_markup(const void *data, size_t n)
{
    const unsigned char *p = data;
    if (n > GW_SNIFF_BYTES)
        n = GW_SNIFF_BYTES;
    size_t i = 0;
    if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == '\f'))
        i++;
    for (size_t k = 0; k < sizeof signatures / sizeof signatures[0]; k++) {
        size_t sl = strlen(signatures[k].sig);
        if (n - i < sl + (signatures[k].needs_end ? 1 : 0))
            continue;
        if (strncasecmp((const char *)p + i, signatures[k].sig, sl) != 0)
            continue;
        if (!signatures[k].needs_end || p[i + sl] == ' ' || p[i + sl] == '>')
            return true;
    }
    return false;
}

int gw_sniff_bare_type(const char *media_type, char *out, size_t cap)
{
    if (!media_type)
        return -1;
    const char *p = media_type + strspn(media_type, " \t");
    size_t n = strcspn(p, "; \t");
    const char *slash = memchr(p, '/', n);
    if (n == 0 || n + 1 > cap || !slash || slash == p || slash == p + n - 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (p + i == slash)
            continue;
        if (!(isalnum(c) || strchr("!#$&-^_.+", c)))
            return -1;
        out[i] = (char)tolower(c);
    }
    out[slash - p] = '/';
    out[n] = '\0';
    return 0;
}

bool gw_sniff_type_is_active(const char *media_type)
{
    static const char *const active[] = {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
        "text/xsl",
        "application/xslt+xml",
        "application/rss+xml",
        "application/atom+xml",
    };
    char t[256];
    if (gw_sniff_bare_type(media_type, t, sizeof t) != 0)
        return true; /* what cannot be named is not trusted */
    for (size_t i = 0; i < sizeof active / sizeof active[0]; i++)
        if (strcmp(t, active[i]) == 0)
            return true;
    size_t n = strlen(t);
    return n > 4 && strcmp(t + n - 4, "+xml") == 0;
}

bool gw_sniff_type_allowed(const char *media_type, const char *allowed)
{
    char t[256];
    if (gw_sniff_bare_type(media_type, t, sizeof t) != 0)
        return false;
    const char *p = allowed ? allowed : "";
    if (!*(p + strspn(p, " \t,")))
        return true; /* an empty list allows everything */
    size_t tl = strlen(t);
    const char *slash = strchr(t, '/');
    while (*p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if (k == 1 && p[0] == '*')
            return true;
        if (k == tl && strncasecmp(p, t, k) == 0)
            return true;
        if (k >= 2 && p[k - 1] == '*' && p[k - 2] == '/' && (size_t)(slash - t) == k - 2 &&
            strncasecmp(p, t, k - 2) == 0)
            return true;
        p += n;
    }
    return false;
}
