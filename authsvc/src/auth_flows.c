/*
 * auth_flows: the public authentication flows of the API contract: register,
 * token (password grant), refresh and logout.
 *
 * Every flow is rate-limited per client address first (RATE_LIMIT_PER_MINUTE,
 * and REGISTER_RATE_LIMIT_PER_MINUTE for registration) and answers its
 * "rate" so the gateway can send RateLimit-* headers.
 *
 * Login (auth.token) follows auth_limiter.h's protocol for the source and
 * auth_acctlimit.h's for the login name: both begin() before any
 * credential work (a blocked source or a delayed name gets 429 at once;
 * a valid device cookie of the account passes a delay), the user lookup,
 * the Argon2 verification (a dummy one for an unknown user, so timing does
 * not tell), the second factor for users with TOTP on (auth_twofa.h), then
 * end() with the outcome: wrong passwords and wrong codes are failures for
 * both. A successful login also gets a fresh device cookie. Only the
 * slow lane runs register, token and change_password (proto_catalog.h).
 *
 * Refresh tokens are 256 random bits in base64url; storesvc keeps only their
 * SHA-256. Each refresh rotates; store.token_rotate decides reuse in one
 * transaction, and a reuse revokes the whole family and is logged as a
 * WARNING security event.
 */
#include "auth_admit.h"
#include "auth_device.h"
#include "auth_password.h"
#include "proto_rbac.h"
#include "auth_strength.h"
#include "auth_twofa.h"
#include "auth_util.h"
#include "rt_log.h"

#include <ctype.h>
#include <stdio.h>
#include <sodium.h>
#include <string.h>

#define MSG_REG_FAILED    "Unable to create account with provided information"
#define MSG_BAD_LOGIN     "Invalid credentials"
#define MSG_LOGIN_LIMITED "Too many failed login attempts. Please try again later."

/* ---- shared pieces ---- */

static proto_err_t ip_rate(const auth_ctx_t *ctx, const char *ip, auth_rate_t *rate,
                           proto_fail_t *fail)
{
    char key[AUTH_KEY_BUF];
    auth_key_ip(key, ip);
    return auth_rate_check(ctx->api_limit, key, ctx->cfg->rate_limit_per_min, rate, fail);
}

/* What a new token pair is made of. */
typedef struct {
    char access[AUTH_JWT_MAX_TOKEN + 1];
    char refresh[AUTH_TOKEN_BUF];
    char family[RT_UUID_BUF];
} pair_t;

static long access_ttl(const auth_ctx_t *ctx)
{
    return ctx->cfg->access_ttl_min * 60;
}

static long refresh_ttl(const auth_ctx_t *ctx)
{
    return ctx->cfg->refresh_ttl_days * 86400;
}

/* Signs an access token for the session `family`. */
static proto_err_t sign_access(const auth_ctx_t *ctx, const char *user_id, proto_role_t role,
                               const char *family, pair_t *out)
{
    char *jwt = NULL;
    auth_jwt_claims_in_t in = {.sub = user_id, .role = proto_role_name(role), .sid = family};
    if (auth_jwt_issue(ctx->jwt, &in, &jwt, NULL, NULL) != 0 || strlen(jwt) >= sizeof out->access) {
        free(jwt);
        return PROTO_ERR_INTERNAL_ERROR;
    }
    strcpy(out->access, jwt);
    free(jwt);
    return PROTO_OK;
}

/* A new session: a refresh token in a new family (stored as its hash), and
 * an access token bound to it. */
