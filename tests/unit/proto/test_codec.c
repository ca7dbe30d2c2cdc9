/*
 * Unit tests for proto_codec: request and reply round trips, the
 * allocation-free bounds walker (truncation, trailing bytes, ext types, huge
 * declared counts and sizes, depth/items/string/frame limits), strict
 * envelope decoding (every rejection is bad_request and its reason never
 * echoes the input), and the body readers and pack helpers.
 *
 * Frames are built by hand, with msgpack_packer or as raw bytes, so the
 * decoder is never only tested against the encoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_codec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frame_util.h"

/* ---- helpers ---- */

static void put_bin(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, s, n);
}

/* "v":1 and "op":<op> entries of a request envelope. */
static void put_v_op(msgpack_packer *pk, const char *op)
{
    put_str(pk, "v");
    msgpack_pack_int(pk, 1);
    put_str(pk, "op");
    put_str(pk, op);
}

/* Packs `depth` nested arrays, the innermost empty: [[...[]...]]. */
static void put_nested_arrays(msgpack_packer *pk, int depth)
{
    for (int i = 0; i < depth; i++)
        msgpack_pack_array(pk, i + 1 < depth ? 1 : 0);
}

/* Unpacks a frame into `u` (which the caller destroys) and returns the root. */
static const msgpack_object *unpack(const frame_t *f, msgpack_unpacked *u)
{
    size_t off = 0;
    msgpack_unpacked_init(u);
    assert_int_equal(msgpack_unpack_next(u, f->sb.data, f->sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, f->sb.size);
    return &u->data;
}

static proto_limits_t lim_default(void)
{
    return proto_limits_default();
}

static int bounds(const char *data, size_t len)
{
    proto_limits_t lim = lim_default();
    return proto_check_bounds(data, len, &lim);
}

static int bounds_frame(const frame_t *f, const proto_limits_t *lim)
{
    return proto_check_bounds(f->sb.data, f->sb.size, lim);
}

/* Decoding `data` as a request must fail with bad_request, leave no op and an
 * empty body, and give a printable reason that does not contain `secret`. */
static void req_rejects(const char *data, size_t len, const char *secret)
{
    proto_limits_t lim = lim_default();
    proto_request_t req;
    char why[256];
    memset(why, 0, sizeof why);
    proto_request_init(&req);
    assert_int_equal(proto_request_decode(data, len, &lim, &req, why, sizeof why),
                     PROTO_ERR_BAD_REQUEST);
    assert_true(why[0] != '\0');
    for (const char *p = why; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    if (secret)
        assert_null(strstr(why, secret));
    assert_int_equal(req.op, PROTO_OP__COUNT);
    assert_non_null(req.body);
    assert_int_equal(req.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(req.body->via.map.size, 0);
    proto_request_cleanup(&req);
    proto_request_cleanup(&req);
}

static void req_rejects_frame(const frame_t *f, const char *secret)
{
    req_rejects(f->sb.data, f->sb.size, secret);
}

/* Decodes a request that must be accepted. The caller cleans up `req`. */
static void req_accepts(const frame_t *f, proto_request_t *req)
{
    proto_limits_t lim = lim_default();
    char why[128] = "";
    proto_request_init(req);
    assert_int_equal(proto_request_decode(f->sb.data, f->sb.size, &lim, req, why, sizeof why),
                     PROTO_OK);
    assert_string_equal(why, "");
}

/* Decoding as a reply must fail and leave `rep` as freshly initialised. */
static void rep_rejects(const char *data, size_t len)
{
    proto_limits_t lim = lim_default();
    proto_reply_t rep;
    proto_reply_init(&rep);
    assert_int_equal(proto_reply_decode(data, len, &lim, &rep), PROTO_ERR_BAD_REQUEST);
    assert_false(rep.ok);
    assert_true(rep.err != PROTO_OK);
    assert_null(rep.body);
    assert_int_equal(rep.retry_after, -1);
    assert_string_equal(rep.errmsg, "");
    proto_reply_cleanup(&rep);
    proto_reply_cleanup(&rep);
}

static void rep_rejects_frame(const frame_t *f)
{
    rep_rejects(f->sb.data, f->sb.size);
}

static void rep_accepts(const frame_t *f, proto_reply_t *rep)
{
    proto_limits_t lim = lim_default();
    proto_reply_init(rep);
    assert_int_equal(proto_reply_decode(f->sb.data, f->sb.size, &lim, rep), PROTO_OK);
}

/* Starts an error reply {"v":1,"ok":false,"err":{<n entries>}}. */
static void put_err_reply(msgpack_packer *pk, uint32_t n)
{
    msgpack_pack_map(pk, 3);
    put_str(pk, "v");
    msgpack_pack_int(pk, 1);
    put_str(pk, "ok");
    msgpack_pack_false(pk);
    put_str(pk, "err");
    msgpack_pack_map(pk, n);
}

typedef struct {
    const char *b;
    size_t n;
} raw_t;

#define RAW(s)                                                                                     \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

/* ---- request round trips ---- */

/* True when `op` can be sent with an empty body. */
static bool op_takes_empty_body(proto_op_t op)
{
    const proto_op_def_t *def = proto_op_def(op);
    for (size_t i = 0; i < def->nfields; i++) {
        if (def->fields[i].required)
            return false;
    }
    return true;
}

static void test_codec_request_round_trip(void **state)
{
    (void)state;
    int tested = 0;
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        if (!op_takes_empty_body((proto_op_t)op))
            continue;
        frame_t f;
        frame_init(&f);
        assert_int_equal(proto_request_encode(&f.sb, (proto_op_t)op, "rid-123", NULL, 0), 0);
        proto_request_t req;
        req_accepts(&f, &req);
        assert_int_equal(req.v, PROTO_VERSION);
        assert_int_equal(req.op, (proto_op_t)op);
        assert_string_equal(req.rid, "rid-123");
        assert_non_null(req.body);
        assert_int_equal(req.body->type, MSGPACK_OBJECT_MAP);
        assert_int_equal(req.body->via.map.size, 0);
        proto_request_cleanup(&req);
        frame_free(&f);
        tested++;
    }
    /* At least sys.ping and sys.health. */
    assert_true(op_takes_empty_body(PROTO_OP_SYS_PING));
    assert_true(op_takes_empty_body(PROTO_OP_SYS_HEALTH));
    assert_true(tested >= 2);
}

static void test_codec_request_encode_variants(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    proto_request_t req;

    /* NULL rid is sent as "". */
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_HEALTH, NULL, NULL, 0), 0);
    req_accepts(&f, &req);
    assert_int_equal(req.op, PROTO_OP_SYS_HEALTH);
    assert_string_equal(req.rid, "");
    proto_request_cleanup(&req);

    /* An explicit packed empty map, and a non-NULL body of length 0. */
    frame_reset(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "a", "\x80", 1), 0);
    req_accepts(&f, &req);
    assert_int_equal(req.body->via.map.size, 0);
    proto_request_cleanup(&req);
    frame_reset(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "a", "\x81", 0), 0);
    req_accepts(&f, &req);
    assert_int_equal(req.body->via.map.size, 0);
    proto_request_cleanup(&req);

    /* A 64-byte rid of every allowed character class. */
    const char *rid = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789";
    assert_int_equal(strlen(rid), PROTO_RID_MAX);
    frame_reset(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, rid, NULL, 0), 0);
    req_accepts(&f, &req);
    assert_string_equal(req.rid, rid);
    proto_request_cleanup(&req);

    /* Encoding appends: earlier buffer contents are kept. */
    frame_reset(&f);
    msgpack_sbuffer_write(&f.sb, "XY", 2);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "r", NULL, 0), 0);
    assert_memory_equal(f.sb.data, "XY", 2);
    proto_limits_t lim = lim_default();
    char why[64];
    proto_request_init(&req);
    assert_int_equal(
        proto_request_decode(f.sb.data + 2, f.sb.size - 2, &lim, &req, why, sizeof why), PROTO_OK);
    proto_request_cleanup(&req);

    /* Bad arguments. */
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP__COUNT, "r", NULL, 0), -1);
    assert_int_equal(proto_request_encode(&f.sb, (proto_op_t)-1, "r", NULL, 0), -1);
    assert_int_equal(proto_request_encode(NULL, PROTO_OP_SYS_PING, "r", NULL, 0), -1);
    frame_free(&f);
}

