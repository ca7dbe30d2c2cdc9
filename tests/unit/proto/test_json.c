/*
 * Unit tests for proto_json: JSON values survive pack -> unpack -> to_json
 * with their types (integers stay integers, reals become float64), nesting
 * is bounded both ways, bin becomes base64 (RFC 4648 vectors), and msgpack
 * values with no JSON form (non-string keys, invalid UTF-8, integers above
 * INT64_MAX, ext, NaN) give NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_codec.h"
#include "proto_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_util.h"

/* ---- helpers ---- */

static const msgpack_object *unpack(const frame_t *f, msgpack_unpacked *u)
{
    size_t off = 0;
    msgpack_unpacked_init(u);
    assert_int_equal(msgpack_unpack_next(u, f->sb.data, f->sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, f->sb.size);
    return &u->data;
}

/* Converts the frame's one object to JSON (NULL when it has no JSON form). */
static json_t *frame_to_json(const frame_t *f)
{
    msgpack_unpacked u;
    json_t *j = proto_to_json(unpack(f, &u));
    msgpack_unpacked_destroy(&u);
    return j;
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("bad fixture %s: %s", text, err.text);
    return j;
}

/* Packs `in`, unpacks it, converts it back and expects an equal value. */
static void assert_round_trip(const json_t *in)
{
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_pack_json(&f.pk, in), 0);
    proto_limits_t lim = proto_limits_default();
    lim.max_depth = 64;
    assert_int_equal(proto_check_bounds(f.sb.data, f.sb.size, &lim), 0);
    json_t *out = frame_to_json(&f);
    assert_non_null(out);
    assert_true(json_equal(in, out));
    json_decref(out);
    frame_free(&f);
}

/* `depth` nested arrays (or objects under key "k"), innermost holding `leaf`
 * (stolen) or empty when leaf is NULL. */
static json_t *json_nest(int depth, bool objects, json_t *leaf)
{
    json_t *v = objects ? json_object() : json_array();
    if (leaf) {
        if (objects)
            json_object_set_new(v, "k", leaf);
        else
            json_array_append_new(v, leaf);
    }
    for (int i = 1; i < depth; i++) {
        json_t *outer = objects ? json_object() : json_array();
        if (objects)
            json_object_set_new(outer, "k", v);
        else
            json_array_append_new(outer, v);
        v = outer;
    }
    return v;
}

/* The same shape packed as msgpack; with_leaf puts the int 1 innermost. */
static void mp_nest(msgpack_packer *pk, int depth, bool maps, bool with_leaf)
{
    for (int i = 0; i < depth; i++) {
        uint32_t n = (i + 1 < depth || with_leaf) ? 1 : 0;
        if (maps) {
            msgpack_pack_map(pk, n);
            if (n)
                put_str(pk, "k");
        } else {
            msgpack_pack_array(pk, n);
        }
    }
    if (with_leaf)
        msgpack_pack_int(pk, 1);
}

/* The same shape as a hand-built object tree (msgpack_unpack_next itself
 * stops at 32 levels, so deeper trees cannot come from a frame). Storage:
 * o[depth + 1], kv[depth]. */
static const msgpack_object *obj_nest(msgpack_object *o, msgpack_object_kv *kv, int depth,
                                      bool maps, bool with_leaf)
{
    o[depth] = (msgpack_object){.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1};
    for (int i = depth - 1; i >= 0; i--) {
        uint32_t n = (i + 1 < depth || with_leaf) ? 1 : 0;
        if (maps) {
            kv[i].key = (msgpack_object){.type = MSGPACK_OBJECT_STR, .via.str = {1, "k"}};
            kv[i].val = o[i + 1];
            o[i] = (msgpack_object){.type = MSGPACK_OBJECT_MAP, .via.map = {n, n ? &kv[i] : NULL}};
        } else {
            o[i] = (msgpack_object){.type = MSGPACK_OBJECT_ARRAY,
                                    .via.array = {n, n ? &o[i + 1] : NULL}};
        }
    }
    return &o[0];
}

static void assert_json_string(const json_t *j, const char *want, size_t n)
{
    assert_non_null(j);
    assert_true(json_is_string(j));
    assert_int_equal(json_string_length(j), n);
    assert_memory_equal(json_string_value(j), want, n);
}

/* ---- JSON -> msgpack -> JSON ---- */

