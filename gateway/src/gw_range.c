/*
 * gw_range: Range and If-None-Match (see gw_range.h).
 */
#include "gw_range.h"

#include <string.h>
#include <strings.h>

/* Digits at *p into *out (no sign, no overflow); advances *p. -1 if none. */
static int number(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

gw_range_status_t gw_range_parse(const char *value, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!value)
        return GW_RANGE_NONE;
    const char *p = value + strspn(value, " \t");
    if (strncasecmp(p, "bytes=", 6) != 0)
        return GW_RANGE_NONE;
    p += 6;
    p += strspn(p, " \t");
    uint64_t a = 0, b = 0;
    bool has_a = number(&p, &a) == 0;
    if (*p++ != '-')
        return GW_RANGE_NONE;
    bool has_b = number(&p, &b) == 0;
    p += strspn(p, " \t");
    if (*p != '\0' || (!has_a && !has_b))
        return GW_RANGE_NONE; /* several ranges or junk: serve the whole file */
    if (!has_a) {             /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return GW_RANGE_UNSATISFIED;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return GW_RANGE_OK;
    }
    if (has_b && b < a)
        return GW_RANGE_NONE; /* invalid: ignored */
    if (a >= size)
        return GW_RANGE_UNSATISFIED;
    *first = a;
    *last = (!has_b || b >= size) ? size - 1 : b;
    return GW_RANGE_OK;
}

bool gw_range_none_match(const char *value, const char *etag)
{
    if (!value || !etag)
        return false;
    size_t el = strlen(etag);
    const char *p = value;
    while (*p) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p == '"') {
            const char *end = strchr(p + 1, '"');
            if (!end)
                return false;
            if ((size_t)(end - p - 1) == el && memcmp(p + 1, etag, el) == 0)
                return true;
            p = end + 1;
        } else {
            p += strcspn(p, ",");
        }
    }
    return false;
}
