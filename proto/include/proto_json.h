/*
 * proto_json: the bridge between HTTP JSON (jansson) and msgpack bodies.
 * The gateway turns a JSON request body into a msgpack map and a msgpack
 * reply body back into JSON.
 */
#ifndef PROTO_JSON_H
#define PROTO_JSON_H

#include <jansson.h>
#include <msgpack.h>

/* Packs a JSON value. Integers stay integers, reals become float64.
 * Returns 0 or -1 (e.g. nesting deeper than 32). */
int proto_pack_json(msgpack_packer *pk, const json_t *value);

/* Converts a msgpack object to a new JSON value (caller owns the reference).
 * Map keys must be strings; bin becomes a base64 string. Returns NULL on
 * anything that has no JSON form (non-string key, invalid UTF-8, too deep). */
json_t *proto_to_json(const msgpack_object *obj);

#endif
