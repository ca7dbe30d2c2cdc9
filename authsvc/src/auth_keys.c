/*
 * auth_keys: API-key authentication and the apikey ops (see the header).
 *
 * Lookup by the key id (public), then SHA-256 of the presented secret
 * against the stored hash in constant time: what the cache holds is the
 * stored hash, so every request proves its secret again. The key's text is
 * never logged or stored; only its id appears in log lines.
 */
#include "auth_keys.h"

#include "auth_apikey.h"
#include "auth_password.h"
#include "auth_util.h"
#include "rt_log.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define ID_BUF       PROTO_STR_BUF(PROTO_B_ID)
#define MAX_DAYS     3650 /* expires_in_days: at most ten years */
#define NAME_MAX_CPS 100  /* a key's name, in code points after cleaning */

/* ---- lookup ---- */

/* A store.apikey_lookup reply into `out`; -1 when malformed. */
static int take_lookup(const msgpack_object *b, auth_keycache_key_t *out)
{
    char perms[PROTO_STR_BUF(PROTO_B_PERMS)];
    const msgpack_object *h = proto_map_get(b, "secret_hash");
    const msgpack_object *pv = proto_map_get(b, "permissions");
    int64_t v = 0;
    memset(out, 0, sizeof *out);
    if (auth_copy_str(b, "id", out->id, sizeof out->id) != 0 ||
        auth_copy_str(b, "user_id", out->user_id, sizeof out->user_id) != 0 || !h ||
        h->type != MSGPACK_OBJECT_BIN || h->via.bin.size != AUTH_APIKEY_HASHLEN)
        return -1;
    memcpy(out->secret_hash, h->via.bin.ptr, AUTH_APIKEY_HASHLEN);
    if (pv && pv->type == MSGPACK_OBJECT_STR) {
        if (auth_copy_str(b, "permissions", perms, sizeof perms) != 0)
            return -1;
        out->narrowed = true;
        out->perms = auth_apikey_perms_parse(perms);
    }
    out->expires_ms = proto_get_int(b, "expires_ms", &v) == 0 ? (v > 0 ? v : 1) : 0;
    out->last_used_ms = proto_get_int(b, "last_used_ms", &v) == 0 ? v : 0;
    return 0;
}

static proto_err_t fetch_key(const auth_ctx_t *ctx, const char *rid, const char *key_id,
                             auth_keycache_key_t *out)
{
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    proto_pack_kv_str(&b.pk, "key_id", key_id);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_APIKEY_LOOKUP, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK && take_lookup(rep.body, out) != 0) {
        rt_error(rid, "store.apikey_lookup: malformed reply");
        err = PROTO_ERR_INTERNAL_ERROR;
    }
    proto_reply_cleanup(&rep);
    return err;
}

/* The key row for `key_id`: from the cache, or storesvc (then cached). */
static proto_err_t key_row(const auth_ctx_t *ctx, const char *rid, const char *key_id,
                           auth_keycache_key_t *out)
{
    if (ctx->keycache && auth_keycache_get(ctx->keycache, key_id, out) == 0)
        return PROTO_OK;
    uint64_t gen = ctx->keycache ? auth_keycache_generation(ctx->keycache, key_id) : 0;
    proto_err_t err = fetch_key(ctx, rid, key_id, out);
    if (err == PROTO_OK && ctx->keycache)
        (void)auth_keycache_put_if_current(ctx->keycache, key_id, out, gen);
    return err;
}

/* last_used_at, at most once per interval per key (storesvc checks the
 * interval too, so several replicas still write at most once). */
static void note_use(const auth_ctx_t *ctx, const char *rid, const char *key_id,
                     const auth_keycache_key_t *k, int64_t now_ms)
{
    int64_t interval_ms = (int64_t)ctx->cfg->apikey_used_interval_s * 1000;
    if (k->last_used_ms && now_ms - k->last_used_ms < interval_ms)
        return;
    auth_body_t b;
    proto_reply_t rep;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 2);
    proto_pack_kv_str(&b.pk, "id", k->id);
    proto_pack_kv_int(&b.pk, "interval_s", ctx->cfg->apikey_used_interval_s);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_APIKEY_TOUCH, &b, &rep);
    auth_body_cleanup(&b);
    proto_reply_cleanup(&rep);
    if (err == PROTO_OK && ctx->keycache)
        auth_keycache_mark_used(ctx->keycache, key_id, now_ms);
    else if (err != PROTO_OK)
        rt_debug(rid, "API key last use not recorded: %s", proto_err_code(err));
}

