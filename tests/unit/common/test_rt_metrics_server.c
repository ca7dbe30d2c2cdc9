/*
 * Unit tests for rt_metrics_server: METRICS_PORT parsing and its rt_config
 * row, and the listener on an ephemeral loopback port: 200 with the
 * exposition, 404, 405, 400, 431, one answer per connection, and clients
 * that send nothing holding a slot only until the deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rt_metrics_server.h"

#define SHORT_TIMEOUT_MS 300

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_rt_metrics_listen_parse_forms(void **state)
{
    (void)state;
    rt_metrics_listen_t l;
    char err[128];
    assert_int_equal(rt_metrics_listen_parse("9464", &l, err, sizeof err), 0);
    assert_true(l.enabled);
    assert_string_equal(l.host, "127.0.0.1");
    assert_int_equal(l.port, 9464);
    assert_int_equal(rt_metrics_listen_parse("0.0.0.0:9100", &l, err, sizeof err), 0);
    assert_string_equal(l.host, "0.0.0.0");
    assert_int_equal(l.port, 9100);
    assert_int_equal(rt_metrics_listen_parse("[::1]:0", &l, err, sizeof err), 0);
    assert_string_equal(l.host, "::1");
    assert_int_equal(l.port, 0);
    assert_int_equal(rt_metrics_listen_parse("metrics-host.internal:65535", &l, err, sizeof err),
                     0);
    assert_string_equal(l.host, "metrics-host.internal");
    assert_int_equal(rt_metrics_listen_parse("0", &l, err, sizeof err), 0);
    assert_true(l.enabled);
    assert_int_equal(l.port, 0);
    assert_int_equal(rt_metrics_listen_parse("OFF", &l, err, sizeof err), 0);
    assert_false(l.enabled);
    assert_int_equal(rt_metrics_listen_parse("off", &l, err, sizeof err), 0);
    assert_false(l.enabled);
}

static void test_rt_metrics_listen_parse_rejects_bad_values(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",         "abc",   "70000",  "-1",      "9464 ",    "host:",   ":9464",
        "::1:9464", "[::1]", "[::1]9", "[]:9464", "a b:9464", "h:+9464", "[::1]:x",
        "h:65536",  "h:9:9", "on",     "0x10",    "h/x:1",    "[a]b]:1", NULL,
    };
    rt_metrics_listen_t l;
    char err[128];
    for (size_t i = 0; i + 1 < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (rt_metrics_listen_parse(bad[i], &l, err, sizeof err) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(err, "METRICS_PORT"));
    }
    assert_int_equal(rt_metrics_listen_parse(NULL, &l, err, sizeof err), -1);
    char longhost[RT_METRICS_LISTEN_MAX + 16];
    memset(longhost, 'h', sizeof longhost);
    strcpy(longhost + RT_METRICS_HOST_MAX + 1, ":1");
    assert_int_equal(rt_metrics_listen_parse(longhost, &l, err, sizeof err), -1);
}

typedef struct {
    char *metrics_port;
} svc_cfg_t;

static const rt_cfg_spec_t svc_specs[] = {
    RT_METRICS_CFG_SPEC("9464", offsetof(svc_cfg_t, metrics_port)),
};

static const char *env_value;

static const char *fake_getenv(const char *name, void *arg)
{
    (void)arg;
    return strcmp(name, "METRICS_PORT") == 0 ? env_value : NULL;
}

static void test_rt_metrics_config_row_reads_metrics_port(void **state)
{
    (void)state;
    svc_cfg_t cfg = {NULL};
    char err[128];
    rt_metrics_listen_t l;
    env_value = NULL;
    assert_int_equal(rt_config_load(svc_specs, 1, &cfg, fake_getenv, NULL, err, sizeof err), 0);
    assert_string_equal(cfg.metrics_port, "9464");
    assert_int_equal(rt_metrics_listen_parse(cfg.metrics_port, &l, err, sizeof err), 0);
    assert_int_equal(l.port, 9464);
    env_value = "off";
    assert_int_equal(rt_config_load(svc_specs, 1, &cfg, fake_getenv, NULL, err, sizeof err), 0);
    assert_int_equal(rt_metrics_listen_parse(cfg.metrics_port, &l, err, sizeof err), 0);
    assert_false(l.enabled);
    char big[RT_METRICS_LISTEN_MAX + 2];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    env_value = big;
    assert_int_equal(rt_config_load(svc_specs, 1, &cfg, fake_getenv, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "METRICS_PORT"));
    rt_config_free(svc_specs, 1, &cfg);
}

/* ---- the listener ---- */

