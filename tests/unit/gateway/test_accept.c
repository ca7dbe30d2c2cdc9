/*
 * Tests for gw_accept: binding, handing accepted sockets to the callback with
 * the peer's address, pausing (no more hand-overs, the socket stays open) and
 * closing, over real loopback sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_accept.h"

typedef struct {
    pthread_mutex_t mu;
    int count;
    int last_family;
    uint16_t last_port;
} seen_t;

static void on_conn(void *arg, int fd, const struct sockaddr *peer, socklen_t len)
{
    seen_t *s = arg;
    pthread_mutex_lock(&s->mu);
    s->count++;
    s->last_family = peer->sa_family;
    if (peer->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        s->last_port = ntohs(((const struct sockaddr_in *)(const void *)peer)->sin_port);
    pthread_mutex_unlock(&s->mu);
    close(fd);
}

static int seen_count(seen_t *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Waits up to 2 s for `want` hand-overs. */
static int wait_count(seen_t *s, int want)
{
    for (int i = 0; i < 200 && seen_count(s) < want; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return seen_count(s);
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* Connects; returns the socket (and its local port) or -1. */
static int dial(uint16_t port, uint16_t *local_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = loopback(port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &len);
    if (local_port)
        *local_port = ntohs(me.sin_port);
    return fd;
}

static void test_accept_bad_arguments(void **state)
{
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct sockaddr_in sa = loopback(0);
    struct sockaddr_storage unix_like = {.ss_family = AF_UNIX};
    assert_null(gw_accept_new(NULL, sizeof sa, on_conn, &s));
    assert_null(gw_accept_new((struct sockaddr *)&sa, 0, on_conn, &s));
    assert_null(gw_accept_new((struct sockaddr *)&sa, sizeof sa, NULL, &s));
    assert_null(gw_accept_new((struct sockaddr *)&unix_like, sizeof unix_like, on_conn, &s));
    assert_int_equal(gw_accept_start(NULL), -1);
    gw_accept_pause(NULL);
    gw_accept_destroy(NULL);
    assert_int_equal(gw_accept_port(NULL), 0);
}

static void test_accept_hands_over_connections_with_peer(void **state)
{
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct sockaddr_in sa = loopback(0);
    gw_accept_t *a = gw_accept_new((struct sockaddr *)&sa, sizeof sa, on_conn, &s);
    assert_non_null(a);
    uint16_t port = gw_accept_port(a);
    assert_true(port > 0);
    assert_int_equal(gw_accept_start(a), 0);
    assert_int_equal(gw_accept_start(a), -1); /* already running */
    int fds[8];
    uint16_t local = 0;
    for (int i = 0; i < 8; i++) {
        fds[i] = dial(port, &local);
        assert_true(fds[i] >= 0);
    }
    assert_int_equal(wait_count(&s, 8), 8);
    pthread_mutex_lock(&s.mu);
    assert_int_equal(s.last_family, AF_INET);
    assert_int_equal(s.last_port, local); /* the peer is the client's end */
    pthread_mutex_unlock(&s.mu);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    gw_accept_destroy(&a);
    assert_null(a);
}

static void test_accept_pause_stops_hand_overs_destroy_closes(void **state)
{
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct sockaddr_in sa = loopback(0);
    gw_accept_t *a = gw_accept_new((struct sockaddr *)&sa, sizeof sa, on_conn, &s);
    assert_non_null(a);
    uint16_t port = gw_accept_port(a);
    assert_int_equal(gw_accept_start(a), 0);
    int fd = dial(port, NULL);
    assert_true(fd >= 0);
    assert_int_equal(wait_count(&s, 1), 1);
    close(fd);
    gw_accept_pause(a);
    gw_accept_pause(a);    /* idempotent */
    fd = dial(port, NULL); /* still listening: the connect waits in the backlog */
    assert_true(fd >= 0);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(seen_count(&s), 1);
    /* Started again, it takes what waited. */
    assert_int_equal(gw_accept_start(a), 0);
    assert_int_equal(wait_count(&s, 2), 2);
    close(fd);
    gw_accept_destroy(&a);
    assert_int_equal(dial(port, NULL), -1); /* closed: refused */
}

static void test_accept_address_in_use(void **state)
{
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct sockaddr_in sa = loopback(0);
    gw_accept_t *a = gw_accept_new((struct sockaddr *)&sa, sizeof sa, on_conn, &s);
    assert_non_null(a);
    struct sockaddr_in same = loopback(gw_accept_port(a));
    errno = 0;
    assert_null(gw_accept_new((struct sockaddr *)&same, sizeof same, on_conn, &s));
    assert_int_equal(errno, EADDRINUSE);
    gw_accept_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_bad_arguments),
        cmocka_unit_test(test_accept_hands_over_connections_with_peer),
        cmocka_unit_test(test_accept_pause_stops_hand_overs_destroy_closes),
        cmocka_unit_test(test_accept_address_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
