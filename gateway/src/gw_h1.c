/*
 * gw_h1: request-head parsing (see gw_h1.h). Two passes over a head that
 * is known to be whole: the request line, then one field per line. Every
 * byte is classified by the tables of RFC 9110 section 5.6.2 (tchar) and
 * 5.5 (field-vchar); anything else is a refusal.
 */
#include "gw_h1.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Bytes a field value may hold: VCHAR, obs-text, SP, HTAB. */
static bool is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Bytes of a request target: VCHAR only (RFC 3986 characters and the few
 * others clients send unescaped are left to the router to refuse). */
static bool is_target_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

size_t gw_h1_head_end(const char *buf, size_t len, size_t *scanned)
{
    size_t from = *scanned > 3 ? *scanned - 3 : 0;
    /* Empty lines before the request line are not the end of a head. */
    size_t lead = 0;
    while (lead + 1 < len && buf[lead] == '\r' && buf[lead + 1] == '\n')
        lead += 2;
    if (from < lead)
        from = lead;
    for (size_t i = from; i + 3 < len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return i + 4;
    }
    *scanned = len;
    return 0;
}

/* The end of the line that starts at `p` (its CR), or NULL. */
static char *line_end(char *p, const char *end)
{
    char *cr = memchr(p, '\r', (size_t)(end - p));
    return (cr && cr + 1 < end && cr[1] == '\n') ? cr : NULL;
}

/* Absolute form "http://authority/path" becomes the path (RFC 9112 section
 * 3.2.2: a server must accept it); the authority is not kept. */
static void origin_form(gw_h1_head_t *h, char *target, size_t n)
{
    static const char *const schemes[] = {"http://", "https://"};
    h->target = target;
    h->target_len = n;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t sl = strlen(schemes[i]);
        if (n <= sl || strncasecmp(target, schemes[i], sl) != 0)
            continue;
        char *path = memchr(target + sl, '/', n - sl);
        if (!path) {
            h->target = "/";
            h->target_len = 1;
        } else {
            h->target = path;
            h->target_len = n - (size_t)(path - target);
        }
        return;
    }
}

static gw_h1_status_t parse_version(const char *v, size_t n, gw_h1_head_t *h, const char **detail)
{
    *detail = "Malformed request line";
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return GW_H1_BAD;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
        *detail = "Only HTTP/1.0 and HTTP/1.1 are supported";
        return GW_H1_BAD_VERSION;
    }
    h->minor = v[7] - '0';
    return GW_H1_DONE;
}

/* method SP request-target SP HTTP-version, line = [p, eol). */
static gw_h1_status_t parse_request_line(char *p, char *eol, const gw_h1_limits_t *lim,
                                         gw_h1_head_t *h, const char **detail)
{
    *detail = "Malformed request line";
    char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 == p)
        return GW_H1_BAD;
    char *t = sp1 + 1;
    char *sp2 = memchr(t, ' ', (size_t)(eol - t));
    if (!sp2 || sp2 == t)
        return GW_H1_BAD;
    size_t ml = (size_t)(sp1 - p), tl = (size_t)(sp2 - t);
    if (ml > GW_H1_METHOD_MAX)
        return GW_H1_BAD;
    for (size_t i = 0; i < ml; i++)
        if (!is_tchar((unsigned char)p[i]))
            return GW_H1_BAD;
    if (tl > lim->target_max) {
        *detail = "The request target is too long";
        return GW_H1_URI_TOO_LONG;
    }
    for (size_t i = 0; i < tl; i++)
        if (!is_target_byte((unsigned char)t[i]))
            return GW_H1_BAD;
    gw_h1_status_t st = parse_version(sp2 + 1, (size_t)(eol - sp2 - 1), h, detail);
    if (st != GW_H1_DONE)
        return st;
    *sp1 = *sp2 = '\0';
    h->method = p;
    h->method_len = ml;
    if (t[0] != '/' && !(tl == 1 && t[0] == '*'))
        origin_form(h, t, tl);
    else {
        h->target = t;
        h->target_len = tl;
    }
    if (h->target[0] != '/' && h->target[0] != '*')
        return GW_H1_BAD; /* authority form, or a relative path */
    return GW_H1_DONE;
}

