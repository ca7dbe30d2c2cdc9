/*
 * gw_schema: field-table validation of request bodies and key-table
 * projection of answers. Both walk small static tables; nothing here
 * allocates beyond the JSON values it returns.
 */
#include "gw_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const gw_field_t *gw_schema_field(const gw_field_t *fields, const char *name)
{
    for (const gw_field_t *f = fields; f && f->name; f++) {
        if (strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

/* True when `name` may be echoed back as a field name. */
static bool plain_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > GW_SCHEMA_NAME_MAX)
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* Appends {"field","message"} unless the list is full. Returns -1 on OOM. */
static int add_error(json_t *errors, const char *field, const char *message)
{
    if (json_array_size(errors) >= GW_SCHEMA_ERRORS_MAX)
        return 0;
    return json_array_append_new(errors,
                                 json_pack("{s:s, s:s}", "field", field, "message", message));
}

static const char *const type_messages[] = {
    [GW_JSON_STRING] = "must be a string",
    [GW_JSON_STRING_OR_NULL] = "must be a string or null",
    [GW_JSON_TEXT_OR_NULL] = "must be a string or null",
    [GW_JSON_BOOL] = "must be a boolean",
    [GW_JSON_INTEGER] = "must be an integer",
    [GW_JSON_STRING_ARRAY] = "must be an array of at most 16 strings",
};

/* Every item a string within `max` bytes (0: any) without NUL, at most
 * GW_SCHEMA_ARRAY_MAX of them. */
static bool string_array_ok(const json_t *v, size_t max)
{
    size_t i;
    json_t *item;
    if (!json_is_array(v) || json_array_size(v) > GW_SCHEMA_ARRAY_MAX)
        return false;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || (max && json_string_length(item) > max) ||
            strlen(json_string_value(item)) != json_string_length(item))
            return false;
    }
    return true;
}

static bool type_ok(gw_json_type_t t, const json_t *v, size_t max)
{
    switch (t) {
    case GW_JSON_STRING:
        return json_is_string(v);
    case GW_JSON_STRING_OR_NULL:
    case GW_JSON_TEXT_OR_NULL:
        return json_is_string(v) || json_is_null(v);
    case GW_JSON_BOOL:
        return json_is_boolean(v);
    case GW_JSON_INTEGER:
        return json_is_integer(v);
    case GW_JSON_STRING_ARRAY:
        return string_array_ok(v, max);
    }
    return false;
}

/* Checks one present field; NULL when fine, else the message. */
static const char *field_problem(const gw_field_t *f, const json_t *v, char *buf, size_t cap)
{
    if (!f)
        return "unknown field";
    if (!type_ok(f->type, v, f->max_bytes))
        return type_messages[f->type];
    if (json_is_string(v) && f->max_bytes && json_string_length(v) > f->max_bytes) {
        snprintf(buf, cap, "must be at most %zu bytes long", f->max_bytes);
        return buf;
    }
    if (json_is_string(v) && f->type != GW_JSON_TEXT_OR_NULL &&
        strlen(json_string_value(v)) != json_string_length(v))
        return "must not contain NUL characters";
    return NULL;
}

int gw_schema_clean(const gw_field_t *fields, json_t *body)
{
    for (const gw_field_t *f = fields; f && f->name; f++) {
        json_t *v = json_object_get(body, f->name);
        if (f->type != GW_JSON_TEXT_OR_NULL || !json_is_string(v))
            continue;
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), k = 0;
        if (strlen(s) == n)
            continue;
        char *clean = malloc(n + 1);
        if (!clean)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (s[i])
                clean[k++] = s[i];
        int rc = json_object_set_new(body, f->name, json_stringn(clean, k));
        free(clean);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int gw_schema_check(const gw_field_t *fields, const json_t *body, json_t **errors)
{
    json_t *errs = json_array();
    int rc = 0;
    *errors = NULL;
    if (!errs)
        return -1;
    if (!json_is_object(body)) {
        rc |= add_error(errs, "", "the body must be a JSON object");
        *errors = rc == 0 ? errs : (json_decref(errs), NULL);
        return -1;
    }
    const char *key;
    json_t *val;
    char buf[64];
    json_object_foreach((json_t *)body, key, val)
    {
        const gw_field_t *f = gw_schema_field(fields, key);
        const char *msg = field_problem(f, val, buf, sizeof buf);
        if (msg)
            rc |= add_error(errs, f || plain_name(key) ? key : "", msg);
    }
    for (const gw_field_t *f = fields; f && f->name; f++) {
        if (f->required && !json_object_get(body, f->name))
            rc |= add_error(errs, f->name, "is required");
    }
    if (json_array_size(errs) == 0 && rc == 0) {
        json_decref(errs);
        return 0;
    }
    *errors = rc == 0 ? errs : (json_decref(errs), NULL);
    return -1;
}

static json_t *project(const gw_key_t *keys, const json_t *v);

/* An array with each object element projected onto `keys`. */
static json_t *project_array(const gw_key_t *keys, const json_t *arr)
{
    json_t *out = json_array();
    size_t i;
    json_t *el;
    json_array_foreach(arr, i, el)
    {
        if (!out || !json_is_object(el))
            continue;
        if (json_array_append_new(out, gw_shape_apply(keys, el)) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

/* Values are shared with `v`, not copied: the source is a reply's fresh
 * JSON tree that is dropped right after shaping. */
static json_t *project(const gw_key_t *keys, const json_t *v)
{
    if (keys && json_is_array(v))
        return project_array(keys, v);
    if (keys && json_is_object(v))
        return gw_shape_apply(keys, v);
    return json_incref((json_t *)v); /* a leaf, or a scalar where an object was documented */
}

json_t *gw_shape_apply(const gw_key_t *keys, const json_t *src)
{
    if (!json_is_object(src))
        return NULL;
    json_t *out = json_object();
    for (const gw_key_t *k = keys; out && k && k->key; k++) {
        const json_t *v = json_object_get(src, k->key);
        if (v && json_object_set_new(out, k->key, project(k->items, v)) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}
