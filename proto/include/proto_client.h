/*
 * proto_client: the RPC client (REQ semantics) and a thread-safe pool of them.
 *
 * A client owns one REQ socket connected to every endpoint of a comma-separated
 * list (ZeroMQ load-balances between replicas). Every call has a receive
 * timeout; a reply that does not come in time is PROTO_ERR_UNAVAILABLE and the
 * socket is closed and re-created (a REQ socket that missed a reply is stuck).
 * Only ops marked idempotent in the catalogue are retried (once) after a
 * timeout. Sockets get ZMQ_MAXMSGSIZE, a bounded ZMQ_LINGER, ZMQ_IMMEDIATE and
 * heartbeats. A client is used by one thread at a time; proto_pool_t hands
 * clients out to many threads.
 */
#ifndef PROTO_CLIENT_H
#define PROTO_CLIENT_H

#include "proto_codec.h"

#include <zmq.h>

typedef struct proto_client proto_client_t;

/* `zctx` is a libzmq context (zmq_ctx_new), borrowed. `endpoints` is copied.
 * Returns NULL on bad arguments or when the socket cannot be created. */
proto_client_t *proto_client_new(void *zctx, const char *endpoints, int timeout_ms,
                                 const proto_limits_t *lim);
void proto_client_destroy(proto_client_t **self_p);

/* Sends one request and waits for its reply (timeout_ms < 0: the client's
 * default). Always fills `reply` (call proto_reply_cleanup afterwards) and
 * returns reply->err: PROTO_OK on success, the service's error code, or
 * PROTO_ERR_UNAVAILABLE when no valid reply came in time. */
proto_err_t proto_client_call(proto_client_t *self, proto_op_t op, const char *rid,
                              const char *body, size_t body_len, proto_reply_t *reply,
                              int timeout_ms);

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

typedef struct proto_pool proto_pool_t;

/* A pool of up to `size` clients to the same endpoints, created lazily.
 * Callers beyond `size` wait for a free client. */
proto_pool_t *proto_pool_new(void *zctx, const char *endpoints, int size, int timeout_ms,
                             const proto_limits_t *lim);
void proto_pool_destroy(proto_pool_t **self_p);

/* proto_client_call on a client borrowed from the pool. Thread-safe. */
proto_err_t proto_pool_call(proto_pool_t *self, proto_op_t op, const char *rid, const char *body,
                            size_t body_len, proto_reply_t *reply, int timeout_ms);

#endif
