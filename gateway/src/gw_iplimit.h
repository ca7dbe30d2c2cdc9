/*
 * gw_iplimit: open connections per client address, for
 * GATEWAY_MAX_CONNECTIONS_PER_IP across all of the gateway's event loops
 * (a count per loop would let a client open that many on each). A fixed table (linear probing,
 * backward-shift deletion, so it never fills with tombstones) sized for the connection limit:
 * addresses are entries only while they have connections open.
 */
#ifndef GW_IPLIMIT_H
#define GW_IPLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct gw_iplimit gw_iplimit_t;

/* Room for `max_addresses` distinct addresses; `per_ip` connections each
 * (0: no limit, nothing is counted). NULL on OOM or a zero size. */
gw_iplimit_t *gw_iplimit_new(size_t max_addresses, unsigned per_ip);
void gw_iplimit_destroy(gw_iplimit_t **self_p);

/* Counts a new connection from `peer`. False when that address is at its
 * limit or the table is full (refuse the connection; nothing was counted).
 * Addresses that are not IPv4/IPv6 are never limited. Thread-safe. */
bool gw_iplimit_take(gw_iplimit_t *self, const struct sockaddr *peer, socklen_t len);

/* Uncounts a connection that gw_iplimit_take admitted. Thread-safe. */
void gw_iplimit_release(gw_iplimit_t *self, const struct sockaddr *peer, socklen_t len);

/* Connections counted for `peer` now (tests). */
unsigned gw_iplimit_count(gw_iplimit_t *self, const struct sockaddr *peer, socklen_t len);

#endif
