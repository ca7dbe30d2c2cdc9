/*
 * gw_multipart: a streaming multipart/form-data parser (RFC 7578 over RFC
 * 2046), for uploads that are never held whole in memory.
 *
 * Bytes go in as they arrive, split anywhere; events come out: the
 * headers of a new part, spans of its data (pointing into the input, or
 * into the parser for the few bytes it had to hold back while a possible
 * boundary was being matched), its end, and the end of the body. Nothing
 * is copied but a part's headers, which are bounded (GW_MP_HEADERS_MAX),
 * as are the preamble, the number of parts and the length of a boundary.
 */
#ifndef GW_MULTIPART_H
#define GW_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define GW_MP_BOUNDARY_MAX 70   /* RFC 2046 */
#define GW_MP_HEADERS_MAX  8192 /* bytes of one part's header block */
#define GW_MP_PREAMBLE_MAX 1024 /* bytes before the first boundary */
#define GW_MP_PARTS_MAX    16
#define GW_MP_NAME_MAX     128  /* the form field name */
#define GW_MP_FILENAME_MAX 1024 /* the file name as sent, before any sanitising */
#define GW_MP_TYPE_MAX     255

typedef struct {
    int state;
    char delim[4 + GW_MP_BOUNDARY_MAX + 1]; /* "\r\n--" boundary */
    size_t dlen;
    size_t matched; /* bytes of delim matched and held back */
    size_t count;   /* bytes of the preamble, the header block or the tail */
    size_t parts;
    char headers[GW_MP_HEADERS_MAX + 1];
    /* The current part, after GW_MP_PART: */
    char name[GW_MP_NAME_MAX + 1];
    char filename[GW_MP_FILENAME_MAX + 1];
    bool has_filename;
    char content_type[GW_MP_TYPE_MAX + 1];
} gw_multipart_t;

typedef enum {
    GW_MP_MORE,     /* every input byte used, nothing to report: give more */
    GW_MP_PART,     /* a part begins: name, filename, content_type are set */
    GW_MP_DATA,     /* *data_len bytes of the current part at *data */
    GW_MP_PART_END, /* the current part is complete */
    GW_MP_DONE,     /* the closing boundary: the body is complete (the rest is ignored) */
    GW_MP_BAD,      /* malformed, or over a bound */
} gw_mp_status_t;

/* Reads the boundary of a "multipart/form-data; boundary=..." value.
 * Returns 0, or -1 when it is not one (another type, no or a bad boundary). */
int gw_multipart_init(gw_multipart_t *m, const char *content_type);

/* Whether `content_type` names multipart/form-data (any parameters). */
bool gw_multipart_is_form(const char *content_type);

/* Parses from in[0 .. n); `*used` says how many input bytes were consumed.
 * Call again with the rest of the input until MORE (then with new input),
 * DONE or BAD. After DONE further input is consumed and ignored. */
gw_mp_status_t gw_multipart_next(gw_multipart_t *m, const char *in, size_t n, size_t *used,
                                 const char **data, size_t *data_len);

#endif
