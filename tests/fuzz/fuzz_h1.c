/*
 * libFuzzer target for the gateway's request reading: gw_h1 (request
 * heads) and gw_chunked (chunked bodies). The input is parsed as a head
 * with every buffer capacity the server could have, and what follows the
 * head is decoded as a chunked body fed in pieces of every size from 1 to
 * 7 bytes; a parsed head must stay inside the input and point at
 * NUL-terminated strings.
 */
#include "gw_chunked.h"
#include "gw_h1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_head(const char *buf, size_t len, const gw_h1_head_t *h)
{
    if (h->head_len > len || strlen(h->method) != h->method_len || !h->target[0])
        abort();
    for (size_t i = 0; i < h->nfields; i++) {
        const gw_h1_field_t *f = &h->fields[i];
        if (f->name < buf || f->name >= buf + len || strlen(f->name) != f->name_len ||
            strlen(f->value) != f->value_len)
            abort();
    }
}

static void chunked(const char *in, size_t n, size_t step)
{
    gw_chunked_t c;
    gw_chunked_init(&c);
    size_t pos = 0, total = 0;
    while (pos < n) {
        size_t avail = n - pos < step ? n - pos : step, off = 0;
        gw_chunked_status_t st;
        do {
            size_t used, dl;
            const char *d;
            st = gw_chunked_next(&c, in + pos + off, avail - off, &used, &d, &dl);
            if (used > avail - off || (d && (d < in || d + dl > in + n)))
                abort();
            off += used;
            total += dl;
        } while (st == GW_CHUNKED_DATA);
        pos += off;
        if (st != GW_CHUNKED_MORE)
            break;
    }
    if (total > n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const gw_h1_limits_t lim = {.target_max = 256, .field_bytes_max = 512};
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    size_t caps[] = {size, size + 1, 64};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        memcpy(buf, data, size);
        size_t scanned = 0, len = size < caps[k] ? size : caps[k];
        gw_h1_head_t h;
        const char *detail;
        if (gw_h1_parse(buf, len, caps[k], &lim, &scanned, &h, &detail) == GW_H1_DONE) {
            check_head(buf, len, &h);
            for (size_t step = 1; step <= 7; step++)
                chunked((const char *)data + h.head_len, size - h.head_len, step);
        }
    }
    for (size_t step = 1; step <= 3; step++)
        chunked((const char *)data, size, step);
    free(buf);
    return 0;
}