static proto_err_t refuse(const char *rid, const char *why)
{
    rt_debug(rid, "API key refused: %s", why);
    return PROTO_ERR_UNAUTHORIZED;
}

proto_err_t auth_keys_authenticate(const auth_ctx_t *ctx, const char *rid, const char *key,
                                   auth_key_principal_t *out)
{
    char key_id[AUTH_APIKEY_ID_BUF];
    unsigned char hash[AUTH_APIKEY_HASHLEN];
    auth_keycache_key_t k;
    memset(out, 0, sizeof *out);
    if (auth_apikey_parse(key, key_id, hash) != 0)
        return refuse(rid, "malformed");
    proto_err_t err = key_row(ctx, rid, key_id, &k);
    if (err == PROTO_ERR_NOT_FOUND)
        return refuse(rid, "unknown");
    if (err != PROTO_OK)
        return err;
    bool match = auth_apikey_hash_equal(hash, k.secret_hash);
    sodium_memzero(hash, sizeof hash);
    int64_t now = auth_now_ms();
    if (!match)
        return refuse(rid, "wrong secret");
    if (k.expires_ms && now >= k.expires_ms)
        return refuse(rid, "expired");
    err = auth_user_state(ctx, rid, k.user_id, &out->p.user);
    if (err == PROTO_ERR_NOT_FOUND || (err == PROTO_OK && !out->p.user.is_active))
        return refuse(rid, "owner disabled or deleted");
    if (err != PROTO_OK)
        return err;
    note_use(ctx, rid, key_id, &k, now);
    snprintf(out->p.claims.sub, sizeof out->p.claims.sub, "%s", k.user_id);
    out->p.claims.exp = k.expires_ms ? k.expires_ms / 1000 : 0;
    snprintf(out->key_id, sizeof out->key_id, "%s", k.id);
    out->narrowed = k.narrowed;
    out->perms = k.perms;
    return PROTO_OK;
}

bool auth_keys_allows(const auth_key_principal_t *kp, proto_perm_t perm)
{
    return auth_apikey_allows(kp->p.user.role, kp->narrowed, kp->perms, perm);
}

/* ---- replies ---- */

/* `permissions` as storesvc has it (names separated by spaces, or nil) as
 * an array of names, or nil for a key that follows the owner's role. */
static void pack_perms(msgpack_packer *pk, const msgpack_object *row)
{
    char text[PROTO_STR_BUF(PROTO_B_PERMS)], names[AUTH_APIKEY_PERMS_BUF];
    proto_pack_cstr(pk, "permissions");
    if (auth_copy_str(row, "permissions", text, sizeof text) != 0 ||
        auth_apikey_perms_format(auth_apikey_perms_parse(text), names, sizeof names) != 0) {
        msgpack_pack_nil(pk);
        return;
    }
    uint32_t n = 0;
    for (const char *p = names; *p; p += strcspn(p, " "), p += *p == ' ')
        n++;
    msgpack_pack_array(pk, n);
    for (const char *p = names; *p;) {
        size_t len = strcspn(p, " ");
        msgpack_pack_str(pk, len);
        msgpack_pack_str_body(pk, p, len);
        p += len + (p[len] == ' ');
    }
}

/* One key of a storesvc reply, with the documented keys; `key` is the new
 * key's text (create only), else NULL. */
static void pack_key(msgpack_packer *pk, const msgpack_object *row, const char *key)
{
    static const char *const fields[] = {"id", "name", "created_at", "expires_at"};
    msgpack_pack_map(pk, 4 + 1 + 1);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        auth_pack_field(pk, row, fields[i]);
    if (key)
        proto_pack_kv_str(pk, "key", key);
    else
        auth_pack_field(pk, row, "last_used_at");
    pack_perms(pk, row);
}

/* ---- auth.apikey_create ---- */

/* The optional permissions array against the actor's role: *narrowed and
 * the canonical names into text[cap]. */
