// The fiber switch path (layer 2 of qv_context.h). Everything here runs on every switch, so it is
// plain C: no allocation, no locks, no Swift runtime calls except Swift's two exclusivity hooks.
#include "qv_context.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Swift runtime (libswiftCore), C calling convention. Swift's own tasks call these around every
// suspension so that accesses begun in a task follow the task, not the thread.
extern void swift_task_enterThreadLocalContext(char *state);
extern void swift_task_exitThreadLocalContext(char *state);

// ThreadSanitizer fiber API. Weak: absent (NULL) in normal builds, provided by the TSan runtime in
// `--sanitize=thread` builds, so one object file serves both.
extern void *__tsan_get_current_fiber(void) __attribute__((weak));
extern void *__tsan_create_fiber(unsigned flags) __attribute__((weak));
extern void __tsan_destroy_fiber(void *fiber) __attribute__((weak));
extern void __tsan_switch_to_fiber(void *fiber, unsigned flags) __attribute__((weak));
#define QV_TSAN (__tsan_switch_to_fiber != NULL)

// AddressSanitizer fiber API: compiled in only when this file is built with -fsanitize=address
// (`swift test --sanitize=address`). ASan keeps per-thread stack bounds and a fake stack for
// use-after-return; each switch is announced with start_switch_fiber (where to, saving the current
// fake stack) and completed on the new stack with finish_switch_fiber (restoring its fake stack and
// learning where it came from). Without them ASan takes fiber stacks for heap and reports nonsense.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QV_ASAN 1
#endif
#endif
#ifndef QV_ASAN
#define QV_ASAN 0
#endif
#if QV_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
// The first code on a new fiber's stack: completes the switch, then runs the real entry.
static void qv_fiber_entry_asan(void *arg) {
    qv_fiber_ctx *ctx = arg;
    __sanitizer_finish_switch_fiber(NULL, &ctx->asan_caller_bottom, &ctx->asan_caller_size);
    ctx->asan_entry(ctx);
}
#endif

// Functions that switch stacks must not be instrumented by TSan: its shadow call stack would see a
// function entered on one fiber and left on another, and crash. They annotate the switch instead.
#define QV_NO_TSAN __attribute__((no_sanitize("thread")))

extern void qv_context_trampoline(void);

void *qv_context_make(void *stack_top, void (*entry)(void *), void (*exit)(void *), void *arg) {
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
#if defined(__x86_64__)
    void **sp = (void **)top;
    *--sp = (void *)qv_context_trampoline;  // popped by `ret`; then rsp == top (16-byte aligned)
    *--sp = NULL;                           // rbp
    *--sp = NULL;                           // rbx
    *--sp = arg;                            // r12
    *--sp = (void *)entry;                  // r13
    *--sp = (void *)exit;                   // r14
    *--sp = NULL;                           // r15
    // MXCSR 0x1F80 (all exceptions masked, round to nearest) in the low 4 bytes, x87 control
    // word 0x037F (the ABI default) in the next 2: a new fiber starts with the ABI's FP state.
    *--sp = (void *)(uintptr_t)0x037F00001F80ull;
    return sp;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(top - 176);
    memset(sp, 0, 176);
    sp[0] = (uint64_t)(uintptr_t)arg;                     // x19
    sp[1] = (uint64_t)(uintptr_t)entry;                   // x20
    sp[2] = (uint64_t)(uintptr_t)exit;                    // x21
    sp[11] = (uint64_t)(uintptr_t)qv_context_trampoline;  // x30: `ret` goes there
    // sp[20] = FPCR 0: round to nearest, no traps (the ABI default).
    return sp;
#else
#error "qv_context: only x86_64 and aarch64 are implemented"
#endif
}

// The fiber running on this thread (NULL on a plain thread). initial-exec: CRuntime is linked into
// the executable, so this is one %fs-relative access. Read only through non-inline functions and
// never after a switch inside a function that may resume on another thread (see qv_fiber_suspend).
static __thread qv_fiber_ctx *qv_current __attribute__((tls_model("initial-exec")));

static void qv_fiber_exit(void *arg);

void qv_fiber_prepare(qv_fiber_ctx *ctx, void *stack_bottom, void *stack_top, void *owner, void (*entry)(void *ctx)) {
    memset(ctx, 0, sizeof *ctx);
    ctx->owner = owner;
#if QV_ASAN
    // A pooled stack may come from a fiber dropped mid-body, whose frames never returned and so never
    // unpoisoned their redzones: start from a clean shadow.
    __asan_unpoison_memory_region(stack_bottom, (size_t)((char *)stack_top - (char *)stack_bottom));
    ctx->asan_stack_bottom = stack_bottom;
    ctx->asan_stack_size = (size_t)((char *)stack_top - (char *)stack_bottom);
    ctx->asan_entry = entry;
    entry = qv_fiber_entry_asan;
#else
    (void)stack_bottom;
#endif
    ctx->sp = qv_context_make(stack_top, entry, qv_fiber_exit, ctx);
    if (QV_TSAN) ctx->tsan_fiber = __tsan_create_fiber(0);
}

