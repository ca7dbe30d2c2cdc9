/*
 * proto_doc: proto/PROTOCOL.md's generated parts (see proto_doc.h).
 *
 *   proto_doc --check DOC EXAMPLES_DIR   exit 1 (and say where) when DOC is not current
 *   proto_doc --write DOC EXAMPLES_DIR   regenerate the parts of DOC in place
 *   proto_doc --part NAME EXAMPLES_DIR   print one part
 *   proto_doc --json                     the catalogue as JSON (for tests in Python)
 *
 * The build's protocol_md target runs --write; ctest runs --check.
 */
#include "proto_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file (the caller frees), *len its size; NULL when unreadable. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    return buf;
}

static int usage(void)
{
    fputs("usage: proto_doc --check|--write DOC EXAMPLES_DIR | --part NAME EXAMPLES_DIR | "
          "--json\n",
          stderr);
    return 64;
}

static int check_or_write(const char *mode, const char *path, const proto_doc_ctx_t *ctx)
{
    size_t len = 0;
    char *doc = slurp(path, &len);
    if (!doc) {
        fprintf(stderr, "proto_doc: cannot read %s\n", path);
        return 1;
    }
    int rc = 0;
    if (strcmp(mode, "--check") == 0) {
        int problems = proto_doc_check(ctx, doc, len, stderr);
        if (problems)
            fprintf(stderr, "proto_doc: %s: %d problem(s)\n", path, problems);
        rc = problems ? 1 : 0;
    } else {
        char *fresh = proto_doc_update(ctx, doc, len, stderr);
        FILE *f = fresh ? fopen(path, "wb") : NULL;
        rc = f && fputs(fresh, f) >= 0 && fclose(f) == 0 ? 0 : 1;
        if (rc)
            fprintf(stderr, "proto_doc: cannot write %s\n", path);
        free(fresh);
    }
    free(doc);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--json") == 0)
        return proto_doc_json(stdout) == 0 ? 0 : 1;
    if (argc != 4)
        return usage();
    proto_doc_ctx_t ctx = {.examples_dir = argv[3]};
    if (strcmp(argv[1], "--part") == 0)
        return proto_doc_render(&ctx, argv[2], stdout, stderr) == 0 ? 0 : 1;
    if (strcmp(argv[1], "--check") == 0 || strcmp(argv[1], "--write") == 0)
        return check_or_write(argv[1], argv[2], &ctx);
    return usage();
}
