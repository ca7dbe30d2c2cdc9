/*
 * gw_origin: which browser origins may use the refresh-token cookie.
 *
 * The cookie is SameSite=Lax, which a browser still attaches to a simple
 * cross-origin POST from another origin of the same site (a sibling
 * subdomain): without a check, such a page could log the user out or
 * rotate their session (cross-site request forgery). A request that would
 * authenticate with the cookie is accepted only when it carries no Origin
 * (not a browser, or a browser that sends none for same-origin requests)
 * or an Origin that is the API's own (scheme://<the Host of the request>)
 * or one listed in CORS_ORIGINS; without an Origin, only when the browser's
 * Sec-Fetch-Site does not say "cross-site". Pure, so the rule is tested on its own.
 */
#ifndef GW_ORIGIN_H
#define GW_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

/* `origin`, `fetch_site` and `host` may be NULL (header absent). `allowed`
 * holds the CORS_ORIGINS entries. */
bool gw_origin_may_use_cookie(const char *origin, const char *fetch_site, const char *host,
                              char *const *allowed, size_t nallowed);

/* The CORS_ORIGINS entry equal to `origin` (case-insensitive), or NULL. */
const char *gw_origin_listed(const char *origin, char *const *allowed, size_t nallowed);

#endif
