/*
 * proto_doc: renders the generated parts of proto/PROTOCOL.md from the
 * catalogue and checks the committed document against them (see the
 * header). A renderer writes one part to a FILE; the checker renders each
 * part into memory and compares it line by line with what sits between the
 * document's markers, so the report can name the first line that differs.
 */
#include "proto_doc.h"

#include "proto_rbac.h"
#include "proto_codec.h"
#include "proto_vectors.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define BEGIN_MARK "<!-- BEGIN proto_doc "
#define END_MARK   "<!-- END proto_doc "
#define KEYS_CAP   64
#define LINE_SHOWN 100 /* characters of a differing line shown in a report */

/* ---- which ops each part documents ---- */

static const char *const OP_FAMILY[PROTO_OP__COUNT] = {
    [PROTO_OP_SYS_PING] = "sys",
    [PROTO_OP_SYS_HEALTH] = "sys",
    [PROTO_OP_AUTH_REGISTER] = "auth-public",
    [PROTO_OP_AUTH_TOKEN] = "auth-public",
    [PROTO_OP_AUTH_REFRESH] = "auth-public",
    [PROTO_OP_AUTH_LOGOUT] = "auth-public",
    [PROTO_OP_AUTH_RESET_REQUEST] = "auth-public",
    [PROTO_OP_AUTH_RESET_CONFIRM] = "auth-public",
    [PROTO_OP_AUTH_AUTHORIZE] = "auth-admission",
    [PROTO_OP_AUTH_VERIFY] = "auth-admission",
    [PROTO_OP_AUTH_LOGOUT_ALL] = "auth-principal",
    [PROTO_OP_AUTH_SESSIONS] = "auth-principal",
    [PROTO_OP_AUTH_SESSION_REVOKE] = "auth-principal",
    [PROTO_OP_AUTH_UPDATE_SELF] = "auth-principal",
    [PROTO_OP_AUTH_CHANGE_PASSWORD] = "auth-principal",
    [PROTO_OP_AUTH_TOTP_SETUP] = "auth-principal",
    [PROTO_OP_AUTH_TOTP_ENABLE] = "auth-principal",
    [PROTO_OP_AUTH_TOTP_DISABLE] = "auth-principal",
    [PROTO_OP_AUTH_USER_UPDATE] = "auth-principal",
    [PROTO_OP_AUTH_USER_DELETE] = "auth-principal",
    [PROTO_OP_AUTH_STATS] = "auth-principal",
    [PROTO_OP_AUTH_APIKEY_CREATE] = "auth-principal",
    [PROTO_OP_AUTH_APIKEY_LIST] = "auth-principal",
    [PROTO_OP_AUTH_APIKEY_DELETE] = "auth-principal",
    [PROTO_OP_STORE_USER_CREATE] = "store",
    [PROTO_OP_STORE_USER_GET] = "store",
    [PROTO_OP_STORE_USER_LIST] = "store",
    [PROTO_OP_STORE_USER_FIND_LOGIN] = "store",
    [PROTO_OP_STORE_USER_AUTH_STATE] = "store",
    [PROTO_OP_STORE_USER_UPDATE] = "store",
    [PROTO_OP_STORE_USER_SET_PASSWORD] = "store",
    [PROTO_OP_STORE_USER_REVOKE_ALL] = "store",
    [PROTO_OP_STORE_USER_DELETE] = "store",
    [PROTO_OP_STORE_TOTP_GET] = "store",
    [PROTO_OP_STORE_TOTP_SETUP] = "store",
    [PROTO_OP_STORE_TOTP_ENABLE] = "store",
    [PROTO_OP_STORE_TOTP_DISABLE] = "store",
    [PROTO_OP_STORE_TOTP_USE_STEP] = "store",
    [PROTO_OP_STORE_TOTP_USE_BACKUP] = "store",
    [PROTO_OP_STORE_TOKEN_CREATE] = "store",
    [PROTO_OP_STORE_TOKEN_ROTATE] = "store",
    [PROTO_OP_STORE_TOKEN_REVOKE] = "store",
    [PROTO_OP_STORE_SESSIONS] = "store",
    [PROTO_OP_STORE_STATS] = "store",
    [PROTO_OP_STORE_RESET_CREATE] = "store",
    [PROTO_OP_STORE_RESET_CHECK] = "store",
    [PROTO_OP_STORE_RESET_CONSUME] = "store",
    [PROTO_OP_STORE_APIKEY_CREATE] = "store",
    [PROTO_OP_STORE_APIKEY_LIST] = "store",
    [PROTO_OP_STORE_APIKEY_DELETE] = "store",
    [PROTO_OP_STORE_APIKEY_LOOKUP] = "store",
    [PROTO_OP_STORE_APIKEY_TOUCH] = "store",
    [PROTO_OP_STORE_FILE_BEGIN] = "store-files",
    [PROTO_OP_STORE_FILE_PART] = "store-files",
    [PROTO_OP_STORE_FILE_COMPLETE] = "store-files",
    [PROTO_OP_STORE_FILE_ABORT] = "store-files",
    [PROTO_OP_STORE_FILE_GET] = "store-files",
    [PROTO_OP_STORE_FILE_LIST] = "store-files",
    [PROTO_OP_STORE_FILE_READ] = "store-files",
    [PROTO_OP_STORE_FILE_DELETE] = "store-files",
};

