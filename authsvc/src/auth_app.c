/*
 * auth_app: wires the configuration into the pieces the handlers share
 * (auth_ctx_t: the storesvc pool, JWT signer, Argon2 hasher, user cache,
 * limiters) and into a proto_server with a slow lane for the ops that hash
 * passwords (AUTHSVC_HASH_WORKERS workers at a lower CPU priority, at most
 * AUTHSVC_HASH_QUEUE waiting), so authorisations never queue behind
 * logins. The storesvc pool reports to one proto_outage: storesvc going
 * away and coming back are a WARNING line each, the failed calls between
 * are counted (DEBUG lines), whichever worker makes them.
 *
 * Owner bootstrap: when OWNER_USERNAME/PASSWORD/EMAIL are set, a thread
 * creates that admin once storesvc answers, unless an admin exists (the
 * check and the insert are one statement in storesvc, so replicas starting
 * together create at most one). The owner's fields must pass the same
 * rules as a registration, checked at start. Until it is done authsvc is
 * not ready (`started` stays false, and sys.health says so): a client that
 * waited for readiness can log in as the owner at once.
 *
 * Metrics (METRICS_PORT not "off"): a registry with process_*,
 * restc_build_info{service="authsvc"}, the RPC server families
 * (proto_srvmetrics) and authsvc's own (auth_metrics), fed by the server's
 * observer, which also logs one line per request. With "off" there is no
 * registry and the observer only logs.
 *
 * The mail worker (auth_jobq, MAIL_QUEUE_SIZE) runs password-reset jobs
 * with its own storesvc client; it starts with the server and stops after
 * it, finishing what is queued within the shutdown grace.
 */
#include "auth_app.h"

#include "auth_handlers.h"
#include "auth_metrics.h"
#include "auth_password.h"
#include "auth_reset.h"
#include "auth_totp.h"
#include "auth_util.h"
#include "proto_client.h"
#include "proto_server.h"
#include "proto_srvmetrics.h"
#include "rt_log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOW_NICE        5    /* niceness of the hashing workers */
#define OWNER_RETRY_MS   1000 /* between owner bootstrap attempts */
#define LIMITER_INFLIGHT 60   /* s: a login slot held longer is presumed leaked */
#define HOUR_S           3600 /* the window of the password-reset limiters */
/* A reset job runs at least this long after its request (auth_jobq.h):
 * its work falls on later requests of any kind, not on the next one. */
#define RESET_DELAY_MS 100

struct auth_app {
    const auth_config_t *cfg;
    void *zctx;
    auth_ctx_t ctx;
    proto_pool_t *storesvc;
    proto_outage_t *storesvc_outage; /* logs storesvc going away and back, once each */
    proto_server_t *server;
    rt_metrics_t *registry;         /* NULL with METRICS_PORT=off */
    proto_srvmetrics_t *srvmetrics; /* RPC server families; NULL when off */
    auth_metrics_t *metrics;        /* authsvc families; NULL when off */
    pthread_t owner_thread;
    bool owner_started;
    atomic_bool stopping;
    atomic_bool started; /* the start-up work is done: see auth_ctx_t */
    bool curl_init;      /* curl_global_init succeeded: cleanup at destroy */
    char owner_email[AUTH_EMAIL_BUF];
};

/* The owner's fields must be valid before anything starts. */
static int check_owner(auth_app_t *self)
{
    const auth_config_t *cfg = self->cfg;
    auth_username_rule_t ur;
    auth_password_rule_t pr;
    if (!cfg->owner_username || !cfg->owner_username[0])
        return 0;
    if (auth_username_check(cfg->owner_username, &ur) != 0 && ur != AUTH_USERNAME_RESERVED) {
        rt_error(NULL, "OWNER_USERNAME: %s", auth_username_rule_message(ur));
        return -1;
    }
    if (auth_email_normalise(cfg->owner_email, self->owner_email, sizeof self->owner_email) != 0) {
        rt_error(NULL, "OWNER_EMAIL is not a valid email address");
        return -1;
    }
    if (auth_password_check(cfg->owner_password, cfg->owner_username, &pr) != 0) {
        rt_error(NULL, "OWNER_PASSWORD is too weak: %s", auth_password_rule_message(pr));
        return -1;
    }
    return 0;
}

