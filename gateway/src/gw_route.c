/*
 * gw_route: the public route table, and segment-by-segment matching of a
 * request path against a table. The table is the API at a glance: each row
 * names its handler, permission, body fields, lane and backend call (the
 * field tables and call rows above it). Patterns are few and short, so a
 * linear scan beats any index here; what matters is that matching is exact
 * (no prefix matches, no trailing-slash guessing) and that captured values
 * are bounded.
 */
#include "gw_route.h"
#include "proto_rbac.h"
#include "gw_api.h"
#include "gw_auth.h"
#include "gw_docs.h"
#include "gw_files.h"
#include "gw_health.h"

#include <stdbool.h>
#include <string.h>

/* ---- request bodies: the fields each JSON route accepts ----
 *
 * String bounds mirror the wire bounds of the op's catalogue row
 * (proto_catalog.c), so an accepted body is never a bad_request there; the
 * rules a person must follow (lengths, characters, strength) are checked
 * by authsvc. test_route checks every row against the catalogue. */

#define REQ(n, t, max)                                                                             \
    {                                                                                              \
        n, t, true, max, NULL                                                                      \
    }
#define OPT(n, t, max)                                                                             \
    {                                                                                              \
        n, t, false, max, NULL                                                                     \
    }
#define REQ_F(n, t, max, fmt)                                                                      \
    {                                                                                              \
        n, t, true, max, fmt                                                                       \
    }
#define OPT_F(n, t, max, fmt)                                                                      \
    {                                                                                              \
        n, t, false, max, fmt                                                                      \
    }
/* max_bytes of a string field whose handler enforces the wire bound itself
 * (0: unbounded by the schema; MAX_JSON_BYTES still bounds the body). */
#define GW_FIELD_BOUNDED_BY_HANDLER 0

#define END                                                                                        \
    {                                                                                              \
        NULL, GW_JSON_STRING, false, 0, NULL                                                       \
    }

static const gw_field_t f_register[] = {
    REQ("username", GW_JSON_STRING, 512),
    REQ_F("email", GW_JSON_STRING, 512, "email"),
    REQ_F("password", GW_JSON_STRING, 1024, "password"),
    OPT("full_name", GW_JSON_TEXT_OR_NULL, 1024),
    END,
};
static const gw_field_t f_token[] = {
    REQ("username", GW_JSON_STRING, 512),
    REQ_F("password", GW_JSON_STRING, 1024, "password"),
    OPT("totp_code", GW_JSON_STRING_OR_NULL, 32),
    OPT("backup_code", GW_JSON_STRING_OR_NULL, 32),
    END,
};
/* No bound here on purpose: a refresh token of any length is a token, and
 * one too long to be ours is an unknown token (401 on refresh, a no-op
 * logout), not a field error. gw_auth answers it without forwarding any
 * value over the wire bound; only a non-string is 422. */
static const gw_field_t f_refresh_token[] = {
    OPT("refresh_token", GW_JSON_STRING, GW_FIELD_BOUNDED_BY_HANDLER),
    END,
};
static const gw_field_t f_update_self[] = {
    OPT("full_name", GW_JSON_TEXT_OR_NULL, 1024),
    OPT_F("email", GW_JSON_STRING, 512, "email"),
    END,
};
static const gw_field_t f_change_password[] = {
    REQ_F("current_password", GW_JSON_STRING, 1024, "password"),
    REQ_F("new_password", GW_JSON_STRING, 1024, "password"),
    END,
};
static const gw_field_t f_totp_enable[] = {
    REQ("code", GW_JSON_STRING, 32),
    END,
};
static const gw_field_t f_totp_disable[] = {
    REQ_F("password", GW_JSON_STRING, 1024, "password"),
    REQ("code", GW_JSON_STRING, 32),
    END,
};
static const gw_field_t f_user_update[] = {
    OPT("role", GW_JSON_STRING, 32),
    OPT("is_active", GW_JSON_BOOL, 0),
    END,
};

