/*
 * proto_codec: envelope encoding and strict, bounded decoding.
 *
 * Decoding happens in three steps. proto_check_bounds walks the raw bytes
 * without allocating and refuses anything the unpacker could be tricked into
 * allocating for (msgpack-c 4.0 allocates count x 24 bytes for a declared
 * map/array count before reading a single element): every declared count
 * must fit in the bytes left and within the limits, nesting is bounded, ext
 * types and the reserved byte 0xc1 are refused. Only then does
 * msgpack_unpack_next build the object tree. Finally the envelope and the
 * op's body fields (proto_catalog) are checked key by key: unknown and
 * duplicate keys, wrong types, oversize values, embedded NULs and invalid
 * UTF-8 are all bad_request.
 *
 * Decoded strings point into the frame (msgpack_unpack_next does not copy
 * them), so the frame must outlive the decoded request or reply.
 */
#include "proto_codec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define DEPTH_CAP 64 /* hard ceiling on max_depth, sizes the walker's stack */

static const msgpack_object EMPTY_MAP = {.type = MSGPACK_OBJECT_MAP, .via.map = {0, NULL}};

proto_limits_t proto_limits_default(void)
{
    proto_limits_t lim = {
        .max_msg_bytes = 1024 * 1024, .max_depth = 8, .max_str = 64 * 1024, .max_items = 1024};
    return lim;
}

proto_limits_t proto_limits_files(void)
{
    proto_limits_t lim = proto_limits_default();
    lim.max_msg_bytes = PROTO_FILE_PART_MAX + 64 * 1024;
    lim.max_str = PROTO_FILE_PART_MAX;
    return lim;
}

/* ---- the allocation-free walker ---- */

static uint64_t read_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const proto_limits_t *lim;
    uint64_t left[DEPTH_CAP + 1]; /* objects still to read at each open level */
    uint32_t depth;               /* open containers */
} walker_t;

/* Skips `n` payload bytes; -1 when the frame is shorter. */
static int skip(walker_t *w, uint64_t n)
{
    if (n > w->len - w->pos)
        return -1;
    w->pos += (size_t)n;
    return 0;
}

/* Reads an n-byte big-endian length that follows the type byte. */
static int read_len(walker_t *w, int n, uint64_t *out)
{
    if ((size_t)n > w->len - w->pos)
        return -1;
    *out = read_be(w->p + w->pos, n);
    w->pos += (size_t)n;
    return 0;
}

/* Opens a container of `count` entries (each `per` objects). */
static int open_container(walker_t *w, uint64_t count, int per)
{
    if (count > w->lim->max_items)
        return -1;
    uint64_t objects = count * (uint64_t)per;
    if (objects > w->len - w->pos) /* every object takes at least one byte */
        return -1;
    if (w->depth + 1 > w->lim->max_depth || w->depth + 1 > DEPTH_CAP)
        return -1;
    w->left[++w->depth] = objects;
    return 0;
}

static int str_or_bin(walker_t *w, int lenbytes)
{
    uint64_t n;
    if (read_len(w, lenbytes, &n) != 0 || n > w->lim->max_str)
        return -1;
    return skip(w, n);
}

/* Reads one object header (and a scalar's payload). */
static int walk_one(walker_t *w)
{
    if (w->pos >= w->len)
        return -1;
    unsigned char c = w->p[w->pos++];
    uint64_t n;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 0; /* fixint, nil, bool */
    if (c <= 0x8f)
        return open_container(w, c & 0x0f, 2);
    if (c <= 0x9f)
        return open_container(w, c & 0x0f, 1);
    if (c <= 0xbf)
        return (c & 0x1f) <= w->lim->max_str ? skip(w, c & 0x1f) : -1;
    switch (c) {
    case 0xc4:
        return str_or_bin(w, 1);
    case 0xc5:
        return str_or_bin(w, 2);
    case 0xc6:
        return str_or_bin(w, 4);
    case 0xca:
        return skip(w, 4);
    case 0xcb:
        return skip(w, 8);
    case 0xcc:
    case 0xd0:
        return skip(w, 1);
    case 0xcd:
    case 0xd1:
        return skip(w, 2);
    case 0xce:
    case 0xd2:
        return skip(w, 4);
    case 0xcf:
    case 0xd3:
        return skip(w, 8);
    case 0xd9:
        return str_or_bin(w, 1);
    case 0xda:
        return str_or_bin(w, 2);
    case 0xdb:
        return str_or_bin(w, 4);
    case 0xdc:
        return read_len(w, 2, &n) == 0 ? open_container(w, n, 1) : -1;
    case 0xdd:
        return read_len(w, 4, &n) == 0 ? open_container(w, n, 1) : -1;
    case 0xde:
        return read_len(w, 2, &n) == 0 ? open_container(w, n, 2) : -1;
    case 0xdf:
        return read_len(w, 4, &n) == 0 ? open_container(w, n, 2) : -1;
    default:
        return -1; /* 0xc1 (never used) and every ext type */
    }
}