// The TSan variants of resume/suspend: the same steps plus the fiber annotations. Kept apart so the
// normal path carries no TSan code (fewer live registers, nothing to test after the switch).
QV_NO_TSAN __attribute__((noinline)) static int qv_fiber_resume_tsan(qv_fiber_ctx *ctx) {
    qv_fiber_ctx *outer = qv_current;
    qv_current = ctx;
    swift_task_enterThreadLocalContext((char *)ctx->exclusivity);
    ctx->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(ctx->tsan_fiber, 0);  // flags 0: the switch synchronizes
    qv_context_switch(&ctx->caller_sp, ctx->sp);
    qv_current = outer;
    int finished = ctx->finished;
    if (finished) {
        __tsan_destroy_fiber(ctx->tsan_fiber);
        ctx->tsan_fiber = NULL;
    }
    return finished;
}

QV_NO_TSAN int qv_fiber_resume(qv_fiber_ctx *ctx) {
    if (__builtin_expect(QV_TSAN, 0)) return qv_fiber_resume_tsan(ctx);
    qv_fiber_ctx *outer = qv_current;  // non-NULL when a fiber resumes a (nested) fiber
    qv_current = ctx;
    // Push the fiber's saved accesses onto this thread's access set (they may have begun on
    // another thread before it was suspended).
    swift_task_enterThreadLocalContext((char *)ctx->exclusivity);
#if QV_ASAN
    void *resumer_fake = NULL;  // the resumer's fake stack, back in place when the fiber returns here
    __sanitizer_start_switch_fiber(&resumer_fake, ctx->asan_stack_bottom, ctx->asan_stack_size);
    qv_context_switch(&ctx->caller_sp, ctx->sp);
    __sanitizer_finish_switch_fiber(resumer_fake, NULL, NULL);
#else
    qv_context_switch(&ctx->caller_sp, ctx->sp);
#endif
    // Back on the resumer's stack. The resumer was blocked in this call the whole time, and a
    // running fiber never changes thread, so this is still the thread we started on: writing the
    // TLS slot through an address computed before the switch is correct here.
    qv_current = outer;
    return ctx->finished;
}

static void qv_fiber_outside(void) {
    static const char msg[] = "qvtop: Fiber.suspend() called outside a fiber\n";
    (void)!write(2, msg, sizeof msg - 1);
    abort();
}

QV_NO_TSAN void qv_fiber_suspend(void) {
    qv_fiber_ctx *ctx = qv_current;
    if (__builtin_expect(ctx == NULL, 0)) qv_fiber_outside();
    // Take the fiber's live accesses off this thread's set and keep them in the ctx.
    swift_task_exitThreadLocalContext((char *)ctx->exclusivity);
    if (__builtin_expect(QV_TSAN, 0)) __tsan_switch_to_fiber(ctx->tsan_caller, 0);
#if QV_ASAN
    __sanitizer_start_switch_fiber(&ctx->asan_fake_stack, ctx->asan_caller_bottom, ctx->asan_caller_size);
#endif
    qv_context_switch(&ctx->sp, ctx->caller_sp);
    // Resumed, maybe on another thread: nothing below may touch thread-local state. (The next
    // resumer already set its thread's qv_current and pushed our accesses.) ASan's finish call
    // reads its own thread state afresh: it is a real call into the sanitizer runtime.
#if QV_ASAN
    __sanitizer_finish_switch_fiber(ctx->asan_fake_stack, &ctx->asan_caller_bottom, &ctx->asan_caller_size);
#endif
}

// Runs on the fiber's stack after its entry function returned (called by the trampoline).
QV_NO_TSAN __attribute__((noreturn)) static void qv_fiber_exit(void *arg) {
    qv_fiber_ctx *ctx = arg;
    ctx->finished = 1;
    swift_task_exitThreadLocalContext((char *)ctx->exclusivity);
    if (QV_TSAN) __tsan_switch_to_fiber(ctx->tsan_caller, 0);
#if QV_ASAN
    // NULL: the fiber never comes back, so ASan frees its fake stack.
    __sanitizer_start_switch_fiber(NULL, ctx->asan_caller_bottom, ctx->asan_caller_size);
#endif
    // Never resumed: the resumer returns this stack to the pool. The dead stack pointer goes into the ctx, not
    // into a local: under ASan a local whose address is taken lives in the fake stack just released above.
    qv_context_switch(&ctx->sp, ctx->caller_sp);
    __builtin_unreachable();
}

void *qv_fiber_current_owner(void) {
    qv_fiber_ctx *ctx = qv_current;
    return ctx ? ctx->owner : NULL;
}

void *qv_fiber_current_fiber_owner(void) {
    qv_fiber_ctx *ctx = qv_current;
    return ctx && ctx->owner_kind == 0 ? ctx->owner : NULL;
}

int qv_fiber_tsan_enabled(void) { return QV_TSAN ? 1 : 0; }

int qv_fiber_tsan_compiled(void) {
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return 1;
#endif
#endif
    return 0;
}

void qv_fiber_discard(qv_fiber_ctx *ctx) {
    if (QV_TSAN && ctx->tsan_fiber != NULL) {
        __tsan_destroy_fiber(ctx->tsan_fiber);
        ctx->tsan_fiber = NULL;
    }
}
