// Fiber context switch for aarch64 (AAPCS64). Owned by the fibers work; see qv_context.h.
// Not exercised on the x86_64 project machine: kept in step with context_x86_64.S by review.
//
// Saved frame (176 bytes, 16-byte aligned), at the saved stack pointer:
//   +0   x19 x20   +16 x21 x22   +32 x23 x24   +48 x25 x26   +64 x27 x28   +80 x29 x30(lr)
//   +96  d8 d9     +112 d10 d11  +128 d12 d13  +144 d14 d15  +160 FPCR      +168 pad
// Only the low 64 bits of v8-v15 are callee-saved in AAPCS64, hence d8-d15.
#if defined(__aarch64__) && defined(__ELF__)

        .text

// void qv_context_switch(void **save_sp /* x0 */, void *new_sp /* x1 */)
        .globl  qv_context_switch
        .type   qv_context_switch,%function
        .p2align 4
qv_context_switch:
        .cfi_startproc
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x10, sp
        str     x10, [x0]
        // ---- now on the other context's stack ----
        mov     sp, x1
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .cfi_endproc
        .size   qv_context_switch, .-qv_context_switch

// First code a new context runs, entered by the `ret` of qv_context_switch (x30 = this label) with
// x19 = arg, x20 = entry, x21 = exit from qv_context_make. exit must not return.
        .globl  qv_context_trampoline
        .type   qv_context_trampoline,%function
        .p2align 4
qv_context_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        mov     x29, #0
        mov     x0, x19
        blr     x20
        mov     x0, x19
        blr     x21
        brk     #0
        .cfi_endproc
        .size   qv_context_trampoline, .-qv_context_trampoline

#endif

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits
#endif
