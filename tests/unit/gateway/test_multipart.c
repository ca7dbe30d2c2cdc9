/*
 * Unit tests for gw_multipart: boundaries and part headers split at every
 * byte, data that looks almost like a delimiter, several parts, a missing
 * closing boundary, the bounds (headers, preamble, parts, boundary), and
 * the boundary parameter of Content-Type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_multipart.h"

#define CT "multipart/form-data; boundary=XyZ"

typedef struct {
    int parts, ends, done, bad;
    char names[4][GW_MP_NAME_MAX + 1], filenames[4][GW_MP_FILENAME_MAX + 1],
        types[4][GW_MP_TYPE_MAX + 1];
    char data[4][4096];
    size_t dlen[4];
} events_t;

/* Feeds `in` in pieces of `step` bytes and records the events. */
static void feed(const char *ct, const char *in, size_t n, size_t step, events_t *ev)
{
    static gw_multipart_t m;
    memset(ev, 0, sizeof *ev);
    assert_int_equal(gw_multipart_init(&m, ct), 0);
    int cur = -1;
    for (size_t pos = 0; pos < n && !ev->bad;) {
        size_t avail = n - pos < step ? n - pos : step, off = 0;
        while (off < avail) {
            size_t used;
            const char *d;
            size_t dl;
            gw_mp_status_t st = gw_multipart_next(&m, in + pos + off, avail - off, &used, &d, &dl);
            off += used;
            if (st == GW_MP_PART) {
                cur = ev->parts++;
                if (cur >= 4)
                    continue; /* counted, not recorded */
                snprintf(ev->names[cur], sizeof ev->names[cur], "%s", m.name);
                snprintf(ev->filenames[cur], sizeof ev->filenames[cur], "%s",
                         m.has_filename ? m.filename : "-");
                snprintf(ev->types[cur], sizeof ev->types[cur], "%s", m.content_type);
            } else if (st == GW_MP_DATA && cur < 4) {
                assert_true(cur >= 0 && ev->dlen[cur] + dl < sizeof ev->data[cur]);
                memcpy(ev->data[cur] + ev->dlen[cur], d, dl);
                ev->dlen[cur] += dl;
            } else if (st == GW_MP_PART_END) {
                ev->ends++;
            } else if (st == GW_MP_DONE) {
                ev->done++;
                off = avail;
                pos = n;
                break;
            } else if (st == GW_MP_BAD) {
                ev->bad = 1;
                break;
            } else if (used == 0) {
                break;
            }
        }
        if (pos < n)
            pos += off;
    }
}

static const char BODY[] =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "hello\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".png\"\r\n"
    "Content-Type: image/png\r\n"
    "\r\n"
    "\x89PNG\r\n--Xy\r\n-\r\r\n--XyY not yet\r\n"
    "--XyZ--\r\n"
    "epilogue";

static void test_multipart_every_split(void **state)
{
    size_t n = sizeof BODY - 1;
    for (size_t step = 1; step <= n; step++) {
        events_t ev;
        feed(CT, BODY, n, step, &ev);
        if (ev.bad || ev.done != 1 || ev.parts != 2 || ev.ends != 2)
            fail_msg("step %zu: bad %d done %d parts %d ends %d", step, ev.bad, ev.done, ev.parts,
                     ev.ends);
        assert_string_equal(ev.names[0], "title");
        assert_string_equal(ev.filenames[0], "-");
        assert_int_equal(ev.dlen[0], 5);
        assert_memory_equal(ev.data[0], "hello", 5);
        assert_string_equal(ev.names[1], "file");
        assert_string_equal(ev.filenames[1], "a \"b\".png");
        assert_string_equal(ev.types[1], "image/png");
        static const char want[] = "\x89PNG\r\n--Xy\r\n-\r\r\n--XyY not yet";
        assert_int_equal(ev.dlen[1], sizeof want - 1);
        assert_memory_equal(ev.data[1], want, sizeof want - 1);
    }
}

