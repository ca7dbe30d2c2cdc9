/*
 * store_stats: store.stats, the counters behind GET /api/v1/admin/stats.
 *
 *   store.stats -> {"users", "files", "bytes_stored", "active_sessions"}
 *
 * files and bytes_stored count ready files only (a pending row is an
 * upload in progress or a crash's leftover); active_sessions counts live
 * refresh-token families (at least one token neither revoked nor expired).
 */
#ifndef STORE_STATS_H
#define STORE_STATS_H

#include "proto_server.h"

proto_err_t store_stats_get(const proto_call_ctx_t *cc, const proto_request_t *req,
                            msgpack_packer *body, proto_fail_t *fail);

#endif