static int make_limiters(auth_app_t *self)
{
    const auth_config_t *cfg = self->cfg;
    auth_limiter_config_t lc;
    auth_limiter_config_defaults(&lc);
    lc.max_failures = (int)cfg->login_max_failures;
    lc.window_s = (int)cfg->login_window_s;
    lc.cooldown_s = (int)cfg->login_cooldown_s;
    lc.max_keys = (size_t)cfg->login_max_sources;
    lc.inflight_timeout_s = LIMITER_INFLIGHT;
    auth_ratelimit_config_t rc;
    auth_ratelimit_config_defaults(&rc);
    rc.max_keys = (size_t)cfg->rate_limit_max_keys;
    auth_acctlimit_config_t ac;
    auth_acctlimit_config_defaults(&ac);
    ac.max_failures = (int)cfg->login_account_max_failures;
    ac.window_s = (int)cfg->login_window_s;
    ac.max_keys = (size_t)cfg->login_max_accounts;
    ac.inflight_timeout_s = LIMITER_INFLIGHT;
    self->ctx.account_limiter = auth_acctlimit_new(&ac, NULL, NULL);
    self->ctx.login_limiter = auth_limiter_new(&lc, NULL, NULL);
    self->ctx.api_limit = auth_ratelimit_new(&rc, NULL, NULL);
    self->ctx.register_limit = auth_ratelimit_new(&rc, NULL, NULL);
    rc.window_s = HOUR_S;
    self->ctx.reset_ip_limit = auth_ratelimit_new(&rc, NULL, NULL);
    self->ctx.reset_email_limit = auth_ratelimit_new(&rc, NULL, NULL);
    return self->ctx.login_limiter && self->ctx.account_limiter && self->ctx.api_limit &&
                   self->ctx.register_limit && self->ctx.reset_ip_limit &&
                   self->ctx.reset_email_limit
               ? 0
               : -1;
}

/* Password reset's mail path and the API-key cache. */
static int make_reset_and_keys(auth_app_t *self)
{
    const auth_config_t *cfg = self->cfg;
    auth_ctx_t *c = &self->ctx;
    const auth_mail_config_t mc = {.smtp_url = cfg->smtp_url,
                                   .from = cfg->mail_from,
                                   .username = cfg->smtp_username,
                                   .password = cfg->smtp_password,
                                   .timeout_ms = cfg->smtp_timeout_ms};
    randombytes_buf(c->reset_hash_key, sizeof c->reset_hash_key);
    if (!(c->mailer = auth_mailer_new(&mc)) ||
        !(c->jobq = auth_jobq_new(&(auth_jobq_config_t){.capacity = (size_t)cfg->mail_queue_size,
                                                        .delay_ms = RESET_DELAY_MS,
                                                        .nice = SLOW_NICE},
                                  auth_reset_job, c))) {
        rt_error(NULL, "cannot create the mail worker (SMTP_URL, MAIL_QUEUE_SIZE)");
        return -1;
    }
    if (auth_mailer_is_dev(c->mailer))
        rt_warn(NULL, "SMTP_URL is unset: password-reset mails, tokens included, are written "
                      "to this log instead of being sent (dev mode; never in production)");
    if (cfg->cache_ttl_s > 0 && cfg->apikey_cache_size > 0 &&
        !(c->keycache = auth_keycache_new((size_t)cfg->apikey_cache_size, (int)cfg->cache_ttl_s,
                                          NULL, NULL))) {
        rt_error(NULL, "cannot create the API key cache (AUTH_API_KEY_CACHE_SIZE)");
        return -1;
    }
    return 0;
}

