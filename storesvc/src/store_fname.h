/*
 * store_fname: the rules for what a file's metadata may hold, checked by
 * store.file_begin whatever the caller already cleaned.
 *
 * A name is 1..PROTO_FILE_NAME_MAX bytes of UTF-8 without '/', '\', C0 or
 * C1 control characters (U+0000..U+001F, U+007F..U+009F), the line and
 * paragraph separators U+2028/U+2029, the bidirectional embeddings and
 * overrides U+202A..U+202E or isolates U+2066..U+2069 (they make
 * "evil\u202Etxt.exe" display as "evilexe.txt"), and not "." or "..". It
 * becomes a download's filename, so it must not smuggle a path or
 * reorder what a person sees.
 *
 * A content type is a media type: type "/" subtype, both RFC 9110 tokens,
 * optionally followed by parameters (; name=token or ; name="quoted"),
 * at most PROTO_FILE_TYPE_MAX bytes.
 */
#ifndef STORE_FNAME_H
#define STORE_FNAME_H

#include <stdbool.h>
#include <stddef.h>

/* `name` holds `len` bytes (need not be NUL-terminated). */
bool store_fname_valid(const char *name, size_t len);

bool store_ftype_valid(const char *type, size_t len);

#endif
