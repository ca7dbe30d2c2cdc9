/*
 * gw_schema: the JSON shapes of the API as data.
 *
 * Requests: each JSON route declares the fields its body may carry (name,
 * JSON type, required, longest string) in the route table. A body is
 * checked against that table before any backend sees it: an unknown field,
 * a wrong JSON type, a missing required field, an over-long string or a
 * string holding NUL (\u0000) in a field with rules is a
 * 422 validation_error with one {"field","message"} per problem, so a
 * client can never slip "role" or "is_active" into a body (mass
 * assignment). Field values (password strength, username rules) are the
 * services' business; the string bounds here only mirror the wire bounds of
 * the catalogue, so a body the gateway accepts is never a bad_request there.
 *
 * Replies: an answer is projected onto the keys the API documents (a
 * gw_key_t table), so a backend field that is not part of the contract (a
 * password hash by mistake, the limiter state, a session id) never reaches
 * a client.
 */
#ifndef GW_SCHEMA_H
#define GW_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    GW_JSON_STRING,
    GW_JSON_STRING_OR_NULL, /* null clears an optional value, or stands for "absent" */
    /* Free text (a person's name), string or null: NUL characters are
     * removed (gw_schema_clean) rather than refused, as the service removes
     * the other control characters; every other string field refuses NUL. */
    GW_JSON_TEXT_OR_NULL,
    GW_JSON_BOOL,
    GW_JSON_INTEGER,
    /* An array of at most GW_SCHEMA_ARRAY_MAX strings, each at most
     * max_bytes and without NUL (what the strings mean is the service's
     * business). */
    GW_JSON_STRING_ARRAY,
} gw_json_type_t;

typedef struct {
    const char *name; /* NULL ends a table */
    gw_json_type_t type;
    bool required;
    size_t max_bytes; /* strings: longest value in bytes; 0: unbounded */
    /* The API document's "format" of the value (gw_openapi.h): "email",
     * "password"; NULL: none. Not checked here: the services judge values. */
    const char *format;
} gw_field_t;

#define GW_SCHEMA_ERRORS_MAX 16 /* problems reported per body; the rest are not listed */
#define GW_SCHEMA_NAME_MAX   64 /* longest unknown field name echoed in "field" */
#define GW_SCHEMA_ARRAY_MAX  16 /* items of a GW_JSON_STRING_ARRAY */

/* Checks the object `body` against the NULL-terminated table `fields`.
 * Returns 0 when it conforms; -1 otherwise, with `*errors` a new array of
 * {"field","message"} objects (the caller owns it; NULL if out of memory).
 * Messages never quote values; an unknown field is named only when its
 * name is a plain identifier ([A-Za-z0-9_.-], at most GW_SCHEMA_NAME_MAX
 * bytes), else "field" is "". A non-object `body` is -1 with one error. */
int gw_schema_check(const gw_field_t *fields, const json_t *body, json_t **errors);

/* Removes the NUL characters of the GW_JSON_TEXT_OR_NULL strings of a
 * body that passed gw_schema_check (a JSON string may hold \u0000, the
 * wire protocol's strings may not). Returns 0, or -1 when out of memory. */
int gw_schema_clean(const gw_field_t *fields, json_t *body);

/* The field `name` of `fields`, or NULL. */
const gw_field_t *gw_schema_field(const gw_field_t *fields, const char *name);

typedef struct gw_key gw_key_t;

/* What a documented key holds, for the API document (gw_openapi.h); the
 * projection below copies values whatever they are. */
typedef enum {
    GW_KEY_STRING,
    GW_KEY_STRING_OR_NULL,
    GW_KEY_ID,           /* a UUID in text form */
    GW_KEY_TIME,         /* an RFC 3339 UTC time */
    GW_KEY_TIME_OR_NULL, /* the same, or null */
    GW_KEY_INTEGER,
    GW_KEY_BOOL,
    GW_KEY_STRINGS,         /* an array of strings */
    GW_KEY_STRINGS_OR_NULL, /* the same, or null */
    GW_KEY_OBJECT,          /* an object of the `items` keys; items NULL: of strings */
    GW_KEY_OBJECTS,         /* an array of objects of the `items` keys */
} gw_key_type_t;

/* One documented key of an answer. `items` NULL: the value is copied as it
 * is; else an object value is projected onto `items`, and an array value
 * has each object element projected (other elements are dropped). */
struct gw_key {
    const char *key; /* NULL ends a table */
    const gw_key_t *items;
    gw_key_type_t type;
};

/* Rows of a key table: GW_KEY("id", ID), GW_KEYS("users", OBJECTS,
 * gw_shape_user), GW_KEY_END. */
#define GW_KEY(name, type)                                                                         \
    {                                                                                              \
        name, NULL, GW_KEY_##type                                                                  \
    }
#define GW_KEYS(name, type, items)                                                                 \
    {                                                                                              \
        name, items, GW_KEY_##type                                                                 \
    }
#define GW_KEY_END                                                                                 \
    {                                                                                              \
        NULL, NULL, GW_KEY_STRING                                                                  \
    }

/* A new object with the keys of `keys` that `src` has (absent keys stay
 * absent); its values are shared with `src` (references, not copies), so
 * do not change `src` afterwards. NULL when `src` is not an object or out
 * of memory. */
json_t *gw_shape_apply(const gw_key_t *keys, const json_t *src);

#endif