static proto_err_t new_session(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                               proto_role_t role, const char *ip, const char *ua, pair_t *out)
{
    unsigned char hash[AUTH_TOKEN_HASHLEN];
    proto_reply_t rep;
    auth_body_t b;
    if (auth_token_new(out->refresh, hash) != 0)
        return PROTO_ERR_INTERNAL_ERROR;
    rt_uuid_v4(out->family);
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 6);
    proto_pack_kv_str(&b.pk, "user_id", user_id);
    proto_pack_cstr(&b.pk, "token_hash");
    msgpack_pack_bin(&b.pk, sizeof hash);
    msgpack_pack_bin_body(&b.pk, hash, sizeof hash);
    proto_pack_kv_str(&b.pk, "family_id", out->family);
    proto_pack_kv_int(&b.pk, "expires_s", refresh_ttl(ctx));
    proto_pack_kv_str(&b.pk, "client_ip", ip);
    proto_pack_kv_str(&b.pk, "user_agent", ua[0] ? ua : NULL);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_TOKEN_CREATE, &b, &rep);
    auth_body_cleanup(&b);
    proto_reply_cleanup(&rep);
    if (err != PROTO_OK)
        return err == PROTO_ERR_NOT_FOUND ? PROTO_ERR_INVALID_CREDENTIALS : err;
    return sign_access(ctx, user_id, role, out->family, out);
}

/* The token pair; with a device cookie (auth.token) also "device_cookie"
 * and its lifetime "device_cookie_max_age" in seconds. */
static void pack_pair(const auth_ctx_t *ctx, msgpack_packer *pk, const pair_t *p,
                      const auth_rate_t *rate, const char *device_cookie)
{
    bool device = device_cookie && device_cookie[0];
    msgpack_pack_map(pk, 6 + 2 * device + auth_rate_entries(rate));
    proto_pack_kv_str(pk, "access_token", p->access);
    proto_pack_kv_str(pk, "token_type",
                      proto_val_name(PROTO_VALS_TOKEN_TYPE, PROTO_TOKEN_TYPE_BEARER));
    proto_pack_kv_int(pk, "expires_in", access_ttl(ctx));
    proto_pack_kv_str(pk, "refresh_token", p->refresh);
    proto_pack_kv_int(pk, "refresh_expires_in", refresh_ttl(ctx));
    proto_pack_kv_str(pk, "session_id", p->family);
    if (device) {
        proto_pack_kv_str(pk, "device_cookie", device_cookie);
        proto_pack_kv_int(pk, "device_cookie_max_age", ctx->cfg->device_cookie_days * 86400);
    }
    auth_pack_rate(pk, rate);
}

/* ---- auth.register ---- */

/* The field rules of the API contract; on a break, the reason goes to fail->msg. */
static proto_err_t check_registration(const auth_ctx_t *ctx, const char *rid, const char *username,
                                      const char *email, const char *password,
                                      const char *full_name, bool has_name, char *email_out,
                                      char *name_out, proto_fail_t *fail)
{
    auth_username_rule_t ur;
    if (auth_username_check(username, &ur) != 0) {
        auth_fail_field(fail, "username", auth_username_rule_message(ur));
        return PROTO_ERR_VALIDATION_ERROR;
    }
    if (auth_email_normalise(email, email_out, AUTH_EMAIL_BUF) != 0) {
        auth_fail_field(fail, "email", "Email address is not valid");
        return PROTO_ERR_VALIDATION_ERROR;
    }
    if (has_name && auth_full_name_clean(full_name, name_out, AUTH_FULL_NAME_BUF) != 0) {
        auth_fail_field(fail, "full_name", "Full name must be at most 100 characters of text");
        return PROTO_ERR_VALIDATION_ERROR;
    }
    return auth_password_acceptable(ctx, rid, password, username, "password", fail);
}

proto_err_t auth_create_user(const auth_ctx_t *ctx, const char *rid, const char *username,
                             const char *email, const char *full_name, const char *hash,
                             const char *role, bool if_no_admin, proto_reply_t *rep)
{
    auth_body_t b;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 6);
    proto_pack_kv_str(&b.pk, "username", username);
    proto_pack_kv_str(&b.pk, "email", email);
    proto_pack_kv_str(&b.pk, "full_name", full_name && full_name[0] ? full_name : NULL);
    proto_pack_kv_str(&b.pk, "password_hash", hash);
    proto_pack_kv_str(&b.pk, "role", role);
    proto_pack_kv_bool(&b.pk, "if_no_admin", if_no_admin);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_USER_CREATE, &b, rep);
    auth_body_cleanup(&b);
    return err;
}

