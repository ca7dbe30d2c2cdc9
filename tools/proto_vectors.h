/*
 * proto_vectors: the test vectors of proto/PROTOCOL.md ("Test vectors"),
 * exact bytes of one request and its reply. tools/proto_doc prints them
 * into the document; tests/unit/proto/test_vectors.c encodes the same
 * request and reply with the codec and decodes both, so the document, the
 * encoder and the decoder agree byte for byte.
 *
 *   request: {"v": 1, "op": "auth.authorize", "rid": "doc-1",
 *             "body": {"client_ip": "192.0.2.7"}}
 *   reply:   {"v": 1, "ok": true, "body": {"anonymous": true,
 *             "rate": {"limit": 600, "remaining": 599, "reset": 1}}}
 */
#ifndef PROTO_VECTORS_H
#define PROTO_VECTORS_H

#define PROTO_VECTOR_RID       "doc-1"
#define PROTO_VECTOR_CLIENT_IP "192.0.2.7"
#define PROTO_VECTOR_LIMIT     600
#define PROTO_VECTOR_REMAINING 599
#define PROTO_VECTOR_RESET     1

#define PROTO_VECTOR_REQUEST_HEX                                                                   \
    "84a17601a26f70ae617574682e617574686f72697a65a3726964a5646f632d31a4626f647981a9636c69656e74"   \
    "5f6970a93139322e302e322e37"

#define PROTO_VECTOR_REPLY_HEX                                                                     \
    "83a17601a26f6bc3a4626f647982a9616e6f6e796d6f7573c3a47261746583a56c696d6974cd0258a972656d61"   \
    "696e696e67cd0257a5726573657401"

#endif
