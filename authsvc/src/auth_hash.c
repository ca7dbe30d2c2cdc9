/*
 * auth_hash: Argon2id hashing and verification with a strict pre-parser.
 *
 * libargon2's own decoder (argon2id_verify) accepts any m, t and p that fit
 * in 32 bits and allocates m KiB before it hashes anything, so a stored
 * hash saying m=4294967295 would ask for 4 TiB and t=4294967295 would spin
 * for days. parse_encoded() below reads the same grammar (encoding.c's
 * decode_string) but stricter: canonical decimals only (no sign, no leading
 * zero, at most 10 digits), a mandatory v=, our ranges for every
 * parameter, and the base64 rules of libargon2's from_base64 (unpadded,
 * length not 1 mod 4, unused trailing bits zero), so that whatever it
 * accepts libargon2 decodes to the same parameters. Only then is the
 * string handed to argon2id_verify.
 *
 * The struct holds the parameters and the dummy encoding, nothing secret:
 * the dummy's password is random, used once at _new and wiped.
 */
#include "auth_hash.h"

#include <argon2.h>
#include <sched.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGON2_V10     0x10u
#define ARGON2_V13     0x13u
#define SALT_MIN       8u  /* libargon2's ARGON2_MIN_SALT_LENGTH */
#define SALT_MAX       64u /* bytes, when verifying */
#define TAG_MIN        16u /* shorter tags are too easy to hit by chance */
#define TAG_MAX        64u
#define DUMMY_PW_BYTES 32u
#define U32_DIGITS_MAX 10

struct auth_hash {
    uint32_t t_cost;
    uint32_t m_cost; /* KiB */
    uint32_t lanes;
    uint32_t cpus;                     /* CPUs this process may run on */
    atomic_uint *running;              /* hashes computing now (see lane_threads) */
    char dummy[AUTH_HASH_ENCODED_BUF]; /* encoded hash of a random password */
};

/* What parse_encoded() reads from an encoding. */
typedef struct {
    uint32_t version, m, t, p;
    size_t salt_len, tag_len;       /* decoded bytes */
    const char *salt_b64, *tag_b64; /* where the fields start in the encoding */
    size_t salt_chars, tag_chars;   /* and their lengths */
} params_t;

static bool params_in_range(uint32_t t, uint32_t m, uint32_t p)
{
    return t >= AUTH_HASH_T_MIN && t <= AUTH_HASH_T_MAX && p >= AUTH_HASH_P_MIN &&
           p <= AUTH_HASH_P_MAX && m >= AUTH_HASH_M_MIN_PER_P * p && m <= AUTH_HASH_M_MAX;
}

/* ---- the strict parser ---- */

/* Skips the literal `lit` at `s`, or returns NULL. */
static const char *skip_lit(const char *s, const char *lit)
{
    size_t n = strlen(lit);
    return strncmp(s, lit, n) == 0 ? s + n : NULL;
}

/* Reads a canonical decimal that fits in 32 bits; returns the end or NULL. */
static const char *parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    int n = 0;

    if (s == NULL)
        return NULL;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == U32_DIGITS_MAX)
            return NULL;
        v = v * 10 + (uint64_t)(s[n] - '0');
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0') || v > UINT32_MAX)
        return NULL;
    *out = (uint32_t)v;
    return s + n;
}

/* The value of a standard base64 digit, or -1. */
static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Checks an unpadded base64 field up to the first non-digit and returns
 * its end, with `*len` the decoded length; NULL when it is empty, too
 * long for `max` bytes, of a length that is 1 mod 4, or has non-zero
 * unused bits in its last digit (libargon2 refuses those too). */
static const char *parse_b64(const char *s, size_t max, size_t *len)
{
    size_t n = 0;
    int last = 0;

    if (s == NULL)
        return NULL;
    for (int v; (v = b64_value(s[n])) >= 0; n++)
        last = v;
    if (n == 0 || n % 4 == 1)
        return NULL;
    if ((n % 4 == 2 && (last & 0x0f) != 0) || (n % 4 == 3 && (last & 0x03) != 0))
        return NULL;
    *len = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    return *len <= max ? s + n : NULL;
}

