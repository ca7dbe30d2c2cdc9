/*
 * gw_cookie: a small, bounded Cookie header scanner and the Set-Cookie
 * formatter. The scanner never allocates and never copies more than
 * GW_COOKIE_VALUE_MAX bytes of any value.
 */
#include "gw_cookie.h"

#include <stdio.h>
#include <string.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
static bool is_octet(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
}

static bool octets_ok(const char *s, size_t n)
{
    if (n == 0 || n > GW_COOKIE_VALUE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_octet((unsigned char)s[i]))
            return false;
    }
    return true;
}

bool gw_cookie_value_ok(const char *value)
{
    return value && octets_ok(value, strnlen(value, GW_COOKIE_VALUE_MAX + 1));
}

/* Narrows [*s, *s + *n) to exclude surrounding spaces and tabs. */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ows(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_ows((*s)[*n - 1]))
        (*n)--;
}

static void keep_value(gw_cookie_vals_t *out, const char *v, size_t n)
{
    for (size_t i = 0; i < out->n; i++) {
        if (strlen(out->values[i]) == n && memcmp(out->values[i], v, n) == 0)
            return; /* the same value again: not ambiguous */
    }
    if (out->n == GW_COOKIE_VALUES_MAX) {
        out->invalid++; /* a distinct value we cannot keep makes the set ambiguous */
        return;
    }
    memcpy(out->values[out->n], v, n);
    out->values[out->n][n] = '\0';
    out->n++;
}

/* One "name=value" piece of the header. */
static void scan_pair(const char *p, size_t len, const char *name, gw_cookie_vals_t *out)
{
    const char *eq = memchr(p, '=', len);
    if (!eq)
        return; /* not a name=value pair */
    const char *k = p, *v = eq + 1;
    size_t kn = (size_t)(eq - p), vn = len - kn - 1;
    trim(&k, &kn);
    trim(&v, &vn);
    if (kn != strlen(name) || memcmp(k, name, kn) != 0)
        return;
    out->seen++;
    if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
        v++;
        vn -= 2;
    }
    if (octets_ok(v, vn))
        keep_value(out, v, vn);
    else
        out->invalid++;
}

void gw_cookie_find(const char *header, const char *name, gw_cookie_vals_t *out)
{
    memset(out, 0, sizeof *out);
    if (!header || !name || !*name)
        return;
    const char *p = header;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        scan_pair(p, len, name, out);
        p += len + (semi != NULL);
    }
}

const char *gw_cookie_single(const gw_cookie_vals_t *v)
{
    return (v->n == 1 && v->invalid == 0) ? v->values[0] : NULL;
}

int gw_cookie_format(char *out, size_t cap, const char *name, const char *value, long max_age,
                     const char *path, bool secure)
{
    return gw_cookie_format_samesite(out, cap, name, value, max_age, path, secure, "Lax");
}

int gw_cookie_format_samesite(char *out, size_t cap, const char *name, const char *value,
                              long max_age, const char *path, bool secure, const char *samesite)
{
    bool clear = !value || !*value;
    if (!out || cap == 0 || max_age < 0 || (!clear && !gw_cookie_value_ok(value)))
        return -1;
    int n = snprintf(out, cap, "%s=%s; HttpOnly; SameSite=%s; Path=%s; Max-Age=%ld%s", name,
                     clear ? "" : value, samesite, path, clear ? 0L : max_age,
                     secure ? "; Secure" : "");
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}
