// Alternate signal stacks for carrier threads, and the fiber crash report.
//
// A fiber that overflows its stack faults in the guard page below it. The kernel delivers SIGSEGV on
// the faulting thread's current stack unless the thread has an alternate signal stack and the handler
// was installed with SA_ONSTACK; the current stack is the overflowed one, so without an alternate
// stack the kernel cannot push the signal frame and kills the process — no handler runs, the terminal
// stays raw. So every carrier thread gets one (qv_altstack_install, called first thing in carrierMain),
// and every crash handler of ours is SA_ONSTACK (the report here, Terminal's Signals.swift).
//
// The report (qv_fiber_crash_install): a SIGSEGV/SIGBUS handler that writes one line naming the fiber
// (the runtime registers `describe`, which looks up the running fiber), puts back the handler that was
// installed before it, and returns, so the fault happens again and reaches that one (Swift's
// backtracer, or the default action). Handlers installed later (Terminal's, which restores the
// terminal) run first and chain to it the same way.
#define _GNU_SOURCE
#include "CRuntime.h"
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// 64 KiB: a handler's frames plus whatever the handler it chains to needs, and a guard page below.
#define QV_ALTSTACK_SIZE (64 * 1024)

static pthread_key_t qv_altstack_key;
static pthread_once_t qv_altstack_once = PTHREAD_ONCE_INIT;

// Thread exit: disable the alternate stack, then unmap it (the key's value is the mapping).
static void qv_altstack_free(void *mapping) {
    stack_t off = {.ss_flags = SS_DISABLE};
    (void)sigaltstack(&off, NULL);
    long page = sysconf(_SC_PAGESIZE);
    munmap(mapping, (size_t)page + QV_ALTSTACK_SIZE);
}

static void qv_altstack_make_key(void) { (void)pthread_key_create(&qv_altstack_key, qv_altstack_free); }

int qv_altstack_install(void) {
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return 0;  // already has one
    pthread_once(&qv_altstack_once, qv_altstack_make_key);
    long page = sysconf(_SC_PAGESIZE);
    size_t total = (size_t)page + QV_ALTSTACK_SIZE;
    void *mapping = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED) return -1;
    (void)mprotect(mapping, (size_t)page, PROT_NONE);  // guard page: an overflowing handler faults too
    stack_t ss = {.ss_sp = (char *)mapping + page, .ss_size = QV_ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mapping, total);
        return -1;
    }
    (void)pthread_setspecific(qv_altstack_key, mapping);
    return 0;
}

int qv_altstack_active(void) {
    stack_t current;
    if (sigaltstack(NULL, &current) != 0) return 0;
    return (current.ss_flags & SS_DISABLE) ? 0 : 1;
}

int qv_on_altstack(void) {
    stack_t current;
    if (sigaltstack(NULL, &current) != 0) return 0;
    return (current.ss_flags & SS_ONSTACK) ? 1 : 0;
}

static qv_crash_describe_fn qv_crash_describe;
static struct sigaction qv_crash_previous[2];
static const int qv_crash_signals[2] = {SIGSEGV, SIGBUS};

static void qv_crash_handler(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    if (qv_crash_describe) qv_crash_describe(sig, info ? info->si_addr : NULL);
    for (int i = 0; i < 2; i++) {
        if (qv_crash_signals[i] == sig) sigaction(sig, &qv_crash_previous[i], NULL);
    }
    // Sent by kill/raise (si_code <= 0): nothing faults again, so deliver it again ourselves.
    if (info && info->si_code <= 0) raise(sig);
}

int qv_fiber_crash_install(qv_crash_describe_fn describe) {
    if (qv_crash_describe) return 0;  // once: a second install would chain to itself
    qv_crash_describe = describe;
    for (int i = 0; i < 2; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = qv_crash_handler;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        if (sigaction(qv_crash_signals[i], &action, &qv_crash_previous[i]) != 0) return -1;
    }
    return 0;
}

void qv_write_stderr(const char *bytes, long count) {
    while (count > 0) {
        ssize_t n = write(2, bytes, (size_t)count);
        if (n <= 0) return;
        bytes += n;
        count -= n;
    }
}
