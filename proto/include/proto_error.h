/*
 * proto_error: the one table of error codes shared by every service and the
 * gateway. Each row: enum name, wire code (a reply's `err.code`, problem
 * JSON's `code`), HTTP status, HTTP title (problem JSON `title`), whether
 * the reason a service gives may be shown to the client as the problem's
 * `detail` (it is written for people, names no internals), and the public
 * `detail` otherwise (NULL: the title). Adding an error is adding a row;
 * proto/PROTOCOL.md's table is generated from it.
 */
#ifndef PROTO_ERROR_H
#define PROTO_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#define PROTO_ERRORS(X)                                                                            \
    X(PROTO_OK, "ok", 200, "OK", false, NULL)                                                      \
    X(PROTO_ERR_BAD_REQUEST, "bad_request", 400, "Bad Request", false,                             \
      "The request could not be processed")                                                        \
    X(PROTO_ERR_WEAK_PASSWORD, "weak_password", 400, "Bad Request", true,                          \
      "The password does not meet the strength rules")                                             \
    X(PROTO_ERR_REGISTRATION_FAILED, "registration_failed", 400, "Bad Request", false,             \
      "Unable to create account with provided information")                                        \
    X(PROTO_ERR_INVALID_PASSWORD, "invalid_password", 400, "Bad Request", true,                    \
      "The current password is incorrect")                                                         \
    X(PROTO_ERR_CANNOT_DELETE_SELF, "cannot_delete_self", 400, "Bad Request", true,                \
      "You cannot delete your own account")                                                        \
    X(PROTO_ERR_INVALID_RESET_TOKEN, "invalid_reset_token", 400, "Bad Request", false,             \
      "Invalid or expired password reset token")                                                   \
    X(PROTO_ERR_UNAUTHORIZED, "unauthorized", 401, "Unauthorized", false,                          \
      "Missing, invalid or expired credentials")                                                   \
    X(PROTO_ERR_INVALID_CREDENTIALS, "invalid_credentials", 401, "Unauthorized", false,            \
      "Invalid credentials")                                                                       \
    X(PROTO_ERR_TOTP_REQUIRED, "totp_required", 401, "Unauthorized", false,                        \
      "A two-factor authentication code is required")                                              \
    X(PROTO_ERR_TOTP_INVALID, "totp_invalid", 401, "Unauthorized", false,                          \
      "Invalid two-factor authentication code")                                                    \
    X(PROTO_ERR_INVALID_REFRESH_TOKEN, "invalid_refresh_token", 401, "Unauthorized", false,        \
      "Invalid or expired refresh token")                                                          \
    X(PROTO_ERR_REFRESH_TOKEN_REUSED, "refresh_token_reused", 401, "Unauthorized", false,          \
      "This refresh token was already used; the session has been revoked")                         \
    X(PROTO_ERR_FORBIDDEN, "forbidden", 403, "Forbidden", true,                                    \
      "You do not have permission to perform this action")                                         \
    X(PROTO_ERR_REGISTRATION_DISABLED, "registration_disabled", 403, "Forbidden", false,           \
      "Registration is disabled")                                                                  \
    X(PROTO_ERR_ACCOUNT_DISABLED, "account_disabled", 403, "Forbidden", false,                     \
      "This account is disabled")                                                                  \
    X(PROTO_ERR_NOT_FOUND, "not_found", 404, "Not Found", false,                                   \
      "The requested resource was not found")                                                      \
    X(PROTO_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405, "Method Not Allowed", false,        \
      "The method is not allowed for this resource")                                               \
    X(PROTO_ERR_REQUEST_TIMEOUT, "request_timeout", 408, "Request Timeout", false, NULL)           \
    X(PROTO_ERR_CONFLICT, "conflict", 409, "Conflict", true,                                       \
      "The request conflicts with the current state")                                              \
    X(PROTO_ERR_PAYLOAD_TOO_LARGE, "payload_too_large", 413, "Content Too Large", false, NULL)     \
    X(PROTO_ERR_URI_TOO_LONG, "uri_too_long", 414, "URI Too Long", false, NULL)                    \
    X(PROTO_ERR_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "Unsupported Media Type",   \
      false, NULL)                                                                                 \
    X(PROTO_ERR_RANGE_NOT_SATISFIABLE, "range_not_satisfiable", 416, "Range Not Satisfiable",      \
      false, NULL)                                                                                 \
    X(PROTO_ERR_VALIDATION_ERROR, "validation_error", 422, "Unprocessable Content", true,          \
      "The request is invalid")                                                                    \
    X(PROTO_ERR_LOGIN_RATE_LIMITED, "login_rate_limited", 429, "Too Many Requests", true,          \
      "Too many failed login attempts. Please try again later.")                                   \
    X(PROTO_ERR_RATE_LIMITED, "rate_limited", 429, "Too Many Requests", true,                      \
      "Rate limit exceeded. Please try again later.")                                              \
    X(PROTO_ERR_HEADER_TOO_LARGE, "header_too_large", 431, "Request Header Fields Too Large",      \
      false, NULL)                                                                                 \
    X(PROTO_ERR_INTERNAL_ERROR, "internal_error", 500, "Internal Server Error", false,             \
      "An unexpected error occurred")                                                              \
    X(PROTO_ERR_UNAVAILABLE, "unavailable", 503, "Service Unavailable", false,                     \
      "A service is temporarily unavailable. Please try again later.")                             \
    X(PROTO_ERR_HTTP_VERSION_NOT_SUPPORTED, "http_version_not_supported", 505,                     \
      "HTTP Version Not Supported", false, NULL)

typedef enum {
#define PROTO_ERR_ENUM(name, code, status, title, pass, detail) name,
    PROTO_ERRORS(PROTO_ERR_ENUM)
#undef PROTO_ERR_ENUM
        PROTO_ERR__COUNT
} proto_err_t;

/* Wire code, e.g. "invalid_credentials". Out-of-range values give "internal_error". */
const char *proto_err_code(proto_err_t err);

/* HTTP status for the code, e.g. 401. */
int proto_err_http_status(proto_err_t err);

/* HTTP title for problem JSON, e.g. "Unauthorized". */
const char *proto_err_title(proto_err_t err);

/* The public detail text of the code (the title when the row has none). */
const char *proto_err_detail(proto_err_t err);

/* True when a service's own reason for this code may be shown as the
 * detail instead of proto_err_detail(). */
bool proto_err_shows_reason(proto_err_t err);

/* Maps a wire code (length-delimited, not NUL-terminated) back to the enum.
 * Unknown codes map to PROTO_ERR_INTERNAL_ERROR. */
proto_err_t proto_err_from_code(const char *code, size_t len);

#endif
