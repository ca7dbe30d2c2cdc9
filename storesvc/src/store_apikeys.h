/*
 * store_apikeys: API keys (PROTOCOL.md, "storesvc"). A key's text is
 * "rk_<key_id>_<secret>"; storesvc holds the key_id (public, the lookup
 * key) and the SHA-256 of the secret, never the secret. Every op but the
 * lookup is scoped by the owner's user_id in its WHERE clause, so someone
 * else's key is simply not found.
 *
 *   store.apikey_create {user_id, key_id, secret_hash, name, expires_s?,
 *                        permissions?, max_per_user}
 *                       -> {id, name, created_at, expires_at, permissions}
 *                       conflict: the user has max_per_user unexpired keys
 *                       (or the key_id is taken)
 *   store.apikey_list   {user_id} -> {api_keys: [{id, name, created_at,
 *                        expires_at, last_used_at, permissions}]}
 *   store.apikey_delete {user_id, id} -> {key_id}      not_found
 *   store.apikey_lookup {key_id} -> {id, user_id, secret_hash (bin 32),
 *                        permissions, expires_ms?, last_used_ms?}  not_found
 *   store.apikey_touch  {id, interval_s} -> {touched: bool}
 *                       last_used_at = now() unless it moved within the
 *                       last interval_s seconds (at most one write per
 *                       interval, whatever the number of replicas)
 *
 * permissions: the names separated by single spaces, or nil for "all that
 * the owner's role allows" (stored as a text[] or NULL).
 */
#ifndef STORE_APIKEYS_H
#define STORE_APIKEYS_H

#include "proto_server.h"

/* store.apikey_list answers at most this many keys, oldest first. */
#define STORE_APIKEYS_LIST_MAX 100

proto_err_t store_apikeys_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_apikeys_list(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_apikeys_delete(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_apikeys_lookup(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_apikeys_touch(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail);

#endif
