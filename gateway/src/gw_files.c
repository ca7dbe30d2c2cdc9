/*
 * gw_files: uploads and downloads (see gw_files.h).
 */
#include "gw_files.h"
#include "gw_api.h"
#include "gw_fname.h"
#include "gw_multipart.h"
#include "gw_range.h"
#include "gw_rpc.h"
#include "gw_sniff.h"
#include "rt_log.h"
#include "rt_sha256.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAIL_ROOM 512 /* envelope and fields before a part's bytes */
#define READ_STEP (64 * 1024)

/* ---- small packing helpers ---- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packed_t;

static void packed_init(packed_t *p, size_t nfields)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p->pk, nfields);
}

static void packed_free(packed_t *p)
{
    msgpack_sbuffer_destroy(&p->sb);
}

/* ---- uploads ---- */

/* One store.file_part on its way: everything it points to lives here until
 * it is finished. */
typedef struct {
    gw_rpc_async_t *call;
    gw_rpc_req_t req;
    proto_reply_t rep;
    packed_t body;
    gw_rpc_tail_t tail;
    bool extra; /* holds one of the gateway-wide extra parts */
} part_t;

/* Parts in flight beyond the first of each upload, all uploads together,
 * against GW_UPLOAD_EXTRA_PARTS_MAX. */
static atomic_int extra_parts;

static bool extra_part_take(void)
{
    int used = atomic_load(&extra_parts);
    do {
        if (used >= GW_UPLOAD_EXTRA_PARTS_MAX)
            return false;
    } while (!atomic_compare_exchange_weak(&extra_parts, &used, used + 1));
    return true;
}

typedef struct {
    const gw_ctx_t *ctx;
    const gw_request_t *req;
    gw_reply_t *reply;
    char id[GW_ID_MAX + 1]; /* of the pending file, "" before store.file_begin */
    char name[GW_FNAME_MAX + 1];
    char ctype[GW_MP_TYPE_MAX + 1];
    bool checked; /* type and first bytes looked at */
    char *buf;    /* the part being filled: data from buf + TAIL_ROOM */
    size_t fill;
    int part_no;
    uint64_t total;
    rt_sha256_t *sha;
    /* The parts on their way to storesvc while the next one is read, oldest
     * first in the ring [head, head + live): one always may be, more while
     * the gateway-wide budget of extra parts lasts (gw_files.h). */
    part_t part[GW_UPLOAD_PARTS_IN_FLIGHT];
    int head, live;
} upload_t;

static void upload_fail(upload_t *u, proto_err_t err, const char *detail, const char *field)
{
    if (u->reply->err != PROTO_OK)
        return; /* the first failure is the answer */
    gw_reply_error(u->reply, err, detail);
    if (field) {
        json_decref(u->reply->errors);
        u->reply->errors = json_pack("[{s:s, s:s}]", "field", field, "message", detail);
    }
}

static void actor_kv(const upload_t *u, gw_kv_t *kv)
{
    kv[0] = (gw_kv_t){"id", u->id, false, 0};
    kv[1] = (gw_kv_t){"actor_id", u->req->principal->user_id, false, 0};
}

/* store.file_begin: the pending row and the upload. */
static int upload_begin(upload_t *u)
{
    const gw_kv_t kv[] = {
        {"actor_id", u->req->principal->user_id, false, 0},
        {"name", u->name, false, 0},
        {"content_type", u->ctype, false, 0},
    };
    json_t *ans = NULL;
    if (gw_api_call(u->ctx, u->req, GW_SVC_STORESVC, PROTO_OP_STORE_FILE_BEGIN, NULL, kv, 3, &ans,
                    u->reply) != 0)
        return -1;
    const char *id = json_string_value(json_object_get(ans, "id"));
    int rc = id && strlen(id) <= GW_ID_MAX ? 0 : -1;
    if (rc == 0)
        snprintf(u->id, sizeof u->id, "%s", id);
    else
        gw_reply_error(u->reply, PROTO_ERR_INTERNAL_ERROR, "store.file_begin without an id");
    json_decref(ans);
    return rc;
}

