/*
 * Unit tests for auth_password: each password rule on its own and at its
 * edges (exactly 7/8/128/129 code points, multibyte characters counted as
 * one), the common-password list (sorted, case-insensitive, class-passing
 * variants caught), usernames, email normalisation and full_name cleaning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "auth_password.h"

/* Builds `count` copies of `unit` followed by `tail` into `buf`. */
static const char *repeat(char *buf, size_t size, const char *unit, size_t count, const char *tail)
{
    size_t used = 0;
    for (size_t i = 0; i < count; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s", unit);
    snprintf(buf + used, size - used, "%s", tail);
    return buf;
}

static auth_password_rule_t rule_of(const char *password, const char *username)
{
    auth_password_rule_t rule = AUTH_PASSWORD_RULE_COUNT;
    int rc = auth_password_check(password, username, &rule);
    assert_int_equal(rc, rule == AUTH_PASSWORD_OK ? 0 : -1);
    return rule;
}

static void test_password_accepts_strong(void **state)
{
    (void)state;
    assert_int_equal(rule_of("Tr1cky-Horse-42", "alice"), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of("c0rrect Horse battery", NULL), AUTH_PASSWORD_OK);
    assert_int_equal(auth_password_check("Zq9#kWm2pL", "bob", NULL), 0);
}

/* `n` characters that are no pattern zxcvbn knows, then `tail`. */
static const char *unpatterned(char *buf, size_t cap, size_t n, const char *tail)
{
    static const char alphabet[] = "qZ7kMx2PvLw9RbT4nYs";
    unsigned x = 12345;
    assert_true(n + strlen(tail) < cap);
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
    }
    strcpy(buf + n, tail);
    return buf;
}

static void test_password_length_edges(void **state)
{
    char buf[1024];
    (void)state;
    assert_int_equal(rule_of("Ab1!xyz", NULL), AUTH_PASSWORD_TOO_SHORT); /* 7 */
    assert_int_equal(rule_of("Ab1!xqzw", NULL), AUTH_PASSWORD_OK);       /* 8 */
    assert_int_equal(rule_of("", NULL), AUTH_PASSWORD_TOO_SHORT);
    assert_int_equal(rule_of(unpatterned(buf, sizeof buf, 124, "Ab1!"), NULL), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of(repeat(buf, sizeof buf, "x", 125, "Ab1!"), NULL),
                     AUTH_PASSWORD_TOO_LONG); /* 129 */
    assert_int_equal(rule_of(repeat(buf, sizeof buf, "x", 900, "Ab1!"), NULL),
                     AUTH_PASSWORD_TOO_LONG);
}

static void test_password_length_counts_code_points(void **state)
{
    char buf[1024];
    (void)state;
    /* "é" is 2 bytes, "€" 3, "😀" 4: each counts as one character. */
    assert_int_equal(rule_of("Ab1éé€😀", NULL), AUTH_PASSWORD_TOO_SHORT); /* 7 chars, 16 bytes */
    assert_int_equal(rule_of("Ab1éé€😀x", NULL), AUTH_PASSWORD_OK);       /* 8 chars */
    /* 128 four-byte characters (512 bytes) plus the classes: 131, too long. */
    assert_int_equal(rule_of(repeat(buf, sizeof buf, "😀", 128, "Ab1"), NULL),
                     AUTH_PASSWORD_TOO_LONG);
    /* 125 of them plus "Ab1": exactly 128 characters, 503 bytes. */
    assert_int_equal(rule_of(repeat(buf, sizeof buf, "😀", 125, "Ab1"), NULL), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of(repeat(buf, sizeof buf, "€", 126, "Ab1"), NULL),
                     AUTH_PASSWORD_TOO_LONG); /* 129 */
}