const char *proto_doc_family_of(int op)
{
    return op < 0 || op >= PROTO_OP__COUNT ? NULL : OP_FAMILY[op];
}

/* The codes any op may answer, listed once for all. */
static const proto_err_t COMMON_ERRORS[] = {PROTO_ERR_BAD_REQUEST, PROTO_ERR_INTERNAL_ERROR,
                                            PROTO_ERR_UNAVAILABLE};
#define NCOMMON (sizeof COMMON_ERRORS / sizeof COMMON_ERRORS[0])

/* ---- small writers ---- */

/* Writes s[0..n) as the text of a table cell (a '|' would end it). */
static void put_cell(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '|')
            fputc('\\', out);
        fputc(s[i], out);
    }
}

/* A memory stream for one cell or part. */
typedef struct {
    char *text;
    size_t len;
    FILE *f;
} mem_t;

static int mem_open(mem_t *m)
{
    m->text = NULL;
    m->len = 0;
    m->f = open_memstream(&m->text, &m->len);
    return m->f ? 0 : -1;
}

/* Closes the stream; m->text stays (the caller frees it). */
static int mem_close(mem_t *m)
{
    int rc = m->f && fclose(m->f) == 0 ? 0 : -1;
    m->f = NULL;
    return rc;
}

/* ---- request fields ---- */

static void put_field_type(FILE *o, const proto_field_t *f)
{
    bool nil = f->type == PROTO_T_NIL_OR_STR;
    switch (f->type) {
    case PROTO_T_STR:
    case PROTO_T_NIL_OR_STR:
        if (f->fmt == PROTO_FMT_CLIENT_IP)
            fputs("addr", o);
        else if (f->min > 0)
            fprintf(o, "str %u–%u", f->min, f->max);
        else
            fprintf(o, "str≤%u", f->max);
        if (nil)
            fputs("|nil", o);
        return;
    case PROTO_T_INT:
        if (f->lo == INT64_MIN && f->hi == INT64_MAX)
            fputs("int", o);
        else if (f->hi == INT64_MAX)
            fprintf(o, "int ≥%" PRId64, f->lo);
        else
            fprintf(o, "int %" PRId64 "–%" PRId64, f->lo, f->hi);
        return;
    case PROTO_T_BOOL:
        fputs("bool", o);
        return;
    case PROTO_T_BIN:
        if (f->min == f->max)
            fprintf(o, "bin=%u", f->max);
        else if (f->min > 0)
            fprintf(o, "bin %u–%u", f->min, f->max);
        else
            fprintf(o, "bin≤%u", f->max);
        return;
    case PROTO_T_ARRAY:
        fprintf(o, "[…]≤%u", f->max);
        return;
    case PROTO_T_MAP:
        fprintf(o, "{…}≤%u", f->max);
        return;
    }
}

static void put_fields(FILE *o, const proto_op_def_t *def)
{
    if (def->nfields == 0) {
        fputs("—", o);
        return;
    }
    for (size_t i = 0; i < def->nfields; i++) {
        const proto_field_t *f = &def->fields[i];
        fprintf(o, "%s`%s`%s ", i ? ", " : "", f->name, f->required ? "" : "?");
        put_field_type(o, f);
    }
}

/* ---- reply keys ---- */

static void put_shape(FILE *o, const proto_shape_t *sh);

static void put_values(FILE *o, proto_vals_t set)
{
    for (int v = 0; v < proto_val_count(set); v++)
        fprintf(o, "%s\"%s\"", v ? "|" : "", proto_val_name(set, v));
}

