/*
 * Unit tests for auth_hash: round trip, mismatch, the encoded format, fresh
 * salts, needs_rehash for each parameter that can differ, verification of
 * hashes made with other parameters (t, m, p, v=16, tag and salt lengths),
 * hostile encodings refused fast without allocating (absurd parameters,
 * truncation, other variants, garbage, base64 errors), parameter
 * validation in _new and argument checks. Parameters are tiny (t=1, m=64
 * KiB) so the whole file runs in well under a second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <argon2.h>

#include "auth_hash.h"

#define PW       "Correct-Horse-42!"
#define T_COST   1
#define M_COST   64
#define P_LANES  1
#define FAST_MS  500.0 /* every hostile encoding together, generous for ASan */
#define SALT16   "c2FsdHNhbHRzYWx0c2FsdA"
#define FIELD_AT "$argon2id$v=19$"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int setup(void **state)
{
    auth_hash_t *h = auth_hash_new(T_COST, M_COST, P_LANES);
    *state = h;
    return h == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    auth_hash_t *h = *state;
    auth_hash_destroy(&h);
    return 0;
}

/* Hashes PW with `h` into `out` (AUTH_HASH_ENCODED_BUF bytes). */
static void make_hash(const auth_hash_t *h, const char *pw, char *out)
{
    assert_int_equal(auth_hash_password(h, pw, out, AUTH_HASH_ENCODED_BUF), 0);
}

/* Copies `enc` into `out` with the first `from` replaced by `to`. */
static void replace(const char *enc, const char *from, const char *to, char *out, size_t cap)
{
    const char *at = strstr(enc, from);
    assert_non_null(at);
    int n = snprintf(out, cap, "%.*s%s%s", (int)(at - enc), enc, to, at + strlen(from));
    assert_true(n > 0 && (size_t)n < cap);
}

static void test_hash_round_trip(void **state)
{
    const auth_hash_t *h = *state;
    char enc[AUTH_HASH_ENCODED_BUF];

    make_hash(h, PW, enc);
    assert_int_equal(auth_hash_verify(h, enc, PW), AUTH_HASH_MATCH);
    assert_false(auth_hash_needs_rehash(h, enc));

    /* The empty password and a long one are passwords like any other. */
    make_hash(h, "", enc);
    assert_int_equal(auth_hash_verify(h, enc, ""), AUTH_HASH_MATCH);
    assert_int_equal(auth_hash_verify(h, enc, PW), AUTH_HASH_MISMATCH);
    char long_pw[AUTH_HASH_PASSWORD_MAX + 1];
    memset(long_pw, 'x', AUTH_HASH_PASSWORD_MAX);
    long_pw[AUTH_HASH_PASSWORD_MAX] = '\0';
    make_hash(h, long_pw, enc);
    assert_int_equal(auth_hash_verify(h, enc, long_pw), AUTH_HASH_MATCH);
}

static void test_hash_mismatch(void **state)
{
    const auth_hash_t *h = *state;
    char enc[AUTH_HASH_ENCODED_BUF];

    make_hash(h, PW, enc);
    assert_int_equal(auth_hash_verify(h, enc, "Correct-Horse-43!"), AUTH_HASH_MISMATCH);
    assert_int_equal(auth_hash_verify(h, enc, "correct-Horse-42!"), AUTH_HASH_MISMATCH);
    assert_int_equal(auth_hash_verify(h, enc, "Correct-Horse-42"), AUTH_HASH_MISMATCH);
    assert_int_equal(auth_hash_verify(h, enc, ""), AUTH_HASH_MISMATCH);

    /* A tag flipped in one valid digit is a wrong password, not an error. */
    char bad[AUTH_HASH_ENCODED_BUF];
    strcpy(bad, enc);
    char *tag = strrchr(bad, '$') + 1;
    tag[0] = tag[0] == 'A' ? 'B' : 'A';
    assert_int_equal(auth_hash_verify(h, bad, PW), AUTH_HASH_MISMATCH);
}