static const char *const DOC = "{\"s\": \"h\\u00e9llo \\u2603 \\ud83d\\ude00\","
                               " \"esc\": \"a\\n\\t\\\"\\\\/\","
                               " \"empty\": \"\","
                               " \"i\": 42, \"zero\": 0, \"neg\": -7,"
                               " \"max\": 9223372036854775807, \"min\": -9223372036854775808,"
                               " \"r\": 1.5, \"r2\": 2.0, \"tiny\": 1e-300, \"negr\": -0.25,"
                               " \"t\": true, \"f\": false, \"n\": null,"
                               " \"a\": [1, \"two\", [3, [4]], {}, [], null, 2.5],"
                               " \"o\": {\"x\": {\"y\": [], \"z\": {\"deep\": true}}}}";

static void test_json_round_trip_document(void **state)
{
    (void)state;
    json_t *in = parse(DOC);
    assert_round_trip(in);

    /* The msgpack side has the expected types. */
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_pack_json(&f.pk, in), 0);
    msgpack_unpacked u;
    const msgpack_object *m = unpack(&f, &u);
    assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(m->via.map.size, json_object_size(in));
    static const struct {
        const char *key;
        msgpack_object_type type;
    } types[] = {
        {"s", MSGPACK_OBJECT_STR},
        {"empty", MSGPACK_OBJECT_STR},
        {"i", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"zero", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"neg", MSGPACK_OBJECT_NEGATIVE_INTEGER},
        {"max", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"min", MSGPACK_OBJECT_NEGATIVE_INTEGER},
        {"r", MSGPACK_OBJECT_FLOAT64},
        {"r2", MSGPACK_OBJECT_FLOAT64},
        {"tiny", MSGPACK_OBJECT_FLOAT64},
        {"t", MSGPACK_OBJECT_BOOLEAN},
        {"f", MSGPACK_OBJECT_BOOLEAN},
        {"n", MSGPACK_OBJECT_NIL},
        {"a", MSGPACK_OBJECT_ARRAY},
        {"o", MSGPACK_OBJECT_MAP},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const msgpack_object *v = proto_map_get(m, types[i].key);
        assert_non_null(v);
        assert_int_equal(v->type, types[i].type);
    }
    int64_t n;
    assert_int_equal(proto_get_int(m, "max", &n), 0);
    assert_true(n == INT64_MAX);
    assert_int_equal(proto_get_int(m, "min", &n), 0);
    assert_true(n == INT64_MIN);
    assert_true(proto_map_get(m, "r")->via.f64 == 1.5);
    char s[32];
    assert_int_equal(proto_get_str(m, "s", s, sizeof s), 0);
    assert_string_equal(s, "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80");
    assert_int_equal(proto_get_str(m, "esc", s, sizeof s), 0);
    assert_string_equal(s, "a\n\t\"\\/");
    msgpack_unpacked_destroy(&u);
    frame_free(&f);

    /* Reals stay reals (2.0 does not come back as the integer 2). */
    json_t *out;
    frame_init(&f);
    assert_int_equal(proto_pack_json(&f.pk, in), 0);
    out = frame_to_json(&f);
    assert_non_null(out);
    assert_true(json_is_real(json_object_get(out, "r2")));
    assert_true(json_real_value(json_object_get(out, "r2")) == 2.0);
    assert_true(json_is_integer(json_object_get(out, "i")));
    json_decref(out);
    frame_free(&f);
    json_decref(in);
}

static void test_json_round_trip_scalars(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "42",
        "-1",
        "0",
        "9223372036854775807",
        "-9223372036854775808",
        "1.25",
        "-1e300",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "true",
        "false",
        "null",
        "[[[]]]",
        "{\"\": \"empty key\"}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_t *in = parse(texts[i]);
        assert_round_trip(in);
        json_decref(in);
    }

    /* An embedded NUL survives, length and all. */
    json_t *in = json_stringn("a\0b", 3);
    assert_non_null(in);
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_pack_json(&f.pk, in), 0);
    json_t *out = frame_to_json(&f);
    assert_json_string(out, "a\0b", 3);
    json_decref(out);
    frame_free(&f);
    json_decref(in);
}

