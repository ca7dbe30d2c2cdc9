/*
 * Tests for gw_iplimit: the per-address limit, release, IPv4/IPv6 keys, a
 * full table, no limit, and many addresses coming and going (the probe
 * chains stay intact through backward-shift deletion).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "gw_iplimit.h"

static struct sockaddr_in v4(uint32_t host_order)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(1234)};
    sa.sin_addr.s_addr = htonl(host_order);
    return sa;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_iplimit_limit_per_address(void **state)
{
    gw_iplimit_t *l = gw_iplimit_new(8, 2);
    assert_non_null(l);
    struct sockaddr_in a = v4(0x0a000001), b = v4(0x0a000002);
    assert_true(gw_iplimit_take(l, SA(a), sizeof a));
    assert_true(gw_iplimit_take(l, SA(a), sizeof a));
    assert_false(gw_iplimit_take(l, SA(a), sizeof a)); /* third from the same address */
    assert_true(gw_iplimit_take(l, SA(b), sizeof b));  /* another address is separate */
    assert_int_equal(gw_iplimit_count(l, SA(a), sizeof a), 2);
    gw_iplimit_release(l, SA(a), sizeof a);
    assert_true(gw_iplimit_take(l, SA(a), sizeof a)); /* room again */
    a.sin_port = htons(999);                          /* the port is not part of the key */
    assert_false(gw_iplimit_take(l, SA(a), sizeof a));
    gw_iplimit_destroy(&l);
    assert_null(l);
}

static void test_iplimit_v4_mapped_is_the_same_address(void **state)
{
    gw_iplimit_t *l = gw_iplimit_new(8, 1);
    struct sockaddr_in a = v4(0xc0000201); /* 192.0.2.1 */
    struct sockaddr_in6 m = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:192.0.2.1", &m.sin6_addr);
    struct sockaddr_in6 other = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::1", &other.sin6_addr);
    assert_true(gw_iplimit_take(l, SA(a), sizeof a));
    assert_false(gw_iplimit_take(l, SA(m), sizeof m));
    assert_true(gw_iplimit_take(l, SA(other), sizeof other));
    gw_iplimit_destroy(&l);
}

static void test_iplimit_full_table_refuses_new_addresses(void **state)
{
    gw_iplimit_t *l = gw_iplimit_new(3, 5);
    for (uint32_t i = 0; i < 3; i++) {
        struct sockaddr_in a = v4(0x0a000000 + i);
        assert_true(gw_iplimit_take(l, SA(a), sizeof a));
    }
    struct sockaddr_in d = v4(0x0a0000ff), a0 = v4(0x0a000000);
    assert_false(gw_iplimit_take(l, SA(d), sizeof d));  /* a fourth address */
    assert_true(gw_iplimit_take(l, SA(a0), sizeof a0)); /* a known one still counts */
    gw_iplimit_release(l, SA(a0), sizeof a0);
    gw_iplimit_release(l, SA(a0), sizeof a0); /* a0 leaves the table */
    assert_true(gw_iplimit_take(l, SA(d), sizeof d));
    gw_iplimit_destroy(&l);
}

static void test_iplimit_zero_means_unlimited_and_other_families_pass(void **state)
{
    gw_iplimit_t *l = gw_iplimit_new(1, 0);
    struct sockaddr_in a = v4(0x7f000001);
    for (int i = 0; i < 100; i++)
        assert_true(gw_iplimit_take(l, SA(a), sizeof a));
    gw_iplimit_destroy(&l);
    l = gw_iplimit_new(1, 1);
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_true(gw_iplimit_take(l, &un, sizeof un));
    assert_true(gw_iplimit_take(l, &un, sizeof un));
    assert_true(gw_iplimit_take(l, NULL, 0));
    struct sockaddr_in shortaddr = v4(1);
    assert_true(gw_iplimit_take(l, SA(shortaddr), 2)); /* too short to be an address */
    gw_iplimit_release(l, NULL, 0);
    assert_null(gw_iplimit_new(0, 1));
    assert_true(gw_iplimit_take(NULL, SA(a), sizeof a));
    gw_iplimit_destroy(&l);
}

/* Thousands of addresses in and out in an interleaved order: every count
 * stays exact, so no entry was lost or duplicated by a deletion. */
static void test_iplimit_churn_keeps_counts_exact(void **state)
{
    enum { N = 2000 };
    gw_iplimit_t *l = gw_iplimit_new(N, 3);
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < N; i++) {
            struct sockaddr_in a = v4(0x0b000000 + i * 7919u);
            assert_true(gw_iplimit_take(l, SA(a), sizeof a));
        }
    }
    for (uint32_t i = 0; i < N; i += 2) { /* every other address leaves */
        struct sockaddr_in a = v4(0x0b000000 + i * 7919u);
        for (int k = 0; k < 3; k++)
            gw_iplimit_release(l, SA(a), sizeof a);
    }
    for (uint32_t i = 0; i < N; i++) {
        struct sockaddr_in a = v4(0x0b000000 + i * 7919u);
        assert_int_equal(gw_iplimit_count(l, SA(a), sizeof a), i % 2 ? 3 : 0);
        if (i % 2)
            assert_false(gw_iplimit_take(l, SA(a), sizeof a));
    }
    gw_iplimit_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iplimit_limit_per_address),
        cmocka_unit_test(test_iplimit_v4_mapped_is_the_same_address),
        cmocka_unit_test(test_iplimit_full_table_refuses_new_addresses),
        cmocka_unit_test(test_iplimit_zero_means_unlimited_and_other_families_pass),
        cmocka_unit_test(test_iplimit_churn_keeps_counts_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