/* The body is spliced verbatim; read it back with the raw unpacker. */
static void test_codec_request_encode_splices_body(void **state)
{
    (void)state;
    frame_t body, f;
    frame_init(&body);
    frame_init(&f);
    msgpack_pack_map(&body.pk, 3);
    proto_pack_kv_str(&body.pk, "zq_name", "alice");
    proto_pack_kv_int(&body.pk, "zq_n", -3);
    proto_pack_kv_bool(&body.pk, "zq_flag", true);
    assert_int_equal(
        proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "rid-9", body.sb.data, body.sb.size), 0);

    msgpack_unpacked u;
    const msgpack_object *root = unpack(&f, &u);
    assert_int_equal(root->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(root->via.map.size, 4);
    int64_t v;
    char s[32];
    assert_int_equal(proto_get_int(root, "v", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(proto_get_str(root, "op", s, sizeof s), 0);
    assert_string_equal(s, "sys.ping");
    assert_int_equal(proto_get_str(root, "rid", s, sizeof s), 0);
    assert_string_equal(s, "rid-9");
    const msgpack_object *b = proto_map_get(root, "body");
    assert_non_null(b);
    assert_int_equal(b->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(b->via.map.size, 3);
    assert_int_equal(proto_get_str(b, "zq_name", s, sizeof s), 0);
    assert_string_equal(s, "alice");
    assert_int_equal(proto_get_int(b, "zq_n", &v), 0);
    assert_int_equal(v, -3);
    bool flag = false;
    assert_int_equal(proto_get_bool(b, "zq_flag", &flag), 0);
    assert_true(flag);
    msgpack_unpacked_destroy(&u);

    /* sys.ping takes no fields, so the decoder refuses it without naming them. */
    req_rejects_frame(&f, "zq_");
    req_rejects_frame(&f, "alice");
    frame_free(&f);
    frame_free(&body);
}

static void test_codec_request_init_state(void **state)
{
    (void)state;
    proto_request_t req;
    memset(&req, 0xa5, sizeof req);
    proto_request_init(&req);
    assert_int_equal(req.op, PROTO_OP__COUNT);
    assert_string_equal(req.rid, "");
    assert_non_null(req.body);
    assert_int_equal(req.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(req.body->via.map.size, 0);
    proto_request_cleanup(&req);
    proto_request_cleanup(&req);
    proto_request_cleanup(NULL);
}

/* ---- reply round trips ---- */

/* The envelope's head and a body packed after it, with a bin reserved and
 * filled in place, are byte for byte what proto_reply_encode_ok makes of
 * the same body packed apart; fields after the bin land after its bytes. */
static void test_codec_reply_head_and_reserved_bin(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 31, 255, 256, 65535, 65536, 300000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        frame_t body, whole, direct;
        frame_init(&body);
        frame_init(&whole);
        frame_init(&direct);
        char *bytes = malloc(n + 1);
        assert_non_null(bytes);
        for (size_t i = 0; i < n; i++)
            bytes[i] = (char)(i * 7 + k);
        msgpack_pack_map(&body.pk, 2);
        proto_pack_cstr(&body.pk, "data");
        msgpack_pack_bin(&body.pk, n);
        msgpack_pack_bin_body(&body.pk, bytes, n);
        proto_pack_kv_int(&body.pk, "size", (int64_t)n);
        assert_int_equal(proto_reply_encode_ok(&whole.sb, body.sb.data, body.sb.size), 0);

        assert_int_equal(proto_reply_encode_ok_head(&direct.sb), 0);
        msgpack_pack_map(&direct.pk, 2);
        proto_pack_cstr(&direct.pk, "data");
        char *dst = proto_pack_bin_reserve(&direct.pk, n);
        assert_non_null(dst);
        memcpy(dst, bytes, n);
        proto_pack_kv_int(&direct.pk, "size", (int64_t)n);
        assert_int_equal(direct.sb.size, whole.sb.size);
        assert_memory_equal(direct.sb.data, whole.sb.data, whole.sb.size);

        proto_reply_t rep;
        proto_limits_t files = proto_limits_files(); /* bins beyond the default bound */
        proto_reply_init(&rep);
        assert_int_equal(proto_reply_decode(direct.sb.data, direct.sb.size, &files, &rep),
                         PROTO_OK);
        assert_true(rep.ok);
        const msgpack_object *bin = proto_map_get(rep.body, "data");
        assert_non_null(bin);
        assert_int_equal(bin->type, MSGPACK_OBJECT_BIN);
        assert_int_equal(bin->via.bin.size, n);
        if (n > 0)
            assert_memory_equal(bin->via.bin.ptr, bytes, n);
        proto_reply_cleanup(&rep);
        free(bytes);
        frame_free(&body);
        frame_free(&whole);
        frame_free(&direct);
    }
    assert_null(proto_pack_bin_reserve(NULL, 1));
}

static void test_codec_reply_ok_with_body(void **state)
{
    (void)state;
    frame_t body, f;
    frame_init(&body);
    frame_init(&f);
    msgpack_pack_map(&body.pk, 4);
    proto_pack_kv_str(&body.pk, "svc", "test");
    proto_pack_kv_int(&body.pk, "n", -5);
    proto_pack_kv_bool(&body.pk, "flag", false);
    proto_pack_kv_str(&body.pk, "none", NULL);
    assert_int_equal(proto_reply_encode_ok(&f.sb, body.sb.data, body.sb.size), 0);

    proto_reply_t rep;
    rep_accepts(&f, &rep);
    assert_true(rep.ok);
    assert_int_equal(rep.err, PROTO_OK);
    assert_string_equal(rep.errmsg, "");
    assert_int_equal(rep.retry_after, -1);
    assert_non_null(rep.body);
    assert_int_equal(rep.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(rep.body->via.map.size, 4);
    char s[16];
    int64_t n;
    bool b = true;
    assert_int_equal(proto_get_str(rep.body, "svc", s, sizeof s), 0);
    assert_string_equal(s, "test");
    assert_int_equal(proto_get_int(rep.body, "n", &n), 0);
    assert_int_equal(n, -5);
    assert_int_equal(proto_get_bool(rep.body, "flag", &b), 0);
    assert_false(b);
    const msgpack_object *none = proto_map_get(rep.body, "none");
    assert_non_null(none);
    assert_int_equal(none->type, MSGPACK_OBJECT_NIL);
    proto_reply_cleanup(&rep);
    frame_free(&f);
    frame_free(&body);
}

static void test_codec_reply_ok_without_body(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    proto_reply_t rep;

    assert_int_equal(proto_reply_encode_ok(&f.sb, NULL, 0), 0);
    rep_accepts(&f, &rep);
    assert_true(rep.ok);
    assert_int_equal(rep.err, PROTO_OK);
    assert_non_null(rep.body);
    assert_int_equal(rep.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(rep.body->via.map.size, 0);
    proto_reply_cleanup(&rep);

    /* A hand-built reply with no "body" key at all. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 2);
    put_str(&f.pk, "ok");
    msgpack_pack_true(&f.pk);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    rep_accepts(&f, &rep);
    assert_true(rep.ok);
    assert_non_null(rep.body);
    assert_int_equal(rep.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(rep.body->via.map.size, 0);
    proto_reply_cleanup(&rep);

    assert_int_equal(proto_reply_encode_ok(NULL, NULL, 0), -1);
    frame_free(&f);
}

static void test_codec_reply_error_with_msg_and_retry(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_reply_encode_err(&f.sb, PROTO_ERR_RATE_LIMITED, "slow down", 900), 0);
    proto_reply_t rep;
    rep_accepts(&f, &rep);
    assert_false(rep.ok);
    assert_int_equal(rep.err, PROTO_ERR_RATE_LIMITED);
    assert_string_equal(rep.errmsg, "slow down");
    assert_int_equal(rep.retry_after, 900);
    assert_null(rep.body);
    proto_reply_cleanup(&rep);

    /* retry_after 0 is present, not absent. */
    frame_reset(&f);
    assert_int_equal(proto_reply_encode_err(&f.sb, PROTO_ERR_UNAVAILABLE, "", 0), 0);
    rep_accepts(&f, &rep);
    assert_int_equal(rep.err, PROTO_ERR_UNAVAILABLE);
    assert_string_equal(rep.errmsg, "");
    assert_int_equal(rep.retry_after, 0);
    proto_reply_cleanup(&rep);
    frame_free(&f);
}

static void test_codec_reply_error_without_msg(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_reply_encode_err(&f.sb, PROTO_ERR_NOT_FOUND, NULL, -1), 0);

    /* On the wire, err holds only the code. */
    msgpack_unpacked u;
    const msgpack_object *err = proto_map_get(unpack(&f, &u), "err");
    assert_non_null(err);
    assert_int_equal(err->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(err->via.map.size, 1);
    assert_null(proto_map_get(err, "msg"));
    assert_null(proto_map_get(err, "retry_after"));
    msgpack_unpacked_destroy(&u);

    proto_reply_t rep;
    rep_accepts(&f, &rep);
    assert_false(rep.ok);
    assert_int_equal(rep.err, PROTO_ERR_NOT_FOUND);
    assert_string_equal(rep.errmsg, "");
    assert_int_equal(rep.retry_after, -1);
    assert_null(rep.body);
    proto_reply_cleanup(&rep);

    /* A negative retry_after on the wire reads as absent. */
    frame_reset(&f);
    put_err_reply(&f.pk, 2);
    put_str(&f.pk, "code");
    put_str(&f.pk, "conflict");
    put_str(&f.pk, "retry_after");
    msgpack_pack_int64(&f.pk, -5);
    rep_accepts(&f, &rep);
    assert_int_equal(rep.err, PROTO_ERR_CONFLICT);
    assert_int_equal(rep.retry_after, -1);
    proto_reply_cleanup(&rep);

    assert_int_equal(proto_reply_encode_err(NULL, PROTO_ERR_NOT_FOUND, NULL, -1), -1);
    frame_free(&f);
}

static void test_codec_reply_every_error_round_trips(void **state)
{
    (void)state;
    for (int e = 1; e < PROTO_ERR__COUNT; e++) {
        frame_t f;
        frame_init(&f);
        assert_int_equal(proto_reply_encode_err(&f.sb, (proto_err_t)e, "m", e), 0);
        proto_reply_t rep;
        rep_accepts(&f, &rep);
        assert_false(rep.ok);
        assert_int_equal(rep.err, (proto_err_t)e);
        assert_string_equal(rep.errmsg, "m");
        assert_int_equal(rep.retry_after, e);
        proto_reply_cleanup(&rep);
        frame_free(&f);
    }
}

/* PROTO_OK and out-of-range values are not error codes: they go out as internal_error. */
static void test_codec_reply_encode_err_non_errors(void **state)
{
    (void)state;
    const proto_err_t odd[] = {PROTO_OK, PROTO_ERR__COUNT, (proto_err_t)-1, (proto_err_t)999};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        frame_t f;
        frame_init(&f);
        assert_int_equal(proto_reply_encode_err(&f.sb, odd[i], "x", -1), 0);
        proto_reply_t rep;
        rep_accepts(&f, &rep);
        assert_false(rep.ok);
        assert_int_equal(rep.err, PROTO_ERR_INTERNAL_ERROR);
        proto_reply_cleanup(&rep);
        frame_free(&f);
    }
}

static void test_codec_reply_encode_err_long_msg(void **state)
{
    (void)state;
    char msg[1000];
    for (size_t i = 0; i < sizeof msg - 1; i++)
        msg[i] = (char)('a' + i % 26);
    msg[sizeof msg - 1] = '\0';
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_reply_encode_err(&f.sb, PROTO_ERR_CONFLICT, msg, -1), 0);
    proto_reply_t rep;
    rep_accepts(&f, &rep);
    assert_int_equal(strlen(rep.errmsg), PROTO_ERRMSG_MAX - 1);
    assert_memory_equal(rep.errmsg, msg, PROTO_ERRMSG_MAX - 1);
    proto_reply_cleanup(&rep);
    frame_free(&f);
}

static void test_codec_reply_set_error(void **state)
{
    (void)state;
    proto_reply_t rep;
    proto_reply_init(&rep);
    assert_false(rep.ok);
    assert_null(rep.body);
    assert_int_equal(rep.retry_after, -1);
    assert_string_equal(rep.errmsg, "");

    proto_reply_set_error(&rep, PROTO_ERR_UNAVAILABLE, "timeout");
    assert_false(rep.ok);
    assert_int_equal(rep.err, PROTO_ERR_UNAVAILABLE);
    assert_string_equal(rep.errmsg, "timeout");
    assert_int_equal(rep.retry_after, -1);
    assert_null(rep.body);

    proto_reply_set_error(&rep, PROTO_ERR_NOT_FOUND, NULL);
    assert_int_equal(rep.err, PROTO_ERR_NOT_FOUND);
    assert_string_equal(rep.errmsg, "");

    /* PROTO_OK is not a failure. */
    proto_reply_set_error(&rep, PROTO_OK, "x");
    assert_false(rep.ok);
    assert_int_equal(rep.err, PROTO_ERR_INTERNAL_ERROR);

    char msg[600];
    memset(msg, 'q', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    proto_reply_set_error(&rep, PROTO_ERR_UNAVAILABLE, msg);
    assert_int_equal(strlen(rep.errmsg), PROTO_ERRMSG_MAX - 1);
    proto_reply_cleanup(&rep);

    /* Over a decoded ok reply: it becomes a failure and cleanup still frees the frame. */
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_reply_encode_ok(&f.sb, NULL, 0), 0);
    rep_accepts(&f, &rep);
    assert_true(rep.ok);
    proto_reply_set_error(&rep, PROTO_ERR_UNAVAILABLE, "gone");
    assert_false(rep.ok);
    assert_null(rep.body);
    assert_int_equal(rep.err, PROTO_ERR_UNAVAILABLE);
    assert_string_equal(rep.errmsg, "gone");
    proto_reply_cleanup(&rep);
    frame_free(&f);
}

static void test_codec_reply_cleanup_twice(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_reply_encode_err(&f.sb, PROTO_ERR_FORBIDDEN, "no", 7), 0);
    proto_reply_t rep;
    rep_accepts(&f, &rep);
    proto_reply_cleanup(&rep);
    /* Back to the initial state. */
    assert_false(rep.ok);
    assert_null(rep.body);
    assert_int_equal(rep.retry_after, -1);
    assert_string_equal(rep.errmsg, "");
    proto_reply_cleanup(&rep);
    proto_reply_cleanup(NULL);

    /* Never decoded. */
    proto_reply_t fresh;
    proto_reply_init(&fresh);
    proto_reply_cleanup(&fresh);
    proto_reply_cleanup(&fresh);

    /* Reusable after cleanup. */
    frame_reset(&f);
    assert_int_equal(proto_reply_encode_ok(&f.sb, NULL, 0), 0);
    rep_accepts(&f, &rep);
    assert_true(rep.ok);
    proto_reply_cleanup(&rep);
    frame_free(&f);
}

/* ---- bounds walker: rejections ---- */

static void test_codec_bounds_rejects_empty(void **state)
{
    (void)state;
    proto_limits_t lim = lim_default();
    assert_int_equal(proto_check_bounds("", 0, &lim), -1);
    assert_int_equal(proto_check_bounds("\xc0", 0, &lim), -1);
    assert_int_equal(proto_check_bounds(NULL, 0, &lim), -1);
    assert_int_equal(proto_check_bounds(NULL, 5, &lim), -1);
}

/* Every proper prefix of a valid request or reply is rejected. */
static void test_codec_bounds_rejects_truncated(void **state)
{
    (void)state;
    frame_t body, f;
    frame_init(&body);
    frame_init(&f);
    msgpack_pack_map(&body.pk, 5);
    proto_pack_kv_str(&body.pk, "s", "some string value");
    proto_pack_kv_int(&body.pk, "i", INT64_MIN);
    put_str(&body.pk, "a");
    msgpack_pack_array(&body.pk, 3);
    msgpack_pack_double(&body.pk, 1.5);
    msgpack_pack_float(&body.pk, 2.5f);
    put_bin(&body.pk, "\x00\x01\x02", 3);
    put_str(&body.pk, "m");
    msgpack_pack_map(&body.pk, 1);
    proto_pack_kv_bool(&body.pk, "t", true);
    proto_pack_kv_str(&body.pk, "n", NULL);
    assert_int_equal(
        proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "rid-1", body.sb.data, body.sb.size), 0);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    for (size_t n = 1; n < f.sb.size; n++)
        assert_int_equal(bounds(f.sb.data, n), -1);

    frame_reset(&f);
    assert_int_equal(proto_reply_encode_err(&f.sb, PROTO_ERR_CONFLICT, "clash", 30), 0);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    for (size_t n = 1; n < f.sb.size; n++)
        assert_int_equal(bounds(f.sb.data, n), -1);
    frame_free(&f);
    frame_free(&body);
}

static void test_codec_bounds_rejects_trailing(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "r", NULL, 0), 0);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    msgpack_pack_nil(&f.pk);
    assert_int_equal(bounds(f.sb.data, f.sb.size), -1);
    frame_free(&f);

    /* Two whole objects are not one. */
    assert_int_equal(bounds("\x01\x02", 2), -1);
    assert_int_equal(bounds("\x80\x80", 2), -1);
    assert_int_equal(bounds("\x90\x00", 2), -1);
    assert_int_equal(bounds("\xa1x\x00", 3), -1);
}

static void test_codec_bounds_rejects_reserved_c1(void **state)
{
    (void)state;
    assert_int_equal(bounds("\xc1", 1), -1);
    assert_int_equal(bounds("\x91\xc1", 2), -1);
    assert_int_equal(bounds("\x81\xa1k\xc1", 4), -1);
    assert_int_equal(bounds("\x81\xc1\x00", 3), -1);
}

static void test_codec_bounds_rejects_ext(void **state)
{
    (void)state;
    /* Hand-written, well-formed ext objects of every format. */
    static const raw_t ext[] = {
        RAW("\xd4\x01\x00"),                                                   /* fixext 1 */
        RAW("\xd5\x01\x00\x00"),                                               /* fixext 2 */
        RAW("\xd6\x01\x00\x00\x00\x00"),                                       /* fixext 4 */
        RAW("\xd7\x01\x00\x00\x00\x00\x00\x00\x00\x00"),                       /* fixext 8 */
        RAW("\xd8\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" /* fixext 16 */
            "\x00\x00"),
        RAW("\xc7\x01\x01\x00"),             /* ext 8 */
        RAW("\xc8\x00\x01\x01\x00"),         /* ext 16 */
        RAW("\xc9\x00\x00\x00\x01\x01\x00"), /* ext 32 */
        RAW("\xd6\xff\x00\x00\x00\x00"),     /* timestamp 32 */
        RAW("\xc7\x00\x05"),                 /* empty ext 8 */
    };
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        assert_int_equal(bounds(ext[i].b, ext[i].n), -1);
        /* Also nested inside an array and as a map value. */
        char buf[64];
        buf[0] = (char)0x91;
        memcpy(buf + 1, ext[i].b, ext[i].n);
        assert_int_equal(bounds(buf, ext[i].n + 1), -1);
        buf[0] = (char)0x81;
        buf[1] = (char)0xa1;
        buf[2] = 'k';
        memcpy(buf + 3, ext[i].b, ext[i].n);
        assert_int_equal(bounds(buf, ext[i].n + 3), -1);
        /* In arrays of 1..15 items padded with nils: however its length were
         * misread, some padding would make the frame line up. */
        for (int k = 1; k <= 15; k++) {
            for (size_t pad = 0; pad <= 16; pad++) {
                buf[0] = (char)(0x90 | k);
                memcpy(buf + 1, ext[i].b, ext[i].n);
                memset(buf + 1 + ext[i].n, 0xc0, pad);
                assert_int_equal(bounds(buf, 1 + ext[i].n + pad), -1);
            }
        }
    }

    /* The packer's own ext encodings, inside a request body. */
    static const struct {
        size_t len;
        unsigned char head;
    } sizes[] = {{1, 0xd4}, {2, 0xd5}, {4, 0xd6},   {8, 0xd7},   {16, 0xd8},
                 {3, 0xc7}, {0, 0xc7}, {255, 0xc7}, {256, 0xc8}, {65536, 0xc9}};
    char *payload = calloc(1, 65536);
    assert_non_null(payload);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        frame_t e, f;
        frame_init(&e);
        frame_init(&f);
        msgpack_pack_ext(&e.pk, sizes[i].len, 7);
        msgpack_pack_ext_body(&e.pk, payload, sizes[i].len);
        assert_int_equal((unsigned char)e.sb.data[0], sizes[i].head);
        assert_int_equal(bounds(e.sb.data, e.sb.size), -1);
        msgpack_pack_map(&f.pk, 3);
        put_v_op(&f.pk, "sys.ping");
        put_str(&f.pk, "body");
        msgpack_pack_map(&f.pk, 1);
        put_str(&f.pk, "x");
        msgpack_sbuffer_write(&f.sb, e.sb.data, e.sb.size);
        assert_int_equal(bounds(f.sb.data, f.sb.size), -1);
        req_rejects_frame(&f, NULL);
        frame_free(&f);
        frame_free(&e);
    }
    free(payload);
}