static void test_json_round_trip_large(void **state)
{
    (void)state;
    json_t *arr = json_array();
    json_t *obj = json_object();
    for (int i = 0; i < 2000; i++) {
        json_array_append_new(arr, json_integer(i * 1000003LL - 1000000000LL));
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(obj, key, json_real(i / 8.0));
    }
    json_object_set_new(obj, "arr", arr);
    char big[70000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_set_new(obj, "big", json_string(big));
    frame_t f;
    frame_init(&f);
    assert_int_equal(proto_pack_json(&f.pk, obj), 0);
    json_t *out = frame_to_json(&f);
    assert_non_null(out);
    assert_true(json_equal(obj, out));
    json_decref(out);
    frame_free(&f);
    json_decref(obj);
}

static void test_json_pack_bad_arguments(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    json_t *v = json_integer(1);
    assert_int_equal(proto_pack_json(NULL, v), -1);
    assert_int_equal(proto_pack_json(&f.pk, NULL), -1);
    json_decref(v);
    frame_free(&f);
}

static void test_json_pack_depth_limit(void **state)
{
    (void)state;
    for (int objects = 0; objects < 2; objects++) {
        frame_t f;
        frame_init(&f);
        /* 32 levels pass, 33 fail. */
        json_t *ok = json_nest(32, objects, NULL);
        assert_int_equal(proto_pack_json(&f.pk, ok), 0);
        json_t *back = frame_to_json(&f);
        assert_non_null(back);
        assert_true(json_equal(ok, back));
        json_decref(back);
        json_decref(ok);

        frame_reset(&f);
        json_t *deep = json_nest(33, objects, NULL);
        assert_int_equal(proto_pack_json(&f.pk, deep), -1);
        json_decref(deep);

        /* A scalar well inside the limit is fine. */
        frame_reset(&f);
        json_t *leafy = json_nest(31, objects, json_string("leaf"));
        assert_int_equal(proto_pack_json(&f.pk, leafy), 0);
        json_decref(leafy);

        /* Too deep anywhere, not only in the first member. */
        frame_reset(&f);
        json_t *wide = json_array();
        json_array_append_new(wide, json_integer(1));
        json_array_append_new(wide, json_nest(5, objects, NULL));
        json_array_append_new(wide, json_nest(40, objects, json_true()));
        assert_int_equal(proto_pack_json(&f.pk, wide), -1);
        json_decref(wide);

        /* Far too deep. */
        frame_reset(&f);
        json_t *abyss = json_nest(10000, objects, NULL);
        assert_int_equal(proto_pack_json(&f.pk, abyss), -1);
        json_decref(abyss);
        frame_free(&f);
    }
}

/* ---- msgpack -> JSON ---- */

static void test_json_to_json_nested_maps(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    msgpack_pack_map(&f.pk, 2);
    put_str(&f.pk, "a");
    msgpack_pack_map(&f.pk, 2);
    put_str(&f.pk, "b");
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "c");
    msgpack_pack_array(&f.pk, 4);
    msgpack_pack_int(&f.pk, 1);
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "d");
    msgpack_pack_nil(&f.pk);
    msgpack_pack_float(&f.pk, 1.5f);
    msgpack_pack_int64(&f.pk, -3);
    put_str(&f.pk, "e");
    msgpack_pack_true(&f.pk);
    put_str(&f.pk, "z");
    msgpack_pack_map(&f.pk, 0);
    json_t *got = frame_to_json(&f);
    json_t *want = parse("{\"a\": {\"b\": {\"c\": [1, {\"d\": null}, 1.5, -3]}, \"e\": true},"
                         " \"z\": {}}");
    assert_non_null(got);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);

    /* Every integer width, up to INT64_MAX and down to INT64_MIN. */
    frame_reset(&f);
    msgpack_pack_array(&f.pk, 6);
    msgpack_pack_fix_uint8(&f.pk, 200);
    msgpack_pack_fix_uint16(&f.pk, 60000);
    msgpack_pack_fix_uint32(&f.pk, 4000000000u);
    msgpack_pack_uint64(&f.pk, (uint64_t)INT64_MAX);
    msgpack_pack_fix_int8(&f.pk, -100);
    msgpack_pack_int64(&f.pk, INT64_MIN);
    got = frame_to_json(&f);
    want = parse("[200, 60000, 4000000000, 9223372036854775807, -100, -9223372036854775808]");
    assert_non_null(got);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);

    /* Longer keys: refused or converted intact, never overrun. */
    static const size_t long_keys[] = {1025, 4096, 65536};
    for (size_t i = 0; i < sizeof long_keys / sizeof long_keys[0]; i++) {
        size_t n = long_keys[i];
        char *lk = malloc(n + 1);
        assert_non_null(lk);
        memset(lk, 'L', n);
        lk[n] = '\0';
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 1);
        put_strn(&f.pk, lk, n);
        msgpack_pack_int(&f.pk, 1);
        got = frame_to_json(&f);
        if (got) {
            assert_int_equal(json_object_size(got), 1);
            assert_non_null(json_object_get(got, lk));
            json_decref(got);
        }
        free(lk);
    }

    /* A 1 KiB key is fine. */
    char key[1024];
    memset(key, 'k', sizeof key);
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 1);
    put_strn(&f.pk, key, sizeof key);
    msgpack_pack_int(&f.pk, 1);
    got = frame_to_json(&f);
    assert_non_null(got);
    assert_int_equal(json_object_size(got), 1);
    json_decref(got);
    frame_free(&f);
}

