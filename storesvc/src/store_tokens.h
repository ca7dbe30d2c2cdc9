/*
 * store_tokens: refresh tokens and the sessions they form (PROTOCOL.md,
 * "storesvc"). Only SHA-256 hashes of tokens are stored (token_hash, 32
 * bytes); a session is a token family: the token issued at login and every
 * token rotated from it.
 *
 *   store.token_create -> {id}                          not_found (no user)
 *   store.token_rotate -> {outcome, user_id?, family_id?}
 *                         outcome "rotated" | "grace" | "reused" | "invalid"
 *   store.token_revoke -> {revoked}                     bad_request (no key)
 *   store.sessions     -> {sessions: [{id, created_at, last_used_at,
 *                                      client_ip, user_agent}]}
 *
 * The rotation decision is the PL/pgSQL function store_token_rotate of
 * migration 1 (one transaction, the token row locked FOR UPDATE), so two
 * replicas can never both rotate one token.
 */
#ifndef STORE_TOKENS_H
#define STORE_TOKENS_H

#include "proto_server.h"

/* store.sessions lists at most this many families, most recently used first. */
#define STORE_SESSIONS_MAX 100

proto_err_t store_tokens_create(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_tokens_rotate(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_tokens_revoke(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_tokens_sessions(const proto_call_ctx_t *cc, const proto_request_t *req,
                                  msgpack_packer *body, proto_fail_t *fail);

#endif
