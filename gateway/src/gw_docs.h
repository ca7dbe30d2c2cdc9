/*
 * gw_docs: what the documentation routes serve (DOCS_ENABLED=true): the
 * OpenAPI document of the routes being served (gw_openapi), rendered once
 * at start, and the Swagger UI page with its files from DOCS_UI_DIR (the
 * swagger-ui-dist npm package), read once at start. Everything is answered
 * from memory; the page loads nothing but these same-origin files.
 */
#ifndef GW_DOCS_H
#define GW_DOCS_H

#include "gw_config.h"
#include "gw_handler.h"
#include "gw_route.h"

#include <stddef.h>

/* Largest file read from DOCS_UI_DIR (swagger-ui-bundle.js is ~1.7 MB). */
#define GW_DOCS_FILE_MAX (16u * 1024u * 1024u)

/* Renders the document of `routes` (n rows) and, when cfg->docs_ui_dir is
 * not empty, reads the page's files from it. NULL with `err` set when a
 * file is missing, unreadable or too large, or out of memory. */
gw_docs_t *gw_docs_new(const gw_config_t *cfg, const gw_route_t *routes, size_t n, char *err,
                       size_t errlen);

void gw_docs_destroy(gw_docs_t **self_p);

/* The rendered document (borrowed), its length in `*len`. */
const char *gw_docs_openapi_text(const gw_docs_t *self, size_t *len);

/* GET /api/v1/openapi.json: the document, application/json. */
void gw_docs_openapi(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* GET /api/v1/docs: the Swagger UI page. */
void gw_docs_page(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

/* GET /api/v1/docs/{asset}: one of the page's files; 404 for any other
 * name. */
void gw_docs_asset(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply);

#endif