/* Waits for the oldest part on its way, if any. 0, or -1 with the failure
 * in the reply (unless one is there already). */
static int upload_wait_one(upload_t *u)
{
    if (u->live == 0)
        return 0;
    part_t *p = &u->part[u->head];
    proto_err_t err = gw_rpc_finish(&p->call);
    if (err != PROTO_OK && u->reply->err == PROTO_OK)
        gw_api_fail(u->reply, u->req->rid, PROTO_OP_STORE_FILE_PART, &p->rep);
    proto_reply_cleanup(&p->rep);
    packed_free(&p->body);
    free(p->tail.buf); /* NULL once ZeroMQ took it */
    p->tail.buf = NULL;
    if (p->extra)
        atomic_fetch_sub(&extra_parts, 1);
    p->extra = false;
    u->head = (u->head + 1) % GW_UPLOAD_PARTS_IN_FLIGHT;
    u->live--;
    return err == PROTO_OK ? 0 : -1;
}

/* Waits for every part on its way; the first failure is the answer. */
static int upload_wait(upload_t *u)
{
    int rc = 0;
    while (u->live > 0)
        rc |= upload_wait_one(u);
    return rc;
}

/* Room for one more part on its way: a free slot, and beyond the first
 * part one of the gateway-wide extra ones, else the oldest finished. */
static int upload_room(upload_t *u, bool *extra)
{
    *extra = false;
    while (u->live > 0) {
        if (u->live < GW_UPLOAD_PARTS_IN_FLIGHT && extra_part_take()) {
            *extra = true;
            return 0;
        }
        if (upload_wait_one(u) != 0)
            return -1;
    }
    return 0;
}

/* Sends the filled buffer as the next part (the buffer goes with it) and
 * returns while it is on its way, so reading the next parts overlaps
 * storing this one. */
static int upload_part(upload_t *u)
{
    bool extra = false;
    if ((!u->id[0] && upload_begin(u) != 0) || upload_room(u, &extra) != 0)
        return -1;
    part_t *p = &u->part[(u->head + u->live) % GW_UPLOAD_PARTS_IN_FLIGHT];
    p->extra = extra;
    packed_init(&p->body, 4);
    proto_pack_kv_str(&p->body.pk, "id", u->id);
    proto_pack_kv_str(&p->body.pk, "actor_id", u->req->principal->user_id);
    proto_pack_kv_int(&p->body.pk, "part_no", ++u->part_no);
    proto_pack_cstr(&p->body.pk, "data");
    msgpack_pack_bin(&p->body.pk, u->fill); /* its bytes are already in the tail */
    p->tail = (gw_rpc_tail_t){u->buf, TAIL_ROOM, u->fill};
    u->buf = NULL;
    u->fill = 0;
    p->req = (gw_rpc_req_t){.pool = u->ctx->storesvc,
                            .op = PROTO_OP_STORE_FILE_PART,
                            .body = p->body.sb.data,
                            .body_len = p->body.sb.size,
                            .timeout_ms = (int)u->ctx->cfg->file_timeout_ms,
                            .reply = &p->rep,
                            .tail = &p->tail};
    proto_reply_init(&p->rep);
    u->live++; /* from here on upload_wait_one releases it, the failure too */
    if (!(p->call = gw_rpc_start(&p->req, u->req->rid))) {
        upload_fail(u, PROTO_ERR_UNAVAILABLE, "Out of memory", NULL);
        return -1;
    }
    return 0;
}

static void upload_abort(upload_t *u)
{
    (void)upload_wait(u); /* the parts on their way first: then nothing more arrives */
    if (!u->id[0])
        return;
    gw_kv_t kv[2];
    actor_kv(u, kv);
    gw_reply_t scratch;
    gw_reply_init(&scratch);
    json_t *ans = NULL;
    if (gw_api_call(u->ctx, u->req, GW_SVC_STORESVC, PROTO_OP_STORE_FILE_ABORT, NULL, kv, 2, &ans,
                    &scratch) != 0)
        rt_warn(u->req->rid, "store.file_abort failed: the sweeper will remove file %s", u->id);
    json_decref(ans);
    gw_reply_cleanup(&scratch);
}