/* REGISTER_RATE_LIMIT_PER_MINUTE. Its own figures stay out of `fail`: the
 * RateLimit-* headers describe the API limit of the route. */
static proto_err_t register_rate(const auth_ctx_t *ctx, const char *key, auth_rate_t *rate,
                                 proto_fail_t *fail)
{
    proto_fail_t own = *fail;
    proto_err_t err =
        auth_rate_check(ctx->register_limit, key, ctx->cfg->register_rate_per_min, rate, &own);
    if (err != PROTO_OK) {
        fail->retry_after = own.retry_after;
        auth_fail_msg(fail, "Too many registrations from this address. Please try again later.");
    }
    return err;
}

AUTH_HANDLER(auth_op_register)
{
    const auth_ctx_t *ctx = cc->svc;
    char username[PROTO_STR_BUF(PROTO_B_LOGIN)], email[PROTO_STR_BUF(PROTO_B_EMAIL)];
    char password[PROTO_STR_BUF(PROTO_B_PASSWORD)], full_name[PROTO_STR_BUF(PROTO_B_NAME)];
    char ip[PROTO_STR_BUF(PROTO_B_IP)];
    char norm_email[AUTH_EMAIL_BUF], name[AUTH_FULL_NAME_BUF] = "", key[AUTH_KEY_BUF];
    char hash[AUTH_HASH_ENCODED_BUF];
    proto_reply_t rep;
    auth_rate_t rate, reg_rate;
    bool has_name = false;
    const proto_str_arg_t args[] = {
        {"username", username, sizeof username, NULL},
        {"email", email, sizeof email, NULL},
        {"password", password, sizeof password, NULL},
        {"full_name", full_name, sizeof full_name, &has_name},
        {"client_ip", ip, sizeof ip, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        goto done;

    err = PROTO_ERR_REGISTRATION_DISABLED;
    if (!ctx->cfg->registration_enabled) {
        auth_fail_msg(fail, "Registration is disabled");
        goto done;
    }
    if ((err = ip_rate(ctx, ip, &rate, fail)) != PROTO_OK)
        goto done;
    auth_key_ip(key, ip);
    if ((err = register_rate(ctx, key, &reg_rate, fail)) != PROTO_OK)
        goto done;
    if ((err = check_registration(ctx, req->rid, username, email, password, full_name, has_name,
                                  norm_email, name, fail)) != PROTO_OK)
        goto done;
    /* Hash before looking for duplicates: a taken name costs the same time. */
    err = PROTO_ERR_INTERNAL_ERROR;
    if (auth_hash_password(ctx->hash, password, hash, sizeof hash) != 0)
        goto done;
    err = auth_create_user(ctx, req->rid, username, norm_email, name, hash, "user", false, &rep);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 1 + auth_rate_entries(&rate));
        proto_pack_cstr(body, "user");
        auth_pack_object(body, rep.body);
        auth_pack_rate(body, &rate);
        rt_info(req->rid, "account registered");
    } else if (err == PROTO_ERR_CONFLICT) {
        err = PROTO_ERR_REGISTRATION_FAILED;
        auth_fail_msg(fail, MSG_REG_FAILED);
    }
    proto_reply_cleanup(&rep);
done:
    sodium_memzero(password, sizeof password);
    return err;
}

/* ---- auth.token ---- */

/* What storesvc knows about a login name. */
typedef struct {
    char id[RT_UUID_BUF + 8], username[64], role[24];
    char hash[AUTH_HASH_ENCODED_MAX + 1];
    bool is_active, totp_enabled;
} login_user_t;

/* One login attempt: what was asked, and what the limiters hold for it. */
typedef struct {
    const char *typed, *password, *totp, *backup, *device, *ip;
    char key[PROTO_STR_BUF(PROTO_B_LOGIN) + 2]; /* the account limiter's key of the attempt */
    bool key_held;                              /* an account-limiter slot is held under key */
    bool looked_up;
    proto_err_t lookup_err;
    login_user_t u;
} login_t;