/* Walks one whole object (with everything nested in it) from w->pos. */
static int walk_object(walker_t *w)
{
    w->depth = 0;
    w->left[0] = 1;
    while (w->depth > 0 || w->left[0] > 0) {
        if (w->left[w->depth] == 0) { /* this container is complete */
            w->depth--;
            continue;
        }
        w->left[w->depth]--;
        if (walk_one(w) != 0)
            return -1;
    }
    return 0;
}

int proto_check_bounds(const char *data, size_t len, const proto_limits_t *lim)
{
    proto_limits_t def = proto_limits_default();
    if (!lim)
        lim = &def;
    if (!data || len == 0 || len > lim->max_msg_bytes)
        return -1;
    walker_t w = {.p = (const unsigned char *)data, .len = len, .lim = lim};
    if (walk_object(&w) != 0)
        return -1;
    return w.pos == len ? 0 : -1;
}

/* Reads a string header at w->pos: sets *s / *n to its bytes. */
static int read_str(walker_t *w, const char **s, uint64_t *n)
{
    if (w->pos >= w->len)
        return -1;
    unsigned char c = w->p[w->pos++];
    if (c >= 0xa0 && c <= 0xbf)
        *n = c & 0x1f;
    else if (c < 0xd9 || c > 0xdb || read_len(w, 1 << (c - 0xd9), n) != 0)
        return -1;
    if (*n > w->len - w->pos)
        return -1;
    *s = (const char *)w->p + w->pos;
    w->pos += (size_t)*n;
    return 0;
}

/* Reads a map header at w->pos. */
static int read_map(walker_t *w, uint64_t *n)
{
    if (w->pos >= w->len)
        return -1;
    unsigned char c = w->p[w->pos++];
    if (c >= 0x80 && c <= 0x8f) {
        *n = c & 0x0f;
        return 0;
    }
    if (c == 0xde || c == 0xdf)
        return read_len(w, c == 0xde ? 2 : 4, n);
    return -1;
}

int proto_peek_op(const char *data, size_t len, proto_op_t *op)
{
    proto_limits_t lim = proto_limits_default();
    uint64_t n;
    if (!data || !op || len == 0)
        return -1;
    walker_t w = {.p = (const unsigned char *)data, .len = len, .lim = &lim};
    if (read_map(&w, &n) != 0 || n > lim.max_items)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        const char *key, *val;
        uint64_t klen, vlen;
        if (read_str(&w, &key, &klen) != 0)
            return -1;
        if (klen == 2 && memcmp(key, "op", 2) == 0)
            return read_str(&w, &val, &vlen) == 0 ? proto_op_lookup(val, (size_t)vlen, op) : -1;
        if (walk_object(&w) != 0)
            return -1;
    }
    return -1;
}

/* ---- value checks ---- */

/* Well-formed UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t extra;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    /* An empty string may have a NULL pointer: never hand that to memcmp. */
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           (n == 0 || memcmp(o->via.str.ptr, s, n) == 0);
}

/* A string without NUL, valid UTF-8, at most max bytes. */
static bool clean_str(const msgpack_object *o, uint32_t max)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max)
        return false;
    if (o->via.str.size == 0) /* the pointer may be NULL */
        return true;
    return !memchr(o->via.str.ptr, '\0', o->via.str.size) &&
           utf8_valid((const unsigned char *)o->via.str.ptr, o->via.str.size);
}

static bool is_int64(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
           (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX);
}

/* "internal:<name>", the name 1..PROTO_CLIENT_NAME_MAX of [A-Za-z0-9._-]. */
static bool internal_client_ok(const char *s, size_t n)
{
    size_t plen = sizeof PROTO_CLIENT_INTERNAL - 1;
    if (n <= plen || n - plen > PROTO_CLIENT_NAME_MAX || memcmp(s, PROTO_CLIENT_INTERNAL, plen))
        return false;
    for (size_t i = plen; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The canonical text of the address s[0..n) into out[cap] (cap >=
 * INET6_ADDRSTRLEN): inet_ntop's, an IPv4-mapped IPv6 address as IPv4.
 * -1 when it is no address. */
static int address_canon(const char *s, size_t n, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    unsigned char a[16];
    if (n >= sizeof text || cap < INET6_ADDRSTRLEN)
        return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    if (inet_pton(AF_INET, text, a) == 1)
        return inet_ntop(AF_INET, a, out, (socklen_t)cap) ? 0 : -1;
    if (inet_pton(AF_INET6, text, a) != 1)
        return -1;
    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a))
        return inet_ntop(AF_INET, a + 12, out, (socklen_t)cap) ? 0 : -1;
    return inet_ntop(AF_INET6, a, out, (socklen_t)cap) ? 0 : -1;
}

