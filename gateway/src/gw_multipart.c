/*
 * gw_multipart: the parser's state machine (see gw_multipart.h).
 *
 * The body is scanned for the delimiter "\r\n--<boundary>". A boundary
 * holds no CR (RFC 2046 bchars), so a CR can only start a delimiter at its
 * first byte: on a mismatch the bytes matched so far are plain data (they
 * are the delimiter's own first bytes, handed out from `delim`) and only
 * the current byte needs a second look. The first delimiter may open the
 * body without the CRLF, so the preamble starts as if "\r\n" had been seen.
 */
#include "gw_multipart.h"

#include <string.h>
#include <strings.h>

enum {
    S_PREAMBLE, /* before the first delimiter: dropped */
    S_AFTER,    /* right after a delimiter: "--" or (whitespace) CRLF */
    S_AFTER_DASH,
    S_AFTER_CR,
    S_HEADERS, /* a part's header block, up to the empty line */
    S_BODY,
    S_DONE,
    S_BAD,
};

static const char BCHARS[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "'()+_,-./:=? ";

bool gw_multipart_is_form(const char *ct)
{
    static const char form[] = "multipart/form-data";
    if (!ct)
        return false;
    ct += strspn(ct, " \t");
    return strncasecmp(ct, form, sizeof form - 1) == 0 &&
           (ct[sizeof form - 1] == '\0' || ct[sizeof form - 1] == ';' ||
            ct[sizeof form - 1] == ' ');
}

/* The value of parameter `name` in "type; a=b; name=value" (token or
 * quoted-string) into out[cap]; -1 when absent or too long. */
static int param(const char *v, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strchr(v, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1 + strspn(p + 1, " \t");
        if (strncasecmp(q, name, nl) != 0 || q[nl] != '=')
            continue;
        q += nl + 1;
        size_t n = 0;
        if (*q == '"') {
            for (q++; *q && *q != '"'; q++) {
                if (*q == '\\' && q[1])
                    q++;
                if (n + 1 >= cap)
                    return -1;
                out[n++] = *q;
            }
            if (*q != '"')
                return -1;
        } else {
            size_t k = strcspn(q, "; \t");
            if (k + 1 > cap)
                return -1;
            memcpy(out, q, k);
            n = k;
        }
        out[n] = '\0';
        return 0;
    }
    return -1;
}

int gw_multipart_init(gw_multipart_t *m, const char *content_type)
{
    char b[GW_MP_BOUNDARY_MAX + 2];
    memset(m, 0, offsetof(gw_multipart_t, headers));
    if (!gw_multipart_is_form(content_type) || param(content_type, "boundary", b, sizeof b) != 0)
        return -1;
    size_t n = strlen(b);
    if (n < 1 || n > GW_MP_BOUNDARY_MAX || strspn(b, BCHARS) != n || b[n - 1] == ' ')
        return -1;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, b, n + 1);
    m->dlen = n + 4;
    m->state = S_PREAMBLE;
    m->matched = 2; /* the first delimiter may open the body without its CRLF */
    return 0;
}

