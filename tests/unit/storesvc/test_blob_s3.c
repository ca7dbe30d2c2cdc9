/*
 * Unit tests for store_blob_s3 against a canned HTTP server on an ephemeral
 * loopback port: every way an S3 answer can go wrong maps to a status
 * (never a crash or a hang): silence (the total timeout), a body larger
 * than any answer may be (cut off), a 200 without the value asked for, 5xx
 * errors, S3 error codes in 4xx and in a 200 body (CompleteMultipartUpload),
 * and the ranged GET's Content-Range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store_blob.h"

typedef struct {
    int fd, port;
    const char *reply; /* sent once per connection, then the server closes it */
    size_t reply_len;
    size_t junk; /* extra bytes of '<' after the reply (a hostile body) */
    int silent;  /* accept, read, never answer */
    pthread_t thread;
    volatile int stop;
    char last_request[4096];
    char buf[1024]; /* a reply built by answer_body */
} canned_t;

static void *serve(void *arg)
{
    canned_t *c = arg;
    while (!c->stop) {
        int cfd = accept(c->fd, NULL, NULL);
        if (cfd < 0)
            continue;
        size_t n = 0;
        ssize_t r;
        while (n < sizeof c->last_request - 1 &&
               (r = recv(cfd, c->last_request + n, sizeof c->last_request - 1 - n, 0)) > 0) {
            n += (size_t)r;
            c->last_request[n] = '\0';
            if (strstr(c->last_request, "\r\n\r\n"))
                break;
        }
        if (c->silent) {
            struct timespec ts = {1, 500 * 1000000L};
            nanosleep(&ts, NULL);
        } else {
            (void)send(cfd, c->reply, c->reply_len, MSG_NOSIGNAL);
            char junk[4096];
            memset(junk, '<', sizeof junk);
            for (size_t sent = 0; sent < c->junk; sent += sizeof junk)
                if (send(cfd, junk, sizeof junk, MSG_NOSIGNAL) < 0)
                    break;
        }
        close(cfd);
    }
    return NULL;
}