static bool format_ok(proto_fmt_t fmt, const char *s, size_t n)
{
    char canon[INET6_ADDRSTRLEN];
    switch (fmt) {
    case PROTO_FMT_ANY:
        return true;
    case PROTO_FMT_CLIENT_IP:
        return internal_client_ok(s, n) || address_canon(s, n, canon, sizeof canon) == 0;
    }
    return false;
}

/* A string of the field `f`: clean, min..max bytes, of the field's form. */
static bool str_ok(const proto_field_t *f, const msgpack_object *v, uint32_t max)
{
    return clean_str(v, max) && v->via.str.size >= f->min &&
           format_ok(f->fmt, v->via.str.ptr, v->via.str.size);
}

/* Why `v` is no value of the field `f`, or NULL when it is one. */
static const char *field_fault(const proto_field_t *f, const msgpack_object *v,
                               const proto_limits_t *lim)
{
    static const char *const wrong = "wrong type or size";
    uint32_t str_max = f->max ? f->max : lim->max_str;
    uint32_t items_max = f->max ? f->max : lim->max_items;
    switch (f->type) {
    case PROTO_T_STR:
        return str_ok(f, v, str_max) ? NULL : wrong;
    case PROTO_T_NIL_OR_STR:
        return v->type == MSGPACK_OBJECT_NIL || str_ok(f, v, str_max) ? NULL : wrong;
    case PROTO_T_INT:
        if (!is_int64(v))
            return wrong;
        return v->via.i64 >= f->lo && v->via.i64 <= f->hi ? NULL : "out of range";
    case PROTO_T_BOOL:
        return v->type == MSGPACK_OBJECT_BOOLEAN ? NULL : wrong;
    case PROTO_T_BIN:
        return v->type == MSGPACK_OBJECT_BIN && v->via.bin.size >= f->min &&
                       v->via.bin.size <= str_max
                   ? NULL
                   : wrong;
    case PROTO_T_MAP:
        return v->type == MSGPACK_OBJECT_MAP && v->via.map.size <= items_max ? NULL : wrong;
    case PROTO_T_ARRAY:
        return v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size <= items_max ? NULL : wrong;
    }
    return wrong;
}

/* Fills the decoder's reason: "msg", or "body field <f>: msg" (field names
 * come from the catalogue, never from the input). */
static void set_why(char *why, size_t whylen, const char *msg, const char *field)
{
    if (!why || whylen == 0)
        return;
    if (field)
        snprintf(why, whylen, "body field %s: %s", field, msg);
    else
        snprintf(why, whylen, "%s", msg);
}

/* Validates a request body against the op's field table; *bad receives
 * the name of the field at fault, if one is. */
static int check_body(const proto_op_def_t *def, const msgpack_object *body,
                      const proto_limits_t *lim, const char **bad, char *why, size_t whylen)
{
    uint64_t seen = 0; /* one bit per field of the table */
    for (uint32_t i = 0; i < body->via.map.size; i++) {
        const msgpack_object_kv *kv = &body->via.map.ptr[i];
        size_t f = 0;
        while (f < def->nfields && !str_is(&kv->key, def->fields[f].name))
            f++;
        if (f == def->nfields || f >= 64) {
            set_why(why, whylen, "unknown body field", NULL);
            return -1;
        }
        const char *why_f = NULL;
        if (seen & (1ull << f))
            why_f = "duplicate";
        else
            why_f = field_fault(&def->fields[f], &kv->val, lim);
        if (why_f) {
            *bad = def->fields[f].name;
            set_why(why, whylen, why_f, *bad);
            return -1;
        }
        seen |= 1ull << f;
    }
    for (size_t f = 0; f < def->nfields && f < 64; f++) {
        if (def->fields[f].required && !(seen & (1ull << f))) {
            *bad = def->fields[f].name;
            set_why(why, whylen, "required", *bad);
            return -1;
        }
    }
    return 0;
}

