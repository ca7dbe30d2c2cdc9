/*
 * proto_srvmetrics: the RPC server families every service exports, and the
 * one log line per request, both fed by proto_server's observer
 * (proto_server_config_t.observe = proto_srvmetrics_observe). proto_server
 * knows nothing of either.
 *
 *   restc_rpc_requests_total{op,outcome}      requests answered: outcome is
 *                                             "ok" or the error code
 *   restc_rpc_request_duration_seconds{op}    decode to encoded reply
 *   restc_rpc_requests_in_flight              being handled now
 *   restc_rpc_dropped_frames_total{reason}    "envelope" (not a request
 *                                             envelope, never answered) or
 *                                             "undecodable" (answered bad_request)
 *   restc_rpc_slow_refused_total{reason}      slow-lane requests answered
 *                                             unavailable unrun: busy, expired,
 *                                             shutdown
 *   restc_rpc_slow_queue_wait_seconds         time slow requests waited for a worker
 *   restc_rpc_slow_queue_depth                slow requests waiting now
 *
 * Every label value is a catalogue op name (or "unknown" for a frame that
 * names none), an error code of the error table or a fixed reason, so no
 * caller can add a series. The per-op series are resolved on first use
 * (only the ops a service answers appear) and cached in atomic slots:
 * recording is relaxed atomic operations, no lock.
 *
 * The log line (INFO, msg "rpc"): op, outcome, duration_ms, lane, the
 * request's rid as the line's rid; never a body field.
 */
#ifndef PROTO_SRVMETRICS_H
#define PROTO_SRVMETRICS_H

#include "proto_server.h"
#include "rt_metrics.h"

#define PROTO_SRVMETRICS_UNKNOWN_OP "unknown"

typedef struct proto_srvmetrics proto_srvmetrics_t;

/* Registers the families in `reg` (borrowed, outlives the result). NULL
 * when `reg` is NULL or on failure. */
proto_srvmetrics_t *proto_srvmetrics_new(rt_metrics_t *reg);

/* Frees the handles (the series belong to the registry). NULL-safe. */
void proto_srvmetrics_destroy(proto_srvmetrics_t **self_p);

/* The server whose in-flight count and slow queue the gauges read (NULL
 * to detach, before destroying the server). NULL-safe. */
void proto_srvmetrics_attach(proto_srvmetrics_t *self, proto_server_t *srv);

/* Counts one event (no log line). NULL `self` does nothing. */
void proto_srvmetrics_record(proto_srvmetrics_t *self, const proto_call_event_t *ev);

/* Writes the request's log line for ANSWERED and REFUSED events (nothing
 * for DROPPED: garbage is counted, not logged line by line). */
void proto_srvmetrics_log(const proto_call_event_t *ev);

/* A proto_observe_fn: record (when `arg`, a proto_srvmetrics_t *, is not
 * NULL, i.e. metrics are on) and log. */
void proto_srvmetrics_observe(void *arg, const proto_call_event_t *ev);

/* The label value of an op: its catalogue name or PROTO_SRVMETRICS_UNKNOWN_OP. */
const char *proto_srvmetrics_op_label(proto_op_t op);

#endif
