/*
 * gw_handler: reply helpers and path-parameter lookup for route handlers.
 */
#include "gw_handler.h"
#include "gw_problem.h"

#include <stdio.h>
#include <string.h>

void gw_reply_init(gw_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    reply->err = PROTO_OK;
    reply->retry_after = -1;
    reply->rate_limit = -1;
}

void gw_reply_cleanup(gw_reply_t *reply)
{
    if (!reply)
        return;
    json_decref(reply->json);
    json_decref(reply->errors);
    gw_reply_init(reply);
}

void gw_reply_json(gw_reply_t *reply, int status, json_t *body)
{
    json_decref(reply->json);
    reply->json = body;
    reply->status = status;
    reply->err = PROTO_OK;
}

void gw_reply_error(gw_reply_t *reply, proto_err_t err, const char *detail)
{
    json_decref(reply->json);
    reply->json = NULL;
    reply->err = err;
    reply->problem_status = 0;
    snprintf(reply->detail, sizeof reply->detail, "%s", detail ? detail : "");
}

int gw_reply_problem_status(const gw_reply_t *reply)
{
    return reply->problem_status ? reply->problem_status : gw_problem_status(reply->err);
}

const char *gw_request_param(const gw_request_t *req, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < req->nparams; i++) {
        const gw_param_t *p = &req->params[i];
        if (p->name_len == len && memcmp(p->name, name, len) == 0)
            return p->value;
    }
    return NULL;
}
