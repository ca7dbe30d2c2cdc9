/*
 * auth_config: the authsvc configuration table. Every integer has bounds,
 * so a typo fails at start with the variable's name instead of later.
 */
#include "auth_config.h"

#include "auth_mail.h"
#include "auth_password.h"
#include "auth_secrets.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define F(field) offsetof(auth_config_t, field)

static const rt_cfg_spec_t auth_specs[] = {
    {"AUTHSVC_BIND", RT_CFG_ENDPOINT_LIST, false, "tcp://127.0.0.1:7001", 0, 1024, F(bind)},
    {"AUTHSVC_WORKERS", RT_CFG_INT, false, "8", 1, 64, F(workers)},
    {"STORESVC_ENDPOINTS", RT_CFG_ENDPOINT_LIST, false, "tcp://127.0.0.1:7002", 0, 4096,
     F(storesvc_endpoints)},
    {"JWT_SECRET_KEY", RT_CFG_SECRET, true, NULL, AUTH_CONFIG_SECRET_MIN, 4096, F(jwt_secret_key)},
    {"RPC_TIMEOUT_MS", RT_CFG_INT, false, "5000", 10, 600000, F(rpc_timeout_ms)},
    {"HEALTH_TIMEOUT_MS", RT_CFG_INT, false, "1000", 10, 60000, F(health_timeout_ms)},
    {"LOG_LEVEL", RT_CFG_STR, false, "INFO", 1, 16, F(log_level_text)},
    {"SHUTDOWN_GRACE_SECONDS", RT_CFG_INT, false, "30", 0, 3600, F(shutdown_grace_s)},
    {"JWT_ALGORITHM", RT_CFG_STR, false, "HS256", 1, 16, F(jwt_algorithm)},
    {"JWT_ISSUER", RT_CFG_STR, false, "restc", 1, 255, F(jwt_issuer)},
    {"JWT_AUDIENCE", RT_CFG_STR, false, "restc-api", 1, 255, F(jwt_audience)},
    {"ACCESS_TOKEN_EXPIRE_MINUTES", RT_CFG_INT, false, "15", 1, 1440, F(access_ttl_min)},
    {"REFRESH_TOKEN_EXPIRE_DAYS", RT_CFG_INT, false, "7", 1, 365, F(refresh_ttl_days)},
    {"REFRESH_REUSE_GRACE_SECONDS", RT_CFG_INT, false, "10", 0, 300, F(refresh_grace_s)},
    {"JWT_LEEWAY_SECONDS", RT_CFG_INT, false, "30", 0, 300, F(jwt_leeway_s)},
    {"OWNER_USERNAME", RT_CFG_STR, false, NULL, 0, 255, F(owner_username)},
    {"OWNER_PASSWORD", RT_CFG_SECRET, false, NULL, 0, 1024, F(owner_password)},
    {"OWNER_EMAIL", RT_CFG_STR, false, NULL, 0, 512, F(owner_email)},
    {"REGISTRATION_ENABLED", RT_CFG_BOOL, false, "true", 0, 0, F(registration_enabled)},
    {"HIBP_ENABLED", RT_CFG_BOOL, false, "false", 0, 0, F(hibp_enabled)},
    {"HIBP_URL", RT_CFG_STR, false, "https://api.pwnedpasswords.com/range/", 8, 1024, F(hibp_url)},
    {"HIBP_TIMEOUT_MS", RT_CFG_INT, false, "2000", 50, 60000, F(hibp_timeout_ms)},
    {"HIBP_FAIL_CLOSED", RT_CFG_BOOL, false, "false", 0, 0, F(hibp_fail_closed)},
    {"LOGIN_MAX_FAILURES", RT_CFG_INT, false, "5", 1, 1000, F(login_max_failures)},
    {"LOGIN_WINDOW_SECONDS", RT_CFG_INT, false, "300", 1, 31536000, F(login_window_s)},
    {"LOGIN_COOLDOWN_SECONDS", RT_CFG_INT, false, "900", 1, 31536000, F(login_cooldown_s)},
    {"LOGIN_MAX_SOURCES", RT_CFG_INT, false, "100000", 1, 67108864, F(login_max_sources)},
    {"LOGIN_ACCOUNT_MAX_FAILURES", RT_CFG_INT, false, "10", 1, 1000, F(login_account_max_failures)},
    {"LOGIN_MAX_ACCOUNTS", RT_CFG_INT, false, "100000", 1, 67108864, F(login_max_accounts)},
    {"LOGIN_DEVICE_COOKIE_DAYS", RT_CFG_INT, false, "365", 1, 3650, F(device_cookie_days)},
    {"TOTP_ENCRYPTION_KEY", RT_CFG_SECRET, false, NULL, 0, 128, F(totp_encryption_key)},
    {"TOTP_ISSUER", RT_CFG_STR, false, "restc", 1, 64, F(totp_issuer)},
    {"RATE_LIMIT_PER_MINUTE", RT_CFG_INT, false, "600", 0, 1000000, F(rate_limit_per_min)},
    {"REGISTER_RATE_LIMIT_PER_MINUTE", RT_CFG_INT, false, "3", 0, 1000000,
     F(register_rate_per_min)},
    {"RATE_LIMIT_MAX_KEYS", RT_CFG_INT, false, "100000", 1, 67108864, F(rate_limit_max_keys)},
    {"RATE_LIMIT_REDIS_URL", RT_CFG_STR, false, NULL, 0, 1024, F(rate_limit_redis_url)},
    {"ARGON2_TIME_COST", RT_CFG_INT, false, "3", 1, 100, F(argon2_t)},
    {"ARGON2_MEMORY_COST", RT_CFG_INT, false, "65536", 8, 4194304, F(argon2_m_kib)},
    {"ARGON2_PARALLELISM", RT_CFG_INT, false, "4", 1, 64, F(argon2_p)},
    {"AUTHSVC_HASH_WORKERS", RT_CFG_INT, false, "2", 1, 256, F(hash_workers)},
    {"AUTHSVC_HASH_QUEUE", RT_CFG_INT, false, "64", 0, 65536, F(hash_queue)},
    {"AUTHSVC_HASH_MAX_WAIT_MS", RT_CFG_INT, false, "3000", 0, 600000, F(hash_max_wait_ms)},
    {"AUTH_CACHE_TTL_SECONDS", RT_CFG_INT, false, "10", 0, 3600, F(cache_ttl_s)},
    {"AUTH_CACHE_SIZE", RT_CFG_INT, false, "65536", 16, 16777216, F(cache_size)},
    {"AUTH_TOKEN_CACHE_SIZE", RT_CFG_INT, false, "16384", 0, 16777216, F(token_cache_size)},
    {"AUTHSVC_TEST_STARTUP_DELAY_MS", RT_CFG_INT, false, "0", 0, 60000, F(test_startup_delay_ms)},
    /* password reset and mail */
    {"SMTP_URL", RT_CFG_STR, false, NULL, 0, 1024, F(smtp_url)},
    {"MAIL_FROM", RT_CFG_STR, false, NULL, 0, 254, F(mail_from)},
    {"SMTP_USERNAME", RT_CFG_STR, false, NULL, 0, 255, F(smtp_username)},
    {"SMTP_PASSWORD", RT_CFG_SECRET, false, NULL, 0, 1024, F(smtp_password)},
    {"SMTP_TIMEOUT_MS", RT_CFG_INT, false, "10000", 100, 300000, F(smtp_timeout_ms)},
    {"MAIL_QUEUE_SIZE", RT_CFG_INT, false, "256", 1, 65536, F(mail_queue_size)},
    {"PASSWORD_RESET_TTL_SECONDS", RT_CFG_INT, false, "1800", 1, 86400, F(reset_ttl_s)},
    {"PASSWORD_RESET_PER_EMAIL_PER_HOUR", RT_CFG_INT, false, "3", 0, 1000000,
     F(reset_per_email_hour)},
    {"PASSWORD_RESET_PER_IP_PER_HOUR", RT_CFG_INT, false, "20", 0, 1000000, F(reset_per_ip_hour)},
    /* API keys */
    {"AUTH_API_KEY_CACHE_SIZE", RT_CFG_INT, false, "4096", 0, 4194304, F(apikey_cache_size)},
    {"API_KEY_LAST_USED_INTERVAL_SECONDS", RT_CFG_INT, false, "60", 1, 86400,
     F(apikey_used_interval_s)},
    {"API_KEY_MAX_PER_USER", RT_CFG_INT, false, "100", 1, 10000, F(apikey_max_per_user)},
    RT_METRICS_CFG_SPEC(AUTH_METRICS_PORT_DEFAULT, F(metrics_port)),
};
#define AUTH_NSPECS (sizeof auth_specs / sizeof auth_specs[0])