/* Declared counts and sizes far beyond the frame: refused from the header
 * alone, even when the limits themselves would allow them. */
static void test_codec_bounds_rejects_huge_declarations(void **state)
{
    (void)state;
    static const raw_t huge[] = {
        RAW("\xdf\xff\xff\xff\xff"), /* map32, 2^32-1 entries */
        RAW("\xdd\xff\xff\xff\xff"), /* array32, 2^32-1 items */
        RAW("\xdb\xff\xff\xff\xff"), /* str32, 4 GiB */
        RAW("\xc6\xff\xff\xff\xff"), /* bin32, 4 GiB */
        RAW("\xde\xff\xff"),         /* map16 */
        RAW("\xdc\xff\xff"),         /* array16 */
        RAW("\xda\xff\xff"),         /* str16 */
        RAW("\xc5\xff\xff"),         /* bin16 */
        RAW("\xd9\xff"),             /* str8 */
        RAW("\xc4\xff"),             /* bin8 */
        RAW("\x8f"),                 /* fixmap of 15 with nothing */
        RAW("\x9f"),                 /* fixarray of 15 with nothing */
        RAW("\xbf"),                 /* fixstr of 31 with nothing */
        RAW("\x92\x01"),             /* 2 items declared, 1 present */
        RAW("\x82\xa1k\x01"),        /* 2 entries declared, 1 present */
        RAW("\x81\xa1k"),            /* key without a value */
        RAW("\xdd\x00\x00\x00\x03\x01\x02"),
        RAW("\x91\xdf\xff\xff\xff\xff"), /* nested */
        RAW("\xdb\x00\x00\x00\x04"
            "abc"),
    };
    proto_limits_t def = lim_default();
    proto_limits_t wide = {
        .max_msg_bytes = SIZE_MAX, .max_depth = 16, .max_str = UINT32_MAX, .max_items = UINT32_MAX};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        assert_int_equal(proto_check_bounds(huge[i].b, huge[i].n, &def), -1);
        assert_int_equal(proto_check_bounds(huge[i].b, huge[i].n, &wide), -1);
        req_rejects(huge[i].b, huge[i].n, NULL);
        rep_rejects(huge[i].b, huge[i].n);
    }
}

static void test_codec_bounds_depth(void **state)
{
    (void)state;
    proto_limits_t lim = lim_default();
    frame_t f;
    frame_init(&f);
    /* Exactly max_depth nested arrays pass, one more fails. */
    put_nested_arrays(&f.pk, (int)lim.max_depth);
    assert_int_equal(bounds_frame(&f, &lim), 0);
    frame_reset(&f);
    put_nested_arrays(&f.pk, (int)lim.max_depth + 1);
    assert_int_equal(bounds_frame(&f, &lim), -1);

    /* Scalars inside the innermost container do not add a level. */
    for (uint32_t d = 1; d <= 6; d++) {
        proto_limits_t l = lim;
        l.max_depth = d;
        frame_reset(&f);
        for (uint32_t i = 0; i < d; i++)
            msgpack_pack_array(&f.pk, 1);
        msgpack_pack_int(&f.pk, 42);
        assert_int_equal(bounds_frame(&f, &l), 0);
        frame_reset(&f);
        for (uint32_t i = 0; i < d; i++) {
            msgpack_pack_map(&f.pk, 1);
            put_str(&f.pk, "k");
        }
        put_str(&f.pk, "leaf");
        assert_int_equal(bounds_frame(&f, &l), 0);
        frame_reset(&f);
        for (uint32_t i = 0; i <= d; i++) {
            msgpack_pack_map(&f.pk, 1);
            put_str(&f.pk, "k");
        }
        put_str(&f.pk, "leaf");
        assert_int_equal(bounds_frame(&f, &l), -1);
    }

    /* Siblings do not accumulate depth: [[[]],[[]],[[]]] is depth 3. */
    proto_limits_t l3 = lim;
    l3.max_depth = 3;
    frame_reset(&f);
    msgpack_pack_array(&f.pk, 3);
    for (int i = 0; i < 3; i++)
        put_nested_arrays(&f.pk, 2);
    assert_int_equal(bounds_frame(&f, &l3), 0);
    l3.max_depth = 2;
    assert_int_equal(bounds_frame(&f, &l3), -1);

    /* Depth 0 allows scalars only. */
    proto_limits_t l0 = lim;
    l0.max_depth = 0;
    assert_int_equal(proto_check_bounds("\x01", 1, &l0), 0);
    assert_int_equal(proto_check_bounds("\x90", 1, &l0), -1);

    /* A request envelope is depth 1, its body 2, a map in the body 3. */
    proto_limits_t l2 = lim;
    l2.max_depth = 2;
    frame_reset(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "r", NULL, 0), 0);
    assert_int_equal(bounds_frame(&f, &l2), 0);
    frame_reset(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "r", "\x81\xa1k\x80", 4), 0);
    assert_int_equal(bounds_frame(&f, &l2), -1);
    l2.max_depth = 3;
    assert_int_equal(bounds_frame(&f, &l2), 0);

    /* A deep body is a malformed request under the default limits. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "sys.ping");
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "k");
    put_nested_arrays(&f.pk, (int)lim.max_depth - 1);
    assert_int_equal(bounds_frame(&f, &lim), -1);
    req_rejects_frame(&f, NULL);

    /* Far deeper than any sane limit: the walker keeps a fixed-size stack, so
     * it must refuse (not overflow) even when the limit is huge. */
    proto_limits_t deep = lim;
    deep.max_depth = UINT32_MAX;
    frame_reset(&f);
    put_nested_arrays(&f.pk, 100000);
    assert_int_equal(bounds_frame(&f, &lim), -1);
    assert_int_equal(bounds_frame(&f, &deep), -1);
    frame_free(&f);
}

static void test_codec_bounds_items(void **state)
{
    (void)state;
    proto_limits_t lim = lim_default();
    frame_t f;
    frame_init(&f);
    msgpack_pack_array(&f.pk, lim.max_items);
    for (uint32_t i = 0; i < lim.max_items; i++)
        msgpack_pack_nil(&f.pk);
    assert_int_equal(bounds_frame(&f, &lim), 0);
    frame_reset(&f);
    msgpack_pack_array(&f.pk, lim.max_items + 1);
    for (uint32_t i = 0; i < lim.max_items + 1; i++)
        msgpack_pack_nil(&f.pk);
    assert_int_equal(bounds_frame(&f, &lim), -1);

    frame_reset(&f);
    msgpack_pack_map(&f.pk, lim.max_items);
    for (uint32_t i = 0; i < lim.max_items; i++) {
        msgpack_pack_uint32(&f.pk, i);
        msgpack_pack_nil(&f.pk);
    }
    assert_int_equal(bounds_frame(&f, &lim), 0);
    frame_reset(&f);
    msgpack_pack_map(&f.pk, lim.max_items + 1);
    for (uint32_t i = 0; i < lim.max_items + 1; i++) {
        msgpack_pack_uint32(&f.pk, i);
        msgpack_pack_nil(&f.pk);
    }
    assert_int_equal(bounds_frame(&f, &lim), -1);

    /* Small limits apply to fix-sized containers too, and at any level. */
    proto_limits_t l2 = lim;
    l2.max_items = 2;
    assert_int_equal(proto_check_bounds("\x92\x01\x02", 3, &l2), 0);
    assert_int_equal(proto_check_bounds("\x93\x01\x02\x03", 4, &l2), -1);
    assert_int_equal(proto_check_bounds("\x82\x01\x01\x02\x02", 5, &l2), 0);
    assert_int_equal(proto_check_bounds("\x83\x01\x01\x02\x02\x03\x03", 7, &l2), -1);
    assert_int_equal(proto_check_bounds("\x91\x93\x01\x02\x03", 5, &l2), -1);
    assert_int_equal(proto_check_bounds("\xdc\x00\x03\x01\x02\x03", 6, &l2), -1);
    frame_free(&f);
}

static void test_codec_bounds_strings(void **state)
{
    (void)state;
    proto_limits_t lim = lim_default();
    size_t max = lim.max_str;
    char *s = malloc(max + 1);
    assert_non_null(s);
    memset(s, 's', max + 1);
    frame_t f;
    frame_init(&f);
    put_strn(&f.pk, s, max);
    assert_int_equal(bounds_frame(&f, &lim), 0);
    frame_reset(&f);
    put_strn(&f.pk, s, max + 1);
    assert_int_equal(bounds_frame(&f, &lim), -1);
    frame_reset(&f);
    put_bin(&f.pk, s, max);
    assert_int_equal(bounds_frame(&f, &lim), 0);
    frame_reset(&f);
    put_bin(&f.pk, s, max + 1);
    assert_int_equal(bounds_frame(&f, &lim), -1);

    /* Inside a request body. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "sys.ping");
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "k");
    put_strn(&f.pk, s, max + 1);
    assert_int_equal(bounds_frame(&f, &lim), -1);
    req_rejects_frame(&f, "sss");

    /* Each string format against a small limit, map keys included. */
    proto_limits_t l3 = lim;
    l3.max_str = 3;
    assert_int_equal(proto_check_bounds("\xa3"
                                        "abc",
                                        4, &l3),
                     0);
    assert_int_equal(proto_check_bounds("\xa4"
                                        "abcd",
                                        5, &l3),
                     -1);
    assert_int_equal(proto_check_bounds("\xd9\x03"
                                        "abc",
                                        5, &l3),
                     0);
    assert_int_equal(proto_check_bounds("\xd9\x04"
                                        "abcd",
                                        6, &l3),
                     -1);
    assert_int_equal(proto_check_bounds("\xda\x00\x04"
                                        "abcd",
                                        7, &l3),
                     -1);
    assert_int_equal(proto_check_bounds("\xdb\x00\x00\x00\x04"
                                        "abcd",
                                        9, &l3),
                     -1);
    assert_int_equal(proto_check_bounds("\xc4\x03"
                                        "abc",
                                        5, &l3),
                     0);
    assert_int_equal(proto_check_bounds("\xc4\x04"
                                        "abcd",
                                        6, &l3),
                     -1);
    assert_int_equal(proto_check_bounds("\xc5\x00\x04"
                                        "abcd",
                                        7, &l3),
                     -1);
    assert_int_equal(proto_check_bounds("\xc6\x00\x00\x00\x04"
                                        "abcd",
                                        9, &l3),
                     -1);
    assert_int_equal(proto_check_bounds("\x81\xa3"
                                        "abc\x01",
                                        6, &l3),
                     0);
    assert_int_equal(proto_check_bounds("\x81\xa4"
                                        "abcd\x01",
                                        7, &l3),
                     -1);
    frame_free(&f);
    free(s);
}

static void test_codec_bounds_frame_size(void **state)
{
    (void)state;
    proto_limits_t lim = lim_default();
    lim.max_msg_bytes = 10;
    /* fixstr of 9 bytes: 10 bytes in all. */
    assert_int_equal(proto_check_bounds("\xa9"
                                        "123456789",
                                        10, &lim),
                     0);
    assert_int_equal(proto_check_bounds("\xaa"
                                        "1234567890",
                                        11, &lim),
                     -1);

    /* The default 1 MiB: a bin just under passes, one over fails. */
    proto_limits_t def = lim_default();
    def.max_str = UINT32_MAX;
    size_t big = def.max_msg_bytes;
    char *buf = calloc(1, big + 1);
    assert_non_null(buf);
    frame_t f;
    frame_init(&f);
    msgpack_pack_bin(&f.pk, big - 5); /* bin32 header is 5 bytes */
    msgpack_pack_bin_body(&f.pk, buf, big - 5);
    assert_int_equal(f.sb.size, big);
    assert_int_equal(bounds_frame(&f, &def), 0);
    frame_reset(&f);
    msgpack_pack_bin(&f.pk, big - 4);
    msgpack_pack_bin_body(&f.pk, buf, big - 4);
    assert_int_equal(bounds_frame(&f, &def), -1);
    frame_free(&f);
    free(buf);
}

/* ---- bounds walker: acceptance ---- */

