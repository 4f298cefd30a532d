/* CUDA backend: is it compiled in, and which devices are there. Plain C, no
 * CUDA headers: app/ and tests include it whether or not CUDA was built
 * (engine/cuda/cuda_stub.c answers when it was not). */
#ifndef THAW_CUDA_DEVICE_H
#define THAW_CUDA_DEVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"   /* C linkage; THAW_ERR_CUDA lives there */

typedef struct {
    int index;
    char name[256];
    int cc_major, cc_minor;     /* compute capability (9.0 = H100) */
    int multiprocessors;
    size_t total_bytes, free_bytes;
} ThawCudaDeviceInfo;

/* 1 when this binary carries the CUDA backend. */
int thaw_cuda_compiled(void);

/* One line for --help: "CUDA backend: compiled in (CUDA 13.0, cuDNN 9.x,
 * sm_80 sm_90)" or "CUDA backend: not compiled in (...)". */
const char *thaw_cuda_build_info(void);

/* Number of usable devices. Never fails: no driver, no device or no CUDA in
 * the build give *count = 0 and a one-line reason (reason may be NULL). */
void thaw_cuda_device_count(int *count, char *reason, size_t reason_cap);

/* Name, compute capability and memory of one device. */
int thaw_cuda_device_info(int device, ThawCudaDeviceInfo *info, ThawError *err);

#ifdef __cplusplus
}
#endif

#endif