static const gw_field_t f_reset_request[] = {
    REQ_F("email", GW_JSON_STRING, 512, "email"),
    END,
};
static const gw_field_t f_reset_confirm[] = {
    REQ("token", GW_JSON_STRING, 256),
    REQ_F("new_password", GW_JSON_STRING, 1024, "password"),
    END,
};
/* permissions: names of at most 32 bytes each (PROTO_B_PERM). */
static const gw_field_t f_api_key_create[] = {
    REQ("name", GW_JSON_STRING, 1024),
    OPT("expires_in_days", GW_JSON_INTEGER, 0),
    OPT("permissions", GW_JSON_STRING_ARRAY, 32),
    END,
};

/* ---- backend calls ---- */

#define AUTH  GW_SVC_AUTHSVC
#define STORE GW_SVC_STORESVC
#define IP    GW_ARG_CLIENT_IP
#define UA    GW_ARG_USER_AGENT
#define ACTOR GW_ARG_ACTOR_ID
#define ROLE  GW_ARG_ACTOR_ROLE
#define SID   GW_ARG_ACTOR_SID
#define SELF  GW_ARG_SELF_ID

static const gw_call_t c_register = {.op = PROTO_OP_AUTH_REGISTER,
                                     .svc = AUTH,
                                     .args = IP,
                                     .unwrap = "user",
                                     .shape = gw_shape_user,
                                     .status = 201};
static const gw_call_t c_token = {
    .op = PROTO_OP_AUTH_TOKEN, .svc = AUTH, .args = IP | UA, .shape = gw_shape_token};
static const gw_call_t c_refresh = {
    .op = PROTO_OP_AUTH_REFRESH, .svc = AUTH, .args = IP | UA, .shape = gw_shape_token};
static const gw_call_t c_logout = {
    .op = PROTO_OP_AUTH_LOGOUT, .svc = AUTH, .args = IP, .status = 204, .clear_cookie = true};
static const gw_call_t c_logout_all = {.op = PROTO_OP_AUTH_LOGOUT_ALL,
                                       .svc = AUTH,
                                       .args = ACTOR,
                                       .status = 204,
                                       .clear_cookie = true};
static const gw_call_t c_sessions = {
    .op = PROTO_OP_AUTH_SESSIONS, .svc = AUTH, .args = ACTOR | SID, .shape = gw_shape_sessions};
static const gw_call_t c_session_revoke = {.op = PROTO_OP_AUTH_SESSION_REVOKE,
                                           .svc = AUTH,
                                           .args = ACTOR,
                                           .param = "session_id",
                                           .status = 204};
/* A signed-in caller's mistyped code is a field error (400), not a
 * credential failure (401 would read as "your token is dead"). */
static const gw_restatus_t r_code_400[] = {{PROTO_ERR_TOTP_INVALID, 400}, {PROTO_OK, 0}};
static const gw_call_t c_totp_setup = {
    .op = PROTO_OP_AUTH_TOTP_SETUP, .svc = AUTH, .args = ACTOR, .shape = gw_shape_totp_setup};
static const gw_call_t c_totp_enable = {.op = PROTO_OP_AUTH_TOTP_ENABLE,
                                        .svc = AUTH,
                                        .args = ACTOR,
                                        .shape = gw_shape_backup_codes,
                                        .restatus = r_code_400};
static const gw_call_t c_totp_disable = {.op = PROTO_OP_AUTH_TOTP_DISABLE,
                                         .svc = AUTH,
                                         .args = ACTOR,
                                         .status = 204,
                                         .restatus = r_code_400};
static const gw_call_t c_me = {
    .op = PROTO_OP_STORE_USER_GET, .svc = STORE, .args = SELF, .shape = gw_shape_user};
static const gw_call_t c_update_self = {
    .op = PROTO_OP_AUTH_UPDATE_SELF, .svc = AUTH, .args = ACTOR, .shape = gw_shape_user};
static const gw_call_t c_change_password = {
    .op = PROTO_OP_AUTH_CHANGE_PASSWORD, .svc = AUTH, .args = ACTOR | SID, .status = 204};
static const gw_call_t c_user_list = {
    .op = PROTO_OP_STORE_USER_LIST, .svc = STORE, .shape = gw_shape_user_list};
