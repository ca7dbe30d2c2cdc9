/*
 * Unit tests for auth_mail's pure parts: SMTP_URL forms and the TLS each
 * asks for, masking of addresses for logs, and the message format (no
 * header can be injected). Sending is covered by the integration tests
 * (a local SMTP sink).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth_mail.h"

static void test_mail_url_schemes_choose_the_tls(void **state)
{
    static const struct {
        const char *in, *out;
        auth_mail_tls_t tls;
    } ok[] = {
        {"smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525", AUTH_MAIL_TLS_NONE},
        {"smtp+starttls://mail.example.com:587", "smtp://mail.example.com:587",
         AUTH_MAIL_TLS_STARTTLS},
        {"smtps://mail.example.com", "smtps://mail.example.com", AUTH_MAIL_TLS_IMPLICIT},
        {"smtps://mail.example.com:465/", "smtps://mail.example.com:465", AUTH_MAIL_TLS_IMPLICIT},
        {"smtp://[::1]:25", "smtp://[::1]:25", AUTH_MAIL_TLS_NONE},
    };
    char out[256];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        auth_mail_tls_t tls = (auth_mail_tls_t)99;
        assert_int_equal(auth_mail_url_parse(ok[i].in, out, sizeof out, &tls), 0);
        assert_string_equal(out, ok[i].out);
        assert_int_equal(tls, ok[i].tls);
    }
}

static void test_mail_url_refuses_everything_else(void **state)
{
    static const char *const bad[] = {
        "",
        "mail.example.com",
        "http://mail.example.com",
        "smtp://",
        "smtp://:25",
        "smtp://user:pw@mail.example.com",
        "smtp://mail.example.com/helo.example",
        "smtp://mail.example.com:25?starttls=1",
        "SMTP://mail.example.com",
        "smtp+tls://x",
        "smtp://mail example.com",
        "smtp://mail.example.com\r\nRCPT",
    };
    char out[256];
    auth_mail_tls_t tls;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (auth_mail_url_parse(bad[i], out, sizeof out, &tls) != -1)
            fail_msg("accepted %s", bad[i]);
    }
    assert_int_equal(auth_mail_url_parse(NULL, out, sizeof out, &tls), -1);
    assert_int_equal(auth_mail_url_parse("smtp://a.example.com", out, 8, &tls), -1);
}

static void test_mail_mask_keeps_only_a_hint(void **state)
{
    char out[AUTH_MAIL_MASK_BUF];
    auth_mail_mask("alice@example.com", out, sizeof out);
    assert_string_equal(out, "a***@example.com");
    auth_mail_mask("b@example.com", out, sizeof out);
    assert_string_equal(out, "b***@example.com");
    auth_mail_mask("no-at-sign", out, sizeof out);
    assert_string_equal(out, "***");
    auth_mail_mask("@example.com", out, sizeof out);
    assert_string_equal(out, "***");
    auth_mail_mask(NULL, out, sizeof out);
    assert_string_equal(out, "***");
    assert_null(strstr(out, "lice"));
}

static void test_mail_format_is_a_plain_text_message(void **state)
{
    char out[2048];
    const auth_mail_msg_t m = {"alice@example.com", "Reset your password", "line one\r\n"};
    int n = auth_mail_format("noreply@example.com", &m, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_non_null(strstr(out, "\r\nFrom: <noreply@example.com>\r\n"));
    assert_non_null(strstr(out, "\r\nTo: <alice@example.com>\r\n"));
    assert_non_null(strstr(out, "\r\nSubject: Reset your password\r\n"));
    assert_non_null(strstr(out, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_memory_equal(out, "Date: ", 6);
    const char *body = strstr(out, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, "line one\r\n");
}

static void test_mail_format_refuses_header_injection(void **state)
{
    char out[2048];
    const auth_mail_msg_t to = {"a@example.com\r\nBcc: x@evil.example", "S", "t\r\n"};
    const auth_mail_msg_t subj = {"a@example.com", "S\nBcc: x@evil.example", "t\r\n"};
    const auth_mail_msg_t ok = {"a@example.com", "S", "t\r\n"};
    assert_int_equal(auth_mail_format("n@example.com", &to, out, sizeof out), -1);
    assert_int_equal(auth_mail_format("n@example.com", &subj, out, sizeof out), -1);
    assert_int_equal(auth_mail_format("n@example.com\r\n", &ok, out, sizeof out), -1);
    assert_int_equal(auth_mail_format("n@example.com", &ok, out, 40), -1); /* does not fit */
}

static void test_mail_mailer_dev_mode_without_a_url(void **state)
{
    auth_mail_config_t dev = {.smtp_url = NULL, .timeout_ms = 1000};
    auth_mailer_t *m = auth_mailer_new(&dev);
    assert_non_null(m);
    assert_true(auth_mailer_is_dev(m));
    auth_mailer_destroy(&m);
    assert_null(m);
    auth_mail_config_t smtp = {.smtp_url = "smtp://127.0.0.1:1", .from = "n@example.com"};
    m = auth_mailer_new(&smtp);
    assert_non_null(m);
    assert_false(auth_mailer_is_dev(m));
    auth_mailer_destroy(&m);
    auth_mail_config_t bad = {.smtp_url = "http://x", .from = "n@example.com"};
    assert_null(auth_mailer_new(&bad));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mail_url_schemes_choose_the_tls),
        cmocka_unit_test(test_mail_url_refuses_everything_else),
        cmocka_unit_test(test_mail_mask_keeps_only_a_hint),
        cmocka_unit_test(test_mail_format_is_a_plain_text_message),
        cmocka_unit_test(test_mail_format_refuses_header_injection),
        cmocka_unit_test(test_mail_mailer_dev_mode_without_a_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