static void put_key_type(FILE *o, const proto_rkey_t *k)
{
    switch (k->type) {
    case PROTO_R_STR:
        if (k->values != PROTO_VALS_NONE)
            put_values(o, k->values);
        else
            fputs("str", o);
        break;
    case PROTO_R_INT:
        fputs("int", o);
        break;
    case PROTO_R_BOOL:
        fputs("bool", o);
        break;
    case PROTO_R_BIN:
        fputs("bin", o);
        break;
    case PROTO_R_MAP:
        fputs("{str: ", o);
        put_values(o, k->values);
        fputs("}", o);
        break;
    case PROTO_R_SHAPE:
        put_shape(o, k->shape);
        break;
    case PROTO_R_LIST:
        fputs("[", o);
        if (k->shape)
            put_shape(o, k->shape);
        else
            fputs("str", o);
        fputs("]", o);
        break;
    case PROTO_R_SPREAD:
        break;
    }
    if (k->flags & PROTO_R_NIL)
        fputs("|nil", o);
}

/* A shared shape by name; an op's own reply key by key. A reply that
 * begins with shared shapes shows them first: `TokenPair + {...}`. */
static void put_shape(FILE *o, const proto_shape_t *sh)
{
    size_t i = 0, nplain = 0;
    if (sh->name) {
        fputs(sh->name, o);
        return;
    }
    for (; i < sh->nkeys && sh->keys[i].type == PROTO_R_SPREAD; i++)
        fprintf(o, "%s%s", i ? " + " : "", sh->keys[i].shape->name);
    if (i > 0 && i == sh->nkeys)
        return;
    fputs(i > 0 ? " + {" : "{", o);
    for (; i < sh->nkeys; i++) {
        const proto_rkey_t *k = &sh->keys[i];
        fprintf(o, "%s\"%s\"%s: ", nplain++ ? ", " : "", k->key,
                k->flags & PROTO_R_OPTIONAL ? "?" : "");
        put_key_type(o, k);
    }
    fputs("}", o);
}

/* The keys of a shared shape, written out (for the shapes part). */
static void put_shape_keys(FILE *o, const proto_shape_t *sh)
{
    proto_shape_t own = *sh;
    own.name = NULL;
    put_shape(o, &own);
}

static void put_errors(FILE *o, const proto_op_def_t *def)
{
    if (def->nerrors == 0)
        fputs("—", o);
    for (size_t i = 0; i < def->nerrors; i++)
        fprintf(o, "%s`%s`", i ? ", " : "", proto_err_code(def->errors[i]));
}

/* One table cell rendered by `fn`, escaped. */
static int cell(FILE *out, void (*fn)(FILE *, const proto_op_def_t *), const proto_op_def_t *def)
{
    mem_t m;
    if (mem_open(&m) != 0)
        return -1;
    fn(m.f, def);
    int rc = mem_close(&m);
    if (rc == 0)
        put_cell(out, m.text, m.len);
    free(m.text);
    return rc;
}

static void put_reply(FILE *o, const proto_op_def_t *def)
{
    put_shape(o, def->reply);
}

static int render_ops(FILE *out, const char *family)
{
    int rc = 0;
    fputs("| op | idem | lane | request body | reply body | errors |\n", out);
    fputs("|---|---|---|---|---|---|\n", out);
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        const proto_op_def_t *def = proto_op_def((proto_op_t)op);
        if (!OP_FAMILY[op] || strcmp(OP_FAMILY[op], family) != 0)
            continue;
        fprintf(out, "| `%s` | %s | %s | ", def->name, def->idempotent ? "yes" : "no",
                def->lane == PROTO_LANE_SLOW ? "slow" : "fast");
        rc |= cell(out, put_fields, def);
        fputs(" | ", out);
        rc |= cell(out, put_reply, def);
        fputs(" | ", out);
        rc |= cell(out, put_errors, def);
        fputs(" |\n", out);
    }
    return rc;
}

/* ---- the other parts ---- */