/* Parses an argon2id encoding we are willing to verify. Returns 0 and
 * fills `*out`, or -1. Reads at most AUTH_HASH_ENCODED_MAX + 1 bytes. */
static int parse_encoded(const char *enc, params_t *out)
{
    params_t p = {0};
    size_t len;

    if (enc == NULL)
        return -1;
    len = strnlen(enc, AUTH_HASH_ENCODED_MAX + 1);
    if (len == 0 || len > AUTH_HASH_ENCODED_MAX)
        return -1;

    const char *s = skip_lit(enc, "$argon2id$v=");
    s = parse_u32(s, &p.version);
    s = s != NULL ? skip_lit(s, "$m=") : NULL;
    s = parse_u32(s, &p.m);
    s = s != NULL ? skip_lit(s, ",t=") : NULL;
    s = parse_u32(s, &p.t);
    s = s != NULL ? skip_lit(s, ",p=") : NULL;
    s = parse_u32(s, &p.p);
    s = s != NULL ? skip_lit(s, "$") : NULL;
    p.salt_b64 = s;
    s = parse_b64(s, SALT_MAX, &p.salt_len);
    p.salt_chars = s != NULL ? (size_t)(s - p.salt_b64) : 0;
    s = s != NULL ? skip_lit(s, "$") : NULL;
    p.tag_b64 = s;
    s = parse_b64(s, TAG_MAX, &p.tag_len);
    if (s == NULL || *s != '\0')
        return -1;
    p.tag_chars = (size_t)(s - p.tag_b64);
    if (p.version != ARGON2_V10 && p.version != ARGON2_V13)
        return -1;
    if (!params_in_range(p.t, p.m, p.p) || p.salt_len < SALT_MIN || p.tag_len < TAG_MIN)
        return -1;
    *out = p;
    return 0;
}

/* Length of `password`, or -1 when it is NULL or over the bound. */
static int64_t password_len(const char *password)
{
    if (password == NULL)
        return -1;
    size_t n = strnlen(password, AUTH_HASH_PASSWORD_MAX + 1);
    return n > AUTH_HASH_PASSWORD_MAX ? -1 : (int64_t)n;
}

/* ---- hashing ---- */

/* Threads for the lanes of one hash about to start, counted in `running`
 * until lane_threads_done. The lanes of a hash can be computed by any
 * number of threads with the same result; threads only cost switches when
 * the CPUs are busy anyway. So an idle service spreads one hash over the
 * free CPUs (lowest latency), and a busy one gives each hash a single
 * thread (no thread start-up and no cache fights: the most hashes per
 * second, docs/BENCHMARKS.md). */
static uint32_t lane_threads_begin(const auth_hash_t *self, uint32_t lanes)
{
    unsigned now = atomic_fetch_add(self->running, 1u) + 1u;
    uint32_t threads = self->cpus / now;
    if (threads < 1)
        threads = 1;
    return threads < lanes ? threads : lanes;
}

static void lane_threads_done(const auth_hash_t *self)
{
    atomic_fetch_sub(self->running, 1u);
}

/* The CPUs this process may run on (its affinity mask), at least 1. */
static uint32_t usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (uint32_t)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1u;
}

/* Runs Argon2id version 0x13 or 0x10 over `pwd` and `salt` into `tag`
 * (`tag_len` bytes). With `expected` non-NULL, compares the result with it
 * in constant time (libargon2's argon2_verify_ctx) instead. */
