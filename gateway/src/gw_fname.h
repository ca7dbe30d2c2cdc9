/*
 * gw_fname: file names as clients send them, made safe to store and to
 * hand back in Content-Disposition.
 *
 * A stored name never carries a path (separators split it, "." and ".."
 * segments are dropped, the rest joined with '_'), control characters
 * (C0, DEL, C1), bidi overrides and isolates (U+202A..U+202E,
 * U+2066..U+2069) or zero-width marks (U+200B..U+200F), bytes that are not
 * UTF-8, or leading dots and spaces; it is at most GW_FNAME_MAX bytes, cut
 * at a character boundary with its extension kept. The object key is
 * never made from it. Pure functions.
 */
#ifndef GW_FNAME_H
#define GW_FNAME_H

#include <stddef.h>

#define GW_FNAME_MAX      255 /* bytes of a stored name */
#define GW_FNAME_FALLBACK "file"
#define GW_FNAME_IN_MAX   2048 /* bytes of input looked at: the last ones, longer names are cut */

/* Sanitises `in` (`n` bytes, may hold NUL) into out[cap >= GW_FNAME_MAX + 1];
 * an empty result becomes GW_FNAME_FALLBACK. Returns the length written. */
size_t gw_fname_sanitise(const char *in, size_t n, char *out, size_t cap);

/* The value of a Content-Disposition header for `name` (a sanitised name):
 * attachment; filename="<ASCII fallback>" and, when the name is not plain
 * ASCII, filename*=UTF-8''<percent-encoded> (RFC 6266). Returns 0, or -1
 * when it does not fit in out[cap]. */
int gw_fname_disposition(const char *name, char *out, size_t cap);

/* Decodes the percent-escapes of a query value ("+" is a space) into
 * out[cap] (may then hold NUL bytes); returns the length, or -1 when
 * malformed or too long. */
long gw_fname_unescape(const char *in, size_t n, char *out, size_t cap);

#endif
