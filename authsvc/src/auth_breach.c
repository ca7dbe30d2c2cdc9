/*
 * auth_breach: the Pwned Passwords range query (see auth_breach.h). The
 * answer is lines "<35 hex digits>:<count>" (CRLF); padding lines have a
 * count of 0.
 */
#include "auth_breach.h"
#include "rt_log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct auth_breach {
    char *url;
    long timeout_ms;
};

typedef struct {
    char *data;
    size_t len, cap;
    bool too_big;
} answer_t;

auth_breach_t *auth_breach_new(const char *url, long timeout_ms)
{
    if (!url || !*url || timeout_ms <= 0)
        return NULL;
    auth_breach_t *self = calloc(1, sizeof *self);
    if (!self || !(self->url = strdup(url))) {
        free(self);
        return NULL;
    }
    self->timeout_ms = timeout_ms;
    return self;
}

void auth_breach_destroy(auth_breach_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->url);
    free(*self_p);
    *self_p = NULL;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    answer_t *a = arg;
    size_t n = size * nmemb;
    if (a->len + n > AUTH_BREACH_ANSWER_MAX) {
        a->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64 * 1024;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *nd = realloc(a->data, cap);
        if (!nd)
            return 0;
        a->data = nd;
        a->cap = cap;
    }
    memcpy(a->data + a->len, ptr, n);
    a->len += n;
    a->data[a->len] = '\0';
    return n;
}

/* The upper-case hex SHA-1 of `password` into hex[41]. */
static int sha1_hex(const char *password, char hex[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(password, strlen(password), md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return -1;
    static const char digits[] = "0123456789ABCDEF";
    for (unsigned i = 0; i < 20; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[40] = '\0';
    sodium_memzero(md, sizeof md);
    return 0;
}

/* Finds `suffix` (35 hex digits) in the answer; its count, 0 if absent,
 * -1 if the answer is malformed. */
static long find_suffix(const char *data, const char *suffix)
{
    for (const char *line = data; *line;) {
        size_t n = strcspn(line, "\r\n");
        const char *colon = memchr(line, ':', n);
        if (!colon || colon - line != 35)
            return -1;
        if (strncasecmp(line, suffix, 35) == 0) {
            char *end;
            long count = strtol(colon + 1, &end, 10);
            return (end == colon + 1 || count < 0) ? -1 : count;
        }
        line += n;
        line += strspn(line, "\r\n");
    }
    return 0;
}

auth_breach_result_t auth_breach_check(const auth_breach_t *self, const char *password, long *count)
{
    char hex[41], url[1024];
    answer_t a = {0};
    auth_breach_result_t res = AUTH_BREACH_UNKNOWN;
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    if (!self || !password || sha1_hex(password, hex) != 0)
        return AUTH_BREACH_UNKNOWN;
    if (snprintf(url, sizeof url, "%s%.5s", self->url, hex) >= (int)sizeof url)
        goto cleanup;
    if (!(h = curl_easy_init()) || !(hdrs = curl_slist_append(NULL, "Add-Padding: true")))
        goto cleanup;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "restc-authsvc");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, self->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, self->timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200 || !a.data) {
        rt_warn(NULL, "breached-password check failed: %s (HTTP %ld)%s", curl_easy_strerror(rc),
                status, a.too_big ? ", answer too large" : "");
        goto cleanup;
    }
    long n = find_suffix(a.data, hex + 5);
    if (n < 0) {
        rt_warn(NULL, "breached-password check: malformed answer");
        goto cleanup;
    }
    res = n > 0 ? AUTH_BREACH_FOUND : AUTH_BREACH_CLEAN;
    if (count)
        *count = n;
cleanup:
    sodium_memzero(hex, sizeof hex);
    sodium_memzero(url, sizeof url);
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    free(a.data);
    return res;
}