static const gw_call_t c_user_get = {
    .op = PROTO_OP_STORE_USER_GET, .svc = STORE, .param = "id", .shape = gw_shape_user};
static const gw_call_t c_user_update = {.op = PROTO_OP_AUTH_USER_UPDATE,
                                        .svc = AUTH,
                                        .args = ACTOR | ROLE,
                                        .param = "id",
                                        .shape = gw_shape_user};
static const gw_call_t c_user_delete = {.op = PROTO_OP_AUTH_USER_DELETE,
                                        .svc = AUTH,
                                        .args = ACTOR | ROLE,
                                        .param = "id",
                                        .status = 204};
static const gw_call_t c_stats = {.op = PROTO_OP_AUTH_STATS, .svc = AUTH, .shape = gw_shape_stats};
static const gw_call_t c_reset_request = {
    .op = PROTO_OP_AUTH_RESET_REQUEST, .svc = AUTH, .args = IP, .status = 202};
static const gw_call_t c_reset_confirm = {
    .op = PROTO_OP_AUTH_RESET_CONFIRM, .svc = AUTH, .args = IP, .status = 204};
static const gw_call_t c_api_key_create = {.op = PROTO_OP_AUTH_APIKEY_CREATE,
                                           .svc = AUTH,
                                           .args = ACTOR | ROLE,
                                           .shape = gw_shape_api_key_created,
                                           .status = 201};
static const gw_call_t c_api_key_list = {
    .op = PROTO_OP_AUTH_APIKEY_LIST, .svc = AUTH, .args = ACTOR, .shape = gw_shape_api_keys};
static const gw_call_t c_api_key_delete = {
    .op = PROTO_OP_AUTH_APIKEY_DELETE, .svc = AUTH, .args = ACTOR, .param = "id", .status = 204};
static const gw_call_t c_file_list = {.op = PROTO_OP_STORE_FILE_LIST,
                                      .svc = STORE,
                                      .args = ACTOR | ROLE,
                                      .shape = gw_shape_file_list};
static const gw_call_t c_file_get = {.op = PROTO_OP_STORE_FILE_GET,
                                     .svc = STORE,
                                     .args = ACTOR | ROLE,
                                     .param = "id",
                                     .shape = gw_shape_file};
static const gw_call_t c_file_delete = {.op = PROTO_OP_STORE_FILE_DELETE,
                                        .svc = STORE,
                                        .args = ACTOR | ROLE,
                                        .param = "id",
                                        .status = 204};

/* ---- answers of the handlers with code of their own (gw_health,
 * gw_auth_session, gw_files, gw_docs), for the API document ---- */

static const gw_key_t k_live[] = {GW_KEY("status", STRING), GW_KEY_END};
static const gw_key_t k_ready[] = {GW_KEY("status", STRING), GW_KEYS("checks", OBJECT, NULL),
                                   GW_KEY_END};
static const gw_key_t k_health[] = {GW_KEY("status", STRING), GW_KEY("version", STRING),
                                    GW_KEYS("checks", OBJECT, NULL), GW_KEY_END};
static const gw_key_t k_session[] = {GW_KEY("user_id", ID), GW_KEY("username", STRING),
                                     GW_KEY("role", STRING), GW_KEY("expires_at", TIME),
                                     GW_KEY_END};

static const gw_answer_t a_live = {200, k_live, NULL};
static const gw_answer_t a_ready = {200, k_ready, NULL};
static const gw_answer_t a_health = {200, k_health, NULL};
static const gw_answer_t a_login = {200, gw_shape_login, NULL};
static const gw_answer_t a_session = {200, k_session, NULL};
static const gw_answer_t a_upload = {201, gw_shape_file, NULL};
static const gw_answer_t a_download = {200, NULL, "application/octet-stream"};
static const gw_answer_t a_openapi = {200, NULL, NULL};
static const gw_answer_t a_page = {200, NULL, "text/html"};
static const gw_answer_t a_asset = {200, NULL, "*/*"};

