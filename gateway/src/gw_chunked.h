/*
 * gw_chunked: an incremental decoder of the chunked transfer coding (RFC
 * 9112 section 7.1). Pure and bounded: a chunk-size line, its extensions
 * and the trailer section each have a fixed maximum, sizes are checked for
 * overflow, and every byte is consumed at most once whatever way the input
 * is split. The data is not copied: each call hands back where it lies in
 * the input.
 */
#ifndef GW_CHUNKED_H
#define GW_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define GW_CHUNKED_LINE_MAX    1024 /* bytes of a chunk-size line with its extensions */
#define GW_CHUNKED_TRAILER_MAX 8192 /* bytes of the trailer section */

typedef struct {
    int state;
    uint64_t left; /* data bytes left in the current chunk */
    size_t line;   /* bytes of the current size line or trailer section */
    int digits;    /* hex digits of the current size */
} gw_chunked_t;

typedef enum {
    GW_CHUNKED_MORE, /* every input byte used; nothing decoded: give more */
    GW_CHUNKED_DATA, /* data at *data (inside the input), *data_len bytes */
    GW_CHUNKED_DONE, /* the last chunk and the trailers are over */
    GW_CHUNKED_BAD,  /* not chunked coding (or over a bound) */
} gw_chunked_status_t;

void gw_chunked_init(gw_chunked_t *c);

/* Decodes from in[0 .. n). `*used` says how many input bytes were consumed
 * (on DATA: up to the end of the returned data; on DONE: up to the end of
 * the message, anything after it belongs to the next request). Call again
 * with the rest until MORE, DONE or BAD. */
gw_chunked_status_t gw_chunked_next(gw_chunked_t *c, const char *in, size_t n, size_t *used,
                                    const char **data, size_t *data_len);

#endif
