/*
 * gw_range: the conditional and partial parts of a download (RFC 9110
 * sections 13 and 14): If-None-Match against the file's ETag, and one
 * byte range (a-b, a-, -n). Pure.
 */
#ifndef GW_RANGE_H
#define GW_RANGE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    GW_RANGE_NONE, /* no Range, or one to ignore (another unit, several ranges, bad syntax) */
    GW_RANGE_OK,   /* [first, last] inside the file */
    GW_RANGE_UNSATISFIED, /* 416 */
} gw_range_status_t;

/* Parses `value` (the Range header, NULL when absent) for a file of `size`
 * bytes into [*first, *last] (inclusive). */
gw_range_status_t gw_range_parse(const char *value, uint64_t size, uint64_t *first, uint64_t *last);

/* Whether If-None-Match `value` (NULL when absent) matches the entity tag
 * `etag` (its opaque part, without quotes): "*", or a listed tag, strong
 * or weak (W/). */
bool gw_range_none_match(const char *value, const char *etag);

#endif