static proto_err_t check_perms(const proto_request_t *req, proto_role_t role, bool *narrowed,
                               char *text, size_t cap, proto_fail_t *fail)
{
    const char *names[PROTO_PERMS_MAX];
    char buf[PROTO_PERMS_MAX][PROTO_STR_BUF(PROTO_B_PERM)];
    uint32_t mask = 0;
    const msgpack_object *v = NULL;
    proto_err_t err = proto_body_array(req, "permissions", &v, fail); /* <= PROTO_PERMS_MAX */
    text[0] = '\0';
    *narrowed = v != NULL;
    if (err != PROTO_OK || !*narrowed)
        return err;
    if (v->via.array.size > PROTO_PERMS_MAX) /* the catalogue's bound: never */
        goto bad;
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *e = &v->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_STR || e->via.str.size > PROTO_B_PERM ||
            (e->via.str.size && memchr(e->via.str.ptr, '\0', e->via.str.size)))
            goto bad;
        memcpy(buf[i], e->via.str.ptr, e->via.str.size);
        buf[i][e->via.str.size] = '\0';
        names[i] = buf[i];
    }
    auth_apikey_perms_t st = auth_apikey_perms_subset(role, names, v->via.array.size, &mask, NULL);
    if (st != AUTH_APIKEY_PERMS_OK) {
        auth_fail_field(fail, "permissions", auth_apikey_perms_message(st));
        return PROTO_ERR_VALIDATION_ERROR;
    }
    if (auth_apikey_perms_format(mask, text, cap) != 0)
        return PROTO_ERR_INTERNAL_ERROR;
    return PROTO_OK;
bad:
    auth_fail_field(fail, "permissions", "permissions must be a list of permission names");
    return PROTO_ERR_VALIDATION_ERROR;
}

/* name (cleaned like a full name) and expires_in_days. */
static proto_err_t check_key_fields(const proto_request_t *req, const char *name, char *clean,
                                    int64_t *days, bool *has_days, proto_fail_t *fail)
{
    const proto_int_arg_t ints[] = {{"expires_in_days", days, has_days}};
    proto_err_t err = proto_body_ints(req, ints, AUTH_NARGS(ints), fail);
    if (err != PROTO_OK)
        return err;
    if (auth_full_name_clean(name, clean, AUTH_FULL_NAME_BUF) != 0 || !clean[0]) {
        auth_fail_field(fail, "name", "name must be 1 to 100 characters of text");
        return PROTO_ERR_VALIDATION_ERROR;
    }
    if (*has_days && (*days < 1 || *days > MAX_DAYS)) {
        auth_fail_field(fail, "expires_in_days", "expires_in_days must be 1 to 3650");
        return PROTO_ERR_VALIDATION_ERROR;
    }
    return PROTO_OK;
}

static proto_err_t store_new_key(const auth_ctx_t *ctx, const char *rid, const char *actor,
                                 const char *key_id, const unsigned char *hash, const char *name,
                                 const int64_t *days, const char *perms, proto_reply_t *rep)
{
    auth_body_t b;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 5 + (days != NULL) + (perms != NULL));
    proto_pack_kv_str(&b.pk, "user_id", actor);
    proto_pack_kv_str(&b.pk, "key_id", key_id);
    proto_pack_cstr(&b.pk, "secret_hash");
    msgpack_pack_bin(&b.pk, AUTH_APIKEY_HASHLEN);
    msgpack_pack_bin_body(&b.pk, hash, AUTH_APIKEY_HASHLEN);
    proto_pack_kv_str(&b.pk, "name", name);
    if (days)
        proto_pack_kv_int(&b.pk, "expires_s", *days * 86400);
    if (perms)
        proto_pack_kv_str(&b.pk, "permissions", perms);
    proto_pack_kv_int(&b.pk, "max_per_user", ctx->cfg->apikey_max_per_user);
    proto_err_t err = auth_store_call(ctx, rid, PROTO_OP_STORE_APIKEY_CREATE, &b, rep);
    auth_body_cleanup(&b);
    return err;
}

