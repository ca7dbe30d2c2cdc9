/*
 * auth_reset: password reset by mail.
 *
 *   auth.reset_request {email, client_ip} -> {} + rate, always, whatever
 *       the email: the request only counts the limiters and queues a job
 *       (auth_jobq), so its answer and its timing say nothing about the
 *       account. The job, on MAIL_QUEUE_SIZE's one worker: find the active
 *       account of that email; if there is one, a new token (256 random
 *       bits, base64url; storesvc keeps its SHA-256, and it replaces any
 *       earlier token of the user), valid PASSWORD_RESET_TTL_SECONDS, goes
 *       out by mail (auth_mail).
 *   auth.reset_confirm {token, new_password, client_ip} (slow lane) -> {}
 *       the new password must pass the password rules (weak_password, the
 *       token stays usable); then, at once, the token is spent, the
 *       password set, every session of the user revoked and every access
 *       token issued before now refused. A bad, used, expired or
 *       superseded token is invalid_reset_token.
 *
 * Limits, none of which answers differently for known and unknown emails:
 * the API limiter by client_ip (rate_limited, as on every route: it
 * depends on the caller's address only); PASSWORD_RESET_PER_IP_PER_HOUR
 * and PASSWORD_RESET_PER_EMAIL_PER_HOUR (keyed by a keyed BLAKE2b of the
 * normalised email, so the limiter never holds an address) answer the
 * same {} and queue nothing: a 429 there would tell a prober that someone
 * asked for this address lately. A full queue drops the job (WARNING with
 * the count of drops), still {}.
 */
#ifndef AUTH_RESET_H
#define AUTH_RESET_H

#include "auth_handlers.h"

#define AUTH_RESET_HASH_KEY_BYTES 32

/* The job of the mail worker (auth_jobq_fn): `arg` is the auth_ctx_t,
 * job->arg the normalised email. */
void auth_reset_job(void *arg, const auth_job_t *job);

#endif