static void test_hash_encoded_format(void **state)
{
    const auth_hash_t *h = *state;
    char enc[AUTH_HASH_ENCODED_BUF], enc2[AUTH_HASH_ENCODED_BUF];
    regex_t re;

    /* 16-byte salt: 22 unpadded digits; 32-byte tag: 43. */
    assert_int_equal(regcomp(&re,
                             "^\\$argon2id\\$v=19\\$m=64,t=1,p=1\\$[A-Za-z0-9+/]{22}"
                             "\\$[A-Za-z0-9+/]{43}$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    make_hash(h, PW, enc);
    make_hash(h, PW, enc2);
    assert_int_equal(regexec(&re, enc, 0, NULL, 0), 0);
    assert_int_equal(regexec(&re, enc2, 0, NULL, 0), 0);
    regfree(&re);
    assert_string_not_equal(enc, enc2); /* fresh salt each time */

    auth_hash_t *big = auth_hash_new(2, 256, 2);
    assert_non_null(big);
    make_hash(big, PW, enc);
    assert_int_equal(strncmp(enc, "$argon2id$v=19$m=256,t=2,p=2$", 29), 0);
    auth_hash_destroy(&big);
}

static void test_hash_password_args(void **state)
{
    const auth_hash_t *h = *state;
    char enc[AUTH_HASH_ENCODED_BUF];
    char long_pw[AUTH_HASH_PASSWORD_MAX + 2];

    memset(enc, 'z', sizeof enc);
    assert_int_equal(auth_hash_password(h, PW, enc, 40), -1); /* cap too small */
    assert_string_equal(enc, "");
    assert_int_equal(auth_hash_password(h, NULL, enc, sizeof enc), -1);
    assert_string_equal(enc, "");
    assert_int_equal(auth_hash_password(NULL, PW, enc, sizeof enc), -1);
    assert_int_equal(auth_hash_password(h, PW, NULL, sizeof enc), -1);
    assert_int_equal(auth_hash_password(h, PW, enc, 0), -1);
    memset(long_pw, 'x', sizeof long_pw - 1);
    long_pw[sizeof long_pw - 1] = '\0';
    assert_int_equal(auth_hash_password(h, long_pw, enc, sizeof enc), -1);

    make_hash(h, PW, enc);
    assert_int_equal(auth_hash_verify(h, enc, long_pw), AUTH_HASH_ERROR);
    assert_int_equal(auth_hash_verify(h, enc, NULL), AUTH_HASH_ERROR);
    assert_int_equal(auth_hash_verify(NULL, enc, PW), AUTH_HASH_ERROR);
    assert_int_equal(auth_hash_verify(h, NULL, PW), AUTH_HASH_ERROR);
    assert_int_equal(auth_hash_verify(h, "", PW), AUTH_HASH_ERROR);
    assert_false(auth_hash_needs_rehash(NULL, enc));
    auth_hash_verify_dummy(NULL, PW);
    auth_hash_verify_dummy(h, NULL);
}

static void test_hash_new_validates(void **state)
{
    static const uint32_t bad[][3] = {{0, 64, 1},                      /* t below 1 */
                                      {101, 64, 1},                    /* t above 100 */
                                      {UINT32_MAX, 64, 1},             /* t absurd */
                                      {1, 64, 0},                      /* p below 1 */
                                      {1, 1024, 65},                   /* p above 64 */
                                      {1, 7, 1},                       /* m below 8 */
                                      {1, 15, 2},                      /* m below 8 * p */
                                      {1, 511, 64},                    /* m below 8 * p at p = 64 */
                                      {1, AUTH_HASH_M_MAX + 1, 1},     /* m above 4 GiB */
                                      {1, UINT32_MAX, 1},              /* m absurd */
                                      {UINT32_MAX, UINT32_MAX, 255u}}; /* everything absurd */
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(auth_hash_new(bad[i][0], bad[i][1], bad[i][2]));

    /* The edges that are cheap to build. */
    auth_hash_t *h = auth_hash_new(1, 8, 1);
    assert_non_null(h);
    auth_hash_destroy(&h);
    assert_null(h);
    h = auth_hash_new(AUTH_HASH_T_MAX, 8, 1);
    assert_non_null(h);
    auth_hash_destroy(&h);
    h = auth_hash_new(1, 16, 2);
    assert_non_null(h);
    auth_hash_destroy(&h);
    auth_hash_destroy(&h); /* NULL: no-op */
    auth_hash_destroy(NULL);
}

static void test_hash_needs_rehash_each_parameter(void **state)
{
    const auth_hash_t *h = *state; /* t=1, m=64, p=1 */
    char enc[AUTH_HASH_ENCODED_BUF], other[AUTH_HASH_ENCODED_BUF];
    static const uint32_t variants[][3] = {{2, 64, 1}, {1, 128, 1}, {1, 64, 2}};

    make_hash(h, PW, enc);
    assert_false(auth_hash_needs_rehash(h, enc));
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        auth_hash_t *o = auth_hash_new(variants[i][0], variants[i][1], variants[i][2]);
        assert_non_null(o);
        assert_true(auth_hash_needs_rehash(o, enc)); /* ours seen by o */
        make_hash(o, PW, other);
        assert_true(auth_hash_needs_rehash(h, other)); /* o's seen by ours */
        assert_false(auth_hash_needs_rehash(o, other));
        auth_hash_destroy(&o);
    }

    /* Version: v=16 of the same parameters. */
    replace(enc, "v=19", "v=16", other, sizeof other);
    assert_true(auth_hash_needs_rehash(h, other));

    /* Tag and salt lengths other than 32 and 16. */
    unsigned char salt[16] = "saltsaltsaltsalt";
    assert_int_equal(argon2id_hash_encoded(T_COST, M_COST, P_LANES, PW, strlen(PW), salt, 16, 16,
                                           other, sizeof other),
                     ARGON2_OK);
    assert_true(auth_hash_needs_rehash(h, other));
    assert_int_equal(argon2id_hash_encoded(T_COST, M_COST, P_LANES, PW, strlen(PW), salt, 8, 32,
                                           other, sizeof other),
                     ARGON2_OK);
    assert_true(auth_hash_needs_rehash(h, other));

    /* Not argon2id at all, or not an encoding. */
    assert_int_equal(argon2i_hash_encoded(T_COST, M_COST, P_LANES, PW, strlen(PW), salt, 16, 32,
                                          other, sizeof other),
                     ARGON2_OK);
    assert_true(auth_hash_needs_rehash(h, other));
    assert_true(auth_hash_needs_rehash(h, NULL));
    assert_true(auth_hash_needs_rehash(h, ""));
    assert_true(auth_hash_needs_rehash(h, "$2b$12$abcdefghijklmnopqrstuv"));
}

static void test_hash_verify_other_parameters(void **state)
{
    const auth_hash_t *h = *state;
    char enc[AUTH_HASH_ENCODED_BUF];
    unsigned char salt[16] = "saltsaltsaltsalt";

    /* Hashes made by hashers with other settings still verify with ours. */
    static const uint32_t variants[][3] = {{3, 64, 1}, {1, 256, 1}, {1, 64, 4}, {2, 96, 3}};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        auth_hash_t *o = auth_hash_new(variants[i][0], variants[i][1], variants[i][2]);
        assert_non_null(o);
        make_hash(o, PW, enc);
        auth_hash_destroy(&o);
        assert_int_equal(auth_hash_verify(h, enc, PW), AUTH_HASH_MATCH);
        assert_int_equal(auth_hash_verify(h, enc, "nope"), AUTH_HASH_MISMATCH);
        assert_true(auth_hash_needs_rehash(h, enc));
    }

    /* Argon2 version 1.0 (v=16), a 16-byte tag, an 8-byte salt. */
    assert_int_equal(argon2_hash(T_COST, M_COST, P_LANES, PW, strlen(PW), salt, 16, NULL, 32, enc,
                                 sizeof enc, Argon2_id, ARGON2_VERSION_10),
                     ARGON2_OK);
    assert_non_null(strstr(enc, "$v=16$"));
    assert_int_equal(auth_hash_verify(h, enc, PW), AUTH_HASH_MATCH);
    assert_int_equal(auth_hash_verify(h, enc, "nope"), AUTH_HASH_MISMATCH);
    assert_int_equal(argon2id_hash_encoded(T_COST, M_COST, P_LANES, PW, strlen(PW), salt, 16, 16,
                                           enc, sizeof enc),
                     ARGON2_OK);
    assert_int_equal(auth_hash_verify(h, enc, PW), AUTH_HASH_MATCH);
    assert_int_equal(argon2id_hash_encoded(T_COST, M_COST, P_LANES, PW, strlen(PW), salt, 8, 32,
                                           enc, sizeof enc),
                     ARGON2_OK);
    assert_int_equal(auth_hash_verify(h, enc, PW), AUTH_HASH_MATCH);
}

