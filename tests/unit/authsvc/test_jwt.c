/*
 * Unit tests for auth_jwt: a round trip keeps every claim, and every kind of
 * forged, altered, expired or incomplete token is refused with its reason.
 * Forgeries are built by hand here (base64url + HMAC from libsodium) so the
 * tests do not depend on libjwt to produce the bad tokens. The clock is
 * injected; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>

#include "auth_jwt.h"

#define SECRET   "0123456789abcdef0123456789abcdef-unit-test"
#define ISSUER   "restc-authsvc"
#define AUDIENCE "restc-api"
#define TTL      900
#define LEEWAY   5
#define T0       INT64_C(1700000000)

/* The injected clock reads this; tests move it instead of sleeping. */
static int64_t fake_now = T0;

static int64_t fake_clock(void)
{
    return fake_now;
}

typedef enum {
    SIG_HS256,
    SIG_HS512,
    SIG_NONE,
    SIG_RANDOM32,
    SIG_RANDOM48,
    SIG_RANDOM256
} sig_kind_t;

static auth_jwt_t *new_default(void)
{
    return auth_jwt_new((const unsigned char *)SECRET, strlen(SECRET), ISSUER, AUDIENCE, TTL,
                        LEEWAY, fake_clock);
}

static int setup(void **state)
{
    fake_now = T0;
    *state = new_default();
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    auth_jwt_t *j = *state;
    auth_jwt_destroy(&j);
    return 0;
}

/* ---- forging helpers --------------------------------------------------- */

static char *b64url(const void *data, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(cap);
    assert_non_null(out);
    sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* Signature bytes over `input` of the kind `how`, with `key`; returns the length. */
static size_t make_sig(sig_kind_t how, const char *key, const char *input, unsigned char *sig)
{
    const unsigned char *k = (const unsigned char *)key, *in = (const unsigned char *)input;
    if (how == SIG_HS256) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, k, strlen(key));
        crypto_auth_hmacsha256_update(&st, in, strlen(input));
        crypto_auth_hmacsha256_final(&st, sig);
        return 32;
    }
    if (how == SIG_HS512) {
        crypto_auth_hmacsha512_state st;
        crypto_auth_hmacsha512_init(&st, k, strlen(key));
        crypto_auth_hmacsha512_update(&st, in, strlen(input));
        crypto_auth_hmacsha512_final(&st, sig);
        return 64;
    }
    size_t n = how == SIG_RANDOM32 ? 32 : how == SIG_RANDOM48 ? 48 : how == SIG_RANDOM256 ? 256 : 0;
    randombytes_buf(sig, n);
    return n;
}

/* Builds "b64(header).b64(payload).b64(sig)" from raw JSON texts. Caller frees. */
static char *forge_raw(const char *header, const char *payload, sig_kind_t how, const char *key)
{
    char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
    size_t in_len = strlen(h) + 1 + strlen(p);
    char *input = malloc(in_len + 1);
    assert_non_null(input);
    snprintf(input, in_len + 1, "%s.%s", h, p);
    unsigned char sig[256];
    size_t sig_len = make_sig(how, key, input, sig);
    char *s = b64url(sig, sig_len);
    char *token = malloc(in_len + strlen(s) + 2);
    assert_non_null(token);
    sprintf(token, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return token;
}

/* The claims of a valid access token at `now`. Caller decrefs. */
static json_t *good_claims(int64_t now)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s}", "sub", "user-42", "role",
                          "user", "type", "access", "iat", (json_int_t)now, "exp",
                          (json_int_t)(now + TTL), "jti", "8e0b6c1e-4c7a-4a8e-9d55-2f1f1c0d9a11",
                          "iss", ISSUER, "aud", AUDIENCE, "sid", "family-7");
    assert_non_null(c);
    return c;
}

/* Serialises `claims` (stolen) under `header` and signs as `how` says. */
static char *forge(const char *header, json_t *claims, sig_kind_t how, const char *key)
{
    char *payload = json_dumps(claims, JSON_COMPACT);
    assert_non_null(payload);
    char *token = forge_raw(header, payload, how, key);
    free(payload);
    json_decref(claims);
    return token;
}

