/*
 * auth_jwt: HS256 access tokens. Issuing goes through libjwt; verifying
 * trusts libjwt 1.10.2 for nothing it gets wrong. Our own checks run first
 * on the raw text (shape, strict base64url, header, constant-time HMAC with
 * libsodium), then libjwt decodes with the key as a second opinion, then the
 * claims are checked from our own strict parse of the payload (duplicate
 * keys rejected, so no two parsers can disagree about a claim's value).
 *
 * Why our own HMAC: upstream 1.10.2 compares the base64 signature text with
 * strcmp() (CVE-2024-25189); Debian's 1.10.2-1+deb12u1 patches that, but the
 * guarantee should not depend on which build of the library is installed.
 */
#include "auth_jwt.h"
#include "rt_uuid.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SECRET 1024
/* Time claims outside [0, 9999-12-31T23:59:59Z] are refused, which also keeps
 * exp + leeway and now + leeway far from overflow. */
#define MAX_TIME  INT64_C(253402300799)
#define HS256_LEN crypto_auth_hmacsha256_BYTES

/* libjwt 1.10 takes integer claims as long. */
_Static_assert(sizeof(long) >= sizeof(int64_t), "long must hold a 64-bit time");

struct auth_jwt {
    unsigned char *secret;
    size_t secret_len;
    char *issuer;
    char *audience;
    int ttl_s;
    int leeway_s;
    auth_jwt_clock_fn clock;
};

/* The three dot-separated parts of a token, as offsets into it. */
typedef struct {
    const char *p[3];
    size_t n[3];
} segments_t;

static const char *const status_names[] = {
    [AUTH_JWT_OK] = "ok",
    [AUTH_JWT_MALFORMED] = "malformed",
    [AUTH_JWT_BAD_ALG] = "bad_alg",
    [AUTH_JWT_BAD_SIGNATURE] = "bad_signature",
    [AUTH_JWT_EXPIRED] = "expired",
    [AUTH_JWT_NOT_YET_VALID] = "not_yet_valid",
    [AUTH_JWT_BAD_TYPE] = "bad_type",
    [AUTH_JWT_BAD_ISSUER] = "bad_issuer",
    [AUTH_JWT_BAD_AUDIENCE] = "bad_audience",
    [AUTH_JWT_MISSING_CLAIM] = "missing_claim",
    [AUTH_JWT_INTERNAL] = "internal",
};

const char *auth_jwt_status_str(auth_jwt_status_t status)
{
    if ((unsigned)status >= sizeof status_names / sizeof status_names[0])
        return "unknown";
    return status_names[status];
}

static int64_t wall_clock(void)
{
    return (int64_t)time(NULL);
}

/* True when `s` is a non-empty string of at most `max` bytes. */
static bool str_ok(const char *s, size_t max)
{
    return s != NULL && s[0] != '\0' && strnlen(s, max + 1) <= max;
}

/* ---- lifetime ---------------------------------------------------------- */

auth_jwt_t *auth_jwt_new(const unsigned char *secret, size_t len, const char *issuer,
                         const char *audience, int access_ttl_s, int leeway_s,
                         auth_jwt_clock_fn clock)
{
    if (secret == NULL || len < AUTH_JWT_MIN_SECRET || len > MAX_SECRET)
        return NULL;
    if (!str_ok(issuer, AUTH_JWT_MAX_NAME) || !str_ok(audience, AUTH_JWT_MAX_NAME))
        return NULL;
    if (access_ttl_s < 1 || access_ttl_s > AUTH_JWT_MAX_TTL || leeway_s < 0 ||
        leeway_s > AUTH_JWT_MAX_LEEWAY)
        return NULL;
    if (sodium_init() < 0)
        return NULL;

    auth_jwt_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->secret = malloc(len);
    self->issuer = strdup(issuer);
    self->audience = strdup(audience);
    if (self->secret == NULL || self->issuer == NULL || self->audience == NULL) {
        auth_jwt_destroy(&self);
        return NULL;
    }
    memcpy(self->secret, secret, len);
    self->secret_len = len;
    self->ttl_s = access_ttl_s;
    self->leeway_s = leeway_s;
    self->clock = clock ? clock : wall_clock;
    return self;
}

void auth_jwt_destroy(auth_jwt_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    auth_jwt_t *self = *self_p;
    if (self->secret != NULL)
        sodium_memzero(self->secret, self->secret_len);
    free(self->secret);
    free(self->issuer);
    free(self->audience);
    free(self);
    *self_p = NULL;
}