/* The type and the first bytes, before anything is stored. */
static int upload_check(upload_t *u)
{
    const char *allowed = u->ctx->cfg->upload_allowed_types;
    u->checked = true;
    if (!gw_sniff_type_allowed(u->ctype, allowed)) {
        upload_fail(u, PROTO_ERR_UNSUPPORTED_MEDIA_TYPE, "This file type is not accepted", NULL);
        return -1;
    }
    if (gw_sniff_is_markup(u->buf + TAIL_ROOM, u->fill) && !gw_sniff_type_is_active(u->ctype)) {
        upload_fail(u, PROTO_ERR_UNSUPPORTED_MEDIA_TYPE,
                    "The content does not match its declared type", NULL);
        return -1;
    }
    return 0;
}

/* File bytes from the body (raw) or the form's file part. */
static int upload_put(upload_t *u, const char *data, size_t n)
{
    const gw_config_t *cfg = u->ctx->cfg;
    if (u->total + n > (uint64_t)cfg->max_upload_bytes) {
        upload_fail(u, PROTO_ERR_PAYLOAD_TOO_LARGE, "The file is too large", NULL);
        return -1;
    }
    u->total += n;
    if (rt_sha256_update(u->sha, data, n) != 0) {
        upload_fail(u, PROTO_ERR_INTERNAL_ERROR, "hashing failed", NULL);
        return -1;
    }
    while (n > 0) {
        if (!u->buf && !(u->buf = malloc(TAIL_ROOM + GW_UPLOAD_PART_BYTES))) {
            upload_fail(u, PROTO_ERR_UNAVAILABLE, "Out of memory", NULL);
            return -1;
        }
        size_t take = GW_UPLOAD_PART_BYTES - u->fill;
        take = take < n ? take : n;
        memcpy(u->buf + TAIL_ROOM + u->fill, data, take);
        u->fill += take;
        data += take;
        n -= take;
        if (!u->checked && u->fill >= GW_SNIFF_BYTES && upload_check(u) != 0)
            return -1;
        if (u->fill == GW_UPLOAD_PART_BYTES && upload_part(u) != 0)
            return -1;
    }
    return 0;
}

/* The last part and store.file_complete; the answer is the File. */
static int upload_finish(upload_t *u)
{
    if (u->total == 0) {
        upload_fail(u, PROTO_ERR_VALIDATION_ERROR, "The file is empty", "file");
        return -1;
    }
    if (!u->checked && upload_check(u) != 0)
        return -1;
    if ((u->fill > 0 && upload_part(u) != 0) || upload_wait(u) != 0)
        return -1;
    unsigned char digest[RT_SHA256_BYTES];
    char hex[RT_SHA256_HEX];
    if (rt_sha256_final(u->sha, digest) != 0) {
        upload_fail(u, PROTO_ERR_INTERNAL_ERROR, "hashing failed", NULL);
        return -1;
    }
    rt_sha256_hex(digest, hex);
    const gw_kv_t kv[] = {
        {"id", u->id, false, 0},
        {"actor_id", u->req->principal->user_id, false, 0},
        {"size", NULL, true, (int64_t)u->total},
        {"sha256", hex, false, 0},
    };
    json_t *ans = NULL;
    if (gw_api_call_within(u->ctx, u->req, GW_SVC_STORESVC, PROTO_OP_STORE_FILE_COMPLETE, NULL, kv,
                           4, &ans, u->reply, (int)u->ctx->cfg->file_timeout_ms) != 0)
        return -1;
    const gw_call_t created = {.shape = gw_shape_file, .status = 201};
    gw_api_answer(u->ctx, &created, ans, u->reply);
    json_decref(ans);
    u->id[0] = '\0'; /* ready: nothing to abort any more */
    return 0;
}