static int make_ctx(auth_app_t *self)
{
    const auth_config_t *cfg = self->cfg;
    auth_ctx_t *c = &self->ctx;
    c->cfg = cfg;
    c->storesvc = self->storesvc;
    c->jwt = auth_jwt_new((const unsigned char *)cfg->jwt_secret_key, strlen(cfg->jwt_secret_key),
                          cfg->jwt_issuer, cfg->jwt_audience, (int)(cfg->access_ttl_min * 60),
                          (int)cfg->jwt_leeway_s, NULL);
    if (!c->jwt) {
        rt_error(NULL, "cannot create the token signer (JWT_ISSUER / JWT_AUDIENCE)");
        return -1;
    }
    c->hash = auth_hash_new((uint32_t)cfg->argon2_t, (uint32_t)cfg->argon2_m_kib,
                            (uint32_t)cfg->argon2_p);
    if (!c->hash) {
        if (!auth_hash_cpu_supported())
            rt_error(NULL,
                     "this build's Argon2 (%s) needs AVX2, which this CPU lacks: "
                     "build with -DRESTC_ARGON2=system",
                     auth_hash_impl());
        else
            rt_error(NULL, "cannot create the password hasher (ARGON2_* settings)");
        return -1;
    }
    auth_hash_limit_cpus(c->hash, (uint32_t)cfg->hash_workers);
    rt_info(NULL, "password hashing: Argon2id t=%ld m=%ld KiB p=%ld (%s)", (long)cfg->argon2_t,
            (long)cfg->argon2_m_kib, (long)cfg->argon2_p, auth_hash_impl());
    if (cfg->cache_ttl_s > 0 &&
        !(c->cache = auth_cache_new((size_t)cfg->cache_size, (int)cfg->cache_ttl_s, NULL, NULL))) {
        rt_error(NULL, "cannot create the user cache (AUTH_CACHE_SIZE)");
        return -1;
    }
    if (cfg->token_cache_size > 0 &&
        !(c->vcache = auth_vcache_new(c->jwt, (size_t)cfg->token_cache_size))) {
        rt_error(NULL, "cannot create the token cache (AUTH_TOKEN_CACHE_SIZE)");
        return -1;
    }
    if (make_limiters(self) != 0) {
        rt_error(NULL, "cannot create the limiters (LOGIN_*, RATE_LIMIT_MAX_KEYS)");
        return -1;
    }
    bool derived = false;
    c->secrets = auth_secrets_new(cfg->totp_encryption_key, cfg->jwt_secret_key, &derived);
    if (!c->secrets || auth_totp_init() != 0) {
        rt_error(NULL, "cannot set up the second-factor keys (TOTP_ENCRYPTION_KEY)");
        return -1;
    }
    if (derived)
        rt_warn(NULL, "TOTP_ENCRYPTION_KEY is not set: the second-factor keys are derived from "
                      "JWT_SECRET_KEY (changing it makes stored TOTP secrets unreadable)");
    if (cfg->hibp_enabled && !(c->breach = auth_breach_new(cfg->hibp_url, cfg->hibp_timeout_ms))) {
        rt_error(NULL, "cannot create the breached-password check (HIBP_URL)");
        return -1;
    }
    return make_reset_and_keys(self);
}

static int make_metrics(auth_app_t *self)
{
    if (!self->cfg->metrics_at.enabled)
        return 0;
    if (!(self->registry = rt_metrics_new()) || rt_metrics_register_process(self->registry) != 0 ||
        rt_metrics_register_build_info(self->registry, "restc", RESTC_VERSION, "authsvc") != 0 ||
        !(self->srvmetrics = proto_srvmetrics_new(self->registry)) ||
        !(self->metrics = auth_metrics_new(self->registry, &self->ctx))) {
        rt_error(NULL, "cannot create the metrics registry");
        return -1;
    }
    return 0;
}

