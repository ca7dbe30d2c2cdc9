/*
 * Unit tests for gw_clientip: parsing LOGIN_TRUSTED_PROXY_IPS, membership
 * (IPv4, IPv6, CIDR, IPv4-mapped), and resolving the client address from
 * the peer, X-Forwarded-For and X-Real-IP without letting a client pick it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "gw_clientip.h"

#define PROXIES "10.0.0.0/8, 127.0.0.1, ::1, fd00::/8"

static int setup(void **state)
{
    char err[256];
    *state = gw_trusted_new(PROXIES, err, sizeof err);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    gw_trusted_t *t = *state;
    gw_trusted_destroy(&t);
    return 0;
}

/* Resolves with the fixture's set and returns the result (static buffer). */
static const char *resolve(void **state, const char *peer, const char *xff, const char *xri)
{
    static char out[GW_CLIENTIP_LEN];
    assert_int_equal(gw_clientip_resolve(*state, peer, xff, xri, out, sizeof out), 0);
    return out;
}

/* ---- the trusted set --------------------------------------------------- */

static void test_gw_clientip_trusted_parses_mixed_list(void **state)
{
    assert_int_equal(gw_trusted_count(*state), 4);
    assert_true(gw_trusted_contains(*state, "10.0.0.1"));
    assert_true(gw_trusted_contains(*state, "10.255.255.255"));
    assert_false(gw_trusted_contains(*state, "11.0.0.1"));
    assert_true(gw_trusted_contains(*state, "127.0.0.1"));
    assert_false(gw_trusted_contains(*state, "127.0.0.2"));
    assert_true(gw_trusted_contains(*state, "::1"));
    assert_true(gw_trusted_contains(*state, "0:0:0:0:0:0:0:1"));
    assert_false(gw_trusted_contains(*state, "::2"));
    assert_false(gw_trusted_contains(*state, "not-an-ip"));
    assert_false(gw_trusted_contains(*state, NULL));
    assert_false(gw_trusted_contains(NULL, "10.0.0.1"));
}

static void test_gw_clientip_trusted_ipv6_cidr(void **state)
{
    assert_true(gw_trusted_contains(*state, "fd00::1"));
    assert_true(gw_trusted_contains(*state, "fdff:ffff::1"));
    assert_false(gw_trusted_contains(*state, "fe00::1"));
    assert_false(gw_trusted_contains(*state, "fc00::1"));
    char err[256];
    gw_trusted_t *t = gw_trusted_new("2001:db8:abcd:12::/63", err, sizeof err);
    assert_non_null(t);
    assert_true(gw_trusted_contains(t, "2001:db8:abcd:13:ffff::1"));
    assert_false(gw_trusted_contains(t, "2001:db8:abcd:14::1"));
    gw_trusted_destroy(&t);
}

static void test_gw_clientip_trusted_odd_prefixes(void **state)
{
    (void)state;
    char err[256];
    gw_trusted_t *t = gw_trusted_new("192.168.4.0/23,0.0.0.0/0", err, sizeof err);
    assert_non_null(t);
    assert_true(gw_trusted_contains(t, "192.168.5.9"));
    assert_true(gw_trusted_contains(t, "8.8.8.8")); /* /0: every IPv4 address */
    assert_false(gw_trusted_contains(t, "2001:db8::1"));
    gw_trusted_destroy(&t);
    t = gw_trusted_new("192.168.4.0/23", err, sizeof err);
    assert_false(gw_trusted_contains(t, "192.168.6.1"));
    gw_trusted_destroy(&t);
}

static void test_gw_clientip_trusted_ipv4_mapped_entries(void **state)
{
    (void)state;
    char err[256];
    gw_trusted_t *t = gw_trusted_new("::ffff:192.0.2.0/120, ::ffff:198.51.100.7", err, sizeof err);
    assert_non_null(t);
    assert_true(gw_trusted_contains(t, "192.0.2.200"));
    assert_true(gw_trusted_contains(t, "::ffff:192.0.2.200"));
    assert_true(gw_trusted_contains(t, "198.51.100.7"));
    assert_false(gw_trusted_contains(t, "198.51.100.8"));
    gw_trusted_destroy(&t);
    /* And the other way round: an IPv4 entry covers the mapped form. */
    assert_true(gw_trusted_contains(*state, "::ffff:10.1.2.3"));
    assert_true(gw_trusted_contains(*state, "::FFFF:127.0.0.1"));
}