/* field-name ":" OWS field-value OWS, line = [p, eol). */
static gw_h1_status_t parse_field(char *p, char *eol, gw_h1_field_t *f, const char **detail)
{
    *detail = "Malformed header field";
    char *colon = memchr(p, ':', (size_t)(eol - p));
    if (!colon || colon == p)
        return GW_H1_BAD; /* also an obs-fold line, which starts with whitespace */
    for (char *q = p; q < colon; q++)
        if (!is_tchar((unsigned char)*q))
            return GW_H1_BAD; /* whitespace before the colon included */
    char *v = colon + 1, *ve = eol;
    for (char *q = v; q < ve; q++)
        if (!is_field_byte((unsigned char)*q))
            return GW_H1_BAD;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    *colon = '\0';
    *ve = '\0';
    *f = (gw_h1_field_t){p, v, (size_t)(colon - p), (size_t)(ve - v)};
    return GW_H1_DONE;
}

/* Why a head that filled the whole buffer without ending is refused. */
static gw_h1_status_t too_big(const char *buf, size_t len, const gw_h1_limits_t *lim,
                              const char **detail)
{
    const char *eol = memchr(buf, '\n', len);
    if (!eol || (size_t)(eol - buf) > lim->target_max) {
        *detail = "The request target is too long";
        return GW_H1_URI_TOO_LONG;
    }
    *detail = "The request headers are too large";
    return GW_H1_TOO_LARGE;
}

gw_h1_status_t gw_h1_parse(char *buf, size_t len, size_t cap, const gw_h1_limits_t *lim,
                           size_t *scanned, gw_h1_head_t *out, const char **detail)
{
    *detail = NULL;
    size_t end = gw_h1_head_end(buf, len, scanned);
    if (end == 0)
        return len >= cap ? too_big(buf, len, lim, detail) : GW_H1_MORE;
    memset(out, 0, offsetof(gw_h1_head_t, fields));
    out->nfields = out->field_bytes = 0;
    char *p = buf, *stop = buf + end - 2; /* the final CRLF */
    while (p[0] == '\r' && p[1] == '\n')
        p += 2;
    char *eol = line_end(p, stop + 2);
    if (!eol || eol > stop) {
        *detail = "Malformed request line";
        return GW_H1_BAD;
    }
    gw_h1_status_t st = parse_request_line(p, eol, lim, out, detail);
    if (st != GW_H1_DONE)
        return st;
    for (p = eol + 2; p < stop; p = eol + 2) {
        eol = line_end(p, stop + 2);
        if (!eol || eol > stop) {
            *detail = "Malformed header field";
            return GW_H1_BAD; /* a bare CR inside the line */
        }
        if (out->nfields == GW_H1_FIELDS_MAX) {
            *detail = "Too many request header fields";
            return GW_H1_TOO_LARGE;
        }
        gw_h1_field_t *f = &out->fields[out->nfields];
        if ((st = parse_field(p, eol, f, detail)) != GW_H1_DONE)
            return st;
        out->nfields++;
        out->field_bytes += f->name_len + f->value_len + 4;
        if (out->field_bytes > lim->field_bytes_max) {
            *detail = "The request headers are too large";
            return GW_H1_TOO_LARGE;
        }
    }
    out->head_len = end;
    return GW_H1_DONE;
}

const gw_h1_field_t *gw_h1_get(const gw_h1_head_t *h, const char *name)
{
    for (size_t i = 0; i < h->nfields; i++)
        if (strcasecmp(h->fields[i].name, name) == 0)
            return &h->fields[i];
    return NULL;
}

size_t gw_h1_count(const gw_h1_head_t *h, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nfields; i++)
        n += strcasecmp(h->fields[i].name, name) == 0;
    return n;
}

bool gw_h1_has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (p && *p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if (k == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p += n;
    }
    return false;
}

int gw_h1_content_length(const char *value, unsigned long long *out)
{
    unsigned long long v = 0;
    if (!value || !*value)
        return -1;
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > ((unsigned long long)LLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
