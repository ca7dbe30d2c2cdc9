/*
 * gw_stream: a request's body and its response as byte streams, for the
 * routes that move files (GW_BODY_STREAM uploads, downloads). gw_http
 * implements it over the request's connection.
 *
 * Only on the request's coroutine (gw_coro): a read that finds nothing
 * buffered, or a write the socket cannot take, suspends the coroutine
 * until its loop sees the socket ready, so a slow client holds its own
 * request and never a loop. Memory is what the caller passes in.
 */
#ifndef GW_STREAM_H
#define GW_STREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_stream gw_stream_t;

typedef enum {
    GW_STREAM_OK = 0,
    GW_STREAM_CLOSED,  /* the client closed or reset the connection */
    GW_STREAM_TIMEOUT, /* stalled past GATEWAY_CONNECTION_TIMEOUT_SECONDS, or a body
                          not in by GATEWAY_REQUEST_TIMEOUT_SECONDS */
    GW_STREAM_BAD,     /* a malformed chunked body */
    GW_STREAM_BUSY,    /* not on a coroutine: this request cannot stream */
} gw_stream_err_t;

/* The body's Content-Length; -1 when it is chunked. */
long long gw_stream_length(const gw_stream_t *s);

/* Reads up to `cap` body bytes into `buf`: the count (> 0), 0 at the end
 * of the body, or -1 with `*err`. The first read sends "100 Continue" when
 * the client asked for it (a handler that refuses first never does). */
long gw_stream_read(gw_stream_t *s, void *buf, size_t cap, gw_stream_err_t *err);

/* One extra response header. */
typedef struct {
    const char *name, *value;
} gw_stream_header_t;

/* Starts the response: `status`, Content-Type `ctype` (may be NULL),
 * Content-Length `length`, `extra` headers, plus everything gw_http adds
 * to every answer. Exactly `length` bytes must follow through
 * gw_stream_write (for HEAD they are dropped). 0, or -1 with `*err`. */
int gw_stream_start(gw_stream_t *s, int status, const char *ctype, uint64_t length,
                    const gw_stream_header_t *extra, size_t nextra, gw_stream_err_t *err);

/* Sends `n` body bytes of the started response. 0, or -1 with `*err`. */
int gw_stream_write(gw_stream_t *s, const void *data, size_t n, gw_stream_err_t *err);

#endif