static void test_gw_clientip_trusted_empty_and_null_is_empty_set(void **state)
{
    (void)state;
    static const char *const empties[] = {NULL, "", "   ", " \t "};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        char err[256] = "x";
        gw_trusted_t *t = gw_trusted_new(empties[i], err, sizeof err);
        assert_non_null(t);
        assert_int_equal(gw_trusted_count(t), 0);
        assert_string_equal(err, "");
        assert_false(gw_trusted_contains(t, "127.0.0.1"));
        gw_trusted_destroy(&t);
        assert_null(t);
    }
    gw_trusted_destroy(NULL);
}

static void test_gw_clientip_trusted_rejects_bad_entries(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "10.0.0.0/33",
        "::/129",
        "1.2.3",
        "abc",
        "10.0.0.1,,10.0.0.2",
        "10.0.0.1,",
        ",10.0.0.1",
        "10.0.0.0/",
        "10.0.0.0/-1",
        "10.0.0.0/8/8",
        "10.0.0.0/ 8",
        "10.0.0.0/8a",
        "10.0.0.1/8",
        "fd00::1/8",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "[::1]",
        "1.2.3.4:80",
        "fe80::1%eth0",
        "localhost",
        "10.0.0.0/1000",
        "::ffff:1.2.3.0/64",
        "10.0.0.1 10.0.0.2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        gw_trusted_t *t = gw_trusted_new(bad[i], err, sizeof err);
        if (t != NULL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(strlen(err) > 0);
    }
}