/* Username as typed, or the email lower-cased. */
static void login_name(const char *typed, char *out, size_t cap)
{
    bool email = strchr(typed, '@') != NULL;
    size_t i = 0;
    for (; typed[i] && i + 1 < cap; i++)
        out[i] = email ? (char)tolower((unsigned char)typed[i]) : typed[i];
    out[i] = '\0';
}

static proto_err_t find_login(const auth_ctx_t *ctx, const char *rid, const char *login,
                              login_user_t *u)
{
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    proto_pack_kv_str(&b.pk, "login", login);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_USER_FIND_LOGIN, &b, &rep);
    auth_body_cleanup(&b);
    memset(u, 0, sizeof *u);
    if (err == PROTO_OK &&
        (auth_copy_str(rep.body, "id", u->id, sizeof u->id) != 0 ||
         auth_copy_str(rep.body, "username", u->username, sizeof u->username) != 0 ||
         auth_copy_str(rep.body, "role", u->role, sizeof u->role) != 0 ||
         auth_copy_str(rep.body, "password_hash", u->hash, sizeof u->hash) != 0 ||
         proto_get_bool(rep.body, "is_active", &u->is_active) != 0)) {
        rt_error(rid, "store.user_find_login: malformed reply");
        err = PROTO_ERR_INTERNAL_ERROR;
    }
    if (err == PROTO_OK)
        proto_get_bool(rep.body, "totp_enabled", &u->totp_enabled);
    proto_reply_cleanup(&rep);
    return err;
}

/* The user the typed name belongs to, looked up once per attempt. */
static proto_err_t lookup(const auth_ctx_t *ctx, const char *rid, login_t *l)
{
    char login[PROTO_STR_BUF(PROTO_B_LOGIN)];
    if (!l->looked_up) {
        login_name(l->typed, login, sizeof login);
        l->lookup_err = find_login(ctx, rid, login, &l->u);
        l->looked_up = true;
    }
    return l->lookup_err;
}

/* Best effort: a hash made with older parameters is replaced after a
 * successful login (the password is at hand only now). */
static void rehash(const auth_ctx_t *ctx, const char *rid, const login_user_t *u,
                   const char *password)
{
    char hash[AUTH_HASH_ENCODED_BUF];
    auth_body_t b;
    proto_reply_t rep;
    if (!auth_hash_needs_rehash(ctx->hash, u->hash) ||
        auth_hash_password(ctx->hash, password, hash, sizeof hash) != 0)
        return;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 2);
    proto_pack_kv_str(&b.pk, "id", u->id);
    proto_pack_kv_str(&b.pk, "password_hash", hash);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_USER_SET_PASSWORD, &b, &rep);
    auth_body_cleanup(&b);
    proto_reply_cleanup(&rep);
    if (err == PROTO_OK)
        rt_info(rid, "password hash upgraded to the current Argon2 parameters");
}

/* Looks the user up, checks the password and, for a user with TOTP on,
 * the second factor (only after a correct password, so totp_required and
 * totp_invalid never tell a guesser anything). Returns the limiters'
 * outcome and, when everything is right, PROTO_OK in *err. */
static auth_limiter_outcome_t check_login(const auth_ctx_t *ctx, const char *rid, login_t *l,
                                          proto_err_t *err)
{
    login_user_t *u = &l->u;
    *err = lookup(ctx, rid, l);
    if (*err == PROTO_ERR_NOT_FOUND) {
        auth_hash_verify_dummy(ctx->hash, l->password); /* same time as a real user */
        *err = PROTO_ERR_INVALID_CREDENTIALS;
        return AUTH_LIMITER_FAILURE;
    }
    if (*err != PROTO_OK)
        return AUTH_LIMITER_NEUTRAL; /* storesvc down: not the client's failure */
    auth_hash_result_t hr = auth_hash_verify(ctx->hash, u->hash, l->password);
    if (hr == AUTH_HASH_ERROR)
        rt_error(rid, "stored password hash of a user cannot be verified");
    if (hr != AUTH_HASH_MATCH) {
        *err = PROTO_ERR_INVALID_CREDENTIALS;
        return AUTH_LIMITER_FAILURE;
    }
    if (!u->is_active) {
        *err = PROTO_ERR_ACCOUNT_DISABLED;
        return AUTH_LIMITER_NEUTRAL;
    }
    auth_limiter_outcome_t outcome = AUTH_LIMITER_SUCCESS;
    *err = u->totp_enabled ? auth_twofa_login(ctx, rid, u->id, l->totp, l->backup, &outcome)
                           : PROTO_OK;
    return outcome;
}

