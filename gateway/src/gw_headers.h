/*
 * gw_headers: the HTTP header values the API reads and writes, as pure
 * functions so they can be tested without a server.
 *
 * In: the bearer token of an Authorization header, and a User-Agent made
 * safe to store and log. Out: the headers a reply adds besides the ones
 * every response carries (gw_http's security headers and CORS):
 *
 *   RateLimit-Limit/-Remaining/-Reset  when a backend reported its limiter state;
 *   429 rate_limited                   Retry-After, RateLimit-Limit (when
 *                                      known), RateLimit-Remaining: 0 and
 *                                      RateLimit-Reset: <retry after>;
 *   429 login_rate_limited             Retry-After;
 *   any 401                            WWW-Authenticate: Bearer (RFC 9110
 *                                      requires a challenge on every 401);
 *   a cookie set or cleared            Set-Cookie;
 *   a file's entity tag, a range       ETag, Content-Range (304, 416).
 */
#ifndef GW_HEADERS_H
#define GW_HEADERS_H

#include "gw_handler.h"

#include <stddef.h>

#define GW_HEADERS_MAX         10
#define GW_HEADER_VALUE_MAX    GW_SET_COOKIE_MAX
#define GW_RETRY_AFTER_DEFAULT 60 /* a 429 whose backend gave no retry_after */

typedef struct {
    const char *name; /* static */
    char value[GW_HEADER_VALUE_MAX];
} gw_header_t;

typedef struct {
    size_t n;
    gw_header_t h[GW_HEADERS_MAX];
} gw_headers_t;

/* The extra headers of `reply` (success or error) into `out`. */
void gw_headers_for_reply(const gw_reply_t *reply, gw_headers_t *out);

/* The value of header `name` in `hs`, or NULL. */
const char *gw_headers_get(const gw_headers_t *hs, const char *name);

/* Extracts the token of "Bearer <token>" (scheme case-insensitive, one or
 * more spaces, RFC 6750 b64token characters, at most cap-1 bytes) into
 * out[cap]. Returns 0, or -1 for anything else (another scheme, no token,
 * stray characters, too long); then out is "". */
int gw_bearer_parse(const char *value, char *out, size_t cap);

/* The value of an X-API-Key header as forwarded to authsvc: `value`
 * itself when `count` is 1 and it is 1..GW_APIKEY_MAX printable ASCII
 * bytes without spaces, GW_APIKEY_INVALID for any other header (several,
 * empty, too long, odd bytes), NULL when there is none (`count` 0). The
 * result borrows from `value` or is static. */
const char *gw_apikey_header(const char *value, int count);

/* Copies `src` into dst[cap] keeping printable ASCII (other bytes become
 * '?') and at most cap-1 bytes. Returns the length written. */
size_t gw_sanitise_ascii(char *dst, size_t cap, const char *src);

#endif
