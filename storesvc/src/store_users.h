/*
 * store_users: the store.user_* ops (PROTOCOL.md, "storesvc"). Each is a
 * proto_handler_fn for storesvc's handler table: one parameterised
 * statement on the worker's connection, one reply map.
 *
 *   store.user_create      -> User             conflict (taken; admin exists)
 *   store.user_get         -> User             not_found
 *   store.user_list        -> {users, total, page, per_page, pages}
 *   store.user_find_login  -> {id, username, role, is_active, totp_enabled,
 *                              password_hash, valid_after_ms}
 *   store.user_auth_state  -> {id, username, role, is_active, valid_after_ms}
 *   store.user_update      -> User             not_found, conflict (email)
 *   store.user_set_password-> {}               not_found
 *   store.user_revoke_all  -> {revoked}        not_found
 *   store.user_delete      -> {}               not_found
 *
 * A User never carries the password hash; only user_find_login returns it
 * (authsvc verifies it). Malformed ids are not_found.
 */
#ifndef STORE_USERS_H
#define STORE_USERS_H

#include "proto_server.h"

proto_err_t store_users_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_users_get(const proto_call_ctx_t *cc, const proto_request_t *req,
                            msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_users_list(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_users_find_login(const proto_call_ctx_t *cc, const proto_request_t *req,
                                   msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_users_auth_state(const proto_call_ctx_t *cc, const proto_request_t *req,
                                   msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_users_update(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_users_set_password(const proto_call_ctx_t *cc, const proto_request_t *req,
                                     msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_users_revoke_all(const proto_call_ctx_t *cc, const proto_request_t *req,
                                   msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_users_delete(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail);

#endif