/* A login name as the account limiter knows it: "a:" and the name as
 * typed, lower-cased (usernames are unique case-insensitively, emails are
 * stored lower-cased). */
static void account_key(const char *typed, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "a:");
    for (size_t i = 0; typed[i] && n + 1 < cap; i++)
        out[n++] = (char)tolower((unsigned char)typed[i]);
    out[n] = '\0';
}

/* A delayed account, but the client presents a device cookie: when it is
 * valid for the account the name belongs to, the attempt goes on under
 * the cookie's own key (so a stolen cookie is limited by its own failures
 * like a name). 0 when admitted so. */
static int device_admit(const auth_ctx_t *ctx, const char *rid, login_t *l)
{
    char id[AUTH_DEVICE_ID_BUF];
    if (lookup(ctx, rid, l) != PROTO_OK ||
        auth_device_verify(auth_secrets_device_key(ctx->secrets), l->device, l->u.id,
                           auth_now_ms() / 1000, ctx->cfg->device_cookie_days * 86400,
                           id) != AUTH_DEVICE_VALID)
        return -1;
    snprintf(l->key, sizeof l->key, "d:%s", id);
    if (auth_acctlimit_begin(ctx->account_limiter, l->key, NULL) != AUTH_ACCT_ALLOWED)
        return -1;
    l->key_held = true;
    return 0;
}

/* The account limiter's admission (auth_acctlimit.h): PROTO_OK with a slot
 * held, or 429 with the delay as Retry-After, the same for every name. */
static proto_err_t account_admit(const auth_ctx_t *ctx, const char *rid, login_t *l,
                                 proto_fail_t *fail)
{
    int retry = 0;
    account_key(l->typed, l->key, sizeof l->key);
    if (auth_acctlimit_begin(ctx->account_limiter, l->key, &retry) == AUTH_ACCT_ALLOWED) {
        l->key_held = true;
        return PROTO_OK;
    }
    if (l->device[0] && device_admit(ctx, rid, l) == 0)
        return PROTO_OK;
    fail->retry_after = retry > 0 ? retry : 1;
    auth_fail_msg(fail, MSG_LOGIN_LIMITED);
    return PROTO_ERR_LOGIN_RATE_LIMITED;
}

static void log_block(const char *rid, const char *ip)
{
    rt_log_fields(RT_LOG_WARNING, rid, "login source blocked",
                  json_pack("{s:s, s:s, s:I}", "event", "login_blocked", "source", ip, "at_ms",
                            (json_int_t)auth_now_ms()));
}

/* Reports the outcome to both limiters and logs the start of a block or
 * of a delay (the delayed name is not logged: it may be anyone's typo). */
static void settle_login(const auth_ctx_t *ctx, const char *rid, login_t *l,
                         auth_limiter_outcome_t outcome)
{
    bool blocked = false, delayed = false;
    auth_limiter_end(ctx->login_limiter, l->ip, outcome, &blocked);
    if (l->key_held)
        auth_acctlimit_end(ctx->account_limiter, l->key, outcome, &delayed);
    if (blocked)
        log_block(rid, l->ip);
    if (delayed)
        rt_log_fields(RT_LOG_WARNING, rid, "logins of an account delayed",
                      json_pack("{s:s, s:s, s:s}", "event", "login_account_delayed", "key",
                                l->key[0] == 'd' ? "device" : "name", "source", l->ip));
}

