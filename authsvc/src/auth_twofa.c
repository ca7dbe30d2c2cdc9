/*
 * auth_twofa: TOTP setup, enable, disable and the login's second factor
 * (see the header). No secret, code or backup code is ever logged; they
 * are wiped from the stack when done.
 */
#include "auth_twofa.h"

#include "auth_admit.h"
#include "auth_backup.h"
#include "auth_totp.h"
#include "auth_util.h"
#include "rt_log.h"

#include <sodium.h>
#include <string.h>

#define ID_BUF       PROTO_STR_BUF(PROTO_B_ID)
#define SECRET_MAX   64
#define MSG_ON       "Two-factor authentication is already enabled"
#define MSG_OFF      "Two-factor authentication is not enabled"
#define MSG_NO_SETUP "Set up two-factor authentication first"
#define MSG_INVALID  "Invalid two-factor authentication code"

/* What storesvc holds about a user's TOTP (store.totp_get). */
typedef struct {
    bool enabled;
    unsigned char secret[AUTH_SEALED_MAX], pending[AUTH_SEALED_MAX];
    size_t secret_len, pending_len; /* 0: none */
} totp_state_t;

static int64_t now_s(void)
{
    return auth_now_ms() / 1000;
}

static void pack_kv_bin(msgpack_packer *pk, const char *key, const void *data, size_t len)
{
    proto_pack_cstr(pk, key);
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, data, len);
}

/* A bin value of `map` (nil or absent: len 0); -1 when not bin or too long. */
static int copy_bin(const msgpack_object *map, const char *key, unsigned char *out, size_t cap,
                    size_t *len)
{
    const msgpack_object *v = proto_map_get(map, key);
    *len = 0;
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size > cap)
        return -1;
    memcpy(out, v->via.bin.ptr, v->via.bin.size);
    *len = v->via.bin.size;
    return 0;
}

/* One storesvc op with the body `b` (cleaned up here). */
static proto_err_t store_op(const auth_ctx_t *ctx, const char *rid, proto_op_t op, auth_body_t *b,
                            proto_reply_t *rep)
{
    proto_err_t err = auth_store_call(ctx, rid, op, b, rep);
    auth_body_cleanup(b);
    return err;
}

/* A body {user_id, ...} with room for `extra` more fields. */
static void body_for(auth_body_t *b, const char *user_id, size_t extra)
{
    auth_body_init(b);
    msgpack_pack_map(&b->pk, 1 + extra);
    proto_pack_kv_str(&b->pk, "user_id", user_id);
}

static proto_err_t get_state(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                             totp_state_t *st)
{
    auth_body_t b;
    proto_reply_t rep;
    body_for(&b, user_id, 0);
    proto_err_t err = store_op(ctx, rid, PROTO_OP_STORE_TOTP_GET, &b, &rep);
    memset(st, 0, sizeof *st);
    if (err == PROTO_OK &&
        (proto_get_bool(rep.body, "enabled", &st->enabled) != 0 ||
         copy_bin(rep.body, "secret", st->secret, sizeof st->secret, &st->secret_len) != 0 ||
         copy_bin(rep.body, "pending", st->pending, sizeof st->pending, &st->pending_len) != 0)) {
        rt_error(rid, "store.totp_get: malformed reply");
        err = PROTO_ERR_INTERNAL_ERROR;
    }
    proto_reply_cleanup(&rep);
    return err;
}

/* The bool `key` of a storesvc reply to `op` (false when absent). */
static proto_err_t ask_bool(const auth_ctx_t *ctx, const char *rid, proto_op_t op, auth_body_t *b,
                            const char *key, bool *out)
{
    proto_reply_t rep;
    proto_err_t err = store_op(ctx, rid, op, b, &rep);
    *out = false;
    if (err == PROTO_OK && proto_get_bool(rep.body, key, out) != 0)
        err = PROTO_ERR_INTERNAL_ERROR;
    proto_reply_cleanup(&rep);
    return err;
}

/* auth_totp_validate against a sealed secret; -1 (logged) when it cannot
 * be opened. */
