/*
 * gw_h1: the HTTP/1.1 request head (RFC 9112 sections 2-5), parsed strictly
 * and in bounded memory. Pure: bytes in, a parsed head or a refusal out, so
 * it is unit-tested and fuzzed on its own.
 *
 * The gateway reads every byte of a request itself (gw_http) and answers
 * every refusal with problem JSON, so nothing here writes a response; a
 * refusal names the status and a detail written for people (never the
 * submitted bytes).
 *
 * Strict where leniency has been used for request smuggling or header
 * injection: lines end in CRLF (a bare CR or LF is refused), no whitespace
 * between a field name and its colon, no obs-fold continuation lines, no
 * control characters or NUL anywhere, one space between the three parts of
 * the request line. Empty lines before a request line are skipped (RFC 9112
 * section 2.2 allows clients to send one after a body).
 */
#ifndef GW_H1_H
#define GW_H1_H

#include <stdbool.h>
#include <stddef.h>

#define GW_H1_METHOD_MAX 32  /* bytes of a method token */
#define GW_H1_FIELDS_MAX 100 /* header lines in one request */

typedef struct {
    const char *name;  /* NUL-terminated, in the parsed buffer */
    const char *value; /* NUL-terminated, leading and trailing whitespace removed */
    size_t name_len, value_len;
} gw_h1_field_t;

typedef struct {
    const char *method; /* NUL-terminated, in the parsed buffer */
    const char *target; /* origin form ("/path?query"), or "*" */
    size_t method_len, target_len;
    int minor; /* HTTP/1.<minor>: 0 or 1 */
    gw_h1_field_t fields[GW_H1_FIELDS_MAX];
    size_t nfields;
    size_t field_bytes; /* sum over the fields of name + value + 4 (": " and CRLF) */
    size_t head_len;    /* bytes from the start of the buffer to the end of the head */
} gw_h1_head_t;

typedef struct {
    size_t target_max;      /* bytes of the request target; more: 414 */
    size_t field_bytes_max; /* field_bytes; more: 431 (as are more than GW_H1_FIELDS_MAX lines) */
} gw_h1_limits_t;

typedef enum {
    GW_H1_DONE,         /* a whole head; `out` filled */
    GW_H1_MORE,         /* not a whole head yet, nothing wrong so far */
    GW_H1_BAD,          /* 400: malformed */
    GW_H1_URI_TOO_LONG, /* 414 */
    GW_H1_TOO_LARGE,    /* 431 */
    GW_H1_BAD_VERSION,  /* 505: HTTP/<n>.<m> other than 1.0 and 1.1 */
} gw_h1_status_t;

/* The end of the head in buf[0 .. len): the offset just past its empty
 * line, or 0 when it has not arrived yet. `*scanned` (0 at first) carries
 * how far earlier calls looked, so a head that trickles in is scanned once. */
size_t gw_h1_head_end(const char *buf, size_t len, size_t *scanned);

/* Parses the request head at the start of buf[0 .. len). `cap` is how much
 * the caller's buffer can ever hold: a head that has not ended when `len`
 * reaches it is refused (414 when the request line has not ended, else 431).
 * On GW_H1_DONE the names, values, method and target are NUL-terminated in
 * place (buf is modified) and point into buf; on anything else `*detail`
 * says why (static text). */
gw_h1_status_t gw_h1_parse(char *buf, size_t len, size_t cap, const gw_h1_limits_t *lim,
                           size_t *scanned, gw_h1_head_t *out, const char **detail);

/* The first field named `name` (case-insensitive), NULL when none. */
const gw_h1_field_t *gw_h1_get(const gw_h1_head_t *h, const char *name);

/* How many fields are named `name`. */
size_t gw_h1_count(const gw_h1_head_t *h, const char *name);

/* Whether the comma-separated list `value` holds `token` (case-insensitive),
 * as in "Connection: keep-alive, Upgrade". */
bool gw_h1_has_token(const char *value, const char *token);

/* Parses a Content-Length value: 1*DIGIT, nothing else, at most 2^63-1.
 * Returns 0, or -1 for anything else (signs, spaces, commas, overflow). */
int gw_h1_content_length(const char *value, unsigned long long *out);

#endif
