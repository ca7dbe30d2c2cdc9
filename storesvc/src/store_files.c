/*
 * store_files: the store.file_* handlers.
 *
 * Order of effects, chosen so that a crash at any point leaves only what
 * the sweeper (store_sweep.c) recognises and removes:
 *   begin:    multipart upload first, then the pending row (a crash in
 *             between: an upload no row names);
 *   complete: the object is published while the row is still pending,
 *             then the row turns ready (a crash in between: a pending row
 *             whose object exists; the sweeper removes both);
 *   abort:    the upload is aborted first, then the row goes (the store
 *             down: nothing is deleted, the row stays pending);
 *   delete:   the row goes first, then the object (a crash in between: an
 *             object no row names).
 */
#include "store_files.h"

#include "proto_rbac.h"
#include "rt_log.h"
#include "rt_uuid.h"
#include "store_blob.h"
#include "store_fname.h"
#include "store_handlers.h"
#include "store_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CREATED_AT STORE_SQL_RFC3339("created_at")
#define FILE_COLS  "id, name, content_type, size, sha256, owner_id, " CREATED_AT
#define FILE_NCOLS 7

#define CAP_NAME   PROTO_STR_BUF(PROTO_FILE_NAME_MAX)
#define CAP_TYPE   PROTO_STR_BUF(PROTO_FILE_TYPE_MAX)
#define CAP_ROLE   PROTO_STR_BUF(PROTO_B_ROLE)
#define CAP_SHA256 PROTO_STR_BUF(PROTO_B_HEX256)
#define CAP_KEY    (STORE_BLOB_KEY_MAX + 1)
#define CAP_UPLOAD (STORE_BLOB_UPLOAD_ID_MAX + 1)

/* ------------------------------------------------------- who sees what -- */

/* The one visibility rule of files, for get, list, read and delete: a ready
 * file, and either the actor owns it or the actor's role sees every file.
 * `owner` and `all` are the placeholders of the actor's id and of
 * file_scope's "sees all" flag. */
#define FILE_VISIBLE(owner, all)                                                                   \
    "status = 'ready' AND (" all "::boolean OR owner_id = " owner "::uuid)"

typedef struct {
    char actor[STORE_UUID_CAP];
    const char *all; /* "true" / "false", the FILE_VISIBLE flag */
} scope_t;

/* Reads actor_id and actor_role (the ops that take one) into `s`;
 * not_found when the id is no UUID. */
static proto_err_t file_scope(const proto_request_t *req, scope_t *s, proto_fail_t *fail)
{
    char role[CAP_ROLE];
    const proto_str_arg_t args[] = {{"actor_role", role, sizeof role, NULL}};
    proto_err_t err = store_sql_uuid(req, "actor_id", s->actor, fail);
    s->all = "false";
    if (err == PROTO_OK)
        err = proto_body_strs(req, args, 1, fail);
    /* The roles that see and delete every file: proto_rbac's rule. */
    if (err == PROTO_OK && proto_rbac_sees_all_content(proto_role_parse(role)))
        s->all = "true";
    return err;
}

/* ------------------------------------------------------------- helpers -- */

static const struct {
    int blob;
    proto_err_t err;
} blob_errs[] = {
    {STORE_BLOB_OK, PROTO_OK},
    {STORE_BLOB_NOT_FOUND, PROTO_ERR_NOT_FOUND},
    {STORE_BLOB_IO, PROTO_ERR_UNAVAILABLE},
    {STORE_BLOB_REJECTED, PROTO_ERR_BAD_REQUEST},
};

proto_err_t store_files_blob_err(int status)
{
    for (size_t i = 0; i < sizeof blob_errs / sizeof blob_errs[0]; i++) {
        if (blob_errs[i].blob == status)
            return blob_errs[i].err;
    }
    return PROTO_ERR_INTERNAL_ERROR; /* bad key, no memory: our bug, logged by the caller */
}

static proto_err_t blob_fail(const proto_request_t *req, int status, proto_fail_t *fail)
{
    proto_err_t err = store_files_blob_err(status);
    if (err == PROTO_ERR_INTERNAL_ERROR)
        return store_sql_internal(req, store_blob_status_str(status));
    if (err == PROTO_ERR_UNAVAILABLE)
        snprintf(fail->msg, sizeof fail->msg, "object store unavailable");
    return err;
}