/* ---- issue ------------------------------------------------------------- */

/* The wall clock's millisecond within the current second. */
static int64_t subsecond_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_nsec / 1000000;
}

/* Fills a new jwt_t with our key and every claim. Returns 0 or -1. */
static int build_jwt(const auth_jwt_t *self, const auth_jwt_claims_in_t *in, const char *jti,
                     int64_t now, jwt_t *jwt)
{
    if (jwt_set_alg(jwt, JWT_ALG_HS256, self->secret, (int)self->secret_len) != 0)
        return -1;
    const char *const strs[][2] = {
        {"sub", in->sub},      {"role", in->role},      {"type", "access"}, {"jti", jti},
        {"iss", self->issuer}, {"aud", self->audience}, {"sid", in->sid},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (jwt_add_grant(jwt, strs[i][0], strs[i][1]) != 0)
            return -1;
    }
    if (jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now + self->ttl_s)) != 0)
        return -1;
    return 0;
}

int auth_jwt_issue(const auth_jwt_t *self, const auth_jwt_claims_in_t *in, char **token_out,
                   char *jti_out, int64_t *exp_out)
{
    jwt_t *jwt = NULL;
    char jti[AUTH_JWT_JTI_BUF];
    int rc = -1;

    if (token_out == NULL)
        return -1;
    *token_out = NULL;
    if (self == NULL || in == NULL || !str_ok(in->sub, AUTH_JWT_SUB_MAX) ||
        !str_ok(in->role, AUTH_JWT_ROLE_MAX) || !str_ok(in->sid, AUTH_JWT_SID_MAX))
        return -1;
    int64_t now = self->clock();
    if (now < 0 || now > MAX_TIME - AUTH_JWT_MAX_TTL)
        return -1;
    rt_uuid_v7(jti, now * 1000 + subsecond_ms());
    if (jwt_new(&jwt) != 0 || build_jwt(self, in, jti, now, jwt) != 0)
        goto cleanup;
    *token_out = jwt_encode_str(jwt);
    if (*token_out == NULL)
        goto cleanup;
    if (jti_out != NULL)
        memcpy(jti_out, jti, sizeof jti);
    if (exp_out != NULL)
        *exp_out = now + self->ttl_s;
    rc = 0;
cleanup:
    jwt_free(jwt); /* scrubs its copy of the key */
    return rc;
}

/* ---- verify: raw text -------------------------------------------------- */

static bool is_b64url(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Exactly three non-empty base64url segments separated by two dots. */
static auth_jwt_status_t split_token(const char *token, size_t len, segments_t *seg)
{
    size_t part = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && is_b64url((unsigned char)token[i]))
            continue;
        if (i < len && token[i] != '.')
            return AUTH_JWT_MALFORMED;
        if (part == 3 || i == start)
            return AUTH_JWT_MALFORMED; /* a fourth segment, or an empty one */
        seg->p[part] = token + start;
        seg->n[part] = i - start;
        part++;
        start = i + 1;
    }
    return part == 3 ? AUTH_JWT_OK : AUTH_JWT_MALFORMED;
}