/* RFC 5987 ext-value "UTF-8''percent%20encoded" into out[cap]; -1 if not. */
static int ext_value(const char *v, char *out, size_t cap)
{
    const char *q = strstr(v, "''");
    if (!q || (size_t)(q - v) != 5 || strncasecmp(v, "utf-8", 5) != 0)
        return -1;
    size_t n = 0;
    for (q += 2; *q; q++) {
        unsigned c = (unsigned char)*q;
        if (c == '%') {
            unsigned hi, lo;
            const char *hex = "0123456789abcdef";
            const char *h1 = q[1] ? strchr(hex, q[1] | 0x20) : NULL;
            const char *h2 = h1 && q[2] ? strchr(hex, q[2] | 0x20) : NULL;
            if (!h1 || !h2)
                return -1;
            hi = (unsigned)(h1 - hex);
            lo = (unsigned)(h2 - hex);
            c = hi * 16 + lo;
            q += 2;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

/* Parses the header block of a part: Content-Disposition (form-data, name,
 * filename or filename*) and Content-Type. false when malformed. */
static bool parse_part_headers(gw_multipart_t *m)
{
    m->name[0] = m->filename[0] = m->content_type[0] = '\0';
    m->has_filename = false;
    bool disposition = false;
    for (char *line = m->headers; *line;) {
        char *eol = strstr(line, "\r\n");
        if (!eol)
            return false;
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            return false;
        *colon = '\0';
        char *v = colon + 1 + strspn(colon + 1, " \t");
        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (disposition || strncasecmp(v, "form-data", 9) != 0)
                return false;
            disposition = true;
            if (param(v, "name", m->name, sizeof m->name) != 0)
                return false;
            char ext[GW_MP_FILENAME_MAX * 3 + 16];
            if (param(v, "filename*", ext, sizeof ext) == 0 &&
                ext_value(ext, m->filename, sizeof m->filename) == 0)
                m->has_filename = true;
            else if (param(v, "filename", m->filename, sizeof m->filename) == 0)
                m->has_filename = true;
        } else if (strcasecmp(line, "Content-Type") == 0) {
            size_t n = strlen(v);
            if (n > GW_MP_TYPE_MAX)
                return false;
            memcpy(m->content_type, v, n + 1);
        }
        line = eol + 2;
    }
    return disposition;
}

/* Scans for the delimiter (preamble or body). Returns DATA (body bytes),
 * PART_END (delimiter found), MORE, or BAD (preamble too long). */
static gw_mp_status_t scan(gw_multipart_t *m, const char *in, size_t n, size_t *i,
                           const char **data, size_t *data_len)
{
    bool body = m->state == S_BODY;
    while (*i < n) {
        if (m->matched > 0) {
            if (in[*i] == m->delim[m->matched]) {
                (*i)++;
                if (++m->matched == m->dlen) {
                    m->matched = 0;
                    m->count = 0;
                    m->state = S_AFTER;
                    return body ? GW_MP_PART_END : GW_MP_MORE;
                }
                continue;
            }
            size_t held = m->matched; /* not a delimiter: those bytes are data */
            m->matched = 0;
            if (body) {
                *data = m->delim;
                *data_len = held;
                return GW_MP_DATA;
            }
            if ((m->count += held) > GW_MP_PREAMBLE_MAX)
                return GW_MP_BAD;
            continue;
        }
        const char *cr = memchr(in + *i, '\r', n - *i);
        size_t run = cr ? (size_t)(cr - (in + *i)) : n - *i;
        if (run == 0) {
            m->matched = 1;
            (*i)++;
            continue;
        }
        const char *start = in + *i;
        *i += run;
        if (body) {
            *data = start;
            *data_len = run;
            return GW_MP_DATA;
        }
        if ((m->count += run) > GW_MP_PREAMBLE_MAX)
            return GW_MP_BAD;
    }
    return GW_MP_MORE;
}

/* One byte after a delimiter. */
static gw_mp_status_t after_byte(gw_multipart_t *m, char c)
{
    switch (m->state) {
    case S_AFTER:
        if (c == '-') {
            m->state = S_AFTER_DASH;
        } else if (c == '\r') {
            m->state = S_AFTER_CR;
        } else if (c != ' ' && c != '\t') {
            return GW_MP_BAD;
        } else if (++m->count > 64) {
            return GW_MP_BAD; /* transport padding without end */
        }
        return GW_MP_MORE;
    case S_AFTER_DASH:
        if (c != '-')
            return GW_MP_BAD;
        m->state = S_DONE;
        return GW_MP_DONE;
    default: /* S_AFTER_CR */
        if (c != '\n' || ++m->parts > GW_MP_PARTS_MAX)
            return GW_MP_BAD;
        m->state = S_HEADERS;
        m->count = 0;
        return GW_MP_MORE;
    }
}

/* Header bytes up to the empty line; PART when the block is complete. */
static gw_mp_status_t header_bytes(gw_multipart_t *m, const char *in, size_t n, size_t *i)
{
    while (*i < n) {
        if (m->count == GW_MP_HEADERS_MAX)
            return GW_MP_BAD;
        char c = in[(*i)++];
        if (c == '\0')
            return GW_MP_BAD;
        m->headers[m->count++] = c;
        m->headers[m->count] = '\0';
        bool empty_block = m->count == 2 && memcmp(m->headers, "\r\n", 2) == 0;
        bool end = m->count >= 4 && memcmp(m->headers + m->count - 4, "\r\n\r\n", 4) == 0;
        if (empty_block || end) {
            m->headers[empty_block ? 0 : m->count - 2] = '\0'; /* keep each line's CRLF */
            if (!parse_part_headers(m))
                return GW_MP_BAD;
            m->state = S_BODY;
            m->count = 0;
            return GW_MP_PART;
        }
    }
    return GW_MP_MORE;
}

gw_mp_status_t gw_multipart_next(gw_multipart_t *m, const char *in, size_t n, size_t *used,
                                 const char **data, size_t *data_len)
{
    size_t i = 0;
    gw_mp_status_t st = GW_MP_MORE;
    *data = NULL;
    *data_len = 0;
    while (i < n && st == GW_MP_MORE) {
        switch (m->state) {
        case S_PREAMBLE:
        case S_BODY:
            st = scan(m, in, n, &i, data, data_len);
            break;
        case S_AFTER:
        case S_AFTER_DASH:
        case S_AFTER_CR:
            st = after_byte(m, in[i++]);
            break;
        case S_HEADERS:
            st = header_bytes(m, in, n, &i);
            break;
        case S_DONE:
            i = n; /* the epilogue is ignored */
            st = GW_MP_DONE;
            break;
        default:
            st = GW_MP_BAD;
            break;
        }
    }
    if (st == GW_MP_BAD)
        m->state = S_BAD;
    if (m->state == S_BAD)
        st = GW_MP_BAD;
    *used = i;
    return st;
}
