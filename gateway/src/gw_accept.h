/*
 * gw_accept: the gateway's listening socket and the thread that accepts on it.
 *
 * Each accepted connection goes to a callback: gw_http hands it to the
 * event loop that has the fewest connections. Letting every loop accept on
 * a shared socket does not balance: with epoll, whichever thread wakes
 * first accepts up to ten connections in a row, and a burst of 64
 * keep-alive connections was seen landing 33 on one thread and none on
 * seven others; every request on that thread queued behind 32 others (p99
 * 6 x p50).
 *
 * Stopping: gw_accept_pause ends the thread (no more connections are taken;
 * the socket stays open so late connects wait in the backlog rather than
 * being refused mid-drain); gw_accept_destroy closes the socket.
 */
#ifndef GW_ACCEPT_H
#define GW_ACCEPT_H

#include <stdint.h>
#include <sys/socket.h>

typedef struct gw_accept gw_accept_t;

/* Takes ownership of `fd` (non-blocking, close-on-exec): handed over, the
 * callback must close it whatever happens. */
typedef void (*gw_accept_fn)(void *arg, int fd, const struct sockaddr *peer, socklen_t len);

/* Binds and listens on `addr` (SO_REUSEADDR; IPv6 sockets IPv6 only).
 * NULL on bad arguments or when the address cannot be bound (errno kept). */
gw_accept_t *gw_accept_new(const struct sockaddr *addr, socklen_t addrlen, gw_accept_fn fn,
                           void *arg);

/* The port actually bound (useful when 0 was asked). */
uint16_t gw_accept_port(const gw_accept_t *self);

/* Starts the accepting thread. Returns 0 or -1. */
int gw_accept_start(gw_accept_t *self);

/* Stops accepting and joins the thread; the socket stays open. Idempotent. */
void gw_accept_pause(gw_accept_t *self);

/* Pauses, closes the socket, frees. NULL-safe. */
void gw_accept_destroy(gw_accept_t **self_p);

#endif
