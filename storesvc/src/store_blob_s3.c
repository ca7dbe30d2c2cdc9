/*
 * store_blob_s3: S3 over libcurl.
 *
 * libcurl 7.88 signs what it is given and no more: the canonical query
 * string is the URL's query verbatim (not sorted, not re-encoded), the
 * canonical URI the path verbatim, and the signed headers are Host,
 * X-Amz-Date and every header we add. So queries are written here already
 * canonical (names sorted, every value percent-encoded, "uploads=" rather
 * than "uploads"), keys contain only characters that need no encoding
 * (store_blob_key_valid), the Host header is set explicitly (with the
 * port), and x-amz-content-sha256 carries the payload's real SHA-256 (S3
 * and MinIO check it; libcurl 7.88 neither adds it nor hashes a PUT body
 * for us).
 *
 * Easy handles are pooled (curl_easy_reset keeps their connections), so
 * workers reuse connections without one handle per thread being needed.
 */
#include "store_blob_s3.h"

#include "rt_log.h"
#include "rt_sha256.h"
#include "store_xml.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_MAX          16
#define XML_MAX           (64 * 1024)       /* an ordinary XML answer */
#define LIST_MAX          (2 * 1024 * 1024) /* one listing page */
#define ERR_BODY_MAX      (8 * 1024)        /* what we keep of an error answer */
#define URL_MAX           2048
#define RECV_BUFFER_BYTES 262144L /* libcurl reads per call (its default: 16 KiB) */
#define PART_SIZE_MIN     (5u * 1024 * 1024)
#define CHECK_MAX_MS      1000 /* health checks answer within a probe's timeout */
#define CONNECT_MAX_MS    3000
#define EMPTY_SHA256      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DEFAULT_TIMEOUT   10000

typedef struct {
    char *bucket;
    char *endpoint; /* scheme://authority, no trailing '/' */
    char *host;     /* authority, for the Host header */
    char *sigv4;    /* "aws:amz:<region>:s3" */
    char *key_id;
    char *secret; /* never logged; wiped on destroy */
    long timeout_ms;
    pthread_mutex_t mu;
    CURL *idle[POOL_MAX];
    int nidle;
    atomic_bool check_failed;
} s3_t;

/* One request and what came back. */
typedef struct {
    const char *op; /* for the log: "get", "mp_part", ... */
    const char *method;
    const char *key;   /* NULL: the bucket itself */
    const char *query; /* canonical, NULL: none */
    const void *body;
    size_t body_len;
    const char *range;
    const char *content_type; /* of the body; NULL: none */
    long timeout_ms;          /* 0: the backend's */
    bool data_answer;         /* a 2xx body is object bytes (a GET), not an XML answer */
    /* answer */
    char *out;
    size_t out_cap, out_len;
    bool overflow;
    char err_body[ERR_BODY_MAX];
    size_t err_len;
    long status; /* of the last status line seen */
    char etag[STORE_BLOB_ETAG_MAX + 1];
    uint64_t range_total, length;
    bool has_range_total, has_length;
    CURLcode cc;
} s3_req_t;

/* ---------------------------------------------------------------- helpers -- */

int store_blob_s3_uri_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        size_t need = keep ? 1 : 3;
        if (o + need >= cap)
            return -1;
        if (keep) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (int)o;
}

static void sha256_hex(const void *data, size_t len, char out[RT_SHA256_HEX])
{
    unsigned char h[RT_SHA256_BYTES];
    rt_sha256(data, len, h);
    rt_sha256_hex(h, out);
}

/* "2026-12-03T11:31:06.000Z" as Unix seconds; 0 when malformed. */
static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (int64_t)t;
}

/* ------------------------------------------------------------ the pool -- */

static CURL *take(s3_t *s3)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s3->mu);
    if (s3->nidle > 0)
        h = s3->idle[--s3->nidle];
    pthread_mutex_unlock(&s3->mu);
    return h ? h : curl_easy_init();
}