static int stream_failed(upload_t *u, gw_stream_err_t e)
{
    static const struct {
        gw_stream_err_t e;
        proto_err_t err;
        const char *detail;
    } rows[] = {
        {GW_STREAM_CLOSED, PROTO_ERR_BAD_REQUEST, "The upload did not complete"},
        {GW_STREAM_TIMEOUT, PROTO_ERR_REQUEST_TIMEOUT, "The upload was not received in time"},
        {GW_STREAM_BAD, PROTO_ERR_BAD_REQUEST, "Malformed chunked request body"},
        {GW_STREAM_BUSY, PROTO_ERR_UNAVAILABLE, "Too many requests in progress"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].e == e)
            upload_fail(u, rows[i].err, rows[i].detail, NULL);
    return -1;
}

/* A raw body: the file itself. */
static int upload_raw(upload_t *u)
{
    char chunk[READ_STEP];
    for (;;) {
        gw_stream_err_t e;
        long n = gw_stream_read(u->req->stream, chunk, sizeof chunk, &e);
        if (n < 0)
            return stream_failed(u, e);
        if (n == 0)
            return upload_finish(u);
        if (upload_put(u, chunk, (size_t)n) != 0)
            return -1;
    }
}

/* One event of the form; 1 when the form is over. */
static int form_event(upload_t *u, gw_multipart_t *mp, gw_mp_status_t st, const char *d, size_t dl,
                      int *files)
{
    switch (st) {
    case GW_MP_PART:
        if (strcmp(mp->name, "file") != 0 || !mp->has_filename || ++*files > 1) {
            upload_fail(u, PROTO_ERR_VALIDATION_ERROR,
                        *files > 1 ? "Only one file per upload" : "Unexpected form field", "file");
            return -1;
        }
        if (!u->name[0])
            gw_fname_sanitise(mp->filename, strlen(mp->filename), u->name, sizeof u->name);
        snprintf(u->ctype, sizeof u->ctype, "%s",
                 mp->content_type[0] ? mp->content_type : "application/octet-stream");
        return 0;
    case GW_MP_DATA:
        return upload_put(u, d, dl);
    case GW_MP_DONE:
        return 1;
    case GW_MP_BAD:
        upload_fail(u, PROTO_ERR_BAD_REQUEST, "Malformed multipart body", NULL);
        return -1;
    default:
        return 0;
    }
}

/* A multipart/form-data body with one "file" part. */
static int upload_form(upload_t *u)
{
    gw_multipart_t *mp = malloc(sizeof *mp); /* 10 KiB: not on the coroutine's stack */
    char chunk[READ_STEP];
    int files = 0, rc = -1;
    if (!mp || gw_multipart_init(mp, u->req->content_type) != 0) {
        upload_fail(u, PROTO_ERR_BAD_REQUEST, "Malformed multipart Content-Type", NULL);
        goto cleanup;
    }
    for (;;) {
        gw_stream_err_t e;
        long n = gw_stream_read(u->req->stream, chunk, sizeof chunk, &e);
        if (n < 0) {
            stream_failed(u, e);
            goto cleanup;
        }
        if (n == 0) {
            upload_fail(u, PROTO_ERR_BAD_REQUEST, "The multipart body has no closing boundary",
                        NULL);
            goto cleanup;
        }
        for (size_t off = 0; off < (size_t)n;) {
            size_t used, dl;
            const char *d;
            gw_mp_status_t st = gw_multipart_next(mp, chunk + off, (size_t)n - off, &used, &d, &dl);
            off += used;
            int ev = form_event(u, mp, st, d, dl, &files);
            if (ev < 0)
                goto cleanup;
            if (ev > 0) {
                if (files == 0) {
                    upload_fail(u, PROTO_ERR_VALIDATION_ERROR, "The form has no file part", "file");
                    goto cleanup;
                }
                rc = upload_finish(u);
                goto cleanup;
            }
            if (used == 0 && st == GW_MP_MORE)
                break;
        }
    }
cleanup:
    free(mp);
    return rc;
}

/* The "name" query parameter, sanitised; 0 absent, 1 found, -1 malformed. */
static int query_name(const char *q, char *out, size_t cap)
{
    int found = 0;
    while (q && *q) {
        size_t n = strcspn(q, "&");
        if (n > 5 && strncmp(q, "name=", 5) == 0) {
            char raw[GW_FNAME_IN_MAX * 3 + 1];
            long len = gw_fname_unescape(q + 5, n - 5, raw, sizeof raw);
            if (len < 0 || found++)
                return -1; /* malformed, too long, or given twice */
            gw_fname_sanitise(raw, (size_t)len, out, cap);
        }
        q += n + (q[n] == '&');
    }
    return found;
}

