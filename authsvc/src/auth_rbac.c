/*
 * auth_rbac: roles, permissions and the matrix that joins them. Adding a
 * permission is adding a name and a bit in the rows that hold it; there is
 * no other place that decides who may do what.
 */
#include "auth_rbac.h"

#include <stdint.h>
#include <string.h>

#define BIT(p) (UINT32_C(1) << (p))

_Static_assert(AUTH_PERM_COUNT <= 32, "a role's permissions must fit one uint32_t mask");

static const char *const role_names[AUTH_ROLE_COUNT] = {
    [AUTH_ROLE_ADMIN] = "admin",
    [AUTH_ROLE_MODERATOR] = "moderator",
    [AUTH_ROLE_USER] = "user",
    [AUTH_ROLE_VIEWER] = "viewer",
};

static const char *const perm_names[AUTH_PERM_COUNT] = {
    [AUTH_PERM_USERS_READ] = "users:read",       [AUTH_PERM_USERS_WRITE] = "users:write",
    [AUTH_PERM_USERS_DELETE] = "users:delete",   [AUTH_PERM_ADMIN_READ] = "admin:read",
    [AUTH_PERM_ADMIN_WRITE] = "admin:write",     [AUTH_PERM_CONTENT_READ] = "content:read",
    [AUTH_PERM_CONTENT_WRITE] = "content:write", [AUTH_PERM_CONTENT_DELETE] = "content:delete",
    [AUTH_PERM_SELF_READ] = "self:read",         [AUTH_PERM_SELF_WRITE] = "self:write",
};

/* The matrix of API.md, "Users and roles", one row per role. */
static const uint32_t role_perms[AUTH_ROLE_COUNT] = {
    [AUTH_ROLE_ADMIN] = BIT(AUTH_PERM_USERS_READ) | BIT(AUTH_PERM_USERS_WRITE) |
                        BIT(AUTH_PERM_USERS_DELETE) | BIT(AUTH_PERM_ADMIN_READ) |
                        BIT(AUTH_PERM_ADMIN_WRITE) | BIT(AUTH_PERM_CONTENT_READ) |
                        BIT(AUTH_PERM_CONTENT_WRITE) | BIT(AUTH_PERM_CONTENT_DELETE) |
                        BIT(AUTH_PERM_SELF_READ) | BIT(AUTH_PERM_SELF_WRITE),
    [AUTH_ROLE_MODERATOR] = BIT(AUTH_PERM_USERS_READ) | BIT(AUTH_PERM_USERS_WRITE) |
                            BIT(AUTH_PERM_CONTENT_READ) | BIT(AUTH_PERM_CONTENT_WRITE) |
                            BIT(AUTH_PERM_CONTENT_DELETE) | BIT(AUTH_PERM_SELF_READ) |
                            BIT(AUTH_PERM_SELF_WRITE),
    [AUTH_ROLE_USER] = BIT(AUTH_PERM_CONTENT_READ) | BIT(AUTH_PERM_CONTENT_WRITE) |
                       BIT(AUTH_PERM_SELF_READ) | BIT(AUTH_PERM_SELF_WRITE),
    [AUTH_ROLE_VIEWER] = BIT(AUTH_PERM_CONTENT_READ) | BIT(AUTH_PERM_SELF_READ),
};

/* Index of `name` in `names`, or -1. */
static int lookup(const char *const *names, int count, const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < count; i++) {
        if (strcmp(names[i], name) == 0)
            return i;
    }
    return -1;
}

auth_role_t auth_role_parse(const char *name)
{
    int i = lookup(role_names, AUTH_ROLE_COUNT, name);
    return i < 0 ? AUTH_ROLE_INVALID : (auth_role_t)i;
}

const char *auth_role_name(auth_role_t role)
{
    if ((unsigned)role >= AUTH_ROLE_COUNT)
        return NULL;
    return role_names[role];
}

auth_perm_t auth_perm_parse(const char *name)
{
    int i = lookup(perm_names, AUTH_PERM_COUNT, name);
    return i < 0 ? AUTH_PERM_INVALID : (auth_perm_t)i;
}

const char *auth_perm_name(auth_perm_t perm)
{
    if ((unsigned)perm >= AUTH_PERM_COUNT)
        return NULL;
    return perm_names[perm];
}

bool auth_rbac_allows(auth_role_t role, auth_perm_t perm)
{
    if ((unsigned)role >= AUTH_ROLE_COUNT || (unsigned)perm >= AUTH_PERM_COUNT)
        return false;
    return (role_perms[role] & BIT(perm)) != 0;
}
