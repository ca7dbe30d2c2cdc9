/*
 * auth_config: authsvc's environment variables as one rt_config table, plus
 * the checks rt_config cannot express on its own (the log level word).
 * main() calls auth_config_load once and logs the one error line it returns.
 * JWT_SECRET_KEY is a secret: it never appears in an error or a log line.
 */
#ifndef AUTH_CONFIG_H
#define AUTH_CONFIG_H

#include "rt_config.h"
#include "rt_log.h"
#include "rt_metrics_server.h"

#include <stddef.h>

#define AUTH_CONFIG_SECRET_MIN 32 /* bytes of JWT_SECRET_KEY, at least (HS256 key) */
/* /metrics on loopback, next to the gateway's 9464 (rt_metrics_server.h). */
#define AUTH_METRICS_PORT_DEFAULT "9465"

typedef struct {
    char *bind;               /* AUTHSVC_BIND, a ZeroMQ endpoint */
    long workers;             /* AUTHSVC_WORKERS */
    char *storesvc_endpoints; /* STORESVC_ENDPOINTS, comma-separated */
    char *jwt_secret_key;     /* JWT_SECRET_KEY (secret) */
    long rpc_timeout_ms;      /* RPC_TIMEOUT_MS: calls to storesvc */
    long health_timeout_ms;   /* HEALTH_TIMEOUT_MS: the storesvc probe of sys.health */
    char *log_level_text;     /* LOG_LEVEL */
    long shutdown_grace_s;    /* SHUTDOWN_GRACE_SECONDS */
    char *metrics_port;       /* METRICS_PORT: where /metrics is served (rt_metrics_server.h) */

    /* Tokens. */
    char *jwt_algorithm;   /* JWT_ALGORITHM: only HS256 is supported so far */
    char *jwt_issuer;      /* JWT_ISSUER */
    char *jwt_audience;    /* JWT_AUDIENCE */
    long access_ttl_min;   /* ACCESS_TOKEN_EXPIRE_MINUTES */
    long refresh_ttl_days; /* REFRESH_TOKEN_EXPIRE_DAYS */
    long refresh_grace_s;  /* REFRESH_REUSE_GRACE_SECONDS */
    long jwt_leeway_s;     /* JWT_LEEWAY_SECONDS: clock skew tolerated on iat/nbf/exp */

    /* Accounts. */
    char *owner_username;      /* OWNER_USERNAME (optional, with the two below) */
    char *owner_password;      /* OWNER_PASSWORD (secret) */
    char *owner_email;         /* OWNER_EMAIL */
    bool registration_enabled; /* REGISTRATION_ENABLED */

    /* Breached passwords (Pwned Passwords range API, k-anonymity). */
    bool hibp_enabled;     /* HIBP_ENABLED */
    char *hibp_url;        /* HIBP_URL: the range endpoint the SHA-1 prefix is appended to */
    long hibp_timeout_ms;  /* HIBP_TIMEOUT_MS */
    bool hibp_fail_closed; /* HIBP_FAIL_CLOSED: no answer refuses the password (503) */

    /* Login brute-force limiter. */
    long login_max_failures; /* LOGIN_MAX_FAILURES */
    long login_window_s;     /* LOGIN_WINDOW_SECONDS */
    long login_cooldown_s;   /* LOGIN_COOLDOWN_SECONDS */
    long login_max_sources;  /* LOGIN_MAX_SOURCES: sources tracked at most */

    /* Per-account login limiter and device cookies (auth_acctlimit, auth_device). */
    long login_account_max_failures; /* LOGIN_ACCOUNT_MAX_FAILURES */
    long login_max_accounts;         /* LOGIN_MAX_ACCOUNTS: login names tracked at most */
    long device_cookie_days;         /* LOGIN_DEVICE_COOKIE_DAYS: a device cookie's lifetime */

    /* Second factor (auth_totp, auth_secrets). */
    char
        *totp_encryption_key; /* TOTP_ENCRYPTION_KEY (secret; unset: derived, see auth_secrets.h) */
    char *totp_issuer;        /* TOTP_ISSUER: the issuer shown by authenticator apps */

    /* API rate limiter. */
    long rate_limit_per_min;    /* RATE_LIMIT_PER_MINUTE (0: off) */
    long register_rate_per_min; /* REGISTER_RATE_LIMIT_PER_MINUTE (0: off) */
    long rate_limit_max_keys;   /* RATE_LIMIT_MAX_KEYS */
    char *rate_limit_redis_url; /* RATE_LIMIT_REDIS_URL: not supported yet, must be empty */

    /* Password hashing. */
    long argon2_t;         /* ARGON2_TIME_COST */
    long argon2_m_kib;     /* ARGON2_MEMORY_COST */
    long argon2_p;         /* ARGON2_PARALLELISM */
    long hash_workers;     /* AUTHSVC_HASH_WORKERS: the slow lane's workers */
    long hash_queue;       /* AUTHSVC_HASH_QUEUE: slow requests waiting, beyond: 503 */
    long hash_max_wait_ms; /* AUTHSVC_HASH_MAX_WAIT_MS: longest wait in that queue */

    /* User state cache for auth.authorize. */
    long cache_ttl_s; /* AUTH_CACHE_TTL_SECONDS (0: no cache) */
    long cache_size;  /* AUTH_CACHE_SIZE: users cached at most */

    /* Verified access tokens (auth_vcache). */
    long token_cache_size; /* AUTH_TOKEN_CACHE_SIZE (0: verify every time) */

    /* Password reset and its mail (auth_reset, auth_mail). */
    char *smtp_url;       /* SMTP_URL: smtp://, smtp+starttls:// or smtps://; unset: dev mode */
    char *mail_from;      /* MAIL_FROM: the sender address (required with SMTP_URL) */
    char *smtp_username;  /* SMTP_USERNAME (optional) */
    char *smtp_password;  /* SMTP_PASSWORD (secret, optional) */
    long smtp_timeout_ms; /* SMTP_TIMEOUT_MS: the whole of one SMTP transfer */
    long mail_queue_size; /* MAIL_QUEUE_SIZE: reset requests waiting for the mail worker */
    long reset_ttl_s;     /* PASSWORD_RESET_TTL_SECONDS */
    long reset_per_email_hour; /* PASSWORD_RESET_PER_EMAIL_PER_HOUR (0: off) */
    long reset_per_ip_hour;    /* PASSWORD_RESET_PER_IP_PER_HOUR (0: off) */

    /* API keys (auth_keys). */
    long apikey_cache_size;      /* AUTH_API_KEY_CACHE_SIZE (0: look every key up) */
    long apikey_used_interval_s; /* API_KEY_LAST_USED_INTERVAL_SECONDS */
    long apikey_max_per_user;    /* API_KEY_MAX_PER_USER */

    /* Tests only: the owner bootstrap waits this long before its first
     * attempt, so a test can see authsvc while its start-up is not done. */
    long test_startup_delay_ms; /* AUTHSVC_TEST_STARTUP_DELAY_MS (0: none) */

    /* Derived by auth_config_load. */
    rt_log_level_t log_level;
    rt_metrics_listen_t metrics_at; /* parsed METRICS_PORT */
} auth_config_t;

/* The variable table (for docs and tests); `*n` receives its length. */
const rt_cfg_spec_t *auth_config_specs(size_t *n);

/* Fills `cfg` from the environment (`getenv_fn` NULL: the real one).
 * Returns 0, or -1 with `err` naming the offending variable (never a secret
 * value); call auth_config_free in either case. */
int auth_config_load(auth_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err,
                     size_t errlen);

/* Frees the strings of `cfg` (wiping the secret first); safe to call twice. */
void auth_config_free(auth_config_t *cfg);

#endif