static int render_limits(FILE *o)
{
    proto_limits_t def = proto_limits_default(), files = proto_limits_files();
    fputs("| limit | value |\n|---|---|\n", o);
    fprintf(o,
            "| a frame (one request or one reply) | %zu bytes; on storesvc's link %zu (a file "
            "part and 64 KiB) |\n",
            def.max_msg_bytes, files.max_msg_bytes);
    fprintf(o, "| nesting of maps and arrays | %u (the envelope is 1) |\n", def.max_depth);
    fprintf(o, "| entries of one map or array | %u |\n", def.max_items);
    fprintf(o,
            "| bytes of one str or bin | %u; on storesvc's link %u (each field still has its "
            "own bound) |\n",
            def.max_str, files.max_str);
    fprintf(o, "| `rid` | 0–%d characters of `[A-Za-z0-9-]` |\n", PROTO_RID_MAX);
    fprintf(o, "| `err.msg` | at most %d bytes |\n", PROTO_ERRMSG_MAX - 1);
    fprintf(o, "| `err.field` | at most %d bytes |\n", PROTO_FIELD_MAX);
    fprintf(o,
            "| `client_ip` (addr) | an IPv4 or IPv6 address, or `%s` and 1–%d characters of "
            "`[A-Za-z0-9._-]` (%d bytes in all) |\n",
            PROTO_CLIENT_INTERNAL, PROTO_CLIENT_NAME_MAX, PROTO_B_IP);
    fprintf(o, "| a file part (`store.file_part` `data`) | 1–%u bytes |\n", PROTO_FILE_PART_MAX);
    fprintf(o, "| one read (`store.file_read` `length`) | 1–%u bytes |\n", PROTO_FILE_READ_MAX);
    fprintf(o, "| parts of one upload | %d |\n", PROTO_FILE_PARTS_MAX);
    fprintf(o, "| a file name, a media type | %d, %d bytes |\n", PROTO_FILE_NAME_MAX,
            PROTO_FILE_TYPE_MAX);
    fprintf(o, "| `per_page` of the list ops | 1–%d |\n", PROTO_PER_PAGE_MAX);
    fprintf(o, "| permissions of one API key | %d |\n", PROTO_PERMS_MAX);
    return 0;
}

static bool answered_by_some_op(proto_err_t e)
{
    for (size_t i = 0; i < NCOMMON; i++) {
        if (COMMON_ERRORS[i] == e)
            return true;
    }
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        const proto_op_def_t *def = proto_op_def((proto_op_t)op);
        for (size_t i = 0; i < def->nerrors; i++) {
            if (def->errors[i] == e)
                return true;
        }
    }
    return false;
}

static int render_errors(FILE *o)
{
    fputs("| code | HTTP status the gateway answers | title |\n|---|---|---|\n", o);
    for (int e = PROTO_OK + 1; e < PROTO_ERR__COUNT; e++) {
        fprintf(o, "| `%s` | %d | %s%s |\n", proto_err_code((proto_err_t)e),
                proto_err_http_status((proto_err_t)e), proto_err_title((proto_err_t)e),
                answered_by_some_op((proto_err_t)e) ? ""
                                                    : " (the gateway's own, no op answers it)");
    }
    fputs("\nAny op may answer ", o);
    for (size_t i = 0; i < NCOMMON; i++)
        fprintf(o, "%s`%s`",
                i == 0             ? ""
                : i + 1 == NCOMMON ? " and "
                                   : ", ",
                proto_err_code(COMMON_ERRORS[i]));
    fputs("; the tables below list the others each op answers.\n", o);
    return 0;
}

static int render_shapes(FILE *o)
{
    int rc = 0;
    fputs("| shape | keys |\n|---|---|\n", o);
    for (int id = 0; id < PROTO_SHAPE__COUNT; id++) {
        const proto_shape_t *sh = proto_shape((proto_shape_id_t)id);
        mem_t m;
        if (mem_open(&m) != 0)
            return -1;
        put_shape_keys(m.f, sh);
        rc |= mem_close(&m);
        fprintf(o, "| **%s** | ", sh->name);
        put_cell(o, m.text, m.len);
        fputs(" |\n", o);
        free(m.text);
    }
    return rc;
}

static int render_rbac(FILE *o)
{
    fputs("| permission |", o);
    for (int r = 0; r < PROTO_ROLE_COUNT; r++)
        fprintf(o, " %s |", proto_role_name((proto_role_t)r));
    fputs("\n|---|", o);
    for (int r = 0; r < PROTO_ROLE_COUNT; r++)
        fputs("---|", o);
    fputc('\n', o);
    for (int p = 0; p < PROTO_PERM_COUNT; p++) {
        fprintf(o, "| `%s` |", proto_perm_name((proto_perm_t)p));
        for (int r = 0; r < PROTO_ROLE_COUNT; r++)
            fprintf(o, " %s |", proto_rbac_allows((proto_role_t)r, (proto_perm_t)p) ? "yes" : "—");
        fputc('\n', o);
    }
    /* Who may change whom (auth.user_update), from the same rows. */
    fputs("\n| actor | sets roles | changes `is_active` of |\n|---|---|---|\n", o);
    for (int a = 0; a < PROTO_ROLE_COUNT; a++) {
        fprintf(o, "| %s | %s |", proto_role_name((proto_role_t)a),
                proto_role_def((proto_role_t)a)->sets_roles ? "yes" : "—");
        const char *sep = " ";
        for (int t = 0; t < PROTO_ROLE_COUNT; t++) {
            if (proto_rbac_may_change((proto_role_t)a, (proto_role_t)t, false, false) ==
                PROTO_ADMIN_OK) {
                fprintf(o, "%s%s", sep, proto_role_name((proto_role_t)t));
                sep = ", ";
            }
        }
        fputs(*sep == ' ' ? " — |\n" : " |\n", o);
    }
    fputs("\nNobody changes their own role or status (`forbidden`).\n", o);
    return 0;
}

