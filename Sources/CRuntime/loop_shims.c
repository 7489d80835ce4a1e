// Event-loop shims (owned by the EventLoop area; see Sources/Runtime/EventLoop/EventLoop.swift).
// epoll_wait's timeout is whole milliseconds, which makes a 1 ms timer 0–1 ms late on an idle
// loop (the anchors' asyncio/uvloop/Go rows). epoll_pwait2 takes a timespec, so the loop can
// sleep until the exact deadline of its next timer. Kernels before 5.11 lack it: we then fall
// back to epoll_wait with the timeout rounded *up* to whole ms (late, never early).
#define _GNU_SOURCE
#include "CRuntime.h"
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int qv_have_pwait2 = 1;

int qv_epoll_wait_ns(int epfd, uint32_t *out_events, uint64_t *out_data, int max, int64_t timeout_ns) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n;
    if (timeout_ns < 0) {
        do {
            n = epoll_wait(epfd, evs, max, -1);
        } while (n < 0 && errno == EINTR);
    } else {
        n = -1;
#ifdef SYS_epoll_pwait2
        if (__atomic_load_n(&qv_have_pwait2, __ATOMIC_RELAXED)) {
            struct timespec ts;
            ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
            ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
            do {
                n = (int)syscall(SYS_epoll_pwait2, epfd, evs, max, &ts, (void *)0, (size_t)8);
            } while (n < 0 && errno == EINTR);
            if (n < 0 && errno == ENOSYS) __atomic_store_n(&qv_have_pwait2, 0, __ATOMIC_RELAXED);
        }
#endif
        if (n < 0 && !__atomic_load_n(&qv_have_pwait2, __ATOMIC_RELAXED)) {
            int ms = (int)((timeout_ns + 999999LL) / 1000000LL);
            do {
                n = epoll_wait(epfd, evs, max, ms);
            } while (n < 0 && errno == EINTR);
        }
    }
    for (int i = 0; i < n; i++) {
        out_events[i] = evs[i].events;
        out_data[i] = evs[i].data.u64;
    }
    return n;
}

int qv_has_epoll_pwait2(void) { return __atomic_load_n(&qv_have_pwait2, __ATOMIC_RELAXED); }

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int qv_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, 15);
    buf[15] = 0;
    return pthread_setname_np(pthread_self(), buf);
}

// ---- Fast monotonic clock for the loop's per-job timing ----
// clock_gettime costs ~45 ns in this VM; a loop reads the clock once per job, so the clock was
// ~13% of a task switch. With an invariant TSC (constant_tsc + nonstop_tsc: same rate on every
// core, never stops) a calibrated rdtsc gives the same monotonic nanoseconds for ~18 ns.
// Calibrated once per process against CLOCK_MONOTONIC over 5 ms; the rate error (~1e-5) is far
// below what the loop measures. Elsewhere (or on other CPUs) it is CLOCK_MONOTONIC.
#include <stdio.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

static pthread_once_t qv_fast_once = PTHREAD_ONCE_INIT;
static int qv_fast_tsc = 0;
static uint64_t qv_fast_base_tsc, qv_fast_base_ns, qv_fast_mult;  // ns = base + (dt * mult) >> 32

static int qv_cpu_has_invariant_tsc(void) {
#if defined(__x86_64__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[4096];
    int constant = 0, nonstop = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        constant = strstr(line, " constant_tsc") != NULL;
        nonstop = strstr(line, " nonstop_tsc") != NULL;
        break;
    }
    fclose(f);
    return constant && nonstop;
#else
    return 0;
#endif
}

static void qv_fast_init(void) {
#if defined(__x86_64__)
    if (getenv("QV_NO_TSC") != NULL || !qv_cpu_has_invariant_tsc()) return;
    uint64_t n0 = qv_now_ns(), t0 = __rdtsc(), n1, t1;
    do {
        n1 = qv_now_ns();
        t1 = __rdtsc();
    } while (n1 - n0 < 5000000ull);
    if (t1 <= t0) return;
    qv_fast_mult = (uint64_t)(((unsigned __int128)(n1 - n0) << 32) / (t1 - t0));
    qv_fast_base_tsc = t1;
    qv_fast_base_ns = n1;
    qv_fast_tsc = 1;
#endif
}

uint64_t qv_fast_now_ns(void) {
    pthread_once(&qv_fast_once, qv_fast_init);
#if defined(__x86_64__)
    if (qv_fast_tsc) {
        uint64_t t = __rdtsc();
        uint64_t dt = t > qv_fast_base_tsc ? t - qv_fast_base_tsc : 0;
        return qv_fast_base_ns + (uint64_t)(((unsigned __int128)dt * qv_fast_mult) >> 32);
    }
#endif
    return qv_now_ns();
}

int qv_fast_clock_is_tsc(void) {
    pthread_once(&qv_fast_once, qv_fast_init);
    return qv_fast_tsc;
}

// The kernel lets a normal thread's timed waits fire up to 50 µs late (timer slack) to batch
// wake-ups. A loop whose timers aim at sub-millisecond lateness asks for 1 ns instead.
#include <sys/prctl.h>
int qv_set_timer_slack_ns(unsigned long ns) { return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0); }
