/*
 * proto_outage: what a caller says in its log about one backend service
 * that stops answering.
 *
 * During an outage every call to the service fails, hundreds per second
 * under load, and each of them is expected: a line per call would bury
 * everything else. So the state change is logged once, at WARNING, and the
 * rest is counted:
 *
 *   "storesvc unreachable"                          the first call that failed
 *   "storesvc back after 1234 failed calls, 8.2 s"  the first call answered after
 *
 * Each failed call gets a DEBUG line (rid, op, reason) for following one
 * request. "Answered" means any valid reply, an error reply included: the
 * service is there, and what it refused is its own business (a storesvc
 * that answers `unavailable` because PostgreSQL is down logs that itself).
 *
 * One proto_outage_t per backend service per process, shared by every
 * path that calls the service (the pools, each gateway loop's socket):
 * thread-safe, lock-free (one atomic counter; a call that succeeds while
 * nothing failed costs one relaxed load).
 */
#ifndef PROTO_OUTAGE_H
#define PROTO_OUTAGE_H

#include "proto_catalog.h"

#include <stdint.h>

typedef struct proto_outage proto_outage_t;

/* `service` (copied) names the service in the log lines, e.g. "storesvc".
 * NULL on bad arguments or OOM. */
proto_outage_t *proto_outage_new(const char *service);
void proto_outage_destroy(proto_outage_t **self_p);

/* A call of `op` got no valid reply (`why`: "service timed out", "no
 * service reachable", ...). The first failure after the service last
 * answered logs the WARNING line. `rid` may be NULL. NULL self: no-op. */
void proto_outage_failed(proto_outage_t *self, const char *rid, proto_op_t op, const char *why);

/* A call got a valid reply. Ends an outage (the "back" line) if one was
 * going on. NULL self: no-op. */
void proto_outage_answered(proto_outage_t *self);

/* Calls failed since the service last answered; 0 when it is not down. */
uint64_t proto_outage_failures(const proto_outage_t *self);

#endif
