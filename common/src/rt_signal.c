/*
 * rt_signal: synchronous signal handling with sigwait, so shutdown runs as
 * ordinary code in main() instead of inside an async-signal handler.
 */
#include "rt_signal.h"

#include <pthread.h>
#include <signal.h>

static void term_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

int rt_signal_block(void)
{
    sigset_t set;
    term_set(&set);
    signal(SIGPIPE, SIG_IGN);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

int rt_signal_wait(void)
{
    sigset_t set;
    term_set(&set);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}
