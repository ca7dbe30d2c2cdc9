/*
 * gw_query: the query parameters of list routes (page, per_page), parsed
 * strictly from the raw query string. A parameter the route knows must
 * appear at most once, as plain decimal digits within bounds; anything else
 * is 400 bad_request rather than a guess. Unknown parameters are ignored,
 * but a malformed percent escape anywhere is refused (a key that does not
 * decode might have been one of ours).
 */
#ifndef GW_QUERY_H
#define GW_QUERY_H

#include <stdint.h>

#define GW_PAGE_DEFAULT     1
#define GW_PER_PAGE_DEFAULT 20
#define GW_PER_PAGE_MAX     100        /* larger values are capped to this */
#define GW_PAGE_MAX         2147483647 /* a larger page is 400: no table is that long */

typedef struct {
    int64_t page;
    int64_t per_page;
} gw_page_t;

/* Fills `out` from `query` (without '?'; NULL or "" gives the defaults).
 * Returns 0, or -1 with `*detail` set to a static message for the problem
 * (never quoting the input): a duplicated page/per_page, an empty,
 * non-decimal, zero, negative or overflowing value, a page above
 * GW_PAGE_MAX, or a malformed percent escape. per_page above
 * GW_PER_PAGE_MAX is capped, not refused. */
int gw_query_page(const char *query, gw_page_t *out, const char **detail);

#endif
