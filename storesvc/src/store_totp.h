/*
 * store_totp: the store.totp_* ops (PROTOCOL.md, "storesvc"): the TOTP
 * state of a user. storesvc keeps only what authsvc hands it: the secret
 * sealed with a key storesvc never sees, the last time step accepted, and
 * keyed hashes of the backup codes. Each op is one statement (enable and
 * disable: one PL/pgSQL function of migration 5), so each is atomic.
 *
 *   store.totp_get        -> {enabled, secret, pending, last_step, backup_codes}
 *   store.totp_setup      -> {}                       conflict (already on), not_found
 *   store.totp_enable     -> {outcome: enabled|stale} conflict (already on), not_found
 *   store.totp_disable    -> {disabled: bool}         not_found
 *   store.totp_use_step   -> {accepted: bool}
 *   store.totp_use_backup -> {accepted: bool, remaining: int}
 */
#ifndef STORE_TOTP_H
#define STORE_TOTP_H

#include "proto_server.h"

proto_err_t store_totp_get(const proto_call_ctx_t *cc, const proto_request_t *req,
                           msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_totp_setup(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_totp_enable(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_totp_disable(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_totp_use_step(const proto_call_ctx_t *cc, const proto_request_t *req,
                                msgpack_packer *body, proto_fail_t *fail);
proto_err_t store_totp_use_backup(const proto_call_ctx_t *cc, const proto_request_t *req,
                                  msgpack_packer *body, proto_fail_t *fail);

#endif
