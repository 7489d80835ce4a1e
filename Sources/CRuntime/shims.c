// See CRuntime.h for why each of these exists.
#define _GNU_SOURCE
#include "CRuntime.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

pid_t qv_gettid(void) { return (pid_t)syscall(SYS_gettid); }

// initial-exec: CRuntime is linked into the executable (see qv_current in fiber.c). Read and written only through
// these two non-inline functions (see CRuntime.h).
static __thread void *qv_carrier __attribute__((tls_model("initial-exec")));

void *qv_carrier_get(void) { return qv_carrier; }
void qv_carrier_set(void *carrier) { qv_carrier = carrier; }
int qv_errno(void) { return errno; }
void qv_set_errno(int value) { errno = value; }

int qv_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int qv_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int qv_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }

int qv_poll_readable_ns(int fd, int64_t timeout_ns) {
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    return ppoll(&p, 1, timeout_ns < 0 ? NULL : &ts, NULL);
}

int qv_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t r;
    do {
        r = write(fd, &one, sizeof one);
    } while (r < 0 && errno == EINTR);
    return r == (ssize_t)sizeof one || (r < 0 && errno == EAGAIN) ? 0 : -1;
}

uint64_t qv_eventfd_drain(int fd) {
    uint64_t value = 0;
    ssize_t r = read(fd, &value, sizeof value);
    return r == (ssize_t)sizeof value ? value : 0;
}

int qv_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

uint64_t qv_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Swift runtime (libswiftCore); C calling convention.
extern void *swift_retain(void *object);

void *qv_retain_object(void *object) { return swift_retain(object); }

extern void *swift_nonatomic_retain(void *object);

void *qv_retain_fresh_object(void *object) { return swift_nonatomic_retain(object); }

int qv_malloc_trim(void) { return malloc_trim(0); }

int qv_malloc_keep_heap(int trim_threshold, int top_pad) {
    return mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1 && mallopt(M_TOP_PAD, top_pad) == 1;
}

int qv_malloc_arena_max(int arenas) { return mallopt(M_ARENA_MAX, arenas) == 1; }
