/*
 * auth_reset: the password-reset ops and the mail worker's job (see the
 * header). Nothing here logs an address unmasked, or a token (the dev-mode
 * mailer logs the mail itself, on purpose: auth_mail.h).
 */
#include "auth_reset.h"

#include "auth_admit.h"
#include "auth_mail.h"
#include "auth_password.h"
#include "auth_strength.h"
#include "auth_util.h"
#include "rt_log.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MSG_INVALID "Invalid or expired password reset token"

/* ---- auth.reset_request ---- */

/* "re:<hex of a keyed BLAKE2b-128 of the email>": a limiter key that holds
 * no address. */
static void email_key(const auth_ctx_t *ctx, const char *email, char out[AUTH_KEY_BUF])
{
    unsigned char h[16];
    char hex[sizeof h * 2 + 1];
    crypto_generichash(h, sizeof h, (const unsigned char *)email, strlen(email),
                       ctx->reset_hash_key, AUTH_RESET_HASH_KEY_BYTES);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, AUTH_KEY_BUF, "re:%s", hex);
}

/* The two reset limiters; true when this request may go on to a mail.
 * Their state never goes into `fail`: the answer is the same either way. */
static bool reset_allowed(const auth_ctx_t *ctx, const char *ip, const char *email)
{
    char key[AUTH_KEY_BUF];
    auth_rate_t r;
    proto_fail_t quiet;
    memset(&quiet, 0, sizeof quiet);
    auth_key_ip(key, ip);
    if (auth_rate_check(ctx->reset_ip_limit, key, ctx->cfg->reset_per_ip_hour, &r, &quiet) !=
        PROTO_OK)
        return false;
    email_key(ctx, email, key);
    return auth_rate_check(ctx->reset_email_limit, key, ctx->cfg->reset_per_email_hour, &r,
                           &quiet) == PROTO_OK;
}

AUTH_HANDLER(auth_op_reset_request)
{
    const auth_ctx_t *ctx = cc->svc;
    char email[PROTO_STR_BUF(PROTO_B_EMAIL)], ip[PROTO_STR_BUF(PROTO_B_IP)];
    char norm[AUTH_EMAIL_BUF], key[AUTH_KEY_BUF];
    auth_rate_t rate;
    const proto_str_arg_t args[] = {
        {"email", email, sizeof email, NULL},
        {"client_ip", ip, sizeof ip, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    auth_key_ip(key, ip);
    err = auth_rate_check(ctx->api_limit, key, ctx->cfg->rate_limit_per_min, &rate, fail);
    if (err != PROTO_OK)
        return err;
    /* Not an address: nobody to write to, and the same answer. */
    bool valid = auth_email_normalise(email, norm, sizeof norm) == 0;
    if (valid && reset_allowed(ctx, ip, norm) && auth_jobq_push(ctx->jobq, req->rid, norm) != 0)
        rt_log_fields(RT_LOG_WARNING, req->rid, "mail queue full: password reset dropped",
                      json_pack("{s:s, s:I}", "event", "reset_dropped", "dropped",
                                (json_int_t)auth_jobq_dropped(ctx->jobq)));
    sodium_memzero(email, sizeof email);
    sodium_memzero(norm, sizeof norm);
    msgpack_pack_map(body, auth_rate_entries(&rate));
    auth_pack_rate(body, &rate);
    return PROTO_OK;
}

/* ---- the mail worker's job ---- */

/* The active account of `email`: 0 with its id, or -1 (none, or storesvc
 * could not say: both mean no mail). */
static int account_of(const auth_ctx_t *ctx, const char *rid, const char *email,
                      char id[RT_UUID_BUF])
{
    auth_body_t b;
    proto_reply_t rep;
    bool active = false;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    proto_pack_kv_str(&b.pk, "login", email);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_USER_FIND_LOGIN, &b, &rep);
    auth_body_cleanup(&b);
    int rc = err == PROTO_OK && auth_copy_str(rep.body, "id", id, RT_UUID_BUF) == 0 &&
                     proto_get_bool(rep.body, "is_active", &active) == 0 && active
                 ? 0
                 : -1;
    if (err != PROTO_OK && err != PROTO_ERR_NOT_FOUND)
        rt_warn(rid, "password reset: account lookup failed: %s", proto_err_code(err));
    proto_reply_cleanup(&rep);
    return rc;
}

static proto_err_t store_token(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                               const unsigned char hash[AUTH_TOKEN_HASHLEN])
{
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 3);
    proto_pack_kv_str(&b.pk, "user_id", user_id);
    proto_pack_cstr(&b.pk, "token_hash");
    msgpack_pack_bin(&b.pk, AUTH_TOKEN_HASHLEN);
    msgpack_pack_bin_body(&b.pk, hash, AUTH_TOKEN_HASHLEN);
    proto_pack_kv_int(&b.pk, "expires_s", ctx->cfg->reset_ttl_s);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_RESET_CREATE, &b, &rep);
    auth_body_cleanup(&b);
    proto_reply_cleanup(&rep);
    return err;
}

/* The mail's text: the token and how long it lasts. */
static void reset_text(const auth_ctx_t *ctx, const char *token, char *out, size_t cap)
{
    long s = ctx->cfg->reset_ttl_s;
    char life[48];
    if (s % 60 == 0)
        snprintf(life, sizeof life, "%ld minute%s", s / 60, s == 60 ? "" : "s");
    else
        snprintf(life, sizeof life, "%ld second%s", s, s == 1 ? "" : "s");
    snprintf(out, cap,
             "Someone asked to reset the password of your account.\r\n"
             "\r\n"
             "If it was you, use this token within %s, once:\r\n"
             "\r\n"
             "    %s\r\n"
             "\r\n"
             "(POST /api/v1/auth/password-reset/confirm with {\"token\", \"new_password\"}.)\r\n"
             "Every session of the account ends when the new password is set.\r\n"
             "\r\n"
             "If it was not you, ignore this mail: your password stays as it is.\r\n",
             life, token);
}

