// Fiber context switch for x86_64 (System V ABI). Owned by the fibers work; see qv_context.h.
//
// A suspended context is just a stack pointer. Below it, on its own stack, sit the callee-saved
// registers and the FP control words, pushed by qv_context_switch:
//
//   sp+0   MXCSR (4 bytes) | x87 control word (2 bytes) | pad
//   sp+8   r15   sp+16 r14   sp+24 r13   sp+32 r12   sp+40 rbx   sp+48 rbp
//   sp+56  return address
//
// Caller-saved registers need no saving: qv_context_switch is an ordinary call, so the compiler
// already assumes they are clobbered. Signal masks are NOT switched (that is what makes
// swapcontext cost a syscall).
#if defined(__x86_64__) && defined(__ELF__)

        .text

// void qv_context_switch(void **save_sp /* rdi */, void *new_sp /* rsi */)
        .globl  qv_context_switch
        .type   qv_context_switch,@function
        .p2align 4
qv_context_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        // ---- now on the other context's stack ----
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   qv_context_switch, .-qv_context_switch

// First code a new context runs, entered by the `ret` of qv_context_switch with the frame that
// qv_context_make wrote: r12 = arg, r13 = entry, r14 = exit. rsp is 16-byte aligned here, so the
// calls below see the ABI alignment. exit must not return.
        .globl  qv_context_trampoline
        .type   qv_context_trampoline,@function
        .p2align 4
qv_context_trampoline:
        .cfi_startproc
        .cfi_undefined rip              // outermost frame: unwinders and backtraces stop here
        xorl    %ebp, %ebp
        movq    %r12, %rdi
        callq   *%r13
        movq    %r12, %rdi
        callq   *%r14
        ud2
        .cfi_endproc
        .size   qv_context_trampoline, .-qv_context_trampoline

#endif

#if defined(__ELF__)
        .section .note.GNU-stack,"",@progbits
#endif
