/* The CUDA backend's answers in a build without it (THAW_CUDA=OFF, no
 * toolkit, sanitizer builds): not compiled in, zero devices. With CUDA the
 * .cu files define these functions and this file compiles to nothing. */
#include "engine/cuda/cuda_device.h"

#ifndef THAW_HAVE_CUDA

#include <stdio.h>

int thaw_cuda_compiled(void)
{
    return 0;
}

const char *thaw_cuda_build_info(void)
{
    return "CUDA backend: not compiled in (configure with -DTHAW_CUDA=ON on a "
           "machine with nvcc, cuBLAS and cuDNN)";
}

void thaw_cuda_device_count(int *count, char *reason, size_t reason_cap)
{
    *count = 0;
    if (reason && reason_cap > 0) {
        snprintf(reason, reason_cap, "this build has no CUDA backend");
    }
}

int thaw_cuda_device_info(int device, ThawCudaDeviceInfo *info, ThawError *err)
{
    (void)info;
    return thaw_fail(err, THAW_ERR_CUDA,
                     "CUDA device %d: this build has no CUDA backend", device);
}

#endif