#define HS256_HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static char *forge_hs256(json_t *claims)
{
    return forge(HS256_HDR, claims, SIG_HS256, SECRET);
}

static auth_jwt_status_t verify_and_free(void **state, char *token)
{
    auth_jwt_claims_t out;
    auth_jwt_status_t st = auth_jwt_verify(*state, token, &out);
    if (st != AUTH_JWT_OK)
        assert_string_equal(out.sub, ""); /* nothing leaks out of a refused token */
    free(token);
    return st;
}

static char *issue_default(void **state, char *jti, int64_t *exp)
{
    auth_jwt_claims_in_t in = {.sub = "user-42", .role = "admin", .sid = "family-7"};
    char *slot[1] = {NULL};
    int rc = auth_jwt_issue(*state, &in, &slot[0], jti, exp);
    assert_int_equal(rc, 0);
    assert_non_null(slot[0]);
    return slot[0];
}

/* ---- construction ------------------------------------------------------ */

static void test_auth_jwt_new_rejects_bad_arguments(void **state)
{
    (void)state;
    const unsigned char *k = (const unsigned char *)SECRET;
    assert_null(auth_jwt_new(k, 31, ISSUER, AUDIENCE, TTL, LEEWAY, NULL));
    assert_null(auth_jwt_new(NULL, 32, ISSUER, AUDIENCE, TTL, LEEWAY, NULL));
    assert_null(auth_jwt_new(k, 32, "", AUDIENCE, TTL, LEEWAY, NULL));
    assert_null(auth_jwt_new(k, 32, ISSUER, NULL, TTL, LEEWAY, NULL));
    assert_null(auth_jwt_new(k, 32, ISSUER, AUDIENCE, 0, LEEWAY, NULL));
    assert_null(auth_jwt_new(k, 32, ISSUER, AUDIENCE, TTL, -1, NULL));
    assert_null(auth_jwt_new(k, 32, ISSUER, AUDIENCE, TTL, AUTH_JWT_MAX_LEEWAY + 1, NULL));
    auth_jwt_t *j = auth_jwt_new(k, 32, ISSUER, AUDIENCE, TTL, 0, NULL);
    assert_non_null(j);
    auth_jwt_destroy(&j);
}

static void test_auth_jwt_destroy_nulls_pointer(void **state)
{
    (void)state;
    auth_jwt_t *j = new_default();
    assert_non_null(j);
    auth_jwt_destroy(&j);
    assert_null(j);
    auth_jwt_destroy(&j);
    auth_jwt_destroy(NULL);
}

/* ---- issue and the happy path ------------------------------------------ */

static void test_auth_jwt_round_trip_keeps_all_claims(void **state)
{
    char jti[AUTH_JWT_JTI_BUF];
    int64_t exp = 0;
    char *token = issue_default(state, jti, &exp);
    assert_int_equal(exp, T0 + TTL);

    auth_jwt_claims_t out;
    assert_int_equal(auth_jwt_verify(*state, token, &out), AUTH_JWT_OK);
    assert_string_equal(out.sub, "user-42");
    assert_string_equal(out.role, "admin");
    assert_string_equal(out.sid, "family-7");
    assert_string_equal(out.jti, jti);
    assert_int_equal(out.iat, T0);
    assert_int_equal(out.exp, T0 + TTL);
    free(token);
}