static const char *const LOGIN_MSGS[PROTO_ERR__COUNT] = {
    [PROTO_ERR_INVALID_CREDENTIALS] = MSG_BAD_LOGIN,
    [PROTO_ERR_ACCOUNT_DISABLED] = "Account is disabled",
    [PROTO_ERR_TOTP_REQUIRED] = "A second factor is required",
    [PROTO_ERR_TOTP_INVALID] = "Invalid second factor",
};

/* Both second factors at once is a malformed request, refused before any
 * credential is looked at (it says nothing about the account). */
static proto_err_t check_factors(const login_t *l, proto_fail_t *fail)
{
    if (l->totp[0] && l->backup[0]) {
        auth_fail_field(fail, "backup_code", "Give totp_code or backup_code, not both");
        return PROTO_ERR_VALIDATION_ERROR;
    }
    return PROTO_OK;
}

/* The admitted attempt: checks, limiter outcome, and the new session. */
static proto_err_t run_login(const auth_ctx_t *ctx, const proto_request_t *req, login_t *l,
                             const char *ua, pair_t *pair, proto_fail_t *fail)
{
    proto_err_t err = PROTO_OK;
    settle_login(ctx, req->rid, l, check_login(ctx, req->rid, l, &err));
    if (err != PROTO_OK) {
        if (LOGIN_MSGS[err])
            auth_fail_msg(fail, LOGIN_MSGS[err]);
        return err;
    }
    rehash(ctx, req->rid, &l->u, l->password);
    return new_session(ctx, req->rid, l->u.id, proto_role_parse(l->u.role), l->ip, ua, pair);
}