#define NONE         GW_BODY_NONE
#define JSON         GW_BODY_JSON
#define OPT_JSON     GW_BODY_JSON_OPTIONAL
#define STREAM       GW_BODY_STREAM
#define SLOW         GW_ROUTE_SLOW
#define FAST         0
#define COOKIE       GW_ROUTE_COOKIE
#define LIMITED      GW_ROUTE_LIMITED
#define SESSION      GW_ROUTE_SESSION /* no API keys */
#define SLOW_SESSION (GW_ROUTE_SLOW | GW_ROUTE_SESSION)
#define SIGN_IN      (GW_ROUTE_SLOW | GW_ROUTE_SIGN_IN)
#define PAGED        GW_ROUTE_PAGED
#define PROBE        GW_ROUTE_PROBE
#define DOCS         (GW_ROUTE_DOCS | GW_ROUTE_LIMITED)
#define DOCS_PAGE    (GW_ROUTE_DOCS | GW_ROUTE_PAGE | GW_ROUTE_LIMITED)

/* Order matters where patterns overlap: /users/me before /users/{id}.
 * SESSION routes refuse API keys (403): credentials, sessions, and the
 * email (a key that could change it could take the account over through a
 * password reset). The documentation routes are counted by the API rate
 * limit like every other public /api/ route (docs/API.md, "Rate limiting"). */