typedef struct {
    rt_metrics_t *m;
    rt_metrics_server_t *srv;
    int port;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    fx->m = rt_metrics_new();
    const rt_metric_desc_t d = {
        "scrape_test_total", "Test counter.", RT_METRIC_COUNTER, {"k"}, 4, NULL, 0};
    rt_metric_counter_add(RT_METRIC_SERIES(rt_metrics_register(fx->m, &d), "v"), 7);
    rt_metrics_listen_t at;
    char err[128];
    assert_int_equal(rt_metrics_listen_parse("0", &at, err, sizeof err), 0);
    fx->srv = rt_metrics_server_new(fx->m, &at, SHORT_TIMEOUT_MS, err, sizeof err);
    if (!fx->srv)
        fail_msg("%s", err);
    fx->port = rt_metrics_server_port(fx->srv);
    assert_true(fx->port > 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    rt_metrics_server_destroy(&fx->srv);
    assert_null(fx->srv);
    rt_metrics_destroy(&fx->m);
    free(fx);
    return 0;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Everything the server sends until it closes (within 5 s), NUL-terminated. */
static char *read_to_eof(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int64_t end = now_ms() + 5000;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)(end - now_ms());
        assert_true(left > 0);
        assert_int_equal(poll(&p, 1, left), 1);
        assert_true(len + 1 < cap);
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        assert_true(n > 0);
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

static char *exchange(int port, const char *request)
{
    int fd = connect_to(port);
    send_all(fd, request, strlen(request));
    char *resp = read_to_eof(fd);
    close(fd);
    return resp;
}

static void test_rt_metrics_server_answers_get_metrics(void **state)
{
    fixture_t *fx = *state;
    char *resp = exchange(fx->port, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(rt_metrics_render(fx->m, &text, &len), 0);
    char head[256];
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\n"
             "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
             "Content-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             len);
    assert_memory_equal(resp, head, strlen(head));
    assert_string_equal(resp + strlen(head), text);
    assert_non_null(strstr(text, "scrape_test_total{k=\"v\"} 7\n"));
    free(text);
    free(resp);
    /* HTTP/1.0 and a query string are fine too. */
    resp = exchange(fx->port, "GET /metrics?name[]=x HTTP/1.0\r\n\r\n");
    assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
    free(resp);
}

static void test_rt_metrics_server_unknown_path_is_404(void **state)
{
    fixture_t *fx = *state;
    const char *const paths[] = {"/", "/metrics/", "/metricsx", "/api/v1/health", "*"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char req[128];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", paths[i]);
        char *resp = exchange(fx->port, req);
        assert_memory_equal(resp, "HTTP/1.1 404 Not Found\r\n", 24);
        free(resp);
    }
}

static void test_rt_metrics_server_other_method_is_405(void **state)
{
    fixture_t *fx = *state;
    const char *const methods[] = {"POST", "HEAD", "PUT", "DELETE", "get"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char req[128];
        snprintf(req, sizeof req, "%s /metrics HTTP/1.1\r\nHost: x\r\n\r\n", methods[i]);
        char *resp = exchange(fx->port, req);
        assert_memory_equal(resp, "HTTP/1.1 405 Method Not Allowed\r\n", 33);
        assert_non_null(strstr(resp, "\r\nAllow: GET\r\n"));
        free(resp);
    }
}

static void test_rt_metrics_server_malformed_is_400(void **state)
{
    fixture_t *fx = *state;
    const char *const reqs[] = {"GARBAGE\r\n\r\n", "GET /metrics\r\n\r\n",
                                "GET /metrics HTTP/2.0\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
                                "GET /metrics HTTP/1.1 \r\n\r\n"};
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char *resp = exchange(fx->port, reqs[i]);
        if (strncmp(resp, "HTTP/1.1 400 Bad Request\r\n", 26) != 0)
            fail_msg("request %zu got: %.40s", i, resp);
        free(resp);
    }
}

static void test_rt_metrics_server_oversized_head_is_431(void **state)
{
    fixture_t *fx = *state;
    size_t n = RT_METRICS_SERVER_HEAD_MAX + 2048;
    char *req = malloc(n + 1);
    strcpy(req, "GET /metrics HTTP/1.1\r\nX-Pad: ");
    size_t used = strlen(req);
    memset(req + used, 'a', n - used);
    req[n] = '\0';
    int fd = connect_to(fx->port);
    send_all(fd, req, n); /* no end of head: the limit decides */
    char *resp = read_to_eof(fd);
    close(fd);
    assert_memory_equal(resp, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46);
    free(resp);
    free(req);
}

static void test_rt_metrics_server_one_answer_per_connection(void **state)
{
    fixture_t *fx = *state;
    /* Two pipelined requests: one answer, then the connection closes. */
    char *resp = exchange(fx->port, "GET /metrics HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(resp, "HTTP/1.1 200 OK\r\n"));
    assert_null(strstr(strstr(resp, "\r\n\r\n"), "HTTP/1.1"));
    free(resp);
}

static void test_rt_metrics_server_silent_client_does_not_block(void **state)
{
    fixture_t *fx = *state;
    int silent = connect_to(fx->port);
    send_all(silent, "GET /met", 8); /* and then nothing */
    int64_t t0 = now_ms();
    char *resp = exchange(fx->port, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
    assert_true(now_ms() - t0 < SHORT_TIMEOUT_MS);
    free(resp);
    /* The silent one is closed at its deadline, without an answer. */
    char *nothing = read_to_eof(silent);
    assert_string_equal(nothing, "");
    assert_true(now_ms() - t0 >= SHORT_TIMEOUT_MS / 2);
    free(nothing);
    close(silent);
}

static void test_rt_metrics_server_bounds_connections(void **state)
{
    fixture_t *fx = *state;
    int silent[RT_METRICS_SERVER_MAX_CONNS];
    int64_t t0 = now_ms();
    for (int i = 0; i < RT_METRICS_SERVER_MAX_CONNS; i++)
        silent[i] = connect_to(fx->port);
    usleep(50 * 1000); /* let the server take all of them */
    /* Every slot is held: this one waits in the backlog until a deadline frees one. */
    char *resp = exchange(fx->port, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
    assert_true(now_ms() - t0 >= SHORT_TIMEOUT_MS - 50);
    free(resp);
    for (int i = 0; i < RT_METRICS_SERVER_MAX_CONNS; i++)
        close(silent[i]);
}

static void test_rt_metrics_server_stops_with_clients_connected(void **state)
{
    (void)state;
    rt_metrics_t *m = rt_metrics_new();
    rt_metrics_listen_t at;
    char err[128];
    assert_int_equal(rt_metrics_listen_parse("127.0.0.1:0", &at, err, sizeof err), 0);
    rt_metrics_server_t *srv = rt_metrics_server_new(m, &at, 60000, err, sizeof err);
    assert_non_null(srv);
    int fd = connect_to(rt_metrics_server_port(srv));
    usleep(20 * 1000);
    int64_t t0 = now_ms();
    rt_metrics_server_destroy(&srv);
    assert_true(now_ms() - t0 < 1000); /* not the 60 s deadline */
    char *rest = read_to_eof(fd);
    assert_string_equal(rest, "");
    free(rest);
    close(fd);
    rt_metrics_server_destroy(&srv); /* NULL-safe */
    rt_metrics_destroy(&m);
}

static void test_rt_metrics_server_refuses_off_and_taken_port(void **state)
{
    fixture_t *fx = *state;
    rt_metrics_listen_t at;
    char err[128] = "";
    assert_int_equal(rt_metrics_listen_parse("off", &at, err, sizeof err), 0);
    assert_null(rt_metrics_server_new(fx->m, &at, 0, err, sizeof err));
    assert_non_null(strstr(err, "METRICS_PORT"));
    char taken[32];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", fx->port);
    assert_int_equal(rt_metrics_listen_parse(taken, &at, err, sizeof err), 0);
    err[0] = '\0';
    assert_null(rt_metrics_server_new(fx->m, &at, 0, err, sizeof err));
    assert_non_null(strstr(err, "METRICS_PORT"));
    assert_non_null(strstr(err, taken));
    assert_null(rt_metrics_server_new(NULL, &at, 0, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_metrics_listen_parse_forms),
        cmocka_unit_test(test_rt_metrics_listen_parse_rejects_bad_values),
        cmocka_unit_test(test_rt_metrics_config_row_reads_metrics_port),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_answers_get_metrics, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_unknown_path_is_404, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_other_method_is_405, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_malformed_is_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_oversized_head_is_431, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_one_answer_per_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_silent_client_does_not_block, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_bounds_connections, setup, teardown),
        cmocka_unit_test(test_rt_metrics_server_stops_with_clients_connected),
        cmocka_unit_test_setup_teardown(test_rt_metrics_server_refuses_off_and_taken_port, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
