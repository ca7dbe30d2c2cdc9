/*
 * gw_access: the access log, one JSON line per request at INFO: method,
 * path (never the query string, which may carry credentials), the route
 * template it matched, status, duration, bytes read and written, client
 * IP, TCP peer and, when the request did not end with its
 * response sent, how it ended. Formatted by hand into a stack buffer: it is
 * the hottest log line there is (a jansson tree for it cost a quarter of
 * /healthz throughput).
 */
#ifndef GW_ACCESS_H
#define GW_ACCESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *rid;
    const char *method, *path; /* printable ASCII (gw_access_sanitise) */
    const char *route;         /* the route table's pattern, or NULL when none matched */
    int status;                /* 0: no response was sent */
    uint64_t bytes_in, bytes_out;
    double duration_ms;
    const char *client_ip, *peer;
    const char *outcome; /* NULL: completed */
} gw_access_t;

void gw_access_log(const gw_access_t *a);

/* Copies at most `n` bytes of `src` (stopping at NUL) into dst[cap],
 * printable ASCII only (other bytes become '?'), so log lines stay valid
 * JSON and single-line. */
void gw_access_sanitise(char *dst, size_t cap, const char *src, size_t n);

#endif