/* A hex string as lines of 16 space-separated bytes. */
static void put_hex(FILE *o, const char *hex)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++)
        fprintf(o, "%.2s%s", hex + 2 * i, i + 1 == n ? "\n" : (i + 1) % 16 == 0 ? "\n" : " ");
}

static int render_vectors(FILE *o)
{
    fprintf(o,
            "Request (%zu bytes): `{\"v\": 1, \"op\": \"auth.authorize\", \"rid\": \"%s\", "
            "\"body\": {\"client_ip\": \"%s\"}}`\n\n```\n",
            strlen(PROTO_VECTOR_REQUEST_HEX) / 2, PROTO_VECTOR_RID, PROTO_VECTOR_CLIENT_IP);
    put_hex(o, PROTO_VECTOR_REQUEST_HEX);
    fprintf(o,
            "```\n\nReply (%zu bytes): `{\"v\": 1, \"ok\": true, \"body\": {\"anonymous\": true, "
            "\"rate\": {\"limit\": %d, \"remaining\": %d, \"reset\": %d}}}`\n\n```\n",
            strlen(PROTO_VECTOR_REPLY_HEX) / 2, PROTO_VECTOR_LIMIT, PROTO_VECTOR_REMAINING,
            PROTO_VECTOR_RESET);
    put_hex(o, PROTO_VECTOR_REPLY_HEX);
    fputs("```\n", o);
    return 0;
}

static int render_example(const proto_doc_ctx_t *ctx, const char *file, FILE *o, FILE *err)
{
    char path[4096];
    char buf[4096];
    size_t n;
    snprintf(path, sizeof path, "%s/%s", ctx && ctx->examples_dir ? ctx->examples_dir : ".", file);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (err)
            fprintf(err, "proto_doc: cannot read %s\n", path);
        return -1;
    }
    fprintf(o, "`proto/examples/%s`:\n\n```python\n", file);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, o);
    fclose(f);
    fputs("```\n", o);
    return 0;
}

/* ---- the parts ---- */

static const char *const SECTIONS[] = {
    "limits",
    "errors",
    "shapes",
    "ops:sys",
    "ops:auth-public",
    "ops:auth-admission",
    "rbac",
    "ops:auth-principal",
    "ops:store",
    "ops:store-files",
    "vectors",
    "example:req_client.py",
    "example:dealer_client.py",
};
#define NSECTIONS (sizeof SECTIONS / sizeof SECTIONS[0])

const char *const *proto_doc_sections(size_t *n)
{
    *n = NSECTIONS;
    return SECTIONS;
}

int proto_doc_render(const proto_doc_ctx_t *ctx, const char *name, FILE *out, FILE *err)
{
    if (strncmp(name, "ops:", 4) == 0) {
        for (int op = 0; op < PROTO_OP__COUNT; op++) {
            if (OP_FAMILY[op] && strcmp(OP_FAMILY[op], name + 4) == 0)
                return render_ops(out, name + 4);
        }
    } else if (strncmp(name, "example:", 8) == 0) {
        for (size_t i = 0; i < NSECTIONS; i++) {
            if (strcmp(SECTIONS[i], name) == 0)
                return render_example(ctx, name + 8, out, err);
        }
    } else if (strcmp(name, "limits") == 0) {
        return render_limits(out);
    } else if (strcmp(name, "errors") == 0) {
        return render_errors(out);
    } else if (strcmp(name, "shapes") == 0) {
        return render_shapes(out);
    } else if (strcmp(name, "rbac") == 0) {
        return render_rbac(out);
    } else if (strcmp(name, "vectors") == 0) {
        return render_vectors(out);
    }
    if (err)
        fprintf(err, "proto_doc: no part named %s\n", name);
    return -1;
}

/* ---- reading the document ---- */

typedef struct {
    char name[64];
    size_t begin_line; /* 1-based, of the BEGIN marker */
    size_t start, end; /* the generated text: doc[start..end) */
    size_t after;      /* just past the END marker's line */
} region_t;

