/*
 * gw_query: a single pass over "k=v&k=v" with percent decoding
 * (application/x-www-form-urlencoded, so '+' is a space). Keys and values
 * are decoded into small fixed buffers: anything longer than a page number
 * can be is refused (for our keys) or skipped (for others) without copying.
 */
#include "gw_query.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define KEY_MAX 16 /* longest key we compare; longer keys are not ours */
#define VAL_MAX 24 /* longest value we parse; longer is not a valid number */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes [s, s+n) into out[cap]. Returns the decoded length, -1 on a
 * malformed escape or an embedded NUL, -2 when it does not fit (the escapes
 * are still all checked). */
static long decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1; /* "%" or "%x" at the end */
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -1;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 < cap)
            out[o++] = c;
        else
            overflow = true;
    }
    out[o] = '\0';
    return overflow ? -2 : (long)o;
}

/* Strict positive decimal within [1, max]: no sign, no spaces, no empty. */
static int parse_count(const char *s, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
            return -1;
    }
    if (v < 1 || v > max)
        return -1;
    *out = v;
    return 0;
}

typedef struct {
    const char *name;
    size_t offset;  /* in gw_page_t */
    int64_t max;    /* above: refused */
    int64_t cap_at; /* above (and within max): capped to this */
    const char *bad;
} param_t;

static const param_t params[] = {
    {"page", offsetof(gw_page_t, page), GW_PAGE_MAX, GW_PAGE_MAX,
     "page must be an integer from 1 to 2147483647"},
    {"per_page", offsetof(gw_page_t, per_page), INT64_MAX, GW_PER_PAGE_MAX,
     "per_page must be a positive integer"},
};
#define NPARAMS (sizeof params / sizeof params[0])

/* One "k=v" (or "k") piece. Returns 0 or -1 with *detail. */
static int take_piece(const char *p, size_t len, gw_page_t *out, bool seen[NPARAMS],
                      const char **detail)
{
    const char *eq = memchr(p, '=', len);
    size_t kn = eq ? (size_t)(eq - p) : len;
    char key[KEY_MAX + 1], val[VAL_MAX + 1];
    long kl = decode(p, kn, key, sizeof key);
    long vl = eq ? decode(eq + 1, len - kn - 1, val, sizeof val) : (val[0] = '\0', 0);
    *detail = "The query string is malformed";
    if (kl == -1 || vl == -1)
        return -1;
    for (size_t i = 0; kl >= 0 && i < NPARAMS; i++) {
        if (strcmp(key, params[i].name) != 0)
            continue;
        *detail = params[i].bad;
        if (seen[i]) {
            *detail = "A query parameter is repeated";
            return -1;
        }
        seen[i] = true;
        int64_t v;
        if (vl < 0 || parse_count(val, params[i].max, &v) != 0)
            return -1;
        *(int64_t *)(void *)((char *)out + params[i].offset) =
            v > params[i].cap_at ? params[i].cap_at : v;
    }
    return 0;
}

int gw_query_page(const char *query, gw_page_t *out, const char **detail)
{
    bool seen[NPARAMS] = {false};
    out->page = GW_PAGE_DEFAULT;
    out->per_page = GW_PER_PAGE_DEFAULT;
    *detail = NULL;
    const char *p = query ? query : "";
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0 && take_piece(p, len, out, seen, detail) != 0)
            return -1;
        p += len + (amp != NULL);
    }
    *detail = NULL;
    return 0;
}