static bool rid_ok(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > PROTO_RID_MAX)
        return false;
    for (uint32_t i = 0; i < o->via.str.size; i++) {
        char c = o->via.str.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

/* The first chunk of a frame's zone: about four bytes of objects per byte
 * of frame holds a typical envelope whole, and staying under ~1 KiB keeps
 * it in malloc's per-thread cache (msgpack_unpack_next would take 8 KiB
 * per frame, from the shared arena). A bigger need grows the zone. */
static size_t zone_chunk_for(size_t len)
{
    enum { MIN_CHUNK = 256, MAX_CHUNK = 960 };
    size_t want = len < MAX_CHUNK / 4 ? len * 4 : MAX_CHUNK;
    return want < MIN_CHUNK ? MIN_CHUNK : want;
}

/* Unpacks one bounded object filling the whole frame into `u` (its zone
 * sized by zone_chunk_for; decoded strings point into `data`). */
static int unpack_frame(const char *data, size_t len, const proto_limits_t *lim,
                        msgpack_unpacked *u)
{
    size_t off = 0;
    if (proto_check_bounds(data, len, lim) != 0)
        return -1;
    msgpack_unpacked_destroy(u);
    u->zone = msgpack_zone_new(zone_chunk_for(len));
    if (!u->zone)
        return -1;
    if (msgpack_unpack(data, len, &off, u->zone, &u->data) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        msgpack_unpacked_destroy(u);
        return -1;
    }
    return 0;
}

/* ---- requests ---- */

void proto_request_init(proto_request_t *req)
{
    memset(req, 0, sizeof *req);
    req->op = PROTO_OP__COUNT;
    req->body = &EMPTY_MAP;
    msgpack_unpacked_init(&req->unpacked);
}

void proto_request_cleanup(proto_request_t *req)
{
    if (!req)
        return;
    msgpack_unpacked_destroy(&req->unpacked);
    proto_request_init(req);
}

enum { K_V, K_OP, K_RID, K_BODY, K__COUNT };
static const char *const REQ_KEYS[K__COUNT] = {"v", "op", "rid", "body"};

/* Sorts the envelope's entries into slots; -1 on unknown/duplicate keys. */
static int envelope_slots(const msgpack_object *root, const char *const *keys, int nkeys,
                          const msgpack_object **slot)
{
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        int k = 0;
        while (k < nkeys && !str_is(&kv->key, keys[k]))
            k++;
        if (k == nkeys || slot[k])
            return -1;
        slot[k] = &kv->val;
    }
    return 0;
}

static proto_err_t request_fields(proto_request_t *req, const msgpack_object **s,
                                  const proto_limits_t *lim, char *why, size_t whylen)
{
    if (!s[K_V] || s[K_V]->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        s[K_V]->via.u64 != PROTO_VERSION) {
        set_why(why, whylen, "missing or unsupported version", NULL);
        return PROTO_ERR_BAD_REQUEST;
    }
    req->v = PROTO_VERSION;
    if (!s[K_OP] || s[K_OP]->type != MSGPACK_OBJECT_STR ||
        proto_op_lookup(s[K_OP]->via.str.ptr, s[K_OP]->via.str.size, &req->op) != 0) {
        set_why(why, whylen, "missing or unknown op", NULL);
        return PROTO_ERR_BAD_REQUEST;
    }
    if (s[K_RID]) {
        if (!rid_ok(s[K_RID])) {
            set_why(why, whylen, "bad rid", NULL);
            return PROTO_ERR_BAD_REQUEST;
        }
        memcpy(req->rid, s[K_RID]->via.str.ptr, s[K_RID]->via.str.size);
        req->rid[s[K_RID]->via.str.size] = '\0';
    }
    if (s[K_BODY]) {
        if (s[K_BODY]->type != MSGPACK_OBJECT_MAP) {
            set_why(why, whylen, "body is not a map", NULL);
            return PROTO_ERR_BAD_REQUEST;
        }
        req->body = s[K_BODY];
    }
    if (check_body(proto_op_def(req->op), req->body, lim, &req->bad_field, why, whylen) != 0)
        return PROTO_ERR_BAD_REQUEST;
    return PROTO_OK;
}

proto_err_t proto_request_decode(const char *data, size_t len, const proto_limits_t *lim,
                                 proto_request_t *req, char *why, size_t whylen)
{
    proto_limits_t def = proto_limits_default();
    if (!lim)
        lim = &def;
    if (unpack_frame(data, len, lim, &req->unpacked) != 0) {
        set_why(why, whylen, "malformed or oversized msgpack", NULL);
        return PROTO_ERR_BAD_REQUEST;
    }
    const msgpack_object *root = &req->unpacked.data;
    const msgpack_object *slot[K__COUNT] = {0};
    if (root->type != MSGPACK_OBJECT_MAP || envelope_slots(root, REQ_KEYS, K__COUNT, slot) != 0) {
        set_why(why, whylen, "request is not an envelope map", NULL);
        return PROTO_ERR_BAD_REQUEST;
    }
    proto_err_t err = request_fields(req, slot, lim, why, whylen);
    if (err != PROTO_OK) {
        req->op = PROTO_OP__COUNT;
        req->body = &EMPTY_MAP; /* bad_field stays: it names the culprit */
    }
    return err;
}

static int pack_key(msgpack_packer *pk, const char *key)
{
    size_t n = strlen(key);
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, key, n);
}

/* Appends a packed body map, or an empty map. */
static int splice_body(msgpack_sbuffer *out, msgpack_packer *pk, const char *body, size_t len)
{
    if (!body || len == 0)
        return msgpack_pack_map(pk, 0);
    return msgpack_sbuffer_write(out, body, len);
}

