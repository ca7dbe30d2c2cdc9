/*
 * proto_json: JSON (jansson) <-> msgpack for the gateway. Both directions
 * are bounded in depth; msgpack values with no JSON form (non-string keys,
 * ext, invalid UTF-8, integers above INT64_MAX) are refused, not guessed at.
 */
#include "proto_json.h"

#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 32
#define KEY_MAX        1024 /* longest map key converted to JSON */

static int pack_json_at(msgpack_packer *pk, const json_t *v, int depth);

static int pack_object(msgpack_packer *pk, const json_t *v, int depth)
{
    const char *key;
    json_t *val;
    int rc = msgpack_pack_map(pk, json_object_size(v));
    json_object_foreach((json_t *)v, key, val)
    {
        size_t n = strlen(key);
        rc |= msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, key, n);
        if (rc == 0)
            rc = pack_json_at(pk, val, depth + 1);
    }
    return rc;
}

static int pack_array(msgpack_packer *pk, const json_t *v, int depth)
{
    size_t i;
    json_t *val;
    int rc = msgpack_pack_array(pk, json_array_size(v));
    json_array_foreach(v, i, val)
    {
        if (rc == 0)
            rc = pack_json_at(pk, val, depth + 1);
    }
    return rc;
}

static int pack_json_at(msgpack_packer *pk, const json_t *v, int depth)
{
    if (!v || depth > JSON_DEPTH_MAX)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return pack_object(pk, v, depth);
    case JSON_ARRAY:
        return pack_array(pk, v, depth);
    case JSON_STRING: {
        size_t n = json_string_length(v);
        return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, json_string_value(v), n);
    }
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(v));
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v));
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    }
    return -1;
}

int proto_pack_json(msgpack_packer *pk, const json_t *value)
{
    if (!pk)
        return -1;
    return pack_json_at(pk, value, 1) == 0 ? 0 : -1;
}

/* ---- msgpack -> JSON ---- */

static json_t *to_json_at(const msgpack_object *o, int depth);

static json_t *base64_string(const char *data, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)data;
    size_t outlen = 4 * ((n + 2) / 3);
    char *out = malloc(outlen + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t b = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            b |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            b |= p[i + 2];
        out[j++] = A[(b >> 18) & 63];
        out[j++] = A[(b >> 12) & 63];
        out[j++] = i + 1 < n ? A[(b >> 6) & 63] : '=';
        out[j++] = i + 2 < n ? A[b & 63] : '=';
    }
    out[j] = '\0';
    json_t *s = json_stringn(out, j);
    free(out);
    return s;
}

static json_t *map_to_json(const msgpack_object *o, int depth)
{
    json_t *obj = json_object();
    char key[KEY_MAX + 1];
    for (uint32_t i = 0; obj && i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            goto fail;
        /* msgpack-c may leave ptr NULL for an empty fixstr key */
        const char *kp = kv->key.via.str.size ? kv->key.via.str.ptr : "";
        if (kv->key.via.str.size > KEY_MAX || memchr(kp, '\0', kv->key.via.str.size))
            goto fail;
        memcpy(key, kp, kv->key.via.str.size);
        key[kv->key.via.str.size] = '\0';
        json_t *val = to_json_at(&kv->val, depth + 1);
        if (!val || json_object_set_new(obj, key, val) != 0) /* set_new checks UTF-8 */
            goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

static json_t *array_to_json(const msgpack_object *o, int depth)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr && i < o->via.array.size; i++) {
        json_t *val = to_json_at(&o->via.array.ptr[i], depth + 1);
        if (!val || json_array_append_new(arr, val) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *to_json_at(const msgpack_object *o, int depth)
{
    if (!o || depth > JSON_DEPTH_MAX)
        return NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= (uint64_t)INT64_MAX ? json_integer((json_int_t)o->via.u64) : NULL;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR: /* msgpack-c may leave ptr NULL for an empty fixstr */
        return json_stringn(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return base64_string(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY:
        return array_to_json(o, depth);
    case MSGPACK_OBJECT_MAP:
        return map_to_json(o, depth);
    default:
        return NULL; /* ext */
    }
}

json_t *proto_to_json(const msgpack_object *obj)
{
    return to_json_at(obj, 1);
}
