/*
 * proto_error: lookups over the PROTO_ERRORS table (proto_error.h). The wire
 * code, HTTP status, title and public detail of every error come from that one table.
 */
#include "proto_error.h"

#include <string.h>

typedef struct {
    const char *code;
    int status;
    const char *title;
    bool shows_reason;
    const char *detail;
} err_row_t;

static const err_row_t ERR_ROWS[PROTO_ERR__COUNT] = {
#define PROTO_ERR_ROW(name, code, status, title, pass, detail)                                     \
    [name] = {code, status, title, pass, detail},
    PROTO_ERRORS(PROTO_ERR_ROW)
#undef PROTO_ERR_ROW
};

static const err_row_t *row(proto_err_t err)
{
    if ((int)err < 0 || err >= PROTO_ERR__COUNT)
        return &ERR_ROWS[PROTO_ERR_INTERNAL_ERROR];
    return &ERR_ROWS[err];
}

const char *proto_err_code(proto_err_t err)
{
    return row(err)->code;
}

int proto_err_http_status(proto_err_t err)
{
    return row(err)->status;
}

const char *proto_err_title(proto_err_t err)
{
    return row(err)->title;
}

const char *proto_err_detail(proto_err_t err)
{
    return row(err)->detail ? row(err)->detail : row(err)->title;
}

bool proto_err_shows_reason(proto_err_t err)
{
    return row(err)->shows_reason;
}

proto_err_t proto_err_from_code(const char *code, size_t len)
{
    if (!code)
        return PROTO_ERR_INTERNAL_ERROR;
    for (int i = 0; i < PROTO_ERR__COUNT; i++) {
        if (strlen(ERR_ROWS[i].code) == len && memcmp(ERR_ROWS[i].code, code, len) == 0)
            return (proto_err_t)i;
    }
    return PROTO_ERR_INTERNAL_ERROR;
}