static void test_auth_jwt_issue_writes_header_and_fixed_claims(void **state)
{
    char *token = issue_default(state, NULL, NULL);
    char *dot1 = strchr(token, '.'), *dot2 = strchr(dot1 + 1, '.');
    unsigned char buf[1024];
    size_t n;
    assert_int_equal(sodium_base642bin(buf, sizeof buf, token, (size_t)(dot1 - token), NULL, &n,
                                       NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    json_t *h = json_loadb((const char *)buf, n, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "HS256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_int_equal(sodium_base642bin(buf, sizeof buf, dot1 + 1, (size_t)(dot2 - dot1 - 1), NULL,
                                       &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    json_t *c = json_loadb((const char *)buf, n, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(c, "type")), "access");
    assert_string_equal(json_string_value(json_object_get(c, "iss")), ISSUER);
    assert_string_equal(json_string_value(json_object_get(c, "aud")), AUDIENCE);
    json_decref(h);
    json_decref(c);
    free(token);
}

static void test_auth_jwt_issue_jti_is_uuid7_of_iat(void **state)
{
    char a[AUTH_JWT_JTI_BUF], b[AUTH_JWT_JTI_BUF];
    free(issue_default(state, a, NULL));
    free(issue_default(state, b, NULL));
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(a), 36);
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", a[i]));
    }
    assert_int_equal(a[14], '7');
    assert_non_null(strchr("89ab", a[19]));
    /* Its time is the issue time in ms, within the second of iat. */
    char *token = issue_default(state, a, NULL);
    auth_jwt_claims_t out;
    assert_int_equal(auth_jwt_verify(*state, token, &out), AUTH_JWT_OK);
    assert_true(out.iat_ms >= out.iat * 1000 && out.iat_ms < out.iat * 1000 + 1000);
    free(token);
}

static void test_auth_jwt_issue_rejects_bad_input(void **state)
{
    char *token = (char *)"sentinel";
    auth_jwt_claims_in_t in = {.sub = "", .role = "user", .sid = "s"};
    assert_int_equal(auth_jwt_issue(*state, &in, &token, NULL, NULL), -1);
    assert_null(token);
    in.sub = "u";
    in.role = "a-role-name-that-is-way-too-long-to-be-real";
    assert_int_equal(auth_jwt_issue(*state, &in, &token, NULL, NULL), -1);
    in.role = "user";
    in.sid = NULL;
    assert_int_equal(auth_jwt_issue(*state, &in, &token, NULL, NULL), -1);
    assert_int_equal(auth_jwt_issue(*state, NULL, &token, NULL, NULL), -1);
}

static void test_auth_jwt_hand_forged_valid_token_accepted(void **state)
{
    /* Guards the helpers: the negative tests below differ from this in one way. */
    assert_int_equal(verify_and_free(state, forge_hs256(good_claims(T0))), AUTH_JWT_OK);
}

static void test_auth_jwt_long_secret_matches_libjwt(void **state)
{
    (void)state;
    /* Keys over the 64-byte HMAC block are hashed first; libjwt (OpenSSL)
     * and our libsodium check must agree on that. */
    unsigned char key[100];
    memset(key, 'k', sizeof key);
    auth_jwt_t *j = auth_jwt_new(key, sizeof key, ISSUER, AUDIENCE, TTL, 0, fake_clock);
    assert_non_null(j);
    auth_jwt_claims_in_t in = {.sub = "u", .role = "user", .sid = "s"};
    char *token = NULL;
    assert_int_equal(auth_jwt_issue(j, &in, &token, NULL, NULL), 0);
    assert_int_equal(auth_jwt_verify(j, token, NULL), AUTH_JWT_OK);
    free(token);
    auth_jwt_destroy(&j);
}

/* ---- algorithm confusion ----------------------------------------------- */

static void test_auth_jwt_rejects_alg_none_unsigned(void **state)
{
    char *t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", good_claims(T0), SIG_NONE, SECRET);
    assert_int_equal(t[strlen(t) - 1], '.');
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_MALFORMED);
    t = forge("{\"alg\":\"none\"}", good_claims(T0), SIG_NONE, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_MALFORMED);
}