static void give(s3_t *s3, CURL *h)
{
    curl_easy_reset(h);
    pthread_mutex_lock(&s3->mu);
    if (s3->nidle < POOL_MAX) {
        s3->idle[s3->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s3->mu);
    if (h)
        curl_easy_cleanup(h);
}

/* ------------------------------------------------------- one transfer -- */

static bool header_is(const char *line, size_t n, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *val = v;
    *vlen = (size_t)(end - v);
    return true;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
    s3_req_t *r = arg;
    size_t n = size * nitems, vlen;
    const char *v;
    char num[32];
    if (n > 5 && strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = '\0';
        r->has_length = r->has_range_total = false;
    } else if (header_is(line, n, "etag", &v, &vlen)) {
        if (vlen <= STORE_BLOB_ETAG_MAX) {
            memcpy(r->etag, v, vlen);
            r->etag[vlen] = '\0';
        }
    } else if (header_is(line, n, "content-length", &v, &vlen) && vlen < sizeof num) {
        snprintf(num, sizeof num, "%.*s", (int)vlen, v);
        r->length = strtoull(num, NULL, 10);
        r->has_length = true;
    } else if (header_is(line, n, "content-range", &v, &vlen)) {
        const char *slash = memchr(v, '/', vlen);
        if (slash && (size_t)(v + vlen - slash - 1) < sizeof num) {
            snprintf(num, sizeof num, "%.*s", (int)(v + vlen - slash - 1), slash + 1);
            if (num[0] >= '0' && num[0] <= '9') {
                r->range_total = strtoull(num, NULL, 10);
                r->has_range_total = true;
            }
        }
    }
    return n;
}

/* Success bodies go to `out` (overflow aborts the transfer); error bodies
 * to err_body, of which the first ERR_BODY_MAX bytes are kept. */
static size_t on_body(char *data, size_t size, size_t nitems, void *arg)
{
    s3_req_t *r = arg;
    size_t n = size * nitems;
    if (r->status >= 300) {
        size_t room = sizeof r->err_body - 1 - r->err_len;
        size_t take_n = n < room ? n : room;
        memcpy(r->err_body + r->err_len, data, take_n);
        r->err_len += take_n;
        r->err_body[r->err_len] = '\0';
        return n;
    }
    if (!r->out || n > r->out_cap - r->out_len) {
        r->overflow = true;
        return 0; /* more than we asked for or can hold: abort */
    }
    memcpy(r->out + r->out_len, data, n);
    r->out_len += n;
    return n;
}

/* Host (with the port: what libcurl 7.88 signs is what we set), the payload
 * hash, and the Range or Content-Type a request has. Every header here is
 * signed; none may be empty (an empty one would be signed but not sent). */
static struct curl_slist *make_headers(const s3_t *s3, const s3_req_t *r)
{
    char host[300], sha[96], extra[128], hash[RT_SHA256_HEX];
    struct curl_slist *h = NULL, *t;
    if (r->body_len > 0)
        sha256_hex(r->body, r->body_len, hash);
    else
        snprintf(hash, sizeof hash, "%s", EMPTY_SHA256);
    snprintf(host, sizeof host, "Host: %s", s3->host);
    snprintf(sha, sizeof sha, "x-amz-content-sha256: %s", hash);
    const char *lines[3] = {host, sha, NULL};
    if (r->range)
        snprintf(extra, sizeof extra, "Range: %s", r->range);
    else if (r->content_type) /* else libcurl would send its form type, unsigned */
        snprintf(extra, sizeof extra, "Content-Type: %s", r->content_type);
    if (r->range || r->content_type)
        lines[2] = extra;
    for (int i = 0; i < 3 && lines[i]; i++) {
        if (!(t = curl_slist_append(h, lines[i]))) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = t;
    }
    return h;
}

static int set_method(CURL *h, const s3_req_t *r)
{
    CURLcode c = CURLE_OK;
    if (strcmp(r->method, "HEAD") == 0) {
        c = curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
        /* POSTFIELDS does not copy; the body outlives the transfer. */
        c = curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
        if (c == CURLE_OK)
            c = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        if (c == CURLE_OK && strcmp(r->method, "PUT") == 0)
            c = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    } else if (strcmp(r->method, "DELETE") == 0) {
        c = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    return c == CURLE_OK ? 0 : -1;
}

static int set_options(const s3_t *s3, CURL *h, s3_req_t *r, const char *url,
                       struct curl_slist *hdrs)
{
    long total = r->timeout_ms > 0 ? r->timeout_ms : s3->timeout_ms;
    long connect = total < CONNECT_MAX_MS ? total : CONNECT_MAX_MS;
    long low_time = total / 2000 > 1 ? total / 2000 : 1;
    CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (c == CURLE_OK)                                                                             \
    c = curl_easy_setopt(h, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_AWS_SIGV4, s3->sigv4);
    SET(CURLOPT_USERNAME, s3->key_id);
    SET(CURLOPT_PASSWORD, s3->secret);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect);
    SET(CURLOPT_TIMEOUT_MS, total);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1024L);
    SET(CURLOPT_LOW_SPEED_TIME, low_time);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, r);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, r);
    SET(CURLOPT_BUFFERSIZE, RECV_BUFFER_BYTES);
