/*
 * gw_accept: a blocking-free accept loop. The thread sleeps in poll(2) on the
 * listening socket and an eventfd (the stop signal), then accepts everything
 * that is waiting. When the process is out of descriptors (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM) the pending connection cannot be taken, and the listening
 * socket stays readable: the loop backs off for a moment instead of spinning.
 */
#include "gw_accept.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define ACCEPT_BACKOFF_MS 100 /* after running out of descriptors */

struct gw_accept {
    int listen_fd;
    int wake_fd; /* eventfd: written once to stop the thread */
    gw_accept_fn fn;
    void *arg;
    uint16_t port;
    pthread_t thread;
    bool running;
};

static int open_listener(const struct sockaddr *addr, socklen_t addrlen)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (addr->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(fd, addr, addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)&ss)->sin6_port);
    return 0;
}

gw_accept_t *gw_accept_new(const struct sockaddr *addr, socklen_t addrlen, gw_accept_fn fn,
                           void *arg)
{
    if (!addr || addrlen == 0 || !fn || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
        return NULL;
    gw_accept_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fn = fn;
    self->arg = arg;
    self->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    self->listen_fd = self->wake_fd >= 0 ? open_listener(addr, addrlen) : -1;
    if (self->listen_fd < 0) {
        int e = errno;
        if (self->wake_fd >= 0)
            close(self->wake_fd);
        free(self);
        errno = e;
        return NULL;
    }
    self->port = bound_port(self->listen_fd);
    return self;
}

uint16_t gw_accept_port(const gw_accept_t *self)
{
    return self ? self->port : 0;
}

/* Accepts what is waiting. Returns false when out of descriptors. */
static bool accept_all(gw_accept_t *self)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd =
            accept4(self->listen_fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            self->fn(self->arg, fd, (const struct sockaddr *)&peer, len);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            return false;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue; /* that client gave up, or a signal: the next one */
        return true;  /* EAGAIN: nothing more waiting */
    }
}

static void *accept_main(void *arg)
{
    gw_accept_t *self = arg;
    int backoff = 0;
    for (;;) {
        struct pollfd pfd[2] = {{.fd = self->wake_fd, .events = POLLIN},
                                {.fd = self->listen_fd, .events = POLLIN}};
        int rc = poll(pfd, backoff ? 1 : 2, backoff ? ACCEPT_BACKOFF_MS : -1);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0 && (pfd[0].revents & POLLIN))
            break; /* told to stop */
        backoff = !accept_all(self);
    }
    return NULL;
}

int gw_accept_start(gw_accept_t *self)
{
    if (!self || self->running)
        return -1;
    uint64_t drained;
    while (read(self->wake_fd, &drained, sizeof drained) > 0) /* a pause's stop signal */
        ;
    if (pthread_create(&self->thread, NULL, accept_main, self) != 0)
        return -1;
    self->running = true;
    return 0;
}

void gw_accept_pause(gw_accept_t *self)
{
    if (!self || !self->running)
        return;
    uint64_t one = 1;
    while (write(self->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    pthread_join(self->thread, NULL);
    self->running = false;
}

void gw_accept_destroy(gw_accept_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_accept_t *self = *self_p;
    gw_accept_pause(self);
    close(self->listen_fd);
    close(self->wake_fd);
    free(self);
    *self_p = NULL;
}