static void free_ctx(auth_ctx_t *c)
{
    auth_vcache_destroy(&c->vcache); /* before the verifier it borrows */
    auth_jwt_destroy(&c->jwt);
    auth_hash_destroy(&c->hash);
    auth_cache_destroy(&c->cache);
    auth_limiter_destroy(&c->login_limiter);
    auth_acctlimit_destroy(&c->account_limiter);
    if (c->secrets)
        auth_totp_done();
    auth_secrets_destroy(&c->secrets);
    auth_ratelimit_destroy(&c->api_limit);
    auth_ratelimit_destroy(&c->register_limit);
    auth_breach_destroy(&c->breach);
    auth_jobq_destroy(&c->jobq); /* before what its jobs use */
    auth_mailer_destroy(&c->mailer);
    auth_keycache_destroy(&c->keycache);
    auth_ratelimit_destroy(&c->reset_ip_limit);
    auth_ratelimit_destroy(&c->reset_email_limit);
    sodium_memzero(c->reset_hash_key, sizeof c->reset_hash_key);
}

auth_app_t *auth_app_new(const auth_config_t *cfg, void *zctx)
{
    if (!cfg || !zctx)
        return NULL;
    auth_app_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->zctx = zctx;
    atomic_init(&self->stopping, false);
    atomic_init(&self->started, false);
    self->ctx.started = &self->started;
    proto_limits_t lim = proto_limits_default();
    /* One storesvc client per worker of both lanes and the mail worker:
     * nobody waits for one. */
    int clients = (int)(cfg->workers + cfg->hash_workers) + 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rt_error(NULL, "cannot initialise libcurl");
        free(self);
        return NULL;
    }
    self->curl_init = true;
    self->storesvc =
        proto_pool_new(zctx, cfg->storesvc_endpoints, clients, (int)cfg->rpc_timeout_ms, &lim);
    self->storesvc_outage = proto_outage_new("storesvc");
    if (!self->storesvc || !self->storesvc_outage) {
        rt_error(NULL, "cannot create the storesvc client pool");
        auth_app_destroy(&self);
        return NULL;
    }
    proto_pool_set_outage(self->storesvc, self->storesvc_outage);
    if (check_owner(self) != 0 || make_ctx(self) != 0 || make_metrics(self) != 0)
        auth_app_destroy(&self);
    return self;
}

/* Every frame the server reads: counted (when metrics are on), then logged. */
static void observe(void *arg, const proto_call_event_t *ev)
{
    auth_app_t *self = arg;
    proto_srvmetrics_record(self->srvmetrics, ev);
    auth_metrics_record(self->metrics, ev);
    proto_srvmetrics_log(ev);
}

static proto_server_t *new_server(auth_app_t *self)
{
    size_t n = 0;
    const proto_handler_t *table = auth_handlers(&n);
    proto_server_config_t sc = {
        .bind = self->cfg->bind,
        .workers = (int)self->cfg->workers,
        .handlers = table,
        .nhandlers = n,
        .svc = &self->ctx,
        .limits = proto_limits_default(),
        .slow_workers = (int)self->cfg->hash_workers,
        .slow_queue = (int)self->cfg->hash_queue,
        .slow_nice = SLOW_NICE,
        .slow_max_wait_ms = (int)self->cfg->hash_max_wait_ms,
        .observe = observe,
        .observe_arg = self,
    };
    return proto_server_new(self->zctx, &sc);
}

/* ---- owner bootstrap ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Sleeps `ms` in steps of 50 ms; false when asked to stop meanwhile. */
static bool sleep_unless_stopping(auth_app_t *self, int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(&self->stopping); waited += 50)
        sleep_ms(ms - waited < 50 ? ms - waited : 50);
    return !atomic_load(&self->stopping);
}