#undef SET
    return c == CURLE_OK ? set_method(h, r) : -1;
}

/* Runs `r`. Returns 0 when a complete answer came (any status), -1 when
 * the transfer failed (r->cc says why) or could not be set up. */
static int perform(s3_t *s3, s3_req_t *r)
{
    char url[URL_MAX];
    int n = snprintf(url, sizeof url, "%s/%s%s%s%s%s", s3->endpoint, s3->bucket, r->key ? "/" : "",
                     r->key ? r->key : "", r->query ? "?" : "", r->query ? r->query : "");
    if (n < 0 || (size_t)n >= sizeof url)
        return -1;
    CURL *h = take(s3);
    struct curl_slist *hdrs = make_headers(s3, r);
    int rc = -1;
    r->status = 0;
    if (h && hdrs && set_options(s3, h, r, url, hdrs) == 0) {
        r->cc = curl_easy_perform(h);
        rc = r->cc == CURLE_OK ? 0 : -1;
    } else {
        r->cc = CURLE_OUT_OF_MEMORY;
    }
    curl_slist_free_all(hdrs);
    if (h)
        give(s3, h);
    return rc;
}

/* S3 error codes whose meaning we know; anything else is the store failing. */
static const struct {
    const char *code;
    int status;
} s3_codes[] = {
    {"NoSuchKey", STORE_BLOB_NOT_FOUND},       {"NoSuchUpload", STORE_BLOB_NOT_FOUND},
    {"EntityTooSmall", STORE_BLOB_REJECTED},   {"InvalidPart", STORE_BLOB_REJECTED},
    {"InvalidPartOrder", STORE_BLOB_REJECTED}, {"InvalidRange", STORE_BLOB_REJECTED},
};

static void log_failure(const s3_req_t *r, const char *code)
{
    rt_log_fields(RT_LOG_WARNING, NULL, "object store error",
                  json_pack("{s:s, s:s, s:i, s:s, s:s}", "op", r->op, "key", r->key ? r->key : "",
                            "http_status", (int)r->status, "s3_code", code ? code : "", "error",
                            r->cc != CURLE_OK ? curl_easy_strerror(r->cc) : ""));
}

/* The store_blob status of a finished (or failed) request. `perf` is what
 * perform returned. 2xx is OK unless the body is an <Error> (S3 may answer
 * a CompleteMultipartUpload 200 and fail it in the body); the 2xx body of
 * a GET is the object's bytes, which may hold anything, "<Error>" too. */
static int outcome(const s3_req_t *r, int perf)
{
    char code[64] = "";
    if (perf != 0) {
        log_failure(r, NULL);
        return r->cc == CURLE_OUT_OF_MEMORY ? STORE_BLOB_NOMEM : STORE_BLOB_IO;
    }
    bool is_data = r->data_answer && r->status < 300;
    const char *body = r->status >= 300 ? r->err_body : is_data ? NULL : r->out;
    size_t len = r->status >= 300 ? r->err_len : is_data ? 0 : r->out_len;
    bool error_body = body && len > 0 && memmem(body, len, "<Error>", 7) != NULL;
    if (r->status >= 200 && r->status < 300 && !error_body)
        return STORE_BLOB_OK;
    if (error_body)
        (void)store_xml_text(body, len, "Code", code, sizeof code);
    for (size_t i = 0; i < sizeof s3_codes / sizeof s3_codes[0]; i++) {
        if (strcmp(code, s3_codes[i].code) == 0)
            return s3_codes[i].status;
    }
    if (r->status == 404 && !code[0])
        return STORE_BLOB_NOT_FOUND; /* HEAD answers carry no body */
    log_failure(r, code);
    return STORE_BLOB_IO;
}

/* Runs a request whose answer is a small XML document, into `xml`. */
static int run_xml(s3_t *s3, s3_req_t *r, char *xml, size_t cap)
{
    r->out = xml;
    r->out_cap = cap;
    return outcome(r, perform(s3, r));
}

