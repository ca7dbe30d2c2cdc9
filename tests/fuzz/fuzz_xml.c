/*
 * libFuzzer target for storesvc's S3 answer scanning (store_xml): every
 * element the S3 backend reads, and the listing loops, on arbitrary bytes.
 * Inner slices must stay inside the input, decoded texts must be
 * NUL-terminated within what was given, and escaping must round-trip
 * through the decoder.
 */
#include "store_xml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tags[] = {
    "UploadId", "Code",        "Key",          "ETag",      "Contents",
    "Upload",   "IsTruncated", "LastModified", "Initiated", "NextContinuationToken",
    "Error"};

static void scan(const char *doc, size_t len, const char *tag)
{
    const char *in;
    size_t in_len, pos = 0, steps = 0;
    char out[64];
    while (store_xml_next(doc, len, tag, &pos, &in, &in_len) == 0) {
        if (in < doc || in + in_len > doc + len || pos > len || ++steps > len + 1)
            abort();
        if (store_xml_text(in, in_len, "Key", out, sizeof out) == 0 &&
            strnlen(out, sizeof out) >= sizeof out)
            abort();
    }
    if (store_xml_text(doc, len, tag, out, sizeof out) == 0 &&
        strnlen(out, sizeof out) >= sizeof out)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc = (const char *)data;
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        scan(doc, size, tags[i]);
    /* escape, wrap and decode: the same text comes back */
    char text[128], esc[6 * sizeof text + 16], wrapped[sizeof esc + 16], back[sizeof text];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    if (strlen(text) == n && store_xml_escape(text, esc, sizeof esc) >= 0) {
        size_t wl = (size_t)snprintf(wrapped, sizeof wrapped, "<Key>%s</Key>", esc);
        if (store_xml_text(wrapped, wl, "Key", back, sizeof back) != 0 || strcmp(back, text) != 0)
            abort();
    }
    return 0;
}