AUTH_HANDLER(auth_op_apikey_create)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], role_s[PROTO_STR_BUF(PROTO_B_ROLE)], name[PROTO_STR_BUF(PROTO_B_NAME)];
    char clean[AUTH_FULL_NAME_BUF], perms[AUTH_APIKEY_PERMS_BUF];
    char key[AUTH_APIKEY_BUF], key_id[AUTH_APIKEY_ID_BUF];
    unsigned char hash[AUTH_APIKEY_HASHLEN];
    int64_t days = 0;
    bool has_days = false, narrowed = false;
    proto_reply_t rep;
    proto_reply_init(&rep);
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"actor_role", role_s, sizeof role_s, NULL},
        {"name", name, sizeof name, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err == PROTO_OK)
        err = check_key_fields(req, name, clean, &days, &has_days, fail);
    if (err == PROTO_OK)
        err = check_perms(req, proto_role_parse(role_s), &narrowed, perms, sizeof perms, fail);
    if (err == PROTO_OK && auth_apikey_new(key, key_id, hash) != 0)
        err = PROTO_ERR_INTERNAL_ERROR;
    if (err == PROTO_OK)
        err = store_new_key(ctx, req->rid, actor, key_id, hash, clean, has_days ? &days : NULL,
                            narrowed ? perms : NULL, &rep);
    if (err == PROTO_OK) {
        pack_key(body, rep.body, key);
        rt_log_fields(RT_LOG_INFO, req->rid, "API key created",
                      json_pack("{s:s, s:s}", "event", "api_key_created", "user_id", actor));
    } else if (err == PROTO_ERR_CONFLICT) {
        auth_fail_msg(fail, "Too many API keys: delete one first");
    }
    proto_reply_cleanup(&rep);
    sodium_memzero(key, sizeof key);
    return err;
}

/* ---- auth.apikey_list, auth.apikey_delete ---- */

AUTH_HANDLER(auth_op_apikey_list)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF];
    auth_body_t b;
    proto_reply_t rep;
    const proto_str_arg_t args[] = {{"actor_id", actor, sizeof actor, NULL}};
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 1);
    proto_pack_kv_str(&b.pk, "user_id", actor);
    err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_APIKEY_LIST, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK) {
        const msgpack_object *list = proto_map_get(rep.body, "api_keys");
        uint32_t n = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
        msgpack_pack_map(body, 1);
        proto_pack_cstr(body, "api_keys");
        msgpack_pack_array(body, n);
        for (uint32_t i = 0; i < n; i++)
            pack_key(body, &list->via.array.ptr[i], NULL);
    }
    proto_reply_cleanup(&rep);
    return err;
}

AUTH_HANDLER(auth_op_apikey_delete)
{
    const auth_ctx_t *ctx = cc->svc;
    char actor[ID_BUF], id[ID_BUF], key_id[PROTO_STR_BUF(PROTO_B_KEYID)];
    auth_body_t b;
    proto_reply_t rep;
    const proto_str_arg_t args[] = {
        {"actor_id", actor, sizeof actor, NULL},
        {"id", id, sizeof id, NULL},
    };
    proto_err_t err = proto_body_strs(req, args, AUTH_NARGS(args), fail);
    if (err != PROTO_OK)
        return err;
    auth_body_init(&b);
    msgpack_pack_map(&b.pk, 2);
    proto_pack_kv_str(&b.pk, "user_id", actor); /* scoped: only the actor's own */
    proto_pack_kv_str(&b.pk, "id", id);
    err = auth_store_call(ctx, req->rid, PROTO_OP_STORE_APIKEY_DELETE, &b, &rep);
    auth_body_cleanup(&b);
    if (err == PROTO_OK && auth_copy_str(rep.body, "key_id", key_id, sizeof key_id) == 0 &&
        ctx->keycache)
        (void)auth_keycache_invalidate(ctx->keycache, key_id); /* refused from this answer on */
    if (err == PROTO_ERR_NOT_FOUND)
        auth_fail_msg(fail, "No such API key");
    if (err == PROTO_OK) {
        rt_log_fields(RT_LOG_INFO, req->rid, "API key deleted",
                      json_pack("{s:s, s:s}", "event", "api_key_deleted", "user_id", actor));
        msgpack_pack_map(body, 0);
    }
    proto_reply_cleanup(&rep);
    return err;
}
