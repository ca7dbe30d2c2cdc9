/*
 * auth_hash: Argon2id password hashing (its cost: docs/BENCHMARKS.md) on top of
 * the reference libargon2, in the standard PHC encoded form
 *
 *     $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt b64>$<tag b64>
 *
 * (unpadded standard base64), with a 16-byte random salt and a 32-byte tag.
 *
 * An encoded hash read from the database is not trusted: verify parses it
 * itself, strictly, before libargon2 sees it, and refuses (ERROR) anything
 * that is not argon2id, v=16 or v=19, with t, m and p inside the ranges
 * below, a salt of 8..64 bytes and a tag of 16..64 bytes, at most
 * AUTH_HASH_ENCODED_MAX bytes long. So a hostile stored hash can cost at
 * most one verification at t=100, m=4 GiB, p=64, never more (note: that is
 * still a lot; the bound is what the parameters may ever be configured to).
 * Hashes with other parameters inside those ranges (older settings) verify
 * normally; auth_hash_needs_rehash says when to replace them after a
 * successful login.
 *
 * Unknown users: auth_hash_new builds a dummy hash (random password, random
 * salt, the configured parameters) so that a login for a user that does not
 * exist can cost one verification too (auth_hash_verify_dummy).
 *
 * Passwords are borrowed NUL-terminated strings of at most
 * AUTH_HASH_PASSWORD_MAX bytes (the field rules of auth_password allow 512
 * at most); nothing is copied, nothing is logged. libargon2 wipes its own
 * working memory.
 *
 * Which code computes it: the upstream Argon2 sources (release 20190702,
 * fetched by deploy/argon2-src.sh) compiled with their AVX2 code path, or,
 * when those sources are absent or RESTC_ARGON2=system, Debian's libargon2
 * (the generic build without SIMD, about 1.5x slower; auth_hash_impl names
 * the one linked). libsodium's crypto_pwhash has SIMD too but computes one
 * lane only, so hashes with p=1 go to libsodium and all others to
 * libargon2; all of them write and read the same standard encoding, so
 * every stored hash stays verifiable whichever build or setting made it.
 * The lanes of one hash are computed by as many threads as there are idle
 * CPUs (at most p): several threads when the service is idle, one each when
 * it is busy (the most hashes per second); the result does not depend on it.
 *
 * An auth_hash_t is immutable after auth_hash_new (but for a counter of
 * the hashes running): every function may run concurrently from any number
 * of threads, except auth_hash_destroy. Each call allocates m KiB for its
 * duration and starts up to p - 1 threads.
 */
#ifndef AUTH_HASH_H
#define AUTH_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_HASH_T_MIN        1u
#define AUTH_HASH_T_MAX        100u
#define AUTH_HASH_P_MIN        1u
#define AUTH_HASH_P_MAX        64u
#define AUTH_HASH_M_MIN_PER_P  8u       /* m >= 8 * p KiB (Argon2's own floor) */
#define AUTH_HASH_M_MAX        4194304u /* KiB: 4 GiB */
#define AUTH_HASH_SALT_BYTES   16u      /* salt of new hashes */
#define AUTH_HASH_TAG_BYTES    32u      /* tag of new hashes */
#define AUTH_HASH_PASSWORD_MAX 4096u    /* bytes; longer passwords are refused */
#define AUTH_HASH_ENCODED_MAX  255u     /* bytes; verify refuses longer encodings */
#define AUTH_HASH_ENCODED_BUF  128u     /* always enough for auth_hash_password's `out` */

typedef struct auth_hash auth_hash_t;

typedef enum {
    AUTH_HASH_MATCH = 0, /* the password is right */
    AUTH_HASH_MISMATCH,  /* the encoding is valid and the password is wrong */
    AUTH_HASH_ERROR      /* NULL or malformed input, parameters out of range, a password
                            over AUTH_HASH_PASSWORD_MAX, or no memory: treat as a failed
                            login, and log it (without the hash) when the encoding came
                            from our own database */
} auth_hash_result_t;

/* Creates a hasher for new hashes with `t_cost` passes (AUTH_HASH_T_MIN..
 * AUTH_HASH_T_MAX), `m_cost_kib` KiB of memory (8 * parallelism ..
 * AUTH_HASH_M_MAX) and `parallelism` lanes (AUTH_HASH_P_MIN..AUTH_HASH_P_MAX),
 * and computes its dummy hash (one full hashing: as slow as a login).
 * Returns NULL on an out-of-range parameter, a CPU the Argon2 build cannot
 * run on (auth_hash_cpu_supported), no randomness (libsodium) or no memory. */
auth_hash_t *auth_hash_new(uint32_t t_cost, uint32_t m_cost_kib, uint32_t parallelism);

/* Frees `*self_p` and sets it to NULL. Safe on NULL and on a NULL pointer. */
void auth_hash_destroy(auth_hash_t **self_p);

/* Hashes `password` with a fresh random salt and the configured parameters
 * and writes the encoded form, NUL-terminated, into `out` (`cap` bytes;
 * AUTH_HASH_ENCODED_BUF is always enough). Returns 0, or -1 on NULL
 * arguments, a password over AUTH_HASH_PASSWORD_MAX, `cap` too small or a
 * libargon2 failure; on -1 `out` (if any room) holds "". */
int auth_hash_password(const auth_hash_t *self, const char *password, char *out, size_t cap);

/* Verifies `password` against `encoded` (borrowed; a stored hash, possibly
 * made with other parameters). Never reads more than
 * AUTH_HASH_ENCODED_MAX + 1 bytes of `encoded`. Constant time in the tag
 * comparison (libargon2). */
auth_hash_result_t auth_hash_verify(const auth_hash_t *self, const char *encoded,
                                    const char *password);

/* One verification of `password` against the dummy hash, result ignored:
 * call it when the user does not exist, so that the reply takes as long as
 * for a user with a current hash. */
void auth_hash_verify_dummy(const auth_hash_t *self, const char *password);

/* True when `encoded` should be replaced by a fresh auth_hash_password
 * after a successful verify: it is not an argon2id encoding we accept, or
 * its version, m, t, p, salt length or tag length differ from ours. False
 * only for a NULL hasher. Cheap (no hashing). */
bool auth_hash_needs_rehash(const auth_hash_t *self, const char *encoded);

/* Caps the CPUs that the lanes of all running hashes are spread over
 * (default: the CPUs of the process's affinity mask, which in a container
 * with a CPU quota is the whole node's): authsvc gives AUTHSVC_HASH_WORKERS.
 * Call it before the hasher is shared; 0 is ignored. */
void auth_hash_limit_cpus(auth_hash_t *self, uint32_t cpus);

/* Which Argon2 build is linked, e.g. "upstream Argon2 20190702, AVX2" or
 * "Debian libargon2, generic" (static string, for the start-up log). */
const char *auth_hash_impl(void);

/* False when the linked Argon2 build needs CPU instructions this CPU lacks
 * (the AVX2 build on a CPU without AVX2); auth_hash_new then returns NULL.
 * Build with -DRESTC_ARGON2=system for such machines. */
bool auth_hash_cpu_supported(void);

/* A short stable name for a result ("match", "mismatch", "error"). */
const char *auth_hash_result_str(auth_hash_result_t result);

#endif