/* ---------------------------------------------------------- the vtable -- */

static int s3_put(void *impl, const char *key, const void *data, size_t len)
{
    s3_req_t r = {.op = "put",
                  .method = "PUT",
                  .key = key,
                  .body = data,
                  .body_len = len,
                  .content_type = "application/octet-stream"};
    char xml[1024];
    return run_xml(impl, &r, xml, sizeof xml);
}

static int s3_head(void *impl, const char *key, uint64_t *size)
{
    s3_req_t r = {.op = "head", .method = "HEAD", .key = key};
    int rc = outcome(&r, perform(impl, &r));
    if (rc == STORE_BLOB_OK)
        *size = r.length;
    return rc;
}

static int s3_get(void *impl, const char *key, uint64_t offset, void *buf, size_t cap, size_t *got,
                  uint64_t *size)
{
    char range[64];
    if (cap == 0)
        return s3_head(impl, key, size);
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset, offset + cap - 1);
    s3_req_t r = {.op = "get",
                  .method = "GET",
                  .key = key,
                  .range = range,
                  .out = buf,
                  .out_cap = cap,
                  .data_answer = true};
    int perf = perform(impl, &r);
    if (perf == 0 && r.status == 416) { /* at or past the end */
        if (!r.has_range_total)
            return s3_head(impl, key, size);
        *size = r.range_total;
        return STORE_BLOB_OK;
    }
    int rc = outcome(&r, perf);
    if (rc != STORE_BLOB_OK)
        return rc;
    *got = r.out_len;
    if (r.status == 206 && r.has_range_total)
        *size = r.range_total;
    else if (r.status == 200 && offset == 0) /* the server sent it whole; it fit */
        *size = r.out_len;
    else
        return STORE_BLOB_IO;
    return STORE_BLOB_OK;
}

static int s3_del(void *impl, const char *key)
{
    s3_req_t r = {.op = "delete", .method = "DELETE", .key = key};
    char xml[1024];
    return run_xml(impl, &r, xml, sizeof xml);
}

static int s3_check(void *impl)
{
    s3_t *s3 = impl;
    s3_req_t r = {.op = "check",
                  .method = "HEAD",
                  .timeout_ms = s3->timeout_ms < CHECK_MAX_MS ? s3->timeout_ms : CHECK_MAX_MS};
    int perf = perform(s3, &r);
    bool ok = perf == 0 && r.status >= 200 && r.status < 300;
    bool was_failed = atomic_exchange(&s3->check_failed, !ok);
    if (!ok && !was_failed)
        log_failure(&r, NULL);
    else if (ok && was_failed)
        rt_info(NULL, "object store usable again");
    return ok ? STORE_BLOB_OK : STORE_BLOB_IO;
}

static int s3_mp_create(void *impl, const char *key, char *upload_id, size_t cap)
{
    s3_req_t r = {.op = "mp_create",
                  .method = "POST",
                  .key = key,
                  .query = "uploads=",
                  .content_type = "application/octet-stream"};
    char xml[XML_MAX];
    int rc = run_xml(impl, &r, xml, sizeof xml);
    if (rc == STORE_BLOB_OK && store_xml_text(xml, r.out_len, "UploadId", upload_id, cap) != 0) {
        log_failure(&r, "no UploadId");
        rc = STORE_BLOB_IO;
    }
    return rc;
}

