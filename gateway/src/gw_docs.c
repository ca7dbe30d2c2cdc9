/*
 * gw_docs: the documentation routes. The page and its initializer are
 * written here (the package's own initializer points at a remote example
 * document); the other files come from DOCS_UI_DIR under the fixed names
 * of the table below, never from a name in the request.
 */
#include "gw_docs.h"
#include "gw_openapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CT_JS  "text/javascript; charset=utf-8"
#define CT_CSS "text/css; charset=utf-8"

/* validatorUrl null: the stock page would load a badge from a remote
 * validator. */
static const char initializer_js[] =
    "window.onload = function () {\n"
    "  window.ui = SwaggerUIBundle({\n"
    "    url: \"/api/v1/openapi.json\",\n"
    "    dom_id: \"#swagger-ui\",\n"
    "    deepLinking: true,\n"
    "    validatorUrl: null,\n"
    "    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],\n"
    "    plugins: [SwaggerUIBundle.plugins.DownloadUrl],\n"
    "    layout: \"StandaloneLayout\"\n"
    "  });\n"
    "};\n";

static const char page_html[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"UTF-8\">\n"
    "<title>restc API</title>\n"
    "<link rel=\"stylesheet\" type=\"text/css\" href=\"/api/v1/docs/swagger-ui.css\">\n"
    "<link rel=\"stylesheet\" type=\"text/css\" href=\"/api/v1/docs/index.css\">\n"
    "<link rel=\"icon\" type=\"image/png\" href=\"/api/v1/docs/favicon-32x32.png\" "
    "sizes=\"32x32\">\n"
    "<link rel=\"icon\" type=\"image/png\" href=\"/api/v1/docs/favicon-16x16.png\" "
    "sizes=\"16x16\">\n"
    "</head>\n"
    "<body>\n"
    "<div id=\"swagger-ui\"></div>\n"
    "<script src=\"/api/v1/docs/swagger-ui-bundle.js\" charset=\"UTF-8\"></script>\n"
    "<script src=\"/api/v1/docs/swagger-ui-standalone-preset.js\" charset=\"UTF-8\"></script>\n"
    "<script src=\"/api/v1/docs/swagger-initializer.js\" charset=\"UTF-8\"></script>\n"
    "</body>\n"
    "</html>\n";

/* The page's files: written here (builtin) or read from DOCS_UI_DIR. */
static const struct {
    const char *name, *ctype, *builtin;
} asset_defs[] = {
    {"swagger-initializer.js", CT_JS, initializer_js},
    {"swagger-ui-bundle.js", CT_JS, NULL},
    {"swagger-ui-standalone-preset.js", CT_JS, NULL},
    {"swagger-ui.css", CT_CSS, NULL},
    {"index.css", CT_CSS, NULL},
    {"favicon-32x32.png", "image/png", NULL},
    {"favicon-16x16.png", "image/png", NULL},
};
#define NASSETS (sizeof asset_defs / sizeof asset_defs[0])

typedef struct {
    char *data; /* heap; NULL for a builtin */
    size_t len;
} blob_t;

struct gw_docs {
    char *openapi;
    size_t openapi_len;
    bool ui; /* the page's files were read */
    blob_t files[NASSETS];
};

/* Reads dir/name whole, at most GW_DOCS_FILE_MAX bytes. */
static int read_file(const char *dir, const char *name, blob_t *out, char *err, size_t errlen)
{
    char path[4096 + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    struct stat st;
    int rc = -1;
    if (!f) {
        snprintf(err, errlen, "DOCS_UI_DIR: cannot open %s: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        (unsigned long long)st.st_size > GW_DOCS_FILE_MAX) {
        snprintf(err, errlen, "DOCS_UI_DIR: %s is not a regular file of at most 16 MiB", path);
        goto done;
    }
    out->len = (size_t)st.st_size;
    out->data = malloc(out->len ? out->len : 1);
    if (!out->data || fread(out->data, 1, out->len, f) != out->len) {
        snprintf(err, errlen, "DOCS_UI_DIR: cannot read %s", path);
        goto done;
    }
    rc = 0;
done:
    if (f)
        fclose(f);
    return rc;
}

gw_docs_t *gw_docs_new(const gw_config_t *cfg, const gw_route_t *routes, size_t n, char *err,
                       size_t errlen)
{
    gw_docs_t *self = calloc(1, sizeof *self);
    if (!self ||
        !(self->openapi = gw_openapi_dumps(routes, n, RESTC_VERSION, &self->openapi_len))) {
        snprintf(err, errlen, "out of memory rendering the API document");
        goto fail;
    }
    self->ui = cfg->docs_ui_dir && *cfg->docs_ui_dir;
    for (size_t i = 0; self->ui && i < NASSETS; i++) {
        if (asset_defs[i].builtin)
            self->files[i].len = strlen(asset_defs[i].builtin);
        else if (read_file(cfg->docs_ui_dir, asset_defs[i].name, &self->files[i], err, errlen) != 0)
            goto fail;
    }
    return self;
fail:
    gw_docs_destroy(&self);
    return NULL;
}

void gw_docs_destroy(gw_docs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_docs_t *self = *self_p;
    free(self->openapi);
    for (size_t i = 0; i < NASSETS; i++)
        free(self->files[i].data);
    free(self);
    *self_p = NULL;
}

const char *gw_docs_openapi_text(const gw_docs_t *self, size_t *len)
{
    *len = self ? self->openapi_len : 0;
    return self ? self->openapi : NULL;
}

/* Answers `data` from memory (HEAD: the headers only). */
static void serve(const gw_request_t *req, gw_reply_t *reply, const char *ctype, const char *data,
                  size_t len)
{
    gw_stream_err_t e;
    if (!data) {
        gw_reply_error(reply, PROTO_ERR_NOT_FOUND, NULL);
        return;
    }
    if (gw_stream_start(req->stream, 200, ctype, len, NULL, 0, &e) != 0) {
        if (!reply->streamed)
            gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "cannot start the docs answer");
        return;
    }
    (void)gw_stream_write(req->stream, data, len, &e); /* a failure closes the connection */
}

void gw_docs_openapi(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    size_t len;
    const char *text = gw_docs_openapi_text(ctx->docs, &len);
    serve(req, reply, "application/json", text, len);
}

void gw_docs_page(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    bool ui = ctx->docs && ctx->docs->ui;
    serve(req, reply, "text/html; charset=utf-8", ui ? page_html : NULL, sizeof page_html - 1);
}

void gw_docs_asset(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    const char *name = gw_request_param(req, "asset");
    const gw_docs_t *d = ctx->docs;
    for (size_t i = 0; d && d->ui && name && i < NASSETS; i++) {
        if (strcmp(name, asset_defs[i].name) != 0)
            continue;
        const char *data = asset_defs[i].builtin ? asset_defs[i].builtin : d->files[i].data;
        serve(req, reply, asset_defs[i].ctype, data, d->files[i].len);
        return;
    }
    gw_reply_error(reply, PROTO_ERR_NOT_FOUND, NULL);
}
