/*
 * gw_cookie: the refresh-token cookie. Reading: find every occurrence of
 * one cookie name in a Cookie header (RFC 6265 section 5.4: "name=value"
 * pairs separated by ';', optional whitespace, a value optionally in double
 * quotes). Writing: the Set-Cookie value for a token or for clearing it.
 *
 * Browsers send a name twice when cookies of the same name exist for
 * several paths or domains (a stale cookie, or one planted by a sibling
 * subdomain). Which one is "ours" cannot be told from the header, so a
 * caller that needs one value asks gw_cookie_single, which answers only when
 * the header is unambiguous.
 */
#ifndef GW_COOKIE_H
#define GW_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

#define GW_COOKIE_VALUE_MAX  256 /* longest value kept (a refresh token is shorter) */
#define GW_COOKIE_VALUES_MAX 4   /* distinct values kept per name */

typedef struct {
    size_t seen;    /* occurrences of the name */
    size_t invalid; /* occurrences refused: empty, too long, or not cookie-octets */
    size_t n;       /* distinct valid values in `values`, in header order */
    char values[GW_COOKIE_VALUES_MAX][GW_COOKIE_VALUE_MAX + 1];
} gw_cookie_vals_t;

/* Collects the values of cookie `name` (case-sensitive) in `header` (may be
 * NULL: nothing found). Distinct valid values beyond GW_COOKIE_VALUES_MAX
 * count as seen but are not kept. */
void gw_cookie_find(const char *header, const char *name, gw_cookie_vals_t *out);

/* The value when the cookie occurred with exactly one distinct valid value
 * and no refused occurrence; NULL otherwise. Borrowed from `v`. */
const char *gw_cookie_single(const gw_cookie_vals_t *v);

/* True when `value` is 1..GW_COOKIE_VALUE_MAX cookie-octets (printable
 * ASCII without space, '"', ',', ';' and '\'). */
bool gw_cookie_value_ok(const char *value);

/* gw_cookie_format with SameSite=`samesite` ("Strict", "Lax"). */
int gw_cookie_format_samesite(char *out, size_t cap, const char *name, const char *value,
                              long max_age, const char *path, bool secure, const char *samesite);

/* Writes "name=value; HttpOnly; SameSite=Lax; Path=<path>; Max-Age=<n>"
 * (+ "; Secure") into out[cap]. `value` NULL or "" writes the clearing form
 * "name=; ...; Max-Age=0". Returns 0, or -1 when `value` is not a valid
 * cookie value, max_age < 0, or `out` is too small. */
int gw_cookie_format(char *out, size_t cap, const char *name, const char *value, long max_age,
                     const char *path, bool secure);

#endif