static const raw_t SCALARS[] = {
    RAW("\xc0"),                                 /* nil */
    RAW("\xc2"),                                 /* false */
    RAW("\xc3"),                                 /* true */
    RAW("\x00"),                                 /* positive fixint */
    RAW("\x7f"),                                 /* positive fixint */
    RAW("\xe0"),                                 /* negative fixint */
    RAW("\xff"),                                 /* negative fixint */
    RAW("\xcc\xff"),                             /* uint8 */
    RAW("\xcd\xff\xff"),                         /* uint16 */
    RAW("\xce\xff\xff\xff\xff"),                 /* uint32 */
    RAW("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), /* uint64 */
    RAW("\xd0\x80"),                             /* int8 */
    RAW("\xd1\x80\x00"),                         /* int16 */
    RAW("\xd2\x80\x00\x00\x00"),                 /* int32 */
    RAW("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), /* int64 */
    RAW("\xca\x3f\xc0\x00\x00"),                 /* float32 1.5 */
    RAW("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), /* float64 1.5 */
    RAW("\xc4\x00"),                             /* bin8, empty */
    RAW("\xc4\x02zz"),                           /* bin8 */
    RAW("\xc5\x00\x02zz"),                       /* bin16 */
    RAW("\xc6\x00\x00\x00\x02zz"),               /* bin32 */
    RAW("\xa0"),                                 /* fixstr, empty */
    RAW("\xa2zz"),                               /* fixstr */
    RAW("\xd9\x02zz"),                           /* str8 */
    RAW("\xda\x00\x02zz"),                       /* str16 */
    RAW("\xdb\x00\x00\x00\x02zz"),               /* str32 */
    RAW("\x90"),                                 /* fixarray, empty */
    RAW("\x80"),                                 /* fixmap, empty */
    RAW("\xdc\x00\x00"),                         /* array16, empty */
    RAW("\xdd\x00\x00\x00\x00"),                 /* array32, empty */
    RAW("\xde\x00\x00"),                         /* map16, empty */
    RAW("\xdf\x00\x00\x00\x00"),                 /* map32, empty */
    RAW("\xdc\x00\x01\x01"),                     /* array16 */
    RAW("\xdd\x00\x00\x00\x01\x01"),             /* array32 */
    RAW("\xde\x00\x01\x01\x01"),                 /* map16 */
    RAW("\xdf\x00\x00\x00\x01\x01\x01"),         /* map32 */
};
#define NSCALARS (sizeof SCALARS / sizeof SCALARS[0])

static void test_codec_bounds_accepts_all_formats(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSCALARS; i++) {
        assert_int_equal(bounds(SCALARS[i].b, SCALARS[i].n), 0);
        /* Cut short or followed by a byte, each is refused. */
        if (SCALARS[i].n > 1)
            assert_int_equal(bounds(SCALARS[i].b, SCALARS[i].n - 1), -1);
        char buf[32];
        memcpy(buf, SCALARS[i].b, SCALARS[i].n);
        buf[SCALARS[i].n] = (char)0xc0;
        assert_int_equal(bounds(buf, SCALARS[i].n + 1), -1);
    }

    /* All of them in one array16, and as values of one map16. */
    frame_t f;
    frame_init(&f);
    msgpack_pack_array(&f.pk, NSCALARS);
    assert_int_equal((unsigned char)f.sb.data[0], 0xdc);
    for (size_t i = 0; i < NSCALARS; i++)
        msgpack_sbuffer_write(&f.sb, SCALARS[i].b, SCALARS[i].n);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    msgpack_unpacked u;
    const msgpack_object *o = unpack(&f, &u);
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o->via.array.size, NSCALARS);
    msgpack_unpacked_destroy(&u);

    frame_reset(&f);
    msgpack_pack_map(&f.pk, NSCALARS);
    for (size_t i = 0; i < NSCALARS; i++) {
        msgpack_pack_uint64(&f.pk, i);
        msgpack_sbuffer_write(&f.sb, SCALARS[i].b, SCALARS[i].n);
    }
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    frame_free(&f);
}

static void test_codec_bounds_accepts_packer_output(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    msgpack_pack_array(&f.pk, 22);
    msgpack_pack_float(&f.pk, 3.25f);
    msgpack_pack_double(&f.pk, -1e300);
    msgpack_pack_double(&f.pk, NAN);
    msgpack_pack_fix_uint8(&f.pk, 1);
    msgpack_pack_fix_uint16(&f.pk, 1);
    msgpack_pack_fix_uint32(&f.pk, 1);
    msgpack_pack_fix_uint64(&f.pk, 1);
    msgpack_pack_fix_int8(&f.pk, -1);
    msgpack_pack_fix_int16(&f.pk, -1);
    msgpack_pack_fix_int32(&f.pk, -1);
    msgpack_pack_fix_int64(&f.pk, -1);
    msgpack_pack_uint64(&f.pk, UINT64_MAX);
    msgpack_pack_int64(&f.pk, INT64_MIN);
    put_bin(&f.pk, "b", 1);  /* bin8 */
    put_str(&f.pk, "short"); /* fixstr */
    char s[300];
    memset(s, 'x', sizeof s);
    put_strn(&f.pk, s, 40);  /* str8 */
    put_strn(&f.pk, s, 300); /* str16 */
    put_bin(&f.pk, s, 300);  /* bin16 */
    msgpack_pack_nil(&f.pk);
    msgpack_pack_true(&f.pk);
    msgpack_pack_false(&f.pk);
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "k");
    msgpack_pack_array(&f.pk, 0);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    proto_limits_t lim = lim_default();
    assert_int_equal(bounds_frame(&f, &lim), 0);
    frame_free(&f);
}

static void test_codec_bounds_accepts_envelopes(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "abc", NULL, 0), 0);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    frame_reset(&f);
    assert_int_equal(proto_reply_encode_ok(&f.sb, "\x81\xa1k\x92\x01\xa1x", 7), 0);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    frame_reset(&f);
    assert_int_equal(proto_reply_encode_err(&f.sb, PROTO_ERR_RATE_LIMITED, "m", 900), 0);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);
    frame_free(&f);
}

/* ---- request decoding: rejections ---- */

static void test_codec_request_rejects_non_map(void **state)
{
    (void)state;
    req_rejects("\x90", 1, NULL);
    req_rejects("\x91\x80", 2, NULL);
    req_rejects("\xa8sys.ping", 9, "sys.ping");
    req_rejects("\x01", 1, NULL);
    req_rejects("\xc0", 1, NULL);
    req_rejects("\xc3", 1, NULL);
    req_rejects("\xc4\x03"
                "abc",
                5, NULL);

    /* Integer keys, even with a valid envelope otherwise. */
    frame_t f;
    frame_init(&f);
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "sys.ping");
    msgpack_pack_int(&f.pk, 7);
    msgpack_pack_int(&f.pk, 7);
    req_rejects_frame(&f, NULL);
    req_rejects("\x81\x01\x01", 3, NULL);
    /* A bin key spelling "v". */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 2);
    put_bin(&f.pk, "v", 1);
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "op");
    put_str(&f.pk, "sys.ping");
    req_rejects_frame(&f, NULL);
    frame_free(&f);
}

static void test_codec_request_rejects_bad_keys(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    /* Unknown envelope key. */
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "sys.ping");
    put_str(&f.pk, "zq_extra");
    msgpack_pack_int(&f.pk, 1);
    req_rejects_frame(&f, "zq_extra");

    /* Keys are exact: "V", "opx", "Body". */
    static const char *const near[] = {"V", "opx", "Body", "rid ", ""};
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 3);
        put_v_op(&f.pk, "sys.ping");
        put_str(&f.pk, near[i]);
        msgpack_pack_map(&f.pk, 0);
        req_rejects_frame(&f, NULL);
    }

    /* Duplicate keys, even with equal values. */
    static const char *const dup[] = {"v", "op", "rid", "body"};
    for (size_t i = 0; i < sizeof dup / sizeof dup[0]; i++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 5);
        put_v_op(&f.pk, "sys.ping");
        put_str(&f.pk, "rid");
        put_str(&f.pk, "r1");
        put_str(&f.pk, "body");
        msgpack_pack_map(&f.pk, 0);
        put_str(&f.pk, dup[i]);
        if (strcmp(dup[i], "v") == 0)
            msgpack_pack_int(&f.pk, 1);
        else if (strcmp(dup[i], "op") == 0)
            put_str(&f.pk, "sys.ping");
        else if (strcmp(dup[i], "rid") == 0)
            put_str(&f.pk, "r1");
        else
            msgpack_pack_map(&f.pk, 0);
        req_rejects_frame(&f, NULL);
    }
    frame_free(&f);
}

static void test_codec_request_rejects_bad_version(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    /* Missing v. */
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "op");
    put_str(&f.pk, "sys.ping");
    req_rejects_frame(&f, NULL);

    for (int kind = 0; kind < 9; kind++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 2);
        put_str(&f.pk, "v");
        switch (kind) {
        case 0:
            msgpack_pack_int(&f.pk, 2);
            break;
        case 1:
            msgpack_pack_int(&f.pk, 0);
            break;
        case 2:
            put_str(&f.pk, "1");
            break;
        case 3:
            msgpack_pack_int(&f.pk, -1);
            break;
        case 4:
            msgpack_pack_double(&f.pk, 1.0);
            break;
        case 5:
            msgpack_pack_true(&f.pk);
            break;
        case 6:
            msgpack_pack_nil(&f.pk);
            break;
        case 7:
            /* A float64 whose bits read as the integer 1: the type is checked. */
            msgpack_sbuffer_write(&f.sb, "\xcb\0\0\0\0\0\0\0\x01", 9);
            break;
        default:
            msgpack_pack_uint64(&f.pk, UINT64_MAX);
            break;
        }
        put_str(&f.pk, "op");
        put_str(&f.pk, "sys.ping");
        req_rejects_frame(&f, NULL);
    }

    /* A non-minimal encoding of 1 is still 1. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 2);
    put_str(&f.pk, "v");
    msgpack_pack_fix_uint64(&f.pk, 1);
    put_str(&f.pk, "op");
    put_str(&f.pk, "sys.ping");
    proto_request_t req;
    req_accepts(&f, &req);
    assert_int_equal(req.v, 1);
    proto_request_cleanup(&req);
    frame_free(&f);
}

static void test_codec_request_rejects_bad_op(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    /* Missing op. */
    msgpack_pack_map(&f.pk, 2);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "rid");
    put_str(&f.pk, "r");
    req_rejects_frame(&f, NULL);

    /* Wrong names, each must not be echoed. */
    static const char *const names[] = {"sys.nope", "sys.pin",         "sys.pingg",
                                        "SYS.PING", "zq.evil<script>", "sys.ping "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 2);
        put_v_op(&f.pk, names[i]);
        req_rejects_frame(&f, names[i]);
    }
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 2);
    put_v_op(&f.pk, "sys.nope");
    req_rejects_frame(&f, "nope");

    /* Empty, with an embedded NUL, as bin, as int, as nil. */
    for (int kind = 0; kind < 6; kind++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 2);
        put_str(&f.pk, "v");
        msgpack_pack_int(&f.pk, 1);
        put_str(&f.pk, "op");
        switch (kind) {
        case 0:
            put_strn(&f.pk, "", 0);
            break;
        case 1:
            put_strn(&f.pk, "sys.ping\0", 9);
            break;
        case 2:
            put_strn(&f.pk, "sys\0ping", 8);
            break;
        case 3:
            put_bin(&f.pk, "sys.ping", 8);
            break;
        case 4:
            msgpack_pack_int(&f.pk, PROTO_OP_SYS_PING);
            break;
        default:
            msgpack_pack_nil(&f.pk);
            break;
        }
        req_rejects_frame(&f, NULL);
    }
    frame_free(&f);
}

static void test_codec_request_rejects_bad_rid(void **state)
{
    (void)state;
    static const char *const rids[] = {
        "<script>", "a b", "a_b", "a.b", "a/b", "caf\xc3\xa9", "a\tb", "a+b", "{}", "=",
    };
    frame_t f;
    frame_init(&f);
    for (size_t i = 0; i < sizeof rids / sizeof rids[0]; i++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 3);
        put_v_op(&f.pk, "sys.ping");
        put_str(&f.pk, "rid");
        put_str(&f.pk, rids[i]);
        req_rejects_frame(&f, rids[i]);
    }
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "sys.ping");
    put_str(&f.pk, "rid");
    put_str(&f.pk, "ok-<script>alert(1)</script>");
    req_rejects_frame(&f, "<script");

    /* 65 bytes of valid characters. */
    char rid[PROTO_RID_MAX + 2];
    memset(rid, 'a', PROTO_RID_MAX + 1);
    rid[PROTO_RID_MAX + 1] = '\0';
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "sys.ping");
    put_str(&f.pk, "rid");
    put_str(&f.pk, rid);
    req_rejects_frame(&f, "aaaa");

    /* Embedded NUL, and wrong types. */
    for (int kind = 0; kind < 5; kind++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 3);
        put_v_op(&f.pk, "sys.ping");
        put_str(&f.pk, "rid");
        switch (kind) {
        case 0:
            put_strn(&f.pk, "ab\0cd", 5);
            break;
        case 1:
            msgpack_pack_int(&f.pk, 12345);
            break;
        case 2:
            put_bin(&f.pk, "abc", 3);
            break;
        case 3:
            msgpack_pack_nil(&f.pk);
            break;
        default:
            msgpack_pack_array(&f.pk, 0);
            break;
        }
        req_rejects_frame(&f, NULL);
    }
    frame_free(&f);
}

static void test_codec_request_rid_edges(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    proto_request_t req;

    /* Exactly 64 bytes. */
    char rid[PROTO_RID_MAX + 1];
    memset(rid, 'Z', PROTO_RID_MAX);
    rid[PROTO_RID_MAX] = '\0';
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "sys.ping");
    put_str(&f.pk, "rid");
    put_str(&f.pk, rid);
    req_accepts(&f, &req);
    assert_string_equal(req.rid, rid);
    proto_request_cleanup(&req);

    /* Missing rid: empty. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 2);
    put_v_op(&f.pk, "sys.health");
    req_accepts(&f, &req);
    assert_int_equal(req.op, PROTO_OP_SYS_HEALTH);
    assert_string_equal(req.rid, "");
    /* Missing body: an empty map. */
    assert_non_null(req.body);
    assert_int_equal(req.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(req.body->via.map.size, 0);
    proto_request_cleanup(&req);

    /* Empty rid; keys in any order. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 4);
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 0);
    put_str(&f.pk, "rid");
    put_str(&f.pk, "");
    put_str(&f.pk, "op");
    put_str(&f.pk, "sys.ping");
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    req_accepts(&f, &req);
    assert_int_equal(req.op, PROTO_OP_SYS_PING);
    assert_string_equal(req.rid, "");
    proto_request_cleanup(&req);
    frame_free(&f);
}

static void test_codec_request_rejects_bad_body(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    for (int kind = 0; kind < 6; kind++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 3);
        put_v_op(&f.pk, "sys.ping");
        put_str(&f.pk, "body");
        switch (kind) {
        case 0:
            msgpack_pack_array(&f.pk, 0);
            break;
        case 1:
            msgpack_pack_array(&f.pk, 1);
            put_str(&f.pk, "zq_item");
            break;
        case 2:
            put_str(&f.pk, "zq_body");
            break;
        case 3:
            msgpack_pack_nil(&f.pk);
            break;
        case 4:
            msgpack_pack_int(&f.pk, 0);
            break;
        default:
            put_bin(&f.pk, "\x80", 1);
            break;
        }
        req_rejects_frame(&f, "zq_");
    }

    /* sys.ping and sys.health take no fields: any field is unknown. */
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        for (int kind = 0; kind < 4; kind++) {
            frame_reset(&f);
            msgpack_pack_map(&f.pk, 3);
            put_v_op(&f.pk, proto_op_name((proto_op_t)op));
            put_str(&f.pk, "body");
            msgpack_pack_map(&f.pk, 1);
            switch (kind) {
            case 0:
                proto_pack_kv_str(&f.pk, "zq_field", "zq_value");
                break;
            case 1:
                proto_pack_kv_int(&f.pk, "zq_n", 1);
                break;
            case 2:
                msgpack_pack_int(&f.pk, 1);
                msgpack_pack_int(&f.pk, 1);
                break;
            default:
                put_strn(&f.pk, "", 0);
                msgpack_pack_nil(&f.pk);
                break;
            }
            req_rejects_frame(&f, "zq_");
        }
    }
    frame_free(&f);
}