#define REGIONS_MAX 64

typedef struct {
    region_t r[REGIONS_MAX];
    size_t n;
} regions_t;

/* The name a marker line carries after `mark`, into out[cap]. */
static int marker_name(const char *line, size_t len, const char *mark, char *out, size_t cap)
{
    size_t m = strlen(mark), i = m;
    while (i < len && line[i] != ' ' && line[i] != '\n')
        i++;
    if (i == m || i - m >= cap)
        return -1;
    memcpy(out, line + m, i - m);
    out[i - m] = '\0';
    return 0;
}

/* Finds the marked regions; each problem is reported. Returns the number
 * of problems. */
static int find_regions(const char *doc, size_t len, regions_t *out, FILE *report)
{
    int problems = 0;
    bool open = false;
    size_t lineno = 0;
    out->n = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(doc + pos, '\n', len - pos);
        size_t next = nl ? (size_t)(nl - doc) + 1 : len, n = next - pos;
        const char *line = doc + pos;
        char name[64];
        lineno++;
        if (n >= strlen(BEGIN_MARK) && strncmp(line, BEGIN_MARK, strlen(BEGIN_MARK)) == 0) {
            if (open || out->n == REGIONS_MAX ||
                marker_name(line, n, BEGIN_MARK, name, sizeof name) != 0) {
                fprintf(report, "PROTOCOL.md:%zu: a BEGIN marker inside a part, or malformed\n",
                        lineno);
                return problems + 1;
            }
            region_t *r = &out->r[out->n];
            snprintf(r->name, sizeof r->name, "%s", name);
            r->begin_line = lineno;
            r->start = next;
            open = true;
        } else if (n >= strlen(END_MARK) && strncmp(line, END_MARK, strlen(END_MARK)) == 0) {
            region_t *r = &out->r[out->n];
            if (!open || marker_name(line, n, END_MARK, name, sizeof name) != 0 ||
                strcmp(name, r->name) != 0) {
                fprintf(report, "PROTOCOL.md:%zu: an END marker without its BEGIN\n", lineno);
                return problems + 1;
            }
            r->end = pos;
            r->after = next;
            out->n++;
            open = false;
        }
        pos = next;
    }
    if (open) {
        fprintf(report, "PROTOCOL.md:%zu: the part %s has no END marker\n",
                out->r[out->n].begin_line, out->r[out->n].name);
        problems++;
    }
    return problems;
}

/* Checks that every part is there exactly once, and nothing else. */
static int check_names(const regions_t *rs, FILE *report)
{
    int problems = 0;
    for (size_t i = 0; i < NSECTIONS; i++) {
        size_t seen = 0;
        for (size_t j = 0; j < rs->n; j++)
            seen += strcmp(rs->r[j].name, SECTIONS[i]) == 0;
        if (seen != 1) {
            fprintf(report, "PROTOCOL.md: the part %s appears %zu times (once, please)\n",
                    SECTIONS[i], seen);
            problems++;
        }
    }
    for (size_t j = 0; j < rs->n; j++) {
        bool known = false;
        for (size_t i = 0; i < NSECTIONS; i++)
            known |= strcmp(rs->r[j].name, SECTIONS[i]) == 0;
        if (!known) {
            fprintf(report, "PROTOCOL.md:%zu: no part is named %s\n", rs->r[j].begin_line,
                    rs->r[j].name);
            problems++;
        }
    }
    return problems;
}

/* Reports the first line where have[] and want[] differ. */
static void report_diff(const region_t *r, const char *have, size_t hlen, const char *want,
                        size_t wlen, FILE *report)
{
    size_t line = r->begin_line + 1, i = 0, ls = 0;
    while (i < hlen && i < wlen && have[i] == want[i]) {
        if (have[i] == '\n') {
            line++;
            ls = i + 1;
        }
        i++;
    }
    size_t he = ls, we = ls;
    while (he < hlen && have[he] != '\n')
        he++;
    while (we < wlen && want[we] != '\n')
        we++;
    int hn = (int)(he - ls < LINE_SHOWN ? he - ls : LINE_SHOWN);
    int wn = (int)(we - ls < LINE_SHOWN ? we - ls : LINE_SHOWN);
    fprintf(report,
            "PROTOCOL.md:%zu: the part %s is not what the catalogue gives (regenerate it: cmake "
            "--build build --target protocol_md)\n  document:  %s%.*s\n  catalogue: %s%.*s\n",
            line, r->name, ls >= hlen ? "(nothing)" : "", hn, have + (ls < hlen ? ls : hlen),
            ls >= wlen ? "(nothing)" : "", wn, want + (ls < wlen ? ls : wlen));
}

