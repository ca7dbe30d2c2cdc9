/*
 * The test vectors of proto/PROTOCOL.md (tools/proto_vectors.h): the codec
 * encodes the documented request and reply to exactly the documented bytes,
 * and decodes the documented bytes to the documented values. A caller in
 * another language checks its msgpack library against the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto_codec.h"
#include "proto_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bytes of a hex string (the caller frees), *len their count. */
static unsigned char *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    assert_int_equal(n % 2, 0);
    unsigned char *out = malloc(n / 2);
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
    *len = n / 2;
    return out;
}

static void assert_bytes(const msgpack_sbuffer *got, const char *hex)
{
    size_t n = 0;
    unsigned char *want = unhex(hex, &n);
    assert_int_equal(got->size, n);
    assert_memory_equal(got->data, want, n);
    free(want);
}

static void test_vectors_request_encodes_to_the_documented_bytes(void **state)
{
    (void)state;
    msgpack_sbuffer body, frame;
    msgpack_packer pk;
    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&frame);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    proto_pack_kv_str(&pk, "client_ip", PROTO_VECTOR_CLIENT_IP);
    assert_int_equal(proto_request_encode(&frame, PROTO_OP_AUTH_AUTHORIZE, PROTO_VECTOR_RID,
                                          body.data, body.size),
                     0);
    assert_bytes(&frame, PROTO_VECTOR_REQUEST_HEX);
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&frame);
}

static void test_vectors_request_decodes_to_the_documented_values(void **state)
{
    (void)state;
    size_t n = 0;
    unsigned char *bytes = unhex(PROTO_VECTOR_REQUEST_HEX, &n);
    proto_limits_t lim = proto_limits_default();
    proto_request_t req;
    char why[128] = "", ip[PROTO_STR_BUF(PROTO_B_IP)];
    proto_request_init(&req);
    assert_int_equal(proto_request_decode((const char *)bytes, n, &lim, &req, why, sizeof why),
                     PROTO_OK);
    assert_int_equal(req.op, PROTO_OP_AUTH_AUTHORIZE);
    assert_string_equal(req.rid, PROTO_VECTOR_RID);
    const proto_str_arg_t args[] = {{"client_ip", ip, sizeof ip, NULL}};
    assert_int_equal(proto_body_strs(&req, args, 1, NULL), PROTO_OK);
    assert_string_equal(ip, PROTO_VECTOR_CLIENT_IP);
    assert_int_equal(req.body->via.map.size, 1);
    proto_request_cleanup(&req);
    free(bytes);
}

/* The reply body as authsvc packs it for an anonymous caller. */
static void pack_reply_body(msgpack_sbuffer *body)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_bool(&pk, "anonymous", true);
    proto_pack_cstr(&pk, "rate");
    msgpack_pack_map(&pk, 3);
    proto_pack_kv_int(&pk, "limit", PROTO_VECTOR_LIMIT);
    proto_pack_kv_int(&pk, "remaining", PROTO_VECTOR_REMAINING);
    proto_pack_kv_int(&pk, "reset", PROTO_VECTOR_RESET);
}

static void test_vectors_reply_encodes_to_the_documented_bytes(void **state)
{
    (void)state;
    msgpack_sbuffer body, frame;
    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&frame);
    pack_reply_body(&body);
    assert_int_equal(proto_reply_encode_ok(&frame, body.data, body.size), 0);
    assert_bytes(&frame, PROTO_VECTOR_REPLY_HEX);
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&frame);
}

static void test_vectors_reply_decodes_to_the_documented_values(void **state)
{
    (void)state;
    size_t n = 0;
    unsigned char *bytes = unhex(PROTO_VECTOR_REPLY_HEX, &n);
    proto_limits_t lim = proto_limits_default();
    proto_reply_t rep;
    bool anonymous = false;
    int64_t v = -1;
    proto_reply_init(&rep);
    assert_int_equal(proto_reply_decode((const char *)bytes, n, &lim, &rep), PROTO_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.err, PROTO_OK);
    assert_int_equal(rep.body->via.map.size, 2);
    assert_int_equal(proto_get_bool(rep.body, "anonymous", &anonymous), 0);
    assert_true(anonymous);
    const msgpack_object *rate = proto_map_get(rep.body, "rate");
    assert_non_null(rate);
    assert_int_equal(rate->via.map.size, 3);
    assert_int_equal(proto_get_int(rate, "limit", &v), 0);
    assert_int_equal(v, PROTO_VECTOR_LIMIT);
    assert_int_equal(proto_get_int(rate, "remaining", &v), 0);
    assert_int_equal(v, PROTO_VECTOR_REMAINING);
    assert_int_equal(proto_get_int(rate, "reset", &v), 0);
    assert_int_equal(v, PROTO_VECTOR_RESET);
    proto_reply_cleanup(&rep);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_request_encodes_to_the_documented_bytes),
        cmocka_unit_test(test_vectors_request_decodes_to_the_documented_values),
        cmocka_unit_test(test_vectors_reply_encodes_to_the_documented_bytes),
        cmocka_unit_test(test_vectors_reply_decodes_to_the_documented_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