static void test_password_class_rules(void **state)
{
    (void)state;
    assert_int_equal(rule_of("abcdefg1!", NULL), AUTH_PASSWORD_NO_UPPER);
    assert_int_equal(rule_of("ABCDEFG1!", NULL), AUTH_PASSWORD_NO_LOWER);
    assert_int_equal(rule_of("Abcdefgh!", NULL), AUTH_PASSWORD_NO_DIGIT);
    assert_int_equal(rule_of("Abcdefgh1", NULL), AUTH_PASSWORD_NO_SPECIAL);
    /* space and any non-ASCII character are special; non-ASCII letters are not upper/lower */
    assert_int_equal(rule_of("Abcd efg1", NULL), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of("Abcdéfg1", NULL), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of("ÉCOLEabc1!", NULL), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of("Écolexyz1!", NULL), AUTH_PASSWORD_NO_UPPER);
    /* a control character is accepted but counts as no class */
    assert_int_equal(rule_of("Abcdefg1\t", NULL), AUTH_PASSWORD_NO_SPECIAL);
}

static void test_password_invalid_utf8(void **state)
{
    (void)state;
    assert_int_equal(rule_of(NULL, NULL), AUTH_PASSWORD_INVALID);
    assert_int_equal(rule_of("Abcdef1!\xff", NULL), AUTH_PASSWORD_INVALID);
    assert_int_equal(rule_of("Abcdef1!\xc3", NULL), AUTH_PASSWORD_INVALID);         /* truncated */
    assert_int_equal(rule_of("Abcdef1!\xc0\xaf", NULL), AUTH_PASSWORD_INVALID);     /* overlong */
    assert_int_equal(rule_of("Abcdef1!\xed\xa0\x80", NULL), AUTH_PASSWORD_INVALID); /* surrogate */
    assert_int_equal(rule_of("Abcdef1!\xf4\x90\x80\x80", NULL), AUTH_PASSWORD_INVALID);
}

static bool guessable(auth_password_rule_t r)
{
    return r >= AUTH_PASSWORD_GUESSABLE && r <= AUTH_PASSWORD_GUESSABLE_DATE;
}

/* Leaked passwords and their usual variants that pass the class rules are
 * refused by zxcvbn's estimate, with a reason. */
static void test_password_guessable_rejected(void **state)
{
    static const char *const common[] = {
        "Password1!", "P@ssw0rd",   "Qwerty123!", "Welcome1!",   "Passw0rd!",
        "PASSword1!", "p@SSW0RD",   "Admin@123",  "Summer2024!", "Letmein1!",
        "Iloveyou1!", "Changeme1!", "P@ssword1!", "Abcd1234!",   "Aa123456!",
    };
    (void)state;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        auth_password_rule_t r = rule_of(common[i], NULL);
        if (!guessable(r))
            fail_msg("%s not refused as guessable (rule %d)", common[i], (int)r);
    }
    assert_int_equal(rule_of("Password1!", NULL), AUTH_PASSWORD_GUESSABLE_WORD);
    assert_int_equal(rule_of("Aaaaaaaaaaaa1!", NULL), AUTH_PASSWORD_GUESSABLE_PATTERN);
    assert_int_equal(rule_of("Alice1234!", "alice"), AUTH_PASSWORD_GUESSABLE_PERSONAL);
    /* The username makes a difference: the same password for someone else. */
    assert_int_equal(rule_of("Mallory-Pw-77!", "mallory"), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of("Tr1cky-Horse-42", NULL), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of("Zq8#mK2$vL", NULL), AUTH_PASSWORD_OK);
}

static void test_password_guessability_bits(void **state)
{
    double weak = 0, strong = 0;
    (void)state;
    assert_int_equal(auth_password_guessability("Summer2024!", NULL, &weak),
                     AUTH_PASSWORD_GUESSABLE_WORD);
    assert_true(weak < AUTH_PASSWORD_MIN_BITS);
    assert_int_equal(auth_password_guessability("Zq8#mK2$vL-9xw", NULL, &strong), AUTH_PASSWORD_OK);
    assert_true(strong >= AUTH_PASSWORD_MIN_BITS * 2);
    for (int r = AUTH_PASSWORD_GUESSABLE; r <= AUTH_PASSWORD_GUESSABLE_DATE; r++)
        assert_non_null(strstr(auth_password_rule_message((auth_password_rule_t)r), "guess"));
}