AUTH_HANDLER(auth_op_token)
{
    const auth_ctx_t *ctx = cc->svc;
    char typed[PROTO_STR_BUF(PROTO_B_LOGIN)], password[PROTO_STR_BUF(PROTO_B_PASSWORD)];
    char ip[PROTO_STR_BUF(PROTO_B_IP)], ua[PROTO_STR_BUF(PROTO_B_UA)];
    char totp[PROTO_STR_BUF(PROTO_B_CODE)], backup[PROTO_STR_BUF(PROTO_B_CODE)];
    char device[PROTO_STR_BUF(PROTO_B_DEVICE)], cookie[AUTH_DEVICE_BUF] = "";
    auth_rate_t rate;
    pair_t pair;
    int retry = 0;
    login_t l = {.typed = typed,
                 .password = password,
                 .totp = totp,
                 .backup = backup,
                 .device = device,
                 .ip = ip};
    const proto_str_arg_t args[] = {
        {"username", typed, sizeof typed, NULL},
        {"password", password, sizeof password, NULL},
        {"client_ip", ip, sizeof ip, NULL},
        {"user_agent", ua, sizeof ua, NULL},
        {"totp_code", totp, sizeof totp, NULL},
        {"backup_code", backup, sizeof backup, NULL},
        {"device_cookie", device, sizeof device, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK || (err = ip_rate(ctx, ip, &rate, fail)) != PROTO_OK ||
        (err = check_factors(&l, fail)) != PROTO_OK)
        goto done;
    if (auth_limiter_begin(ctx->login_limiter, ip, &retry) != AUTH_LIMITER_ALLOWED) {
        err = PROTO_ERR_LOGIN_RATE_LIMITED;
        fail->retry_after = retry > 0 ? retry : ctx->cfg->login_cooldown_s;
        auth_fail_msg(fail, MSG_LOGIN_LIMITED);
        goto done;
    }
    if ((err = account_admit(ctx, req->rid, &l, fail)) != PROTO_OK) {
        auth_limiter_end(ctx->login_limiter, ip, AUTH_LIMITER_NEUTRAL, NULL);
        goto done;
    }
    err = run_login(ctx, req, &l, ua, &pair, fail);
    if (err == PROTO_OK && auth_device_sign(auth_secrets_device_key(ctx->secrets), l.u.id,
                                            auth_now_ms() / 1000, cookie) != 0)
        cookie[0] = '\0'; /* no cookie this time: the login stands */
    if (err == PROTO_OK)
        pack_pair(ctx, body, &pair, &rate, cookie);
done:
    sodium_memzero(password, sizeof password);
    sodium_memzero(totp, sizeof totp);
    sodium_memzero(backup, sizeof backup);
    sodium_memzero(&l.u, sizeof l.u);
    return err;
}

/* ---- auth.refresh ---- */

/* After a revocation storesvc confirmed: the owner's cached state (with its
 * list of revoked sessions) is dropped, so this replica refuses the
 * session's access tokens from this answer on. */
static void forget_owner(const auth_ctx_t *ctx, const msgpack_object *reply_body)
{
    char user_id[PROTO_STR_BUF(PROTO_B_ID)];
    if (auth_copy_str(reply_body, "user_id", user_id, sizeof user_id) == 0 && user_id[0])
        auth_user_forget(ctx, user_id);
}

static void log_reuse(const char *rid, const char *ip, const msgpack_object *b)
{
    char user[RT_UUID_BUF + 8], family[RT_UUID_BUF + 8];
    auth_copy_str(b, "user_id", user, sizeof user);
    auth_copy_str(b, "family_id", family, sizeof family);
    rt_log_fields(RT_LOG_WARNING, rid, "refresh token reuse: session revoked",
                  json_pack("{s:s, s:s, s:s, s:s}", "event", "refresh_token_reused", "user_id",
                            user, "session_id", family, "source", ip));
}

/* The outcome of a store.token_rotate reply (proto_rotate_t), -1 when it
 * names none. */
static int rotate_outcome(const msgpack_object *reply_body)
{
    const msgpack_object *v = proto_map_get(reply_body, "outcome");
    if (!v || v->type != MSGPACK_OBJECT_STR)
        return -1;
    return proto_val_parse(PROTO_VALS_ROTATE, v->via.str.ptr, v->via.str.size);
}

/* store.token_rotate: the one atomic decision about a presented token. */
static proto_err_t rotate(const auth_ctx_t *ctx, const char *rid, const char *token, const char *ip,
                          const char *ua, pair_t *pair, proto_reply_t *rep)
{
    unsigned char old_hash[AUTH_TOKEN_HASHLEN], new_hash[AUTH_TOKEN_HASHLEN];
    auth_body_t b;
    auth_token_hash(token, old_hash);
    if (auth_token_new(pair->refresh, new_hash) != 0)
        return PROTO_ERR_INTERNAL_ERROR;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 6);
    proto_pack_cstr(&b.pk, "token_hash");
    msgpack_pack_bin(&b.pk, sizeof old_hash);
    msgpack_pack_bin_body(&b.pk, old_hash, sizeof old_hash);
    proto_pack_cstr(&b.pk, "new_hash");
    msgpack_pack_bin(&b.pk, sizeof new_hash);
    msgpack_pack_bin_body(&b.pk, new_hash, sizeof new_hash);
    proto_pack_kv_int(&b.pk, "grace_s", ctx->cfg->refresh_grace_s);
    proto_pack_kv_int(&b.pk, "expires_s", refresh_ttl(ctx));
    proto_pack_kv_str(&b.pk, "client_ip", ip);
    proto_pack_kv_str(&b.pk, "user_agent", ua[0] ? ua : NULL);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_TOKEN_ROTATE, &b, rep);
    auth_body_cleanup(&b);
    return err;
}

