/*
 * gw_clientip: trusted-proxy set and client address resolution.
 *
 * Addresses are kept as raw bytes with a family; an IPv4-mapped IPv6
 * address is turned into AF_INET as soon as it is parsed, so "::ffff:10.1.2.3"
 * and "10.1.2.3" are the same address to every comparison here. Parsing is
 * inet_pton only: no hostnames, ports, brackets, zones or shorthand IPv4
 * forms ("1.2.3", "010.1.1.1") get through.
 */
#include "gw_clientip.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int family; /* AF_INET (bytes 0..3 used) or AF_INET6 */
    unsigned char a[16];
} ip_t;

typedef struct {
    ip_t ip;
    unsigned prefix; /* in bits of the (normalised) family */
} net_t;

struct gw_trusted {
    size_t n;
    net_t nets[]; /* n entries */
};

/* How a walk over X-Forwarded-For ended. */
typedef enum { WALK_NONE, WALK_FOUND, WALK_ALL_TRUSTED, WALK_BAD } walk_t;

static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Narrows [*s, *s + *n) to exclude leading and trailing spaces/tabs. */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ows(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_ows((*s)[*n - 1]))
        (*n)--;
}

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* Stores 16 IPv6 bytes, folding IPv4-mapped ones into IPv4. */
static void set_v6(ip_t *out, const unsigned char b[16])
{
    if (memcmp(b, v4mapped_prefix, sizeof v4mapped_prefix) == 0) {
        out->family = AF_INET;
        memset(out->a, 0, sizeof out->a);
        memcpy(out->a, b + 12, 4);
        return;
    }
    out->family = AF_INET6;
    memcpy(out->a, b, 16);
}

/* Parses exactly `n` bytes of `s` as an address. Returns 0 or -1. */
static int parse_ip(const char *s, size_t n, ip_t *out)
{
    char buf[GW_CLIENTIP_LEN];
    unsigned char b[16];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->a) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, b) != 1)
        return -1;
    set_v6(out, b);
    return 0;
}

/* parse_ip after trimming spaces. */
static int parse_trimmed(const char *s, size_t n, ip_t *out)
{
    trim(&s, &n);
    return parse_ip(s, n, out);
}

/* True when the first `bits` bits of a and b agree. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    size_t whole = bits / 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (bits % 8 == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - bits % 8));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

static bool contains_ip(const gw_trusted_t *self, const ip_t *ip)
{
    if (self == NULL)
        return false;
    for (size_t i = 0; i < self->n; i++) {
        const net_t *net = &self->nets[i];
        if (net->ip.family == ip->family && prefix_equal(net->ip.a, ip->a, net->prefix))
            return true;
    }
    return false;
}

static int format_ip(const ip_t *ip, char *out, size_t cap)
{
    char buf[GW_CLIENTIP_LEN];
    if (inet_ntop(ip->family, ip->a, buf, sizeof buf) == NULL)
        return -1;
    size_t len = strlen(buf);
    if (len >= cap)
        return -1;
    memcpy(out, buf, len + 1);
    return 0;
}

/* ---- the trusted set --------------------------------------------------- */

/* A prefix length: 1 to 3 decimal digits, nothing else. Returns 0 or -1. */
static int parse_prefix(const char *s, size_t n, unsigned *out)
{
    if (n == 0 || n > 3)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Splits "addr[/prefix]" and fills `net`; returns NULL or the reason it is bad. */
static const char *parse_net(const char *s, size_t n, net_t *net)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    if (parse_ip(s, alen, &net->ip) != 0)
        return "not an IPv4/IPv6 address or CIDR";
    bool mapped = net->ip.family == AF_INET && memchr(s, ':', alen) != NULL;
    unsigned text_bits = mapped ? 128 : family_bits(net->ip.family);
    unsigned prefix = text_bits;
    if (slash && parse_prefix(slash + 1, n - alen - 1, &prefix) != 0)
        return "prefix length is not a decimal number";
    if (prefix > text_bits)
        return text_bits == 32 ? "prefix length above 32" : "prefix length above 128";
    if (mapped && prefix < 96)
        return "IPv4-mapped prefix length below 96";
    net->prefix = mapped ? prefix - 96 : prefix;
    /* Host bits below the prefix are a typo more often than intent. */
    ip_t masked = net->ip;
    unsigned bits = family_bits(net->ip.family);
    for (unsigned b = net->prefix; b < bits; b++)
        masked.a[b / 8] &= (unsigned char)~(0x80u >> (b % 8));
    if (memcmp(masked.a, net->ip.a, sizeof masked.a) != 0)
        return "address has bits set below the prefix length";
    return NULL;
}

static void set_err(char *err, size_t errlen, size_t idx, const char *s, size_t n, const char *why)
{
    if (err == NULL || errlen == 0)
        return;
    int shown = n > 64 ? 64 : (int)n;
    snprintf(err, errlen, "entry %zu \"%.*s%s\": %s", idx + 1, shown, s, n > 64 ? "..." : "", why);
}

