/*
 * gw_out: the bytes of an HTTP/1.1 response head, written into a fixed
 * buffer. Pure: the status line with its reason phrase, header lines, the
 * blank line. Values are checked for CR, LF and NUL (a value that carries
 * one is left out, so no caller can split a response), and a head that
 * does not fit is reported, never truncated.
 */
#ifndef GW_OUT_H
#define GW_OUT_H

#include <stdbool.h>
#include <stddef.h>

#define GW_OUT_HEAD_MAX 4096 /* bytes of a response head */

typedef struct {
    char buf[GW_OUT_HEAD_MAX];
    size_t len;
    bool overflow; /* something did not fit: the head is unusable */
} gw_out_head_t;

/* Starts a head: "HTTP/1.1 <status> <reason>". */
void gw_out_start(gw_out_head_t *h, int status);

/* Appends "name: value"; a value with CR, LF or NUL is skipped (false). */
bool gw_out_add(gw_out_head_t *h, const char *name, const char *value);

/* Appends "name: <n>". */
void gw_out_add_uint(gw_out_head_t *h, const char *name, unsigned long long n);

/* Ends the head with the empty line. Returns 0, or -1 when it overflowed. */
int gw_out_end(gw_out_head_t *h);

/* The reason phrase of `status` ("Not Found"); "Unknown" for others. */
const char *gw_out_reason(int status);

/* Whether a response with `status` may have a body (not 1xx, 204, 304). */
bool gw_out_has_body(int status);

#endif