static void test_auth_jwt_rejects_alg_none_with_signature(void **state)
{
    char *t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
    t = forge("{\"alg\":\"NoNe\"}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
}

static void test_auth_jwt_rejects_lowercase_hs256(void **state)
{
    /* Correctly signed: libjwt alone would accept this (strcasecmp). */
    char *t = forge("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
    t = forge("{\"alg\":\"HS256 \",\"typ\":\"JWT\"}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
}

static void test_auth_jwt_rejects_missing_or_non_string_alg(void **state)
{
    char *t = forge("{\"typ\":\"JWT\"}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
    t = forge("{\"alg\":[\"HS256\"]}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
}

static void test_auth_jwt_rejects_hs512_with_right_secret(void **state)
{
    char *t = forge("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good_claims(T0), SIG_HS512, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
}

static void test_auth_jwt_rejects_hs384(void **state)
{
    char *t = forge("{\"alg\":\"HS384\",\"typ\":\"JWT\"}", good_claims(T0), SIG_RANDOM48, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
}

static void test_auth_jwt_rejects_rs256(void **state)
{
    char *t = forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", good_claims(T0), SIG_RANDOM256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
    /* Key confusion the other way round: HMAC over the token with our secret. */
    t = forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_ALG);
}

static void test_auth_jwt_rejects_crit_and_bad_typ(void **state)
{
    char *t = forge("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_MALFORMED);
    t = forge("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", good_claims(T0), SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_MALFORMED);
}

static void test_auth_jwt_ignores_key_url_headers(void **state)
{
    /* jku/x5u/jwk/kid name keys we never fetch: a correctly signed token
     * carrying them is judged on our one key alone. */
    const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"../../x\","
                      "\"jku\":\"https://evil.example/jwks\",\"x5u\":\"https://evil.example/c\","
                      "\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}}";
    assert_int_equal(verify_and_free(state, forge(hdr, good_claims(T0), SIG_HS256, SECRET)),
                     AUTH_JWT_OK);
    char *t = forge(hdr, good_claims(T0), SIG_HS256, "AAAA-attacker-key-0123456789abcdef");
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_SIGNATURE);
}

/* ---- signatures -------------------------------------------------------- */

static void test_auth_jwt_rejects_other_secret(void **state)
{
    char *t = forge(HS256_HDR, good_claims(T0), SIG_HS256, "another-secret-of-enough-length-000");
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_SIGNATURE);
}

static void test_auth_jwt_rejects_tampered_payload(void **state)
{
    char *token = issue_default(state, NULL, NULL);
    char *dot1 = strchr(token, '.'), *dot2 = strchr(dot1 + 1, '.');
    json_t *c = good_claims(T0);
    json_object_set_new(c, "role", json_string("superuser"));
    char *payload = json_dumps(c, JSON_COMPACT);
    char *p = b64url(payload, strlen(payload));
    char *t = malloc(strlen(token) + strlen(p) + 2);
    assert_non_null(t);
    sprintf(t, "%.*s.%s%s", (int)(dot1 - token), token, p, dot2);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_BAD_SIGNATURE);
    json_decref(c);
    free(payload);
    free(p);
    free(token);
}

static void test_auth_jwt_rejects_tampered_signature(void **state)
{
    char *token = issue_default(state, NULL, NULL);
    char *sig = strrchr(token, '.') + 1;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_and_free(state, token), AUTH_JWT_BAD_SIGNATURE);
}

static void test_auth_jwt_rejects_non_canonical_signature(void **state)
{
    /* 43 characters carry 258 bits: the 2 spare bits must be zero. */
    char *token = issue_default(state, NULL, NULL);
    char *last = token + strlen(token) - 1;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    *last = alphabet[(strchr(alphabet, *last) - alphabet) | 1];
    assert_int_equal(verify_and_free(state, token), AUTH_JWT_BAD_SIGNATURE);
}

static void test_auth_jwt_rejects_truncated_and_extended_signature(void **state)
{
    char *token = issue_default(state, NULL, NULL);
    token[strlen(token) - 4] = '\0';
    assert_int_equal(verify_and_free(state, token), AUTH_JWT_BAD_SIGNATURE);
    token = issue_default(state, NULL, NULL);
    char *longer = malloc(strlen(token) + 5);
    assert_non_null(longer);
    sprintf(longer, "%sAAAA", token);
    assert_int_equal(verify_and_free(state, longer), AUTH_JWT_BAD_SIGNATURE);
    free(token);
}

/* ---- time -------------------------------------------------------------- */

static void test_auth_jwt_rejects_expired(void **state)
{
    char *token = issue_default(state, NULL, NULL);
    fake_now = T0 + TTL + LEEWAY - 1; /* inside the leeway */
    assert_int_equal(auth_jwt_verify(*state, token, NULL), AUTH_JWT_OK);
    fake_now = T0 + TTL + LEEWAY;
    assert_int_equal(auth_jwt_verify(*state, token, NULL), AUTH_JWT_EXPIRED);
    fake_now = T0 + 10 * TTL;
    assert_int_equal(verify_and_free(state, token), AUTH_JWT_EXPIRED);
}

static void test_auth_jwt_rejects_iat_in_future(void **state)
{
    json_t *c = good_claims(T0 + LEEWAY); /* within the leeway */
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_OK);
    c = good_claims(T0 + LEEWAY + 1);
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_NOT_YET_VALID);
}

static void test_auth_jwt_rejects_nbf_in_future(void **state)
{
    json_t *c = good_claims(T0);
    json_object_set_new(c, "nbf", json_integer(T0 + LEEWAY));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_OK);
    c = good_claims(T0);
    json_object_set_new(c, "nbf", json_integer(T0 + 60));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_NOT_YET_VALID);
    c = good_claims(T0);
    json_object_set_new(c, "nbf", json_string("soon"));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MALFORMED);
}

