/*
 * proto_client: the RPC client (REQ semantics) and a thread-safe pool of them.
 *
 * A client owns one REQ socket connected to every endpoint of a comma-separated
 * list (ZeroMQ load-balances between replicas). Every call has one deadline,
 * its timeout: a reply that does not come by then is PROTO_ERR_UNAVAILABLE
 * and the socket is closed and re-created (a REQ socket that missed a reply
 * is stuck). A timed-out call is never sent again. Only when the connection
 * a request went out on breaks before the reply (the request is known lost)
 * is an op marked idempotent in the catalogue sent once more, within the
 * same deadline. Sockets get ZMQ_MAXMSGSIZE, a bounded ZMQ_LINGER,
 * ZMQ_IMMEDIATE and heartbeats. A client is used by one thread at a time;
 * proto_pool_t hands clients out to many threads.
 */
#ifndef PROTO_CLIENT_H
#define PROTO_CLIENT_H

#include "proto_codec.h"
#include "proto_outage.h"

#include <zmq.h>

typedef struct proto_client proto_client_t;

/* `zctx` is a libzmq context (zmq_ctx_new), borrowed. `endpoints` is copied.
 * Returns NULL on bad arguments or when the socket cannot be created. */
proto_client_t *proto_client_new(void *zctx, const char *endpoints, int timeout_ms,
                                 const proto_limits_t *lim);
void proto_client_destroy(proto_client_t **self_p);

/* Sends one request and waits for its reply, timeout_ms at most in all
 * (< 0: the client's default). Always fills `reply` (call
 * proto_reply_cleanup afterwards) and returns reply->err: PROTO_OK on
 * success, the service's error code, or PROTO_ERR_UNAVAILABLE when no
 * valid reply came in time. */
proto_err_t proto_client_call(proto_client_t *self, proto_op_t op, const char *rid,
                              const char *body, size_t body_len, proto_reply_t *reply,
                              int timeout_ms);

/* Every call's outcome is reported to `outage` (borrowed, NULL: none). */
void proto_client_set_outage(proto_client_t *self, proto_outage_t *outage);

/* For callers that run their own event loop (the gateway): a DEALER socket
 * with the options of a client socket (ZMQ_MAXMSGSIZE, no linger,
 * ZMQ_IMMEDIATE, heartbeats, connect timeout), connected to every endpoint
 * of the list. It sends [tag][empty][request] and gets [tag][empty][reply]
 * back (the servers echo the routing frames), so replies are matched to
 * calls by tag and late ones can be told apart. NULL on failure. */
void *proto_dealer_new(void *zctx, const char *endpoints, const proto_limits_t *lim);

/* Decodes a received reply frame `msg` into `reply`, taking the frame over
 * (msg is left empty): decoded strings point into it and it is freed with
 * the reply. Returns 0, or -1 with reply set to PROTO_ERR_UNAVAILABLE
 * ("malformed reply"). */
int proto_reply_take_msg(zmq_msg_t *msg, const proto_limits_t *lim, proto_reply_t *reply);

/* Watches `sock` for broken connections: a PAIR socket, readable when an
 * event came, that gets `sock`'s ZMQ_EVENT_DISCONNECTED events (one of its
 * connections broke: whatever was sent on it and not answered is lost).
 * `endpoint` is the inproc:// name to use, unique among live monitors.
 * NULL on failure (callers go on without: lost requests then only time out). */
void *proto_monitor_new(void *zctx, void *sock, const char *endpoint);

/* Reads every event waiting on `mon` (NULL: none); returns how many were
 * disconnects. */
int proto_monitor_drain(void *mon);

/* Stops watching `sock` and closes *mon_p (NULL-safe; sets it to NULL).
 * Call before closing `sock`. */
void proto_monitor_destroy(void *sock, void **mon_p);

typedef struct proto_pool proto_pool_t;

/* A pool of up to `size` clients to the same endpoints, created lazily.
 * Callers beyond `size` wait for a free client; that wait is part of the
 * call's timeout. */
proto_pool_t *proto_pool_new(void *zctx, const char *endpoints, int size, int timeout_ms,
                             const proto_limits_t *lim);
void proto_pool_destroy(proto_pool_t **self_p);

/* proto_client_call on a client borrowed from the pool, timeout_ms (< 0:
 * the pool's) from the moment it is called. Thread-safe. */
proto_err_t proto_pool_call(proto_pool_t *self, proto_op_t op, const char *rid, const char *body,
                            size_t body_len, proto_reply_t *reply, int timeout_ms);

/* Every call made through the pool reports to `outage` (borrowed, NULL:
 * none). Set it before the pool's first call. */
void proto_pool_set_outage(proto_pool_t *self, proto_outage_t *outage);

/* The outage tracker set on the pool, or NULL. */
proto_outage_t *proto_pool_outage(const proto_pool_t *self);

#endif