static store_blob_t *blob_of(const proto_call_ctx_t *cc)
{
    const store_ctx_t *ctx = cc->svc;
    return ctx->blob;
}

static proto_err_t bad_request(proto_fail_t *fail, const char *msg)
{
    snprintf(fail->msg, sizeof fail->msg, "%s", msg);
    return PROTO_ERR_BAD_REQUEST;
}

static proto_err_t invalid(proto_fail_t *fail, const char *field, const char *msg)
{
    snprintf(fail->field, sizeof fail->field, "%s", field);
    snprintf(fail->msg, sizeof fail->msg, "%s", msg);
    return PROTO_ERR_VALIDATION_ERROR;
}

/* The id and actor_id of a request; not_found when either is no UUID. */
static proto_err_t ids(const proto_request_t *req, char *id, char *actor, proto_fail_t *fail)
{
    proto_err_t err = store_sql_uuid(req, "id", id, fail);
    return err == PROTO_OK ? store_sql_uuid(req, "actor_id", actor, fail) : err;
}

/* The File in the FILE_COLS columns of `row` from `col` on (they are the
 * keys of the catalogue's File, in its order). */
static proto_err_t pack_file(const proto_request_t *req, msgpack_packer *pk, const PGresult *res,
                             int row, int col)
{
    return store_sql_reply_shape(req, pk, proto_shape(PROTO_SHAPE_FILE), res, row, col);
}

/* Runs `q`, expecting `ncols` columns. PROTO_OK with *res set (maybe no
 * rows), or the error. */
static proto_err_t query(const proto_call_ctx_t *cc, const proto_request_t *req,
                         const store_query_t *q, const store_sql_map_t *map, int ncols,
                         PGresult **res)
{
    proto_err_t err = store_sql_run(cc, req, q, map, res);
    if (err == PROTO_OK && PQnfields(*res) != ncols) {
        PQclear(*res);
        *res = NULL;
        err = store_sql_internal(req, "unexpected result shape");
    }
    return err;
}

static const store_sql_map_t map_no_user[] = {{"23503", PROTO_ERR_NOT_FOUND}, {NULL, PROTO_OK}};

/* --------------------------------------------------------------- begin -- */

static const char sql_begin[] =
    "INSERT INTO files (owner_id, name, content_type, storage_key, upload_id)"
    " VALUES ($1::uuid, $2, $3, $4, $5) RETURNING id";

proto_err_t store_files_begin(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail)
{
    char actor[STORE_UUID_CAP], name[CAP_NAME], type[CAP_TYPE], uuid[RT_UUID_BUF];
    char key[CAP_KEY], upload[CAP_UPLOAD];
    const proto_str_arg_t strs[] = {
        {"name", name, sizeof name, NULL},
        {"content_type", type, sizeof type, NULL},
    };
    proto_err_t err;
    if ((err = store_sql_uuid(req, "actor_id", actor, fail)) != PROTO_OK ||
        (err = proto_body_strs(req, strs, 2, fail)) != PROTO_OK)
        return err;
    if (!store_fname_valid(name, strlen(name)))
        return invalid(fail, "name",
                       "1-255 bytes without '/', '\\', control or bidi control characters");
    if (!store_ftype_valid(type, strlen(type)))
        return invalid(fail, "content_type", "a media type: type/subtype");
    rt_uuid_v4(uuid);
    snprintf(key, sizeof key, STORE_FILES_KEY_PREFIX "%s", uuid);
    int rc = store_blob_mp_create(blob_of(cc), key, upload, sizeof upload);
    if (rc != STORE_BLOB_OK)
        return blob_fail(req, rc, fail);
    const char *vals[] = {actor, name, type, key, upload};
    const store_query_t q = {.sql = sql_begin, .nparams = 5, .values = vals};
    PGresult *res = NULL;
    err = query(cc, req, &q, map_no_user, 1, &res);
    if (err == PROTO_OK && PQntuples(res) != 1)
        err = store_sql_internal(req, "no row inserted");
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 2);
        store_sql_pack_str(body, "id", res, 0, 0);
        proto_pack_kv_int(body, "part_size_min", (int64_t)store_blob_part_size_min(blob_of(cc)));
    } else {
        (void)store_blob_mp_abort(blob_of(cc), key, upload); /* else the sweeper's */
    }
    PQclear(res);
    return err;
}