const rt_cfg_spec_t *auth_config_specs(size_t *n)
{
    *n = AUTH_NSPECS;
    return auth_specs;
}

static bool set(const char *s)
{
    return s && *s;
}

/* SMTP_URL names its transport by scheme (auth_mail.h); with it, MAIL_FROM
 * is required, and a password never goes over a connection without TLS. */
static int check_mail_rules(const auth_config_t *cfg, char *err, size_t errlen)
{
    auth_mail_tls_t tls;
    char url[1100], from[AUTH_EMAIL_BUF];
    if (!set(cfg->smtp_url)) {
        if (set(cfg->smtp_username) || set(cfg->smtp_password)) {
            snprintf(err, errlen, "SMTP_USERNAME / SMTP_PASSWORD need SMTP_URL");
            return -1;
        }
        return 0;
    }
    if (auth_mail_url_parse(cfg->smtp_url, url, sizeof url, &tls) != 0) {
        snprintf(err, errlen,
                 "SMTP_URL must be smtp://host[:port], smtp+starttls://host[:port] or "
                 "smtps://host[:port]");
        return -1;
    }
    if (set(cfg->smtp_password) && tls == AUTH_MAIL_TLS_NONE) {
        snprintf(err, errlen,
                 "SMTP_PASSWORD would cross smtp:// in clear: use smtp+starttls:// or smtps://");
        return -1;
    }
    if (!set(cfg->mail_from) || auth_email_normalise(cfg->mail_from, from, sizeof from) != 0) {
        snprintf(err, errlen, "MAIL_FROM must be a valid email address when SMTP_URL is set");
        return -1;
    }
    return 0;
}