static int argon2id_run(const auth_hash_t *self, uint32_t version, uint32_t t, uint32_t m,
                        uint32_t lanes, const void *pwd, size_t pwd_len, const uint8_t *salt,
                        size_t salt_len, uint8_t *tag, size_t tag_len, const uint8_t *expected)
{
    argon2_context ctx = {
        .out = tag,
        .outlen = (uint32_t)tag_len,
        .pwd = (uint8_t *)(uintptr_t)pwd, /* read only: no ARGON2_FLAG_CLEAR_PASSWORD */
        .pwdlen = (uint32_t)pwd_len,
        .salt = (uint8_t *)(uintptr_t)salt,
        .saltlen = (uint32_t)salt_len,
        .t_cost = t,
        .m_cost = m,
        .lanes = lanes,
        .threads = lane_threads_begin(self, lanes),
        .version = version,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    int rc =
        expected != NULL ? argon2id_verify_ctx(&ctx, (const char *)expected) : argon2id_ctx(&ctx);
    lane_threads_done(self);
    return rc;
}

/* Writes "$argon2id$v=19$m=..,t=..,p=..$<salt>$<tag>" (the PHC string
 * libargon2's encoder writes) into `out`; -1 when `cap` is too small. */
static int encode_phc(const auth_hash_t *self, const uint8_t *salt, const uint8_t *tag, char *out,
                      size_t cap)
{
    const int b64 = sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    const size_t salt_room = sodium_base64_ENCODED_LEN(AUTH_HASH_SALT_BYTES, b64);
    const size_t tag_room = sodium_base64_ENCODED_LEN(AUTH_HASH_TAG_BYTES, b64);
    int n = snprintf(out, cap, "$argon2id$v=%u$m=%u,t=%u,p=%u$", ARGON2_V13, self->m_cost,
                     self->t_cost, self->lanes);
    if (n < 0 || (size_t)n + salt_room + 1 + tag_room > cap)
        return -1;
    size_t at = (size_t)n + salt_room - 1; /* where the salt's NUL goes */
    sodium_bin2base64(out + n, salt_room, salt, AUTH_HASH_SALT_BYTES, b64);
    out[at++] = '$';
    sodium_bin2base64(out + at, tag_room, tag, AUTH_HASH_TAG_BYTES, b64);
    return 0;
}

/* Hashes `pwd_len` bytes at `pwd` with a fresh salt into `out`. */
static int hash_bytes(const auth_hash_t *self, const void *pwd, size_t pwd_len, char *out,
                      size_t cap)
{
    uint8_t salt[AUTH_HASH_SALT_BYTES], tag[AUTH_HASH_TAG_BYTES];
    int rc = -1;

    if (self->lanes == 1) { /* libsodium's SIMD code (see the header) */
        if (cap < crypto_pwhash_STRBYTES ||
            crypto_pwhash_str_alg(out, pwd, pwd_len, self->t_cost, (size_t)self->m_cost * 1024u,
                                  crypto_pwhash_ALG_ARGON2ID13) != 0) {
            out[0] = '\0';
            return -1;
        }
        return 0;
    }
    randombytes_buf(salt, sizeof salt);
    if (argon2id_run(self, ARGON2_V13, self->t_cost, self->m_cost, self->lanes, pwd, pwd_len, salt,
                     sizeof salt, tag, sizeof tag, NULL) == ARGON2_OK)
        rc = encode_phc(self, salt, tag, out, cap);
    sodium_memzero(salt, sizeof salt);
    sodium_memzero(tag, sizeof tag);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

auth_hash_t *auth_hash_new(uint32_t t_cost, uint32_t m_cost_kib, uint32_t parallelism)
{
    unsigned char pw[DUMMY_PW_BYTES];
    auth_hash_t *self = NULL;

    if (!params_in_range(t_cost, m_cost_kib, parallelism) || !auth_hash_cpu_supported() ||
        sodium_init() < 0)
        return NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->running = calloc(1, sizeof *self->running);
    if (self->running == NULL) {
        free(self);
        return NULL;
    }
    atomic_init(self->running, 0u);
    self->t_cost = t_cost;
    self->m_cost = m_cost_kib;
    self->lanes = parallelism;
    self->cpus = usable_cpus();

    randombytes_buf(pw, sizeof pw);
    int rc = hash_bytes(self, pw, sizeof pw, self->dummy, sizeof self->dummy);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0)
        auth_hash_destroy(&self);
    return self;
}

void auth_hash_destroy(auth_hash_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free((*self_p)->running);
    free(*self_p);
    *self_p = NULL;
}

int auth_hash_password(const auth_hash_t *self, const char *password, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return -1;
    out[0] = '\0';
    int64_t n = password_len(password);
    if (self == NULL || n < 0)
        return -1;
    return hash_bytes(self, password, (size_t)n, out, cap);
}

/* Verifies with libargon2 (any lanes, v=16 or v=19): decodes the salt and
 * the tag that parse_encoded checked, and recomputes. */
static auth_hash_result_t verify_argon2(const auth_hash_t *self, const params_t *p,
                                        const char *password, size_t pw_len)
{
    const int b64 = sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    uint8_t salt[SALT_MAX], want[TAG_MAX], got[TAG_MAX];
    size_t salt_len = 0, tag_len = 0;
    auth_hash_result_t result = AUTH_HASH_ERROR;

    if (sodium_base642bin(salt, sizeof salt, p->salt_b64, p->salt_chars, NULL, &salt_len, NULL,
                          b64) != 0 ||
        sodium_base642bin(want, sizeof want, p->tag_b64, p->tag_chars, NULL, &tag_len, NULL, b64) !=
            0 ||
        salt_len != p->salt_len || tag_len != p->tag_len)
        goto cleanup;
    switch (argon2id_run(self, p->version, p->t, p->m, p->p, password, pw_len, salt, salt_len, got,
                         tag_len, want)) {
    case ARGON2_OK:
        result = AUTH_HASH_MATCH;
        break;
    case ARGON2_VERIFY_MISMATCH:
        result = AUTH_HASH_MISMATCH;
        break;
    default:
        break;
    }
cleanup:
    sodium_memzero(got, sizeof got);
    return result;
}

auth_hash_result_t auth_hash_verify(const auth_hash_t *self, const char *encoded,
                                    const char *password)
{
    params_t p;
    int64_t n = password_len(password);

    if (self == NULL || n < 0 || parse_encoded(encoded, &p) != 0)
        return AUTH_HASH_ERROR;
    /* One lane and the layout libsodium writes: its SIMD code is faster;
     * it answers -1 for a wrong password and for a failure alike, and the
     * encoding has been checked already, so -1 is a mismatch. */
    if (p.p == 1 && p.version == ARGON2_V13 && p.salt_len == AUTH_HASH_SALT_BYTES &&
        p.tag_len == AUTH_HASH_TAG_BYTES)
        return crypto_pwhash_str_verify(encoded, password, (unsigned long long)n) == 0
                   ? AUTH_HASH_MATCH
                   : AUTH_HASH_MISMATCH;
    return verify_argon2(self, &p, password, (size_t)n);
}

void auth_hash_limit_cpus(auth_hash_t *self, uint32_t cpus)
{
    if (self != NULL && cpus > 0 && cpus < self->cpus)
        self->cpus = cpus;
}

const char *auth_hash_impl(void)
{
    return RESTC_ARGON2_NAME;
}

bool auth_hash_cpu_supported(void)
{
#if defined(RESTC_ARGON2_AVX2)
    return __builtin_cpu_supports("avx2");
#else
    return true;
#endif
}

void auth_hash_verify_dummy(const auth_hash_t *self, const char *password)
{
    if (self != NULL)
        (void)auth_hash_verify(self, self->dummy, password);
}

bool auth_hash_needs_rehash(const auth_hash_t *self, const char *encoded)
{
    params_t p;

    if (self == NULL)
        return false;
    if (parse_encoded(encoded, &p) != 0)
        return true;
    return p.version != ARGON2_V13 || p.m != self->m_cost || p.t != self->t_cost ||
           p.p != self->lanes || p.salt_len != AUTH_HASH_SALT_BYTES ||
           p.tag_len != AUTH_HASH_TAG_BYTES;
}

const char *auth_hash_result_str(auth_hash_result_t result)
{
    static const char *const names[] = {
        [AUTH_HASH_MATCH] = "match",
        [AUTH_HASH_MISMATCH] = "mismatch",
        [AUTH_HASH_ERROR] = "error",
    };
    if ((unsigned)result >= sizeof names / sizeof names[0])
        return "unknown";
    return names[result];
}
