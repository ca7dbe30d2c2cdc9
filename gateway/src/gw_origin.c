/*
 * gw_origin: the cookie-origin rule (see gw_origin.h).
 */
#include "gw_origin.h"

#include <string.h>
#include <strings.h>

const char *gw_origin_listed(const char *origin, char *const *allowed, size_t nallowed)
{
    for (size_t i = 0; origin && i < nallowed; i++)
        if (strcasecmp(origin, allowed[i]) == 0)
            return allowed[i];
    return NULL;
}

/* "http://<host>" or "https://<host>", the Host compared case-insensitively. */
static bool same_origin(const char *origin, const char *host)
{
    static const char *const schemes[] = {"http://", "https://"};
    if (!host || !*host)
        return false;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t sl = strlen(schemes[i]);
        if (strncasecmp(origin, schemes[i], sl) == 0 && strcasecmp(origin + sl, host) == 0)
            return true;
    }
    return false;
}

bool gw_origin_may_use_cookie(const char *origin, const char *fetch_site, const char *host,
                              char *const *allowed, size_t nallowed)
{
    if (origin)
        return same_origin(origin, host) || gw_origin_listed(origin, allowed, nallowed) != NULL;
    return !fetch_site || strcasecmp(fetch_site, "cross-site") != 0;
}