/* The window verify_window reports is exactly where verify says OK. */
static void test_auth_jwt_window_matches_time_checks(void **state)
{
    json_t *c = good_claims(T0);
    json_object_set_new(c, "nbf", json_integer(T0 + 3)); /* later than iat: it counts */
    char *token = forge_hs256(c);
    auth_jwt_window_t w;
    assert_int_equal(auth_jwt_verify_window(*state, token, NULL, &w), AUTH_JWT_OK);
    assert_int_equal(w.from, T0 + 3 - LEEWAY);
    assert_int_equal(w.until, T0 + TTL + LEEWAY);
    const int64_t probes[] = {w.from - 1, w.from, w.until - 1, w.until};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        fake_now = probes[i];
        bool inside = probes[i] >= w.from && probes[i] < w.until;
        assert_int_equal(auth_jwt_verify(*state, token, NULL) == AUTH_JWT_OK, inside);
    }
    fake_now = T0;
    char *issued = issue_default(state, NULL, NULL); /* no nbf: iat starts it */
    assert_int_equal(auth_jwt_verify_window(*state, issued, NULL, &w), AUTH_JWT_OK);
    assert_int_equal(w.from, T0 - LEEWAY);
    fake_now = T0 + TTL + LEEWAY;
    w.from = 1;
    assert_int_equal(auth_jwt_verify_window(*state, issued, NULL, &w), AUTH_JWT_EXPIRED);
    assert_int_equal(w.from, 0); /* zeroed when refused */
    assert_int_equal(auth_jwt_now(*state), T0 + TTL + LEEWAY);
    assert_int_equal(auth_jwt_now(NULL), -1);
    free(token);
    free(issued);
}

static void test_auth_jwt_rejects_non_integer_times(void **state)
{
    json_t *c = good_claims(T0);
    json_object_set_new(c, "exp", json_string("9999999999"));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MISSING_CLAIM);
    c = good_claims(T0);
    json_object_set_new(c, "exp", json_real((double)(T0 + TTL)));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MISSING_CLAIM);
    c = good_claims(T0);
    json_object_set_new(c, "iat", json_integer(-1));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MISSING_CLAIM);
    c = good_claims(T0);
    json_object_set_new(c, "exp", json_integer(INT64_MAX));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MISSING_CLAIM);
}

/* ---- claims ------------------------------------------------------------ */

static void test_auth_jwt_rejects_wrong_type(void **state)
{
    json_t *c = good_claims(T0);
    json_object_set_new(c, "type", json_string("refresh"));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_BAD_TYPE);
    c = good_claims(T0);
    json_object_set_new(c, "type", json_string("ACCESS"));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_BAD_TYPE);
}

static void test_auth_jwt_rejects_each_missing_claim(void **state)
{
    static const char *const names[] = {"sub", "role", "type", "iat", "exp",
                                        "jti", "iss",  "aud",  "sid"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *c = good_claims(T0);
        assert_int_equal(json_object_del(c, names[i]), 0);
        auth_jwt_status_t st = verify_and_free(state, forge_hs256(c));
        if (st != AUTH_JWT_MISSING_CLAIM)
            fail_msg("without \"%s\": %s", names[i], auth_jwt_status_str(st));
    }
}

