/*
 * gw_coro: stackful coroutines for the gateway's event loops.
 *
 * A handler written as plain blocking code (authorise, call a service,
 * answer) runs on a coroutine; where it would wait for a backend reply it
 * yields (gw_rpc), and the loop thread serves other connections until the
 * reply comes and the coroutine is resumed. One loop thread thus keeps many
 * requests in flight without one OS thread per request, and the handlers
 * stay as they are.
 *
 * Coroutines belong to the thread that spawned them: each thread has its
 * own pool (at most `max` alive, idle ones kept for reuse). Stacks are
 * mmap'd with a guard page below them, so an overflow faults instead of
 * corrupting memory. Switching uses ucontext, annotated for
 * AddressSanitizer so that sanitizer builds follow the stack switches.
 */
#ifndef GW_CORO_H
#define GW_CORO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gw_coro gw_coro_t;
typedef void (*gw_coro_fn)(void *arg);

/* This thread's pool: at most `max` coroutines alive at once, each with a
 * stack of `stack_bytes` (0: the default). Call before the first spawn;
 * 0 or -1 (bad arguments). */
int gw_coro_setup(size_t max, size_t stack_bytes);

/* Frees this thread's idle coroutines. Every coroutine must have finished. */
void gw_coro_teardown(void);

/* Runs fn(arg) on a coroutine of this thread until it yields or returns.
 * Returns the coroutine while it is suspended (resume it with
 * gw_coro_resume), or NULL when fn has already returned. When no coroutine
 * can be had (the pool is full or out of memory, or this is already a
 * coroutine), runs fn(arg) directly and returns NULL; *ran_inline, when
 * given, tells which happened. */
gw_coro_t *gw_coro_spawn(gw_coro_fn fn, void *arg, bool *ran_inline);

/* Continues a suspended coroutine until it yields again or returns. Returns
 * true when fn has returned (the coroutine went back to the pool). Only
 * from the thread that spawned it, never from inside a coroutine. */
bool gw_coro_resume(gw_coro_t *co);

/* Suspends the running coroutine; returns when it is resumed. Only from
 * inside a coroutine. */
void gw_coro_yield(void);

/* The coroutine running on this thread, NULL outside of one. */
gw_coro_t *gw_coro_current(void);

/* Coroutines of this thread alive now (running or suspended). */
size_t gw_coro_alive(void);

#endif