/* Empty strings, whichever encoding: msgpack-c may give an empty fixstr a
 * NULL pointer (as a top-level value, a first array item or a first key),
 * which must still convert to "". */
static void test_json_to_json_empty_strings(void **state)
{
    (void)state;
    static const struct {
        const char *b;
        size_t n;
    } forms[] = {{"\xa0", 1}, {"\xd9\x00", 2}, {"\xda\x00\x00", 3}, {"\xdb\x00\x00\x00\x00", 5}};
    frame_t f;
    frame_init(&f);
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        frame_reset(&f);
        msgpack_sbuffer_write(&f.sb, forms[i].b, forms[i].n);
        json_t *j = frame_to_json(&f);
        assert_json_string(j, "", 0);
        json_decref(j);
    }
    /* First in an array, first key of a map. */
    frame_reset(&f);
    msgpack_sbuffer_write(&f.sb, "\x92\xa0\xa1x", 4);
    json_t *arr = frame_to_json(&f);
    json_t *arr_want = parse("[\"\", \"x\"]");
    assert_non_null(arr);
    assert_true(json_equal(arr, arr_want));
    json_decref(arr);
    json_decref(arr_want);
    frame_reset(&f);
    msgpack_sbuffer_write(&f.sb, "\x81\xa0\x01", 3);
    json_t *obj = frame_to_json(&f);
    assert_non_null(obj);
    assert_int_equal(json_object_size(obj), 1);
    assert_int_equal(json_integer_value(json_object_get(obj, "")), 1);
    json_decref(obj);

    /* As a value, as a key, in an array, next to other members. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 3);
    put_str(&f.pk, "rid");
    put_str(&f.pk, "");
    put_str(&f.pk, "");
    put_str(&f.pk, "empty key");
    put_str(&f.pk, "list");
    msgpack_pack_array(&f.pk, 3);
    put_str(&f.pk, "");
    put_str(&f.pk, "x");
    put_str(&f.pk, "");
    json_t *got = frame_to_json(&f);
    json_t *want = parse("{\"rid\": \"\", \"\": \"empty key\", \"list\": [\"\", \"x\", \"\"]}");
    assert_non_null(got);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    frame_free(&f);
}

static void test_json_to_json_bin_base64(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } vec[] = {
        {"", 0, ""},
        {"f", 1, "Zg=="},
        {"fo", 2, "Zm8="},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg=="},
        {"fooba", 5, "Zm9vYmE="},
        {"foobar", 6, "Zm9vYmFy"},
        {"\x00", 1, "AA=="},
        {"\x00\xff\xfe", 3, "AP/+"},
        {"\xfb\xff", 2, "+/8="},
        {"\xff\xff\xff", 3, "////"},
    };
    frame_t f;
    frame_init(&f);
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        frame_reset(&f);
        msgpack_pack_bin(&f.pk, vec[i].n);
        msgpack_pack_bin_body(&f.pk, vec[i].in, vec[i].n);
        json_t *j = frame_to_json(&f);
        assert_json_string(j, vec[i].out, strlen(vec[i].out));
        json_decref(j);
    }

    /* Inside a map, and a longer one whose length is a multiple of 3. */
    char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)i;
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 1);
    put_str(&f.pk, "blob");
    msgpack_pack_bin(&f.pk, sizeof buf);
    msgpack_pack_bin_body(&f.pk, buf, sizeof buf);
    json_t *j = frame_to_json(&f);
    assert_non_null(j);
    json_t *blob = json_object_get(j, "blob");
    assert_true(json_is_string(blob));
    assert_int_equal(json_string_length(blob), 400);
    assert_memory_equal(json_string_value(blob), "AAECAwQFBgcICQoL", 16);
    json_decref(j);
    frame_free(&f);
}

