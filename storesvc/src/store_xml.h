/*
 * store_xml: the few values storesvc needs from an S3 answer (UploadId,
 * ETag, an error Code, the entries of a listing), found by a bounded,
 * linear scan of the body. No XML library: S3's answers are flat, we read
 * only elements whose names we know, and a body is never larger than the
 * cap its transfer had (store_blob_s3.c). Nothing here allocates.
 *
 * Supported: <Name>text</Name> and <Name attr="...">text</Name> and
 * <Name/>; the predefined entities (&amp; &lt; &gt; &quot; &apos;) and
 * numeric character references of ASCII characters are decoded in text.
 * Not supported (never produced by S3 for the values we read): CDATA, an
 * element nested in another of the same name.
 */
#ifndef STORE_XML_H
#define STORE_XML_H

#include <stddef.h>

/* Finds the next element named `tag` in doc[*pos, len). On success sets
 * `*inner`/`*inner_len` to its content (borrowed from `doc`), moves `*pos`
 * past its end tag and returns 0; returns -1 when there is none (or it is
 * not closed). */
int store_xml_next(const char *doc, size_t len, const char *tag, size_t *pos, const char **inner,
                   size_t *inner_len);

/* Copies the decoded text of the first element `tag` of doc[0, len) into
 * `out` (`cap` bytes, NUL-terminated). Returns 0, or -1 when the element is
 * missing, its text does not fit, holds markup or a NUL, or an entity is
 * unknown. */
int store_xml_text(const char *doc, size_t len, const char *tag, char *out, size_t cap);

/* Writes `in` into `out` (`cap` bytes) with & < > " ' escaped. Returns the
 * length written, or -1 when it does not fit. */
int store_xml_escape(const char *in, char *out, size_t cap);

#endif
