/*
 * Unit tests for rt_sha256: the FIPS 180-2 vectors, a digest fed in
 * pieces equals the one-shot digest, and hex output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rt_sha256.h"

static void hex_of(const unsigned char d[RT_SHA256_BYTES], char out[RT_SHA256_HEX])
{
    rt_sha256_hex(d, out);
}

static void test_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned char d[RT_SHA256_BYTES];
        char hex[RT_SHA256_HEX];
        rt_sha256(v[i].in, strlen(v[i].in), d);
        hex_of(d, hex);
        assert_string_equal(hex, v[i].hex);
    }
}

static void test_million_a_in_pieces(void **state)
{
    (void)state;
    rt_sha256_t *h = rt_sha256_new();
    assert_non_null(h);
    char block[1000];
    memset(block, 'a', sizeof block);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rt_sha256_update(h, block, sizeof block), 0);
    unsigned char d[RT_SHA256_BYTES];
    char hex[RT_SHA256_HEX];
    assert_int_equal(rt_sha256_final(h, d), 0);
    hex_of(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    rt_sha256_destroy(h);
}

static void test_pieces_equal_one_shot(void **state)
{
    (void)state;
    size_t n = 300000;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 131u + (i >> 7));
    unsigned char whole[RT_SHA256_BYTES], pieces[RT_SHA256_BYTES];
    rt_sha256(buf, n, whole);
    rt_sha256_t *h = rt_sha256_new();
    assert_non_null(h);
    size_t off = 0, step = 1;
    while (off < n) {
        size_t k = step < n - off ? step : n - off;
        assert_int_equal(rt_sha256_update(h, buf + off, k), 0);
        off += k;
        step = step * 3 + 1;
    }
    assert_int_equal(rt_sha256_update(h, buf, 0), 0); /* an empty piece changes nothing */
    assert_int_equal(rt_sha256_final(h, pieces), 0);
    assert_memory_equal(whole, pieces, RT_SHA256_BYTES);
    rt_sha256_destroy(h);
    rt_sha256_destroy(NULL);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_million_a_in_pieces),
        cmocka_unit_test(test_pieces_equal_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