static const gw_route_t gw_routes[] = {
    {"GET", "/healthz", gw_health_live, NULL, NONE, NULL, PROBE, NULL, "Liveness probe", &a_live},
    {"GET", "/readyz", gw_health_ready, NULL, NONE, NULL, PROBE, NULL,
     "Readiness probe: every backend, the database and the object store answer", &a_ready},
    {"GET", "/api/v1/health", gw_health_full, NULL, NONE, NULL, LIMITED | PROBE, NULL,
     "Health of the gateway and its backends, with the version", &a_health},

    {"POST", "/api/v1/auth/register", gw_api_handle, NULL, JSON, f_register, SLOW, &c_register,
     "Create an account (role user)", NULL},
    {"POST", "/api/v1/auth/token", gw_auth_token, NULL, JSON, f_token, SIGN_IN, &c_token,
     "Sign in for programmatic clients: an access and a refresh token", NULL},
    {"POST", "/api/v1/auth/login", gw_auth_login, NULL, JSON, f_token, SIGN_IN, &c_token,
     "Sign in for browsers: an access token, the refresh token as a cookie", &a_login},
    {"POST", "/api/v1/auth/refresh", gw_auth_refresh, NULL, OPT_JSON, f_refresh_token, COOKIE,
     &c_refresh, "Rotate a refresh token (body or cookie) for a new pair", NULL},
    {"POST", "/api/v1/auth/logout", gw_auth_logout, NULL, OPT_JSON, f_refresh_token, COOKIE,
     &c_logout, "Revoke a refresh token's session (body, cookie or the bearer's)", NULL},
    {"POST", "/api/v1/auth/logout-all", gw_api_handle, PROTO_PERMISSION(self, read), NONE, NULL,
     SESSION, &c_logout_all, "Revoke every session and access token of the caller", NULL},
    {"GET", "/api/v1/auth/session", gw_auth_session, PROTO_PERMISSION(self, read), NONE, NULL,
     SESSION, NULL, "The caller's identity and the access token's expiry", &a_session},
    {"GET", "/api/v1/auth/sessions", gw_api_handle, PROTO_PERMISSION(self, read), NONE, NULL,
     SESSION, &c_sessions, "The caller's live sessions", NULL},
    {"DELETE", "/api/v1/auth/sessions/{id}", gw_api_handle, PROTO_PERMISSION(self, read), NONE,
     NULL, SESSION, &c_session_revoke, "Revoke one of the caller's sessions", NULL},
    {"POST", "/api/v1/auth/password-reset", gw_api_handle, NULL, JSON, f_reset_request, FAST,
     &c_reset_request, "Ask for a password-reset mail (always 202)", NULL},
    {"POST", "/api/v1/auth/password-reset/confirm", gw_api_handle, NULL, JSON, f_reset_confirm,
     SLOW, &c_reset_confirm, "Set a new password with a reset token", NULL},
    {"POST", "/api/v1/auth/api-keys", gw_api_handle, PROTO_PERMISSION(self, read), JSON,
     f_api_key_create, SESSION, &c_api_key_create, "Create an API key (its secret is shown once)",
     NULL},
    {"GET", "/api/v1/auth/api-keys", gw_api_handle, PROTO_PERMISSION(self, read), NONE, NULL,
     SESSION, &c_api_key_list, "The caller's API keys, without secrets", NULL},
    {"DELETE", "/api/v1/auth/api-keys/{id}", gw_api_handle, PROTO_PERMISSION(self, read), NONE,
     NULL, SESSION, &c_api_key_delete, "Delete one of the caller's API keys", NULL},
    /* The second factor changes the account's credentials, like a
     * password change: self:write, and never with an API key. */
    {"POST", "/api/v1/auth/2fa/setup", gw_api_handle, PROTO_PERMISSION(self, write), NONE, NULL,
     SESSION, &c_totp_setup, "Start two-factor setup: a new TOTP secret", NULL},
    {"POST", "/api/v1/auth/2fa/enable", gw_api_handle, PROTO_PERMISSION(self, write), JSON,
     f_totp_enable, SESSION, &c_totp_enable,
     "Turn two-factor authentication on with a code: the backup codes", NULL},
    {"POST", "/api/v1/auth/2fa/disable", gw_api_handle, PROTO_PERMISSION(self, write), JSON,
     f_totp_disable, SLOW | SESSION, &c_totp_disable, "Turn two-factor authentication off", NULL},

    {"GET", "/api/v1/users/me", gw_api_handle, PROTO_PERMISSION(self, read), NONE, NULL, FAST,
     &c_me, "The caller's own account", NULL},
    {"PATCH", "/api/v1/users/me", gw_api_handle, PROTO_PERMISSION(self, write), JSON, f_update_self,
     SESSION, &c_update_self, "Change the caller's name or email", NULL},
    {"POST", "/api/v1/users/me/password", gw_api_handle, PROTO_PERMISSION(self, write), JSON,
     f_change_password, SLOW_SESSION, &c_change_password, "Change the caller's password", NULL},
    {"GET", "/api/v1/users", gw_api_users_list, PROTO_PERMISSION(users, read), NONE, NULL, PAGED,
     &c_user_list, "List accounts, oldest first", NULL},
    {"GET", "/api/v1/users/{id}", gw_api_handle, PROTO_PERMISSION(users, read), NONE, NULL, FAST,
     &c_user_get, "One account", NULL},
    {"PATCH", "/api/v1/users/{id}", gw_api_handle, PROTO_PERMISSION(users, write), JSON,
     f_user_update, FAST, &c_user_update, "Change an account's role or status", NULL},
    {"DELETE", "/api/v1/users/{id}", gw_api_handle, PROTO_PERMISSION(users, delete), NONE, NULL,
     FAST, &c_user_delete, "Delete an account with its sessions, keys and files", NULL},
    {"GET", "/api/v1/admin/stats", gw_api_handle, PROTO_PERMISSION(admin, read), NONE, NULL, FAST,
     &c_stats, "Counts of users, files, bytes, sessions and blocked sources", NULL},

    /* Files: the owner sees their own, admins and moderators all (storesvc
     * scopes every query by actor_id and actor_role); deleting needs to be
     * the owner or hold content:delete, which storesvc decides likewise. */
    {"POST", "/api/v1/files", gw_files_upload, PROTO_PERMISSION(content, write), STREAM, NULL, FAST,
     NULL, "Upload a file (raw body with ?name=, or multipart/form-data)", &a_upload},
    {"GET", "/api/v1/files", gw_api_users_list, PROTO_PERMISSION(content, read), NONE, NULL, PAGED,
     &c_file_list, "List the files the caller may see, newest first", NULL},
    {"GET", "/api/v1/files/{id}", gw_api_handle, PROTO_PERMISSION(content, read), NONE, NULL, FAST,
     &c_file_get, "One file's metadata", NULL},
    {"GET", "/api/v1/files/{id}/content", gw_files_content, PROTO_PERMISSION(content, read), NONE,
     NULL, GW_ROUTE_DOWNLOAD, NULL, "Download a file's bytes (Range, If-None-Match)", &a_download},
    {"DELETE", "/api/v1/files/{id}", gw_api_handle, PROTO_PERMISSION(content, read), NONE, NULL,
     FAST, &c_file_delete, "Delete a file", NULL},

    /* Documentation, only with DOCS_ENABLED=true (gw_docs). */
    {"GET", "/api/v1/openapi.json", gw_docs_openapi, NULL, NONE, NULL, DOCS, NULL,
     "This API as an OpenAPI 3.1 document", &a_openapi},
    {"GET", "/api/v1/docs", gw_docs_page, NULL, NONE, NULL, DOCS_PAGE, NULL,
     "The API document as a Swagger UI page", &a_page},
    {"GET", "/api/v1/docs/{asset}", gw_docs_asset, NULL, NONE, NULL, DOCS_PAGE, NULL,
     "A script, style sheet or image of the Swagger UI page", &a_asset},
};

