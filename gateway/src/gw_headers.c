/*
 * gw_headers: header values in and out. The reply side is a short list of
 * rules applied in a fixed order, so the same reply always produces the
 * same headers.
 */
#include "gw_headers.h"
#include "gw_problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 3, 4))) static void add(gw_headers_t *hs, const char *name,
                                                      const char *fmt, ...)
{
    if (hs->n == GW_HEADERS_MAX)
        return;
    gw_header_t *h = &hs->h[hs->n];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(h->value, sizeof h->value, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof h->value)
        return; /* never a truncated value */
    h->name = name;
    hs->n++;
}

static void add_rate(gw_headers_t *hs, long limit, long remaining, long reset)
{
    if (limit >= 0)
        add(hs, "RateLimit-Limit", "%ld", limit);
    add(hs, "RateLimit-Remaining", "%ld", remaining < 0 ? 0 : remaining);
    add(hs, "RateLimit-Reset", "%ld", reset < 0 ? 0 : reset);
}

void gw_headers_for_reply(const gw_reply_t *reply, gw_headers_t *out)
{
    out->n = 0;
    long ra = reply->retry_after;
    if (reply->err == PROTO_ERR_RATE_LIMITED) {
        if (ra < 0)
            ra = GW_RETRY_AFTER_DEFAULT;
        add(out, "Retry-After", "%ld", ra);
        long limit =
            reply->rate_limit >= 0 ? reply->rate_limit : (reply->rate.set ? reply->rate.limit : -1);
        add_rate(out, limit, 0, ra);
    } else {
        if (reply->err == PROTO_ERR_LOGIN_RATE_LIMITED && ra < 0)
            ra = GW_RETRY_AFTER_DEFAULT;
        if (ra >= 0)
            add(out, "Retry-After", "%ld", ra);
        if (reply->rate.set)
            add_rate(out, reply->rate.limit, reply->rate.remaining, reply->rate.reset);
    }
    if (reply->err != PROTO_OK && gw_reply_problem_status(reply) == 401)
        add(out, "WWW-Authenticate", "Bearer");
    if (reply->set_cookie[0])
        add(out, "Set-Cookie", "%s", reply->set_cookie);
    if (reply->set_cookie2[0])
        add(out, "Set-Cookie", "%s", reply->set_cookie2);
    if (reply->etag[0])
        add(out, "ETag", "%s", reply->etag);
    if (reply->content_range[0])
        add(out, "Content-Range", "%s", reply->content_range);
}

const char *gw_headers_get(const gw_headers_t *hs, const char *name)
{
    for (size_t i = 0; i < hs->n; i++) {
        if (strcasecmp(hs->h[i].name, name) == 0)
            return hs->h[i].value;
    }
    return NULL;
}

/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool b64token(const char *s)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789-._~+/";
    size_t n = strspn(s, chars);
    if (n == 0)
        return false;
    return s[n + strspn(s + n, "=")] == '\0';
}

int gw_bearer_parse(const char *value, char *out, size_t cap)
{
    static const char scheme[] = "Bearer";
    if (!out || cap == 0)
        return -1;
    out[0] = '\0';
    if (!value || strncasecmp(value, scheme, sizeof scheme - 1) != 0)
        return -1;
    const char *p = value + sizeof scheme - 1;
    size_t sp = strspn(p, " ");
    if (sp == 0)
        return -1;
    p += sp;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--; /* trailing whitespace is not part of the value */
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    if (!b64token(out)) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

const char *gw_apikey_header(const char *value, int count)
{
    if (count == 0)
        return NULL;
    size_t n = value ? strnlen(value, GW_APIKEY_MAX + 1) : 0;
    if (count != 1 || n == 0 || n > GW_APIKEY_MAX)
        return GW_APIKEY_INVALID;
    for (size_t i = 0; i < n; i++) {
        if (value[i] <= 0x20 || value[i] >= 0x7f)
            return GW_APIKEY_INVALID;
    }
    return value;
}

size_t gw_sanitise_ascii(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    if (!dst || cap == 0)
        return 0;
    for (; src && src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[i] = '\0';
    return i;
}
