/*
 * proto_codec: the envelope codec. One ZeroMQ frame = one msgpack map.
 *
 *   request: {"v":1, "op":"sys.ping", "rid":"<request id>", "body":{...}}
 *   reply:   {"v":1, "ok":true, "body":{...}}
 *            {"v":1, "ok":false, "err":{"code":"...", "msg":"...", "retry_after":900}}
 *
 * Decoding is strict and bounded: proto_check_bounds walks the raw bytes
 * first (depth, declared counts against remaining bytes, string sizes), so the
 * msgpack unpacker never allocates for counts the message cannot hold. Then
 * the envelope and the op's body fields (proto_catalog) are checked. Anything
 * off is PROTO_ERR_BAD_REQUEST.
 *
 * Bodies are passed around already packed (a msgpack map in a byte buffer),
 * so callers build them with msgpack_packer and the codec only splices them.
 */
#ifndef PROTO_CODEC_H
#define PROTO_CODEC_H

#include "proto_catalog.h"
#include "proto_error.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#define PROTO_VERSION    1
#define PROTO_RID_MAX    64  /* request ids are at most 64 bytes, [A-Za-z0-9-] */
#define PROTO_ERRMSG_MAX 256 /* error messages are truncated to this */
#define PROTO_FIELD_MAX  64  /* the name of the field a validation error is about */

typedef struct {
    size_t max_msg_bytes; /* whole frame; also ZMQ_MAXMSGSIZE on sockets */
    uint32_t max_depth;   /* nesting of maps/arrays, the envelope counts as 1 */
    uint32_t max_str;     /* bytes of any one str/bin */
    uint32_t max_items;   /* entries of any one map/array */
} proto_limits_t;

/* 1 MiB frames, depth 8, 64 KiB strings, 1024 items. */
proto_limits_t proto_limits_default(void);

/* The default limits, with room for a file part or read (PROTO_FILE_*):
 * the links to and from storesvc. */
proto_limits_t proto_limits_files(void);

/* Walks `data` as exactly one msgpack object without allocating.
 * Returns 0 when it is well-formed, within `lim`, with no trailing bytes;
 * -1 otherwise. */
int proto_check_bounds(const char *data, size_t len, const proto_limits_t *lim);

/* Finds the op of a request frame without decoding it (for routing to a
 * lane before a worker decodes it properly). Returns 0 and sets *op, or -1
 * when no known op is found; a -1 frame still goes to a worker, which
 * answers bad_request. */
int proto_peek_op(const char *data, size_t len, proto_op_t *op);

/* ---- requests ---- */

typedef struct {
    int v;
    proto_op_t op;
    char rid[PROTO_RID_MAX + 1];
    const msgpack_object *body; /* always a map (empty if absent); points into `unpacked` */
    const char *bad_field;      /* a refused decode: the body field at fault (a catalogue
                                   name, static), NULL when the fault is not one field's */
    msgpack_unpacked unpacked;  /* private */
} proto_request_t;

void proto_request_init(proto_request_t *req);

/* Decodes and validates a request frame (envelope + body fields of the op).
 * Returns PROTO_OK, or PROTO_ERR_BAD_REQUEST with a short reason in `why`
 * (never echoing the input) and, when one body field is at fault (wrong
 * type, over its bound, missing, duplicate), its name in req->bad_field.
 * Call proto_request_cleanup in either case. */
proto_err_t proto_request_decode(const char *data, size_t len, const proto_limits_t *lim,
                                 proto_request_t *req, char *why, size_t whylen);

void proto_request_cleanup(proto_request_t *req);

/* Appends a request frame to `out`. `body`/`body_len` is a packed msgpack map,
 * or NULL/0 for an empty map. `rid` may be NULL (sent as ""). Returns 0 or -1. */
int proto_request_encode(msgpack_sbuffer *out, proto_op_t op, const char *rid, const char *body,
                         size_t body_len);

/* ---- replies ---- */

typedef struct {
    bool ok;
    proto_err_t err; /* PROTO_OK when ok */
    char errmsg[PROTO_ERRMSG_MAX];
    long retry_after;                /* seconds, -1 when absent */
    long limit, remaining, reset;    /* the API rate limit after this request (RateLimit-*
                                        headers), each -1 when absent */
    char field[PROTO_FIELD_MAX + 1]; /* validation errors: the field, "" when absent */
    const msgpack_object *body;      /* map when ok (empty if absent), NULL otherwise */
    msgpack_unpacked unpacked;       /* private */
} proto_reply_t;

void proto_reply_init(proto_reply_t *rep);

/* Decodes a reply frame. Returns PROTO_OK when the frame is a valid reply
 * (which may itself carry ok=false), else PROTO_ERR_BAD_REQUEST. */
proto_err_t proto_reply_decode(const char *data, size_t len, const proto_limits_t *lim,
                               proto_reply_t *rep);

/* Frees what decode allocated and re-inits; safe to call repeatedly. */
void proto_reply_cleanup(proto_reply_t *rep);

/* Sets `rep` to a local failure (no frame), e.g. a timeout -> PROTO_ERR_UNAVAILABLE. */
void proto_reply_set_error(proto_reply_t *rep, proto_err_t err, const char *msg);

int proto_reply_encode_ok(msgpack_sbuffer *out, const char *body, size_t body_len);
/* The envelope of a success reply up to its body: the caller packs the
 * body map right after it (an empty body must be packed as an empty map).
 * proto_reply_encode_ok without the body's copy. */