int proto_request_encode(msgpack_sbuffer *out, proto_op_t op, const char *rid, const char *body,
                         size_t body_len)
{
    const proto_op_def_t *def = proto_op_def(op);
    if (!out || !def)
        return -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 4);
    rc |= pack_key(&pk, "v") | msgpack_pack_int(&pk, PROTO_VERSION);
    rc |= pack_key(&pk, "op") | pack_key(&pk, def->name);
    rc |= pack_key(&pk, "rid") | pack_key(&pk, rid ? rid : "");
    rc |= pack_key(&pk, "body") | splice_body(out, &pk, body, body_len);
    return rc == 0 ? 0 : -1;
}

/* ---- replies ---- */

void proto_reply_init(proto_reply_t *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->err = PROTO_ERR_INTERNAL_ERROR;
    rep->retry_after = -1;
    rep->limit = rep->remaining = rep->reset = -1;
    rep->body = NULL;
    msgpack_unpacked_init(&rep->unpacked);
}

void proto_reply_cleanup(proto_reply_t *rep)
{
    if (!rep)
        return;
    msgpack_unpacked_destroy(&rep->unpacked);
    proto_reply_init(rep);
}

void proto_reply_set_error(proto_reply_t *rep, proto_err_t err, const char *msg)
{
    rep->ok = false;
    rep->err = err == PROTO_OK ? PROTO_ERR_INTERNAL_ERROR : err;
    rep->body = NULL;
    rep->retry_after = -1;
    rep->limit = rep->remaining = rep->reset = -1;
    rep->field[0] = '\0';
    snprintf(rep->errmsg, sizeof rep->errmsg, "%s", msg ? msg : "");
}

enum { R_V, R_OK, R_BODY, R_ERR, R__COUNT };
static const char *const REP_KEYS[R__COUNT] = {"v", "ok", "body", "err"};
enum { E_CODE, E_MSG, E_RETRY, E_LIMIT, E_REMAINING, E_RESET, E_FIELD, E__COUNT };
static const char *const ERR_KEYS[E__COUNT] = {"code",      "msg",   "retry_after", "limit",
                                               "remaining", "reset", "field"};

/* Copies an error message by length, dropping NULs, truncating. */
static void copy_msg(char *dst, size_t cap, const msgpack_object *o)
{
    size_t j = 0;
    for (uint32_t i = 0; i < o->via.str.size && j + 1 < cap; i++) {
        if (o->via.str.ptr[i] != '\0')
            dst[j++] = o->via.str.ptr[i];
    }
    dst[j] = '\0';
}

static int reply_error(proto_reply_t *rep, const msgpack_object *err)
{
    const msgpack_object *e[E__COUNT] = {0};
    if (!err || err->type != MSGPACK_OBJECT_MAP || envelope_slots(err, ERR_KEYS, E__COUNT, e) != 0)
        return -1;
    if (!e[E_CODE] || e[E_CODE]->type != MSGPACK_OBJECT_STR)
        return -1;
    if ((e[E_MSG] && e[E_MSG]->type != MSGPACK_OBJECT_STR) ||
        (e[E_RETRY] && !is_int64(e[E_RETRY])) || (e[E_LIMIT] && !is_int64(e[E_LIMIT])) ||
        (e[E_REMAINING] && !is_int64(e[E_REMAINING])) || (e[E_RESET] && !is_int64(e[E_RESET])) ||
        (e[E_FIELD] && !clean_str(e[E_FIELD], PROTO_FIELD_MAX)))
        return -1;
    rep->ok = false;
    rep->err = proto_err_from_code(e[E_CODE]->via.str.ptr, e[E_CODE]->via.str.size);
    if (rep->err == PROTO_OK)
        rep->err = PROTO_ERR_INTERNAL_ERROR; /* "ok" is not an error code */
    if (e[E_MSG])
        copy_msg(rep->errmsg, sizeof rep->errmsg, e[E_MSG]);
    if (e[E_RETRY] && e[E_RETRY]->via.i64 >= 0)
        rep->retry_after = (long)e[E_RETRY]->via.i64;
    long *const ints[] = {&rep->limit, &rep->remaining, &rep->reset};
    for (int k = 0; k < 3; k++) {
        const msgpack_object *v = e[E_LIMIT + k];
        if (v && v->via.i64 >= 0)
            *ints[k] = (long)v->via.i64;
    }
    if (e[E_FIELD])
        copy_msg(rep->field, sizeof rep->field, e[E_FIELD]);
    return 0;
}