static int check_code(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                      const unsigned char *sealed, size_t sealed_len, const char *code,
                      int64_t *step)
{
    unsigned char secret[SECRET_MAX];
    size_t len = 0;
    if (auth_secrets_open(ctx->secrets, user_id, sealed, sealed_len, secret, sizeof secret, &len) !=
        0) {
        rt_error(rid, "a stored TOTP secret cannot be opened (TOTP_ENCRYPTION_KEY changed?)");
        return -1;
    }
    int rc = auth_totp_validate(secret, len, now_s(), code, step);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

/* Marks `step` used; PROTO_ERR_TOTP_INVALID when it (or a later one) was. */
static proto_err_t use_step(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                            int64_t step)
{
    auth_body_t b;
    bool accepted = false;
    body_for(&b, user_id, 1);
    proto_pack_kv_int(&b.pk, "step", step);
    proto_err_t err = ask_bool(ctx, rid, PROTO_OP_STORE_TOTP_USE_STEP, &b, "accepted", &accepted);
    if (err == PROTO_OK && !accepted) {
        rt_log_fields(RT_LOG_WARNING, rid, "a TOTP code was presented again: refused",
                      json_pack("{s:s, s:s}", "event", "totp_replay", "user_id", user_id));
        err = PROTO_ERR_TOTP_INVALID;
    }
    return err;
}

/* Uses up a backup code; PROTO_ERR_TOTP_INVALID when it is not one. */
static proto_err_t use_backup(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                              const char *typed)
{
    char norm[AUTH_BACKUP_NORM];
    unsigned char hash[AUTH_BACKUP_HASH_BYTES];
    auth_body_t b;
    bool accepted = false;
    if (auth_backup_normalise(typed, norm) != 0)
        return PROTO_ERR_TOTP_INVALID;
    auth_secrets_backup_hash(ctx->secrets, user_id, norm, hash);
    sodium_memzero(norm, sizeof norm);
    body_for(&b, user_id, 1);
    pack_kv_bin(&b.pk, "code_hash", hash, sizeof hash);
    proto_err_t err = ask_bool(ctx, rid, PROTO_OP_STORE_TOTP_USE_BACKUP, &b, "accepted", &accepted);
    if (err == PROTO_OK && accepted)
        rt_log_fields(RT_LOG_INFO, rid, "a backup code was used",
                      json_pack("{s:s, s:s}", "event", "totp_backup_used", "user_id", user_id));
    return err == PROTO_OK && !accepted ? PROTO_ERR_TOTP_INVALID : err;
}

/* A TOTP code against the enabled secret in `st`, then marked used. */
static proto_err_t use_code(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                            const totp_state_t *st, const char *code)
{
    int64_t step = 0;
    int rc = check_code(ctx, rid, user_id, st->secret, st->secret_len, code, &step);
    if (rc < 0)
        return PROTO_ERR_INTERNAL_ERROR;
    if (rc != AUTH_TOTP_MATCH)
        return PROTO_ERR_TOTP_INVALID;
    return use_step(ctx, rid, user_id, step);
}

/* A TOTP code (six digits) or else a backup code, for a user with TOTP on. */
static proto_err_t use_factor(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                              const char *totp, const char *backup)
{
    totp_state_t st;
    if (backup[0])
        return use_backup(ctx, rid, user_id, backup);
    proto_err_t err = get_state(ctx, rid, user_id, &st);
    if (err == PROTO_OK)
        err = st.enabled ? use_code(ctx, rid, user_id, &st, totp) : PROTO_ERR_TOTP_INVALID;
    sodium_memzero(&st, sizeof st);
    return err;
}

static auth_limiter_outcome_t outcome_of(proto_err_t err)
{
    return err == PROTO_OK                 ? AUTH_LIMITER_SUCCESS
           : err == PROTO_ERR_TOTP_INVALID ? AUTH_LIMITER_FAILURE
                                           : AUTH_LIMITER_NEUTRAL;
}

proto_err_t auth_twofa_login(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                             const char *totp_code, const char *backup_code,
                             auth_limiter_outcome_t *outcome)
{
    if (!totp_code[0] && !backup_code[0]) {
        *outcome = AUTH_LIMITER_NEUTRAL;
        return PROTO_ERR_TOTP_REQUIRED;
    }
    proto_err_t err = use_factor(ctx, rid, user_id, totp_code, backup_code);
    *outcome = outcome_of(err);
    return err;
}

/* ---- auth.totp_setup ---- */

/* A new secret, sealed into sealed[AUTH_SEALED_MAX], in base32 into b32. */
static int new_secret(const auth_ctx_t *ctx, const char *user_id, unsigned char *sealed,
                      size_t *sealed_len, char b32[AUTH_TOTP_SECRET_B32 + 1])
{
    unsigned char secret[AUTH_TOTP_SECRET_BYTES];
    randombytes_buf(secret, sizeof secret);
    int rc = auth_secrets_seal(ctx->secrets, user_id, secret, sizeof secret, sealed,
                               AUTH_SEALED_MAX, sealed_len) == 0 &&
                     auth_base32_encode(secret, sizeof secret, b32, AUTH_TOTP_SECRET_B32 + 1) ==
                         AUTH_TOTP_SECRET_B32
                 ? 0
                 : -1;
    sodium_memzero(secret, sizeof secret);
    return rc;
}

AUTH_HANDLER(auth_op_totp_setup)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], b32[AUTH_TOTP_SECRET_B32 + 1], uri[AUTH_TOTP_URI_MAX];
    unsigned char sealed[AUTH_SEALED_MAX];
    size_t sealed_len = 0;
    auth_cache_user_t who;
    auth_body_t b;
    proto_reply_t rep;
    const proto_str_arg_t args[] = {{"actor_id", actor, sizeof actor, NULL}};
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    if ((err = auth_user_state(ctx, req->rid, actor, &who)) != PROTO_OK)
        return err == PROTO_ERR_NOT_FOUND ? PROTO_ERR_UNAUTHORIZED : err;
    if (new_secret(ctx, actor, sealed, &sealed_len, b32) != 0 ||
        auth_totp_uri(ctx->cfg->totp_issuer, who.username, b32, uri, sizeof uri) != 0)
        return PROTO_ERR_INTERNAL_ERROR;
    body_for(&b, actor, 1);
    pack_kv_bin(&b.pk, "secret", sealed, sealed_len);
    err = store_op(ctx, req->rid, PROTO_OP_STORE_TOTP_SETUP, &b, &rep);
    proto_reply_cleanup(&rep);
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 2);
        proto_pack_kv_str(body, "secret", b32);
        proto_pack_kv_str(body, "otpauth_uri", uri);
        rt_info(req->rid, "two-factor authentication set up (pending confirmation)");
    } else if (err == PROTO_ERR_CONFLICT) {
        auth_fail_msg(fail, MSG_ON);
    } else if (err == PROTO_ERR_NOT_FOUND) {
        err = PROTO_ERR_UNAUTHORIZED;
    }
    sodium_memzero(b32, sizeof b32);
    sodium_memzero(uri, sizeof uri);
    return err;
}