static void test_gw_clientip_trusted_error_names_the_entry(void **state)
{
    (void)state;
    char err[256];
    assert_null(gw_trusted_new("127.0.0.1, 10.0.0.0/33", err, sizeof err));
    assert_non_null(strstr(err, "entry 2"));
    assert_non_null(strstr(err, "10.0.0.0/33"));
    assert_non_null(strstr(err, "32"));
    assert_null(gw_trusted_new("::1,,::2", NULL, 0)); /* err is optional */
    char tiny[8];
    assert_null(gw_trusted_new("abc", tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

static void test_gw_clientip_trusted_bounds_list_size(void **state)
{
    (void)state;
    char err[256];
    size_t cap = (GW_TRUSTED_MAX_ENTRIES + 1) * 12 + 1;
    char *csv = calloc(1, cap);
    assert_non_null(csv);
    for (int i = 0; i < GW_TRUSTED_MAX_ENTRIES; i++)
        sprintf(csv + strlen(csv), "%s10.0.%d.%d", i ? "," : "", i / 256, i % 256);
    gw_trusted_t *t = gw_trusted_new(csv, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(gw_trusted_count(t), GW_TRUSTED_MAX_ENTRIES);
    gw_trusted_destroy(&t);
    strcat(csv, ",10.1.0.0");
    assert_null(gw_trusted_new(csv, err, sizeof err));
    assert_non_null(strstr(err, "too many"));
    free(csv);

    char *huge = malloc(GW_TRUSTED_MAX_CSV + 2);
    assert_non_null(huge);
    memset(huge, ' ', GW_TRUSTED_MAX_CSV + 1);
    huge[GW_TRUSTED_MAX_CSV + 1] = '\0';
    assert_null(gw_trusted_new(huge, err, sizeof err));
    free(huge);
}

static void test_gw_clientip_trusted_contains_sockaddr(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "10.9.8.7", &sin.sin_addr);
    assert_true(gw_trusted_contains_addr(*state, (struct sockaddr *)&sin));
    inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
    assert_false(gw_trusted_contains_addr(*state, (struct sockaddr *)&sin));

    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:10.9.8.7", &sin6.sin6_addr);
    assert_true(gw_trusted_contains_addr(*state, (struct sockaddr *)&sin6));
    inet_pton(AF_INET6, "fd12::5", &sin6.sin6_addr);
    assert_true(gw_trusted_contains_addr(*state, (struct sockaddr *)&sin6));
    inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr);
    assert_false(gw_trusted_contains_addr(*state, (struct sockaddr *)&sin6));

    struct sockaddr other = {.sa_family = AF_UNIX};
    assert_false(gw_trusted_contains_addr(*state, &other));
    assert_false(gw_trusted_contains_addr(*state, NULL));
}

/* ---- normalisation ----------------------------------------------------- */

static void test_gw_clientip_normalise_canonical_text(void **state)
{
    (void)state;
    char out[GW_CLIENTIP_LEN];
    assert_int_equal(gw_clientip_normalise("::ffff:1.2.3.4", out, sizeof out), 0);
    assert_string_equal(out, "1.2.3.4");
    assert_int_equal(gw_clientip_normalise("::FFFF:0102:0304", out, sizeof out), 0);
    assert_string_equal(out, "1.2.3.4");
    assert_int_equal(gw_clientip_normalise("2001:DB8:0:0:0:0:0:1", out, sizeof out), 0);
    assert_string_equal(out, "2001:db8::1");
    assert_int_equal(gw_clientip_normalise("nope", out, sizeof out), -1);
    assert_string_equal(out, "");
    char small[7];
    assert_int_equal(gw_clientip_normalise("1.2.3.4", small, sizeof small), -1);
    char exact[8];
    assert_int_equal(gw_clientip_normalise("1.2.3.4", exact, sizeof exact), 0);
}

/* ---- resolution -------------------------------------------------------- */

static void test_gw_clientip_untrusted_peer_ignores_headers(void **state)
{
    assert_string_equal(resolve(state, "203.0.113.9", "1.1.1.1, 2.2.2.2", "3.3.3.3"),
                        "203.0.113.9");
    assert_string_equal(resolve(state, "2001:db8::9", "1.1.1.1", NULL), "2001:db8::9");
}

static void test_gw_clientip_empty_set_always_uses_peer(void **state)
{
    (void)state;
    gw_trusted_t *t = gw_trusted_new("", NULL, 0);
    char out[GW_CLIENTIP_LEN];
    assert_int_equal(gw_clientip_resolve(t, "10.0.0.1", "1.1.1.1", "2.2.2.2", out, sizeof out), 0);
    assert_string_equal(out, "10.0.0.1");
    assert_int_equal(gw_clientip_resolve(NULL, "127.0.0.1", "1.1.1.1", NULL, out, sizeof out), 0);
    assert_string_equal(out, "127.0.0.1");
    gw_trusted_destroy(&t);
}

static void test_gw_clientip_trusted_peer_takes_rightmost_untrusted(void **state)
{
    assert_string_equal(resolve(state, "10.0.0.5", "198.51.100.23", NULL), "198.51.100.23");
    assert_string_equal(resolve(state, "10.0.0.5", "192.0.2.1, 198.51.100.23", NULL),
                        "198.51.100.23");
}

static void test_gw_clientip_skips_multiple_trusted_hops(void **state)
{
    assert_string_equal(
        resolve(state, "127.0.0.1", "198.51.100.23,10.1.1.1 , 10.2.2.2,\t::1", "10.3.3.3"),
        "198.51.100.23");
    assert_string_equal(resolve(state, "::1", "2001:db8::77, fd00::2, 10.0.0.1", NULL),
                        "2001:db8::77");
}

static void test_gw_clientip_ignores_spoofed_leftmost_entries(void **state)
{
    /* The client sent "X-Forwarded-For: 10.0.0.9, 1.2.3.4"; our proxy appended
     * the address it saw. A trusted-looking spoof left of it changes nothing. */
    assert_string_equal(resolve(state, "10.0.0.5", "10.0.0.9, 1.2.3.4, 198.51.100.23", NULL),
                        "198.51.100.23");
    assert_string_equal(
        resolve(state, "10.0.0.5", "garbage, <script>, 198.51.100.23, 10.0.0.6", NULL),
        "198.51.100.23");
}

static void test_gw_clientip_normalises_ipv4_mapped(void **state)
{
    /* Mapped peer is trusted as its IPv4 form; mapped entries skip/count alike. */
    assert_string_equal(
        resolve(state, "::ffff:10.0.0.5", "::ffff:198.51.100.23, ::ffff:10.0.0.8", NULL),
        "198.51.100.23");
    assert_string_equal(resolve(state, "::ffff:203.0.113.4", "1.1.1.1", NULL), "203.0.113.4");
    assert_string_equal(resolve(state, "::ffff:127.0.0.1", NULL, "::ffff:192.0.2.44"),
                        "192.0.2.44");
}

static void test_gw_clientip_ipv6_peers_and_entries(void **state)
{
    assert_string_equal(resolve(state, "fd00::10", "2001:DB8:0::1, fdab::1", NULL), "2001:db8::1");
    assert_string_equal(resolve(state, "fe80::1", "2001:db8::1", NULL), "fe80::1");
}

static void test_gw_clientip_garbage_entry_falls_back_to_peer(void **state)
{
    static const char *const bad[] = {
        "198.51.100.23, garbage, 10.0.0.2",
        "198.51.100.23:4711",
        "[2001:db8::1]",
        "198.51.100.23,,10.0.0.2",
        "198.51.100.23, ",
        "unknown",
        "1.2.3",
        "fe80::1%eth0",
        ",",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *got = resolve(state, "10.0.0.5", bad[i], "192.0.2.44");
        if (strcmp(got, "10.0.0.5") != 0)
            fail_msg("XFF \"%s\" gave %s", bad[i], got);
    }
}

static void test_gw_clientip_x_real_ip_fallback(void **state)
{
    /* No XFF, blank XFF, or only trusted hops: X-Real-IP if valid, else peer. */
    assert_string_equal(resolve(state, "10.0.0.5", NULL, " 192.0.2.44 "), "192.0.2.44");
    assert_string_equal(resolve(state, "10.0.0.5", "  ", "192.0.2.44"), "192.0.2.44");
    assert_string_equal(resolve(state, "10.0.0.5", "10.0.0.1, 127.0.0.1", "192.0.2.44"),
                        "192.0.2.44");
    assert_string_equal(resolve(state, "10.0.0.5", "10.0.0.1", NULL), "10.0.0.5");
    assert_string_equal(resolve(state, "10.0.0.5", NULL, "not-an-ip"), "10.0.0.5");
    assert_string_equal(resolve(state, "10.0.0.5", NULL, "192.0.2.44, 1.1.1.1"), "10.0.0.5");
    assert_string_equal(resolve(state, "10.0.0.5", NULL, NULL), "10.0.0.5");
}

static void test_gw_clientip_bounds_entries_and_length(void **state)
{
    /* Many spoofed entries on the left are never read: the client is found. */
    char *xff = malloc(64 * 1024);
    assert_non_null(xff);
    xff[0] = '\0';
    for (int i = 0; i < 500; i++)
        strcat(xff, "1.1.1.1, ");
    strcat(xff, "198.51.100.23");
    assert_true(strlen(xff) <= GW_XFF_MAX_LEN);
    assert_string_equal(resolve(state, "10.0.0.5", xff, NULL), "198.51.100.23");

    /* More trusted hops than GW_XFF_MAX_HOPS before the client: not believed. */
    strcpy(xff, "198.51.100.23");
    for (int i = 0; i < GW_XFF_MAX_HOPS; i++)
        strcat(xff, ", 10.0.0.7");
    assert_string_equal(resolve(state, "10.0.0.5", xff, "192.0.2.44"), "10.0.0.5");
    /* One fewer trusted hop is still fine. */
    strcpy(xff, "198.51.100.23");
    for (int i = 0; i < GW_XFF_MAX_HOPS - 1; i++)
        strcat(xff, ", 10.0.0.7");
    assert_string_equal(resolve(state, "10.0.0.5", xff, NULL), "198.51.100.23");

    /* An over-long header is ignored altogether. */
    memset(xff, ' ', GW_XFF_MAX_LEN);
    strcpy(xff + GW_XFF_MAX_LEN, "198.51.100.23");
    assert_string_equal(resolve(state, "10.0.0.5", xff, "192.0.2.44"), "10.0.0.5");
    free(xff);
}

static void test_gw_clientip_resolve_rejects_bad_peer_and_small_buffer(void **state)
{
    char out[GW_CLIENTIP_LEN] = "x";
    assert_int_equal(gw_clientip_resolve(*state, "not-an-ip", NULL, NULL, out, sizeof out), -1);
    assert_string_equal(out, "");
    assert_int_equal(gw_clientip_resolve(*state, NULL, NULL, NULL, out, sizeof out), -1);
    assert_int_equal(gw_clientip_resolve(*state, "1.2.3.4", NULL, NULL, NULL, 0), -1);
    char small[8];
    assert_int_equal(
        gw_clientip_resolve(*state, "10.0.0.5", "2001:db8::1234:5678", NULL, small, sizeof small),
        -1);
    assert_string_equal(small, "");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_gw_clientip_trusted_parses_mixed_list),
        T(test_gw_clientip_trusted_ipv6_cidr),
        T(test_gw_clientip_trusted_odd_prefixes),
        T(test_gw_clientip_trusted_ipv4_mapped_entries),
        T(test_gw_clientip_trusted_empty_and_null_is_empty_set),
        T(test_gw_clientip_trusted_rejects_bad_entries),
        T(test_gw_clientip_trusted_error_names_the_entry),
        T(test_gw_clientip_trusted_bounds_list_size),
        T(test_gw_clientip_trusted_contains_sockaddr),
        T(test_gw_clientip_normalise_canonical_text),
        T(test_gw_clientip_untrusted_peer_ignores_headers),
        T(test_gw_clientip_empty_set_always_uses_peer),
        T(test_gw_clientip_trusted_peer_takes_rightmost_untrusted),
        T(test_gw_clientip_skips_multiple_trusted_hops),
        T(test_gw_clientip_ignores_spoofed_leftmost_entries),
        T(test_gw_clientip_normalises_ipv4_mapped),
        T(test_gw_clientip_ipv6_peers_and_entries),
        T(test_gw_clientip_garbage_entry_falls_back_to_peer),
        T(test_gw_clientip_x_real_ip_fallback),
        T(test_gw_clientip_bounds_entries_and_length),
        T(test_gw_clientip_resolve_rejects_bad_peer_and_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