/* "partNumber=<n>&uploadId=<encoded>" (names sorted) or "uploadId=<encoded>". */
static int upload_query(char *out, size_t cap, int part_no, const char *upload_id)
{
    char enc[STORE_BLOB_UPLOAD_ID_MAX * 3 + 1];
    if (store_blob_s3_uri_encode(upload_id, enc, sizeof enc) < 0)
        return -1;
    int n = part_no > 0 ? snprintf(out, cap, "partNumber=%d&uploadId=%s", part_no, enc)
                        : snprintf(out, cap, "uploadId=%s", enc);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int s3_mp_part(void *impl, const char *key, const char *upload_id, int part_no,
                      const void *data, size_t len, char *etag, size_t cap)
{
    char query[URL_MAX], xml[1024];
    if (upload_query(query, sizeof query, part_no, upload_id) != 0)
        return STORE_BLOB_BAD_KEY;
    s3_req_t r = {.op = "mp_part",
                  .method = "PUT",
                  .key = key,
                  .query = query,
                  .body = data,
                  .body_len = len,
                  .content_type = "application/octet-stream"};
    int rc = run_xml(impl, &r, xml, sizeof xml);
    if (rc == STORE_BLOB_OK && (!r.etag[0] || strlen(r.etag) >= cap)) {
        log_failure(&r, "no ETag");
        return STORE_BLOB_IO;
    }
    if (rc == STORE_BLOB_OK)
        snprintf(etag, cap, "%s", r.etag);
    return rc;
}

/* The CompleteMultipartUpload document, on the heap (up to 10000 parts). */
static char *complete_doc(const store_blob_part_t *parts, size_t n, size_t *len)
{
    static const char head[] = "<CompleteMultipartUpload>";
    static const char tail[] = "</CompleteMultipartUpload>";
    size_t cap = sizeof head + sizeof tail + n * (64 + 6 * STORE_BLOB_ETAG_MAX);
    char *doc = malloc(cap), esc[6 * STORE_BLOB_ETAG_MAX + 1];
    if (!doc)
        return NULL;
    size_t o = (size_t)snprintf(doc, cap, "%s", head);
    for (size_t i = 0; i < n; i++) {
        if (store_xml_escape(parts[i].etag, esc, sizeof esc) < 0) {
            free(doc);
            return NULL;
        }
        o += (size_t)snprintf(doc + o, cap - o,
                              "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
                              parts[i].part_no, esc);
    }
    o += (size_t)snprintf(doc + o, cap - o, "%s", tail);
    *len = o;
    return doc;
}

static int s3_mp_complete(void *impl, const char *key, const char *upload_id,
                          const store_blob_part_t *parts, size_t nparts)
{
    char query[URL_MAX], xml[XML_MAX];
    size_t len = 0;
    if (upload_query(query, sizeof query, 0, upload_id) != 0)
        return STORE_BLOB_BAD_KEY;
    char *doc = complete_doc(parts, nparts, &len);
    if (!doc)
        return STORE_BLOB_NOMEM;
    s3_req_t r = {.op = "mp_complete",
                  .method = "POST",
                  .key = key,
                  .query = query,
                  .body = doc,
                  .body_len = len,
                  .content_type = "application/xml"};
    int rc = run_xml(impl, &r, xml, sizeof xml);
    free(doc);
    return rc;
}

static int s3_mp_abort(void *impl, const char *key, const char *upload_id)
{
    char query[URL_MAX], xml[1024];
    if (upload_query(query, sizeof query, 0, upload_id) != 0)
        return STORE_BLOB_BAD_KEY;
    s3_req_t r = {.op = "mp_abort", .method = "DELETE", .key = key, .query = query};
    return run_xml(impl, &r, xml, sizeof xml);
}

/* ------------------------------------------------------------- listings -- */

/* Appends "&name=<encoded value>" (or without '&' first) to q. */
static int add_param(char *q, size_t cap, const char *name, const char *value)
{
    char enc[URL_MAX];
    size_t o = strlen(q);
    if (store_blob_s3_uri_encode(value, enc, sizeof enc) < 0)
        return -1;
    int n = snprintf(q + o, cap - o, "%s%s=%s", o ? "&" : "", name, enc);
    return n < 0 || (size_t)n >= cap - o ? -1 : 0;
}

/* Calls `fn` for each <Contents> of one ListObjectsV2 page. */
static int each_object(const char *doc, size_t len, size_t *seen, size_t max, store_blob_list_fn fn,
                       void *arg)
{
    const char *in;
    size_t in_len, pos = 0;
    char key[STORE_BLOB_KEY_MAX + 1], when[64];
    while (*seen < max && store_xml_next(doc, len, "Contents", &pos, &in, &in_len) == 0) {
        if (store_xml_text(in, in_len, "Key", key, sizeof key) != 0 || !store_blob_key_valid(key))
            continue; /* not one of ours */
        int64_t t = store_xml_text(in, in_len, "LastModified", when, sizeof when) == 0
                        ? parse_time(when)
                        : 0;
        (*seen)++;
        if (fn(arg, key, NULL, t) != 0)
            return 1;
    }
    return 0;
}

static int s3_list_objects(void *impl, const char *prefix, size_t max, store_blob_list_fn fn,
                           void *arg)
{
    char *doc = malloc(LIST_MAX), token[1024] = "", query[URL_MAX];
    size_t seen = 0;
    int rc = doc ? STORE_BLOB_OK : STORE_BLOB_NOMEM;
    while (rc == STORE_BLOB_OK && seen < max) {
        query[0] = '\0';
        if ((token[0] && add_param(query, sizeof query, "continuation-token", token) != 0) ||
            add_param(query, sizeof query, "list-type", "2") != 0 ||
            add_param(query, sizeof query, "prefix", prefix) != 0) {
            rc = STORE_BLOB_BAD_KEY;
            break;
        }
        s3_req_t r = {.op = "list_objects", .method = "GET", .query = query};
        if ((rc = run_xml(impl, &r, doc, LIST_MAX)) != STORE_BLOB_OK)
            break;
        char trunc[8] = "";
        if (each_object(doc, r.out_len, &seen, max, fn, arg) != 0 ||
            store_xml_text(doc, r.out_len, "IsTruncated", trunc, sizeof trunc) != 0 ||
            strcmp(trunc, "true") != 0 ||
            store_xml_text(doc, r.out_len, "NextContinuationToken", token, sizeof token) != 0)
            break;
    }
    free(doc);
    return rc;
}

/* Calls `fn` for each <Upload> of one ListMultipartUploads page. */
static int each_upload(const char *doc, size_t len, size_t *seen, size_t max, store_blob_list_fn fn,
                       void *arg)
{
    const char *in;
    size_t in_len, pos = 0;
    char key[STORE_BLOB_KEY_MAX + 1], id[STORE_BLOB_UPLOAD_ID_MAX + 1], when[64];
    while (*seen < max && store_xml_next(doc, len, "Upload", &pos, &in, &in_len) == 0) {
        if (store_xml_text(in, in_len, "Key", key, sizeof key) != 0 || !store_blob_key_valid(key) ||
            store_xml_text(in, in_len, "UploadId", id, sizeof id) != 0 || !id[0])
            continue;
        int64_t t =
            store_xml_text(in, in_len, "Initiated", when, sizeof when) == 0 ? parse_time(when) : 0;
        (*seen)++;
        if (fn(arg, key, id, t) != 0)
            return 1;
    }
    return 0;
}

static int s3_list_uploads(void *impl, const char *prefix, size_t max, store_blob_list_fn fn,
                           void *arg)
{
    char *doc = malloc(LIST_MAX), query[URL_MAX * 2];
    char key_marker[STORE_BLOB_KEY_MAX + 1] = "", id_marker[STORE_BLOB_UPLOAD_ID_MAX + 1] = "";
    size_t seen = 0;
    int rc = doc ? STORE_BLOB_OK : STORE_BLOB_NOMEM;
    while (rc == STORE_BLOB_OK && seen < max) {
        query[0] = '\0';
        if ((key_marker[0] && add_param(query, sizeof query, "key-marker", key_marker) != 0) ||
            add_param(query, sizeof query, "prefix", prefix) != 0 ||
            (id_marker[0] && add_param(query, sizeof query, "upload-id-marker", id_marker) != 0) ||
            add_param(query, sizeof query, "uploads", "") != 0) {
            rc = STORE_BLOB_BAD_KEY;
            break;
        }
        s3_req_t r = {.op = "list_uploads", .method = "GET", .query = query};
        if ((rc = run_xml(impl, &r, doc, LIST_MAX)) != STORE_BLOB_OK)
            break;
        char trunc[8] = "";
        if (each_upload(doc, r.out_len, &seen, max, fn, arg) != 0 ||
            store_xml_text(doc, r.out_len, "IsTruncated", trunc, sizeof trunc) != 0 ||
            strcmp(trunc, "true") != 0 ||
            store_xml_text(doc, r.out_len, "NextKeyMarker", key_marker, sizeof key_marker) != 0 ||
            store_xml_text(doc, r.out_len, "NextUploadIdMarker", id_marker, sizeof id_marker) != 0)
            break;
    }
    free(doc);
    return rc;
}

/* --------------------------------------------------------- life cycle -- */

static void s3_destroy(void *impl)
{
    s3_t *s3 = impl;
    if (!s3)
        return;
    for (int i = 0; i < s3->nidle; i++)
        curl_easy_cleanup(s3->idle[i]);
    pthread_mutex_destroy(&s3->mu);
    if (s3->secret) {
        explicit_bzero(s3->secret, strlen(s3->secret));
        free(s3->secret);
    }
    free(s3->bucket);
    free(s3->endpoint);
    free(s3->host);
    free(s3->sigv4);
    free(s3->key_id);
    free(s3);
}

static const store_blob_ops_t s3_ops = {
    .name = "s3",
    .put = s3_put,
    .get = s3_get,
    .del = s3_del,
    .head = s3_head,
    .check = s3_check,
    .mp_create = s3_mp_create,
    .mp_part = s3_mp_part,
    .mp_complete = s3_mp_complete,
    .mp_abort = s3_mp_abort,
    .list_objects = s3_list_objects,
    .list_uploads = s3_list_uploads,
    .sweep_temps = NULL,
    .destroy = s3_destroy,
    .part_size_min = PART_SIZE_MIN,
};

/* 3..63 of [a-z0-9.-], starting and ending with a letter or digit. */
static bool bucket_valid(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && ((c != '.' && c != '-') || i == 0 || i == n - 1))
            return false;
    }
    return true;
}