static void test_multipart_no_preamble_and_empty_part(void **state)
{
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                               "filename*=UTF-8''%E2%82%AC.txt\r\n\r\n\r\n--XyZ--";
    events_t ev;
    feed(CT, body, sizeof body - 1, 3, &ev);
    assert_false(ev.bad);
    assert_int_equal(ev.done, 1);
    assert_int_equal(ev.parts, 1);
    assert_int_equal(ev.dlen[0], 0);
    assert_string_equal(ev.filenames[0], "\xe2\x82\xac.txt");
}

static void test_multipart_missing_final_boundary_is_not_done(void **state)
{
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ndata";
    events_t ev;
    feed(CT, body, sizeof body - 1, 5, &ev);
    assert_false(ev.bad);
    assert_int_equal(ev.done, 0);
    assert_int_equal(ev.ends, 0);
}

static void test_multipart_refusals(void **state)
{
    static const char *const bad[] = {
        /* no Content-Disposition */
        "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--",
        /* not form-data */
        "--XyZ\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nx\r\n--XyZ--",
        /* garbage after a delimiter */
        "--XyZ!\r\n",
        /* unterminated quoted name */
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\r\n\r\nx\r\n--XyZ--",
        /* header line without a colon */
        "--XyZ\r\nContent-Disposition: form-data; name=f\r\nBroken\r\n\r\nx\r\n--XyZ--",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        events_t ev;
        feed(CT, bad[i], strlen(bad[i]), 4, &ev);
        if (!ev.bad)
            fail_msg("case %zu accepted", i);
    }
}

static void test_multipart_bounds(void **state)
{
    static char body[3 * GW_MP_HEADERS_MAX];
    events_t ev;
    /* Huge part headers. */
    int n =
        snprintf(body, sizeof body, "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\nX: ");
    memset(body + n, 'h', GW_MP_HEADERS_MAX);
    feed(CT, body, (size_t)n + GW_MP_HEADERS_MAX, 512, &ev);
    assert_true(ev.bad);
    /* An endless preamble. */
    memset(body, 'p', GW_MP_PREAMBLE_MAX + 10);
    feed(CT, body, GW_MP_PREAMBLE_MAX + 10, 100, &ev);
    assert_true(ev.bad);
    /* Too many parts. */
    n = 0;
    for (int i = 0; i <= GW_MP_PARTS_MAX; i++)
        n += snprintf(body + n, sizeof body - (size_t)n,
                      "--XyZ\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\nv\r\n", i);
    feed(CT, body, (size_t)n, 64, &ev);
    assert_true(ev.bad);
}

static void test_multipart_content_types(void **state)
{
    gw_multipart_t m;
    assert_int_equal(gw_multipart_init(&m, "multipart/form-data; boundary=\"a b\""), 0);
    assert_int_equal(gw_multipart_init(&m, "Multipart/Form-Data;boundary=----WebKit1234"), 0);
    assert_int_equal(m.dlen, 4 + strlen("----WebKit1234"));
    static const char *const bad[] = {
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/mixed; boundary=x",
        "application/json; boundary=x",
        "multipart/form-data; boundary=\"a\r\nb\"",
        "multipart/form-data; "
        "boundary=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        NULL,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (gw_multipart_init(&m, bad[i]) == 0)
            fail_msg("case %zu accepted", i);
    assert_true(gw_multipart_is_form("multipart/form-data; boundary=x"));
    assert_false(gw_multipart_is_form("multipart/form-datax"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multipart_every_split),
        cmocka_unit_test(test_multipart_no_preamble_and_empty_part),
        cmocka_unit_test(test_multipart_missing_final_boundary_is_not_done),
        cmocka_unit_test(test_multipart_refusals),
        cmocka_unit_test(test_multipart_bounds),
        cmocka_unit_test(test_multipart_content_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
