/*
 * auth_metrics: authsvc's own Prometheus families, next to the RPC server
 * families of proto_srvmetrics (which cover the hashing lane: its queue
 * depth, wait time and refusals are restc_rpc_slow_*).
 *
 * From each answered request (auth_metrics_record, fed by the server's
 * observer; label values are error codes of the error table and catalogue
 * op names, never input):
 *   restc_auth_logins_total{outcome}             auth.token: ok or its error
 *                                                code (invalid_credentials,
 *                                                login_rate_limited,
 *                                                totp_required, totp_invalid,
 *                                                account_disabled, ...)
 *   restc_auth_login_limiter_blocks_total        logins refused by a login
 *                                                limiter (per source or account)
 *   restc_auth_token_verifications_total{op,result}
 *                                                auth.authorize / auth.verify:
 *                                                ok or the error code
 *   restc_auth_rate_limited_total{op}            requests refused by the API
 *                                                rate limits (rate_limited)
 * Read when /metrics renders (callbacks on the context's objects):
 *   restc_auth_login_blocked_sources             sources blocked now
 *   restc_auth_{user,token,apikey}_cache_{hits,misses}_total
 *                                                auth_cache, auth_vcache,
 *                                                auth_keycache lookups
 *   restc_auth_mail_queue_depth, restc_auth_mail_queue_dropped_total
 *                                                auth_jobq (password-reset mail)
 *
 * Recording is relaxed atomic operations on series resolved once and
 * cached; every function accepts a NULL auth_metrics_t (metrics off).
 */
#ifndef AUTH_METRICS_H
#define AUTH_METRICS_H

#include "auth_handlers.h"
#include "proto_server.h"
#include "rt_metrics.h"

typedef struct auth_metrics auth_metrics_t;

/* Registers the families in `reg` (borrowed); `ctx` (borrowed) is read at
 * render time and must outlive the registry's last render. NULL on failure. */
auth_metrics_t *auth_metrics_new(rt_metrics_t *reg, const auth_ctx_t *ctx);

void auth_metrics_destroy(auth_metrics_t **self_p);

/* Counts what one request event says about logins, verifications and rate limits. */
void auth_metrics_record(auth_metrics_t *self, const proto_call_event_t *ev);

#endif
