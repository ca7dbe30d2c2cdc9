/*
 * rt_metrics_server: one thread, one poll set: a wake pipe (stop), the
 * listening socket while a connection slot is free, and each connection
 * in one of three states: reading the head, writing the answer, draining.
 *
 * Draining: after the answer the server shuts its side down and reads what
 * the client still sends (bounded in bytes and time) before closing, so a
 * client whose oversized head was not read to the end gets the 431 rather
 * than a reset that would discard it.
 */
#include "rt_metrics_server.h"
#include "rt_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_MS    1000
#define DRAIN_BYTES (64 * 1024)
#define BACKLOG     16

typedef enum { C_FREE, C_READ, C_WRITE, C_DRAIN } conn_state_t;

typedef struct {
    int fd;
    conn_state_t state;
    int64_t deadline_ms;
    size_t head_len;
    char head[RT_METRICS_SERVER_HEAD_MAX];
    char *out; /* the whole answer */
    size_t out_len, out_off;
    size_t drained;
} conn_t;

struct rt_metrics_server {
    rt_metrics_t *metrics;
    int listen_fd;
    int wake[2]; /* a byte written to wake[1] stops the thread */
    int port;
    int timeout_ms;
    pthread_t thread;
    conn_t conns[RT_METRICS_SERVER_MAX_CONNS];
};

/* ---- METRICS_PORT ---- */

static int bad_listen(char *err, size_t errlen)
{
    snprintf(err, errlen, "%s must be a port, host:port, [ipv6]:port (port 0 to 65535) or off",
             RT_METRICS_PORT_VAR);
    return -1;
}

static int parse_port(const char *s, int *out)
{
    long v = 0;
    if (!*s || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* Host names and IPv4 literals: letters, digits, '.', '-'; IPv6 adds ':'. */
static bool valid_host(const char *h, size_t len, bool v6)
{
    if (len == 0 || len > RT_METRICS_HOST_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || (v6 && c == ':');
        if (!ok)
            return false;
    }
    return true;
}

int rt_metrics_listen_parse(const char *text, rt_metrics_listen_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return bad_listen(err, errlen);
    if (strcasecmp(text, "off") == 0)
        return 0;
    const char *host = "127.0.0.1", *port = text;
    size_t hlen = strlen(host);
    bool v6 = text[0] == '[';
    if (v6) {
        const char *close = strstr(text, "]:");
        if (!close)
            return bad_listen(err, errlen);
        host = text + 1;
        hlen = (size_t)(close - host);
        port = close + 2;
    } else if (strchr(text, ':')) {
        const char *colon = strrchr(text, ':');
        host = text;
        hlen = (size_t)(colon - text);
        port = colon + 1;
    }
    if (!valid_host(host, hlen, v6) || parse_port(port, &out->port) != 0)
        return bad_listen(err, errlen);
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->enabled = true;
    return 0;
}

/* ---- answers ---- */

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Internal Server Error";
    }
}

/* The status for a complete head: its request line is
 * METHOD SP TARGET SP HTTP/1.x, and only GET /metrics[?query] is served. */
static int classify(const char *head, size_t len)
{
    const char *eol = memchr(head, '\n', len);
    size_t line = (size_t)(eol - head);
    if (line > 0 && head[line - 1] == '\r')
        line--;
    const char *sp1 = memchr(head, ' ', line);
    if (!sp1 || sp1 == head)
        return 400;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', line - (size_t)(target - head));
    if (!sp2 || sp2 == target)
        return 400;
    const char *version = sp2 + 1;
    size_t vlen = line - (size_t)(version - head);
    if (vlen != 8 || (memcmp(version, "HTTP/1.1", 8) != 0 && memcmp(version, "HTTP/1.0", 8) != 0))
        return 400;
    for (const char *p = head; p < sp1; p++) {
        if (*p < '!' || *p > '~')
            return 400;
    }
    if (sp1 - head != 3 || memcmp(head, "GET", 3) != 0)
        return 405;
    size_t tlen = (size_t)(sp2 - target);
    const char *q = memchr(target, '?', tlen);
    size_t plen = q ? (size_t)(q - target) : tlen;
    return plen == 8 && memcmp(target, "/metrics", 8) == 0 ? 200 : 404;
}

