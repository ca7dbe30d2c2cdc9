/*
 * auth_mail: the message format, the two mail implementations (SMTP through
 * libcurl, and the dev-mode log) and the masking of addresses in logs.
 */
#include "auth_mail.h"

#include "rt_log.h"
#include "rt_uuid.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAIL_MAX 8192 /* bytes of one message: ours are a few hundred */

struct auth_mailer {
    bool dev;
    auth_mail_tls_t tls;
    char *url, *from, *username, *password;
    long timeout_ms;
};

static const struct {
    const char *scheme;
    const char *curl_scheme;
    auth_mail_tls_t tls;
} schemes[] = {
    {"smtp://", "smtp://", AUTH_MAIL_TLS_NONE},
    {"smtp+starttls://", "smtp://", AUTH_MAIL_TLS_STARTTLS},
    {"smtps://", "smtps://", AUTH_MAIL_TLS_IMPLICIT},
};

int auth_mail_url_parse(const char *url, char *out, size_t cap, auth_mail_tls_t *tls)
{
    static const char host_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-[]:";
    if (!url || !out || cap == 0)
        return -1;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t sl = strlen(schemes[i].scheme);
        if (strncmp(url, schemes[i].scheme, sl) != 0)
            continue;
        const char *rest = url + sl;
        size_t hl = strspn(rest, host_chars);
        if (hl == 0 || rest[0] == ':' || rest[0] == '.' ||
            !(rest[hl] == '\0' || (rest[hl] == '/' && rest[hl + 1] == '\0')))
            return -1;
        int n = snprintf(out, cap, "%s%.*s", schemes[i].curl_scheme, (int)hl, rest);
        if (n < 0 || (size_t)n >= cap) {
            out[0] = '\0';
            return -1;
        }
        *tls = schemes[i].tls;
        return 0;
    }
    return -1;
}

void auth_mail_mask(const char *email, char *out, size_t cap)
{
    const char *at = email ? strrchr(email, '@') : NULL;
    if (!out || cap == 0)
        return;
    if (!at || at == email) {
        snprintf(out, cap, "***");
        return;
    }
    snprintf(out, cap, "%c***%s", email[0], at);
}

static bool header_safe(const char *v)
{
    return v && !strpbrk(v, "\r\n");
}

int auth_mail_format(const char *from, const auth_mail_msg_t *m, char *out, size_t cap)
{
    char date[64], mid[RT_UUID_BUF];
    struct tm tm;
    time_t now = time(NULL);
    if (!m || !header_safe(from) || !header_safe(m->to) || !header_safe(m->subject) || !m->text ||
        !gmtime_r(&now, &tm) || !strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm))
        return -1;
    rt_uuid_v4(mid);
    int n = snprintf(out, cap,
                     "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
                     "Message-ID: <%s@restc>\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
                     "\r\n%s",
                     date, from, m->to, m->subject, mid, m->text);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

/* ---- the mailer ---- */

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

auth_mailer_t *auth_mailer_new(const auth_mail_config_t *cfg)
{
    char url[1100];
    auth_mailer_t *self = calloc(1, sizeof *self);
    if (!self || !cfg)
        goto fail;
    self->dev = !cfg->smtp_url || !cfg->smtp_url[0];
    self->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
    if (self->dev)
        return self;
    if (auth_mail_url_parse(cfg->smtp_url, url, sizeof url, &self->tls) != 0 || !cfg->from)
        goto fail;
    self->url = strdup(url);
    self->from = strdup(cfg->from);
    self->username = dup_or_null(cfg->username);
    self->password = dup_or_null(cfg->password);
    if (!self->url || !self->from || (cfg->username && cfg->username[0] && !self->username) ||
        (cfg->password && cfg->password[0] && !self->password))
        goto fail;
    return self;
fail:
    auth_mailer_destroy(&self);
    return NULL;
}

void auth_mailer_destroy(auth_mailer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_mailer_t *self = *self_p;
    if (self->password)
        explicit_bzero(self->password, strlen(self->password));
    free(self->url);
    free(self->from);
    free(self->username);
    free(self->password);
    free(self);
    *self_p = NULL;
}

int auth_mailer_is_dev(const auth_mailer_t *self)
{
    return self && self->dev;
}

/* libcurl reads the message from here. */
typedef struct {
    const char *data;
    size_t len, off;
} reader_t;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    reader_t *r = arg;
    size_t room = size * nitems, left = r->len - r->off;
    size_t n = left < room ? left : room;
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    return n;
}

static int smtp_send(const auth_mailer_t *self, const char *rid, const char *to, const char *msg,
                     size_t len)
{
    char rcpt[300], from[300], masked[AUTH_MAIL_MASK_BUF];
    reader_t rd = {msg, len, 0};
    struct curl_slist *list = NULL;
    CURL *c = curl_easy_init();
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    snprintf(from, sizeof from, "<%s>", self->from);
    if (!c || !(list = curl_slist_append(NULL, rcpt)))
        goto cleanup;
    curl_easy_setopt(c, CURLOPT_URL, self->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     (long)(self->tls == AUTH_MAIL_TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, list);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     self->timeout_ms / 2 > 0 ? self->timeout_ms / 2 : 1);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, self->timeout_ms);
    if (self->username)
        curl_easy_setopt(c, CURLOPT_USERNAME, self->username);
    if (self->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, self->password);
    rc = curl_easy_perform(c);
cleanup:
    auth_mail_mask(to, masked, sizeof masked);
    if (rc != CURLE_OK)
        rt_log_fields(RT_LOG_WARNING, rid, "mail not sent",
                      json_pack("{s:s, s:s, s:s}", "event", "mail_failed", "to", masked, "reason",
                                curl_easy_strerror(rc)));
    else
        rt_log_fields(RT_LOG_INFO, rid, "mail sent",
                      json_pack("{s:s, s:s}", "event", "mail_sent", "to", masked));
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

int auth_mailer_send(auth_mailer_t *self, const char *rid, const auth_mail_msg_t *m)
{
    char masked[AUTH_MAIL_MASK_BUF];
    if (!self || !m)
        return -1;
    if (self->dev) {
        auth_mail_mask(m->to, masked, sizeof masked);
        rt_log_fields(RT_LOG_INFO, rid, "mail not sent: dev mode (SMTP_URL unset), here it is",
                      json_pack("{s:s, s:s, s:s, s:s}", "event", "mail_dev_mode", "to", masked,
                                "subject", m->subject, "text", m->text));
        return 0;
    }
    char *msg = malloc(MAIL_MAX);
    int len = msg ? auth_mail_format(self->from, m, msg, MAIL_MAX) : -1;
    int rc = len < 0 ? -1 : smtp_send(self, rid, m->to, msg, (size_t)len);
    if (len < 0)
        rt_error(rid, "a mail could not be formatted");
    if (msg) {
        explicit_bzero(msg, MAIL_MAX);
        free(msg);
    }
    return rc;
}