proto_err_t proto_reply_decode(const char *data, size_t len, const proto_limits_t *lim,
                               proto_reply_t *rep)
{
    proto_limits_t def = proto_limits_default();
    if (!lim)
        lim = &def;
    const msgpack_object *s[R__COUNT] = {0};
    if (unpack_frame(data, len, lim, &rep->unpacked) != 0)
        goto bad;
    const msgpack_object *root = &rep->unpacked.data;
    if (root->type != MSGPACK_OBJECT_MAP || envelope_slots(root, REP_KEYS, R__COUNT, s) != 0)
        goto bad;
    if (!s[R_V] || s[R_V]->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        s[R_V]->via.u64 != PROTO_VERSION || !s[R_OK] || s[R_OK]->type != MSGPACK_OBJECT_BOOLEAN)
        goto bad;
    if (s[R_OK]->via.boolean) {
        if (s[R_ERR] || (s[R_BODY] && s[R_BODY]->type != MSGPACK_OBJECT_MAP))
            goto bad;
        rep->ok = true;
        rep->err = PROTO_OK;
        rep->body = s[R_BODY] ? s[R_BODY] : &EMPTY_MAP;
        return PROTO_OK;
    }
    if (s[R_BODY] || reply_error(rep, s[R_ERR]) != 0)
        goto bad;
    return PROTO_OK;
bad:
    msgpack_unpacked_destroy(&rep->unpacked);
    proto_reply_init(rep);
    return PROTO_ERR_BAD_REQUEST;
}

int proto_reply_encode_ok_head(msgpack_sbuffer *out)
{
    if (!out)
        return -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 3);
    rc |= pack_key(&pk, "v") | msgpack_pack_int(&pk, PROTO_VERSION);
    rc |= pack_key(&pk, "ok") | msgpack_pack_true(&pk);
    rc |= pack_key(&pk, "body");
    return rc == 0 ? 0 : -1;
}

int proto_reply_encode_ok(msgpack_sbuffer *out, const char *body, size_t body_len)
{
    if (proto_reply_encode_ok_head(out) != 0)
        return -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    return splice_body(out, &pk, body, body_len) == 0 ? 0 : -1;
}

int proto_reply_encode_err(msgpack_sbuffer *out, proto_err_t err, const char *msg, long retry_after)
{
    proto_fail_t fail = {
        .msg = "", .retry_after = retry_after, .limit = -1, .remaining = -1, .reset = -1};
    if (msg)
        snprintf(fail.msg, sizeof fail.msg, "%s", msg);
    return proto_reply_encode_fail(out, err, &fail);
}

int proto_reply_encode_fail(msgpack_sbuffer *out, proto_err_t err, const proto_fail_t *fail)
{
    static const proto_fail_t none = {
        .msg = "", .retry_after = -1, .limit = -1, .remaining = -1, .reset = -1};
    if (!fail)
        fail = &none;
    const char *msg = fail->msg[0] ? fail->msg : NULL;
    const char *field = fail->field[0] ? fail->field : NULL;
    long retry_after = fail->retry_after;
    int nrate = (fail->limit >= 0) + (fail->remaining >= 0) + (fail->reset >= 0);
    if (!out)
        return -1;
    if (err == PROTO_OK || (int)err < 0 || err >= PROTO_ERR__COUNT)
        err = PROTO_ERR_INTERNAL_ERROR;
    size_t mlen = msg ? strnlen(msg, PROTO_ERRMSG_MAX - 1) : 0;
    /* Cut at a character boundary, so a truncated message stays UTF-8. */
    if (msg && msg[mlen] != '\0')
        while (mlen > 0 && ((unsigned char)msg[mlen] & 0xc0) == 0x80)
            mlen--;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 3);
    rc |= pack_key(&pk, "v") | msgpack_pack_int(&pk, PROTO_VERSION);
    rc |= pack_key(&pk, "ok") | msgpack_pack_false(&pk);
    rc |= pack_key(&pk, "err") |
          msgpack_pack_map(&pk, 1 + (msg != NULL) + (retry_after >= 0) + nrate + (field != NULL));
    rc |= pack_key(&pk, "code") | pack_key(&pk, proto_err_code(err));
    if (msg)
        rc |= pack_key(&pk, "msg") | msgpack_pack_str(&pk, mlen) |
              msgpack_pack_str_body(&pk, msg, mlen);
    if (retry_after >= 0)
        rc |= pack_key(&pk, "retry_after") | msgpack_pack_int64(&pk, retry_after);
    const long rate[] = {fail->limit, fail->remaining, fail->reset};
    for (int k = 0; k < 3; k++) {
        if (rate[k] >= 0)
            rc |= pack_key(&pk, ERR_KEYS[E_LIMIT + k]) | msgpack_pack_int64(&pk, rate[k]);
    }
    if (field)
        rc |= pack_key(&pk, "field") | pack_key(&pk, field);
    return rc == 0 ? 0 : -1;
}

/* ---- reading bodies ---- */