static void test_auth_jwt_rejects_bad_claim_shapes(void **state)
{
    json_t *c = good_claims(T0);
    json_object_set_new(c, "sub", json_string(""));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MISSING_CLAIM);
    c = good_claims(T0);
    char long_sub[AUTH_JWT_SUB_MAX + 2];
    memset(long_sub, 'x', sizeof long_sub - 1);
    long_sub[sizeof long_sub - 1] = '\0';
    json_object_set_new(c, "sub", json_string(long_sub));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MISSING_CLAIM);
    c = good_claims(T0);
    json_object_set_new(c, "sub", json_integer(42));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MISSING_CLAIM);
    c = good_claims(T0);
    json_object_set_new(c, "sid", json_null());
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MISSING_CLAIM);
}

static void test_auth_jwt_rejects_wrong_issuer(void **state)
{
    json_t *c = good_claims(T0);
    json_object_set_new(c, "iss", json_string(ISSUER "x"));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_BAD_ISSUER);
}

static void test_auth_jwt_rejects_wrong_audience(void **state)
{
    json_t *c = good_claims(T0);
    json_object_set_new(c, "aud", json_string("other-api"));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_BAD_AUDIENCE);
    c = good_claims(T0);
    json_object_set_new(c, "aud", json_pack("[s, s]", "a", "b"));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_BAD_AUDIENCE);
    c = good_claims(T0);
    json_object_set_new(c, "aud", json_array());
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_BAD_AUDIENCE);
}

static void test_auth_jwt_accepts_audience_array_containing_ours(void **state)
{
    json_t *c = good_claims(T0);
    json_object_set_new(c, "aud", json_pack("[s, i, s]", "other-api", 7, AUDIENCE));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_OK);
}

static void test_auth_jwt_rejects_duplicate_claim_keys(void **state)
{
    /* Two parsers reading one token must never disagree about a claim. */
    json_t *c = good_claims(T0);
    json_object_set_new(c, "type", json_string("refresh"));
    char *body = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    char *dup = malloc(strlen(body) + 32);
    assert_non_null(dup);
    sprintf(dup, "%.*s,\"type\":\"access\"}", (int)strlen(body) - 1, body);
    char *t = forge_raw(HS256_HDR, dup, SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_MALFORMED);
    free(dup);
    free(body);
}

/* ---- shape ------------------------------------------------------------- */

static void test_auth_jwt_rejects_wrong_segment_count(void **state)
{
    char *token = issue_default(state, NULL, NULL);
    char *two = strdup(token);
    *strrchr(two, '.') = '\0';
    assert_int_equal(verify_and_free(state, two), AUTH_JWT_MALFORMED);
    char *four = malloc(strlen(token) + 8);
    assert_non_null(four);
    sprintf(four, "%s.AAAA", token);
    assert_int_equal(verify_and_free(state, four), AUTH_JWT_MALFORMED);
    four = malloc(strlen(token) + 8);
    assert_non_null(four);
    sprintf(four, "%s.", token);
    assert_int_equal(verify_and_free(state, four), AUTH_JWT_MALFORMED);
    free(token);
}

static void test_auth_jwt_rejects_garbage(void **state)
{
    static const char *const bad[] = {
        "!!!.@@@.###",
        "eyJhbGciOiJIUzI1NiJ9.e30.AAAA AAAA",
        "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA",
        "bm90IGpzb24.e30.AAAA", /* header "not json" */
        "WzFd.e30.AAAA",        /* header [1]: not an object */
        "A.e30.AAAA",           /* 1 char: no whole byte */
        "..",
        ".e30.AAAA",
        "eyJhbGciOiJIUzI1NiJ9..AAAA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = strdup(bad[i]);
        assert_int_equal(verify_and_free(state, t), AUTH_JWT_MALFORMED);
    }
}

static void test_auth_jwt_rejects_undecodable_payload(void **state)
{
    char *t = forge_raw(HS256_HDR, "{\"sub\":", SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_MALFORMED);
    t = forge_raw(HS256_HDR, "[]", SIG_HS256, SECRET);
    assert_int_equal(verify_and_free(state, t), AUTH_JWT_MALFORMED);
}

