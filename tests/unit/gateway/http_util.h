/*
 * http_util: a minimal HTTP/1.1 client over plain sockets and the config
 * lookup for in-process gateways, shared by the gateway unit tests
 * (test_http, test_api). Header-only: each test is its own executable.
 * Nothing here calls cmocka, so it may run on helper threads.
 */
#ifndef HTTP_UTIL_H
#define HTTP_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_HEADERS 64

typedef struct {
    int status; /* 0: the connection closed without an answer */
    size_t nheaders;
    char names[MAX_HEADERS][64];
    char values[MAX_HEADERS][640];
    char body[8192];
    size_t body_len;
} resp_t;

/* `name` in the pairs of `overrides` first, then of `base` (NULL-ended
 * name/value lists); NULL when in neither. */
static inline const char *env_lookup(const char *name, const char *const *overrides,
                                     const char *const *base)
{
    const char *const *lists[] = {overrides, base};
    for (size_t i = 0; i < 2; i++) {
        for (const char *const *p = lists[i]; p && p[0]; p += 2) {
            if (strcmp(p[0], name) == 0)
                return p[1];
        }
    }
    return NULL;
}

/* A connection to 127.0.0.1:port with a receive timeout; -1 on failure. */
static inline int http_connect(uint16_t port, int rcv_timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {rcv_timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int http_send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static inline const char *header(const resp_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    }
    return NULL;
}

static inline int http_parse_head(char *head, resp_t *r)
{
    char *save = NULL;
    char *line = strtok_r(head, "\r\n", &save);
    if (!line || sscanf(line, "HTTP/1.1 %d", &r->status) != 1)
        return -1;
    while ((line = strtok_r(NULL, "\r\n", &save)) && r->nheaders < MAX_HEADERS) {
        char *colon = strchr(line, ':');
        if (!colon)
            return -1;
        *colon = '\0';
        snprintf(r->names[r->nheaders], sizeof r->names[0], "%s", line);
        snprintf(r->values[r->nheaders], sizeof r->values[0], "%s", colon + 1 + (colon[1] == ' '));
        r->nheaders++;
    }
    return 0;
}

/* Reads one response (no body when `head_only`, as for HEAD); 0, or -1
 * (then r->status is 0) when the peer closed or sent no proper response. */
static inline int read_response(int fd, resp_t *r, int head_only)
{
    char buf[16384];
    size_t got = 0;
    char *end = NULL;
    memset(r, 0, sizeof *r);
    while (!end) {
        if (got == sizeof buf - 1)
            return -1;
        ssize_t n = recv(fd, buf + got, 1, 0); /* byte by byte: never eat the next reply */
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *end = '\0';
    if (http_parse_head(buf, r) != 0) {
        r->status = 0;
        return -1;
    }
    const char *cl = header(r, "Content-Length");
    size_t want = (cl && !head_only) ? strtoul(cl, NULL, 10) : 0;
    if (want >= sizeof r->body)
        return -1;
    while (r->body_len < want) {
        ssize_t n = recv(fd, r->body + r->body_len, want - r->body_len, 0);
        if (n <= 0)
            return -1;
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = '\0';
    return 0;
}

#endif
