// CRuntime: the few things Swift cannot do or import on Linux.
// - epoll / eventfd / timerfd (Glibc's Swift module lacks them),
// - a non-const thread id (glibc declares pthread_self() const; see Fiber design notes),
// - errno access that is not cached across a fiber switch,
// - the fiber context switch (declared in qv_context.h, owned by the fiber code).
#ifndef QVTOP_CRUNTIME_H
#define QVTOP_CRUNTIME_H
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include "qv_context.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel thread id via syscall(SYS_gettid). Never cached by the compiler (not declared const).
pid_t qv_gettid(void);
/// Current errno, read through a real call so an optimizer cannot reuse a stale TLS address across a switch.
int qv_errno(void);
void qv_set_errno(int value);

int qv_epoll_create(void);
/// events: EPOLLIN / EPOLLOUT / ... ; data: user token.
int qv_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);

int qv_eventfd(unsigned int initval, int flags);
/// Adds 1 to the eventfd counter (wakes a waiter). Returns 0 or -1.
int qv_eventfd_signal(int fd);
/// Reads and resets the counter; returns the value or 0 when none was pending (non-blocking fd).
uint64_t qv_eventfd_drain(int fd);
/// Blocks in ppoll until `fd` is readable or `timeout_ns` passed (-1 = forever; ns precision, which poll's ms
/// timeout lacks): 1 readable, 0 timed out, -1 error (errno; EINTR is the caller's to retry). StopSignal's sleep.
int qv_poll_readable_ns(int fd, int64_t timeout_ns);

/// Waits for epoll events up to timeout_ns (-1 = forever, 0 = poll) via epoll_pwait2, retrying on EINTR; falls
/// back to epoll_wait with the timeout rounded up to whole ms on kernels without it (loop_shims.c). Fills
/// out_events/out_data (length max, at most 256). Returns the count or -1. The one epoll wait (EpollSet).
int qv_epoll_wait_ns(int epfd, uint32_t *out_events, uint64_t *out_data, int max, int64_t timeout_ns);
/// 1 until an epoll_pwait2 call has failed with ENOSYS.
int qv_has_epoll_pwait2(void);
/// Monotonic ns for the event loop's per-job timing: a calibrated invariant TSC when the CPU has
/// one (~18 ns), else CLOCK_MONOTONIC. Same scale as qv_now_ns (within ~1e-5 rate error).
uint64_t qv_fast_now_ns(void);
/// 1 when qv_fast_now_ns reads the TSC.
int qv_fast_clock_is_tsc(void);
/// Sets the calling thread's timer slack (prctl PR_SET_TIMERSLACK; default 50 µs). Returns 0 or -1.
int qv_set_timer_slack_ns(unsigned long ns);
/// Names the calling thread (first 15 bytes; shown by top -H, gdb). Returns 0 or an errno.
int qv_set_thread_name(const char *name);

/// Sets O_NONBLOCK on fd. Returns 0 or -1.
int qv_set_nonblocking(int fd);

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC).
uint64_t qv_now_ns(void);

/// Retains a Swift object (swift_retain) and returns it, as an opaque C call. For code that publishes a
/// retained pointer through an atomic store: Swift's ARC optimizer treats its own retain as free of memory
/// effects and sank `Unmanaged.passRetained(x)` below the release store of `LocalQueue.push` (seen in the
/// release build's machine code), so a thief could take, run and release the object before the retain
/// happened — freeing it under its owner. An opaque call may write memory, so it stays before the store.
/// Reduced reproducer (both orders, compiled with swiftc -O): Tests/RuntimeTests/RetainOrderTests.swift.
void *qv_retain_object(void *object);

/// `qv_retain_object` with a non-atomic increment (swift_nonatomic_retain), for an object no other thread can
/// reach yet (a task record between its allocation and the store that publishes it): the publishing release
/// store orders the plain increment before any other thread's access, as it does the object's initialisation.
void *qv_retain_fresh_object(void *object);

/// The calling thread's carrier (an unretained Swift object pointer), or NULL: a C `__thread` slot (initial-exec,
/// as `qv_current` in fiber.c) read through a real, non-inline call, so a fiber that migrated to another thread
/// reads its new carrier (a TLS address computed before a switch and reused after it would be the old thread's).
/// Two instructions per read; the pthread key it replaces cost a `pthread_getspecific` call (~10 instructions,
/// 6–7 reads per channel message: see docs/performance.md, Session 6).
void *qv_carrier_get(void);
void qv_carrier_set(void *carrier);

/// glibc's malloc_trim(0) (malloc.h, which Swift's Glibc module does not import): returns every free page of
/// the heap to the kernel. For an executable's heap policy (qvtop's HeapPolicy); the runtime never calls it.
int qv_malloc_trim(void);

/// mallopt(M_TRIM_THRESHOLD, trim_threshold) and mallopt(M_TOP_PAD, top_pad) (malloc.h); 1 when both took.
/// For an executable's heap policy, as qv_malloc_trim.
int qv_malloc_keep_heap(int trim_threshold, int top_pad);
/// mallopt(M_ARENA_MAX, arenas): at most `arenas` malloc arenas for all threads. Before any thread starts; returns 1
/// on success. For an executable's heap policy (qvtop's HeapPolicy); the runtime never calls it.
int qv_malloc_arena_max(int arenas);

/// Gives the calling thread an alternate signal stack (64 KiB, guard page below) unless it has one, so crash
/// handlers installed with SA_ONSTACK run even when the thread's stack overflowed. Freed at thread exit.
/// Returns 0 or -1 (mmap/sigaltstack failed). Called first thing on every scheduler carrier (altstack.c).
int qv_altstack_install(void);
/// 1 when the calling thread has an alternate signal stack enabled.
int qv_altstack_active(void);
/// 1 when the calling code runs on the thread's alternate signal stack (inside a handler that uses it).
int qv_on_altstack(void);
/// Writes a crash line for signal `sig` at fault address `addr`; called from a signal handler.
typedef void (*qv_crash_describe_fn)(int sig, void *addr);
/// Installs (once) SA_ONSTACK handlers for SIGSEGV and SIGBUS that call `describe`, put back the handler
/// found at install time and let the signal reach it. Returns 0 or -1.
int qv_fiber_crash_install(qv_crash_describe_fn describe);
/// write(2) of all `count` bytes to stderr (async-signal-safe; for crash reports).
void qv_write_stderr(const char *bytes, long count);

/// Constants Swift cannot import as macros on every libc.
static inline uint32_t qv_EPOLLIN(void) { return EPOLLIN; }
static inline uint32_t qv_EPOLLOUT(void) { return EPOLLOUT; }
static inline uint32_t qv_EPOLLERR(void) { return EPOLLERR; }
static inline uint32_t qv_EPOLLHUP(void) { return EPOLLHUP; }
static inline uint32_t qv_EPOLLRDHUP(void) { return EPOLLRDHUP; }
static inline uint32_t qv_EPOLLONESHOT(void) { return EPOLLONESHOT; }
static inline uint32_t qv_EPOLLET(void) { return (uint32_t)EPOLLET; }
static inline int qv_EPOLL_CTL_ADD(void) { return EPOLL_CTL_ADD; }
static inline int qv_EPOLL_CTL_MOD(void) { return EPOLL_CTL_MOD; }
static inline int qv_EPOLL_CTL_DEL(void) { return EPOLL_CTL_DEL; }
static inline int qv_EFD_NONBLOCK(void) { return EFD_NONBLOCK; }
static inline int qv_EFD_CLOEXEC(void) { return EFD_CLOEXEC; }

#ifdef __cplusplus
}
#endif
#endif
