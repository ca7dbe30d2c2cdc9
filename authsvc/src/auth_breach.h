/*
 * auth_breach: is a password in a known data breach? The Have I Been Pwned
 * "Pwned Passwords" range API with k-anonymity: the SHA-1 of the password
 * is computed here, only its first five hex digits leave the process
 * (GET <HIBP_URL><prefix>, with "Add-Padding: true" so the answer's size
 * says nothing either), and the suffixes that come back are compared
 * locally. Off unless HIBP_ENABLED; every request is bounded by
 * HIBP_TIMEOUT_MS and by the size of the answer it reads.
 *
 * Thread-safe: each check uses its own libcurl handle.
 */
#ifndef AUTH_BREACH_H
#define AUTH_BREACH_H

#include <stdbool.h>

#define AUTH_BREACH_ANSWER_MAX (4 * 1024 * 1024) /* bytes of a range answer read at most */

typedef struct auth_breach auth_breach_t;

typedef enum {
    AUTH_BREACH_CLEAN,   /* not in the answer (or only as padding) */
    AUTH_BREACH_FOUND,   /* in the answer with a count > 0 */
    AUTH_BREACH_UNKNOWN, /* no usable answer: timeout, error, malformed */
} auth_breach_result_t;

/* `url` is the range endpoint the prefix is appended to, e.g.
 * "https://api.pwnedpasswords.com/range/" (copied). NULL on bad
 * arguments or OOM. */
auth_breach_t *auth_breach_new(const char *url, long timeout_ms);

void auth_breach_destroy(auth_breach_t **self_p);

/* Looks `password` up. `*count` (may be NULL) receives how often it was
 * seen when FOUND. */
auth_breach_result_t auth_breach_check(const auth_breach_t *self, const char *password,
                                       long *count);

#endif
