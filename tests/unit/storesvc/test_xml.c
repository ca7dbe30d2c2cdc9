/*
 * Unit tests for store_xml: the bounded extraction of values from S3
 * answers (UploadId, ETag, error Code, listing entries), entity decoding,
 * refusal of what does not fit or is malformed, and escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store_xml.h"

static const char initiate[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Bucket>b</Bucket><Key>f/1</Key><UploadId>VXBsb2FkIElE&amp;x</UploadId>"
    "</InitiateMultipartUploadResult>";

static void test_xml_text_upload_id(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(store_xml_text(initiate, strlen(initiate), "UploadId", out, sizeof out), 0);
    assert_string_equal(out, "VXBsb2FkIElE&x");
    assert_int_equal(store_xml_text(initiate, strlen(initiate), "Key", out, sizeof out), 0);
    assert_string_equal(out, "f/1");
    assert_int_equal(store_xml_text(initiate, strlen(initiate), "Missing", out, sizeof out), -1);
}

static void test_xml_text_entities(void **state)
{
    (void)state;
    const char doc[] = "<ETag>&quot;abc&quot; &lt;&gt;&apos;&#65;&#x42;</ETag>";
    char out[32];
    assert_int_equal(store_xml_text(doc, strlen(doc), "ETag", out, sizeof out), 0);
    assert_string_equal(out, "\"abc\" <>'AB");
    const char *bad[] = {"<A>&bogus;</A>", "<A>&#0;</A>",      "<A>&#300;</A>",
                         "<A>&amp</A>",    "<A>a<b>c</b></A>", "<A>&#x;</A>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_xml_text(bad[i], strlen(bad[i]), "A", out, sizeof out), -1);
}

static void test_xml_text_bounded_by_cap_and_len(void **state)
{
    (void)state;
    const char doc[] = "<Code>NoSuchUpload</Code>";
    char out[13];
    assert_int_equal(store_xml_text(doc, strlen(doc), "Code", out, sizeof out), 0);
    assert_string_equal(out, "NoSuchUpload");
    char small[12];
    assert_int_equal(store_xml_text(doc, strlen(doc), "Code", small, sizeof small), -1);
    /* the length given is the document: the closing tag past it is not seen */
    assert_int_equal(store_xml_text(doc, strlen(doc) - 3, "Code", out, sizeof out), -1);
    assert_int_equal(store_xml_text(doc, 0, "Code", out, sizeof out), -1);
    /* an unterminated element */
    const char open[] = "<Code>NoSuchUpload";
    assert_int_equal(store_xml_text(open, strlen(open), "Code", out, sizeof out), -1);
    /* an embedded NUL within the length */
    const char nul[] = "<Code>No\0x</Code>";
    assert_int_equal(store_xml_text(nul, sizeof nul - 1, "Code", out, sizeof out), -1);
}

static void test_xml_prefix_names_do_not_match(void **state)
{
    (void)state;
    const char doc[] = "<KeyMarker>m</KeyMarker><Key attr=\"1\">real</Key><Empty/>";
    char out[16];
    assert_int_equal(store_xml_text(doc, strlen(doc), "Key", out, sizeof out), 0);
    assert_string_equal(out, "real");
    assert_int_equal(store_xml_text(doc, strlen(doc), "Empty", out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void test_xml_next_iterates_entries(void **state)
{
    (void)state;
    const char doc[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                       "<Contents><Key>f/a</Key><Size>1</Size></Contents>"
                       "<Contents><Key>f/b</Key><Size>2</Size></Contents>"
                       "<Contents><Key>f/c</Key></Contents></ListBucketResult>";
    const char *in;
    size_t in_len, pos = 0;
    char key[16];
    const char *want[] = {"f/a", "f/b", "f/c"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_xml_next(doc, strlen(doc), "Contents", &pos, &in, &in_len), 0);
        assert_int_equal(store_xml_text(in, in_len, "Key", key, sizeof key), 0);
        assert_string_equal(key, want[i]);
    }
    assert_int_equal(store_xml_next(doc, strlen(doc), "Contents", &pos, &in, &in_len), -1);
    assert_int_equal(store_xml_next(doc, strlen(doc), "", &pos, &in, &in_len), -1);
}

/* A body of 64 KiB of "<" costs one linear pass and finds nothing. */
static void test_xml_hostile_body(void **state)
{
    (void)state;
    size_t n = 64 * 1024;
    char *doc = malloc(n);
    assert_non_null(doc);
    memset(doc, '<', n);
    char out[8];
    assert_int_equal(store_xml_text(doc, n, "Code", out, sizeof out), -1);
    memcpy(doc, "<Code>", 6);
    assert_int_equal(store_xml_text(doc, n, "Code", out, sizeof out), -1);
    free(doc);
}

static void test_xml_escape(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(store_xml_escape("\"e&t<a>g'", out, sizeof out), 29);
    assert_string_equal(out, "&quot;e&amp;t&lt;a&gt;g&apos;");
    assert_int_equal(store_xml_escape("abc", out, 3), -1);
    assert_int_equal(store_xml_escape("abc", out, 4), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_text_upload_id),
        cmocka_unit_test(test_xml_text_entities),
        cmocka_unit_test(test_xml_text_bounded_by_cap_and_len),
        cmocka_unit_test(test_xml_prefix_names_do_not_match),
        cmocka_unit_test(test_xml_next_iterates_entries),
        cmocka_unit_test(test_xml_hostile_body),
        cmocka_unit_test(test_xml_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