static void test_codec_request_rejects_malformed(void **state)
{
    (void)state;
    req_rejects("", 0, NULL);
    req_rejects(NULL, 0, NULL);
    req_rejects("\xc1", 1, NULL);
    req_rejects("\x84\xa1v\x01", 4, NULL);
    req_rejects("\xd4\x00\x00", 3, NULL);

    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "rid-7", NULL, 0), 0);
    /* Every prefix, and a trailing byte. */
    for (size_t n = 1; n < f.sb.size; n++)
        req_rejects(f.sb.data, n, NULL);
    msgpack_pack_nil(&f.pk);
    req_rejects_frame(&f, "rid-7");

    /* A frame over the configured size. */
    frame_reset(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_PING, "rid-7", NULL, 0), 0);
    proto_limits_t lim = lim_default();
    lim.max_msg_bytes = f.sb.size - 1;
    proto_request_t req;
    char why[64] = "";
    proto_request_init(&req);
    assert_int_equal(proto_request_decode(f.sb.data, f.sb.size, &lim, &req, why, sizeof why),
                     PROTO_ERR_BAD_REQUEST);
    assert_true(why[0] != '\0');
    proto_request_cleanup(&req);
    lim.max_msg_bytes = f.sb.size;
    proto_request_init(&req);
    assert_int_equal(proto_request_decode(f.sb.data, f.sb.size, &lim, &req, why, sizeof why),
                     PROTO_OK);
    proto_request_cleanup(&req);
    frame_free(&f);
}

/* The reason is cut to the caller's buffer, and a missing buffer is fine. */
static void test_codec_request_why_buffer(void **state)
{
    (void)state;
    proto_limits_t lim = lim_default();
    proto_request_t req;
    char why[8];
    memset(why, 'X', sizeof why);
    proto_request_init(&req);
    assert_int_equal(proto_request_decode("\x90", 1, &lim, &req, why, 4), PROTO_ERR_BAD_REQUEST);
    assert_true(strlen(why) <= 3);
    assert_int_equal(why[4], 'X');
    proto_request_cleanup(&req);

    memset(why, 'X', sizeof why);
    proto_request_init(&req);
    assert_int_equal(proto_request_decode("\x90", 1, &lim, &req, why, 0), PROTO_ERR_BAD_REQUEST);
    assert_int_equal(why[0], 'X');
    proto_request_cleanup(&req);

    proto_request_init(&req);
    assert_int_equal(proto_request_decode("\x90", 1, &lim, &req, NULL, 0), PROTO_ERR_BAD_REQUEST);
    proto_request_cleanup(&req);
}

/* Cleanup after a failed decode is safe, and the request can be reused. */
static void test_codec_request_cleanup_after_failure(void **state)
{
    (void)state;
    proto_limits_t lim = lim_default();
    frame_t f;
    frame_init(&f);
    /* Fails late (in the body), after the tree was built. */
    msgpack_pack_map(&f.pk, 4);
    put_v_op(&f.pk, "sys.ping");
    put_str(&f.pk, "rid");
    put_str(&f.pk, "rid-1");
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 1);
    proto_pack_kv_str(&f.pk, "zq", "x");

    proto_request_t req;
    char why[64];
    proto_request_init(&req);
    assert_int_equal(proto_request_decode(f.sb.data, f.sb.size, &lim, &req, why, sizeof why),
                     PROTO_ERR_BAD_REQUEST);
    assert_int_equal(req.op, PROTO_OP__COUNT);
    assert_int_equal(req.body->via.map.size, 0);
    proto_request_cleanup(&req);
    proto_request_cleanup(&req);

    /* Fails early (malformed). */
    proto_request_init(&req);
    assert_int_equal(proto_request_decode("\xc1", 1, &lim, &req, why, sizeof why),
                     PROTO_ERR_BAD_REQUEST);
    proto_request_cleanup(&req);
    proto_request_cleanup(&req);

    /* The same struct then decodes a good frame. */
    frame_reset(&f);
    assert_int_equal(proto_request_encode(&f.sb, PROTO_OP_SYS_HEALTH, "rid-2", NULL, 0), 0);
    assert_int_equal(proto_request_decode(f.sb.data, f.sb.size, &lim, &req, why, sizeof why),
                     PROTO_OK);
    assert_int_equal(req.op, PROTO_OP_SYS_HEALTH);
    assert_string_equal(req.rid, "rid-2");
    proto_request_cleanup(&req);
    frame_free(&f);
}

/* ---- reply decoding ---- */

static void test_codec_reply_rejects_envelope(void **state)
{
    (void)state;
    rep_rejects("", 0);
    rep_rejects("\xc1", 1);
    rep_rejects("\x90", 1);
    rep_rejects("\xc0", 1);
    rep_rejects("\xc3", 1);
    rep_rejects("\xa2ok", 3);
    rep_rejects("\x80", 1);

    frame_t f;
    frame_init(&f);
    /* Missing ok. */
    msgpack_pack_map(&f.pk, 2);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 0);
    rep_rejects_frame(&f);

    /* ok not a bool. */
    for (int kind = 0; kind < 4; kind++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 2);
        put_str(&f.pk, "v");
        msgpack_pack_int(&f.pk, 1);
        put_str(&f.pk, "ok");
        switch (kind) {
        case 0:
            msgpack_pack_int(&f.pk, 1);
            break;
        case 1:
            put_str(&f.pk, "true");
            break;
        case 2:
            msgpack_pack_nil(&f.pk);
            break;
        default:
            msgpack_pack_int(&f.pk, 0);
            break;
        }
        rep_rejects_frame(&f);
    }

    /* v missing or not 1. */
    for (int kind = 0; kind < 6; kind++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, kind == 0 ? 1 : 2);
        put_str(&f.pk, "ok");
        msgpack_pack_true(&f.pk);
        if (kind > 0) {
            put_str(&f.pk, "v");
            switch (kind) {
            case 1:
                msgpack_pack_int(&f.pk, 2);
                break;
            case 2:
                msgpack_pack_int(&f.pk, 0);
                break;
            case 3:
                put_str(&f.pk, "1");
                break;
            case 4: /* float64 with the bits of integer 1 */
                msgpack_sbuffer_write(&f.sb, "\xcb\0\0\0\0\0\0\0\x01", 9);
                break;
            default:
                msgpack_pack_int(&f.pk, -1);
                break;
            }
        }
        rep_rejects_frame(&f);
    }

    /* Unknown key, duplicate key, int key. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "ok");
    msgpack_pack_true(&f.pk);
    put_str(&f.pk, "extra");
    msgpack_pack_nil(&f.pk);
    rep_rejects_frame(&f);
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "ok");
    msgpack_pack_true(&f.pk);
    put_str(&f.pk, "ok");
    msgpack_pack_true(&f.pk);
    rep_rejects_frame(&f);
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "ok");
    msgpack_pack_true(&f.pk);
    msgpack_pack_int(&f.pk, 1);
    msgpack_pack_int(&f.pk, 1);
    rep_rejects_frame(&f);

    /* Trailing byte after a good reply. */
    frame_reset(&f);
    assert_int_equal(proto_reply_encode_ok(&f.sb, NULL, 0), 0);
    msgpack_pack_nil(&f.pk);
    rep_rejects_frame(&f);
    frame_free(&f);
}

static void test_codec_reply_rejects_ok_mismatch(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    /* ok=true with err. */
    msgpack_pack_map(&f.pk, 3);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "ok");
    msgpack_pack_true(&f.pk);
    put_str(&f.pk, "err");
    msgpack_pack_map(&f.pk, 1);
    proto_pack_kv_str(&f.pk, "code", "not_found");
    rep_rejects_frame(&f);

    /* ok=true with a body that is not a map. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "ok");
    msgpack_pack_true(&f.pk);
    put_str(&f.pk, "body");
    msgpack_pack_array(&f.pk, 0);
    rep_rejects_frame(&f);

    /* ok=false without err. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 2);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "ok");
    msgpack_pack_false(&f.pk);
    rep_rejects_frame(&f);

    /* ok=false with a body as well. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 4);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "ok");
    msgpack_pack_false(&f.pk);
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 0);
    put_str(&f.pk, "err");
    msgpack_pack_map(&f.pk, 1);
    proto_pack_kv_str(&f.pk, "code", "not_found");
    rep_rejects_frame(&f);

    /* err not a map. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_str(&f.pk, "v");
    msgpack_pack_int(&f.pk, 1);
    put_str(&f.pk, "ok");
    msgpack_pack_false(&f.pk);
    put_str(&f.pk, "err");
    put_str(&f.pk, "not_found");
    rep_rejects_frame(&f);
    frame_free(&f);
}

static void test_codec_reply_rejects_bad_err(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    /* Empty err, err without code. */
    put_err_reply(&f.pk, 0);
    rep_rejects_frame(&f);
    frame_reset(&f);
    put_err_reply(&f.pk, 1);
    proto_pack_kv_str(&f.pk, "msg", "no code");
    rep_rejects_frame(&f);

    /* code not a string. */
    for (int kind = 0; kind < 4; kind++) {
        frame_reset(&f);
        put_err_reply(&f.pk, 1);
        put_str(&f.pk, "code");
        switch (kind) {
        case 0:
            msgpack_pack_int(&f.pk, 404);
            break;
        case 1:
            put_bin(&f.pk, "not_found", 9);
            break;
        case 2:
            msgpack_pack_nil(&f.pk);
            break;
        default:
            msgpack_pack_map(&f.pk, 0);
            break;
        }
        rep_rejects_frame(&f);
    }

    /* msg not a string. */
    for (int kind = 0; kind < 3; kind++) {
        frame_reset(&f);
        put_err_reply(&f.pk, 2);
        proto_pack_kv_str(&f.pk, "code", "not_found");
        put_str(&f.pk, "msg");
        switch (kind) {
        case 0:
            msgpack_pack_int(&f.pk, 1);
            break;
        case 1:
            msgpack_pack_nil(&f.pk);
            break;
        default:
            put_bin(&f.pk, "m", 1);
            break;
        }
        rep_rejects_frame(&f);
    }

    /* retry_after not an int64. */
    for (int kind = 0; kind < 5; kind++) {
        frame_reset(&f);
        put_err_reply(&f.pk, 2);
        proto_pack_kv_str(&f.pk, "code", "rate_limited");
        put_str(&f.pk, "retry_after");
        switch (kind) {
        case 0:
            put_str(&f.pk, "900");
            break;
        case 1:
            msgpack_pack_double(&f.pk, 900.0);
            break;
        case 2:
            msgpack_pack_true(&f.pk);
            break;
        case 3:
            msgpack_pack_nil(&f.pk);
            break;
        default:
            msgpack_pack_uint64(&f.pk, (uint64_t)INT64_MAX + 1);
            break;
        }
        rep_rejects_frame(&f);
    }

    /* Unknown and duplicate keys inside err. */
    frame_reset(&f);
    put_err_reply(&f.pk, 2);
    proto_pack_kv_str(&f.pk, "code", "not_found");
    proto_pack_kv_str(&f.pk, "detail", "x");
    rep_rejects_frame(&f);
    frame_reset(&f);
    put_err_reply(&f.pk, 2);
    proto_pack_kv_str(&f.pk, "code", "not_found");
    proto_pack_kv_str(&f.pk, "code", "conflict");
    rep_rejects_frame(&f);
    frame_free(&f);
}

static void test_codec_reply_unknown_code_is_internal(void **state)
{
    (void)state;
    static const char *const codes[] = {"no_such_code", "", "NOT_FOUND", "ok", "not_found "};
    frame_t f;
    frame_init(&f);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        frame_reset(&f);
        put_err_reply(&f.pk, 1);
        proto_pack_kv_str(&f.pk, "code", codes[i]);
        proto_reply_t rep;
        rep_accepts(&f, &rep);
        assert_false(rep.ok);
        assert_int_equal(rep.err, PROTO_ERR_INTERNAL_ERROR);
        assert_null(rep.body);
        proto_reply_cleanup(&rep);
    }
    /* An embedded NUL does not make a known code. */
    frame_reset(&f);
    put_err_reply(&f.pk, 1);
    put_str(&f.pk, "code");
    put_strn(&f.pk, "not_found\0", 10);
    proto_reply_t rep;
    rep_accepts(&f, &rep);
    assert_int_equal(rep.err, PROTO_ERR_INTERNAL_ERROR);
    proto_reply_cleanup(&rep);
    frame_free(&f);
}

