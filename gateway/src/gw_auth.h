/*
 * gw_auth: the /api/v1/auth handlers that do more than one op call: the
 * browser flows around the refresh-token cookie (login, refresh, logout)
 * and the session view answered from the principal. Each takes its op and
 * added fields from req->call, like gw_api_handle.
 *
 * The cookie: `refresh_token=<t>; HttpOnly; SameSite=Lax;
 * Path=/api/v1/auth; Max-Age=<refresh_expires_in>` (+ Secure when
 * COOKIE_SECURE). A token in the JSON body wins over the cookie; a cookie
 * that occurs with several values cannot be trusted (gw_cookie.h) and is
 * treated as no valid token.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include "gw_handler.h"

#include <stddef.h>
#include <stdint.h>

#define GW_RFC3339_LEN 20 /* "2026-11-22T10:00:00Z" */

/* POST /api/v1/auth/login: auth.token; the access token in the body, the
 * refresh token only in the cookie. */
void gw_auth_login(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* POST /api/v1/auth/token: auth.token; the whole pair in the body.
 *
 * Both login routes pass the request's device cookie to authsvc and set
 * the new one a successful login answers with: `device=<v>; HttpOnly;
 * SameSite=Strict; Path=/api/v1/auth; Max-Age=<LOGIN_DEVICE_COOKIE_DAYS>`
 * (+ Secure when COOKIE_SECURE). Programmatic clients of /token get it
 * the same way: a cookie jar keeps it, or the client sends the value back
 * as `Cookie: device=<v>`. It only ever exempts that client from the
 * account's login delay (authsvc's auth_acctlimit); it authenticates
 * nothing. */
void gw_auth_token(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* POST /api/v1/auth/refresh: {refresh_token} in the body (answered with
 * the whole pair, like /token) or the cookie (answered like /login, with
 * the rotated cookie; a refused cookie token is cleared). */
void gw_auth_refresh(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* POST /api/v1/auth/logout: revokes the body's or the cookie's refresh
 * token (each distinct cookie value when several were sent; the bearer
 * token's session when there is none) and clears the cookie. 204. */
void gw_auth_logout(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* GET /api/v1/auth/session: {user_id, username, role, expires_at}. */
void gw_auth_session(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* Formats `epoch_s` as RFC 3339 UTC into out[cap] (cap > GW_RFC3339_LEN).
 * Returns 0, or -1 for a time that has no such form. */
int gw_auth_rfc3339(int64_t epoch_s, char *out, size_t cap);

#endif
