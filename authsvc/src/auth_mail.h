/*
 * auth_mail: outgoing mail, behind one small interface with two
 * implementations chosen at start:
 *
 *   SMTP   (SMTP_URL set) libcurl's SMTP client, one connection per mail,
 *          every transfer bounded by SMTP_TIMEOUT_MS (connect: half of it);
 *   log    (SMTP_URL unset) dev mode: the whole mail, token included, is
 *          written to the log at INFO instead of being sent. Never for
 *          production: whoever reads the log can reset any password.
 *
 * The scheme of SMTP_URL says how the connection is protected:
 *
 *   smtps://host[:465]          implicit TLS (CURLUSESSL_ALL);
 *   smtp+starttls://host[:587]  plain connect, then STARTTLS, required: a
 *                               server that does not offer it fails the
 *                               mail (libcurl's smtp:// with CURLUSESSL_ALL);
 *   smtp://host[:25]            no TLS at all (a relay on the same host or
 *                               network; SMTP_PASSWORD is refused with it).
 *
 * Certificates are verified (libcurl's defaults). Recipients are always
 * addresses that passed auth_email_normalise (no CR, LF or spaces), so
 * nothing a client typed can add a header. Log lines name a recipient only
 * masked (auth_mail_mask).
 *
 * auth_mailer_send blocks for at most the timeout: call it from a worker
 * (auth_jobq), never on a request. A mailer is used by one thread at a time.
 */
#ifndef AUTH_MAIL_H
#define AUTH_MAIL_H

#include <stddef.h>

#define AUTH_MAIL_MASK_BUF 300 /* a masked address */

typedef enum {
    AUTH_MAIL_TLS_NONE = 0, /* smtp:// */
    AUTH_MAIL_TLS_STARTTLS, /* smtp+starttls:// */
    AUTH_MAIL_TLS_IMPLICIT, /* smtps:// */
} auth_mail_tls_t;

/* Checks an SMTP_URL (scheme://host[:port][/], nothing else) and writes the
 * URL libcurl is given into out[cap] (smtp+starttls:// becomes smtp://).
 * 0, or -1 when it is not one of the three forms. */
int auth_mail_url_parse(const char *url, char *out, size_t cap, auth_mail_tls_t *tls);

/* "alice@example.com" -> "a***@example.com" into out[cap]; anything
 * without an '@' becomes "***". Never longer than the domain plus 5. */
void auth_mail_mask(const char *email, char *out, size_t cap);

/* One mail: plain text, UTF-8. `text` lines end in "\r\n". */
typedef struct {
    const char *to;
    const char *subject; /* a fixed text of ours: no CR or LF */
    const char *text;
} auth_mail_msg_t;

/* The RFC 5322 message (Date, From, To, Subject, Message-ID, MIME headers,
 * the text) into out[cap]. Its length, or -1 when it does not fit or a
 * header value holds CR or LF. */
int auth_mail_format(const char *from, const auth_mail_msg_t *m, char *out, size_t cap);

typedef struct {
    const char *smtp_url; /* NULL or "": the log implementation */
    const char *from;
    const char *username, *password; /* optional (NULL or "") */
    long timeout_ms;
} auth_mail_config_t;

typedef struct auth_mailer auth_mailer_t;

/* A mailer for `cfg` (strings copied). NULL on a bad SMTP_URL or no memory. */
auth_mailer_t *auth_mailer_new(const auth_mail_config_t *cfg);

void auth_mailer_destroy(auth_mailer_t **self_p);

/* True for the log implementation. */
int auth_mailer_is_dev(const auth_mailer_t *self);

/* Sends (or, in dev mode, logs) `m`; `rid` goes into the log lines. 0, or
 * -1 when the transfer failed (logged, with libcurl's reason). */
int auth_mailer_send(auth_mailer_t *self, const char *rid, const auth_mail_msg_t *m);

#endif
