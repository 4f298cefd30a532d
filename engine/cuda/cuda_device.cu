/* Device discovery for the CUDA backend. No GPU, no driver: zero devices
 * and the runtime's reason, never an error. */
#include "engine/cuda/cuda_check.h"

#include <stdio.h>

#define THAW_STR2(...) #__VA_ARGS__
#define THAW_STR(...) THAW_STR2(__VA_ARGS__)
#ifdef __CUDA_ARCH_LIST__
#define THAW_ARCHS THAW_STR(__CUDA_ARCH_LIST__)
#else
#define THAW_ARCHS "unknown"
#endif

int thaw_cuda_compiled(void)
{
    return 1;
}

const char *thaw_cuda_build_info(void)
{
    static char line[160];
    snprintf(line, sizeof line,
             "CUDA backend: compiled in (CUDA runtime %d.%d, cuDNN %d.%d.%d, "
             "archs %s)",
             CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, CUDNN_MAJOR,
             CUDNN_MINOR, CUDNN_PATCHLEVEL, THAW_ARCHS);
    return line;
}

void thaw_cuda_device_count(int *count, char *reason, size_t reason_cap)
{
    int n = 0;
    cudaError_t status = cudaGetDeviceCount(&n);
    if (status != cudaSuccess) {
        (void)cudaGetLastError();   /* not sticky: clear it for later calls */
        n = 0;
        if (reason && reason_cap > 0) {
            const char *hint = thaw_cuda_runtime_hint(status);
            snprintf(reason, reason_cap, "%s (%s)%s%s", cudaGetErrorString(status),
                     cudaGetErrorName(status), hint[0] ? "; " : "", hint);
        }
    } else if (n == 0 && reason && reason_cap > 0) {
        snprintf(reason, reason_cap, "the driver reports no CUDA device");
    } else if (reason && reason_cap > 0) {
        reason[0] = '\0';
    }
    *count = n;
}

int thaw_cuda_device_info(int device, ThawCudaDeviceInfo *info, ThawError *err)
{
    cudaDeviceProp prop;
    THAW_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int previous = 0;
    THAW_CUDA_CHECK(cudaGetDevice(&previous));
    THAW_CUDA_CHECK(cudaSetDevice(device));
    size_t free_bytes = 0, total_bytes = 0;
    cudaError_t status = cudaMemGetInfo(&free_bytes, &total_bytes);
    THAW_CUDA_CHECK(cudaSetDevice(previous));
    if (status != cudaSuccess) {
        return thaw_cuda_fail_runtime(err, status, "cudaMemGetInfo(&free, &total)",
                                      __FILE__, __LINE__);
    }
    info->index = device;
    snprintf(info->name, sizeof info->name, "%s", prop.name);
    info->cc_major = prop.major;
    info->cc_minor = prop.minor;
    info->multiprocessors = prop.multiProcessorCount;
    info->total_bytes = total_bytes;
    info->free_bytes = free_bytes;
    return 0;
}