static void test_json_to_json_rejects_non_string_keys(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    for (int kind = 0; kind < 6; kind++) {
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 2);
        put_str(&f.pk, "fine");
        msgpack_pack_int(&f.pk, 0);
        switch (kind) {
        case 0:
            msgpack_pack_int(&f.pk, 1);
            break;
        case 1:
            msgpack_pack_bin(&f.pk, 1);
            msgpack_pack_bin_body(&f.pk, "k", 1);
            break;
        case 2:
            msgpack_pack_nil(&f.pk);
            break;
        case 3:
            msgpack_pack_true(&f.pk);
            break;
        case 4:
            msgpack_pack_array(&f.pk, 0);
            break;
        default:
            msgpack_pack_double(&f.pk, 1.0);
            break;
        }
        msgpack_pack_int(&f.pk, 1);
        assert_null(frame_to_json(&f));
    }
    /* Nested. */
    frame_reset(&f);
    msgpack_pack_array(&f.pk, 2);
    msgpack_pack_int(&f.pk, 1);
    msgpack_pack_map(&f.pk, 1);
    msgpack_pack_int(&f.pk, 1);
    msgpack_pack_int(&f.pk, 2);
    assert_null(frame_to_json(&f));
    /* A key with an embedded NUL has no JSON form either. */
    frame_reset(&f);
    msgpack_pack_map(&f.pk, 1);
    put_strn(&f.pk, "a\0b", 3);
    msgpack_pack_int(&f.pk, 1);
    assert_null(frame_to_json(&f));
    frame_free(&f);
}

static void test_json_to_json_rejects_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {"\xff", 1},             /* never valid */
        {"\x80", 1},             /* lone continuation */
        {"\xc0\x80", 2},         /* overlong NUL */
        {"\xc1\xbf", 2},         /* overlong */
        {"\xe0\x80\xaf", 3},     /* overlong '/' */
        {"\xed\xa0\x80", 3},     /* surrogate */
        {"\xe2\x82", 2},         /* truncated */
        {"\xf4\x90\x80\x80", 4}, /* above U+10FFFF */
        {"ok\xfe", 3},
    };
    frame_t f;
    frame_init(&f);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* As a value, as a key, and nested in an array. */
        frame_reset(&f);
        put_strn(&f.pk, bad[i].s, bad[i].n);
        assert_null(frame_to_json(&f));
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 1);
        put_strn(&f.pk, bad[i].s, bad[i].n);
        msgpack_pack_int(&f.pk, 1);
        assert_null(frame_to_json(&f));
        frame_reset(&f);
        msgpack_pack_array(&f.pk, 2);
        put_str(&f.pk, "fine");
        put_strn(&f.pk, bad[i].s, bad[i].n);
        assert_null(frame_to_json(&f));
    }
    /* Valid multi-byte text of each length passes. */
    frame_reset(&f);
    put_str(&f.pk, "\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
    json_t *j = frame_to_json(&f);
    assert_json_string(j, "\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13);
    json_decref(j);
    frame_free(&f);
}

static void test_json_to_json_rejects_big_uint(void **state)
{
    (void)state;
    const uint64_t bad[] = {(uint64_t)INT64_MAX + 1, UINT64_MAX};
    frame_t f;
    frame_init(&f);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        frame_reset(&f);
        msgpack_pack_uint64(&f.pk, bad[i]);
        assert_null(frame_to_json(&f));
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 1);
        put_str(&f.pk, "n");
        msgpack_pack_uint64(&f.pk, bad[i]);
        assert_null(frame_to_json(&f));
    }
    frame_reset(&f);
    msgpack_pack_uint64(&f.pk, (uint64_t)INT64_MAX);
    json_t *j = frame_to_json(&f);
    assert_non_null(j);
    assert_true(json_integer_value(j) == INT64_MAX);
    json_decref(j);
    frame_free(&f);
}

