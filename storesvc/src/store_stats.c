/*
 * store_stats: one statement of four scalar subqueries, so the counters come
 * from one snapshot; its columns are the keys of the catalogue's Stats.
 */
#include "store_stats.h"

#include "store_sql.h"

static const char sql_stats[] =
    "SELECT (SELECT count(*) FROM users),"
    " (SELECT count(*) FROM files WHERE status = 'ready'),"
    " (SELECT coalesce(sum(size), 0)::bigint FROM files WHERE status = 'ready'),"
    " (SELECT count(DISTINCT family_id) FROM refresh_tokens"
    "   WHERE revoked_at IS NULL AND expires_at > now())";

proto_err_t store_stats_get(const proto_call_ctx_t *cc, const proto_request_t *req,
                            msgpack_packer *body, proto_fail_t *fail)
{
    const store_query_t q = {.sql = sql_stats, .idempotent = true};
    PGresult *res = NULL;
    proto_err_t err = store_sql_run(cc, req, &q, NULL, &res);
    if (err == PROTO_OK && PQntuples(res) != 1)
        err = store_sql_internal(req, "unexpected result shape");
    if (err == PROTO_OK) /* the columns are the catalogue's Stats, in order */
        err = store_sql_reply_shape(req, body, proto_shape(PROTO_SHAPE_STATS), res, 0, 0);
    PQclear(res);
    return err;
}