static void test_password_same_as_username(void **state)
{
    (void)state;
    assert_int_equal(rule_of("Xylo-Phone9", "xylo-phone9"), AUTH_PASSWORD_SAME_AS_USERNAME);
    assert_int_equal(rule_of("Xylo-Phone9", "XYLO-PHONE9"), AUTH_PASSWORD_SAME_AS_USERNAME);
    /* Containing the username is not equality, but zxcvbn counts it as guessable. */
    assert_int_equal(rule_of("Xylo-Phone9", "xylo-phone"), AUTH_PASSWORD_GUESSABLE_PERSONAL);
    assert_int_equal(rule_of("Xylo-Phone9", "someone"), AUTH_PASSWORD_OK);
    assert_int_equal(rule_of("Xylo-Phone9", NULL), AUTH_PASSWORD_OK);
}

static void test_password_messages(void **state)
{
    (void)state;
    for (int r = 0; r < AUTH_PASSWORD_RULE_COUNT; r++) {
        const char *m = auth_password_rule_message((auth_password_rule_t)r);
        assert_non_null(m);
        assert_true(strncmp(m, "Password", 8) == 0);
    }
    assert_string_equal(auth_password_rule_message(AUTH_PASSWORD_NO_DIGIT),
                        "Password must contain at least one digit");
    assert_non_null(auth_password_rule_message((auth_password_rule_t)99));
}

static void test_password_username_rules(void **state)
{
    auth_username_rule_t r;
    char buf[128];
    (void)state;
    assert_int_equal(auth_username_check("bob", &r), 0);
    assert_int_equal(r, AUTH_USERNAME_OK);
    assert_int_equal(auth_username_check("A_b-9", NULL), 0);
    assert_int_equal(auth_username_check(repeat(buf, sizeof buf, "a", 50, ""), &r), 0);
    assert_int_equal(auth_username_check(repeat(buf, sizeof buf, "a", 51, ""), &r), -1);
    assert_int_equal(r, AUTH_USERNAME_LENGTH);
    assert_int_equal(auth_username_check("ab", &r), -1);
    assert_int_equal(r, AUTH_USERNAME_LENGTH);
    static const char *const bad[] = {"bob smith", "bob.smith", "bob@x", "bøb", "bob\n", "b/ob"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(auth_username_check(bad[i], &r), -1);
        assert_int_equal(r, AUTH_USERNAME_CHARSET);
    }
    assert_int_equal(auth_username_check(NULL, &r), -1);
    assert_int_equal(r, AUTH_USERNAME_INVALID);
    assert_non_null(auth_username_rule_message(AUTH_USERNAME_RESERVED));
}

static void test_password_username_reserved_any_case(void **state)
{
    static const char *const reserved[] = {
        "admin",   "Administrator", "ROOT", "System", "api",       "WWW",  "mail",
        "Support", "HELP",          "null", "NULL",   "undefined", "True", "fAlSe",
    };
    auth_username_rule_t r;
    (void)state;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        assert_int_equal(auth_username_check(reserved[i], &r), -1);
        assert_int_equal(r, AUTH_USERNAME_RESERVED);
    }
    assert_int_equal(auth_username_check("admin1", &r), 0);
    assert_int_equal(auth_username_check("rooted", &r), 0);
}

static void test_password_email_normalised(void **state)
{
    char out[AUTH_EMAIL_BUF];
    (void)state;
    assert_int_equal(auth_email_normalise("Alice.Smith+tag@Example.COM", out, sizeof out), 0);
    assert_string_equal(out, "alice.smith+tag@example.com");
    assert_int_equal(auth_email_normalise("o'neil@sub-1.example.co.uk", out, sizeof out), 0);
    assert_string_equal(out, "o'neil@sub-1.example.co.uk");
    assert_int_equal(auth_email_normalise("a@b.io", out, sizeof out), 0);
}