const msgpack_object *proto_map_get(const msgpack_object *map, const char *key)
{
    if (!map || !key || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (str_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

int proto_get_str(const msgpack_object *map, const char *key, char *out, size_t cap)
{
    const msgpack_object *v = proto_map_get(map, key);
    if (!v || !out || cap == 0 || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap)
        return -1;
    if (v->via.str.size == 0) { /* the pointer may be NULL */
        out[0] = '\0';
        return 0;
    }
    if (memchr(v->via.str.ptr, '\0', v->via.str.size))
        return -1;
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    return 0;
}

/* ---- reading a decoded body through the catalogue ---- */

#define TYPE_BIT(t) (1u << (t))
#define STR_TYPES   (TYPE_BIT(PROTO_T_STR) | TYPE_BIT(PROTO_T_NIL_OR_STR))

/* The catalogue row of field `name` of `op` when its type is one of
 * `types` (TYPE_BITs), or NULL. */
static const proto_field_t *op_field(proto_op_t op, const char *name, unsigned types)
{
    const proto_op_def_t *def = proto_op_def(op);
    for (size_t i = 0; def && name && i < def->nfields; i++) {
        const proto_field_t *f = &def->fields[i];
        if (strcmp(f->name, name) == 0)
            return types & TYPE_BIT(f->type) ? f : NULL;
    }
    return NULL;
}

/* A handler asked for what the catalogue does not have: its bug. */
static proto_err_t arg_bug(const proto_request_t *req, const char *name, const char *kind,
                           proto_fail_t *fail)
{
    snprintf(fail->msg, sizeof fail->msg, "%s: not a %s field of %s, or its buffer is short",
             name ? name : "(null)", kind, proto_op_name(req->op));
    return PROTO_ERR_INTERNAL_ERROR;
}

/* The value of `f` in the body: *v (NULL when absent). bad_request naming
 * the field when it is no value of `f`, or missing while required (the
 * decoder refuses these first; this holds for bodies that did not come
 * through it). */
static proto_err_t field_value(const proto_request_t *req, const proto_field_t *f,
                               const msgpack_object **v, proto_fail_t *fail)
{
    proto_limits_t lim = proto_limits_files(); /* each field has its own bound */
    *v = proto_map_get(req->body, f->name);
    const char *why = *v ? field_fault(f, *v, &lim) : f->required ? "required" : NULL;
    if (!why)
        return PROTO_OK;
    snprintf(fail->msg, sizeof fail->msg, "body field %s: %s", f->name, why);
    snprintf(fail->field, sizeof fail->field, "%s", f->name);
    return PROTO_ERR_BAD_REQUEST;
}

/* One field of proto_body_strs. */
static proto_err_t body_str(const proto_request_t *req, const proto_str_arg_t *a,
                            proto_fail_t *fail)
{
    const proto_field_t *f = op_field(req->op, a->name, STR_TYPES);
    const msgpack_object *v = NULL;
    if (!f || !a->out || a->cap < PROTO_STR_BUF(f->max))
        return arg_bug(req, a->name, "string", fail);
    proto_err_t err = field_value(req, f, &v, fail);
    if (err != PROTO_OK)
        return err;
    bool given = v && v->type == MSGPACK_OBJECT_STR;
    size_t n = given ? v->via.str.size : 0;
    a->out[0] = '\0';
    if (given && f->fmt == PROTO_FMT_CLIENT_IP && !internal_client_ok(v->via.str.ptr, n)) {
        if (address_canon(v->via.str.ptr, n, a->out, a->cap) != 0)
            return arg_bug(req, a->name, "client address", fail); /* field_value checked it */
    } else if (n > 0) {
        memcpy(a->out, v->via.str.ptr, n);
        a->out[n] = '\0';
    }
    if (a->present)
        *a->present = given;
    return PROTO_OK;
}

proto_err_t proto_body_strs(const proto_request_t *req, const proto_str_arg_t *args, size_t n,
                            proto_fail_t *fail)
{
    proto_fail_t scratch;
    proto_err_t err = PROTO_OK;
    if (!fail)
        fail = &scratch;
    for (size_t i = 0; i < n && err == PROTO_OK; i++)
        err = body_str(req, &args[i], fail);
    for (size_t i = 0; i < n && err != PROTO_OK; i++) {
        if (args[i].out && args[i].cap > 0)
            memset(args[i].out, 0, args[i].cap); /* no half-copied input (passwords) */
        if (args[i].present)
            *args[i].present = false;
    }
    return err;
}

proto_err_t proto_body_ints(const proto_request_t *req, const proto_int_arg_t *args, size_t n,
                            proto_fail_t *fail)
{
    proto_fail_t scratch;
    if (!fail)
        fail = &scratch;
    for (size_t i = 0; i < n; i++) {
        const proto_field_t *f = op_field(req->op, args[i].name, TYPE_BIT(PROTO_T_INT));
        const msgpack_object *v = NULL;
        if (!f || !args[i].out)
            return arg_bug(req, args[i].name, "integer", fail);
        proto_err_t err = field_value(req, f, &v, fail);
        if (err != PROTO_OK)
            return err;
        if (v)
            *args[i].out = v->via.i64;
        if (args[i].present)
            *args[i].present = v != NULL;
    }
    return PROTO_OK;
}

proto_err_t proto_body_bools(const proto_request_t *req, const proto_bool_arg_t *args, size_t n,
                             proto_fail_t *fail)
{
    proto_fail_t scratch;
    if (!fail)
        fail = &scratch;
    for (size_t i = 0; i < n; i++) {
        const proto_field_t *f = op_field(req->op, args[i].name, TYPE_BIT(PROTO_T_BOOL));
        const msgpack_object *v = NULL;
        if (!f || !args[i].out)
            return arg_bug(req, args[i].name, "boolean", fail);
        proto_err_t err = field_value(req, f, &v, fail);
        if (err != PROTO_OK)
            return err;
        if (v)
            *args[i].out = v->via.boolean;
        if (args[i].present)
            *args[i].present = v != NULL;
    }
    return PROTO_OK;
}

proto_err_t proto_body_bins(const proto_request_t *req, const proto_bin_arg_t *args, size_t n,
                            proto_fail_t *fail)
{
    proto_fail_t scratch;
    if (!fail)
        fail = &scratch;
    for (size_t i = 0; i < n; i++) {
        const proto_field_t *f = op_field(req->op, args[i].name, TYPE_BIT(PROTO_T_BIN));
        const msgpack_object *v = NULL;
        if (!f || !args[i].data || !args[i].len)
            return arg_bug(req, args[i].name, "binary", fail);
        proto_err_t err = field_value(req, f, &v, fail);
        if (err != PROTO_OK)
            return err;
        *args[i].data = v ? v->via.bin.ptr : NULL;
        *args[i].len = v ? v->via.bin.size : 0;
    }
    return PROTO_OK;
}

proto_err_t proto_body_array(const proto_request_t *req, const char *name,
                             const msgpack_object **out, proto_fail_t *fail)
{
    proto_fail_t scratch;
    const proto_field_t *f = op_field(req->op, name, TYPE_BIT(PROTO_T_ARRAY));
    if (!fail)
        fail = &scratch;
    if (!f || !out)
        return arg_bug(req, name, "array", fail);
    return field_value(req, f, out, fail);
}

int proto_body_given(const proto_request_t *req, const char *name)
{
    if (!req || !op_field(req->op, name, ~0u))
        return -1;
    const msgpack_object *v = proto_map_get(req->body, name);
    return !v                              ? PROTO_GIVEN_ABSENT
           : v->type == MSGPACK_OBJECT_NIL ? PROTO_GIVEN_NIL
                                           : PROTO_GIVEN_SET;
}

int proto_get_int(const msgpack_object *map, const char *key, int64_t *out)
{
    const msgpack_object *v = proto_map_get(map, key);
    if (!v || !out || !is_int64(v))
        return -1;
    *out = v->via.i64;
    return 0;
}

int proto_get_bool(const msgpack_object *map, const char *key, bool *out)
{
    const msgpack_object *v = proto_map_get(map, key);
    if (!v || !out || v->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *out = v->via.boolean;
    return 0;
}

/* ---- writing bodies ---- */

void proto_pack_cstr(msgpack_packer *pk, const char *s)
{
    if (!s) {
        msgpack_pack_nil(pk);
        return;
    }
    pack_key(pk, s);
}

void proto_pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    pack_key(pk, key);
    proto_pack_cstr(pk, val);
}

void proto_pack_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
    pack_key(pk, key);
    msgpack_pack_int64(pk, val);
}

void proto_pack_kv_bool(msgpack_packer *pk, const char *key, bool val)
{
    pack_key(pk, key);
    if (val)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

/* Room for what usually follows a reserved bin (a few small fields), so
 * that packing them does not move the reserved bytes' buffer again. */
#define RESERVE_SLACK 1024

char *proto_pack_bin_reserve(msgpack_packer *pk, size_t n)
{
    /* pk->callback is not compared with msgpack_sbuffer_write: that is a
     * static inline function, with another address in every file. */
    if (!pk || !pk->data || n > UINT32_MAX - RESERVE_SLACK)
        return NULL;
    msgpack_sbuffer *sb = pk->data;
    if (sb->alloc - sb->size < 5 + n + RESERVE_SLACK) {
        size_t cap = sb->size + 5 + n + RESERVE_SLACK;
        char *p = realloc(sb->data, cap);
        if (!p)
            return NULL;
        sb->data = p;
        sb->alloc = cap;
    }
    if (msgpack_pack_bin(pk, n) != 0)
        return NULL;
    char *at = sb->data + sb->size;
    sb->size += n;
    return at;
}