const gw_route_t *gw_route_table(size_t *n)
{
    *n = sizeof gw_routes / sizeof gw_routes[0];
    return gw_routes;
}

/* Captures one {param} segment; false when the value is out of bounds. */
static bool capture(const char *name, size_t name_len, const char *val, size_t len, gw_match_t *out)
{
    if (len < 1 || len > GW_PARAM_MAX || out->nparams == GW_PARAMS_MAX)
        return false;
    gw_param_t *p = &out->params[out->nparams++];
    p->name = name;
    p->name_len = name_len;
    memcpy(p->value, val, len);
    p->value[len] = '\0';
    return true;
}

static bool match_path(const char *pattern, const char *path, size_t plen, gw_match_t *out)
{
    const char *p = pattern, *s = path, *end = path + plen;
    out->nparams = 0;
    while (*p && s < end) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        const char *pe = p + strcspn(p, "/");
        const char *se = memchr(s, '/', (size_t)(end - s));
        if (!se)
            se = end;
        size_t sl = (size_t)(se - s);
        if (*p == '{' && pe - p >= 2 && pe[-1] == '}') {
            if (!capture(p + 1, (size_t)(pe - p) - 2, s, sl, out))
                return false;
        } else if ((size_t)(pe - p) != sl || memcmp(p, s, sl) != 0) {
            return false;
        }
        p = pe;
        s = se;
    }
    return *p == '\0' && s == end;
}

/* Appends `m` to the allow list unless present. */
static void allow_add(char *allow, const char *m)
{
    size_t ml = strlen(m), al = strlen(allow);
    for (const char *q = allow; (q = strstr(q, m)); q += ml) {
        if ((q == allow || q[-1] == ' ') && (q[ml] == ',' || q[ml] == '\0'))
            return;
    }
    if (al + ml + 3 > GW_ALLOW_MAX)
        return;
    if (al) {
        memcpy(allow + al, ", ", 2);
        al += 2;
    }
    memcpy(allow + al, m, ml + 1);
}

static bool method_is(const gw_route_t *r, const char *method)
{
    if (strcmp(r->method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
}

gw_match_result_t gw_route_match(const gw_route_t *routes, size_t n, const char *method,
                                 const char *target, gw_match_t *out)
{
    memset(out, 0, sizeof *out);
    size_t plen = strcspn(target, "?#");
    bool path_seen = false, get_seen = false;
    gw_match_t tmp;
    for (size_t i = 0; i < n; i++) {
        if (!match_path(routes[i].pattern, target, plen, &tmp))
            continue;
        if (method_is(&routes[i], method)) {
            *out = tmp;
            out->route = &routes[i];
            out->allow[0] = '\0';
            return GW_MATCH_OK;
        }
        path_seen = true;
        get_seen = get_seen || strcmp(routes[i].method, "GET") == 0;
        allow_add(out->allow, routes[i].method);
    }
    if (!path_seen)
        return GW_MATCH_NOT_FOUND;
    if (get_seen)
        allow_add(out->allow, "HEAD");
    allow_add(out->allow, "OPTIONS");
    return GW_MATCH_METHOD_NOT_ALLOWED;
}