static void test_codec_reply_msg_truncated_and_nul_dropped(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    char msg[1000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('A' + i % 26);
    put_err_reply(&f.pk, 2);
    proto_pack_kv_str(&f.pk, "code", "conflict");
    put_str(&f.pk, "msg");
    put_strn(&f.pk, msg, sizeof msg);
    proto_reply_t rep;
    rep_accepts(&f, &rep);
    assert_int_equal(rep.err, PROTO_ERR_CONFLICT);
    assert_int_equal(strlen(rep.errmsg), PROTO_ERRMSG_MAX - 1);
    assert_memory_equal(rep.errmsg, msg, PROTO_ERRMSG_MAX - 1);
    proto_reply_cleanup(&rep);

    /* Exactly PROTO_ERRMSG_MAX - 1 bytes fit. */
    frame_reset(&f);
    put_err_reply(&f.pk, 2);
    proto_pack_kv_str(&f.pk, "code", "conflict");
    put_str(&f.pk, "msg");
    put_strn(&f.pk, msg, PROTO_ERRMSG_MAX - 1);
    rep_accepts(&f, &rep);
    assert_int_equal(strlen(rep.errmsg), PROTO_ERRMSG_MAX - 1);
    proto_reply_cleanup(&rep);

    /* NULs are dropped, the rest is kept in order. */
    frame_reset(&f);
    put_err_reply(&f.pk, 2);
    proto_pack_kv_str(&f.pk, "code", "forbidden");
    put_str(&f.pk, "msg");
    put_strn(&f.pk, "\0a\0\0b\0c\0", 8);
    rep_accepts(&f, &rep);
    assert_int_equal(rep.err, PROTO_ERR_FORBIDDEN);
    assert_string_equal(rep.errmsg, "abc");
    proto_reply_cleanup(&rep);

    /* NULs do not count against the limit. */
    char withnul[2 * PROTO_ERRMSG_MAX];
    for (size_t i = 0; i < sizeof withnul; i++)
        withnul[i] = (i % 2) ? 'n' : '\0';
    frame_reset(&f);
    put_err_reply(&f.pk, 2);
    proto_pack_kv_str(&f.pk, "code", "forbidden");
    put_str(&f.pk, "msg");
    put_strn(&f.pk, withnul, sizeof withnul);
    rep_accepts(&f, &rep);
    assert_int_equal(strlen(rep.errmsg), PROTO_ERRMSG_MAX - 1);
    proto_reply_cleanup(&rep);
    frame_free(&f);
}

static void test_codec_reply_retry_after_forms(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    const int64_t vals[] = {0, 1, 127, 128, 65535, 65536, 4294967296LL, INT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        frame_reset(&f);
        put_err_reply(&f.pk, 2);
        proto_pack_kv_str(&f.pk, "code", "rate_limited");
        put_str(&f.pk, "retry_after");
        msgpack_pack_uint64(&f.pk, (uint64_t)vals[i]);
        proto_reply_t rep;
        rep_accepts(&f, &rep);
        assert_int_equal(rep.err, PROTO_ERR_RATE_LIMITED);
        assert_true(rep.retry_after == (long)vals[i]);
        proto_reply_cleanup(&rep);
    }
    frame_free(&f);
}

/* ---- body readers ---- */

/* {"name":"alice","empty":"","nul":"a\0b","n":-42,"big":2^63,"max":INT64_MAX,
 *  "min":INT64_MIN,"u8":200,"t":true,"f":false,"nil":nil,"bin":b"x","real":1.5,
 *  "arr":[],"map":{},7:"int key"} */
static const msgpack_object *reader_fixture(frame_t *f, msgpack_unpacked *u)
{
    frame_init(f);
    msgpack_pack_map(&f->pk, 16);
    proto_pack_kv_str(&f->pk, "name", "alice");
    proto_pack_kv_str(&f->pk, "empty", "");
    put_str(&f->pk, "nul");
    put_strn(&f->pk, "a\0b", 3);
    proto_pack_kv_int(&f->pk, "n", -42);
    put_str(&f->pk, "big");
    msgpack_pack_uint64(&f->pk, (uint64_t)INT64_MAX + 1);
    proto_pack_kv_int(&f->pk, "max", INT64_MAX);
    proto_pack_kv_int(&f->pk, "min", INT64_MIN);
    put_str(&f->pk, "u8");
    msgpack_pack_fix_uint8(&f->pk, 200);
    proto_pack_kv_bool(&f->pk, "t", true);
    proto_pack_kv_bool(&f->pk, "f", false);
    put_str(&f->pk, "nil");
    msgpack_pack_nil(&f->pk);
    put_str(&f->pk, "bin");
    put_bin(&f->pk, "x", 1);
    put_str(&f->pk, "real");
    msgpack_pack_double(&f->pk, 1.5);
    put_str(&f->pk, "arr");
    msgpack_pack_array(&f->pk, 0);
    put_str(&f->pk, "map");
    msgpack_pack_map(&f->pk, 0);
    msgpack_pack_int(&f->pk, 7);
    put_str(&f->pk, "int key");
    return unpack(f, u);
}

static void test_codec_map_get(void **state)
{
    (void)state;
    frame_t f;
    msgpack_unpacked u;
    const msgpack_object *m = reader_fixture(&f, &u);

    const msgpack_object *v = proto_map_get(m, "name");
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_STR);
    assert_int_equal(v->via.str.size, 5);
    assert_memory_equal(v->via.str.ptr, "alice", 5);
    v = proto_map_get(m, "map");
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_MAP);
    v = proto_map_get(m, "nil");
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_NIL);

    /* Exact key match only. */
    assert_null(proto_map_get(m, "nam"));
    assert_null(proto_map_get(m, "names"));
    assert_null(proto_map_get(m, "Name"));
    assert_null(proto_map_get(m, ""));
    assert_null(proto_map_get(m, "7")); /* the int key is not a string key */
    assert_null(proto_map_get(m, "missing"));

    /* Not a map, or no map/key at all. */
    assert_null(proto_map_get(proto_map_get(m, "arr"), "name"));
    assert_null(proto_map_get(proto_map_get(m, "name"), "name"));
    assert_null(proto_map_get(NULL, "name"));
    assert_null(proto_map_get(m, NULL));
    /* Nested lookups on an empty map. */
    assert_null(proto_map_get(proto_map_get(m, "map"), "name"));
    msgpack_unpacked_destroy(&u);
    frame_free(&f);
}

