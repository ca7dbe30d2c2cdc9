/*
 * auth_jwt: HS256 access tokens (issue and verify) on top of libjwt 1.10.2.
 *
 * libjwt 1.10.2 is not safe to use alone: jwt_decode() takes the algorithm
 * from the token header case-insensitively, skips verification when the key
 * is NULL and validates no claims. So verify
 * checks everything itself before and after jwt_decode(): length bound,
 * exact token shape, a strict header (alg exactly "HS256", no "crit"), an
 * HMAC-SHA256 recomputed with libsodium and compared in constant time, then
 * libjwt's own decode with the key and jwt_get_alg(), then every claim.
 *
 * An auth_jwt_t is immutable after auth_jwt_new(): issue and verify may run
 * concurrently from any number of threads.
 */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_JWT_MIN_SECRET 32   /* bytes; shorter secrets are refused */
#define AUTH_JWT_MAX_TOKEN  4096 /* longer tokens are rejected before any decoding */
#define AUTH_JWT_MAX_LEEWAY 300  /* seconds of clock skew tolerated, at most */
#define AUTH_JWT_MAX_TTL    86400
#define AUTH_JWT_MAX_NAME   255 /* issuer / audience length */
#define AUTH_JWT_SUB_MAX    64
#define AUTH_JWT_ROLE_MAX   32
#define AUTH_JWT_SID_MAX    64
#define AUTH_JWT_JTI_MAX    64
#define AUTH_JWT_JTI_BUF    37 /* a UUID in text form plus NUL: size of issue's jti_out */

typedef struct auth_jwt auth_jwt_t;

/* Returns the current time in seconds since the epoch; read once per issue
 * and once per verify. Injectable for tests. */
typedef int64_t (*auth_jwt_clock_fn)(void);

/* Why a token was refused. The caller maps every value but OK to HTTP 401
 * (INTERNAL is also worth an error log: it is not the client's fault). */
typedef enum {
    AUTH_JWT_OK = 0,
    AUTH_JWT_MALFORMED,     /* NULL, empty, > AUTH_JWT_MAX_TOKEN, not three base64url parts,
                               header/payload not a JSON object, duplicate keys, typ not
                               "JWT", "crit" present, nbf present but not a valid time */
    AUTH_JWT_BAD_ALG,       /* header alg is not exactly "HS256" (case-sensitive) */
    AUTH_JWT_BAD_SIGNATURE, /* signature not 32 bytes or not our HMAC-SHA256 */
    AUTH_JWT_EXPIRED,       /* now >= exp + leeway */
    AUTH_JWT_NOT_YET_VALID, /* iat > now + leeway, or nbf > now + leeway */
    AUTH_JWT_BAD_TYPE,      /* claim type is not "access" */
    AUTH_JWT_BAD_ISSUER,    /* iss differs from ours (exact comparison) */
    AUTH_JWT_BAD_AUDIENCE,  /* aud (a string, or an array) does not contain ours */
    AUTH_JWT_MISSING_CLAIM, /* sub, role, type, iat, exp, jti, iss, aud or sid is absent or
                               invalid: strings empty, too long or not strings; times not
                               integers in [0, year 9999] */
    AUTH_JWT_INTERNAL,      /* NULL verifier, out of memory, clock outside [0, year 9999] */
} auth_jwt_status_t;

/* What issue puts into a token. All strings are borrowed and must be
 * non-empty and at most AUTH_JWT_{SUB,ROLE,SID}_MAX bytes. */
typedef struct {
    const char *sub;  /* user id */
    const char *role; /* the user's role */
    const char *sid;  /* session: the refresh-token family id */
} auth_jwt_claims_in_t;

/* What verify returns from a valid token (copies; nothing to free). */
typedef struct {
    char sub[AUTH_JWT_SUB_MAX + 1];
    char role[AUTH_JWT_ROLE_MAX + 1];
    char sid[AUTH_JWT_SID_MAX + 1];
    char jti[AUTH_JWT_JTI_MAX + 1];
    int64_t iat;
    int64_t exp;
    int64_t iat_ms; /* issue time in ms: from a UUIDv7 jti in the same second as iat, else
                       iat * 1000 (lets a "valid after" time cut within a second) */
} auth_jwt_claims_t;

/* Creates a signer/verifier. `secret` (at least AUTH_JWT_MIN_SECRET bytes)
 * is copied and wiped on destroy; `issuer` and `audience` (non-empty, at
 * most AUTH_JWT_MAX_NAME bytes) are copied. `access_ttl_s` in
 * [1, AUTH_JWT_MAX_TTL], `leeway_s` in [0, AUTH_JWT_MAX_LEEWAY]. `clock`
 * NULL means the wall clock. Returns NULL on bad arguments or no memory. */
auth_jwt_t *auth_jwt_new(const unsigned char *secret, size_t len, const char *issuer,
                         const char *audience, int access_ttl_s, int leeway_s,
                         auth_jwt_clock_fn clock);

/* Wipes the secret, frees `*self_p` and sets it to NULL. Safe on NULL. */
void auth_jwt_destroy(auth_jwt_t **self_p);

/* Issues an access token for `in` with iat = now and exp = now + ttl and a
 * fresh UUIDv7 jti (48-bit millisecond time: iat plus the wall clock's
 * millisecond within that second, then 74 random bits). On success returns 0, `*token_out` is a new
 * string the caller frees with free(), `jti_out` (AUTH_JWT_JTI_BUF bytes,
 * may be NULL) receives the jti and `*exp_out` (may be NULL) the exp.
 * Returns -1 on bad input or failure, with `*token_out` NULL. */
int auth_jwt_issue(const auth_jwt_t *self, const auth_jwt_claims_in_t *in, char **token_out,
                   char *jti_out, int64_t *exp_out);

/* Verifies `token` (borrowed, NUL-terminated). On AUTH_JWT_OK fills `*out`;
 * on any other status `*out` is zeroed. Never reads more than
 * AUTH_JWT_MAX_TOKEN + 1 bytes of `token`. */
auth_jwt_status_t auth_jwt_verify(const auth_jwt_t *self, const char *token,
                                  auth_jwt_claims_t *out);

/* The wall-clock seconds [from, until) in which a verified token keeps
 * verifying: until = exp + leeway, from = max(iat, nbf) - leeway. Outside
 * it, verification answers AUTH_JWT_EXPIRED or AUTH_JWT_NOT_YET_VALID;
 * inside it, the same token gives the same answer (everything else checked
 * depends only on the token and this verifier's secret, issuer and
 * audience). */
typedef struct {
    int64_t from;
    int64_t until;
} auth_jwt_window_t;

/* auth_jwt_verify that also fills `*win` (may be NULL; zeroed unless OK). */
auth_jwt_status_t auth_jwt_verify_window(const auth_jwt_t *self, const char *token,
                                         auth_jwt_claims_t *out, auth_jwt_window_t *win);

/* The verifier's clock (the one given to _new, else the wall clock), in
 * seconds since the epoch; -1 for a NULL verifier. */
int64_t auth_jwt_now(const auth_jwt_t *self);

/* A short stable name for a status ("ok", "expired", ...), for logs. */
const char *auth_jwt_status_str(auth_jwt_status_t status);

#endif
