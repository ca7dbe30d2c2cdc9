/*
 * auth_twofa: the second factor (TOTP, RFC 6238) of an account: the ops
 * auth.totp_setup / auth.totp_enable / auth.totp_disable, and the check a
 * login makes after a correct password of a user who has it on.
 *
 * Setup makes a random 160-bit secret and stores it sealed
 * (auth_secrets.h) as the user's pending secret (replacing an earlier
 * one); enable turns it on once a code of it is shown, with a fresh set of
 * backup codes (auth_backup.h) whose hashes only are stored. A code is
 * accepted at most once: storesvc remembers the last time step used and
 * moves it forward in one conditional UPDATE, so a code seen over a
 * shoulder cannot be used again, not even by a login racing the owner's.
 * The code that confirms the enable counts as used.
 */
#ifndef AUTH_TWOFA_H
#define AUTH_TWOFA_H

#include "auth_handlers.h"

/* The second factor of a login whose password was right for `user_id`,
 * a user with TOTP on: `totp_code` or `backup_code` ("" for absent; not
 * both). PROTO_OK; PROTO_ERR_TOTP_REQUIRED (neither given);
 * PROTO_ERR_TOTP_INVALID (a wrong, malformed, replayed or used code); or
 * storesvc's error. *outcome says how the limiters count it: invalid is a
 * failure, required and errors are neutral. */
proto_err_t auth_twofa_login(const auth_ctx_t *ctx, const char *rid, const char *user_id,
                             const char *totp_code, const char *backup_code,
                             auth_limiter_outcome_t *outcome);

#endif