void gw_files_upload(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    upload_t *u = calloc(1, sizeof *u);
    if (!u || !req->principal || !req->stream) {
        free(u);
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "upload without its context");
        return;
    }
    *u = (upload_t){.ctx = ctx, .req = req, .reply = reply, .sha = rt_sha256_new()};
    if (!u->sha) {
        free(u);
        gw_reply_error(reply, PROTO_ERR_UNAVAILABLE, "Out of memory");
        return;
    }
    bool form = gw_multipart_is_form(req->content_type);
    int named = query_name(req->query, u->name, sizeof u->name);
    if (named < 0) {
        upload_fail(u, PROTO_ERR_BAD_REQUEST, "Malformed name parameter", NULL);
    } else if (!form && named == 0) {
        upload_fail(u, PROTO_ERR_VALIDATION_ERROR, "A name is required (?name=)", "name");
    } else if (!form && gw_sniff_bare_type(req->content_type, u->ctype, sizeof u->ctype) != 0) {
        upload_fail(u, PROTO_ERR_UNSUPPORTED_MEDIA_TYPE, "A Content-Type is required", NULL);
    } else if (!form && !gw_sniff_type_allowed(u->ctype, ctx->cfg->upload_allowed_types)) {
        upload_fail(u, PROTO_ERR_UNSUPPORTED_MEDIA_TYPE, "This file type is not accepted", NULL);
    } else if (gw_stream_length(req->stream) == 0) {
        upload_fail(u, PROTO_ERR_VALIDATION_ERROR, "The file is empty", "file");
    } else if ((form ? upload_form(u) : upload_raw(u)) != 0) {
        upload_abort(u);
    }
    rt_sha256_destroy(u->sha);
    free(u->buf);
    free(u);
}

/* ---- downloads ---- */

typedef struct {
    const gw_ctx_t *ctx;
    const gw_request_t *req;
    gw_reply_t *reply;
    const char *id;
    char role[GW_ROLE_MAX + 1];
} download_t;

/* One store.file_read on its way: everything it points to lives here
 * until it is finished. */
typedef struct {
    packed_t body;
    proto_reply_t rep;
    gw_rpc_req_t req;
    gw_rpc_async_t *call;
    uint64_t off;
    size_t want;
    bool budgeted; /* read ahead: its bytes count against readahead_used */
} chunk_t;

/* Bytes of all downloads' read-ahead chunks in flight or waiting, against
 * GATEWAY_DOWNLOAD_READAHEAD_MIB: one counter for the whole process (every
 * event loop), so that many slow clients cannot make the gateway hold more
 * than the budget beyond one chunk each. */
static atomic_uint_fast64_t readahead_used;

double gw_files_readahead_bytes(void *arg)
{
    (void)arg;
    return (double)atomic_load(&readahead_used);
}

static bool readahead_take(const download_t *d, size_t n)
{
    uint64_t budget = (uint64_t)d->ctx->cfg->readahead_mib * 1024u * 1024u;
    uint64_t used = atomic_load(&readahead_used);
    do {
        if (used + n > budget)
            return false;
    } while (!atomic_compare_exchange_weak(&readahead_used, &used, used + n));
    return true;
}

/* Starts the read of [off, off + want). */
static void chunk_start(download_t *d, chunk_t *c, uint64_t off, size_t want)
{
    c->off = off;
    c->want = want;
    packed_init(&c->body, 5);
    proto_pack_kv_str(&c->body.pk, "id", d->id);
    proto_pack_kv_str(&c->body.pk, "actor_id", d->req->principal->user_id);
    proto_pack_kv_str(&c->body.pk, "actor_role", d->req->principal->role);
    proto_pack_kv_int(&c->body.pk, "offset", (int64_t)off);
    proto_pack_kv_int(&c->body.pk, "length", (int64_t)want);
    c->req = (gw_rpc_req_t){.pool = d->ctx->storesvc,
                            .op = PROTO_OP_STORE_FILE_READ,
                            .body = c->body.sb.data,
                            .body_len = c->body.sb.size,
                            .timeout_ms = (int)d->ctx->cfg->file_timeout_ms,
                            .reply = &c->rep};
    proto_reply_init(&c->rep);
    c->call = gw_rpc_start(&c->req, d->req->rid);
}

