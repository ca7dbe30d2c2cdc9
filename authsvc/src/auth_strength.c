/*
 * auth_strength: the one gate for new passwords (see auth_strength.h).
 */
#include "auth_strength.h"
#include "auth_password.h"
#include "auth_util.h"
#include "rt_log.h"

#define MSG_BREACHED "Password appears in a known data breach; choose another one"

proto_err_t auth_password_acceptable(const auth_ctx_t *ctx, const char *rid, const char *password,
                                     const char *username, const char *field, proto_fail_t *fail)
{
    auth_password_rule_t rule;
    if (auth_password_check(password, username, &rule) != 0) {
        auth_fail_field(fail, field, auth_password_rule_message(rule));
        return PROTO_ERR_WEAK_PASSWORD;
    }
    if (!ctx->breach)
        return PROTO_OK;
    switch (auth_breach_check(ctx->breach, password, NULL)) {
    case AUTH_BREACH_CLEAN:
        return PROTO_OK;
    case AUTH_BREACH_FOUND:
        auth_fail_field(fail, field, MSG_BREACHED);
        return PROTO_ERR_WEAK_PASSWORD;
    default:
        if (!ctx->cfg->hibp_fail_closed) {
            rt_warn(
                rid,
                "breached-password check unavailable: password accepted (HIBP_FAIL_CLOSED=false)");
            return PROTO_OK;
        }
        auth_fail_msg(fail, "The password cannot be checked right now. Please try again later.");
        return PROTO_ERR_UNAVAILABLE;
    }
}