/* Rules that involve several variables or values rt_config cannot check. */
static int check_cross_rules(const auth_config_t *cfg, char *err, size_t errlen)
{
    if (strcmp(cfg->jwt_algorithm, "HS256") != 0) {
        snprintf(err, errlen, "JWT_ALGORITHM must be HS256 (ES256 is not supported yet)");
        return -1;
    }
    if (set(cfg->rate_limit_redis_url)) {
        snprintf(err, errlen,
                 "RATE_LIMIT_REDIS_URL is not supported yet: run one authsvc replica, or unset it");
        return -1;
    }
    unsigned char key[AUTH_SECRETS_KEY_BYTES];
    if (set(cfg->totp_encryption_key) &&
        auth_secrets_parse_key(cfg->totp_encryption_key, key) != 0) {
        snprintf(err, errlen, "TOTP_ENCRYPTION_KEY must be 32 bytes as 64 hex digits or base64");
        return -1;
    }
    explicit_bzero(key, sizeof key);
    if (cfg->argon2_m_kib < 8 * cfg->argon2_p) {
        snprintf(err, errlen, "ARGON2_MEMORY_COST must be at least 8 x ARGON2_PARALLELISM KiB");
        return -1;
    }
    if (check_mail_rules(cfg, err, errlen) != 0)
        return -1;
    int owner = set(cfg->owner_username) + set(cfg->owner_password) + set(cfg->owner_email);
    if (owner != 0 && owner != 3) {
        const char *missing = !set(cfg->owner_username)   ? "OWNER_USERNAME"
                              : !set(cfg->owner_password) ? "OWNER_PASSWORD"
                                                          : "OWNER_EMAIL";
        snprintf(err, errlen,
                 "%s is required when any of OWNER_USERNAME, OWNER_PASSWORD, "
                 "OWNER_EMAIL is set",
                 missing);
        return -1;
    }
    return 0;
}

int auth_config_load(auth_config_t *cfg, rt_getenv_fn getenv_fn, void *arg, char *err,
                     size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (rt_config_load(auth_specs, AUTH_NSPECS, cfg, getenv_fn, arg, err, errlen) != 0)
        return -1;
    if (rt_log_level_parse(cfg->log_level_text, &cfg->log_level) != 0) {
        snprintf(err, errlen, "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR");
        return -1;
    }
    if (strchr(cfg->bind, ',')) {
        snprintf(err, errlen, "AUTHSVC_BIND must be one endpoint");
        return -1;
    }
    if (rt_metrics_listen_parse(cfg->metrics_port, &cfg->metrics_at, err, errlen) != 0)
        return -1;
    return check_cross_rules(cfg, err, errlen);
}

void auth_config_free(auth_config_t *cfg)
{
    if (!cfg)
        return;
    if (cfg->jwt_secret_key)
        explicit_bzero(cfg->jwt_secret_key, strlen(cfg->jwt_secret_key));
    if (cfg->owner_password)
        explicit_bzero(cfg->owner_password, strlen(cfg->owner_password));
    if (cfg->smtp_password)
        explicit_bzero(cfg->smtp_password, strlen(cfg->smtp_password));
    if (cfg->totp_encryption_key)
        explicit_bzero(cfg->totp_encryption_key, strlen(cfg->totp_encryption_key));
    rt_config_free(auth_specs, AUTH_NSPECS, cfg);
}
