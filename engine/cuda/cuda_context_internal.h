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
    int deterministic;          /* cuDNN algorithms with a fixed order only */
    int benchmark;              /* time the algorithms (cudnnFind*) */
    int gemm_1x1;               /* 1x1 convolutions through cuBLAS (2: timed) */
    int own_depthwise;          /* depthwise convolutions on own kernels */
    int cudnn_batchnorm;        /* train-mode batch norm on cuDNN's kernels */
    cudnnTensorDescriptor_t bn_x, bn_param;   /* set per batch norm call */
    long cudnn_bn_calls;        /* batch norm passes cuDNN took */
    int din_assign;             /* backward writes (=) din instead of += */
    int act_bf16;               /* activations stored as bf16 (cuda_storage.h) */
    void *workspace;            /* cuDNN scratch, grown up to the limit */
    size_t workspace_bytes, workspace_limit;
    void *scratch;              /* the backend's own per-op scratch */
    size_t scratch_bytes;
    struct ThawCudaConvPlan *conv_plans;   /* cuda_conv.cu's algorithm cache */
};

/* Device scratch of at least bytes, valid until the next call on ctx that
 * asks for scratch: an op asks once and carves its pieces from it. Growing
 * waits for the stream first, so kernels still reading the old block are
 * done. Steady-state training asks for no new memory. */
int thaw_cuda_scratch(ThawCudaContext *ctx, size_t bytes, void **out,
                      ThawError *err);
/* A device allocation that only grows (re-plans reuse it). */
typedef struct {
    void *ptr;
    size_t bytes;
} DevBlock;

/* Grows b to at least bytes, contents not kept (waits for ctx's stream
 * before freeing the old block: kernels may still read it). */
int thaw_cuda_block_grow(ThawCudaContext *ctx, DevBlock *b, size_t bytes, ThawError *err);

/* Grows the cuDNN workspace to bytes (callers keep bytes <= the limit). */
int thaw_cuda_workspace_reserve(ThawCudaContext *ctx, size_t bytes,
                                ThawError *err);
/* Drops every cached convolution plan (cuda_conv.cu). */
void thaw_cuda_conv_cache_clear(ThawCudaContext *ctx);

/* Threads per block for flat elementwise kernels, and their grid size. */
#define THAW_CUDA_THREADS 256
/* Largest flat kernel size: 32-bit indices plus one grid's stride. */
#define THAW_CUDA_MAX_FLAT ((size_t)0xF0000000u)
static inline unsigned thaw_cuda_blocks(size_t n)
{
    size_t b = (n + THAW_CUDA_THREADS - 1) / THAW_CUDA_THREADS;
    if (b > 65535u * 8u) {
        b = 65535u * 8u;        /* kernels stride over the rest */
    }
    return (unsigned)(b ? b : 1);
}

#ifdef __CUDACC__
/* A grid-stride loop over [0, n): one flat index per thread and pass. The
 * index is 32-bit: a 64-bit modulo per element (the channel of an NHWC
 * index) costs more than the memory traffic of these kernels; launches
 * check n < THAW_CUDA_MAX_FLAT. */
#define GRID_STRIDE(i, n)                                                      \
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < (n);         \
         i += gridDim.x * blockDim.x)

/* The fused activation of ThawCudaAct (cuda_ops.h): the relu / relu6
 * kernels' own compare-and-select. */
__device__ __forceinline__ float thaw_cuda_act(float v, int act)
{
    if (act == 0) {
        return v;
    }
    v = v < 0.0f ? 0.0f : v;
    return act == 2 && v > 6.0f ? 6.0f : v;
}

/* Launches a flat kernel over n items on ctx->stream (a `ctx` in scope)
 * and checks the launch; nothing is launched for n == 0. */
#define LAUNCH(kernel, n, ...)                                                 \
    do {                                                                       \
        if ((size_t)(n) >= THAW_CUDA_MAX_FLAT) {                              \
            return thaw_fail(err, THAW_ERR_ARG, "%s: %zu elements is over the "  \
                             "GPU backend's 32-bit index limit", #kernel,      \
                             (size_t)(n));                                     \
        }                                                                      \
        if ((n) > 0) {                                                         \
            kernel<<<thaw_cuda_blocks(n), THAW_CUDA_THREADS, 0, ctx->stream>>>(\
                __VA_ARGS__);                                                  \
            THAW_CUDA_CHECK_LAUNCH(#kernel);                                   \
        }                                                                      \
    } while (0)
#endif

#endif
