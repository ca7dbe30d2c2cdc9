/*
 * auth_strength: whether a new password may be set: the field rules and
 * zxcvbn's estimate (auth_password), then, with HIBP_ENABLED, whether it
 * appears in a known breach (auth_breach). One function, so registration,
 * password changes and resets apply the same rules.
 */
#ifndef AUTH_STRENGTH_H
#define AUTH_STRENGTH_H

#include "auth_handlers.h"

/* PROTO_OK; PROTO_ERR_WEAK_PASSWORD with the reason in `fail` naming
 * `field`; or PROTO_ERR_UNAVAILABLE when the breach check got no answer
 * and HIBP_FAIL_CLOSED is set (fail open, the default, accepts it and logs
 * a warning). `username` may be NULL. */
proto_err_t auth_password_acceptable(const auth_ctx_t *ctx, const char *rid, const char *password,
                                     const char *username, const char *field, proto_fail_t *fail);

#endif
