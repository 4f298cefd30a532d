/* Context lifetime and raw memory for the CUDA backend. */
#include "engine/cuda/cuda_context_internal.h"

#include <stdlib.h>

#define DEFAULT_WORKSPACE_LIMIT ((size_t)256 << 20)

static int context_open(ThawCudaContext *c, ThawError *err)
{
    THAW_CUDA_CHECK(cudaSetDevice(c->device));
    THAW_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    THAW_CUBLAS_CHECK(cublasCreate(&c->cublas));
    THAW_CUBLAS_CHECK(cublasSetStream(c->cublas, c->stream));
    /* fp32 unless the run allows TF32: cuBLAS's default math keeps fp32's
     * precision (as PyTorch with allow_tf32 off); pedantic math would also
     * forbid its faster fp32 kernels. */
    THAW_CUBLAS_CHECK(cublasSetMathMode(c->cublas, c->allow_tf32
                                                       ? CUBLAS_TF32_TENSOR_OP_MATH
                                                       : CUBLAS_DEFAULT_MATH));
    THAW_CUDNN_CHECK(cudnnCreate(&c->cudnn));
    THAW_CUDNN_CHECK(cudnnSetStream(c->cudnn, c->stream));
    THAW_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->bn_x));
    THAW_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->bn_param));
    return 0;
}

int thaw_cuda_context_create(ThawCudaContext **out, int device, int allow_tf32,
                             size_t workspace_limit, ThawError *err)
{
    *out = NULL;
    ThawCudaContext *c = (ThawCudaContext *)calloc(1, sizeof *c);
    if (!c) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for a CUDA context");
    }
    c->device = device;
    c->allow_tf32 = allow_tf32;
    c->gemm_1x1 = THAW_CUDA_1X1_TIMED;
    c->own_depthwise = 1;
    c->workspace_limit = workspace_limit ? workspace_limit : DEFAULT_WORKSPACE_LIMIT;
    int rc = context_open(c, err);
    if (rc) {
        thaw_cuda_context_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

void thaw_cuda_context_destroy(ThawCudaContext *c)
{
    if (!c) {
        return;
    }
    /* Teardown errors have nowhere to go; the device may already be lost. */
    if (c->stream) {
        (void)cudaStreamSynchronize(c->stream);
    }
    thaw_cuda_conv_cache_clear(c);
    cudaFree(c->workspace);
    cudaFree(c->scratch);
    if (c->bn_x) {
        cudnnDestroyTensorDescriptor(c->bn_x);
    }
    if (c->bn_param) {
        cudnnDestroyTensorDescriptor(c->bn_param);
    }
    if (c->cudnn) {
        cudnnDestroy(c->cudnn);
    }
    if (c->cublas) {
        cublasDestroy(c->cublas);
    }
    if (c->stream) {
        cudaStreamDestroy(c->stream);
    }
    (void)cudaGetLastError();
    free(c);
}

int thaw_cuda_synchronize(ThawCudaContext *c, ThawError *err)
{
    THAW_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return 0;
}

int thaw_cuda_context_device(const ThawCudaContext *c)
{
    return c->device;
}

void thaw_cuda_context_set_deterministic(ThawCudaContext *c, int deterministic)
{
    c->deterministic = deterministic != 0;
    thaw_cuda_conv_cache_clear(c);
}

void thaw_cuda_context_set_benchmark(ThawCudaContext *c, int benchmark)
{
    c->benchmark = benchmark != 0;
    thaw_cuda_conv_cache_clear(c);
}

void thaw_cuda_context_set_din_assign(ThawCudaContext *c, int assign)
{
    c->din_assign = assign != 0;
}

void thaw_cuda_context_set_gemm_1x1(ThawCudaContext *c, int gemm_1x1)
{
    c->gemm_1x1 = gemm_1x1 == THAW_CUDA_1X1_TIMED ? THAW_CUDA_1X1_TIMED : gemm_1x1 != 0;
    thaw_cuda_conv_cache_clear(c);
}

void thaw_cuda_context_set_cudnn_batchnorm(ThawCudaContext *c, int cudnn_bn)
{
    c->cudnn_batchnorm = cudnn_bn != 0;
}

long thaw_cuda_context_cudnn_batchnorm_calls(const ThawCudaContext *c)
{
    return c->cudnn_bn_calls;
}

void thaw_cuda_context_set_bf16(ThawCudaContext *c, int bf16)
{
    c->act_bf16 = bf16 != 0;
    thaw_cuda_conv_cache_clear(c);   /* the plans' descriptors carry the type */
}

void thaw_cuda_context_set_own_depthwise(ThawCudaContext *c, int own)
{
    c->own_depthwise = own != 0;
}

size_t thaw_cuda_context_workspace_limit(const ThawCudaContext *c)
{
    return c->workspace_limit;
}

/* Replaces *block with one of at least bytes (rounded up to 1 MiB so small
 * growth steps do not reallocate each time). */
static int grow(ThawCudaContext *c, void **block, size_t *have, size_t bytes,
                ThawError *err)
{
    if (bytes <= *have && *block) {
        return 0;
    }
    size_t want = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
    THAW_CUDA_CHECK(cudaStreamSynchronize(c->stream));
    cudaFree(*block);
    *block = NULL;
    *have = 0;
    THAW_CUDA_CHECK(cudaMalloc(block, want ? want : 1));
    *have = want;
    return 0;
}

int thaw_cuda_scratch(ThawCudaContext *c, size_t bytes, void **out, ThawError *err)
{
    *out = NULL;
    int rc = grow(c, &c->scratch, &c->scratch_bytes, bytes, err);
    *out = rc ? NULL : c->scratch;
    return rc;
}

int thaw_cuda_workspace_reserve(ThawCudaContext *c, size_t bytes, ThawError *err)
{
    if (bytes == 0) {
        return 0;
    }
    return grow(c, &c->workspace, &c->workspace_bytes, bytes, err);
}

int thaw_cuda_alloc(void **ptr, size_t bytes, ThawError *err)
{
    *ptr = NULL;
    THAW_CUDA_CHECK(cudaMalloc(ptr, bytes ? bytes : 1));
    return 0;
}

void thaw_cuda_release(void *ptr)
{
    cudaFree(ptr);
}

int thaw_cuda_block_grow(ThawCudaContext *ctx, DevBlock *b, size_t bytes, ThawError *err)
{
    if (bytes <= b->bytes && b->ptr) {
        return 0;
    }
    if (b->ptr) {
        int rc = thaw_cuda_synchronize(ctx, err);
        if (rc) {
            return rc;
        }
        thaw_cuda_release(b->ptr);
        b->ptr = NULL;
        b->bytes = 0;
    }
    int rc = thaw_cuda_alloc(&b->ptr, bytes ? bytes : 16, err);
    if (rc == 0) {
        b->bytes = bytes;
    }
    return rc;
}

int thaw_cuda_upload(ThawCudaContext *c, void *dst, const void *src,
                     size_t bytes, ThawError *err)
{
    if (bytes == 0) {   /* an empty table's NULL arena */
        return 0;
    }
    THAW_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    return 0;
}

int thaw_cuda_download(ThawCudaContext *c, void *dst, const void *src,
                       size_t bytes, ThawError *err)
{
    if (bytes == 0) {   /* an empty table's NULL arena */
        return 0;
    }
    THAW_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    return 0;
}

int thaw_cuda_zero(ThawCudaContext *c, void *dst, size_t bytes, ThawError *err)
{
    if (bytes == 0) {
        return 0;
    }
    THAW_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, c->stream));
    return 0;
}
