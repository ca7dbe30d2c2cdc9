/*
 * proto_catalog: the op catalogue. One X-macro row per op (enum name, wire
 * name, idempotent?), plus a table of request-body fields per op in
 * proto_catalog.c (name, type, required, bound). The decoder validates every
 * request body against that table; PROTOCOL.md documents the same rows.
 * Adding an op is adding a row here and its field table.
 */
#ifndef PROTO_CATALOG_H
#define PROTO_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(enum suffix, wire name, idempotent) */
#define PROTO_OPS(X)                                                                           \
    X(SYS_PING, "sys.ping", true)                                                              \
    X(SYS_HEALTH, "sys.health", true)

typedef enum {
#define PROTO_OP_ENUM(id, name, idem) PROTO_OP_##id,
    PROTO_OPS(PROTO_OP_ENUM)
#undef PROTO_OP_ENUM
        PROTO_OP__COUNT
} proto_op_t;

typedef enum {
    PROTO_T_STR,   /* UTF-8 string, no embedded NUL, at most max bytes */
    PROTO_T_INT,   /* signed or unsigned integer within int64 */
    PROTO_T_BOOL,
    PROTO_T_BIN,   /* raw bytes, at most max bytes */
    PROTO_T_MAP,   /* nested map, at most max entries */
    PROTO_T_ARRAY, /* array, at most max items */
    PROTO_T_NIL_OR_STR, /* nil or a string (optional values that may be cleared) */
} proto_type_t;

typedef struct {
    const char *name;
    proto_type_t type;
    bool required;
    uint32_t max; /* STR/BIN: bytes; MAP/ARRAY: entries; INT: unused (0) */
} proto_field_t;

typedef struct {
    proto_op_t op;
    const char *name;
    bool idempotent;            /* safe for the client to retry after a timeout */
    const proto_field_t *fields; /* request body fields; unknown keys are rejected */
    size_t nfields;
} proto_op_def_t;

/* The definition of `op`, or NULL when out of range. */
const proto_op_def_t *proto_op_def(proto_op_t op);

/* Wire name of `op` ("sys.ping"); "" when out of range. */
const char *proto_op_name(proto_op_t op);

/* Looks up a wire name (length-delimited). Returns 0 and sets *out, or -1. */
int proto_op_lookup(const char *name, size_t len, proto_op_t *out);

#endif