static void test_hash_hostile_encodings(void **state)
{
    const auth_hash_t *h = *state;
    char enc[AUTH_HASH_ENCODED_BUF], buf[1024];
    /* Each row: replace `from` in a valid hash by `to`. */
    static const char *const edits[][2] = {
        {"m=64", "m=4294967295"},
        {"m=64", "m=4294967296"},
        {"m=64", "m=99999999999"},
        {"m=64", "m=4194305"},
        {"m=64", "m=0"},
        {"m=64", "m=7"},
        {"m=64", "m=064"},
        {"m=64", "m=+64"},
        {"m=64", "m=-64"},
        {"m=64", "m= 64"},
        {"m=64", "m="},
        {"m=64", "M=64"},
        {"t=1", "t=4294967295"},
        {"t=1", "t=101"},
        {"t=1", "t=0"},
        {"t=1", "t=01"},
        {"p=1", "p=255"},
        {"p=1", "p=65"},
        {"p=1", "p=0"},
        {"m=64,t=1,p=1", "m=64,p=1"},
        {"m=64,t=1,p=1", "t=1,m=64,p=1"},
        {"m=64,t=1,p=1", "m=8,t=1,p=2"}, /* m < 8 * p */
        {"v=19$", "v=20$"},
        {"v=19$", "v=0$"},
        {"v=19$", ""},
        {"v=19$", "v=019$"},
        {"$argon2id$", "$argon2i$"},
        {"$argon2id$", "$argon2d$"},
        {"$argon2id$", "$Argon2id$"},
        {"$argon2id$", "$argon2$"},
        {"$argon2id$", "argon2id$"},
        {"$argon2id$", "$argon2id$$"},
        {"p=1$", "p=1,keyid=abc$"},
        {"p=1$", "p=1,data=abc$"},
        {"p=1$", "p=1$$"},
    };

    make_hash(h, PW, enc);
    double t0 = now_ms();
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        replace(enc, edits[i][0], edits[i][1], buf, sizeof buf);
        assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
        assert_true(auth_hash_needs_rehash(h, buf));
    }

    /* Base64: bad digits, padding, 1 mod 4 lengths, non-zero unused bits,
     * too short, too long, empty; junk after the tag. Each case appends an
     * odd character to the salt, then to the tag. */
    const char *salt = strchr(enc + strlen(FIELD_AT), '$') + 1;
    const char *tag = strrchr(enc, '$') + 1;
    char s[64], t[64];
    snprintf(s, sizeof s, "%.*s", (int)(tag - 1 - salt), salt);
    snprintf(t, sizeof t, "%s", tag);
    static const char *const junk[] = {"*", "=", "==", "-", "_", "\x80", "\n", ".", "%"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        snprintf(buf, sizeof buf, "$argon2id$v=19$m=64,t=1,p=1$%s%s$%s", s, junk[i], t);
        assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
        snprintf(buf, sizeof buf, "$argon2id$v=19$m=64,t=1,p=1$%s$%s%s", s, t, junk[i]);
        assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
    }
    /* 1 mod 4 digits: 21 for the salt, 41 for the tag. */
    snprintf(buf, sizeof buf, "$argon2id$v=19$m=64,t=1,p=1$%.21s$%s", s, t);
    assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
    snprintf(buf, sizeof buf, "$argon2id$v=19$m=64,t=1,p=1$%s$%.41s", s, t);
    assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
    /* 22 digits (salt): the last one must have its 4 low bits clear; 43
     * digits (tag): its 2 low bits. 'B' = 1 breaks both. */
    snprintf(buf, sizeof buf, "$argon2id$v=19$m=64,t=1,p=1$%.21sB$%s", s, t);
    assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
    snprintf(buf, sizeof buf, "$argon2id$v=19$m=64,t=1,p=1$%s$%.42sB", s, t);
    assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
    const char *const whole[] = {
        "$argon2id$v=19$m=64,t=1,p=1$$" /* empty salt */,
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" SALT16 /* 4-byte salt */,
        "$argon2id$v=19$m=64,t=1,p=1$" SALT16 "$" /* empty tag */,
        "$argon2id$v=19$m=64,t=1,p=1$" SALT16 "$c2FsdHNhbHQ" /* 8-byte tag */,
        "$argon2id$v=19$m=64,t=1,p=1$" SALT16 "$" SALT16 SALT16 SALT16 SALT16 /* 66-byte tag */,
        "$argon2id$v=19$m=64,t=1,p=1$" SALT16 SALT16 SALT16 SALT16 "$" SALT16 /* 66-byte salt */,
        "",
        "$",
        "$$$$$$",
        "x",
        "$argon2id$",
        "$argon2id$v=19$m=64,t=1,p=1",
        "$argon2id$v=19$m=64,t=1,p=1$" SALT16,
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "plaintext-password",
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        assert_int_equal(auth_hash_verify(h, whole[i], PW), AUTH_HASH_ERROR);

    /* Junk after a valid hash. */
    snprintf(buf, sizeof buf, "%s$", enc);
    assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
    snprintf(buf, sizeof buf, "%s$extra", enc);
    assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);
    snprintf(buf, sizeof buf, "%s ", enc);
    assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);

    /* Over AUTH_HASH_ENCODED_MAX, even if well formed otherwise. */
    memset(buf, 'A', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    memcpy(buf, enc, strlen(enc));
    assert_int_equal(auth_hash_verify(h, buf, PW), AUTH_HASH_ERROR);

    /* Every prefix of a valid hash: never a match; an error while the tag
     * is shorter than 16 bytes (22 digits), at most a mismatch after. */
    size_t len = strlen(enc), tag_at = (size_t)(tag - enc);
    for (size_t n = 0; n < len; n++) {
        memcpy(buf, enc, n);
        buf[n] = '\0';
        auth_hash_result_t r = auth_hash_verify(h, buf, PW);
        if (n < tag_at + 22)
            assert_int_equal(r, AUTH_HASH_ERROR);
        else
            assert_int_not_equal(r, AUTH_HASH_MATCH);
    }
    double elapsed = now_ms() - t0;
    print_message("hostile encodings: %.1f ms in all\n", elapsed);
    assert_true(elapsed < FAST_MS);

    /* The valid one still matches after all that. */
    assert_int_equal(auth_hash_verify(h, enc, PW), AUTH_HASH_MATCH);
}