static bool in_regions(const regions_t *rs, size_t pos)
{
    for (size_t j = 0; j < rs->n; j++) {
        if (pos >= rs->r[j].start && pos < rs->r[j].end)
            return true;
    }
    return false;
}

/* Every `sys.x`, `auth.x`, `store.x` of the prose must be an op. */
static int check_prose_ops(const char *doc, size_t len, const regions_t *rs, FILE *report)
{
    static const char *const prefixes[] = {"sys.", "auth.", "store."};
    int problems = 0;
    size_t lineno = 1;
    for (size_t i = 0; i < len; i++) {
        if (doc[i] == '\n')
            lineno++;
        if (doc[i] != '`' || in_regions(rs, i))
            continue;
        size_t j = i + 1;
        while (j < len && ((doc[j] >= 'a' && doc[j] <= 'z') || doc[j] == '_' || doc[j] == '.'))
            j++;
        if (j >= len || doc[j] != '`')
            continue;
        for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
            size_t pl = strlen(prefixes[p]);
            proto_op_t op;
            if (j - i - 1 > pl && strncmp(doc + i + 1, prefixes[p], pl) == 0 &&
                proto_op_lookup(doc + i + 1, j - i - 1, &op) != 0) {
                fprintf(report, "PROTOCOL.md:%zu: `%.*s` is no op of the catalogue\n", lineno,
                        (int)(j - i - 1), doc + i + 1);
                problems++;
            }
        }
        i = j;
    }
    return problems;
}

int proto_doc_check(const proto_doc_ctx_t *ctx, const char *doc, size_t len, FILE *report)
{
    regions_t rs;
    int problems = find_regions(doc, len, &rs, report);
    if (problems)
        return problems;
    problems += check_names(&rs, report);
    for (size_t j = 0; j < rs.n; j++) {
        const region_t *r = &rs.r[j];
        mem_t m;
        if (mem_open(&m) != 0)
            return problems + 1;
        int rc = proto_doc_render(ctx, r->name, m.f, report);
        rc |= mem_close(&m);
        if (rc == 0 && (m.len != r->end - r->start || memcmp(m.text, doc + r->start, m.len))) {
            report_diff(r, doc + r->start, r->end - r->start, m.text, m.len, report);
            problems++;
        }
        free(m.text);
    }
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        if (!OP_FAMILY[op]) {
            fprintf(report, "proto_doc: the op %s is in no part\n", proto_op_name((proto_op_t)op));
            problems++;
        }
    }
    return problems + check_prose_ops(doc, len, &rs, report);
}

char *proto_doc_update(const proto_doc_ctx_t *ctx, const char *doc, size_t len, FILE *report)
{
    regions_t rs;
    mem_t m;
    size_t pos = 0;
    if (find_regions(doc, len, &rs, report) != 0 || mem_open(&m) != 0)
        return NULL;
    int rc = 0;
    for (size_t j = 0; j < rs.n; j++) {
        fwrite(doc + pos, 1, rs.r[j].start - pos, m.f);
        rc |= proto_doc_render(ctx, rs.r[j].name, m.f, report);
        pos = rs.r[j].end;
    }
    fwrite(doc + pos, 1, len - pos, m.f);
    if ((mem_close(&m) | rc) != 0) {
        free(m.text);
        return NULL;
    }
    return m.text;
}

/* ---- JSON ---- */

static const char *const FIELD_TYPES[] = {
    [PROTO_T_STR] = "str",        [PROTO_T_INT] = "int", [PROTO_T_BOOL] = "bool",
    [PROTO_T_BIN] = "bin",        [PROTO_T_MAP] = "map", [PROTO_T_ARRAY] = "array",
    [PROTO_T_NIL_OR_STR] = "str",
};
static const char *const REPLY_TYPES[] = {
    [PROTO_R_STR] = "str",   [PROTO_R_INT] = "int",       [PROTO_R_BOOL] = "bool",
    [PROTO_R_BIN] = "bin",   [PROTO_R_MAP] = "map",       [PROTO_R_SHAPE] = "map",
    [PROTO_R_LIST] = "list", [PROTO_R_SPREAD] = "spread",
};

static json_t *json_values(proto_vals_t set)
{
    json_t *a = json_array();
    for (int v = 0; v < proto_val_count(set); v++)
        json_array_append_new(a, json_string(proto_val_name(set, v)));
    return a;
}