static void test_password_email_rejected(void **state)
{
    static const char *const bad[] = {
        "",
        "plain",
        "@example.com",
        "a@",
        "a@@example.com",
        "a@b@c.com",
        "a@localhost",
        "a b@c.com",
        "a@c .com",
        "a@-c.com",
        "a@c-.com",
        "a@c..com",
        "a@c.com.",
        ".a@c.com",
        "a.@c.com",
        "a..b@c.com",
        "a\t@c.com",
        "a@c_d.com",
        "a@1.2.3.4",
        "\"a\"@c.com",
        "a@[1.2.3.4]",
        "ä@c.com",
        "a@ä.com",
        "a@.c.com",
        "a\x01@c.com",
    };
    char out[AUTH_EMAIL_BUF];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(out, "junk");
        if (auth_email_normalise(bad[i], out, sizeof out) != AUTH_TEXT_EINVAL)
            fail_msg("accepted bad email #%zu", i);
        assert_string_equal(out, "");
    }
    assert_int_equal(auth_email_normalise(NULL, out, sizeof out), AUTH_TEXT_EINVAL);
}

static void test_password_email_length_limits(void **state)
{
    char in[512], out[AUTH_EMAIL_BUF], a63[80], d63[80], dom[400];
    (void)state;
    repeat(a63, sizeof a63, "a", 63, "");
    repeat(d63, sizeof d63, "d", 63, "");
    /* local part: 64 ok, 65 rejected */
    snprintf(in, sizeof in, "%sb@example.com", a63);
    assert_int_equal(auth_email_normalise(in, out, sizeof out), 0);
    snprintf(in, sizeof in, "%sbc@example.com", a63);
    assert_int_equal(auth_email_normalise(in, out, sizeof out), AUTH_TEXT_EINVAL);
    /* label: 63 ok, 64 rejected */
    snprintf(in, sizeof in, "a@%s.com", d63);
    assert_int_equal(auth_email_normalise(in, out, sizeof out), 0);
    snprintf(in, sizeof in, "a@%sd.com", d63);
    assert_int_equal(auth_email_normalise(in, out, sizeof out), AUTH_TEXT_EINVAL);
    /* whole address: 254 ok ("a@" + 63.63.63.60), 255 too long */
    snprintf(dom, sizeof dom, "%s.%s.%s.%.60s", d63, d63, d63, a63);
    assert_int_equal(strlen(dom), 252);
    snprintf(in, sizeof in, "a@%s", dom);
    assert_int_equal(strlen(in), 254);
    assert_int_equal(auth_email_normalise(in, out, sizeof out), 0);
    assert_string_equal(out, in);
    snprintf(in, sizeof in, "ab@%s", dom);
    assert_int_equal(auth_email_normalise(in, out, sizeof out), AUTH_TEXT_ETOOLONG);
    /* too small an output buffer */
    char tiny[7];
    assert_int_equal(auth_email_normalise("a@b.io", tiny, 6), AUTH_TEXT_ENOSPACE);
    assert_int_equal(auth_email_normalise("a@b.io", tiny, sizeof tiny), 0);
    assert_string_equal(tiny, "a@b.io");
}