/* One lane goes through libsodium, several through libargon2: each reads
 * what the other writes, so no stored hash is stranded by a setting. */
static void test_hash_one_lane_is_interchangeable_with_libargon2(void **state)
{
    (void)state;
    auth_hash_t *one = auth_hash_new(1, 1024, 1), *four = auth_hash_new(1, 1024, 4);
    char enc[AUTH_HASH_ENCODED_BUF];
    assert_non_null(one);
    assert_non_null(four);
    assert_int_equal(auth_hash_password(one, "Pw-one-lane-1", enc, sizeof enc), 0);
    assert_non_null(strstr(enc, "$argon2id$v=19$m=1024,t=1,p=1$"));
    assert_int_equal(argon2id_verify(enc, "Pw-one-lane-1", 13), ARGON2_OK); /* libargon2 reads it */
    assert_int_equal(auth_hash_verify(four, enc, "Pw-one-lane-1"), AUTH_HASH_MATCH);
    assert_int_equal(auth_hash_verify(one, enc, "Pw-one-lane-2"), AUTH_HASH_MISMATCH);
    /* A one-lane hash written by libargon2, verified on libsodium's path. */
    unsigned char salt[16] = "0123456789abcdef";
    assert_int_equal(argon2id_hash_encoded(2, 2048, 1, "Pw-x", 4, salt, 16, 32, enc, sizeof enc),
                     ARGON2_OK);
    assert_int_equal(auth_hash_verify(one, enc, "Pw-x"), AUTH_HASH_MATCH);
    assert_int_equal(auth_hash_verify(one, enc, "Pw-y"), AUTH_HASH_MISMATCH);
    auth_hash_destroy(&one);
    auth_hash_destroy(&four);
}

