/*
 * auth_util: shared helpers of the authsvc ops (see auth_util.h).
 */
#include "auth_util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void auth_body_init(auth_body_t *b)
{
    msgpack_sbuffer_init(&b->buf);
    msgpack_packer_init(&b->pk, &b->buf, msgpack_sbuffer_write);
}

void auth_body_cleanup(auth_body_t *b)
{
    msgpack_sbuffer_destroy(&b->buf);
}

proto_err_t auth_store_call(const auth_ctx_t *ctx, const char *rid, proto_op_t op,
                            const auth_body_t *body, proto_reply_t *rep)
{
    const char *data = body ? body->buf.data : NULL;
    size_t len = body ? body->buf.size : 0;
    return proto_pool_call(ctx->storesvc, op, rid, data, len, rep, -1);
}

proto_err_t auth_rate_check(auth_ratelimit_t *rl, const char *key, long limit, auth_rate_t *out,
                            proto_fail_t *fail)
{
    memset(out, 0, sizeof *out);
    if (limit <= 0 || !rl)
        return PROTO_OK;
    int retry = 0;
    int rc = auth_ratelimit_check(rl, key, (uint32_t)limit, &out->remaining, &out->reset_s, &retry);
    if (rc < 0)
        return PROTO_ERR_INTERNAL_ERROR;
    out->on = true;
    out->limit = (uint32_t)limit;
    /* The state goes into `fail` too: if the op then fails (401, 403, 422
     * ...) its error reply still carries the RateLimit-* figures. */
    fail->limit = limit;
    fail->remaining = out->remaining;
    fail->reset = out->reset_s;
    if (rc == AUTH_RATELIMIT_LIMITED) {
        fail->retry_after = retry > 0 ? retry : 1;
        fail->remaining = 0;
        fail->reset = fail->retry_after;
        auth_fail_msg(fail, "Too many requests. Please slow down.");
        return PROTO_ERR_RATE_LIMITED;
    }
    return PROTO_OK;
}

int auth_rate_entries(const auth_rate_t *r)
{
    return r && r->on ? 1 : 0;
}

void auth_pack_rate(msgpack_packer *pk, const auth_rate_t *r)
{
    if (!auth_rate_entries(r))
        return;
    proto_pack_cstr(pk, "rate");
    msgpack_pack_map(pk, 3);
    proto_pack_kv_int(pk, "limit", r->limit);
    proto_pack_kv_int(pk, "remaining", r->remaining);
    proto_pack_kv_int(pk, "reset", r->reset_s);
}

void auth_key_ip(char out[AUTH_KEY_BUF], const char *client_ip)
{
    snprintf(out, AUTH_KEY_BUF, "ip:%s", client_ip ? client_ip : "");
}

void auth_key_user(char out[AUTH_KEY_BUF], const char *user_id)
{
    snprintf(out, AUTH_KEY_BUF, "u:%s", user_id ? user_id : "");
}

int auth_token_new(char token[AUTH_TOKEN_BUF], unsigned char hash[AUTH_TOKEN_HASHLEN])
{
    unsigned char raw[AUTH_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    if (!sodium_bin2base64(token, AUTH_TOKEN_BUF, raw, sizeof raw,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return -1;
    sodium_memzero(raw, sizeof raw);
    auth_token_hash(token, hash);
    return 0;
}

void auth_token_hash(const char *token, unsigned char hash[AUTH_TOKEN_HASHLEN])
{
    crypto_hash_sha256(hash, (const unsigned char *)token, strlen(token));
}

int64_t auth_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int auth_copy_str(const msgpack_object *map, const char *key, char *out, size_t cap)
{
    if (proto_get_str(map, key, out, cap) == 0)
        return 0;
    if (cap > 0)
        out[0] = '\0';
    return -1;
}

void auth_pack_object(msgpack_packer *pk, const msgpack_object *obj)
{
    if (obj)
        msgpack_pack_object(pk, *obj);
    else
        msgpack_pack_nil(pk);
}

void auth_pack_field(msgpack_packer *pk, const msgpack_object *map, const char *key)
{
    proto_pack_cstr(pk, key);
    auth_pack_object(pk, proto_map_get(map, key));
}

void auth_pack_shape_fields(msgpack_packer *pk, const msgpack_object *map,
                            const proto_shape_t *shape)
{
    for (size_t i = 0; i < shape->nkeys; i++)
        auth_pack_field(pk, map, shape->keys[i].key);
}

void auth_fail_msg(proto_fail_t *fail, const char *msg)
{
    if (fail)
        snprintf(fail->msg, sizeof fail->msg, "%s", msg ? msg : "");
}

void auth_fail_field(proto_fail_t *fail, const char *field, const char *msg)
{
    if (!fail)
        return;
    auth_fail_msg(fail, msg);
    snprintf(fail->field, sizeof fail->field, "%s", field ? field : "");
}