/* Waits for the read; 0 with its bytes, or -1 with the failure in the
 * download's reply. The chunk must be released with chunk_release. */
static int chunk_wait(download_t *d, chunk_t *c, const char **data, size_t *got)
{
    proto_err_t err = c->call ? gw_rpc_finish(&c->call) : PROTO_ERR_UNAVAILABLE;
    if (err != PROTO_OK) {
        gw_api_fail(d->reply, d->req->rid, PROTO_OP_STORE_FILE_READ, &c->rep);
        return -1;
    }
    const msgpack_object *bin = proto_map_get(c->rep.body, "data");
    if (!bin || bin->type != MSGPACK_OBJECT_BIN || bin->via.bin.size != c->want) {
        rt_warn(d->req->rid, "file %s: a read came back short or malformed", d->id);
        gw_reply_error(d->reply, PROTO_ERR_NOT_FOUND, NULL);
        return -1;
    }
    *data = bin->via.bin.ptr;
    *got = bin->via.bin.size;
    return 0;
}

static void chunk_release(chunk_t *c)
{
    if (c->call)
        (void)gw_rpc_finish(&c->call); /* nothing may still point here */
    proto_reply_cleanup(&c->rep);
    packed_free(&c->body);
    if (c->budgeted)
        atomic_fetch_sub(&readahead_used, (uint64_t)c->want);
    c->budgeted = false;
}

/* The next read at `off` of a range that started at `first`: as long as
 * all before it (at least GW_DOWNLOAD_FIRST_CHUNK_BYTES, at most
 * GW_DOWNLOAD_CHUNK_BYTES), so sizes double up to the full chunk. A small
 * first read gets the first bytes to the client soon; the store answers
 * the reads in flight together, so with full-size ones from the start the
 * client would wait for several chunks' worth of bytes before its first. */
static size_t chunk_len(uint64_t first, uint64_t off, uint64_t end)
{
    uint64_t n = off - first;
    if (n < GW_DOWNLOAD_FIRST_CHUNK_BYTES)
        n = GW_DOWNLOAD_FIRST_CHUNK_BYTES;
    if (n > GW_DOWNLOAD_CHUNK_BYTES)
        n = GW_DOWNLOAD_CHUNK_BYTES;
    return end - off < n ? (size_t)(end - off) : (size_t)n;
}

/* Starts reads into the free slots of the ring [*head, *head + *live)
 * while the range lasts: the first chunk always, more only while the
 * read-ahead budget allows. */
static void fill_slots(download_t *d, chunk_t *slot, int nslots, int head, int *live,
                       uint64_t first, uint64_t *next, uint64_t end)
{
    while (*live < nslots && *next < end) {
        size_t n = chunk_len(first, *next, end);
        bool ahead = *live > 0;
        if (ahead && !readahead_take(d, n))
            return;
        chunk_t *c = &slot[(head + *live) % nslots];
        chunk_start(d, c, *next, n);
        c->budgeted = ahead;
        *next += n;
        (*live)++;
    }
}

/* Streams [first, last], the oldest chunk written while the next ones are
 * read (gw_files.h); the first one is read before the response starts, so
 * a file deleted meanwhile is still a clean 404. */