/* http(s)://authority with nothing after it but an optional '/'; the
 * authority printable without '/', '?', '#', '@' or spaces. */
static int parse_endpoint(s3_t *s3, const char *url)
{
    const char *rest = strncmp(url, "http://", 7) == 0    ? url + 7
                       : strncmp(url, "https://", 8) == 0 ? url + 8
                                                          : NULL;
    if (!rest || !*rest)
        return -1;
    size_t n = strcspn(rest, "/?#@ ");
    if (n == 0 || n > 255 || (rest[n] && strcmp(rest + n, "/") != 0))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (rest[i] <= ' ' || rest[i] > '~')
            return -1;
    }
    s3->host = strndup(rest, n);
    s3->endpoint = strndup(url, (size_t)(rest - url) + n);
    return s3->host && s3->endpoint ? 0 : -1;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The region as SigV4 wants it in the credential scope. */
static bool region_valid(const char *r)
{
    size_t n = strlen(r);
    return n > 0 && n <= 32 && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

store_blob_t *store_blob_s3_new(const char *bucket, const store_blob_s3_opts_t *opts, char *err,
                                size_t errlen)
{
    const char *region = opts && opts->region && *opts->region ? opts->region : "us-east-1";
    char aws[128];
    s3_t *s3 = NULL;
    if (!bucket || !bucket_valid(bucket)) {
        snprintf(err, errlen, "OBJECT_STORE_URL: s3:// needs a bucket name (3-63 of a-z 0-9 . -)");
        return NULL;
    }
    if (!region_valid(region)) {
        snprintf(err, errlen, "S3_REGION must be a region name such as us-east-1");
        return NULL;
    }
    if (!opts || !opts->access_key_id || !*opts->access_key_id || !opts->secret_access_key ||
        !*opts->secret_access_key) {
        snprintf(err, errlen, "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required for s3://");
        return NULL;
    }
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "object store: cannot initialise libcurl");
        return NULL;
    }
    snprintf(aws, sizeof aws, "https://s3.%s.amazonaws.com", region);
    const char *endpoint = opts->endpoint_url && *opts->endpoint_url ? opts->endpoint_url : aws;
    if (!(s3 = calloc(1, sizeof *s3)) || pthread_mutex_init(&s3->mu, NULL) != 0) {
        free(s3);
        snprintf(err, errlen, "object store: out of memory");
        return NULL;
    }
    atomic_init(&s3->check_failed, false);
    s3->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT;
    if (parse_endpoint(s3, endpoint) != 0) {
        snprintf(err, errlen, "S3_ENDPOINT_URL must be http(s)://host[:port] without a path");
        s3_destroy(s3);
        return NULL;
    }
    s3->bucket = strdup(bucket);
    s3->key_id = strdup(opts->access_key_id);
    s3->secret = strdup(opts->secret_access_key);
    if (asprintf(&s3->sigv4, "aws:amz:%s:s3", region) < 0)
        s3->sigv4 = NULL;
    if (!s3->bucket || !s3->key_id || !s3->secret || !s3->sigv4) {
        snprintf(err, errlen, "object store: out of memory");
        s3_destroy(s3);
        return NULL;
    }
    store_blob_t *blob = store_blob_new(&s3_ops, s3);
    if (!blob)
        snprintf(err, errlen, "object store: out of memory");
    return blob;
}