AUTH_HANDLER(auth_op_refresh)
{
    const auth_ctx_t *ctx = cc->svc;
    char token[PROTO_STR_BUF(PROTO_B_TOKEN)], ip[PROTO_STR_BUF(PROTO_B_IP)];
    char ua[PROTO_STR_BUF(PROTO_B_UA)], user_id[PROTO_STR_BUF(PROTO_B_ID)];
    auth_rate_t rate;
    pair_t pair;
    proto_reply_t rep;
    auth_cache_user_t st;
    proto_reply_init(&rep);
    const proto_str_arg_t args[] = {
        {"refresh_token", token, sizeof token, NULL},
        {"client_ip", ip, sizeof ip, NULL},
        {"user_agent", ua, sizeof ua, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK || (err = ip_rate(ctx, ip, &rate, fail)) != PROTO_OK ||
        (err = rotate(ctx, req->rid, token, ip, ua, &pair, &rep)) != PROTO_OK)
        goto done;
    int outcome = rotate_outcome(rep.body);
    bool renewed = outcome == PROTO_ROTATE_ROTATED || outcome == PROTO_ROTATE_GRACE;
    if (renewed && (auth_copy_str(rep.body, "user_id", user_id, sizeof user_id) != 0 ||
                    auth_copy_str(rep.body, "family_id", pair.family, sizeof pair.family) != 0)) {
        rt_error(req->rid, "store.token_rotate: malformed reply");
        err = PROTO_ERR_INTERNAL_ERROR;
    } else if (outcome == PROTO_ROTATE_REUSED) {
        forget_owner(ctx, rep.body); /* the family is revoked: its access tokens die too */
        log_reuse(req->rid, ip, rep.body);
        err = PROTO_ERR_REFRESH_TOKEN_REUSED;
        auth_fail_msg(fail, "Refresh token already used: the session is revoked");
    } else if (!renewed) { /* invalid, or an outcome this build does not know */
        err = PROTO_ERR_INVALID_REFRESH_TOKEN;
        auth_fail_msg(fail, "Invalid or expired refresh token");
    } else if ((err = auth_user_state(ctx, req->rid, user_id, &st)) != PROTO_OK || !st.is_active) {
        err = err == PROTO_OK || err == PROTO_ERR_NOT_FOUND ? PROTO_ERR_INVALID_REFRESH_TOKEN : err;
    } else if ((err = sign_access(ctx, user_id, st.role, pair.family, &pair)) == PROTO_OK) {
        pack_pair(ctx, body, &pair, &rate, NULL);
    }
done:
    sodium_memzero(token, sizeof token);
    proto_reply_cleanup(&rep);
    return err;
}

/* ---- auth.logout ---- */

/* Revokes by token hash when a refresh token was given (even an empty or
 * unknown one: then nothing), else by the session of a valid access token. */
static proto_err_t revoke_for_logout(const auth_ctx_t *ctx, const char *rid, const char *token,
                                     bool has_token, const char *credential)
{
    unsigned char hash[AUTH_TOKEN_HASHLEN];
    auth_principal_t p;
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    if (has_token) {
        auth_token_hash(token, hash);
        msgpack_pack_map(&b.pk, 1);
        proto_pack_cstr(&b.pk, "token_hash");
        msgpack_pack_bin(&b.pk, sizeof hash);
        msgpack_pack_bin_body(&b.pk, hash, sizeof hash);
    } else if (credential[0] && auth_authenticate(ctx, rid, credential, &p) == PROTO_OK) {
        msgpack_pack_map(&b.pk, 2);
        proto_pack_kv_str(&b.pk, "family_id", p.claims.sid);
        proto_pack_kv_str(&b.pk, "user_id", p.claims.sub);
    } else {
        auth_body_cleanup(&b);
        return PROTO_OK; /* nothing to revoke: logout is idempotent */
    }
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_TOKEN_REVOKE, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK)
        forget_owner(ctx, rep.body);
    proto_reply_cleanup(&rep);
    return err;
}

AUTH_HANDLER(auth_op_logout)
{
    const auth_ctx_t *ctx = cc->svc;
    char token[PROTO_STR_BUF(PROTO_B_TOKEN)], credential[PROTO_STR_BUF(PROTO_B_JWT)];
    char ip[PROTO_STR_BUF(PROTO_B_IP)];
    auth_rate_t rate;
    bool has_token = false;
    const proto_str_arg_t args[] = {
        {"refresh_token", token, sizeof token, &has_token},
        {"credential", credential, sizeof credential, NULL},
        {"client_ip", ip, sizeof ip, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err == PROTO_OK)
        err = ip_rate(ctx, ip, &rate, fail);
    if (err == PROTO_OK)
        err = revoke_for_logout(ctx, req->rid, token, has_token, credential);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, auth_rate_entries(&rate));
        auth_pack_rate(body, &rate);
    }
    sodium_memzero(token, sizeof token);
    return err;
}