/* The end of the head (a blank line), or NULL while it has not come. */
static const char *head_end(const char *head, size_t len)
{
    for (const char *p = memchr(head, '\n', len); p;
         p = memchr(p + 1, '\n', len - (size_t)(p + 1 - head))) {
        size_t left = len - (size_t)(p + 1 - head);
        if (left >= 1 && p[1] == '\n')
            return p + 2;
        if (left >= 2 && p[1] == '\r' && p[2] == '\n')
            return p + 3;
    }
    return NULL;
}

/* Builds the whole answer for `status` into c->out. */
static int build_answer(rt_metrics_server_t *srv, conn_t *c, int status)
{
    char *body = NULL;
    size_t blen = 0;
    if (status == 200 && rt_metrics_render(srv->metrics, &body, &blen) != 0)
        status = 500;
    const char *text = status == 200 ? body : reason(status);
    if (status != 200)
        blen = strlen(text) + 1; /* with a newline */
    char head[256];
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                        "Connection: close\r\n\r\n",
                        status, reason(status),
                        status == 200 ? RT_METRICS_CONTENT_TYPE : "text/plain; charset=utf-8", blen,
                        status == 405 ? "Allow: GET\r\n" : "");
    c->out = malloc((size_t)hlen + blen);
    if (c->out) {
        memcpy(c->out, head, (size_t)hlen);
        memcpy(c->out + hlen, text, status == 200 ? blen : blen - 1);
        if (status != 200)
            c->out[(size_t)hlen + blen - 1] = '\n';
        c->out_len = (size_t)hlen + blen;
        c->out_off = 0;
    }
    free(body);
    return c->out ? 0 : -1;
}

/* ---- connections ---- */

static void conn_close(conn_t *c)
{
    if (c->state == C_FREE)
        return;
    close(c->fd);
    free(c->out);
    c->out = NULL;
    c->fd = -1;
    c->state = C_FREE;
}

static void conn_write(conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* wait for POLLOUT */
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = C_DRAIN;
    c->drained = 0;
    int64_t drain_end = rt_clock_ms() + DRAIN_MS;
    if (drain_end < c->deadline_ms)
        c->deadline_ms = drain_end;
}

static void conn_answer(rt_metrics_server_t *srv, conn_t *c, int status)
{
    if (build_answer(srv, c, status) != 0) {
        conn_close(c);
        return;
    }
    c->state = C_WRITE;
    conn_write(c);
}

static void conn_read(rt_metrics_server_t *srv, conn_t *c)
{
    size_t room = sizeof c->head - c->head_len;
    ssize_t n = recv(c->fd, c->head + c->head_len, room, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        conn_close(c); /* closed or failed before a whole head */
        return;
    }
    c->head_len += (size_t)n;
    if (head_end(c->head, c->head_len))
        conn_answer(srv, c, classify(c->head, c->head_len));
    else if (c->head_len == sizeof c->head)
        conn_answer(srv, c, 431);
}

static void conn_drain(conn_t *c)
{
    char scratch[4096];
    ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    c->drained += n > 0 ? (size_t)n : 0;
    if (n <= 0 || c->drained > DRAIN_BYTES)
        conn_close(c);
}

static conn_t *free_slot(rt_metrics_server_t *srv)
{
    for (size_t i = 0; i < RT_METRICS_SERVER_MAX_CONNS; i++) {
        if (srv->conns[i].state == C_FREE)
            return &srv->conns[i];
    }
    return NULL;
}

static void accept_some(rt_metrics_server_t *srv)
{
    conn_t *c;
    while ((c = free_slot(srv)) != NULL) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a client gone already: try at the next poll */
        c->fd = fd;
        c->state = C_READ;
        c->head_len = 0;
        c->deadline_ms = rt_clock_ms() + srv->timeout_ms;
    }
}

/* ---- the thread ---- */

/* Fills the poll set; returns its size and the poll timeout through *timeout. */
static nfds_t poll_set(rt_metrics_server_t *srv, struct pollfd *pfd, conn_t **who, int *timeout)
{
    nfds_t n = 0;
    int64_t now = rt_clock_ms(), first = INT64_MAX;
    pfd[n++] = (struct pollfd){srv->wake[0], POLLIN, 0};
    if (free_slot(srv))
        pfd[n++] = (struct pollfd){srv->listen_fd, POLLIN, 0};
    for (size_t i = 0; i < RT_METRICS_SERVER_MAX_CONNS; i++) {
        conn_t *c = &srv->conns[i];
        if (c->state == C_FREE)
            continue;
        who[n] = c;
        pfd[n++] = (struct pollfd){c->fd, c->state == C_WRITE ? POLLOUT : POLLIN, 0};
        if (c->deadline_ms < first)
            first = c->deadline_ms;
    }
    *timeout = first == INT64_MAX ? -1 : first <= now ? 0 : (int)(first - now);
    return n;
}

