/*
 * fuzz_codec: libFuzzer target for everything a service does with bytes
 * from the network before a handler runs: the bounds walker, request and
 * reply decoding, the lane peek, and the msgpack -> JSON bridge the gateway
 * applies to reply bodies. Any crash, sanitizer report, leak or a decoded
 * request that violates the catalogue is a bug.
 *
 *   cmake -S . -B build-fuzz -DFUZZ=ON -DCMAKE_C_COMPILER=clang
 *   cmake --build build-fuzz --target fuzz_codec
 *   build-fuzz/tests/fuzz/fuzz_codec -max_total_time=60 tests/fuzz/corpus/codec
 */
#include "proto_codec.h"
#include "proto_json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const char *data, size_t size, const proto_limits_t *lim)
{
    proto_request_t req;
    char why[128];
    proto_request_init(&req);
    if (proto_request_decode(data, size, lim, &req, why, sizeof why) == PROTO_OK) {
        const proto_op_def_t *def = proto_op_def(req.op);
        if (!def || req.body->type != MSGPACK_OBJECT_MAP || strlen(req.rid) > PROTO_RID_MAX)
            abort(); /* the decoder let through what the catalogue forbids */
        json_t *j = proto_to_json(req.body);
        json_decref(j);
    }
    proto_request_cleanup(&req);
}

static void check_reply(const char *data, size_t size, const proto_limits_t *lim)
{
    proto_reply_t rep;
    proto_reply_init(&rep);
    if (proto_reply_decode(data, size, lim, &rep) == PROTO_OK && rep.ok) {
        json_t *j = proto_to_json(rep.body);
        if (j) {
            char *text = json_dumps(j, JSON_COMPACT);
            free(text);
        }
        json_decref(j);
    }
    proto_reply_cleanup(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_limits_t lim = proto_limits_default();
    const char *d = (const char *)data;
    proto_op_t op;
    (void)proto_check_bounds(d, size, &lim);
    (void)proto_peek_op(d, size, &op);
    check_request(d, size, &lim);
    check_reply(d, size, &lim);
    return 0;
}
