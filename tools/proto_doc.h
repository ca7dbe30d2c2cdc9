/*
 * proto_doc: the parts of proto/PROTOCOL.md that follow from the catalogue
 * (proto_catalog.h, proto_error.h), the role matrix (proto_rbac.h) and the
 * test vectors (proto_vectors.h), rendered as markdown; and the check that
 * the committed document holds exactly them.
 *
 * The document marks each generated part with a pair of comment lines,
 *
 *   <!-- BEGIN proto_doc NAME (generated: edit the catalogue, not this) -->
 *   ...
 *   <!-- END proto_doc NAME -->
 *
 * and everything outside the pairs is prose, written by hand. Each known
 * NAME must appear exactly once. Besides, every op the prose names in
 * backticks (`auth.token`) must be an op of the catalogue.
 *
 * Pure functions of static tables and the example files: no state.
 */
#ifndef PROTO_DOC_H
#define PROTO_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Where the renderers find what they embed. */
typedef struct {
    const char *examples_dir; /* proto/examples: the sample clients, embedded whole */
} proto_doc_ctx_t;

/* The names of the generated parts, in document order; *n their count. */
const char *const *proto_doc_sections(size_t *n);

/* Writes the part `name` to `out`. Returns 0, or -1 for an unknown name or
 * an example file that cannot be read (a line on `err` says which). */
int proto_doc_render(const proto_doc_ctx_t *ctx, const char *name, FILE *out, FILE *err);

/* Checks the document doc[0..len): every part present once and equal to
 * its rendering, the markers well formed, the ops the prose names known.
 * Each problem is one line on `report` (with the line number and, for a
 * part that differs, the first line that does). Returns the number of
 * problems (0: the document is current). */
int proto_doc_check(const proto_doc_ctx_t *ctx, const char *doc, size_t len, FILE *report);

/* The document with every part replaced by its rendering (the caller
 * frees), or NULL when the markers are broken (reported on `report`). */
char *proto_doc_update(const proto_doc_ctx_t *ctx, const char *doc, size_t len, FILE *report);

/* Writes the catalogue as one JSON object (ops with their fields, reply
 * keys and errors; shapes; value sets; error codes; limits; roles; test
 * vectors), for the tests of other languages. Returns 0 or -1. */
int proto_doc_json(FILE *out);

/* The family of ops (a part "ops:<family>") that documents `op`, or NULL
 * when none does. Every op is in exactly one family. */
const char *proto_doc_family_of(int op);

#endif
