/*
 * auth_handlers: authsvc's op table and the context the handlers share.
 * Everything in the context is either immutable after start (configuration,
 * the JWT signer, the hasher) or thread-safe on its own (the pools, the
 * limiters, the cache), so handlers on any worker may use it at once.
 */
#ifndef AUTH_HANDLERS_H
#define AUTH_HANDLERS_H

#include "auth_acctlimit.h"
#include "auth_cache.h"
#include "auth_secrets.h"
#include "auth_vcache.h"
#include "auth_config.h"
#include "auth_hash.h"
#include "auth_jobq.h"
#include "auth_jwt.h"
#include "auth_breach.h"
#include "auth_keycache.h"
#include "auth_limiter.h"
#include "auth_mail.h"
#include "auth_ratelimit.h"
#include "proto_client.h"
#include "proto_server.h"

#include <stdatomic.h>

typedef struct {
    const auth_config_t *cfg;      /* borrowed */
    proto_pool_t *storesvc;        /* borrowed; thread-safe */
    auth_jwt_t *jwt;               /* immutable */
    auth_hash_t *hash;             /* immutable */
    auth_cache_t *cache;           /* user admission state; NULL when AUTH_CACHE_TTL_SECONDS=0 */
    auth_vcache_t *vcache;         /* verified access tokens; NULL when AUTH_TOKEN_CACHE_SIZE=0 */
    auth_limiter_t *login_limiter; /* per source IP (and per user for password changes) */
    auth_acctlimit_t *account_limiter; /* per login name, any source (and per device cookie) */
    auth_secrets_t *secrets;           /* TOTP sealing, backup-code hashing, device cookies */
    auth_ratelimit_t *api_limit;       /* RATE_LIMIT_PER_MINUTE */
    auth_ratelimit_t *register_limit;  /* REGISTER_RATE_LIMIT_PER_MINUTE */
    auth_breach_t *breach;             /* HIBP_ENABLED: the breached-password check; else NULL */
    atomic_bool *started;              /* borrowed: set once the start-up work (the owner
                                          bootstrap) is done; sys.health is not ok before */
    /* Password reset (auth_reset) and API keys (auth_keys). */
    auth_ratelimit_t *reset_ip_limit;    /* PASSWORD_RESET_PER_IP_PER_HOUR */
    auth_ratelimit_t *reset_email_limit; /* PASSWORD_RESET_PER_EMAIL_PER_HOUR */
    unsigned char reset_hash_key[32];    /* keys the email hash of that limiter */
    auth_jobq_t *jobq;                   /* the mail worker and its bounded queue */
    auth_mailer_t *mailer;               /* SMTP or dev-mode log; the mail worker's only */
    auth_keycache_t *keycache;           /* verified API keys; NULL when off */
} auth_ctx_t;

/* The handler table (static); `*n` receives its length. */
const proto_handler_t *auth_handlers(size_t *n);

/* The ops, by module (handler signature of proto_server.h). */
#define AUTH_HANDLER(name)                                                                         \
    proto_err_t name(const proto_call_ctx_t *cc, const proto_request_t *req, msgpack_packer *body, \
                     proto_fail_t *fail)

/* auth_flows.c: the public flows. */
AUTH_HANDLER(auth_op_register);
AUTH_HANDLER(auth_op_token);
AUTH_HANDLER(auth_op_refresh);
AUTH_HANDLER(auth_op_logout);

/* auth_admit.c: admission. */
AUTH_HANDLER(auth_op_authorize);
AUTH_HANDLER(auth_op_verify);

/* auth_account.c: on behalf of an authorised principal. */
AUTH_HANDLER(auth_op_logout_all);
AUTH_HANDLER(auth_op_sessions);
AUTH_HANDLER(auth_op_session_revoke);
AUTH_HANDLER(auth_op_update_self);
AUTH_HANDLER(auth_op_change_password);
AUTH_HANDLER(auth_op_user_update);
AUTH_HANDLER(auth_op_user_delete);
AUTH_HANDLER(auth_op_stats);

/* auth_reset.c: password reset. */
AUTH_HANDLER(auth_op_reset_request);
AUTH_HANDLER(auth_op_reset_confirm);

/* auth_keys.c: API keys of the principal. */
AUTH_HANDLER(auth_op_apikey_create);
AUTH_HANDLER(auth_op_apikey_list);
AUTH_HANDLER(auth_op_apikey_delete);
/* auth_twofa.c: the caller's second factor. */
AUTH_HANDLER(auth_op_totp_setup);
AUTH_HANDLER(auth_op_totp_enable);
AUTH_HANDLER(auth_op_totp_disable);

#endif
