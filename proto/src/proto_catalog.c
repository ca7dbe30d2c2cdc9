/*
 * proto_catalog: the op table. Each op of PROTO_OPS (proto_catalog.h) has a
 * field table F_<op> here listing its request-body fields (name, type,
 * required, bound), ended by FIELDS_END. The codec validates every request
 * body against it; PROTOCOL.md documents the same rows. A missing F_<op>
 * table is a compile error, so an op cannot be added without its fields.
 */
#include "proto_catalog.h"

#include <string.h>

#define FIELDS_END                                                                                 \
    {                                                                                              \
        NULL, PROTO_T_STR, false, 0                                                                \
    }

/* ---- field tables ---- */

static const proto_field_t F_SYS_PING[] = {FIELDS_END};
static const proto_field_t F_SYS_HEALTH[] = {FIELDS_END};

/* ---- the op table, generated from the X-macro ---- */

#define NFIELDS(tbl) (sizeof(tbl) / sizeof((tbl)[0]) - 1)

static const proto_op_def_t OP_DEFS[PROTO_OP__COUNT] = {
#define PROTO_OP_ROW(id, name, idem)                                                               \
    [PROTO_OP_##id] = {PROTO_OP_##id, name, idem, F_##id, NFIELDS(F_##id)},
    PROTO_OPS(PROTO_OP_ROW)
#undef PROTO_OP_ROW
};

const proto_op_def_t *proto_op_def(proto_op_t op)
{
    if ((int)op < 0 || op >= PROTO_OP__COUNT)
        return NULL;
    return &OP_DEFS[op];
}

const char *proto_op_name(proto_op_t op)
{
    const proto_op_def_t *def = proto_op_def(op);
    return def ? def->name : "";
}

int proto_op_lookup(const char *name, size_t len, proto_op_t *out)
{
    if (!name || !out)
        return -1;
    for (int i = 0; i < PROTO_OP__COUNT; i++) {
        const char *n = OP_DEFS[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            *out = (proto_op_t)i;
            return 0;
        }
    }
    return -1;
}
