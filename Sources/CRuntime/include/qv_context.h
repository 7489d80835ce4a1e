// Fiber context switch: declared here, implemented in assembly by the fiber code (issue 3).
#ifndef QVTOP_QV_CONTEXT_H
#define QVTOP_QV_CONTEXT_H
#ifdef __cplusplus
extern "C" {
#endif
// (filled by the fibers work)
#ifdef __cplusplus
}
#endif
#endif
