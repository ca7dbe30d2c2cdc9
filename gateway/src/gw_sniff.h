/*
 * gw_sniff: what a browser would take an upload's first bytes for, and
 * which media types it would render or run.
 *
 * An upload declared as one type whose first bytes are HTML, script, SVG
 * or XML is refused (an "image/png" that is really <html> is stored XSS
 * waiting for a browser that sniffs). The signatures are those of the
 * WHATWG MIME Sniffing standard's HTML and XML rules, after whitespace
 * and a UTF-8 BOM, case-insensitive. Pure.
 */
#ifndef GW_SNIFF_H
#define GW_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

#define GW_SNIFF_BYTES 512 /* how much of the start is looked at */

/* Whether `data` (the first bytes, at most GW_SNIFF_BYTES are read) looks
 * like markup a browser would render: HTML, SVG, XML. */
bool gw_sniff_is_markup(const void *data, size_t n);

/* Whether a media type (parameters allowed) is one a browser renders or
 * runs: HTML, XHTML, SVG, XML, JavaScript. Such files are never served
 * inline; markup declared as another type is refused at upload. */
bool gw_sniff_type_is_active(const char *media_type);

/* Copies the bare type of `media_type` ("Image/PNG; x=y" -> "image/png")
 * into out[cap]. Returns 0, or -1 when it is not type/subtype tokens or
 * does not fit. */
int gw_sniff_bare_type(const char *media_type, char *out, size_t cap);

/* Whether `media_type`'s bare type is in the comma-separated `allowed`
 * list (entries "type/subtype", or "type/" followed by a star; a lone star
 * or an empty list allows
 * everything). */
bool gw_sniff_type_allowed(const char *media_type, const char *allowed);

#endif