static json_t *json_fields(const proto_op_def_t *def)
{
    json_t *a = json_array();
    for (size_t i = 0; i < def->nfields; i++) {
        const proto_field_t *f = &def->fields[i];
        json_t *o = json_pack("{s:s, s:s, s:b, s:b}", "name", f->name, "type", FIELD_TYPES[f->type],
                              "required", f->required, "nil", f->type == PROTO_T_NIL_OR_STR);
        if (f->type == PROTO_T_INT) {
            json_object_set_new(o, "lo", json_integer(f->lo));
            json_object_set_new(o, "hi", json_integer(f->hi));
        } else if (f->type != PROTO_T_BOOL) {
            json_object_set_new(o, "min", json_integer(f->min));
            json_object_set_new(o, "max", json_integer(f->max));
        }
        if (f->fmt == PROTO_FMT_CLIENT_IP)
            json_object_set_new(o, "format", json_string("client_ip"));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *json_keys(const proto_shape_t *sh)
{
    const proto_rkey_t *keys[KEYS_CAP];
    size_t n = proto_shape_keys(sh, keys, KEYS_CAP);
    json_t *a = json_array();
    for (size_t i = 0; i < n && i < KEYS_CAP; i++) {
        const proto_rkey_t *k = keys[i];
        json_t *o = json_pack("{s:s, s:s, s:b, s:b}", "key", k->key, "type", REPLY_TYPES[k->type],
                              "optional", (k->flags & PROTO_R_OPTIONAL) != 0, "nil",
                              (k->flags & PROTO_R_NIL) != 0);
        if (k->shape)
            json_object_set_new(o, "shape", json_string(k->shape->name));
        if (k->type == PROTO_R_LIST && !k->shape)
            json_object_set_new(o, "items", json_string("str"));
        if (k->values != PROTO_VALS_NONE)
            json_object_set_new(o, "values", json_values(k->values));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *json_ops(void)
{
    json_t *ops = json_object();
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        const proto_op_def_t *def = proto_op_def((proto_op_t)op);
        json_t *errs = json_array();
        for (size_t i = 0; i < def->nerrors; i++)
            json_array_append_new(errs, json_string(proto_err_code(def->errors[i])));
        json_object_set_new(
            ops, def->name,
            json_pack("{s:b, s:s, s:s, s:o, s:o, s:o}", "idempotent", def->idempotent, "lane",
                      def->lane == PROTO_LANE_SLOW ? "slow" : "fast", "family",
                      OP_FAMILY[op] ? OP_FAMILY[op] : "", "fields", json_fields(def), "reply",
                      json_keys(def->reply), "errors", errs));
    }
    return ops;
}

static json_t *json_misc(void)
{
    json_t *shapes = json_object(), *errors = json_object(), *common = json_array();
    json_t *roles = json_object();
    for (int id = 0; id < PROTO_SHAPE__COUNT; id++) {
        const proto_shape_t *sh = proto_shape((proto_shape_id_t)id);
        json_object_set_new(shapes, sh->name, json_keys(sh));
    }
    for (int e = PROTO_OK + 1; e < PROTO_ERR__COUNT; e++)
        json_object_set_new(errors, proto_err_code((proto_err_t)e),
                            json_integer(proto_err_http_status((proto_err_t)e)));
    for (size_t i = 0; i < NCOMMON; i++)
        json_array_append_new(common, json_string(proto_err_code(COMMON_ERRORS[i])));
    for (int r = 0; r < PROTO_ROLE_COUNT; r++) {
        json_t *perms = json_array();
        for (int p = 0; p < PROTO_PERM_COUNT; p++) {
            if (proto_rbac_allows((proto_role_t)r, (proto_perm_t)p))
                json_array_append_new(perms, json_string(proto_perm_name((proto_perm_t)p)));
        }
        json_object_set_new(roles, proto_role_name((proto_role_t)r), perms);
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:{s:s, s:s}}", "shapes", shapes, "errors", errors,
                     "common_errors", common, "roles", roles, "vectors", "request",
                     PROTO_VECTOR_REQUEST_HEX, "reply", PROTO_VECTOR_REPLY_HEX);
}

int proto_doc_json(FILE *out)
{
    json_t *all = json_misc();
    if (!all)
        return -1;
    json_object_set_new(all, "ops", json_ops());
    int rc = json_dumpf(all, out, JSON_INDENT(1) | JSON_SORT_KEYS) == 0 ? 0 : -1;
    fputc('\n', out);
    json_decref(all);
    return rc;
}
