/* The context's insides, for the backend's .cu files only. */
#ifndef THAW_CUDA_CONTEXT_INTERNAL_H
#define THAW_CUDA_CONTEXT_INTERNAL_H

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_context.h"

struct ThawCudaContext {
    int device;
    int allow_tf32;
    cudaStream_t stream;
    cublasHandle_t cublas;
    cudnnHandle_t cudnn;
    void *workspace;            /* cuDNN scratch, grown up to the limit */
    size_t workspace_bytes, workspace_limit;
};

/* Threads per block for flat elementwise kernels, and their grid size. */
#define THAW_CUDA_THREADS 256
static inline unsigned thaw_cuda_blocks(size_t n)
{
    size_t b = (n + THAW_CUDA_THREADS - 1) / THAW_CUDA_THREADS;
    if (b > 65535u * 8u) {
        b = 65535u * 8u;        /* kernels stride over the rest */
    }
    return (unsigned)(b ? b : 1);
}

#endif