/* ---- auth.totp_enable ---- */

/* A fresh set of codes (display form) and their hashes, concatenated. */
static void new_backup_codes(const auth_ctx_t *ctx, const char *user_id,
                             char codes[AUTH_BACKUP_CODES][AUTH_BACKUP_BUF],
                             unsigned char hashes[AUTH_BACKUP_CODES * AUTH_BACKUP_HASH_BYTES])
{
    char norm[AUTH_BACKUP_NORM];
    for (size_t i = 0; i < AUTH_BACKUP_CODES; i++) {
        auth_backup_generate(codes[i]);
        (void)auth_backup_normalise(codes[i], norm); /* always well-formed */
        auth_secrets_backup_hash(ctx->secrets, user_id, norm, hashes + i * AUTH_BACKUP_HASH_BYTES);
    }
    sodium_memzero(norm, sizeof norm);
}

/* store.totp_enable: PROTO_OK, or TOTP_INVALID when the pending secret
 * was replaced meanwhile (the code was for the old one), or CONFLICT. */
static proto_err_t store_enable(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                                const totp_state_t *st, int64_t step, const unsigned char *hashes)
{
    auth_body_t b;
    proto_reply_t rep;
    body_for(&b, user_id, 3);
    pack_kv_bin(&b.pk, "secret", st->pending, st->pending_len);
    proto_pack_kv_int(&b.pk, "step", step);
    pack_kv_bin(&b.pk, "backup_hashes", hashes, AUTH_BACKUP_CODES * AUTH_BACKUP_HASH_BYTES);
    proto_err_t err = store_op(ctx, rid, PROTO_OP_STORE_TOTP_ENABLE, &b, &rep);
    const msgpack_object *v = err == PROTO_OK ? proto_map_get(rep.body, "outcome") : NULL;
    int outcome = v && v->type == MSGPACK_OBJECT_STR
                      ? proto_val_parse(PROTO_VALS_TOTP_ENABLE, v->via.str.ptr, v->via.str.size)
                      : -1;
    proto_reply_cleanup(&rep);
    if (err == PROTO_OK && outcome < 0) {
        rt_error(rid, "store.totp_enable: malformed reply");
        err = PROTO_ERR_INTERNAL_ERROR;
    } else if (err == PROTO_OK && outcome != PROTO_TOTP_ENABLED) {
        err = PROTO_ERR_TOTP_INVALID; /* stale: the code was for a replaced secret */
    }
    return err;
}

