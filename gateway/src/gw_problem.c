/*
 * gw_problem: builds problem JSON. jansson does the escaping; this module
 * only decides which text is safe to show (never internal detail for 500s,
 * never text that is not valid UTF-8).
 */
#include "gw_problem.h"

#include <stdlib.h>
#include <string.h>

static proto_err_t normalise(proto_err_t err)
{
    if ((int)err <= (int)PROTO_OK || (int)err >= (int)PROTO_ERR__COUNT)
        return PROTO_ERR_INTERNAL_ERROR;
    return err;
}

int gw_problem_status(proto_err_t err)
{
    return proto_err_http_status(normalise(err));
}

/* The detail text as a JSON string, falling back to the code's public
 * detail of the error table. */
static json_t *detail_value(proto_err_t err, const char *detail)
{
    if (err == PROTO_ERR_INTERNAL_ERROR)
        return json_string(proto_err_detail(PROTO_ERR_INTERNAL_ERROR));
    json_t *v = NULL;
    if (detail && *detail)
        v = json_string(detail); /* NULL when not valid UTF-8 */
    return v ? v : json_string(proto_err_detail(err));
}

json_t *gw_problem_new(proto_err_t err, const char *detail, const char *rid, const json_t *errors)
{
    err = normalise(err);
    json_t *p = json_object();
    if (!p)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(p, "type", json_string("about:blank"));
    rc |= json_object_set_new(p, "title", json_string(proto_err_title(err)));
    rc |= json_object_set_new(p, "status", json_integer(proto_err_http_status(err)));
    rc |= json_object_set_new(p, "detail", detail_value(err, detail));
    rc |= json_object_set_new(p, "code", json_string(proto_err_code(err)));
    rc |= json_object_set_new(p, "request_id", json_string(rid ? rid : ""));
    if (errors && json_is_array(errors))
        rc |= json_object_set_new(p, "errors", json_deep_copy(errors));
    if (rc != 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

/* The title of `status`: that of the first error-table row with it. */
static const char *status_title(int status)
{
    for (int e = PROTO_OK + 1; e < PROTO_ERR__COUNT; e++) {
        if (proto_err_http_status((proto_err_t)e) == status)
            return proto_err_title((proto_err_t)e);
    }
    return NULL;
}

char *gw_problem_dumps(proto_err_t err, const char *detail, const char *rid, const json_t *errors,
                       size_t *len)
{
    return gw_problem_dumps_status(err, 0, detail, rid, errors, len);
}

char *gw_problem_dumps_status(proto_err_t err, int status, const char *detail, const char *rid,
                              const json_t *errors, size_t *len)
{
    json_t *p = gw_problem_new(err, detail, rid, errors);
    if (!p)
        return NULL;
    const char *title = status ? status_title(status) : NULL;
    if (title && (json_object_set_new(p, "status", json_integer(status)) != 0 ||
                  json_object_set_new(p, "title", json_string(title)) != 0)) {
        json_decref(p);
        return NULL;
    }
    char *text = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(p);
    if (text && len)
        *len = strlen(text);
    return text;
}
