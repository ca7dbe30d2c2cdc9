/*
 * proto_error: the one table of error codes shared by every service and the
 * gateway. Each row: enum name, wire code (a reply's `err.code`, problem
 * JSON's `code`), HTTP status, HTTP title (problem JSON `title`). Adding an
 * error is adding a row; proto/PROTOCOL.md's table is generated from it.
 */
#ifndef PROTO_ERROR_H
#define PROTO_ERROR_H

#include <stddef.h>

#define PROTO_ERRORS(X)                                                                            \
    X(PROTO_OK, "ok", 200, "OK")                                                                   \
    X(PROTO_ERR_BAD_REQUEST, "bad_request", 400, "Bad Request")                                    \
    X(PROTO_ERR_WEAK_PASSWORD, "weak_password", 400, "Bad Request")                                \
    X(PROTO_ERR_REGISTRATION_FAILED, "registration_failed", 400, "Bad Request")                    \
    X(PROTO_ERR_INVALID_PASSWORD, "invalid_password", 400, "Bad Request")                          \
    X(PROTO_ERR_CANNOT_DELETE_SELF, "cannot_delete_self", 400, "Bad Request")                      \
    X(PROTO_ERR_INVALID_RESET_TOKEN, "invalid_reset_token", 400, "Bad Request")                    \
    X(PROTO_ERR_UNAUTHORIZED, "unauthorized", 401, "Unauthorized")                                 \
    X(PROTO_ERR_INVALID_CREDENTIALS, "invalid_credentials", 401, "Unauthorized")                   \
    X(PROTO_ERR_TOTP_REQUIRED, "totp_required", 401, "Unauthorized")                               \
    X(PROTO_ERR_TOTP_INVALID, "totp_invalid", 401, "Unauthorized")                                 \
    X(PROTO_ERR_INVALID_REFRESH_TOKEN, "invalid_refresh_token", 401, "Unauthorized")               \
    X(PROTO_ERR_REFRESH_TOKEN_REUSED, "refresh_token_reused", 401, "Unauthorized")                 \
    X(PROTO_ERR_FORBIDDEN, "forbidden", 403, "Forbidden")                                          \
    X(PROTO_ERR_REGISTRATION_DISABLED, "registration_disabled", 403, "Forbidden")                  \
    X(PROTO_ERR_ACCOUNT_DISABLED, "account_disabled", 403, "Forbidden")                            \
    X(PROTO_ERR_NOT_FOUND, "not_found", 404, "Not Found")                                          \
    X(PROTO_ERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405, "Method Not Allowed")               \
    X(PROTO_ERR_REQUEST_TIMEOUT, "request_timeout", 408, "Request Timeout")                        \
    X(PROTO_ERR_CONFLICT, "conflict", 409, "Conflict")                                             \
    X(PROTO_ERR_PAYLOAD_TOO_LARGE, "payload_too_large", 413, "Content Too Large")                  \
    X(PROTO_ERR_URI_TOO_LONG, "uri_too_long", 414, "URI Too Long")                                 \
    X(PROTO_ERR_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "Unsupported Media Type")   \
    X(PROTO_ERR_RANGE_NOT_SATISFIABLE, "range_not_satisfiable", 416, "Range Not Satisfiable")      \
    X(PROTO_ERR_VALIDATION_ERROR, "validation_error", 422, "Unprocessable Content")                \
    X(PROTO_ERR_LOGIN_RATE_LIMITED, "login_rate_limited", 429, "Too Many Requests")                \
    X(PROTO_ERR_RATE_LIMITED, "rate_limited", 429, "Too Many Requests")                            \
    X(PROTO_ERR_HEADER_TOO_LARGE, "header_too_large", 431, "Request Header Fields Too Large")      \
    X(PROTO_ERR_INTERNAL_ERROR, "internal_error", 500, "Internal Server Error")                    \
    X(PROTO_ERR_UNAVAILABLE, "unavailable", 503, "Service Unavailable")                            \
    X(PROTO_ERR_HTTP_VERSION_NOT_SUPPORTED, "http_version_not_supported", 505,                     \
      "HTTP Version Not Supported")

typedef enum {
#define PROTO_ERR_ENUM(name, code, status, title) name,
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

/* Maps a wire code (length-delimited, not NUL-terminated) back to the enum.
 * Unknown codes map to PROTO_ERR_INTERNAL_ERROR. */
proto_err_t proto_err_from_code(const char *code, size_t len);

#endif
