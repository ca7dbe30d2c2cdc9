/*
 * store_reset: password-reset tokens (PROTOCOL.md, "storesvc"). Only the
 * SHA-256 of a token is stored; a user has one token row at most.
 *
 *   store.reset_create  {user_id, token_hash, expires_s} -> {}
 *                       the user's token is now this one (an older one,
 *                       used or not, is gone); not_found: no such active user
 *   store.reset_check   {token_hash} -> {user_id, username}
 *                       not_found: unknown, used, expired, superseded, or
 *                       its user is disabled; nothing is changed
 *   store.reset_consume {token_hash, password_hash, at_ms} -> {user_id}
 *                       in one statement: the token is marked used, the
 *                       password set, every refresh token of the user
 *                       revoked and access tokens issued before at_ms
 *                       refused; not_found as for check (of several racing
 *                       consumes exactly one succeeds)
 */
#ifndef STORE_RESET_H
#define STORE_RESET_H

#include "proto_server.h"

proto_err_t store_reset_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_reset_check(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_reset_consume(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail);

#endif