void auth_reset_job(void *arg, const auth_job_t *job)
{
    const auth_ctx_t *ctx = arg;
    char user_id[RT_UUID_BUF], token[AUTH_TOKEN_BUF], text[1024];
    unsigned char hash[AUTH_TOKEN_HASHLEN];
    const char *rid = job->rid[0] ? job->rid : NULL;
    if (account_of(ctx, rid, job->arg, user_id) != 0) {
        rt_debug(rid, "password reset: no active account for that address; nothing sent");
        return;
    }
    if (auth_token_new(token, hash) != 0 || store_token(ctx, rid, user_id, hash) != PROTO_OK) {
        rt_warn(rid, "password reset: the token could not be stored; nothing sent");
        goto cleanup;
    }
    reset_text(ctx, token, text, sizeof text);
    const auth_mail_msg_t m = {job->arg, "Reset your password", text};
    if (auth_mailer_send(ctx->mailer, rid, &m) == 0)
        rt_log_fields(RT_LOG_INFO, rid, "password reset token issued",
                      json_pack("{s:s, s:s}", "event", "reset_issued", "user_id", user_id));
cleanup:
    sodium_memzero(token, sizeof token);
    sodium_memzero(text, sizeof text);
}

/* ---- auth.reset_confirm ---- */

/* The user of a live token: 0 with id and username, or the error. */
static proto_err_t token_user(const auth_ctx_t *ctx, const char *rid,
                              const unsigned char hash[AUTH_TOKEN_HASHLEN], char *id,
                              char *username, size_t cap)
{
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    proto_pack_cstr(&b.pk, "token_hash");
    msgpack_pack_bin(&b.pk, AUTH_TOKEN_HASHLEN);
    msgpack_pack_bin_body(&b.pk, hash, AUTH_TOKEN_HASHLEN);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_RESET_CHECK, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK && (auth_copy_str(rep.body, "user_id", id, RT_UUID_BUF) != 0 ||
                            auth_copy_str(rep.body, "username", username, cap) != 0))
        err = PROTO_ERR_INTERNAL_ERROR;
    proto_reply_cleanup(&rep);
    return err;
}

static proto_err_t consume(const auth_ctx_t *ctx, const char *rid,
                           const unsigned char hash[AUTH_TOKEN_HASHLEN], const char *pw_hash)
{
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 3);
    proto_pack_cstr(&b.pk, "token_hash");
    msgpack_pack_bin(&b.pk, AUTH_TOKEN_HASHLEN);
    msgpack_pack_bin_body(&b.pk, hash, AUTH_TOKEN_HASHLEN);
    proto_pack_kv_str(&b.pk, "password_hash", pw_hash);
    proto_pack_kv_int(&b.pk, "at_ms", auth_now_ms());
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_RESET_CONSUME, &b, &rep);
    auth_body_cleanup(&b);
    proto_reply_cleanup(&rep);
    return err;
}

AUTH_HANDLER(auth_op_reset_confirm)
{
    const auth_ctx_t *ctx = cc->svc;
    char token[PROTO_STR_BUF(PROTO_B_TOKEN)], next[PROTO_STR_BUF(PROTO_B_PASSWORD)];
    char ip[PROTO_STR_BUF(PROTO_B_IP)], user_id[RT_UUID_BUF], username[64];
    char pw_hash[AUTH_HASH_ENCODED_BUF], key[AUTH_KEY_BUF];
    unsigned char hash[AUTH_TOKEN_HASHLEN];
    auth_rate_t rate;
    const proto_str_arg_t args[] = {
        {"token", token, sizeof token, NULL},
        {"new_password", next, sizeof next, NULL},
        {"client_ip", ip, sizeof ip, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        goto done;
    auth_key_ip(key, ip);
    if ((err = auth_rate_check(ctx->api_limit, key, ctx->cfg->rate_limit_per_min, &rate, fail)) !=
        PROTO_OK)
        goto done;
    auth_token_hash(token, hash);
    err = token_user(ctx, req->rid, hash, user_id, username, sizeof username);
    /* A refused password (weak, breached, or the breach check down with
     * HIBP_FAIL_CLOSED) does not spend the token: try a better password. */
    if (err == PROTO_OK)
        err = auth_password_acceptable(ctx, req->rid, next, username, "new_password", fail);
    if (err == PROTO_OK) {
        err = auth_hash_password(ctx->hash, next, pw_hash, sizeof pw_hash) == 0
                  ? consume(ctx, req->rid, hash, pw_hash)
                  : PROTO_ERR_INTERNAL_ERROR;
    }
    if (err == PROTO_ERR_NOT_FOUND) {
        err = PROTO_ERR_INVALID_RESET_TOKEN;
        auth_fail_msg(fail, MSG_INVALID);
    }
    if (err == PROTO_OK) {
        auth_user_forget(ctx, user_id); /* its access tokens are refused from this answer on */
        rt_log_fields(RT_LOG_INFO, req->rid, "password reset: password set, sessions revoked",
                      json_pack("{s:s, s:s}", "event", "password_reset", "user_id", user_id));
        msgpack_pack_map(body, auth_rate_entries(&rate));
        auth_pack_rate(body, &rate);
    }
done:
    sodium_memzero(token, sizeof token);
    sodium_memzero(next, sizeof next);
    sodium_memzero(pw_hash, sizeof pw_hash);
    return err;
}
