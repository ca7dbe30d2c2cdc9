/*
 * auth_rbac: the role/permission matrix of API.md ("Users and roles") as one
 * static const table, and the parsers between role/permission names and
 * their enum values.
 *
 * Everything here is pure and read-only: safe from any thread, nothing to
 * allocate or free. Anything unknown (a role or permission this build does
 * not know, an out-of-range enum value) is denied.
 */
#ifndef AUTH_RBAC_H
#define AUTH_RBAC_H

#include <stdbool.h>

/* The roles, most privileged first. Names are exactly "admin", "moderator",
 * "user", "viewer" (lower case; parsing is case-sensitive). */
typedef enum {
    AUTH_ROLE_INVALID = -1,
    AUTH_ROLE_ADMIN = 0,
    AUTH_ROLE_MODERATOR,
    AUTH_ROLE_USER,
    AUTH_ROLE_VIEWER,
    AUTH_ROLE_COUNT
} auth_role_t;

/* The permissions; names are "users:read", "users:write", ... as in API.md. */
typedef enum {
    AUTH_PERM_INVALID = -1,
    AUTH_PERM_USERS_READ = 0,
    AUTH_PERM_USERS_WRITE,
    AUTH_PERM_USERS_DELETE,
    AUTH_PERM_ADMIN_READ,
    AUTH_PERM_ADMIN_WRITE,
    AUTH_PERM_CONTENT_READ,
    AUTH_PERM_CONTENT_WRITE,
    AUTH_PERM_CONTENT_DELETE,
    AUTH_PERM_SELF_READ,
    AUTH_PERM_SELF_WRITE,
    AUTH_PERM_COUNT
} auth_perm_t;

/* Parses a role name (borrowed, NUL-terminated; exact, case-sensitive match).
 * Returns the role, or AUTH_ROLE_INVALID for NULL or an unknown name. */
auth_role_t auth_role_parse(const char *name);

/* The name of `role` (a static string), or NULL when `role` is not a role. */
const char *auth_role_name(auth_role_t role);

/* Parses a permission name ("content:read"; exact, case-sensitive). Returns
 * the permission, or AUTH_PERM_INVALID for NULL or an unknown name. */
auth_perm_t auth_perm_parse(const char *name);

/* The name of `perm` (a static string), or NULL when `perm` is not one. */
const char *auth_perm_name(auth_perm_t perm);

/* True when `role` holds `perm`. False for any invalid role or permission. */
bool auth_rbac_allows(auth_role_t role, auth_perm_t perm);

#endif