static void send_range(download_t *d, int status, uint64_t first, uint64_t last, uint64_t size,
                       const char *ctype, const gw_stream_header_t *hdrs, size_t nh)
{
    enum { SLOTS = GW_DOWNLOAD_READS_AHEAD + 1 };
    uint64_t length = size ? last - first + 1 : 0, end = first + length, next = first;
    gw_stream_err_t e;
    if (length == 0 || d->req->head) {
        (void)gw_stream_start(d->req->stream, status, ctype, length, hdrs, nh, &e);
        return;
    }
    chunk_t slot[SLOTS];
    memset(slot, 0, sizeof slot);
    int head = 0, live = 0;
    bool started = false;
    fill_slots(d, slot, SLOTS, head, &live, first, &next, end);
    while (live > 0) {
        chunk_t *cur = &slot[head];
        const char *data;
        size_t got;
        int rc = chunk_wait(d, cur, &data, &got);
        if (rc != 0) {
            if (started)
                rt_warn(d->req->rid, "download of %s cut short: %s", d->id,
                        proto_err_code(d->reply->err));
        } else {
            rc = started ? 0 : gw_stream_start(d->req->stream, status, ctype, length, hdrs, nh, &e);
            started = true;
            if (rc == 0)
                rc = gw_stream_write(d->req->stream, data, got, &e);
        }
        chunk_release(cur);
        head = (head + 1) % SLOTS;
        live--;
        if (rc != 0)
            break; /* before the start the reply is the answer; after it the client
                      went away and gw_http closes the connection */
        fill_slots(d, slot, SLOTS, head, &live, first, &next, end);
    }
    for (; live > 0; live--, head = (head + 1) % SLOTS)
        chunk_release(&slot[head]); /* nothing may still point at a slot */
}

void gw_files_content(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    download_t d = {ctx, req, reply, gw_request_param(req, "id"), ""};
    const gw_kv_t kv[] = {
        {"id", d.id, false, 0},
        {"actor_id", req->principal->user_id, false, 0},
        {"actor_role", req->principal->role, false, 0},
    };
    json_t *meta = NULL;
    if (!d.id || strlen(d.id) > GW_ID_MAX ||
        strspn(d.id, "0123456789abcdefABCDEF-") != strlen(d.id)) {
        gw_reply_error(reply, PROTO_ERR_NOT_FOUND, NULL);
        return;
    }
    if (gw_api_call(ctx, req, GW_SVC_STORESVC, PROTO_OP_STORE_FILE_GET, NULL, kv, 3, &meta,
                    reply) != 0)
        return;
    json_int_t size = json_integer_value(json_object_get(meta, "size"));
    const char *sha = json_string_value(json_object_get(meta, "sha256"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ctype = json_string_value(json_object_get(meta, "content_type"));
    char disposition[GW_FNAME_MAX * 3 + 64], crange[GW_CONTENT_RANGE_MAX];
    if (size < 0 || !sha || strlen(sha) > 64 || !name || !ctype ||
        gw_fname_disposition(name, disposition, sizeof disposition) != 0) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "store.file_get: malformed reply");
        json_decref(meta);
        return;
    }
    snprintf(reply->etag, sizeof reply->etag, "\"%s\"", sha);
    uint64_t first = 0, last = size ? (uint64_t)size - 1 : 0;
    int status = 200;
    if (gw_range_none_match(req->if_none_match, sha)) {
        gw_reply_json(reply, 304, NULL);
    } else {
        gw_range_status_t rs = gw_range_parse(req->range, (uint64_t)size, &first, &last);
        if (rs == GW_RANGE_UNSATISFIED) {
            snprintf(reply->content_range, sizeof reply->content_range, "bytes */%" PRId64,
                     (int64_t)size);
            gw_reply_error(reply, PROTO_ERR_RANGE_NOT_SATISFIABLE, "The range is outside the file");
        } else {
            if (rs == GW_RANGE_OK) {
                status = 206;
                snprintf(crange, sizeof crange, "bytes %" PRIu64 "-%" PRIu64 "/%" PRId64, first,
                         last, (int64_t)size);
            }
            const gw_stream_header_t hdrs[] = {
                {"Content-Disposition", disposition},
                {"Accept-Ranges", "bytes"},
                {"Content-Range", crange},
            };
            const char *served =
                gw_sniff_type_is_active(ctype) ? "application/octet-stream" : ctype;
            send_range(&d, status, first, last, (uint64_t)size, served, hdrs,
                       status == 206 ? 3 : 2);
        }
    }
    json_decref(meta);
}