/* ---------------------------------------------------------------- part -- */

static const char sql_pending[] = "SELECT storage_key, upload_id FROM files"
                                  " WHERE id = $1::uuid AND owner_id = $2::uuid"
                                  " AND status = 'pending' AND upload_id IS NOT NULL";

/* Records a part, unless the upload went meanwhile (no row: not_found). */
static const char sql_part[] =
    "INSERT INTO file_parts (file_id, part_no, etag, size)"
    " SELECT id, $2::integer, $3, $4::bigint FROM files"
    "  WHERE id = $1::uuid AND status = 'pending'"
    " ON CONFLICT (file_id, part_no) DO UPDATE SET etag = EXCLUDED.etag, size = EXCLUDED.size"
    " RETURNING part_no";

/* The actor's pending upload `id`: its key and upload id. */
static proto_err_t find_pending(const proto_call_ctx_t *cc, const proto_request_t *req,
                                const char *id, const char *actor, char *key, char *upload)
{
    const char *vals[] = {id, actor};
    const store_query_t q = {.sql = sql_pending, .nparams = 2, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    proto_err_t err = query(cc, req, &q, NULL, 2, &res);
    if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    if (err == PROTO_OK) {
        snprintf(key, CAP_KEY, "%s", PQgetvalue(res, 0, 0));
        snprintf(upload, CAP_UPLOAD, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return err;
}

proto_err_t store_files_part(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP], actor[STORE_UUID_CAP], key[CAP_KEY], upload[CAP_UPLOAD];
    char etag[STORE_BLOB_ETAG_MAX + 1], no_txt[STORE_INT_CAP], size_txt[STORE_INT_CAP];
    const char *no = NULL, *data = NULL;
    int64_t part_no = 0;
    int len = 0;
    proto_err_t err;
    /* part_no 1..PROTO_FILE_PARTS_MAX, data 1..PROTO_FILE_PART_MAX bytes (the catalogue) */
    if ((err = ids(req, id, actor, fail)) != PROTO_OK ||
        (err = store_sql_int(req, "part_no", no_txt, &no, &part_no, fail)) != PROTO_OK ||
        (err = store_sql_bin(req, "data", &data, &len, fail)) != PROTO_OK ||
        (err = find_pending(cc, req, id, actor, key, upload)) != PROTO_OK)
        return err;
    int rc = store_blob_mp_part(blob_of(cc), key, upload, (int)part_no, data, (size_t)len, etag,
                                sizeof etag);
    if (rc != STORE_BLOB_OK)
        return blob_fail(req, rc, fail);
    const char *vals[] = {id, no, etag, store_sql_int_text(len, size_txt)};
    const store_query_t q = {.sql = sql_part, .nparams = 4, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = query(cc, req, &q, map_no_user, 1, &res);
    if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND; /* aborted while the part was stored */
    if (err == PROTO_OK) {
        msgpack_pack_map(body, 2);
        proto_pack_kv_int(body, "part_no", part_no);
        proto_pack_kv_int(body, "size", len);
    }
    PQclear(res);
    return err;
}

/* ----------------------------------------------------- abort, complete -- */

static const char sql_drop_pending[] =
    "DELETE FROM files WHERE id = $1::uuid AND status = 'pending'";

/* Aborts the upload, then drops the row (and its parts). */
static proto_err_t abort_upload(const proto_call_ctx_t *cc, const proto_request_t *req,
                                const char *id, const char *key, const char *upload,
                                proto_fail_t *fail)
{
    int rc = upload[0] ? store_blob_mp_abort(blob_of(cc), key, upload) : STORE_BLOB_OK;
    if (rc != STORE_BLOB_OK && rc != STORE_BLOB_NOT_FOUND)
        return blob_fail(req, rc, fail);
    const char *vals[] = {id};
    const store_query_t q = {
        .sql = sql_drop_pending, .nparams = 1, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    proto_err_t err = store_sql_run(cc, req, &q, NULL, &res);
    PQclear(res);
    return err;
}

proto_err_t store_files_abort(const proto_call_ctx_t *cc, const proto_request_t *req,
                              msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP], actor[STORE_UUID_CAP], key[CAP_KEY], upload[CAP_UPLOAD];
    proto_err_t err = ids(req, id, actor, fail);
    if (err == PROTO_OK)
        err = find_pending(cc, req, id, actor, key, upload);
    if (err == PROTO_OK)
        err = abort_upload(cc, req, id, key, upload, fail);
    if (err == PROTO_ERR_NOT_FOUND)
        err = PROTO_OK; /* nothing (left) to abort: idempotent */
    if (err == PROTO_OK)
        msgpack_pack_map(body, 0);
    return err;
}

/* The actor's file `id` in any state: status, key, upload id, then the File. */
static const char sql_own[] = "SELECT status, storage_key, coalesce(upload_id, ''), " FILE_COLS
                              " FROM files WHERE id = $1::uuid AND owner_id = $2::uuid";

static const char sql_parts[] = "SELECT part_no, etag, size FROM file_parts"
                                " WHERE file_id = $1::uuid ORDER BY part_no";

static const char sql_ready[] =
    "WITH p AS (DELETE FROM file_parts WHERE file_id = $1::uuid)"
    " UPDATE files SET status = 'ready', size = $2::bigint, sha256 = $3, upload_id = NULL"
    " WHERE id = $1::uuid AND status = 'pending' RETURNING " FILE_COLS;

typedef struct {
    char id[STORE_UUID_CAP], actor[STORE_UUID_CAP];
    char key[CAP_KEY], upload[CAP_UPLOAD];
    int64_t size;
    char sha256[CAP_SHA256];
} complete_t;

/* Lower-cases a hex SHA-256 in place; -1 when it is not 64 hex digits. */
static int normalise_sha256(char *s)
{
    if (strlen(s) != PROTO_B_HEX256 || strspn(s, "0123456789abcdefABCDEF") != PROTO_B_HEX256)
        return -1;
    for (char *p = s; *p; p++) {
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    }
    return 0;
}

/* Checks the recorded parts against the announced size: 1..n without a
 * gap, every part but the last at least the store's minimum, sizes adding
 * up. Fills `parts` (borrowing ETags from `res`). NULL when fine, else why. */
static const char *check_parts(const PGresult *res, uint64_t min_part, int64_t size,
                               store_blob_part_t *parts)
{
    int n = PQntuples(res);
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        parts[i].part_no = (int)store_sql_i64(res, i, 0);
        parts[i].etag = PQgetvalue(res, i, 1);
        parts[i].size = (uint64_t)store_sql_i64(res, i, 2);
        if (parts[i].part_no != i + 1)
            return "parts must be numbered 1..n without a gap";
        if (i + 1 < n && parts[i].size < min_part)
            return "a part other than the last is smaller than part_size_min";
        sum += (int64_t)parts[i].size;
    }
    return sum == size ? NULL : "the parts do not add up to size";
}

/* Publishes the object of `c` from its recorded parts. */
static proto_err_t publish(const proto_call_ctx_t *cc, const proto_request_t *req,
                           const complete_t *c, proto_fail_t *fail)
{
    const char *vals[] = {c->id};
    const store_query_t q = {.sql = sql_parts, .nparams = 1, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    store_blob_part_t *parts = NULL;
    store_blob_t *blob = blob_of(cc);
    proto_err_t err = query(cc, req, &q, NULL, 3, &res);
    if (err != PROTO_OK)
        return err;
    int n = PQntuples(res);
    if (n > 0 && !(parts = calloc((size_t)n, sizeof *parts))) {
        PQclear(res);
        return store_sql_internal(req, "out of memory");
    }
    const char *why = check_parts(res, store_blob_part_size_min(blob), c->size, parts);
    int rc = STORE_BLOB_OK;
    if (!why && n == 0) { /* an empty file: no upload to complete, an empty object */
        (void)store_blob_mp_abort(blob, c->key, c->upload);
        rc = store_blob_put(blob, c->key, NULL, 0);
    } else if (!why) {
        rc = store_blob_mp_complete(blob, c->key, c->upload, parts, (size_t)n);
        uint64_t have = 0;
        if (rc == STORE_BLOB_NOT_FOUND && store_blob_head(blob, c->key, &have) == STORE_BLOB_OK &&
            have == (uint64_t)c->size)
            rc = STORE_BLOB_OK; /* completed before, the answer was lost */
    }
    free(parts);
    PQclear(res);
    if (why || rc == STORE_BLOB_REJECTED || rc == STORE_BLOB_NOT_FOUND) {
        (void)abort_upload(cc, req, c->id, c->key, c->upload, fail);
        return bad_request(fail, why ? why
                                 : rc == STORE_BLOB_NOT_FOUND
                                     ? "the upload is gone from the store"
                                     : "the object store refused the parts");
    }
    return rc == STORE_BLOB_OK ? PROTO_OK : blob_fail(req, rc, fail);
}

/* Runs sql_own; PROTO_OK with a row in *res, or not_found. */
static proto_err_t find_own(const proto_call_ctx_t *cc, const proto_request_t *req,
                            const complete_t *c, PGresult **res)
{
    const char *vals[] = {c->id, c->actor};
    const store_query_t q = {.sql = sql_own, .nparams = 2, .values = vals, .idempotent = true};
    proto_err_t err = query(cc, req, &q, NULL, 3 + FILE_NCOLS, res);
    if (err == PROTO_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        err = PROTO_ERR_NOT_FOUND;
    }
    return err;
}

/* Turns the row ready and packs the File; a row gone meanwhile (aborted)
 * takes the object with it; a row another call completed is packed. */
static proto_err_t mark_ready(const proto_call_ctx_t *cc, const proto_request_t *req,
                              const complete_t *c, msgpack_packer *body)
{
    char size_txt[STORE_INT_CAP];
    const char *vals[] = {c->id, store_sql_int_text(c->size, size_txt), c->sha256};
    const store_query_t q = {.sql = sql_ready, .nparams = 3, .values = vals};
    PGresult *res = NULL;
    proto_err_t err = query(cc, req, &q, NULL, FILE_NCOLS, &res);
    if (err == PROTO_OK && PQntuples(res) == 1) {
        err = pack_file(req, body, res, 0, 0);
    } else if (err == PROTO_OK) {
        PQclear(res);
        res = NULL;
        err = find_own(cc, req, c, &res);
        if (err == PROTO_OK && strcmp(PQgetvalue(res, 0, 0), "ready") == 0)
            err = pack_file(req, body, res, 0, 3);
        else if (err == PROTO_OK || err == PROTO_ERR_NOT_FOUND) {
            (void)store_blob_delete(blob_of(cc), c->key);
            err = PROTO_ERR_NOT_FOUND;
        }
    }
    PQclear(res);
    return err;
}

proto_err_t store_files_complete(const proto_call_ctx_t *cc, const proto_request_t *req,
                                 msgpack_packer *body, proto_fail_t *fail)
{
    complete_t c;
    PGresult *res = NULL;
    const proto_int_arg_t ints[] = {{"size", &c.size, NULL}}; /* >= 0 (the catalogue) */
    const proto_str_arg_t strs[] = {{"sha256", c.sha256, sizeof c.sha256, NULL}};
    proto_err_t err;
    c.size = 0;
    if ((err = ids(req, c.id, c.actor, fail)) != PROTO_OK ||
        (err = proto_body_ints(req, ints, 1, fail)) != PROTO_OK ||
        (err = proto_body_strs(req, strs, 1, fail)) != PROTO_OK)
        return err;
    if (normalise_sha256(c.sha256) != 0)
        return bad_request(fail, "sha256 must be 64 hex digits");
    if ((err = find_own(cc, req, &c, &res)) != PROTO_OK)
        return err;
    if (strcmp(PQgetvalue(res, 0, 0), "ready") == 0) { /* completed before: the same File */
        err = pack_file(req, body, res, 0, 3);
        PQclear(res);
        return err;
    }
    snprintf(c.key, sizeof c.key, "%s", PQgetvalue(res, 0, 1));
    snprintf(c.upload, sizeof c.upload, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    err = publish(cc, req, &c, fail);
    return err == PROTO_OK ? mark_ready(cc, req, &c, body) : err;
}

/* ------------------------------------------------------------ get, list -- */

static const char sql_get[] =
    "SELECT " FILE_COLS " FROM files WHERE id = $1::uuid AND " FILE_VISIBLE("$2", "$3");

proto_err_t store_files_get(const proto_call_ctx_t *cc, const proto_request_t *req,
                            msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP];
    scope_t s;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK ||
        (err = file_scope(req, &s, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {id, s.actor, s.all};
    const store_query_t q = {.sql = sql_get, .nparams = 3, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = query(cc, req, &q, NULL, FILE_NCOLS, &res);
    if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    if (err == PROTO_OK)
        err = pack_file(req, body, res, 0, 0);
    PQclear(res);
    return err;
}

/* The total and the page in one snapshot, newest first; an empty page is
 * one row of NULLs with the total. */
static const char sql_list[] = "WITH total AS (SELECT count(*) AS n FROM files WHERE " FILE_VISIBLE(
    "$3", "$4") "),"
                " page AS (SELECT " FILE_COLS ", created_at AS sort_at FROM files"
                "          WHERE " FILE_VISIBLE(
                    "$3", "$4") " ORDER BY created_at DESC, id DESC"
                                "          LIMIT $1::bigint OFFSET $2::bigint)"
                                " SELECT page.*, total.n FROM total LEFT JOIN page ON true"
                                " ORDER BY page.sort_at DESC, page.id DESC";

static proto_err_t pack_list(const proto_request_t *req, msgpack_packer *pk, const PGresult *res,
                             int64_t page, int64_t per_page)
{
    int rows = PQntuples(res);
    int64_t total = rows > 0 ? store_sql_i64(res, 0, FILE_NCOLS + 1) : 0;
    int files = rows > 0 && !PQgetisnull(res, 0, 0) ? rows : 0;
    proto_err_t err = PROTO_OK;
    msgpack_pack_map(pk, 5);
    proto_pack_cstr(pk, "files");
    msgpack_pack_array(pk, (size_t)files);
    for (int i = 0; i < files && err == PROTO_OK; i++)
        err = pack_file(req, pk, res, i, 0);
    proto_pack_kv_int(pk, "total", total);
    proto_pack_kv_int(pk, "page", page);
    proto_pack_kv_int(pk, "per_page", per_page);
    proto_pack_kv_int(pk, "pages", total / per_page + (total % per_page != 0));
    return err;
}

proto_err_t store_files_list(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail)
{
    int64_t page = 0, per_page = 0, offset = 0;
    char limit_txt[STORE_INT_CAP], offset_txt[STORE_INT_CAP];
    scope_t s;
    /* page >= 1, per_page 1..PROTO_PER_PAGE_MAX (the catalogue) */
    const proto_int_arg_t ints[] = {{"page", &page, NULL}, {"per_page", &per_page, NULL}};
    proto_err_t err = file_scope(req, &s, fail);
    if (err == PROTO_ERR_NOT_FOUND)
        return bad_request(fail, "actor_id must be a UUID");
    if (err != PROTO_OK || (err = proto_body_ints(req, ints, 2, fail)) != PROTO_OK)
        return err;
    if (__builtin_mul_overflow(page - 1, per_page, &offset))
        return bad_request(fail, "page out of range");
    const char *vals[] = {store_sql_int_text(per_page, limit_txt),
                          store_sql_int_text(offset, offset_txt), s.actor, s.all};
    const store_query_t q = {.sql = sql_list, .nparams = 4, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = query(cc, req, &q, NULL, FILE_NCOLS + 2, &res);
    if (err == PROTO_OK)
        err = pack_list(req, body, res, page, per_page);
    PQclear(res);
    return err;
}

/* ---------------------------------------------------------- read, delete -- */

static const char sql_read[] = "SELECT storage_key, size, sha256 FROM files"
                               " WHERE id = $1::uuid AND " FILE_VISIBLE("$2", "$3");

/* Packs the reply of a read of `want` bytes at `offset`, the object's
 * bytes read straight into it (no copy of up to PROTO_FILE_READ_MAX bytes
 * on the way). */
static proto_err_t pack_read(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *pk, const PGresult *res, int64_t offset, size_t want,
                             proto_fail_t *fail)
{
    msgpack_pack_map(pk, 3);
    proto_pack_cstr(pk, "data");
    char *dst = proto_pack_bin_reserve(pk, want);
    if (!dst)
        return store_sql_internal(req, "out of memory");
    size_t got = 0;
    uint64_t total = 0;
    int rc = want > 0 ? store_blob_get(blob_of(cc), PQgetvalue(res, 0, 0), (uint64_t)offset, dst,
                                       want, &got, &total)
                      : STORE_BLOB_OK;
    if (rc == STORE_BLOB_OK && got != want)
        rc = STORE_BLOB_NOT_FOUND; /* shorter than its row says: replaced or going */
    if (rc != STORE_BLOB_OK)
        return blob_fail(req, rc, fail); /* deleted meanwhile: not_found */
    proto_pack_kv_int(pk, "size", store_sql_i64(res, 0, 1));
    proto_pack_kv_str(pk, "sha256", store_sql_str(res, 0, 2));
    return PROTO_OK;
}

proto_err_t store_files_read(const proto_call_ctx_t *cc, const proto_request_t *req,
                             msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP];
    int64_t offset = 0, length = 0;
    scope_t s;
    /* offset >= 0, length 1..PROTO_FILE_READ_MAX (the catalogue) */
    const proto_int_arg_t ints[] = {{"offset", &offset, NULL}, {"length", &length, NULL}};
    proto_err_t err;
    if ((err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK ||
        (err = file_scope(req, &s, fail)) != PROTO_OK ||
        (err = proto_body_ints(req, ints, 2, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {id, s.actor, s.all};
    const store_query_t q = {.sql = sql_read, .nparams = 3, .values = vals, .idempotent = true};
    PGresult *res = NULL;
    err = query(cc, req, &q, NULL, 3, &res);
    if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    if (err == PROTO_OK) {
        int64_t size = store_sql_i64(res, 0, 1);
        size_t want =
            offset >= size ? 0 : (size_t)(size - offset < length ? size - offset : length);
        err = pack_read(cc, req, body, res, offset, want, fail);
    }
    PQclear(res);
    return err;
}

static const char sql_delete[] =
    "DELETE FROM files WHERE id = $1::uuid AND " FILE_VISIBLE("$2", "$3") " RETURNING storage_key";

proto_err_t store_files_delete(const proto_call_ctx_t *cc, const proto_request_t *req,
                               msgpack_packer *body, proto_fail_t *fail)
{
    char id[STORE_UUID_CAP];
    scope_t s;
    proto_err_t err;
    if ((err = store_sql_uuid(req, "id", id, fail)) != PROTO_OK ||
        (err = file_scope(req, &s, fail)) != PROTO_OK)
        return err;
    const char *vals[] = {id, s.actor, s.all};
    const store_query_t q = {.sql = sql_delete, .nparams = 3, .values = vals};
    PGresult *res = NULL;
    err = query(cc, req, &q, NULL, 1, &res);
    if (err == PROTO_OK && PQntuples(res) == 0)
        err = PROTO_ERR_NOT_FOUND;
    if (err == PROTO_OK) {
        int rc = store_blob_delete(blob_of(cc), PQgetvalue(res, 0, 0));
        if (rc != STORE_BLOB_OK && rc != STORE_BLOB_NOT_FOUND)
            rt_log_fields(RT_LOG_WARNING, req->rid, "file deleted, its object left to the sweeper",
                          json_pack("{s:s}", "status", store_blob_status_str(rc)));
        msgpack_pack_map(body, 0);
    }
    PQclear(res);
    return err;
}
