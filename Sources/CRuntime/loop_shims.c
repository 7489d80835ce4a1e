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
#include <string.h>

int qv_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, 15);
    buf[15] = 0;
    return pthread_setname_np(pthread_self(), buf);
}
