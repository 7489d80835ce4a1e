// Fiber context switch and the fiber switch path. Owned by the fibers work (issue 3).
// The design essay is at the top of Sources/Runtime/Fiber/Fiber.swift; this header is its C half.
//
// Two layers:
//  1. qv_context_*: the raw machine switch (context_x86_64.S / context_aarch64.S). A suspended
//     context is one stack pointer; callee-saved registers and FP control words live on its stack.
//  2. qv_fiber_*: what a Swift Fiber uses. Each adds, around one raw switch, exactly the per-switch
//     bookkeeping that must not be skipped: the thread's "current fiber" slot, Swift's thread-local
//     exclusivity access set, and ThreadSanitizer's fiber annotations (only when TSan is loaded).
//     They are written in C so the switch path makes no Swift runtime calls (no retain/release, no
//     dynamic exclusivity checks) and so no compiler can cache a thread-local address across it.
#ifndef QVTOP_QV_CONTEXT_H
#define QVTOP_QV_CONTEXT_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

// ---- layer 1: raw context switch -------------------------------------------------------------

/// Saves the callee-saved registers and FP control words on the current stack, stores the stack
/// pointer in *save_sp, then loads new_sp and restores the context saved there. Returns when some
/// other context switches back to *save_sp.
void qv_context_switch(void **save_sp, void *new_sp);

/// Writes an initial frame below stack_top (16-byte aligned) so that the first qv_context_switch
/// to the returned stack pointer calls entry(arg) and, when entry returns, exit(arg). exit must
/// never return (it switches away for good). Pure memory writes; no syscalls.
void *qv_context_make(void *stack_top, void (*entry)(void *), void (*exit)(void *), void *arg);

/// Benchmark helper: ns per raw qv_context_switch, measured over `round_trips` ping-pongs between
/// the calling thread and one context (two switches each). See context_bench.c.
double qv_context_pingpong_ns(long round_trips);

// ---- layer 2: fibers ---------------------------------------------------------------------------

/// Bytes reserved at the top of every fiber stack for its qv_fiber_ctx (FiberStack.contextSlot reads this).
/// A multiple of 16, so the usable stack below it keeps the ABI's alignment.
#define QV_FIBER_CTX_SLOT 128

/// Per-fiber switch state. Lives at the top of the fiber's own stack mapping (see FiberStack.swift),
/// so a fiber costs no extra allocation for it. Ownership per field:
typedef struct qv_fiber_ctx {
    /// The fiber's saved stack pointer while it is suspended. Written by the switch on the fiber's
    /// side (suspend), read by resume. Only one thread touches it at a time (resume contract).
    void *sp;
    /// The resumer's saved stack pointer while the fiber runs. Written by resume on the resumer's
    /// thread, read by suspend/exit on the same thread (a running fiber never changes thread).
    void *caller_sp;
    /// Swift's per-task exclusivity state (two pointers; see swift_task_enterThreadLocalContext).
    /// Holds the fiber's live `inout`/`modify` accesses while it is suspended.
    uintptr_t exclusivity[2];
    /// Unretained pointer to the Swift Fiber object (the Fiber owns the stack that holds this ctx).
    void *owner;
    /// TSan fiber handle (NULL without TSan) and the resumer's TSan fiber for the way back.
    void *tsan_fiber;
    void *tsan_caller;
    /// Set to 1 by the fiber's exit path just before its last switch; read by resume.
    int32_t finished;
    /// What `owner` is: 0 = a Swift `Fiber`, 1 = a scheduler task (a `FiberTask` that owns its stack and
    /// this ctx directly, with no `Fiber` object). Set after qv_fiber_prepare, before the first resume.
    int32_t owner_kind;
    /// AddressSanitizer's fiber state, used only when fiber.c is compiled with -fsanitize=address (present
    /// always, so the layout Swift imports never depends on the sanitizer). The fiber's stack bounds (set by
    /// prepare); its fake stack while suspended (written by suspend on the fiber's side); the bounds of the
    /// resumer's stack, learnt by the fiber each time it is switched in; the real entry, called by the ASan
    /// entry wrapper after it announced the switch.
    void *asan_stack_bottom;
    size_t asan_stack_size;
    void *asan_fake_stack;
    const void *asan_caller_bottom;
    size_t asan_caller_size;
    void (*asan_entry)(void *ctx);
} qv_fiber_ctx;

// The ctx must fit its slot: a field added without growing the slot would overlap the fiber's stack top.
_Static_assert(sizeof(qv_fiber_ctx) <= QV_FIBER_CTX_SLOT, "qv_fiber_ctx outgrew QV_FIBER_CTX_SLOT");
_Static_assert(QV_FIBER_CTX_SLOT % 16 == 0, "QV_FIBER_CTX_SLOT must keep the stack 16-byte aligned");

/// Prepares ctx (already placed at the top of a stack whose usable part is [stack_bottom, stack_top)) so
/// that the first resume calls entry(ctx) on the new stack; when entry returns, the fiber
/// finishes (resume returns 1). Creates the TSan fiber when TSan is present; records the bounds for ASan.
void qv_fiber_prepare(qv_fiber_ctx *ctx, void *stack_bottom, void *stack_top, void *owner, void (*entry)(void *ctx));

/// Runs the fiber on the calling thread until it suspends or finishes. Returns 1 when it finished
/// (its TSan fiber is then destroyed and its stack is no longer in use), else 0. Never call it
/// concurrently for one ctx, nor for a fiber that is running or finished.
int qv_fiber_resume(qv_fiber_ctx *ctx);

/// Inside a fiber: switches back to whoever resumed it. Returns when resumed again, possibly on
/// another thread. Aborts with a message when called outside a fiber.
void qv_fiber_suspend(void);

/// The owner (unretained Swift Fiber) of the fiber running on this thread, or NULL. Not inline on
/// purpose: every call reads the thread pointer afresh (see the migration note in Fiber.swift).
void *qv_fiber_current_owner(void);

/// The owner of the fiber running on this thread when it is a Swift `Fiber` (owner_kind 0), else NULL
/// (a plain thread, or a scheduler task). Not inline, as qv_fiber_current_owner.
void *qv_fiber_current_fiber_owner(void);

/// 1 when ThreadSanitizer's fiber API is linked in (a --sanitize=thread build), else 0.
int qv_fiber_tsan_enabled(void);
/// 1 when this C target itself was compiled with -fsanitize=thread (for a consistency test).
int qv_fiber_tsan_compiled(void);

/// Releases the TSan fiber of a fiber that was prepared but will never finish (destroyed
/// while suspended or never started). No-op without TSan.
void qv_fiber_discard(qv_fiber_ctx *ctx);

/// A spin-wait hint (x86 `pause`, aarch64 `yield`): tells the core this thread is busy-waiting, so a sibling
/// hardware thread (or a vCPU the hypervisor put on the same core) gets the execution resources meanwhile.
static inline void qv_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#ifdef __cplusplus
}
#endif
#endif