/* Strict base64url (no padding, no stray characters, zero trailing bits). */
static int b64url_decode(const char *p, size_t n, unsigned char *out, size_t cap, size_t *out_len)
{
    return sodium_base642bin(out, cap, p, n, NULL, out_len, NULL,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Decodes one segment into a JSON object; NULL unless that is exactly what it is. */
static json_t *decode_object(const char *p, size_t n)
{
    unsigned char buf[AUTH_JWT_MAX_TOKEN];
    size_t len = 0;
    if (b64url_decode(p, n, buf, sizeof buf, &len) != 0)
        return NULL;
    json_error_t err;
    json_t *obj = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err);
    if (obj != NULL && !json_is_object(obj)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

/* alg must be exactly "HS256" (libjwt would take "hs256" or "none");
 * typ, when present, exactly "JWT"; "crit" names extensions we do not
 * implement, so it is refused. kid/jku/x5u/jwk are ignored: one static key. */
static auth_jwt_status_t check_header(const segments_t *seg)
{
    json_t *hdr = decode_object(seg->p[0], seg->n[0]);
    if (hdr == NULL)
        return AUTH_JWT_MALFORMED;
    auth_jwt_status_t st = AUTH_JWT_OK;
    json_t *alg = json_object_get(hdr, "alg");
    json_t *typ = json_object_get(hdr, "typ");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        st = AUTH_JWT_BAD_ALG;
    else if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        st = AUTH_JWT_MALFORMED;
    else if (json_object_get(hdr, "crit") != NULL)
        st = AUTH_JWT_MALFORMED;
    json_decref(hdr);
    return st;
}

/* Recomputes HMAC-SHA256 over "header.payload" (any key length) and compares
 * it with the decoded signature in constant time. */
static auth_jwt_status_t check_signature(const auth_jwt_t *self, const segments_t *seg)
{
    unsigned char sig[HS256_LEN], mac[HS256_LEN];
    size_t sig_len = 0;
    crypto_auth_hmacsha256_state st;
    auth_jwt_status_t rc = AUTH_JWT_BAD_SIGNATURE;

    if (b64url_decode(seg->p[2], seg->n[2], sig, sizeof sig, &sig_len) != 0 || sig_len != HS256_LEN)
        return AUTH_JWT_BAD_SIGNATURE;
    size_t signed_len = seg->n[0] + 1 + seg->n[1];
    if (crypto_auth_hmacsha256_init(&st, self->secret, self->secret_len) != 0 ||
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)seg->p[0], signed_len) != 0 ||
        crypto_auth_hmacsha256_final(&st, mac) != 0) {
        rc = AUTH_JWT_INTERNAL;
        goto cleanup;
    }
    if (sodium_memcmp(mac, sig, HS256_LEN) == 0)
        rc = AUTH_JWT_OK;
cleanup:
    sodium_memzero(&st, sizeof st);
    sodium_memzero(mac, sizeof mac);
    return rc;
}

/* libjwt's own verification, always with our key (never NULL), and the
 * algorithm it settled on must be the one we configured. */
static auth_jwt_status_t check_libjwt(const auth_jwt_t *self, const char *token)
{
    jwt_t *jwt = NULL;
    int rc = jwt_decode(&jwt, token, self->secret, (int)self->secret_len);
    if (rc == ENOMEM)
        return AUTH_JWT_INTERNAL;
    if (rc != 0 || jwt == NULL)
        return AUTH_JWT_BAD_SIGNATURE;
    jwt_alg_t alg = jwt_get_alg(jwt);
    jwt_free(jwt);
    return alg == JWT_ALG_HS256 ? AUTH_JWT_OK : AUTH_JWT_BAD_ALG;
}

/* ---- verify: claims ---------------------------------------------------- */

/* Copies a required string claim of 1..max bytes into dst[max + 1]. */
static int copy_claim(json_t *claims, const char *name, char *dst, size_t max)
{
    json_t *v = json_object_get(claims, name);
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    if (n == 0 || n > max)
        return -1;
    memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

/* A time claim: 1 absent, 0 valid integer in [0, MAX_TIME], -1 otherwise. */
static int time_claim(json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return 1;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MAX_TIME)
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* aud may be our audience as a string, or an array that contains it. */
static bool audience_ok(json_t *aud, const char *ours)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), ours) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), ours) == 0)
            return true;
    }
    return false;
}

/* Every required claim present with the right type and size. */
static auth_jwt_status_t extract_claims(json_t *c, auth_jwt_claims_t *out)
{
    if (copy_claim(c, "sub", out->sub, AUTH_JWT_SUB_MAX) != 0 ||
        copy_claim(c, "role", out->role, AUTH_JWT_ROLE_MAX) != 0 ||
        copy_claim(c, "sid", out->sid, AUTH_JWT_SID_MAX) != 0 ||
        copy_claim(c, "jti", out->jti, AUTH_JWT_JTI_MAX) != 0)
        return AUTH_JWT_MISSING_CLAIM;
    if (time_claim(c, "iat", &out->iat) != 0 || time_claim(c, "exp", &out->exp) != 0)
        return AUTH_JWT_MISSING_CLAIM;
    json_t *aud = json_object_get(c, "aud");
    if (!json_is_string(json_object_get(c, "type")) || !json_is_string(json_object_get(c, "iss")) ||
        !(json_is_string(aud) || json_is_array(aud)))
        return AUTH_JWT_MISSING_CLAIM;
    return AUTH_JWT_OK;
}

/* The millisecond a token was issued: the time of a UUIDv7 jti when it
 * falls in the second `iat` names (our own tokens), else iat * 1000. */
