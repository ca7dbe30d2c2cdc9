/*
 * gw_chunked: the decoder's state machine (see gw_chunked.h).
 *
 *   SIZE     hex digits of the chunk size
 *   EXT      ";name=value" extensions, skipped, until CR
 *   SIZE_LF  the LF of the size line
 *   DATA     `left` bytes of data
 *   DATA_CR, DATA_LF  the CRLF after the data
 *   TRAILER_START  CR (end of the message) or the first byte of a field
 *   TRAILER  a trailer field (ignored) until CR, TRAILER_LF its LF
 *   END_LF   the LF of the final empty line
 */
#include "gw_chunked.h"

#include <stdbool.h>

enum {
    S_SIZE,
    S_EXT,
    S_SIZE_LF,
    S_DATA,
    S_DATA_CR,
    S_DATA_LF,
    S_TRAILER_START,
    S_TRAILER,
    S_TRAILER_LF,
    S_END_LF,
    S_DONE,
    S_BAD,
};

#define SIZE_DIGITS_MAX 15 /* 2^60 - 1: far above any limit, far below overflow */

void gw_chunked_init(gw_chunked_t *c)
{
    *c = (gw_chunked_t){.state = S_SIZE};
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* One byte of the size line; false when it is malformed. */
static bool size_byte(gw_chunked_t *c, char ch)
{
    if (++c->line > GW_CHUNKED_LINE_MAX)
        return false;
    if (c->state == S_SIZE) {
        int v = hex_value(ch);
        if (v >= 0) {
            if (++c->digits > SIZE_DIGITS_MAX)
                return false;
            c->left = c->left * 16 + (uint64_t)v;
            return true;
        }
        if (c->digits == 0)
            return false;
        if (ch == ';' || ch == ' ' || ch == '\t') { /* BWS, then extensions */
            c->state = S_EXT;
            return true;
        }
        if (ch != '\r')
            return false;
        c->state = S_SIZE_LF;
        return true;
    }
    /* S_EXT: any field byte until CR. */
    if (ch == '\r') {
        c->state = S_SIZE_LF;
        return true;
    }
    return ch == '\t' || ((unsigned char)ch >= 0x20 && ch != 0x7f);
}

/* The LF that ends a size line: data follows, or the trailers. */
static void size_done(gw_chunked_t *c)
{
    c->line = 0;
    c->digits = 0;
    c->state = c->left > 0 ? S_DATA : S_TRAILER_START;
}

/* One byte of the trailer section; false when it is malformed. */
static bool trailer_byte(gw_chunked_t *c, char ch)
{
    if (++c->line > GW_CHUNKED_TRAILER_MAX)
        return false;
    switch (c->state) {
    case S_TRAILER_START:
        c->state = ch == '\r' ? S_END_LF : S_TRAILER;
        return ch == '\r' || ((unsigned char)ch > 0x20 && ch != 0x7f);
    case S_TRAILER:
        if (ch == '\r')
            c->state = S_TRAILER_LF;
        return ch == '\r' || ch == '\t' || ((unsigned char)ch >= 0x20 && ch != 0x7f);
    case S_TRAILER_LF:
        c->state = S_TRAILER_START;
        return ch == '\n';
    default: /* S_END_LF */
        c->state = S_DONE;
        return ch == '\n';
    }
}

gw_chunked_status_t gw_chunked_next(gw_chunked_t *c, const char *in, size_t n, size_t *used,
                                    const char **data, size_t *data_len)
{
    size_t i = 0;
    *data = NULL;
    *data_len = 0;
    while (i < n && c->state != S_DONE && c->state != S_BAD) {
        char ch = in[i];
        bool ok = true;
        switch (c->state) {
        case S_SIZE:
        case S_EXT:
            ok = size_byte(c, ch);
            i++;
            break;
        case S_SIZE_LF:
            ok = ch == '\n';
            i++;
            if (ok)
                size_done(c);
            break;
        case S_DATA: {
            size_t take = n - i;
            if ((uint64_t)take > c->left)
                take = (size_t)c->left;
            c->left -= take;
            if (c->left == 0)
                c->state = S_DATA_CR;
            *data = in + i;
            *data_len = take;
            *used = i + take;
            return GW_CHUNKED_DATA;
        }
        case S_DATA_CR:
            ok = ch == '\r';
            c->state = S_DATA_LF;
            i++;
            break;
        case S_DATA_LF:
            ok = ch == '\n';
            c->state = S_SIZE;
            c->left = 0;
            i++;
            break;
        default: /* the trailer states */
            ok = trailer_byte(c, ch);
            i++;
            break;
        }
        if (!ok)
            c->state = S_BAD;
    }
    *used = i;
    if (c->state == S_BAD)
        return GW_CHUNKED_BAD;
    return c->state == S_DONE ? GW_CHUNKED_DONE : GW_CHUNKED_MORE;
}
