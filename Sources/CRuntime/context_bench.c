// The raw-switch floor for `qvtop bench switch`: the same ping-pong as the anchor's c/w1_switch
// "asm" row, but through qv_context_switch (which also saves the FP control words) and in the
// qvtop process, so the fiber figure can be read against a floor taken at the same moment.
#include "qv_context.h"
#include <stdlib.h>
#include <time.h>

static void *bench_main_sp;
static void *bench_co_sp;

static void bench_body(void *arg) {
    (void)arg;
    for (;;) qv_context_switch(&bench_co_sp, bench_main_sp);
}

static void bench_never(void *arg) {
    (void)arg;
    abort();
}

static uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double qv_context_pingpong_ns(long round_trips) {
    enum { size = 64 * 1024 };
    char *stack = aligned_alloc(64, size);
    if (stack == NULL || round_trips <= 0) return -1;
    bench_co_sp = qv_context_make(stack + size, bench_body, bench_never, NULL);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < round_trips; i++) qv_context_switch(&bench_main_sp, bench_co_sp);
    uint64_t t1 = bench_now_ns();
    free(stack);  // the coroutine is parked in its loop forever; nothing runs on it again
    return (double)(t1 - t0) / (2.0 * (double)round_trips);
}