/* The state check and the code check of an enable: PROTO_OK with *step. */
static proto_err_t check_enable(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                                const totp_state_t *st, const char *code, int64_t *step,
                                proto_fail_t *fail)
{
    if (st->enabled || !st->pending_len) {
        auth_fail_msg(fail, st->enabled ? MSG_ON : MSG_NO_SETUP);
        return PROTO_ERR_CONFLICT;
    }
    int rc = check_code(ctx, rid, user_id, st->pending, st->pending_len, code, step);
    if (rc < 0)
        return PROTO_ERR_INTERNAL_ERROR;
    return rc == AUTH_TOTP_MATCH ? PROTO_OK : PROTO_ERR_TOTP_INVALID;
}

static void pack_codes(msgpack_packer *pk, char codes[AUTH_BACKUP_CODES][AUTH_BACKUP_BUF])
{
    msgpack_pack_map(pk, 1);
    proto_pack_cstr(pk, "backup_codes");
    msgpack_pack_array(pk, AUTH_BACKUP_CODES);
    for (size_t i = 0; i < AUTH_BACKUP_CODES; i++)
        proto_pack_cstr(pk, codes[i]);
}

AUTH_HANDLER(auth_op_totp_enable)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], code[PROTO_STR_BUF(PROTO_B_CODE)];
    char codes[AUTH_BACKUP_CODES][AUTH_BACKUP_BUF];
    unsigned char hashes[AUTH_BACKUP_CODES * AUTH_BACKUP_HASH_BYTES];
    totp_state_t st;
    int64_t step = 0;
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"code", code, sizeof code, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    memset(&st, 0, sizeof st);
    if ((err = get_state(ctx, req->rid, actor, &st)) == PROTO_OK &&
        (err = check_enable(ctx, req->rid, actor, &st, code, &step, fail)) == PROTO_OK) {
        new_backup_codes(ctx, actor, codes, hashes);
        err = store_enable(ctx, req->rid, actor, &st, step, hashes);
        if (err == PROTO_OK) {
            pack_codes(body, codes);
            rt_log_fields(RT_LOG_INFO, req->rid, "two-factor authentication enabled",
                          json_pack("{s:s, s:s}", "event", "totp_enabled", "user_id", actor));
        }
        sodium_memzero(codes, sizeof codes);
    }
    if (err == PROTO_ERR_TOTP_INVALID)
        auth_fail_msg(fail, MSG_INVALID);
    else if (err == PROTO_ERR_NOT_FOUND)
        err = PROTO_ERR_UNAUTHORIZED;
    sodium_memzero(&st, sizeof st);
    sodium_memzero(code, sizeof code);
    return err;
}

