/*
 * proto_outage: one backend's reachability as one atomic counter, the
 * number of calls that failed since the service last answered.
 *
 * The thread whose failure takes the counter from 0 to 1 is the one that
 * saw the service go away and logs it; the thread whose answer swaps a
 * non-zero counter for 0 saw it come back, and logs that with the count it
 * took. Every other call only adds one or reads zero, so neither line can
 * be written twice for one outage and no failure is lost from the count.
 * The start time is stored just after the 0 -> 1 step: an answer that
 * races into that gap reports the previous outage's start (a wrong
 * duration in a window of nanoseconds; the count stays exact).
 */
#include "proto_outage.h"
#include "rt_clock.h"
#include "rt_log.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTAGE_NAME_MAX 32

struct proto_outage {
    char service[OUTAGE_NAME_MAX];
    _Atomic uint64_t failed;    /* calls failed since the last answer; 0: up */
    _Atomic long long since_ms; /* rt_clock_ms() of the failure that began the outage */
};

proto_outage_t *proto_outage_new(const char *service)
{
    if (!service || !*service || strlen(service) >= OUTAGE_NAME_MAX)
        return NULL;
    proto_outage_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->service, sizeof self->service, "%s", service);
    atomic_init(&self->failed, 0);
    atomic_init(&self->since_ms, 0);
    return self;
}

void proto_outage_destroy(proto_outage_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void proto_outage_failed(proto_outage_t *self, const char *rid, proto_op_t op, const char *why)
{
    if (!self)
        return;
    uint64_t before = atomic_fetch_add_explicit(&self->failed, 1, memory_order_acq_rel);
    rt_log_level_t level = before == 0 ? RT_LOG_WARNING : RT_LOG_DEBUG;
    if (before == 0)
        atomic_store_explicit(&self->since_ms, rt_clock_ms(), memory_order_release);
    if (!rt_log_enabled(level))
        return;
    char msg[OUTAGE_NAME_MAX + 32];
    snprintf(msg, sizeof msg, "%s %s", self->service, before == 0 ? "unreachable" : "call failed");
    rt_log_fields(level, rid, msg,
                  json_pack("{s:s, s:s, s:s}", "service", self->service, "op", proto_op_name(op),
                            "reason", why ? why : ""));
}

void proto_outage_answered(proto_outage_t *self)
{
    /* The common case, nothing down: one relaxed load and no write, so
     * calls on many threads do not fight over the counter's cache line. */
    if (!self || atomic_load_explicit(&self->failed, memory_order_relaxed) == 0)
        return;
    uint64_t n = atomic_exchange_explicit(&self->failed, 0, memory_order_acq_rel);
    if (n == 0)
        return; /* another thread's answer ended this outage */
    long long down_ms = rt_clock_ms() - atomic_load_explicit(&self->since_ms, memory_order_acquire);
    if (down_ms < 0)
        down_ms = 0;
    char msg[OUTAGE_NAME_MAX + 96];
    snprintf(msg, sizeof msg, "%s back after %" PRIu64 " failed call%s, %.1f s", self->service, n,
             n == 1 ? "" : "s", (double)down_ms / 1000.0);
    rt_log_fields(RT_LOG_WARNING, NULL, msg,
                  json_pack("{s:s, s:I, s:I}", "service", self->service, "failed_calls",
                            (json_int_t)n, "down_ms", (json_int_t)down_ms));
}

uint64_t proto_outage_failures(const proto_outage_t *self)
{
    return self ? atomic_load_explicit(&((proto_outage_t *)self)->failed, memory_order_acquire) : 0;
}
