/*
 * gw_coro: ucontext coroutines with per-thread pools.
 *
 * A coroutine's entry function never returns: it runs fn, marks the
 * coroutine done and switches back, and the next spawn that reuses the
 * coroutine continues the same loop with a new fn. So a stack is set up
 * (makecontext) once in its life, and reuse costs one switch.
 *
 * AddressSanitizer keeps its own idea of the current stack; every switch is
 * announced with __sanitizer_start_switch_fiber and confirmed with
 * __sanitizer_finish_switch_fiber on the other side, as its documentation
 * asks of user-level context switching.
 */
#include "gw_coro.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define GW_CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GW_CORO_ASAN 1
#endif
#endif

#ifdef GW_CORO_ASAN
#include <sanitizer/common_interface_defs.h>
/* Instrumented frames are several times larger. */
#define CORO_STACK_DEFAULT (1024u * 1024u)
#else
#define CORO_STACK_DEFAULT (256u * 1024u) /* the whole integration suite passes with 32 KiB */
#endif
#define CORO_STACK_MIN 16384u

/* getcontext and swapcontext are declared returns_twice, so gcc warns that
 * locals may be clobbered; they save and restore the callee-saved
 * registers themselves, and no local is changed between the save and the
 * second return. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wclobbered"
#endif
#define CORO_IDLE_KEEP 64 /* idle coroutines kept per thread; more are unmapped */

struct gw_coro {
    ucontext_t ctx;    /* the coroutine's own context */
    ucontext_t caller; /* where gw_coro_spawn/resume was called */
    void *map;         /* guard page + stack */
    size_t map_len;
    char *stack;
    size_t stack_len;
    gw_coro_fn fn;
    void *arg;
    bool started; /* makecontext done */
    bool done;    /* fn has returned */
    gw_coro_t *next_idle;
    /* AddressSanitizer's view of the two stacks (unused without it). */
    void *fake_self, *fake_caller;
    const void *caller_bottom;
    size_t caller_size;
};

typedef struct {
    bool ready;
    size_t max, stack_bytes;
    size_t alive, nidle;
    gw_coro_t *idle;
    gw_coro_t *current;
} coro_pool_t;

static _Thread_local coro_pool_t tls_pool;
static _Thread_local gw_coro_t *tls_starting; /* read once by entry() */

static void asan_start(void **save, const void *bottom, size_t size)
{
#ifdef GW_CORO_ASAN
    __sanitizer_start_switch_fiber(save, bottom, size);
#else
    (void)save, (void)bottom, (void)size;
#endif
}

static void asan_finish(void *save, const void **bottom, size_t *size)
{
#ifdef GW_CORO_ASAN
    __sanitizer_finish_switch_fiber(save, bottom, size);
#else
    (void)save, (void)bottom, (void)size;
#endif
}

/* Caller -> coroutine, back when it yields or finishes. */
static void enter(gw_coro_t *co)
{
    tls_pool.current = co;
    asan_start(&co->fake_caller, co->stack, co->stack_len);
    swapcontext(&co->caller, &co->ctx);
    asan_finish(co->fake_caller, NULL, NULL);
    tls_pool.current = NULL;
}

/* Coroutine -> caller, back when resumed. */
static void leave(gw_coro_t *co)
{
    asan_start(&co->fake_self, co->caller_bottom, co->caller_size);
    swapcontext(&co->ctx, &co->caller);
    asan_finish(co->fake_self, &co->caller_bottom, &co->caller_size);
}

static void entry(void)
{
    gw_coro_t *co = tls_starting;
    asan_finish(NULL, &co->caller_bottom, &co->caller_size);
    for (;;) {
        co->fn(co->arg);
        co->done = true;
        leave(co);
    }
}

static void coro_free(gw_coro_t *co)
{
    if (co->map)
        munmap(co->map, co->map_len);
    free(co);
}

static gw_coro_t *coro_new(size_t stack_bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    gw_coro_t *co = calloc(1, sizeof *co);
    if (!co)
        return NULL;
    co->stack_len = (stack_bytes + page - 1) / page * page;
    co->map_len = co->stack_len + page;
    co->map = mmap(NULL, co->map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (co->map == MAP_FAILED) {
        co->map = NULL;
        coro_free(co);
        return NULL;
    }
    if (mprotect(co->map, page, PROT_NONE) != 0) { /* the guard: stacks grow down */
        coro_free(co);
        return NULL;
    }
    co->stack = (char *)co->map + page;
    return co;
}

static gw_coro_t *coro_take(void)
{
    coro_pool_t *p = &tls_pool;
    if (p->alive >= p->max)
        return NULL;
    gw_coro_t *co = p->idle;
    if (co) {
        p->idle = co->next_idle;
        p->nidle--;
    } else if (!(co = coro_new(p->stack_bytes))) {
        return NULL;
    }
    p->alive++;
    return co;
}

static void coro_release(gw_coro_t *co)
{
    coro_pool_t *p = &tls_pool;
    p->alive--;
    if (p->nidle >= CORO_IDLE_KEEP) {
        coro_free(co);
        return;
    }
    co->next_idle = p->idle;
    p->idle = co;
    p->nidle++;
}

int gw_coro_setup(size_t max, size_t stack_bytes)
{
    if (max == 0 || (stack_bytes != 0 && stack_bytes < CORO_STACK_MIN))
        return -1;
    tls_pool.max = max;
    tls_pool.stack_bytes = stack_bytes ? stack_bytes : CORO_STACK_DEFAULT;
    tls_pool.ready = true;
    return 0;
}

void gw_coro_teardown(void)
{
    coro_pool_t *p = &tls_pool;
    while (p->idle) {
        gw_coro_t *co = p->idle;
        p->idle = co->next_idle;
        coro_free(co);
    }
    p->nidle = 0;
    p->ready = false;
}

gw_coro_t *gw_coro_spawn(gw_coro_fn fn, void *arg, bool *ran_inline)
{
    gw_coro_t *co = NULL;
    if (tls_pool.ready && !tls_pool.current)
        co = coro_take();
    if (ran_inline)
        *ran_inline = co == NULL;
    if (!co) {
        fn(arg);
        return NULL;
    }
    co->fn = fn;
    co->arg = arg;
    co->done = false;
    if (!co->started) {
        if (getcontext(&co->ctx) != 0) {
            coro_release(co);
            if (ran_inline)
                *ran_inline = true;
            fn(arg);
            return NULL;
        }
        co->ctx.uc_stack.ss_sp = co->stack;
        co->ctx.uc_stack.ss_size = co->stack_len;
        co->ctx.uc_link = NULL; /* entry() never returns */
        makecontext(&co->ctx, entry, 0);
        co->started = true;
        tls_starting = co;
    }
    enter(co);
    if (co->done) {
        coro_release(co);
        return NULL;
    }
    return co;
}

bool gw_coro_resume(gw_coro_t *co)
{
    if (!co || tls_pool.current || co->done)
        return false;
    enter(co);
    if (!co->done)
        return false;
    coro_release(co);
    return true;
}

void gw_coro_yield(void)
{
    gw_coro_t *co = tls_pool.current;
    if (co)
        leave(co);
}

gw_coro_t *gw_coro_current(void)
{
    return tls_pool.current;
}

size_t gw_coro_alive(void)
{
    return tls_pool.alive;
}