static void test_codec_get_str(void **state)
{
    (void)state;
    frame_t f;
    msgpack_unpacked u;
    const msgpack_object *m = reader_fixture(&f, &u);
    char out[16];

    assert_int_equal(proto_get_str(m, "name", out, sizeof out), 0);
    assert_string_equal(out, "alice");
    /* Exact fit: 5 bytes + NUL. */
    char six[6];
    memset(six, 'X', sizeof six);
    assert_int_equal(proto_get_str(m, "name", six, sizeof six), 0);
    assert_string_equal(six, "alice");
    /* One short. */
    char five[5];
    assert_int_equal(proto_get_str(m, "name", five, sizeof five), -1);
    assert_int_equal(proto_get_str(m, "name", out, 0), -1);
    assert_int_equal(proto_get_str(m, "name", NULL, 16), -1);
    /* Empty string needs one byte. */
    char one[1] = {'X'};
    assert_int_equal(proto_get_str(m, "empty", one, sizeof one), 0);
    assert_int_equal(one[0], '\0');
    /* Embedded NUL. */
    assert_int_equal(proto_get_str(m, "nul", out, sizeof out), -1);
    /* An empty str8 reads like an empty fixstr. */
    frame_t g;
    frame_init(&g);
    msgpack_sbuffer_write(&g.sb,
                          "\x82\xa1"
                          "a\xd9\x00\xa1"
                          "b\xa0",
                          8);
    msgpack_unpacked gu;
    const msgpack_object *gm = unpack(&g, &gu);
    memset(out, 'X', sizeof out);
    assert_int_equal(proto_get_str(gm, "a", out, sizeof out), 0);
    assert_string_equal(out, "");
    memset(out, 'X', sizeof out);
    assert_int_equal(proto_get_str(gm, "b", out, sizeof out), 0);
    assert_string_equal(out, "");
    msgpack_unpacked_destroy(&gu);
    frame_free(&g);
    /* Wrong types and missing keys. */
    static const char *const wrong[] = {"n", "t", "nil", "bin", "real", "arr", "map", "missing"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        assert_int_equal(proto_get_str(m, wrong[i], out, sizeof out), -1);
    assert_int_equal(proto_get_str(NULL, "name", out, sizeof out), -1);
    assert_int_equal(proto_get_str(proto_map_get(m, "name"), "name", out, sizeof out), -1);
    msgpack_unpacked_destroy(&u);
    frame_free(&f);
}

static void test_codec_get_int(void **state)
{
    (void)state;
    frame_t f;
    msgpack_unpacked u;
    const msgpack_object *m = reader_fixture(&f, &u);
    int64_t v = 0;

    assert_int_equal(proto_get_int(m, "n", &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(proto_get_int(m, "max", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(proto_get_int(m, "min", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(proto_get_int(m, "u8", &v), 0);
    assert_int_equal(v, 200);
    /* 2^63 has no int64 form. */
    v = 5;
    assert_int_equal(proto_get_int(m, "big", &v), -1);
    static const char *const wrong[] = {"name", "t", "nil", "bin", "real", "arr", "map", "missing"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        assert_int_equal(proto_get_int(m, wrong[i], &v), -1);
    assert_int_equal(proto_get_int(m, "n", NULL), -1);
    assert_int_equal(proto_get_int(NULL, "n", &v), -1);

    /* UINT64_MAX also has no int64 form. */
    frame_t g;
    frame_init(&g);
    msgpack_pack_map(&g.pk, 1);
    put_str(&g.pk, "u");
    msgpack_pack_uint64(&g.pk, UINT64_MAX);
    msgpack_unpacked gu;
    assert_int_equal(proto_get_int(unpack(&g, &gu), "u", &v), -1);
    msgpack_unpacked_destroy(&gu);
    frame_free(&g);
    msgpack_unpacked_destroy(&u);
    frame_free(&f);
}

static void test_codec_get_bool(void **state)
{
    (void)state;
    frame_t f;
    msgpack_unpacked u;
    const msgpack_object *m = reader_fixture(&f, &u);
    bool b = false;
    assert_int_equal(proto_get_bool(m, "t", &b), 0);
    assert_true(b);
    assert_int_equal(proto_get_bool(m, "f", &b), 0);
    assert_false(b);
    static const char *const wrong[] = {"name", "n", "u8", "nil", "empty", "missing"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        assert_int_equal(proto_get_bool(m, wrong[i], &b), -1);
    assert_int_equal(proto_get_bool(m, "t", NULL), -1);
    assert_int_equal(proto_get_bool(NULL, "t", &b), -1);
    msgpack_unpacked_destroy(&u);
    frame_free(&f);
}

/* ---- pack helpers ---- */

static void test_codec_pack_cstr(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    proto_pack_cstr(&f.pk, NULL);
    assert_int_equal(f.sb.size, 1);
    assert_int_equal((unsigned char)f.sb.data[0], 0xc0);

    frame_reset(&f);
    proto_pack_cstr(&f.pk, "");
    assert_int_equal(f.sb.size, 1);
    assert_int_equal((unsigned char)f.sb.data[0], 0xa0);

    frame_reset(&f);
    proto_pack_cstr(&f.pk, "abc");
    assert_int_equal(f.sb.size, 4);
    assert_memory_equal(f.sb.data,
                        "\xa3"
                        "abc",
                        4);

    /* Longer strings use the wider formats and stay strings. */
    char s[300];
    memset(s, 'y', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    frame_reset(&f);
    proto_pack_cstr(&f.pk, s);
    msgpack_unpacked u;
    const msgpack_object *o = unpack(&f, &u);
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_int_equal(o->via.str.size, sizeof s - 1);
    assert_memory_equal(o->via.str.ptr, s, sizeof s - 1);
    msgpack_unpacked_destroy(&u);
    frame_free(&f);
}

static void test_codec_pack_kv_helpers(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    msgpack_pack_map(&f.pk, 9);
    proto_pack_kv_str(&f.pk, "s", "value");
    proto_pack_kv_str(&f.pk, "null", NULL);
    proto_pack_kv_str(&f.pk, "e", "");
    proto_pack_kv_int(&f.pk, "zero", 0);
    proto_pack_kv_int(&f.pk, "neg", -1);
    proto_pack_kv_int(&f.pk, "max", INT64_MAX);
    proto_pack_kv_int(&f.pk, "min", INT64_MIN);
    proto_pack_kv_bool(&f.pk, "yes", true);
    proto_pack_kv_bool(&f.pk, "no", false);
    assert_int_equal(bounds(f.sb.data, f.sb.size), 0);

    msgpack_unpacked u;
    const msgpack_object *m = unpack(&f, &u);
    assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(m->via.map.size, 9);
    char s[16];
    int64_t i;
    bool b;
    assert_int_equal(proto_get_str(m, "s", s, sizeof s), 0);
    assert_string_equal(s, "value");
    assert_int_equal(proto_map_get(m, "null")->type, MSGPACK_OBJECT_NIL);
    assert_int_equal(proto_get_str(m, "null", s, sizeof s), -1);
    assert_int_equal(proto_get_str(m, "e", s, sizeof s), 0);
    assert_string_equal(s, "");
    assert_int_equal(proto_get_int(m, "zero", &i), 0);
    assert_int_equal(i, 0);
    assert_int_equal(proto_get_int(m, "neg", &i), 0);
    assert_int_equal(i, -1);
    assert_int_equal(proto_get_int(m, "max", &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(proto_get_int(m, "min", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(proto_get_bool(m, "yes", &b), 0);
    assert_true(b);
    assert_int_equal(proto_get_bool(m, "no", &b), 0);
    assert_false(b);
    /* Keys are strings. */
    for (uint32_t k = 0; k < m->via.map.size; k++)
        assert_int_equal(m->via.map.ptr[k].key.type, MSGPACK_OBJECT_STR);
    msgpack_unpacked_destroy(&u);

    /* A helper-built body round-trips through an ok reply. */
    frame_t r;
    frame_init(&r);
    assert_int_equal(proto_reply_encode_ok(&r.sb, f.sb.data, f.sb.size), 0);
    proto_reply_t rep;
    rep_accepts(&r, &rep);
    assert_int_equal(proto_get_int(rep.body, "min", &i), 0);
    assert_true(i == INT64_MIN);
    proto_reply_cleanup(&rep);
    frame_free(&r);
    frame_free(&f);
}

/* ---- reading bodies through the catalogue ---- */

/* A client_ip of `n` bytes (9 or more) into buf: an address of 9, else
 * the internal form "internal:aaa...". */
static const char *client_ip_of(char *buf, size_t n)
{
    if (n == 9)
        return strcpy(buf, "10.0.0.10");
    memset(buf, 'a', n);
    memcpy(buf, PROTO_CLIENT_INTERNAL, strlen(PROTO_CLIENT_INTERNAL));
    buf[n] = '\0';
    return buf;
}

/* An auth.refresh request: refresh_token of `tok` bytes, client_ip of `ip`
 * bytes (-1: absent), user_agent absent. */
static void put_refresh(frame_t *f, size_t tok, int ip)
{
    char buf[300], addr[300];
    memset(buf, 'a', sizeof buf);
    msgpack_pack_map(&f->pk, 3);
    put_v_op(&f->pk, "auth.refresh");
    put_str(&f->pk, "body");
    msgpack_pack_map(&f->pk, ip >= 0 ? 2 : 1);
    put_str(&f->pk, "refresh_token");
    put_strn(&f->pk, buf, tok);
    if (ip >= 0) {
        put_str(&f->pk, "client_ip");
        put_str(&f->pk, client_ip_of(addr, (size_t)ip));
    }
}

/* Decoding must refuse the frame naming `field` (NULL: naming none). */
static void req_rejects_naming(const frame_t *f, const char *field)
{
    proto_limits_t lim = lim_default();
    proto_request_t req;
    char why[128] = "";
    proto_request_init(&req);
    assert_int_equal(proto_request_decode(f->sb.data, f->sb.size, &lim, &req, why, sizeof why),
                     PROTO_ERR_BAD_REQUEST);
    if (field) {
        assert_non_null(req.bad_field);
        assert_string_equal(req.bad_field, field);
        assert_non_null(strstr(why, field));
    } else {
        assert_null(req.bad_field);
    }
    proto_request_cleanup(&req);
    assert_null(req.bad_field);
}

static void test_codec_request_names_the_bad_field(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    put_refresh(&f, 43, PROTO_B_IP + 1); /* over the bound */
    req_rejects_naming(&f, "client_ip");
    frame_reset(&f);
    put_refresh(&f, PROTO_B_TOKEN + 1, 9);
    req_rejects_naming(&f, "refresh_token");
    frame_reset(&f);
    put_refresh(&f, 43, -1); /* a required field missing */
    req_rejects_naming(&f, "client_ip");
    frame_reset(&f); /* a wrong type */
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "auth.verify");
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "token");
    msgpack_pack_int(&f.pk, 7);
    req_rejects_naming(&f, "token");
    frame_reset(&f); /* an unknown field is no field of the op */
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "auth.verify");
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "zq_unknown");
    put_str(&f.pk, "x");
    req_rejects_naming(&f, NULL);
    frame_free(&f);
}

static void test_codec_body_strs_copies_within_the_bounds(void **state)
{
    (void)state;
    frame_t f;
    proto_request_t req;
    proto_fail_t fail = {.msg = ""};
    char tok[PROTO_STR_BUF(PROTO_B_TOKEN)], ip[PROTO_STR_BUF(PROTO_B_IP)];
    char ua[PROTO_STR_BUF(PROTO_B_UA)] = "junk";
    bool has_ua = true, has_ip = false;
    frame_init(&f);
    put_refresh(&f, PROTO_B_TOKEN, PROTO_B_IP); /* both exactly at their bound */
    req_accepts(&f, &req);
    const proto_str_arg_t args[] = {
        {"refresh_token", tok, sizeof tok, NULL},
        {"client_ip", ip, sizeof ip, &has_ip},
        {"user_agent", ua, sizeof ua, &has_ua},
    };
    assert_int_equal(proto_body_strs(&req, args, 3, &fail), PROTO_OK);
    assert_int_equal(strlen(tok), PROTO_B_TOKEN);
    assert_int_equal(strlen(ip), PROTO_B_IP);
    assert_true(has_ip);
    assert_string_equal(ua, ""); /* absent: empty, not what the buffer held */
    assert_false(has_ua);
    proto_request_cleanup(&req);
    frame_free(&f);
}

static void test_codec_body_strs_refuses_what_the_catalogue_does_not_bound(void **state)
{
    (void)state;
    frame_t f;
    proto_request_t req;
    char tok[PROTO_STR_BUF(PROTO_B_TOKEN)], small[PROTO_B_IP]; /* one byte short */
    bool flag = false;
    frame_init(&f);
    put_refresh(&f, 43, 9);
    req_accepts(&f, &req);
    const proto_str_arg_t short_buf[] = {
        {"refresh_token", tok, sizeof tok, NULL},
        {"client_ip", small, sizeof small, NULL},
    };
    const proto_str_arg_t foreign[] = {{"token", tok, sizeof tok, &flag}}; /* auth.verify's */
    const proto_str_arg_t unnamed[] = {{NULL, tok, sizeof tok, NULL}};
    const proto_str_arg_t *cases[] = {short_buf, foreign, unnamed};
    const size_t ncases[] = {2, 1, 1};
    for (size_t c = 0; c < 3; c++) {
        proto_fail_t fail = {.msg = ""};
        memset(tok, 'x', sizeof tok);
        assert_int_equal(proto_body_strs(&req, cases[c], ncases[c], &fail),
                         PROTO_ERR_INTERNAL_ERROR);
        assert_true(fail.msg[0] != '\0');
        assert_string_equal(fail.field, "");
        assert_string_equal(tok, ""); /* nothing half-copied is left behind */
    }
    proto_request_cleanup(&req);

    /* A boolean field is no string field. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_v_op(&f.pk, "auth.user_update");
    put_str(&f.pk, "body");
    msgpack_pack_map(&f.pk, 4);
    const char *const ids[] = {"actor_id", "actor_role", "id"};
    for (int i = 0; i < 3; i++) {
        put_str(&f.pk, ids[i]);
        put_str(&f.pk, "x");
    }
    put_str(&f.pk, "is_active");
    msgpack_pack_true(&f.pk);
    req_accepts(&f, &req);
    const proto_str_arg_t boolean[] = {{"is_active", tok, sizeof tok, NULL}};
    assert_int_equal(proto_body_strs(&req, boolean, 1, NULL), PROTO_ERR_INTERNAL_ERROR);
    proto_request_cleanup(&req);
    frame_free(&f);
}

/* A body that did not pass the decoder (built by hand): an over-long, a
 * wrongly typed or a missing required value is bad_request naming the
 * field, and no buffer keeps any of the input. */
static void test_codec_body_strs_bad_values_name_the_field(void **state)
{
    (void)state;
    char big[PROTO_B_IP + 2];
    memset(big, '1', sizeof big);
    for (int kind = 0; kind < 4; kind++) {
        frame_t f;
        msgpack_unpacked u;
        frame_init(&f);
        msgpack_pack_map(&f.pk, kind == 3 ? 1 : 2);
        put_str(&f.pk, "refresh_token");
        put_str(&f.pk, "secret-token");
        if (kind == 0) {
            put_str(&f.pk, "client_ip");
            put_strn(&f.pk, big, sizeof big - 1); /* 65 bytes */
        } else if (kind == 1) {
            put_str(&f.pk, "client_ip");
            msgpack_pack_int(&f.pk, 64);
        } else if (kind == 2) {
            put_str(&f.pk, "client_ip");
            put_strn(&f.pk,
                     "1\0"
                     "2",
                     3);
        }
        proto_request_t req;
        proto_request_init(&req);
        req.op = PROTO_OP_AUTH_REFRESH;
        req.body = unpack(&f, &u);
        char tok[PROTO_STR_BUF(PROTO_B_TOKEN)], ip[PROTO_STR_BUF(PROTO_B_IP)];
        memset(ip, 'x', sizeof ip);
        const proto_str_arg_t args[] = {
            {"refresh_token", tok, sizeof tok, NULL},
            {"client_ip", ip, sizeof ip, NULL},
        };
        proto_fail_t fail = {.msg = ""};
        assert_int_equal(proto_body_strs(&req, args, 2, &fail), PROTO_ERR_BAD_REQUEST);
        assert_string_equal(fail.field, "client_ip");
        assert_non_null(strstr(fail.msg, "client_ip"));
        assert_string_equal(tok, "");
        assert_string_equal(ip, "");
        msgpack_unpacked_destroy(&u);
        frame_free(&f);
    }
}

/* ---- the typed bounds of the catalogue ---- */

/* Starts a request of `op` whose body has `n` entries (the caller packs them). */
static void put_req(frame_t *f, const char *op, uint32_t n)
{
    frame_reset(f);
    msgpack_pack_map(&f->pk, 3);
    put_v_op(&f->pk, op);
    put_str(&f->pk, "body");
    msgpack_pack_map(&f->pk, n);
}

/* An auth.authorize request whose client_ip is `ip` (n bytes). */
static void put_authorize_ip(frame_t *f, const char *ip, size_t n)
{
    put_req(f, "auth.authorize", 1);
    put_str(&f->pk, "client_ip");
    put_strn(&f->pk, ip, n);
}

static void test_codec_client_ip_is_an_address_or_internal(void **state)
{
    (void)state;
    static const char *const good[] = {
        "192.0.2.7",
        "0.0.0.0",
        "255.255.255.255",
        "::1",
        "2001:db8::1",
        "2001:DB8:0:0:0:0:0:1",
        "::ffff:192.0.2.1",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
        "internal:billing",
        "internal:a",
        "internal:Batch_job-2.eu",
        "internal:1234567890123456789012345678901234567890123456789012345", /* 55 */
    };
    static const char *const bad[] = {
        "",
        "unknown",
        "localhost",
        "example.com",
        "01.2.3.4",
        "1.2.3",
        "256.1.1.1",
        " 192.0.2.7",
        "192.0.2.7 ",
        "192.0.2.7:80",
        "[::1]",
        "[::1]:80",
        "fe80::1%eth0",
        "::ffff:1.2.3.4.5",
        "internal:",
        "internal",
        "Internal:billing",
        "internal:bill ing",
        "internal:bill/ing",
        "internal:bill\xc3\xa9",
        "internal:12345678901234567890123456789012345678901234567890123456", /* 56 */
    };
    frame_t f;
    proto_request_t req;
    frame_init(&f);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        put_authorize_ip(&f, good[i], strlen(good[i]));
        req_accepts(&f, &req);
        proto_request_cleanup(&req);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put_authorize_ip(&f, bad[i], strlen(bad[i]));
        req_rejects_naming(&f, "client_ip");
    }
    put_authorize_ip(&f, "192.0.2.7\0x", 11); /* a NUL inside */
    req_rejects_naming(&f, "client_ip");
    /* The sessions storesvc records carry one too (nil: none). */
    put_req(&f, "store.token_rotate", 5);
    char hash[PROTO_B_DIGEST] = {0};
    put_str(&f.pk, "token_hash");
    put_bin(&f.pk, hash, sizeof hash);
    put_str(&f.pk, "new_hash");
    put_bin(&f.pk, hash, sizeof hash);
    put_str(&f.pk, "grace_s");
    msgpack_pack_int(&f.pk, 0);
    put_str(&f.pk, "expires_s");
    msgpack_pack_int(&f.pk, 60);
    put_str(&f.pk, "client_ip");
    put_str(&f.pk, "not-an-address");
    req_rejects_naming(&f, "client_ip");
    frame_free(&f);
}

static void test_codec_client_ip_is_copied_in_canonical_form(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"192.0.2.7", "192.0.2.7"},
        {"::FFFF:192.0.2.1", "192.0.2.1"}, /* IPv4-mapped: the IPv4 address */
        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
        {"0:0:0:0:0:0:0:1", "::1"},
        {"internal:Billing", "internal:Billing"}, /* a name is kept as it is */
    };
    frame_t f;
    proto_request_t req;
    frame_init(&f);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ip[PROTO_STR_BUF(PROTO_B_IP)];
        bool given = false;
        put_authorize_ip(&f, cases[i][0], strlen(cases[i][0]));
        req_accepts(&f, &req);
        const proto_str_arg_t args[] = {{"client_ip", ip, sizeof ip, &given}};
        assert_int_equal(proto_body_strs(&req, args, 1, NULL), PROTO_OK);
        assert_true(given);
        assert_string_equal(ip, cases[i][1]);
        proto_request_cleanup(&req);
    }
    frame_free(&f);
}

/* Go's and Java's msgpack libraries pack byte arrays as bin: a bin where
 * the catalogue has a string is refused naming the field, whatever it holds. */
static void test_codec_bin_where_a_string_is_expected_names_the_field(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    put_req(&f, "auth.verify", 1);
    put_str(&f.pk, "token");
    put_bin(&f.pk, "a.b.c", 5);
    req_rejects_naming(&f, "token");
    put_req(&f, "auth.authorize", 2);
    put_str(&f.pk, "client_ip");
    put_str(&f.pk, "192.0.2.7");
    put_str(&f.pk, "credential");
    put_bin(&f.pk, "a.b.c", 5);
    req_rejects_naming(&f, "credential");
    put_req(&f, "auth.authorize", 1);
    put_str(&f.pk, "client_ip");
    put_bin(&f.pk, "192.0.2.7", 9);
    req_rejects_naming(&f, "client_ip");
    /* And a str where bytes are expected. */
    put_req(&f, "store.reset_check", 1);
    put_str(&f.pk, "token_hash");
    put_strn(&f.pk, "0123456789abcdef0123456789abcdef", PROTO_B_DIGEST);
    req_rejects_naming(&f, "token_hash");
    frame_free(&f);
}

/* store.user_list with page and per_page. */
static void put_user_list(frame_t *f, int64_t page, int64_t per_page)
{
    put_req(f, "store.user_list", 2);
    put_str(&f->pk, "page");
    msgpack_pack_int64(&f->pk, page);
    put_str(&f->pk, "per_page");
    msgpack_pack_int64(&f->pk, per_page);
}

static void test_codec_integers_within_the_catalogue_range(void **state)
{
    (void)state;
    frame_t f;
    proto_request_t req;
    char why[128] = "";
    proto_limits_t lim = lim_default();
    frame_init(&f);
    put_user_list(&f, 1, PROTO_PER_PAGE_MAX);
    req_accepts(&f, &req);
    proto_request_cleanup(&req);
    put_user_list(&f, INT64_MAX, 1);
    req_accepts(&f, &req);
    proto_request_cleanup(&req);
    put_user_list(&f, 1, PROTO_PER_PAGE_MAX + 1);
    req_rejects_naming(&f, "per_page");
    put_user_list(&f, 1, 0);
    req_rejects_naming(&f, "per_page");
    put_user_list(&f, 0, 10);
    req_rejects_naming(&f, "page");
    put_user_list(&f, INT64_MIN, 10);
    req_rejects_naming(&f, "page");
    /* The reason says what is wrong. */
    put_user_list(&f, 1, -5);
    proto_request_init(&req);
    assert_int_equal(proto_request_decode(f.sb.data, f.sb.size, &lim, &req, why, sizeof why),
                     PROTO_ERR_BAD_REQUEST);
    assert_string_equal(why, "body field per_page: out of range");
    proto_request_cleanup(&req);
    /* A part number and a read length: the PROTO_FILE_* bounds. */
    put_req(&f, "store.file_part", 4);
    put_str(&f.pk, "id");
    put_str(&f.pk, "x");
    put_str(&f.pk, "actor_id");
    put_str(&f.pk, "x");
    put_str(&f.pk, "part_no");
    msgpack_pack_int(&f.pk, PROTO_FILE_PARTS_MAX + 1);
    put_str(&f.pk, "data");
    put_bin(&f.pk, "x", 1);
    req_rejects_naming(&f, "part_no");
    put_req(&f, "store.file_part", 4);
    put_str(&f.pk, "id");
    put_str(&f.pk, "x");
    put_str(&f.pk, "actor_id");
    put_str(&f.pk, "x");
    put_str(&f.pk, "part_no");
    msgpack_pack_int(&f.pk, PROTO_FILE_PARTS_MAX);
    put_str(&f.pk, "data");
    put_bin(&f.pk, "", 0); /* a part is never empty */
    req_rejects_naming(&f, "data");
    frame_free(&f);
}

/* store.reset_check with a token_hash of n bytes. */
static void put_reset_check(frame_t *f, size_t n)
{
    char hash[PROTO_B_DIGEST + 1] = {0};
    put_req(f, "store.reset_check", 1);
    put_str(&f->pk, "token_hash");
    put_bin(&f->pk, hash, n);
}

static void test_codec_digests_have_exactly_their_size(void **state)
{
    (void)state;
    frame_t f;
    proto_request_t req;
    frame_init(&f);
    put_reset_check(&f, PROTO_B_DIGEST);
    req_accepts(&f, &req);
    proto_request_cleanup(&req);
    put_reset_check(&f, PROTO_B_DIGEST - 1);
    req_rejects_naming(&f, "token_hash");
    put_reset_check(&f, PROTO_B_DIGEST + 1);
    req_rejects_naming(&f, "token_hash");
    put_reset_check(&f, 0);
    req_rejects_naming(&f, "token_hash");
    frame_free(&f);
}

/* store.user_update {id, <key>: nil or "<val>"}. */
static void put_user_update(frame_t *f, const char *key, const char *val)
{
    put_req(f, "store.user_update", 2);
    put_str(&f->pk, "id");
    put_str(&f->pk, "00000000-0000-4000-8000-000000000000");
    put_str(&f->pk, key);
    if (val)
        put_str(&f->pk, val);
    else
        msgpack_pack_nil(&f->pk);
}

static void test_codec_optional_strings_nil_and_empty(void **state)
{
    (void)state;
    frame_t f;
    proto_request_t req;
    frame_init(&f);
    put_user_update(&f, "full_name", NULL); /* nil clears a full name */
    req_accepts(&f, &req);
    assert_int_equal(proto_body_given(&req, "full_name"), PROTO_GIVEN_NIL);
    assert_int_equal(proto_body_given(&req, "email"), PROTO_GIVEN_ABSENT);
    assert_int_equal(proto_body_given(&req, "id"), PROTO_GIVEN_SET);
    assert_int_equal(proto_body_given(&req, "password"), -1); /* not a field of the op */
    assert_int_equal(proto_body_given(&req, NULL), -1);
    proto_request_cleanup(&req);
    put_user_update(&f, "email", NULL); /* an email cannot be cleared */
    req_rejects_naming(&f, "email");
    put_user_update(&f, "role", NULL);
    req_rejects_naming(&f, "role");
    put_user_update(&f, "email", "a@example.com");
    req_accepts(&f, &req);
    proto_request_cleanup(&req);
    /* A hash that is given is never empty. */
    put_req(&f, "store.user_set_password", 2);
    put_str(&f.pk, "id");
    put_str(&f.pk, "x");
    put_str(&f.pk, "password_hash");
    put_str(&f.pk, "");
    req_rejects_naming(&f, "password_hash");
    frame_free(&f);
}

static void test_codec_body_ints_bools_bins(void **state)
{
    (void)state;
    frame_t f;
    proto_request_t req;
    proto_fail_t fail = {.msg = ""};
    char hash[PROTO_B_DIGEST];
    memset(hash, 7, sizeof hash);
    frame_init(&f);
    put_req(&f, "store.user_set_password", 4);
    put_str(&f.pk, "id");
    put_str(&f.pk, "x");
    put_str(&f.pk, "password_hash");
    put_str(&f.pk, "h");
    put_str(&f.pk, "revoke_sessions");
    msgpack_pack_true(&f.pk);
    put_str(&f.pk, "at_ms");
    msgpack_pack_int64(&f.pk, 1234567);
    req_accepts(&f, &req);
    int64_t at = -1;
    bool has_at = false, revoke = false, has_revoke = false;
    const proto_int_arg_t ints[] = {{"at_ms", &at, &has_at}};
    const proto_bool_arg_t bools[] = {{"revoke_sessions", &revoke, &has_revoke}};
    assert_int_equal(proto_body_ints(&req, ints, 1, &fail), PROTO_OK);
    assert_int_equal(proto_body_bools(&req, bools, 1, &fail), PROTO_OK);
    assert_true(at == 1234567 && has_at);
    assert_true(revoke && has_revoke);
    proto_request_cleanup(&req);

    /* Absent: the default stays, present is false. */
    put_req(&f, "store.user_set_password", 2);
    put_str(&f.pk, "id");
    put_str(&f.pk, "x");
    put_str(&f.pk, "password_hash");
    put_str(&f.pk, "h");
    req_accepts(&f, &req);
    at = 42;
    revoke = true;
    assert_int_equal(proto_body_ints(&req, ints, 1, &fail), PROTO_OK);
    assert_int_equal(proto_body_bools(&req, bools, 1, &fail), PROTO_OK);
    assert_true(at == 42 && !has_at);
    assert_true(revoke && !has_revoke);
    /* Names of another op, or of another type, are the handler's bug. */
    int64_t i = 0;
    bool b = false;
    const char *data = NULL;
    size_t len = 0;
    const proto_int_arg_t wrong_int[] = {{"password_hash", &i, NULL}};
    const proto_bool_arg_t wrong_bool[] = {{"is_active", &b, NULL}};
    const proto_bin_arg_t wrong_bin[] = {{"token_hash", &data, &len}};
    assert_int_equal(proto_body_ints(&req, wrong_int, 1, &fail), PROTO_ERR_INTERNAL_ERROR);
    assert_non_null(strstr(fail.msg, "password_hash"));
    assert_int_equal(proto_body_bools(&req, wrong_bool, 1, &fail), PROTO_ERR_INTERNAL_ERROR);
    assert_int_equal(proto_body_bins(&req, wrong_bin, 1, &fail), PROTO_ERR_INTERNAL_ERROR);
    assert_string_equal(fail.field, "");
    proto_request_cleanup(&req);

    /* Bytes point into the request. */
    put_reset_check(&f, PROTO_B_DIGEST);
    req_accepts(&f, &req);
    const proto_bin_arg_t bins[] = {{"token_hash", &data, &len}};
    assert_int_equal(proto_body_bins(&req, bins, 1, &fail), PROTO_OK);
    assert_non_null(data);
    assert_int_equal(len, PROTO_B_DIGEST);
    assert_true(data >= f.sb.data && data + len <= f.sb.data + f.sb.size);
    proto_request_cleanup(&req);
    frame_free(&f);
}

/* A body that did not come through the decoder: the readers check the
 * catalogue's bounds themselves. */
static void test_codec_body_readers_check_bounds_of_hand_built_bodies(void **state)
{
    (void)state;
    frame_t f;
    msgpack_unpacked u;
    frame_init(&f);
    msgpack_pack_map(&f.pk, 2);
    put_str(&f.pk, "page");
    msgpack_pack_int(&f.pk, 0);
    put_str(&f.pk, "per_page");
    msgpack_pack_int(&f.pk, 10);
    proto_request_t req;
    proto_request_init(&req);
    req.op = PROTO_OP_STORE_USER_LIST;
    req.body = unpack(&f, &u);
    int64_t page = 0, per_page = 0;
    const proto_int_arg_t ints[] = {{"per_page", &per_page, NULL}, {"page", &page, NULL}};
    proto_fail_t fail = {.msg = ""};
    assert_int_equal(proto_body_ints(&req, ints, 2, &fail), PROTO_ERR_BAD_REQUEST);
    assert_string_equal(fail.field, "page");
    assert_non_null(strstr(fail.msg, "out of range"));
    msgpack_unpacked_destroy(&u);
    frame_free(&f);

    frame_init(&f); /* a required bin missing, and one of the wrong size */
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "token_hash");
    put_bin(&f.pk, "short", 5);
    proto_request_init(&req);
    req.op = PROTO_OP_STORE_RESET_CHECK;
    req.body = unpack(&f, &u);
    const char *data = NULL;
    size_t len = 0;
    const proto_bin_arg_t bins[] = {{"token_hash", &data, &len}};
    memset(&fail, 0, sizeof fail);
    assert_int_equal(proto_body_bins(&req, bins, 1, &fail), PROTO_ERR_BAD_REQUEST);
    assert_string_equal(fail.field, "token_hash");
    msgpack_unpacked_destroy(&u);
    frame_free(&f);

    frame_init(&f); /* a client_ip that is no address */
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "client_ip");
    put_str(&f.pk, "localhost");
    proto_request_init(&req);
    req.op = PROTO_OP_AUTH_AUTHORIZE;
    req.body = unpack(&f, &u);
    char ip[PROTO_STR_BUF(PROTO_B_IP)];
    const proto_str_arg_t strs[] = {{"client_ip", ip, sizeof ip, NULL}};
    memset(&fail, 0, sizeof fail);
    assert_int_equal(proto_body_strs(&req, strs, 1, &fail), PROTO_ERR_BAD_REQUEST);
    assert_string_equal(fail.field, "client_ip");
    assert_string_equal(ip, "");
    msgpack_unpacked_destroy(&u);
    frame_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_request_round_trip),
        cmocka_unit_test(test_codec_request_encode_variants),
        cmocka_unit_test(test_codec_request_encode_splices_body),
        cmocka_unit_test(test_codec_request_init_state),
        cmocka_unit_test(test_codec_reply_ok_with_body),
        cmocka_unit_test(test_codec_reply_head_and_reserved_bin),
        cmocka_unit_test(test_codec_reply_ok_without_body),
        cmocka_unit_test(test_codec_reply_error_with_msg_and_retry),
        cmocka_unit_test(test_codec_reply_error_without_msg),
        cmocka_unit_test(test_codec_reply_every_error_round_trips),
        cmocka_unit_test(test_codec_reply_encode_err_non_errors),
        cmocka_unit_test(test_codec_reply_encode_err_long_msg),
        cmocka_unit_test(test_codec_reply_set_error),
        cmocka_unit_test(test_codec_reply_cleanup_twice),
        cmocka_unit_test(test_codec_bounds_rejects_empty),
        cmocka_unit_test(test_codec_bounds_rejects_truncated),
        cmocka_unit_test(test_codec_bounds_rejects_trailing),
        cmocka_unit_test(test_codec_bounds_rejects_reserved_c1),
        cmocka_unit_test(test_codec_bounds_rejects_ext),
        cmocka_unit_test(test_codec_bounds_rejects_huge_declarations),
        cmocka_unit_test(test_codec_bounds_depth),
        cmocka_unit_test(test_codec_bounds_items),
        cmocka_unit_test(test_codec_bounds_strings),
        cmocka_unit_test(test_codec_bounds_frame_size),
        cmocka_unit_test(test_codec_bounds_accepts_all_formats),
        cmocka_unit_test(test_codec_bounds_accepts_packer_output),
        cmocka_unit_test(test_codec_bounds_accepts_envelopes),
        cmocka_unit_test(test_codec_request_rejects_non_map),
        cmocka_unit_test(test_codec_request_rejects_bad_keys),
        cmocka_unit_test(test_codec_request_rejects_bad_version),
        cmocka_unit_test(test_codec_request_rejects_bad_op),
        cmocka_unit_test(test_codec_request_rejects_bad_rid),
        cmocka_unit_test(test_codec_request_rid_edges),
        cmocka_unit_test(test_codec_request_rejects_bad_body),
        cmocka_unit_test(test_codec_request_rejects_malformed),
        cmocka_unit_test(test_codec_request_why_buffer),
        cmocka_unit_test(test_codec_request_cleanup_after_failure),
        cmocka_unit_test(test_codec_reply_rejects_envelope),
        cmocka_unit_test(test_codec_reply_rejects_ok_mismatch),
        cmocka_unit_test(test_codec_reply_rejects_bad_err),
        cmocka_unit_test(test_codec_reply_unknown_code_is_internal),
        cmocka_unit_test(test_codec_reply_msg_truncated_and_nul_dropped),
        cmocka_unit_test(test_codec_reply_retry_after_forms),
        cmocka_unit_test(test_codec_map_get),
        cmocka_unit_test(test_codec_get_str),
        cmocka_unit_test(test_codec_get_int),
        cmocka_unit_test(test_codec_get_bool),
        cmocka_unit_test(test_codec_pack_cstr),
        cmocka_unit_test(test_codec_pack_kv_helpers),
        cmocka_unit_test(test_codec_request_names_the_bad_field),
        cmocka_unit_test(test_codec_body_strs_copies_within_the_bounds),
        cmocka_unit_test(test_codec_body_strs_refuses_what_the_catalogue_does_not_bound),
        cmocka_unit_test(test_codec_body_strs_bad_values_name_the_field),
        cmocka_unit_test(test_codec_client_ip_is_an_address_or_internal),
        cmocka_unit_test(test_codec_client_ip_is_copied_in_canonical_form),
        cmocka_unit_test(test_codec_bin_where_a_string_is_expected_names_the_field),
        cmocka_unit_test(test_codec_integers_within_the_catalogue_range),
        cmocka_unit_test(test_codec_digests_have_exactly_their_size),
        cmocka_unit_test(test_codec_optional_strings_nil_and_empty),
        cmocka_unit_test(test_codec_body_ints_bools_bins),
        cmocka_unit_test(test_codec_body_readers_check_bounds_of_hand_built_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