/* One attempt: 1 done (created, or an admin exists), 0 retry later. */
static int owner_attempt(auth_app_t *self, const char *hash)
{
    proto_reply_t rep;
    proto_err_t err = auth_create_user(&self->ctx, "owner-bootstrap", self->cfg->owner_username,
                                       self->owner_email, NULL, hash, "admin", true, &rep);
    proto_reply_cleanup(&rep);
    if (err == PROTO_OK)
        rt_info(NULL, "owner account created (OWNER_USERNAME)");
    else if (err == PROTO_ERR_CONFLICT)
        rt_info(NULL, "an admin account exists; OWNER_* not used");
    else
        rt_debug(NULL, "owner bootstrap: storesvc answered %s; retrying", proto_err_code(err));
    return err == PROTO_OK || err == PROTO_ERR_CONFLICT;
}

static void *owner_main(void *arg)
{
    auth_app_t *self = arg;
    char hash[AUTH_HASH_ENCODED_BUF];
    if (!sleep_unless_stopping(self, (int)self->cfg->test_startup_delay_ms))
        return NULL;
    if (auth_hash_password(self->ctx.hash, self->cfg->owner_password, hash, sizeof hash) != 0) {
        rt_error(NULL, "owner bootstrap: cannot hash OWNER_PASSWORD; authsvc stays not ready");
        return NULL;
    }
    while (!atomic_load(&self->stopping)) {
        if (owner_attempt(self, hash)) {
            atomic_store(&self->started, true);
            rt_info(NULL, "start-up done: ready");
            break;
        }
        sleep_unless_stopping(self, OWNER_RETRY_MS);
    }
    sodium_memzero(hash, sizeof hash);
    return NULL;
}

/* ---- life cycle ---- */

int auth_app_start(auth_app_t *self)
{
    if (!self || self->server)
        return -1;
    bool owner = self->cfg->owner_username && self->cfg->owner_username[0];
    if (!owner)
        atomic_store(&self->started, true); /* no start-up work: ready from the first request */
    if (!(self->server = new_server(self))) {
        rt_error(NULL, "cannot create the RPC server");
        return -1;
    }
    proto_srvmetrics_attach(self->srvmetrics, self->server);
    if (auth_jobq_start(self->ctx.jobq) != 0) {
        rt_error(NULL, "cannot start the mail worker");
        return -1;
    }
    if (proto_server_start(self->server) != 0) {
        rt_log_fields(RT_LOG_ERROR, NULL, "cannot listen",
                      json_pack("{s:s}", "endpoint", self->cfg->bind));
        proto_server_destroy(&self->server);
        return -1;
    }
    if (owner) {
        if (pthread_create(&self->owner_thread, NULL, owner_main, self) != 0) {
            rt_error(NULL, "cannot start the owner bootstrap");
            return -1;
        }
        self->owner_started = true;
    }
    return 0;
}

rt_metrics_t *auth_app_metrics(auth_app_t *self)
{
    return self ? self->registry : NULL;
}

const char *auth_app_endpoint(const auth_app_t *self)
{
    return self && self->server ? proto_server_endpoint(self->server) : "";
}

void auth_app_stop(auth_app_t *self, int grace_ms)
{
    if (!self)
        return;
    atomic_store(&self->stopping, true);
    if (self->owner_started) {
        pthread_join(self->owner_thread, NULL);
        self->owner_started = false;
    }
    if (self->server)
        proto_server_stop(self->server, grace_ms);
    auth_jobq_stop(self->ctx.jobq, grace_ms); /* no request can queue a job any more */
}

void auth_app_destroy(auth_app_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_app_t *self = *self_p;
    auth_app_stop(self, 0);
    proto_srvmetrics_attach(self->srvmetrics, NULL);
    proto_server_destroy(&self->server);
    auth_metrics_destroy(&self->metrics);
    proto_srvmetrics_destroy(&self->srvmetrics);
    rt_metrics_destroy(&self->registry);
    free_ctx(&self->ctx);
    proto_pool_destroy(&self->storesvc);
    proto_outage_destroy(&self->storesvc_outage);
    if (self->curl_init)
        curl_global_cleanup();
    free(self);
    *self_p = NULL;
}
