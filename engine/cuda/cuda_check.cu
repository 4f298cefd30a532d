/* Turning CUDA, cuBLAS and cuDNN status codes into ThawError lines:
 * "cuda: cudaMalloc(&p, bytes) failed at cuda_arena.cu:42: out of memory
 * (cudaErrorMemoryAllocation); hint: lower the batch size". */
#include "engine/cuda/cuda_check.h"

#include <stdio.h>
#include <string.h>

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

const char *thaw_cuda_runtime_hint(cudaError_t status)
{
    switch (status) {
    case cudaErrorNoDevice:
        return "no NVIDIA GPU is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES";
    case cudaErrorInsufficientDriver:
        return "the NVIDIA driver is missing or older than this CUDA runtime: "
               "install or update the driver";
    case cudaErrorInvalidDevice:
        return "no device with that index: see nvidia-smi for the valid ones";
    case cudaErrorMemoryAllocation:
        return "out of GPU memory: lower the batch size or free the GPU";
    case cudaErrorNoKernelImageForDevice:
        return "this build has no kernels for the GPU's architecture: rebuild "
               "with -DCMAKE_CUDA_ARCHITECTURES=<its sm>";
    case cudaErrorInvalidConfiguration:
        return "bad kernel launch configuration (a thaw bug: report it)";
    case cudaErrorIllegalAddress:
        return "a kernel read or wrote outside its buffers (a thaw bug: rerun "
               "under compute-sanitizer)";
    default:
        return "";
    }
}

const char *thaw_cublas_status_name(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
    }
}

static const char *cublas_hint(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "cuBLAS could not start: no usable GPU, or a driver/library mismatch";
    case CUBLAS_STATUS_ALLOC_FAILED:
        return "out of GPU memory: lower the batch size";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "bad sizes or leading dimensions (a thaw bug: report it)";
    case CUBLAS_STATUS_ARCH_MISMATCH:
        return "the GPU lacks a feature this call needs";
    default:
        return "";
    }
}

static const char *cudnn_hint(cudnnStatus_t status)
{
    switch (status) {
    case CUDNN_STATUS_NOT_SUPPORTED:
        return "cuDNN has no kernel for this shape, layout or algorithm";
    case CUDNN_STATUS_BAD_PARAM:
        return "bad descriptor or argument (a thaw bug: report it)";
    case CUDNN_STATUS_ALLOC_FAILED:
        return "out of GPU memory: lower the batch size or the workspace limit";
    case CUDNN_STATUS_NOT_INITIALIZED:
        return "cuDNN could not start: no usable GPU, or a driver/library mismatch";
    default:
        return "";
    }
}

static int fail(ThawError *err, const char *lib, const char *call,
                const char *file, int line, const char *what, const char *hint)
{
    return thaw_fail(err, THAW_ERR_CUDA, "%s: %s failed at %s:%d: %s%s%s", lib,
                     call, base_name(file), line, what, hint[0] ? "; hint: " : "",
                     hint);
}

int thaw_cuda_fail_runtime(ThawError *err, cudaError_t status, const char *call,
                           const char *file, int line)
{
    char what[256];
    snprintf(what, sizeof what, "%s (%s)", cudaGetErrorString(status),
             cudaGetErrorName(status));
    return fail(err, "cuda", call, file, line, what, thaw_cuda_runtime_hint(status));
}

int thaw_cuda_fail_cublas(ThawError *err, cublasStatus_t status,
                          const char *call, const char *file, int line)
{
    return fail(err, "cublas", call, file, line, thaw_cublas_status_name(status),
                cublas_hint(status));
}

int thaw_cuda_fail_cudnn(ThawError *err, cudnnStatus_t status, const char *call,
                         const char *file, int line)
{
    return fail(err, "cudnn", call, file, line, cudnnGetErrorString(status),
                cudnn_hint(status));
}