static void test_auth_jwt_rejects_oversize_token(void **state)
{
    json_t *c = good_claims(T0);
    char pad[AUTH_JWT_MAX_TOKEN];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    json_object_set_new(c, "pad", json_string(pad));
    assert_int_equal(verify_and_free(state, forge_hs256(c)), AUTH_JWT_MALFORMED);

    char *huge = malloc(1 << 20);
    assert_non_null(huge);
    memset(huge, 'A', (1 << 20) - 1);
    huge[(1 << 20) - 1] = '\0';
    huge[100] = '.';
    huge[200] = '.';
    assert_int_equal(verify_and_free(state, huge), AUTH_JWT_MALFORMED);
}

static void test_auth_jwt_rejects_empty_and_null(void **state)
{
    auth_jwt_claims_t out;
    assert_int_equal(auth_jwt_verify(*state, "", &out), AUTH_JWT_MALFORMED);
    assert_int_equal(auth_jwt_verify(*state, NULL, &out), AUTH_JWT_MALFORMED);
    assert_int_equal(auth_jwt_verify(NULL, "a.b.c", &out), AUTH_JWT_INTERNAL);
}

static void test_auth_jwt_status_str_names_every_status(void **state)
{
    (void)state;
    assert_string_equal(auth_jwt_status_str(AUTH_JWT_OK), "ok");
    assert_string_equal(auth_jwt_status_str(AUTH_JWT_EXPIRED), "expired");
    for (int s = AUTH_JWT_OK; s <= AUTH_JWT_INTERNAL; s++)
        assert_string_not_equal(auth_jwt_status_str((auth_jwt_status_t)s), "unknown");
    assert_string_equal(auth_jwt_status_str((auth_jwt_status_t)99), "unknown");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_auth_jwt_new_rejects_bad_arguments),
        T(test_auth_jwt_destroy_nulls_pointer),
        T(test_auth_jwt_round_trip_keeps_all_claims),
        T(test_auth_jwt_issue_writes_header_and_fixed_claims),
        T(test_auth_jwt_issue_jti_is_uuid7_of_iat),
        T(test_auth_jwt_issue_rejects_bad_input),
        T(test_auth_jwt_hand_forged_valid_token_accepted),
        T(test_auth_jwt_long_secret_matches_libjwt),
        T(test_auth_jwt_rejects_alg_none_unsigned),
        T(test_auth_jwt_rejects_alg_none_with_signature),
        T(test_auth_jwt_rejects_lowercase_hs256),
        T(test_auth_jwt_rejects_missing_or_non_string_alg),
        T(test_auth_jwt_rejects_hs512_with_right_secret),
        T(test_auth_jwt_rejects_hs384),
        T(test_auth_jwt_rejects_rs256),
        T(test_auth_jwt_rejects_crit_and_bad_typ),
        T(test_auth_jwt_ignores_key_url_headers),
        T(test_auth_jwt_rejects_other_secret),
        T(test_auth_jwt_rejects_tampered_payload),
        T(test_auth_jwt_rejects_tampered_signature),
        T(test_auth_jwt_rejects_non_canonical_signature),
        T(test_auth_jwt_rejects_truncated_and_extended_signature),
        T(test_auth_jwt_rejects_expired),
        T(test_auth_jwt_rejects_iat_in_future),
        T(test_auth_jwt_rejects_nbf_in_future),
        T(test_auth_jwt_window_matches_time_checks),
        T(test_auth_jwt_rejects_non_integer_times),
        T(test_auth_jwt_rejects_wrong_type),
        T(test_auth_jwt_rejects_each_missing_claim),
        T(test_auth_jwt_rejects_bad_claim_shapes),
        T(test_auth_jwt_rejects_wrong_issuer),
        T(test_auth_jwt_rejects_wrong_audience),
        T(test_auth_jwt_accepts_audience_array_containing_ours),
        T(test_auth_jwt_rejects_duplicate_claim_keys),
        T(test_auth_jwt_rejects_wrong_segment_count),
        T(test_auth_jwt_rejects_garbage),
        T(test_auth_jwt_rejects_undecodable_payload),
        T(test_auth_jwt_rejects_oversize_token),
        T(test_auth_jwt_rejects_empty_and_null),
        T(test_auth_jwt_status_str_names_every_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
