/*
 * gw_clientip: which address a request really comes from, for the login
 * limiter (docs/API.md, "Login protection").
 *
 * The TCP peer is the client unless it is one of our trusted proxies
 * (LOGIN_TRUSTED_PROXY_IPS). Then X-Forwarded-For is walked from the right,
 * skipping trusted hops, and the first untrusted address wins: everything
 * left of it was written by the client and is ignored. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) are their IPv4 address everywhere: in the
 * trusted list, the peer, the headers and the result. Needs only libc.
 *
 * A gw_trusted_t is immutable after gw_trusted_new(): lookups may run
 * concurrently from any number of threads.
 */
#ifndef GW_CLIENTIP_H
#define GW_CLIENTIP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define GW_TRUSTED_MAX_CSV     8192 /* longest LOGIN_TRUSTED_PROXY_IPS accepted */
#define GW_TRUSTED_MAX_ENTRIES 256
#define GW_XFF_MAX_LEN         8192 /* a longer X-Forwarded-For is ignored (peer used) */
#define GW_XFF_MAX_HOPS        32   /* X-Forwarded-For entries examined, from the right */
#define GW_CLIENTIP_LEN        46   /* INET6_ADDRSTRLEN: room for any result plus NUL */

typedef struct gw_trusted gw_trusted_t;

/* Parses a comma-separated list of IPv4/IPv6 addresses and CIDR blocks,
 * e.g. "10.0.0.0/8, 127.0.0.1, ::1, fd00::/8". Spaces around entries are
 * ignored; NULL or an all-blank string gives an empty set. Refused (NULL,
 * with a message in `err` that quotes the bad entry but not the variable
 * name): empty elements, invalid addresses, prefixes out of range or not
 * plain decimal, host bits set below the prefix ("10.0.0.1/8"), more than
 * GW_TRUSTED_MAX_ENTRIES entries or GW_TRUSTED_MAX_CSV bytes. `err` may be
 * NULL. The caller owns the result (gw_trusted_destroy). */
gw_trusted_t *gw_trusted_new(const char *csv, char *err, size_t errlen);

/* Frees `*self_p` and sets it to NULL. Safe on NULL. */
void gw_trusted_destroy(gw_trusted_t **self_p);

/* Number of entries in the set. */
size_t gw_trusted_count(const gw_trusted_t *self);

/* True when the textual address `ip` (no brackets, port or zone) is inside
 * the set. Invalid text and a NULL set are never trusted. */
bool gw_trusted_contains(const gw_trusted_t *self, const char *ip);

/* The same for an AF_INET / AF_INET6 socket address; other families: false. */
bool gw_trusted_contains_addr(const gw_trusted_t *self, const struct sockaddr *sa);

/* Writes the canonical text of `ip` (inet_ntop; IPv4-mapped becomes IPv4)
 * into out[cap]. Returns 0, or -1 if `ip` is not an address or cap is short. */
int gw_clientip_normalise(const char *ip, char *out, size_t cap);

/* Resolves the client address. `peer_ip` is the TCP peer in text form;
 * `xff` and `x_real_ip` are the raw header values or NULL (all borrowed).
 *  - peer not trusted (or `trusted` NULL/empty): the peer; headers ignored.
 *  - else walk X-Forwarded-For from the right, skipping trusted entries;
 *    the first untrusted entry is the client.
 *  - an entry that is not a plain address (garbage, empty, with a port,
 *    over-long header, more than GW_XFF_MAX_HOPS trusted entries before an
 *    untrusted one): the peer. A trusted proxy never writes such a list,
 *    so nothing in it can be relied on; failing closed to the proxy's own
 *    address keeps a client from choosing its limiter bucket.
 *  - no X-Forwarded-For (absent or blank), or every entry trusted:
 *    X-Real-IP if it is a valid address, else the peer.
 * `xff` must be the whole field: when a request carries several
 * X-Forwarded-For lines, join them in order with "," first (a proxy that adds
 * its own line leaves the client's line first).
 * The result is canonical text (see gw_clientip_normalise) in out[cap];
 * cap >= GW_CLIENTIP_LEN always suffices. Returns 0, or -1 if `peer_ip` is
 * invalid or `out` too small (then out is "" when cap > 0). */
int gw_clientip_resolve(const gw_trusted_t *trusted, const char *peer_ip, const char *xff,
                        const char *x_real_ip, char *out, size_t cap);

#endif