static void test_password_full_name_cleaned(void **state)
{
    char out[AUTH_FULL_NAME_BUF];
    (void)state;
    assert_int_equal(auth_full_name_clean("Jane Doe", out, sizeof out), 0);
    assert_string_equal(out, "Jane Doe");
    assert_int_equal(auth_full_name_clean("<b>Jane</b> <script>x()</script>Doe", out, sizeof out),
                     0);
    assert_string_equal(out, "Jane x()Doe");
    assert_int_equal(auth_full_name_clean("  Zoë\x01\t\x7f Ångström \xc2\x85 ", out, sizeof out),
                     0);
    assert_string_equal(out, "Zoë Ångström");
    assert_int_equal(auth_full_name_clean("a < b > c", out, sizeof out), 0);
    assert_string_equal(out, "a  c");
    assert_int_equal(auth_full_name_clean("I <3 you", out, sizeof out), 0);
    assert_string_equal(out, "I 3 you");
    assert_int_equal(auth_full_name_clean("<<img src=x>>Bob", out, sizeof out), 0);
    assert_string_equal(out, "Bob");
    assert_int_equal(auth_full_name_clean("Eve\xe2\x80\xae"
                                          "gnp.exe",
                                          out, sizeof out),
                     0);
    assert_string_equal(out, "Evegnp.exe");
    assert_int_equal(auth_full_name_clean(" <i></i> ", out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void test_password_full_name_many_open_brackets(void **state)
{
    static char in[65537];
    char out[AUTH_FULL_NAME_BUF];
    (void)state;
    /* 64 KiB of '<' with no '>' anywhere: every '<' is dropped, in linear time */
    memset(in, '<', sizeof in - 1);
    in[sizeof in - 1] = '\0';
    assert_int_equal(auth_full_name_clean(in, out, sizeof out), 0);
    assert_string_equal(out, "");
    /* the same with one name at the end and a '>' far away */
    memcpy(in + sizeof in - 8, "Ann>Bo", 7);
    assert_int_equal(auth_full_name_clean(in, out, sizeof out), 0);
    assert_string_equal(out, "Bo");
    assert_int_equal(auth_full_name_clean(">Ann<", out, sizeof out), 0);
    assert_string_equal(out, "Ann");
}

static void test_password_full_name_length(void **state)
{
    char in[1024], out[AUTH_FULL_NAME_BUF];
    (void)state;
    assert_int_equal(auth_full_name_clean(repeat(in, sizeof in, "é", 100, ""), out, sizeof out), 0);
    assert_int_equal(strlen(out), 200);
    assert_int_equal(auth_full_name_clean(repeat(in, sizeof in, "é", 101, ""), out, sizeof out),
                     AUTH_TEXT_ETOOLONG);
    assert_string_equal(out, "");
    /* length is counted after cleaning: tags and trailing spaces do not count */
    assert_int_equal(
        auth_full_name_clean(repeat(in, sizeof in, "a<br>", 100, "     "), out, sizeof out), 0);
    assert_int_equal(strlen(out), 100);
    assert_int_equal(auth_full_name_clean(repeat(in, sizeof in, "a ", 50, "b"), out, sizeof out),
                     AUTH_TEXT_ETOOLONG); /* 101 with the interior spaces */
    assert_int_equal(auth_full_name_clean("bad \xff", out, sizeof out), AUTH_TEXT_EINVAL);
    assert_int_equal(auth_full_name_clean(NULL, out, sizeof out), AUTH_TEXT_EINVAL);
    assert_int_equal(auth_full_name_clean("Jane Doe", out, 5), AUTH_TEXT_ENOSPACE);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_accepts_strong),
        cmocka_unit_test(test_password_length_edges),
        cmocka_unit_test(test_password_length_counts_code_points),
        cmocka_unit_test(test_password_class_rules),
        cmocka_unit_test(test_password_invalid_utf8),
        cmocka_unit_test(test_password_guessable_rejected),
        cmocka_unit_test(test_password_guessability_bits),
        cmocka_unit_test(test_password_same_as_username),
        cmocka_unit_test(test_password_messages),
        cmocka_unit_test(test_password_username_rules),
        cmocka_unit_test(test_password_username_reserved_any_case),
        cmocka_unit_test(test_password_email_normalised),
        cmocka_unit_test(test_password_email_rejected),
        cmocka_unit_test(test_password_email_length_limits),
        cmocka_unit_test(test_password_full_name_cleaned),
        cmocka_unit_test(test_password_full_name_many_open_brackets),
        cmocka_unit_test(test_password_full_name_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
