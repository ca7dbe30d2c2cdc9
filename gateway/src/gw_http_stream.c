/*
 * gw_http_stream: streamed request bodies and responses of the HTTP server
 * (gw_stream.h; see gw_http_int.h): a coroutine reads and writes its
 * connection's socket, yielding to the loop while it would block.
 */
#include "gw_http_int.h"

/* ---- streams (gw_stream.h) ---- */

/* Suspends the calling coroutine until its loop sees the socket ready (or
 * the sweep gives up on it). 0, or -1 with `*err`. */
static int io_wait(gw_conn_t *c, bool reading, gw_stream_err_t *err)
{
    c->io_waiter = gw_coro_current();
    c->io_reading = reading;
    c->io_err = GW_STREAM_OK;
    gw_coro_yield();
    c->io_waiter = NULL;
    if (c->io_err != GW_STREAM_OK) {
        *err = c->io_err;
        return -1;
    }
    return 0;
}

/* Sends `n` bytes, waiting while the socket is full. */
static int send_all(gw_conn_t *c, const char *data, size_t n, gw_stream_err_t *err)
{
    while (n > 0) {
        if (!c->writable && io_wait(c, false, err) != 0)
            return -1;
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w > 0) {
            data += w;
            n -= (size_t)w;
            c->io_ns = rt_clock_ns();
            if (c->req)
                c->req->bytes_out += (uint64_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->writable = false;
        } else if (!(w < 0 && errno == EINTR)) {
            *err = GW_STREAM_CLOSED;
            return -1;
        }
    }
    return 0;
}

long long gw_stream_length(const gw_stream_t *s)
{
    const gw_req_t *r = s->conn->req;
    return r->hdrs.te_count ? -1 : (long long)r->hdrs.content_length;
}

/* Body bytes from what the connection buffer holds: > 0 copied, 0 when the
 * body ended, -2 when more must be read, -1 malformed. */
static long take_buffered(gw_conn_t *c, char *buf, size_t cap)
{
    gw_req_t *r = c->req;
    while (c->rpos < c->rlen) {
        const char *in = c->rbuf + c->rpos;
        size_t avail = c->rlen - c->rpos;
        if (!r->chunked) {
            size_t take = avail < r->body_left ? avail : (size_t)r->body_left;
            take = take < cap ? take : cap;
            memcpy(buf, in, take);
            c->rpos += take;
            r->body_left -= take;
            r->body_done = r->body_left == 0;
            r->bytes_in += take;
            return (long)take;
        }
        size_t used, dlen;
        const char *data;
        gw_chunked_status_t st =
            gw_chunked_next(&r->chunk, in, avail < cap ? avail : cap, &used, &data, &dlen);
        c->rpos += used;
        if (st == GW_CHUNKED_DATA && dlen > 0) {
            memcpy(buf, data, dlen);
            r->bytes_in += dlen;
            return (long)dlen;
        }
        if (st == GW_CHUNKED_DONE) {
            r->body_done = true;
            return 0;
        }
        if (st == GW_CHUNKED_BAD)
            return -1;
    }
    return -2;
}

long gw_stream_read(gw_stream_t *s, void *buf, size_t cap, gw_stream_err_t *err)
{
    gw_conn_t *c = s->conn;
    gw_req_t *r = c->req;
    *err = GW_STREAM_OK;
    if (!gw_coro_current()) {
        *err = GW_STREAM_BUSY;
        return -1;
    }
    if (r->body_done || cap == 0)
        return 0;
    if (r->hdrs.expect_continue && r->minor == 1 && !r->continued) {
        r->continued = true;
        if (send_all(c, CONTINUE_LINE, sizeof CONTINUE_LINE - 1, err) != 0)
            return -1;
    }
    for (;;) {
        long got = take_buffered(c, buf, cap);
        if (got >= 0)
            return got;
        if (got == -1) {
            *err = GW_STREAM_BAD;
            return -1;
        }
        c->rpos = c->rlen = 0;
        int rd = gwh_conn_fill(c);
        if (rd < 0) {
            *err = GW_STREAM_CLOSED;
            return -1;
        }
        if (rd == 0 && io_wait(c, true, err) != 0)
            return -1;
    }
}

int gw_stream_start(gw_stream_t *s, int status, const char *ctype, uint64_t length,
                    const gw_stream_header_t *extra, size_t nextra, gw_stream_err_t *err)
{
    gw_conn_t *c = s->conn;
    gw_req_t *r = c->req;
    *err = GW_STREAM_OK;
    if (!gw_coro_current()) {
        *err = GW_STREAM_BUSY;
        return -1;
    }
    gw_resp_t o = {.status = status,
                   .ctype = ctype,
                   .len = (size_t)length,
                   .reply = &r->job.reply,
                   .extra = extra,
                   .nextra = nextra};
    c->keep_alive = gwh_may_keep_alive(c, r);
    gwh_add_headers(c, r, &c->out, &o);
    if (gw_out_end(&c->out) != 0) {
        *err = GW_STREAM_BAD;
        return -1;
    }
    r->status = status;
    r->stream_left = (r->head_only || !gw_out_has_body(status)) ? 0 : length;
    r->job.reply.streamed = true;
    return send_all(c, c->out.buf, c->out.len, err);
}

int gw_stream_write(gw_stream_t *s, const void *data, size_t n, gw_stream_err_t *err)
{
    gw_conn_t *c = s->conn;
    gw_req_t *r = c->req;
    *err = GW_STREAM_OK;
    if (r->head_only)
        return 0;
    if (n > r->stream_left) {
        *err = GW_STREAM_BAD;
        return -1;
    }
    if (send_all(c, data, n, err) != 0)
        return -1;
    r->stream_left -= n;
    return 0;
}