static void test_json_to_json_rejects_ext(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 4, 8, 16, 3, 0, 300};
    char payload[300] = {0};
    frame_t f;
    frame_init(&f);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        frame_reset(&f);
        msgpack_pack_ext(&f.pk, sizes[i], 1);
        msgpack_pack_ext_body(&f.pk, payload, sizes[i]);
        assert_null(frame_to_json(&f));
        frame_reset(&f);
        msgpack_pack_map(&f.pk, 1);
        put_str(&f.pk, "x");
        msgpack_pack_ext(&f.pk, sizes[i], -1);
        msgpack_pack_ext_body(&f.pk, payload, sizes[i]);
        assert_null(frame_to_json(&f));
        frame_reset(&f);
        msgpack_pack_array(&f.pk, 2);
        msgpack_pack_nil(&f.pk);
        msgpack_pack_ext(&f.pk, sizes[i], 5);
        msgpack_pack_ext_body(&f.pk, payload, sizes[i]);
        assert_null(frame_to_json(&f));
    }
    frame_free(&f);
}

static void test_json_to_json_rejects_non_finite(void **state)
{
    (void)state;
    frame_t f;
    frame_init(&f);
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        frame_reset(&f);
        msgpack_pack_double(&f.pk, bad[i]);
        assert_null(frame_to_json(&f));
        frame_reset(&f);
        msgpack_pack_float(&f.pk, (float)bad[i]);
        assert_null(frame_to_json(&f));
    }
    frame_free(&f);
}

static void test_json_to_json_depth_limit(void **state)
{
    (void)state;
    enum { N = 5000 };
    msgpack_object *o = calloc(N + 1, sizeof *o);
    msgpack_object_kv *kv = calloc(N, sizeof *kv);
    assert_non_null(o);
    assert_non_null(kv);
    for (int maps = 0; maps < 2; maps++) {
        /* 32 levels pass, from a real frame and from a built tree. */
        frame_t f;
        frame_init(&f);
        mp_nest(&f.pk, 32, maps, false);
        json_t *j = frame_to_json(&f);
        assert_non_null(j);
        json_t *want = json_nest(32, maps, NULL);
        assert_true(json_equal(j, want));
        json_decref(j);
        j = proto_to_json(obj_nest(o, kv, 32, maps, false));
        assert_non_null(j);
        assert_true(json_equal(j, want));
        json_decref(j);
        json_decref(want);
        frame_free(&f);

        /* 33 fail. */
        assert_null(proto_to_json(obj_nest(o, kv, 33, maps, false)));
        assert_null(proto_to_json(obj_nest(o, kv, 40, maps, true)));
        assert_null(proto_to_json(obj_nest(o, kv, N, maps, true)));

        /* A scalar well inside the limit is fine. */
        j = proto_to_json(obj_nest(o, kv, 31, maps, true));
        assert_non_null(j);
        json_decref(j);

        /* Too deep in a later member: [1, <4 levels>, <40 levels>]. */
        msgpack_object parts[3];
        parts[0] = (msgpack_object){.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1};
        parts[1] = *obj_nest(o, kv, 4, maps, true);
        /* The 40-level tree lives further along in the same storage. */
        parts[2] = *obj_nest(o + 10, kv + 10, 40, maps, false);
        msgpack_object top = {.type = MSGPACK_OBJECT_ARRAY, .via.array = {3, parts}};
        assert_null(proto_to_json(&top));
        top.via.array.size = 2;
        j = proto_to_json(&top);
        assert_non_null(j);
        json_decref(j);
    }
    free(kv);
    free(o);
}

static void test_json_to_json_null(void **state)
{
    (void)state;
    assert_null(proto_to_json(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_round_trip_document),
        cmocka_unit_test(test_json_round_trip_scalars),
        cmocka_unit_test(test_json_round_trip_large),
        cmocka_unit_test(test_json_pack_bad_arguments),
        cmocka_unit_test(test_json_pack_depth_limit),
        cmocka_unit_test(test_json_to_json_nested_maps),
        cmocka_unit_test(test_json_to_json_empty_strings),
        cmocka_unit_test(test_json_to_json_bin_base64),
        cmocka_unit_test(test_json_to_json_rejects_non_string_keys),
        cmocka_unit_test(test_json_to_json_rejects_invalid_utf8),
        cmocka_unit_test(test_json_to_json_rejects_big_uint),
        cmocka_unit_test(test_json_to_json_rejects_ext),
        cmocka_unit_test(test_json_to_json_rejects_non_finite),
        cmocka_unit_test(test_json_to_json_depth_limit),
        cmocka_unit_test(test_json_to_json_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