/* ---- auth.totp_disable ---- */

/* Password, state and factor of a disable, in that order. */
static proto_err_t check_disable(const auth_ctx_t *ctx, const char *rid, const char *actor,
                                 const char *password, const char *code, proto_fail_t *fail)
{
    char hash[AUTH_HASH_ENCODED_MAX + 1], norm[AUTH_TOTP_CODE_BUF];
    auth_cache_user_t who;
    totp_state_t st;
    proto_err_t err = auth_stored_hash(ctx, rid, actor, &who, hash, sizeof hash);
    if (err != PROTO_OK)
        return err;
    if (auth_hash_verify(ctx->hash, hash, password) != AUTH_HASH_MATCH) {
        auth_fail_msg(fail, "The password is incorrect");
        return PROTO_ERR_INVALID_PASSWORD;
    }
    if ((err = get_state(ctx, rid, actor, &st)) != PROTO_OK)
        return err;
    if (!st.enabled) {
        auth_fail_msg(fail, MSG_OFF);
        err = PROTO_ERR_CONFLICT;
    } else if (auth_totp_code_normalise(code, norm) == 0) {
        err = use_code(ctx, rid, actor, &st, norm);
    } else {
        err = use_backup(ctx, rid, actor, code);
    }
    if (err == PROTO_ERR_TOTP_INVALID)
        auth_fail_msg(fail, MSG_INVALID);
    sodium_memzero(&st, sizeof st);
    return err;
}

static proto_err_t store_disable(const auth_ctx_t *ctx, const char *rid, const char *actor)
{
    auth_body_t b;
    bool disabled = false;
    body_for(&b, actor, 0);
    proto_err_t err = ask_bool(ctx, rid, PROTO_OP_STORE_TOTP_DISABLE, &b, "disabled", &disabled);
    return err == PROTO_OK && !disabled ? PROTO_ERR_CONFLICT : err;
}

/* Guesses of the password or the code go through the login limiter keyed
 * by the user, as for a password change: a stolen access token is no way
 * to brute-force either. */
AUTH_HANDLER(auth_op_totp_disable)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], password[PROTO_STR_BUF(PROTO_B_PASSWORD)];
    char code[PROTO_STR_BUF(PROTO_B_CODE)], key[AUTH_KEY_BUF];
    int retry = 0;
    bool started = false;
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"password", password, sizeof password, NULL},
        {"code", code, sizeof code, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        goto done;
    auth_key_user(key, actor);
    if (auth_limiter_begin(ctx->login_limiter, key, &retry) != AUTH_LIMITER_ALLOWED) {
        fail->retry_after = retry;
        auth_fail_msg(fail, "Too many failed attempts. Please try again later.");
        err = PROTO_ERR_LOGIN_RATE_LIMITED;
        goto done;
    }
    err = check_disable(ctx, req->rid, actor, password, code, fail);
    if (err == PROTO_OK && (err = store_disable(ctx, req->rid, actor)) == PROTO_ERR_CONFLICT)
        auth_fail_msg(fail, MSG_OFF);
    auth_limiter_end(ctx->login_limiter, key,
                     err == PROTO_ERR_INVALID_PASSWORD ? AUTH_LIMITER_FAILURE : outcome_of(err),
                     &started);
    if (started)
        rt_warn(req->rid, "2FA changes of a user blocked after repeated wrong passwords or codes");
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 0);
        rt_log_fields(RT_LOG_INFO, req->rid, "two-factor authentication disabled",
                      json_pack("{s:s, s:s}", "event", "totp_disabled", "user_id", actor));
    } else if (err == PROTO_ERR_NOT_FOUND) {
        err = PROTO_ERR_UNAUTHORIZED;
    }
done:
    sodium_memzero(password, sizeof password);
    sodium_memzero(code, sizeof code);
    return err;
}