/* Known answers, whichever Argon2 build is linked (auth_hash_impl): the
 * Argon2id vector of RFC 9106 section 5.3 (t=3, m=32 KiB, p=4, with secret
 * and associated data) through the library itself, and two p=4 hashes
 * written by Debian's generic libargon2 (through Python's argon2-cffi:
 * low_level.hash_secret(b"correct horse", b"restc-known-salt", time_cost=2,
 * memory_cost=256, parallelism=4, hash_len=32, type=ID, version=19 / 16))
 * through auth_hash_verify. */
static void test_hash_known_answers(void **state)
{
    (void)state;
    static const uint8_t rfc_tag[32] = {0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c,
                                        0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b, 0x53, 0xc9,
                                        0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e,
                                        0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01, 0xe6, 0x59};
    uint8_t pwd[32], salt[16], secret[8], ad[12], out[32];
    memset(pwd, 0x01, sizeof pwd);
    memset(salt, 0x02, sizeof salt);
    memset(secret, 0x03, sizeof secret);
    memset(ad, 0x04, sizeof ad);
    for (uint32_t threads = 1; threads <= 4; threads *= 2) {
        argon2_context ctx = {.out = out,
                              .outlen = 32,
                              .pwd = pwd,
                              .pwdlen = 32,
                              .salt = salt,
                              .saltlen = 16,
                              .secret = secret,
                              .secretlen = 8,
                              .ad = ad,
                              .adlen = 12,
                              .t_cost = 3,
                              .m_cost = 32,
                              .lanes = 4,
                              .threads = threads,
                              .version = ARGON2_VERSION_13};
        memset(out, 0, sizeof out);
        assert_int_equal(argon2id_ctx(&ctx), ARGON2_OK);
        assert_memory_equal(out, rfc_tag, sizeof rfc_tag);
    }

    static const char *const v19 = "$argon2id$v=19$m=256,t=2,p=4$cmVzdGMta25vd24tc2FsdA$"
                                   "WdJLA+PL6oMB2nK+fG86IyzCsDNHJWECWf+Af9Bp65M";
    static const char *const v16 = "$argon2id$v=16$m=256,t=2,p=4$cmVzdGMta25vd24tc2FsdA$"
                                   "Neh5m/jrAzpjciAq50gBHQuR3U7zqlAcJ5r0pJ4+Cks";
    auth_hash_t *h = auth_hash_new(2, 256, 4);
    assert_non_null(h);
    assert_int_equal(auth_hash_verify(h, v19, "correct horse"), AUTH_HASH_MATCH);
    assert_int_equal(auth_hash_verify(h, v16, "correct horse"), AUTH_HASH_MATCH);
    assert_int_equal(auth_hash_verify(h, v19, "correct horsf"), AUTH_HASH_MISMATCH);
    assert_int_equal(auth_hash_verify(h, v16, "correct horsf"), AUTH_HASH_MISMATCH);
    assert_false(auth_hash_needs_rehash(h, v19));
    auth_hash_limit_cpus(h, 1); /* one thread for all four lanes: the same answer */
    assert_int_equal(auth_hash_verify(h, v19, "correct horse"), AUTH_HASH_MATCH);
    assert_int_equal(auth_hash_verify(h, v19, "correct horsf"), AUTH_HASH_MISMATCH);
    auth_hash_limit_cpus(NULL, 1);

    /* What we write for p=4, libargon2's own decoder reads. */
    char enc[AUTH_HASH_ENCODED_BUF];
    assert_int_equal(auth_hash_password(h, "correct horse", enc, sizeof enc), 0);
    assert_int_equal(argon2id_verify(enc, "correct horse", 13), ARGON2_OK);
    assert_int_equal(argon2id_verify(enc, "correct horsf", 13), ARGON2_VERIFY_MISMATCH);
    auth_hash_destroy(&h);
    assert_non_null(auth_hash_impl());
    assert_true(auth_hash_cpu_supported()); /* else auth_hash_new above had failed */
}

static void test_hash_verify_dummy(void **state)
{
    const auth_hash_t *h = *state;
    /* No crash, no result; runs one verification each time. */
    auth_hash_verify_dummy(h, PW);
    auth_hash_verify_dummy(h, "");
    assert_string_equal(auth_hash_result_str(AUTH_HASH_MATCH), "match");
    assert_string_equal(auth_hash_result_str(AUTH_HASH_MISMATCH), "mismatch");
    assert_string_equal(auth_hash_result_str(AUTH_HASH_ERROR), "error");
    assert_string_equal(auth_hash_result_str((auth_hash_result_t)42), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_encoded_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_password_args, setup, teardown),
        cmocka_unit_test(test_hash_new_validates),
        cmocka_unit_test_setup_teardown(test_hash_needs_rehash_each_parameter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_verify_other_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_hostile_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_verify_dummy, setup, teardown),
        cmocka_unit_test(test_hash_one_lane_is_interchangeable_with_libargon2),
        cmocka_unit_test(test_hash_known_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