static int64_t issue_ms(const char *jti, int64_t iat)
{
    int64_t ms = rt_uuid_v7_ms(jti);
    return ms >= 0 && ms / 1000 == iat ? ms : iat * 1000;
}

/* Leeway applies both ways: a token is expired once now >= exp + leeway
 * (RFC 7519: not accepted on or after exp), and not yet valid while iat or
 * nbf > now + leeway. */
static auth_jwt_status_t check_claims(const auth_jwt_t *self, json_t *c, auth_jwt_claims_t *out,
                                      auth_jwt_window_t *win)
{
    auth_jwt_status_t st = extract_claims(c, out);
    if (st != AUTH_JWT_OK)
        return st;
    int64_t nbf = 0;
    int has_nbf = time_claim(c, "nbf", &nbf);
    if (has_nbf < 0)
        return AUTH_JWT_MALFORMED;
    if (strcmp(json_string_value(json_object_get(c, "type")), "access") != 0)
        return AUTH_JWT_BAD_TYPE;
    if (strcmp(json_string_value(json_object_get(c, "iss")), self->issuer) != 0)
        return AUTH_JWT_BAD_ISSUER;
    if (!audience_ok(json_object_get(c, "aud"), self->audience))
        return AUTH_JWT_BAD_AUDIENCE;
    int64_t now = self->clock();
    if (now < 0 || now > MAX_TIME)
        return AUTH_JWT_INTERNAL; /* a broken clock is not the token's fault */
    if (now >= out->exp + self->leeway_s)
        return AUTH_JWT_EXPIRED;
    if (out->iat > now + self->leeway_s || (has_nbf == 0 && nbf > now + self->leeway_s))
        return AUTH_JWT_NOT_YET_VALID;
    out->iat_ms = issue_ms(out->jti, out->iat);
    /* The same checks pass for exactly the times in [from, until). */
    int64_t valid_from = has_nbf == 0 && nbf > out->iat ? nbf : out->iat;
    win->from = valid_from - self->leeway_s;
    win->until = out->exp + self->leeway_s;
    return AUTH_JWT_OK;
}

/* ---- verify ------------------------------------------------------------ */

static auth_jwt_status_t verify_token(const auth_jwt_t *self, const char *token,
                                      auth_jwt_claims_t *out, auth_jwt_window_t *win)
{
    json_t *claims = NULL;
    segments_t seg;
    size_t len = strnlen(token, AUTH_JWT_MAX_TOKEN + 1);
    if (len == 0 || len > AUTH_JWT_MAX_TOKEN)
        return AUTH_JWT_MALFORMED;

    auth_jwt_status_t st = split_token(token, len, &seg);
    if (st == AUTH_JWT_OK)
        st = check_header(&seg);
    if (st == AUTH_JWT_OK)
        st = check_signature(self, &seg);
    if (st != AUTH_JWT_OK)
        return st;
    claims = decode_object(seg.p[1], seg.n[1]);
    if (claims == NULL)
        return AUTH_JWT_MALFORMED;
    st = check_libjwt(self, token);
    if (st == AUTH_JWT_OK)
        st = check_claims(self, claims, out, win);
    json_decref(claims);
    return st;
}

auth_jwt_status_t auth_jwt_verify_window(const auth_jwt_t *self, const char *token,
                                         auth_jwt_claims_t *out, auth_jwt_window_t *win)
{
    auth_jwt_claims_t scratch;
    auth_jwt_window_t win_scratch;
    auth_jwt_claims_t *dst = out ? out : &scratch;
    auth_jwt_window_t *wdst = win ? win : &win_scratch;
    memset(dst, 0, sizeof *dst);
    memset(wdst, 0, sizeof *wdst);
    if (self == NULL)
        return AUTH_JWT_INTERNAL;
    if (token == NULL)
        return AUTH_JWT_MALFORMED;
    auth_jwt_status_t st = verify_token(self, token, dst, wdst);
    if (st != AUTH_JWT_OK) {
        memset(dst, 0, sizeof *dst);
        memset(wdst, 0, sizeof *wdst);
    }
    return st;
}

auth_jwt_status_t auth_jwt_verify(const auth_jwt_t *self, const char *token, auth_jwt_claims_t *out)
{
    return auth_jwt_verify_window(self, token, out, NULL);
}

int64_t auth_jwt_now(const auth_jwt_t *self)
{
    return self ? self->clock() : -1;
}
