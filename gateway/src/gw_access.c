/*
 * gw_access: the access-log line (see gw_access.h).
 */
#include "gw_access.h"
#include "rt_log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

void gw_access_sanitise(char *dst, size_t cap, const char *src, size_t n)
{
    size_t i = 0;
    for (; src && i < n && src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (cap)
        dst[i] = '\0';
}

/* Appends printf output to f[*n .. cap); false when it does not fit. */
static bool __attribute__((format(printf, 4, 5)))
put_raw(char *f, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(f + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *n)
        return false;
    *n += (size_t)w;
    return true;
}

/* Appends ["," ]"key":"<escaped value>". */
static bool put_str(char *f, size_t cap, size_t *n, const char *key, const char *val)
{
    return put_raw(f, cap, n, "%s\"%s\":", *n ? "," : "", key) &&
           rt_json_str(f, cap, n, val ? val : "") == 0;
}

void gw_access_log(const gw_access_t *a)
{
    if (!rt_log_enabled(RT_LOG_INFO))
        return;
    char f[1200];
    size_t n = 0;
    bool ok = put_str(f, sizeof f, &n, "method", a->method) &&
              put_str(f, sizeof f, &n, "path", a->path) &&
              put_str(f, sizeof f, &n, "route", a->route ? a->route : "unmatched") &&
              put_raw(f, sizeof f, &n,
                      ",\"status\":%d,\"duration_ms\":%.3f,\"bytes_in\":%" PRIu64
                      ",\"bytes_out\":%" PRIu64,
                      a->status, a->duration_ms, a->bytes_in, a->bytes_out) &&
              put_str(f, sizeof f, &n, "client_ip", a->client_ip) &&
              put_str(f, sizeof f, &n, "peer", a->peer);
    if (ok && a->outcome)
        ok = put_str(f, sizeof f, &n, "outcome", a->outcome);
    rt_log_line(RT_LOG_INFO, a->rid, "request", ok ? f : NULL);
}