/* Parses every comma-separated element into self->nets. Returns 0 or -1. */
static int parse_list(gw_trusted_t *self, const char *csv, size_t max, char *err, size_t errlen)
{
    const char *p = csv;
    for (size_t idx = 0;; idx++) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        trim(&s, &n);
        const char *why = NULL;
        if (idx >= max)
            why = "too many entries";
        else if (n == 0)
            why = "empty element";
        else
            why = parse_net(s, n, &self->nets[idx]);
        if (why != NULL) {
            set_err(err, errlen, idx, s, n, why);
            return -1;
        }
        self->n = idx + 1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static bool is_blank(const char *s, size_t n)
{
    trim(&s, &n);
    return n == 0;
}

gw_trusted_t *gw_trusted_new(const char *csv, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    size_t len = csv ? strnlen(csv, GW_TRUSTED_MAX_CSV + 1) : 0;
    if (len > GW_TRUSTED_MAX_CSV) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "list longer than %d bytes", GW_TRUSTED_MAX_CSV);
        return NULL;
    }
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += csv[i] == ',';
    size_t max = n < GW_TRUSTED_MAX_ENTRIES ? n : GW_TRUSTED_MAX_ENTRIES;
    gw_trusted_t *self = calloc(1, sizeof *self + max * sizeof self->nets[0]);
    if (self == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!is_blank(csv ? csv : "", len) && parse_list(self, csv, max, err, errlen) != 0)
        gw_trusted_destroy(&self);
    return self;
}

void gw_trusted_destroy(gw_trusted_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free(*self_p);
    *self_p = NULL;
}

size_t gw_trusted_count(const gw_trusted_t *self)
{
    return self ? self->n : 0;
}

bool gw_trusted_contains(const gw_trusted_t *self, const char *ip)
{
    ip_t addr;
    if (ip == NULL || parse_ip(ip, strlen(ip), &addr) != 0)
        return false;
    return contains_ip(self, &addr);
}

bool gw_trusted_contains_addr(const gw_trusted_t *self, const struct sockaddr *sa)
{
    ip_t addr;
    memset(&addr, 0, sizeof addr);
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof sin);
        addr.family = AF_INET;
        memcpy(addr.a, &sin.sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof sin6);
        set_v6(&addr, sin6.sin6_addr.s6_addr);
    } else {
        return false;
    }
    return contains_ip(self, &addr);
}

/* ---- resolution -------------------------------------------------------- */

int gw_clientip_normalise(const char *ip, char *out, size_t cap)
{
    ip_t addr;
    if (out == NULL || cap == 0)
        return -1;
    out[0] = '\0';
    if (ip == NULL || parse_ip(ip, strlen(ip), &addr) != 0)
        return -1;
    return format_ip(&addr, out, cap);
}

/* Walks X-Forwarded-For right to left over at most GW_XFF_MAX_HOPS entries;
 * on WALK_FOUND `*out` is the first untrusted address. */
static walk_t walk_xff(const gw_trusted_t *trusted, const char *xff, ip_t *out)
{
    size_t len = strnlen(xff, GW_XFF_MAX_LEN + 1);
    if (len > GW_XFF_MAX_LEN)
        return WALK_BAD;
    if (is_blank(xff, len))
        return WALK_NONE;
    size_t end = len;
    for (unsigned hop = 0; hop < GW_XFF_MAX_HOPS; hop++) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        ip_t ip;
        if (parse_trimmed(xff + start, end - start, &ip) != 0)
            return WALK_BAD;
        if (!contains_ip(trusted, &ip)) {
            *out = ip;
            return WALK_FOUND;
        }
        if (start == 0)
            return WALK_ALL_TRUSTED;
        end = start - 1; /* skip the comma */
    }
    return WALK_BAD; /* a chain this long of our own proxies is not believable */
}

/* The client behind a trusted peer. */
static ip_t from_headers(const gw_trusted_t *trusted, const ip_t *peer, const char *xff,
                         const char *x_real_ip)
{
    ip_t ip;
    walk_t w = xff ? walk_xff(trusted, xff, &ip) : WALK_NONE;
    if (w == WALK_FOUND)
        return ip;
    if (w == WALK_BAD)
        return *peer;
    if (x_real_ip != NULL && parse_trimmed(x_real_ip, strlen(x_real_ip), &ip) == 0)
        return ip;
    return *peer;
}

int gw_clientip_resolve(const gw_trusted_t *trusted, const char *peer_ip, const char *xff,
                        const char *x_real_ip, char *out, size_t cap)
{
    ip_t peer;
    if (out == NULL || cap == 0)
        return -1;
    out[0] = '\0';
    if (peer_ip == NULL || parse_ip(peer_ip, strlen(peer_ip), &peer) != 0)
        return -1;
    ip_t client = contains_ip(trusted, &peer) ? from_headers(trusted, &peer, xff, x_real_ip) : peer;
    if (format_ip(&client, out, cap) != 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}