static void *serve(void *arg)
{
    rt_metrics_server_t *srv = arg;
    struct pollfd pfd[2 + RT_METRICS_SERVER_MAX_CONNS];
    conn_t *who[2 + RT_METRICS_SERVER_MAX_CONNS] = {NULL};
    for (;;) {
        int timeout;
        nfds_t n = poll_set(srv, pfd, who, &timeout);
        if (poll(pfd, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents)
            break;
        for (nfds_t i = 1; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (pfd[i].fd == srv->listen_fd)
                accept_some(srv);
            else if (who[i]->state == C_READ)
                conn_read(srv, who[i]);
            else if (who[i]->state == C_WRITE)
                conn_write(who[i]);
            else if (who[i]->state == C_DRAIN)
                conn_drain(who[i]);
        }
        int64_t now = rt_clock_ms();
        for (size_t i = 0; i < RT_METRICS_SERVER_MAX_CONNS; i++) {
            if (srv->conns[i].state != C_FREE && srv->conns[i].deadline_ms <= now)
                conn_close(&srv->conns[i]); /* too slow: no answer */
        }
    }
    for (size_t i = 0; i < RT_METRICS_SERVER_MAX_CONNS; i++)
        conn_close(&srv->conns[i]);
    return NULL;
}

/* A listening socket on at->host:at->port; -1 with err set. */
static int listen_on(const rt_metrics_listen_t *at, int *port, char *err, size_t errlen)
{
    char service[8];
    snprintf(service, sizeof service, "%d", at->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(at->host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s %s:%d: %s", RT_METRICS_PORT_VAR, at->host, at->port,
                 gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, BACKLOG) != 0)) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    struct sockaddr_storage sa;
    socklen_t salen = sizeof sa;
    if (fd >= 0 && getsockname(fd, (struct sockaddr *)&sa, &salen) == 0) {
        *port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                               : ((struct sockaddr_in *)&sa)->sin_port);
        return fd;
    }
    snprintf(err, errlen, "%s %s:%d: %s", RT_METRICS_PORT_VAR, at->host, at->port,
             strerror(saved ? saved : errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

rt_metrics_server_t *rt_metrics_server_new(rt_metrics_t *m, const rt_metrics_listen_t *at,
                                           int timeout_ms, char *err, size_t errlen)
{
    if (!m || !at || !at->enabled) {
        snprintf(err, errlen, "%s is off: no metrics listener", RT_METRICS_PORT_VAR);
        return NULL;
    }
    rt_metrics_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "%s: out of memory", RT_METRICS_PORT_VAR);
        return NULL;
    }
    srv->metrics = m;
    srv->timeout_ms = timeout_ms > 0 ? timeout_ms : RT_METRICS_SERVER_TIMEOUT_MS;
    srv->wake[0] = srv->wake[1] = -1;
    for (size_t i = 0; i < RT_METRICS_SERVER_MAX_CONNS; i++)
        srv->conns[i] = (conn_t){.fd = -1, .state = C_FREE};
    srv->listen_fd = listen_on(at, &srv->port, err, errlen);
    if (srv->listen_fd < 0)
        goto fail;
    int rc = pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) != 0 ? errno : 0;
    if (rc == 0)
        rc = pthread_create(&srv->thread, NULL, serve, srv);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot start the listener thread: %s", RT_METRICS_PORT_VAR,
                 strerror(rc));
        goto fail;
    }
    return srv;
fail:
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->wake[0] >= 0) {
        close(srv->wake[0]);
        close(srv->wake[1]);
    }
    free(srv);
    return NULL;
}

int rt_metrics_server_port(const rt_metrics_server_t *srv)
{
    return srv ? srv->port : -1;
}

void rt_metrics_server_destroy(rt_metrics_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_metrics_server_t *srv = *self_p;
    char byte = 1;
    while (write(srv->wake[1], &byte, 1) < 0 && errno == EINTR)
        ;
    pthread_join(srv->thread, NULL);
    close(srv->listen_fd);
    close(srv->wake[0]);
    close(srv->wake[1]);
    free(srv);
    *self_p = NULL;
}
