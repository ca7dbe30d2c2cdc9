/*
 * proto_rbac: the roles, the permissions and who holds what: one table that
 * every service reads. The gateway's route table names the permission each
 * route needs through PROTO_PERMISSION (a misspelt name does not compile),
 * authsvc grants from the matrix and applies the administration rules of
 * the role rows, storesvc asks which roles see every file.
 *
 * Everything is static and read-only: safe from any thread. Anything
 * unknown (a name this build does not know, an out-of-range value) is
 * denied.
 */
#ifndef PROTO_RBAC_H
#define PROTO_RBAC_H

#include <stdbool.h>

/* X(ENUM, name), most privileged first. */
#define PROTO_ROLES(X)                                                                             \
    X(ADMIN, admin)                                                                                \
    X(MODERATOR, moderator)                                                                        \
    X(USER, user)                                                                                  \
    X(VIEWER, viewer)

/* X(ENUM, resource, action): the permission "resource:action". */
#define PROTO_PERMS(X)                                                                             \
    X(USERS_READ, users, read)                                                                     \
    X(USERS_WRITE, users, write)                                                                   \
    X(USERS_DELETE, users, delete)                                                                 \
    X(ADMIN_READ, admin, read)                                                                     \
    X(ADMIN_WRITE, admin, write)                                                                   \
    X(CONTENT_READ, content, read)                                                                 \
    X(CONTENT_WRITE, content, write)                                                               \
    X(CONTENT_DELETE, content, delete)                                                             \
    X(SELF_READ, self, read)                                                                       \
    X(SELF_WRITE, self, write)

typedef enum {
    PROTO_ROLE_INVALID = -1,
#define PROTO_ROLE_ENUM_(e, name) PROTO_ROLE_##e,
    PROTO_ROLES(PROTO_ROLE_ENUM_)
#undef PROTO_ROLE_ENUM_
        PROTO_ROLE_COUNT
} proto_role_t;

typedef enum {
    PROTO_PERM_INVALID = -1,
#define PROTO_PERM_ENUM_(e, res, act) PROTO_PERM_##e,
    PROTO_PERMS(PROTO_PERM_ENUM_)
#undef PROTO_PERM_ENUM_
        PROTO_PERM_COUNT
} proto_perm_t;

/* The same values under their names, so PROTO_PERMISSION can check one. */
enum {
#define PROTO_PERM_NAMED_(e, res, act) PROTO_PERM_NAMED_##res##_##act = PROTO_PERM_##e,
    PROTO_PERMS(PROTO_PERM_NAMED_)
#undef PROTO_PERM_NAMED_
};

/* "resource:action" as a string constant, for static tables; compiles only
 * for a permission of PROTO_PERMS. */
#define PROTO_PERMISSION(res, act) (&(#res ":" #act)[0 * PROTO_PERM_NAMED_##res##_##act])

/* One role: what it is granted and whom it may administer. Nobody changes
 * their own role or status, or deletes themselves, whatever the row says. */
typedef struct {
    unsigned perms;       /* bits (1u << proto_perm_t) */
    bool sets_roles;      /* may give another account any role */
    unsigned administers; /* bits (1u << proto_role_t): accounts whose status it may change */
} proto_role_def_t;

/* The row of `role`, or NULL when it is not a role. */
const proto_role_def_t *proto_role_def(proto_role_t role);

/* Names: parsing is exact and case-sensitive; NULL or unknown is INVALID.
 * The names returned are static; NULL for a value out of range. */
proto_role_t proto_role_parse(const char *name);
const char *proto_role_name(proto_role_t role);
proto_perm_t proto_perm_parse(const char *name);
const char *proto_perm_name(proto_perm_t perm);

/* True when `role` holds `perm`; false for anything invalid. */
bool proto_rbac_allows(proto_role_t role, proto_perm_t perm);

/* True when `role` sees (and deletes) every user's files: the roles that
 * hold content:delete. */
bool proto_rbac_sees_all_content(proto_role_t role);

/* Whether an account with `actor` may change one with `target`: */
typedef enum {
    PROTO_ADMIN_OK = 0,
    PROTO_ADMIN_SELF,         /* its own account */
    PROTO_ADMIN_ROLE_DENIED,  /* a role change, and `actor` does not set roles */
    PROTO_ADMIN_TARGET_DENIED /* `actor` does not administer `target`'s role */
} proto_admin_rule_t;

proto_admin_rule_t proto_rbac_may_change(proto_role_t actor, proto_role_t target, bool role_change,
                                         bool same_account);

#endif
