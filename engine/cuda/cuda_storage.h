/* Activation storage types for the backend's .cu files. The graph
 * executor's activations (and their gradients) are float, or bf16 in the
 * bf16 mixed-precision mode (thaw_cuda_context_set_bf16): kernels are
 * templates on the storage type S, load S into float registers, compute in
 * float and round once when they store, as PyTorch's autocast kernels do.
 * Parameters, their gradients, BN statistics and every reduction stay
 * float (or double). __host__ __device__ so tests/gpu/host_*.cu can run
 * kernel bodies over bf16 maps on the CPU. */
#ifndef THAW_CUDA_STORAGE_H
#define THAW_CUDA_STORAGE_H

#include <cuda_bf16.h>

typedef __nv_bfloat16 thaw_bf16;

__host__ __device__ __forceinline__ float thaw_ld(float v)
{
    return v;
}

__host__ __device__ __forceinline__ float thaw_ld(thaw_bf16 v)
{
    return __bfloat162float(v);
}

/* A float as storage type S: itself, or bf16 rounded to nearest even. */
template <typename S> __host__ __device__ __forceinline__ S thaw_st(float v);

template <> __host__ __device__ __forceinline__ float thaw_st<float>(float v)
{
    return v;
}

template <> __host__ __device__ __forceinline__ thaw_bf16 thaw_st<thaw_bf16>(float v)
{
    return __float2bfloat16_rn(v);
}

/* fn<thaw_bf16>(...) when ctx stores activations in bf16, else fn<float>. */
#define THAW_BY_STORAGE(ctx, fn, ...)                                          \
    ((ctx)->act_bf16 ? fn<thaw_bf16>(__VA_ARGS__) : fn<float>(__VA_ARGS__))

/* Bytes of one activation element on ctx. */
#define THAW_ACT_BYTES(ctx) ((size_t)((ctx)->act_bf16 ? 2 : 4))

#endif