static int setup(void **state)
{
    canned_t *c = calloc(1, sizeof *c);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {0, 100000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(c->fd, 16) != 0 || getsockname(c->fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    c->port = ntohs(sa.sin_port);
    c->reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    c->reply_len = strlen(c->reply);
    if (pthread_create(&c->thread, NULL, serve, c) != 0)
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    canned_t *c = *state;
    c->stop = 1;
    pthread_join(c->thread, NULL);
    close(c->fd);
    free(c);
    return 0;
}

static store_blob_t *open_s3(const canned_t *c, long timeout_ms)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", c->port);
    store_blob_s3_opts_t o = {.endpoint_url = url,
                              .region = "eu-west-1",
                              .access_key_id = "AKIDTEST",
                              .secret_access_key = "unit-test-secret",
                              .timeout_ms = timeout_ms};
    store_blob_t *b = store_blob_open("s3://unit-bucket", &o, err, sizeof err);
    assert_non_null(b);
    return b;
}

static void answer(canned_t *c, const char *reply)
{
    c->reply = reply;
    c->reply_len = strlen(reply);
}

/* `head` (status line and headers, each ending in CRLF) and `body`, with
 * the right Content-Length. */
static void answer_body(canned_t *c, const char *head, const char *body)
{
    snprintf(c->buf, sizeof c->buf, "%sContent-Length: %zu\r\n\r\n%s", head, strlen(body), body);
    answer(c, c->buf);
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_blob_s3_create_reads_upload_id_and_signs(void **state)
{
    canned_t *c = *state;
    char id[STORE_BLOB_UPLOAD_ID_MAX + 1];
    answer_body(c, "HTTP/1.1 200 OK\r\n",
                "<InitiateMultipartUploadResult><UploadId>up&amp;1</UploadId>"
                "</InitiateMultipartUploadResult>");
    store_blob_t *b = open_s3(c, 2000);
    assert_int_equal(store_blob_mp_create(b, "f/k", id, sizeof id), STORE_BLOB_OK);
    assert_string_equal(id, "up&1");
    /* path-style, canonical query, signed by libcurl, payload hash sent */
    assert_non_null(strstr(c->last_request, "POST /unit-bucket/f/k?uploads= HTTP/1.1"));
    assert_non_null(
        strstr(c->last_request, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/"));
    assert_non_null(strstr(c->last_request, "/eu-west-1/s3/aws4_request"));
    assert_non_null(strstr(c->last_request, "x-amz-content-sha256: e3b0c44298fc"));
    assert_null(strstr(c->last_request, "unit-test-secret"));
    store_blob_destroy(&b);
}

static void test_blob_s3_silent_server_times_out(void **state)
{
    canned_t *c = *state;
    char id[STORE_BLOB_UPLOAD_ID_MAX + 1];
    c->silent = 1;
    store_blob_t *b = open_s3(c, 300);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(store_blob_mp_create(b, "f/k", id, sizeof id), STORE_BLOB_IO);
    assert_int_equal(store_blob_check(b), STORE_BLOB_IO);
    assert_true(elapsed_ms(&t0) < 1500); /* two requests, 300 ms each at most */
    store_blob_destroy(&b);
}

static void test_blob_s3_oversized_or_empty_answers_are_io(void **state)
{
    canned_t *c = *state;
    char id[STORE_BLOB_UPLOAD_ID_MAX + 1];
    store_blob_t *b = open_s3(c, 2000);
    /* 2 MiB of '<' where a small XML document belongs: cut off, no parse */
    answer(c, "HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n");
    c->junk = 2 * 1024 * 1024;
    assert_int_equal(store_blob_mp_create(b, "f/k", id, sizeof id), STORE_BLOB_IO);
    c->junk = 0;
    answer_body(c, "HTTP/1.1 200 OK\r\n", "hello");
    assert_int_equal(store_blob_mp_create(b, "f/k", id, sizeof id), STORE_BLOB_IO);
    /* an upload id we could not send back (a space in it) */
    answer_body(c, "HTTP/1.1 200 OK\r\n", "<UploadId>a b</UploadId>xyz");
    assert_int_equal(store_blob_mp_create(b, "f/k", id, sizeof id), STORE_BLOB_IO);
    /* a part answered without an ETag */
    char etag[STORE_BLOB_ETAG_MAX + 1];
    answer(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(store_blob_mp_part(b, "f/k", "up1", 1, "x", 1, etag, sizeof etag),
                     STORE_BLOB_IO);
    answer(c, "HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(store_blob_mp_part(b, "f/k", "up1", 1, "x", 1, etag, sizeof etag), 0);
    assert_string_equal(etag, "\"abc\"");
    assert_non_null(strstr(c->last_request, "PUT /unit-bucket/f/k?partNumber=1&uploadId=up1 "));
    store_blob_destroy(&b);
}

static void test_blob_s3_error_codes(void **state)
{
    canned_t *c = *state;
    store_blob_t *b = open_s3(c, 2000);
    store_blob_part_t parts[] = {{1, "\"e1\"", 5}};
    answer_body(c, "HTTP/1.1 404 Not Found\r\n", "<Error><Code>NoSuchUpload</Code></Error>");
    assert_int_equal(store_blob_mp_abort(b, "f/k", "up1"), STORE_BLOB_NOT_FOUND);
    answer_body(c, "HTTP/1.1 200 OK\r\n", "<Error><Code>InvalidPart</Code></Error>");
    assert_int_equal(store_blob_mp_complete(b, "f/k", "up1", parts, 1), STORE_BLOB_REJECTED);
    answer_body(c, "HTTP/1.1 500 Internal Server Error\r\n",
                "<Error><Code>InternalError</Code></Error>");
    assert_int_equal(store_blob_mp_complete(b, "f/k", "up1", parts, 1), STORE_BLOB_IO);
    answer(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(store_blob_delete(b, "f/k"), STORE_BLOB_IO);
    answer(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    uint64_t size;
    assert_int_equal(store_blob_head(b, "f/k", &size), STORE_BLOB_NOT_FOUND);
    answer(c, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
    assert_int_equal(store_blob_head(b, "f/k", &size), STORE_BLOB_OK);
    assert_int_equal(size, 12);
    store_blob_destroy(&b);
}

static void test_blob_s3_ranged_get(void **state)
{
    canned_t *c = *state;
    store_blob_t *b = open_s3(c, 2000);
    char buf[8];
    size_t got = 0;
    uint64_t size = 0;
    answer(c, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 2-5/10\r\n"
              "Content-Length: 4\r\n\r\n2345");
    assert_int_equal(store_blob_get(b, "f/k", 2, buf, 4, &got, &size), STORE_BLOB_OK);
    assert_int_equal(got, 4);
    assert_int_equal(size, 10);
    assert_memory_equal(buf, "2345", 4);
    assert_non_null(strstr(c->last_request, "Range: bytes=2-5"));
    /* more than was asked for: refused, never written past the buffer */
    answer(c, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/10\r\n"
              "Content-Length: 10\r\n\r\n0123456789");
    assert_int_equal(store_blob_get(b, "f/k", 0, buf, 4, &got, &size), STORE_BLOB_IO);
    answer(c, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */10\r\n"
              "Content-Length: 0\r\n\r\n");
    assert_int_equal(store_blob_get(b, "f/k", 10, buf, 4, &got, &size), STORE_BLOB_OK);
    assert_int_equal(got, 0);
    assert_int_equal(size, 10);
    answer_body(c, "HTTP/1.1 404 Not Found\r\n", "<Error><Code>NoSuchKey</Code></Error>");
    assert_int_equal(store_blob_get(b, "f/k", 0, buf, 4, &got, &size), STORE_BLOB_NOT_FOUND);
    store_blob_destroy(&b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_blob_s3_create_reads_upload_id_and_signs),
        T(test_blob_s3_silent_server_times_out),
        T(test_blob_s3_oversized_or_empty_answers_are_io),
        T(test_blob_s3_error_codes),
        T(test_blob_s3_ranged_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
