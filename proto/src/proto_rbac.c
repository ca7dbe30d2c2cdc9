/*
 * proto_rbac: the role rows (see proto_rbac.h). Adding a permission is a
 * line of PROTO_PERMS and a bit in the rows that hold it; there is no other
 * place that decides who may do what.
 */
#include "proto_rbac.h"

#include <string.h>

#define P(e)      (1u << PROTO_PERM_##e)
#define R(e)      (1u << PROTO_ROLE_##e)
#define ALL_OF(n) ((1u << (n)) - 1u)

_Static_assert(PROTO_PERM_COUNT <= 32, "a role's permissions must fit one unsigned mask");

/* The matrix, one row per role, and whom each role administers: only an
 * admin sets roles; a moderator enables and disables user and viewer
 * accounts only. */
static const proto_role_def_t roles[PROTO_ROLE_COUNT] = {
    [PROTO_ROLE_ADMIN] = {.perms = ALL_OF(PROTO_PERM_COUNT),
                          .sets_roles = true,
                          .administers = ALL_OF(PROTO_ROLE_COUNT)},
    [PROTO_ROLE_MODERATOR] = {.perms = P(USERS_READ) | P(USERS_WRITE) | P(CONTENT_READ) |
                                       P(CONTENT_WRITE) | P(CONTENT_DELETE) | P(SELF_READ) |
                                       P(SELF_WRITE),
                              .administers = R(USER) | R(VIEWER)},
    [PROTO_ROLE_USER] = {.perms =
                             P(CONTENT_READ) | P(CONTENT_WRITE) | P(SELF_READ) | P(SELF_WRITE)},
    [PROTO_ROLE_VIEWER] = {.perms = P(CONTENT_READ) | P(SELF_READ)},
};

static const char *const perm_names[PROTO_PERM_COUNT] = {
#define NAME(e, res, act) [PROTO_PERM_##e] = #res ":" #act,
    PROTO_PERMS(NAME)
#undef NAME
};

static const char *const role_names[PROTO_ROLE_COUNT] = {
#define NAME(e, name) [PROTO_ROLE_##e] = #name,
    PROTO_ROLES(NAME)
#undef NAME
};

const proto_role_def_t *proto_role_def(proto_role_t role)
{
    return (unsigned)role < PROTO_ROLE_COUNT ? &roles[role] : NULL;
}

proto_role_t proto_role_parse(const char *name)
{
    for (int i = 0; name && i < PROTO_ROLE_COUNT; i++) {
        if (strcmp(role_names[i], name) == 0)
            return (proto_role_t)i;
    }
    return PROTO_ROLE_INVALID;
}

const char *proto_role_name(proto_role_t role)
{
    return (unsigned)role < PROTO_ROLE_COUNT ? role_names[role] : NULL;
}

proto_perm_t proto_perm_parse(const char *name)
{
    for (int i = 0; name && i < PROTO_PERM_COUNT; i++) {
        if (strcmp(perm_names[i], name) == 0)
            return (proto_perm_t)i;
    }
    return PROTO_PERM_INVALID;
}

const char *proto_perm_name(proto_perm_t perm)
{
    return (unsigned)perm < PROTO_PERM_COUNT ? perm_names[perm] : NULL;
}

bool proto_rbac_allows(proto_role_t role, proto_perm_t perm)
{
    const proto_role_def_t *d = proto_role_def(role);
    return d && (unsigned)perm < PROTO_PERM_COUNT && (d->perms & (1u << perm)) != 0;
}

bool proto_rbac_sees_all_content(proto_role_t role)
{
    return proto_rbac_allows(role, PROTO_PERM_CONTENT_DELETE);
}

proto_admin_rule_t proto_rbac_may_change(proto_role_t actor, proto_role_t target, bool role_change,
                                         bool same_account)
{
    const proto_role_def_t *a = proto_role_def(actor);
    if (same_account)
        return PROTO_ADMIN_SELF;
    if (!a || (role_change && !a->sets_roles))
        return PROTO_ADMIN_ROLE_DENIED;
    if ((unsigned)target >= PROTO_ROLE_COUNT || !(a->administers & (1u << target)))
        return PROTO_ADMIN_TARGET_DENIED;
    return PROTO_ADMIN_OK;
}
