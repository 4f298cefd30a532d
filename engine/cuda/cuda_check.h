/* Checks for every CUDA runtime, cuBLAS and cuDNN call: a failure becomes a
 * ThawError naming the call, where it was made, the library's own words and
 * a hint, and the enclosing function returns THAW_ERR_CUDA. Never exits:
 * the caller (the engine thread) reports it and the screen is restored.
 * For .cu files only (needs the CUDA headers). Each macro expects a
 * ThawError *err in scope. */
#ifndef THAW_CUDA_CHECK_H
#define THAW_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"   /* C linkage for thaw_fail in .cu files */
#include "engine/cuda/cuda_device.h"

/* Fill err for a failed call; each returns THAW_ERR_CUDA. */
int thaw_cuda_fail_runtime(ThawError *err, cudaError_t status, const char *call,
                           const char *file, int line);
int thaw_cuda_fail_cublas(ThawError *err, cublasStatus_t status,
                          const char *call, const char *file, int line);
int thaw_cuda_fail_cudnn(ThawError *err, cudnnStatus_t status, const char *call,
                         const char *file, int line);

/* What to do about a failure, in a few words ("" when there is no advice). */
const char *thaw_cuda_runtime_hint(cudaError_t status);
const char *thaw_cublas_status_name(cublasStatus_t status);

#ifdef __cplusplus
}
#endif

#define THAW_CUDA_CHECK(call)                                                  \
    do {                                                                       \
        cudaError_t thaw_s_ = (call);                                          \
        if (thaw_s_ != cudaSuccess) {                                          \
            return thaw_cuda_fail_runtime(err, thaw_s_, #call, __FILE__,       \
                                          __LINE__);                           \
        }                                                                      \
    } while (0)

#define THAW_CUBLAS_CHECK(call)                                                \
    do {                                                                       \
        cublasStatus_t thaw_s_ = (call);                                       \
        if (thaw_s_ != CUBLAS_STATUS_SUCCESS) {                                \
            return thaw_cuda_fail_cublas(err, thaw_s_, #call, __FILE__,        \
                                         __LINE__);                            \
        }                                                                      \
    } while (0)

#define THAW_CUDNN_CHECK(call)                                                 \
    do {                                                                       \
        cudnnStatus_t thaw_s_ = (call);                                        \
        if (thaw_s_ != CUDNN_STATUS_SUCCESS) {                                 \
            return thaw_cuda_fail_cudnn(err, thaw_s_, #call, __FILE__,         \
                                        __LINE__);                             \
        }                                                                      \
    } while (0)

/* After a kernel launch: a bad configuration shows up here, not at launch. */
#define THAW_CUDA_CHECK_LAUNCH(kernel_name)                                    \
    do {                                                                       \
        cudaError_t thaw_s_ = cudaGetLastError();                              \
        if (thaw_s_ != cudaSuccess) {                                          \
            return thaw_cuda_fail_runtime(err, thaw_s_, "launch " kernel_name, \
                                          __FILE__, __LINE__);                 \
        }                                                                      \
    } while (0)

#endif