int proto_reply_encode_ok_head(msgpack_sbuffer *out);
/* `msg` may be NULL; retry_after < 0 omits it. */
int proto_reply_encode_err(msgpack_sbuffer *out, proto_err_t err, const char *msg,
                           long retry_after);
/* What a handler tells about an error beyond its code. */
typedef struct {
    char msg[PROTO_ERRMSG_MAX];      /* optional human message ("" omits it) */
    long retry_after;                /* seconds; -1 omits it */
    long limit, remaining, reset;    /* the API rate limit state; -1 omits each */
    char field[PROTO_FIELD_MAX + 1]; /* validation errors: the field at fault ("" omits it) */
} proto_fail_t;

/* An error reply with everything in `fail` (NULL: the code alone). */
int proto_reply_encode_fail(msgpack_sbuffer *out, proto_err_t err, const proto_fail_t *fail);

/* ---- reading a decoded request body through the catalogue ---- */

/* One string field a handler copies out of its request: the op's
 * catalogue field `name` into out[cap] (NUL-terminated, "" when absent or
 * nil). `present` (may be NULL) receives whether a string was given. */
typedef struct {
    const char *name;
    char *out;
    size_t cap;
    bool *present;
} proto_str_arg_t;

/* Copies the string fields `args[0..n)` of the decoded request `req`.
 * Each must be a string field of the op's catalogue row, with a buffer of
 * at least PROTO_STR_BUF(its bound) bytes, so that every value the decoder
 * accepted fits: anything else is a bug of the handler, answered
 * PROTO_ERR_INTERNAL_ERROR (fail->msg says which field). A value that is
 * not a string, over its bound, holds a NUL, or is missing while required
 * (the decoder refuses all of these first; this holds for bodies that did
 * not come through it) is PROTO_ERR_BAD_REQUEST with fail->field set.
 * Returns PROTO_OK when every field was copied; on an error the buffers
 * are all "" (none holds part of the input). */
proto_err_t proto_body_strs(const proto_request_t *req, const proto_str_arg_t *args, size_t n,
                            proto_fail_t *fail);

/* The siblings of proto_body_strs for the other scalar types: each name
 * must be a field of that type in the op's catalogue row (else
 * PROTO_ERR_INTERNAL_ERROR, fail->msg says which); a value outside the
 * row's bounds (decoded bodies never hold one) or a missing required
 * field is PROTO_ERR_BAD_REQUEST with fail->field set. `present` (may be
 * NULL) receives whether the field was given; *out is written only when
 * it was, so it may hold the default. */
typedef struct {
    const char *name;
    int64_t *out; /* within the row's lo..hi */
    bool *present;
} proto_int_arg_t;
proto_err_t proto_body_ints(const proto_request_t *req, const proto_int_arg_t *args, size_t n,
                            proto_fail_t *fail);

typedef struct {
    const char *name;
    bool *out;
    bool *present;
} proto_bool_arg_t;
proto_err_t proto_body_bools(const proto_request_t *req, const proto_bool_arg_t *args, size_t n,
                             proto_fail_t *fail);

/* A binary field: *data points into the request (borrowed, as long as the
 * request), *len within the row's min..max; NULL and 0 when absent. */
typedef struct {
    const char *name;
    const char **data;
    size_t *len;
} proto_bin_arg_t;
proto_err_t proto_body_bins(const proto_request_t *req, const proto_bin_arg_t *args, size_t n,
                            proto_fail_t *fail);

/* The array field `name` (within its catalogue count of items; what the
 * items are is the handler's to check): *out borrowed from the request,
 * NULL when absent. */
proto_err_t proto_body_array(const proto_request_t *req, const char *name,
                             const msgpack_object **out, proto_fail_t *fail);

/* What the request holds for its op's field `name` (any type): for the
 * nil-or-string fields where nil means "clear it". -1 when `name` is not a
 * field of the op. */
typedef enum {
    PROTO_GIVEN_ABSENT = 0,
    PROTO_GIVEN_NIL = 1,
    PROTO_GIVEN_SET = 2,
} proto_given_t;
int proto_body_given(const proto_request_t *req, const char *name);

/* ---- reading bodies (all length-checked; strings copied by length) ---- */

/* The value for `key` in `map`, or NULL (also when `map` is not a map). */
const msgpack_object *proto_map_get(const msgpack_object *map, const char *key);

/* Copies a string value into out (NUL-terminated). Returns 0, or -1 when
 * missing, not a string, longer than cap-1, or containing NUL. */
int proto_get_str(const msgpack_object *map, const char *key, char *out, size_t cap);
int proto_get_int(const msgpack_object *map, const char *key, int64_t *out);
int proto_get_bool(const msgpack_object *map, const char *key, bool *out);

/* ---- writing bodies ---- */

void proto_pack_cstr(msgpack_packer *pk, const char *s); /* NULL packs nil */
void proto_pack_kv_str(msgpack_packer *pk, const char *key, const char *val);
void proto_pack_kv_int(msgpack_packer *pk, const char *key, int64_t val);
void proto_pack_kv_bool(msgpack_packer *pk, const char *key, bool val);
/* Packs the header of a bin of n bytes and returns where its n bytes go,
 * for the caller to fill (e.g. a read straight into the reply); NULL when
 * out of memory. `pk` must write to a msgpack_sbuffer (msgpack_sbuffer_write;
 * every handler's packer does). Bytes not filled are garbage: a caller that
 * cannot fill them must fail the reply. */
char *proto_pack_bin_reserve(msgpack_packer *pk, size_t n);

#endif
