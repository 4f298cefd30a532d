/* Linear layer through cuBLAS. cuBLAS is column-major; a row-major [r, c]
 * matrix is its column-major transpose, so each row-major product
 * C = A B is computed as C^T = B^T A^T with the operands swapped:
 *   forward:  out^T[o, n]  = W^T'[o, i] in^T[i, n]   (W stored [o, i]: op T)
 *   din:      din^T[i, n] += W^T[i, o] dout^T[o, n]
 *   dW:       dW^T[i, o]  += in^T[i, n] dout[n, o]     (dout^T stored: op T)
 * Bias: broadcast into out first, then GEMM with beta = 1. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"

__global__ static void broadcast_rows(float *out, const float *bias, size_t n,
                                      int cols)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        out[i] = bias[i % cols];
    }
}

/* One thread per column; rows summed in order, like the CPU loop. */
__global__ static void add_column_sums(float *dbias, const float *dout, int rows,
                                       int cols)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= cols) {
        return;
    }
    float sum = dbias[o];
    for (int r = 0; r < rows; r++) {
        sum += dout[(size_t)r * cols + o];
    }
    dbias[o] = sum;
}

int thaw_cuda_linear_forward(ThawCudaContext *ctx, float *out, const float *in,
                             const float *weight, const float *bias, int n,
                             int in_features, int out_features, ThawError *err)
{
    if (n <= 0 || out_features <= 0) {
        return 0;
    }
    const size_t total = (size_t)n * out_features;
    float beta = 0.0f;
    if (bias) {
        broadcast_rows<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
            out, bias, total, out_features);
        THAW_CUDA_CHECK_LAUNCH("broadcast_rows");
        beta = 1.0f;
    }
    if (in_features <= 0) {
        return bias ? 0 : thaw_cuda_zero(ctx, out, total * sizeof(float), err);
    }
    const float alpha = 1.0f;
    THAW_CUBLAS_CHECK(cublasSgemm(ctx->cublas, CUBLAS_OP_T, CUBLAS_OP_N,
                                  out_features, n, in_features, &alpha, weight,
                                  in_features, in, in_features, &beta, out,
                                  out_features));
    return 0;
}

int thaw_cuda_linear_backward(ThawCudaContext *ctx, float *din, float *dweight,
                              float *dbias, const float *dout, const float *in,
                              const float *weight, int n, int in_features,
                              int out_features, ThawError *err)
{
    if (n <= 0 || in_features < 0) {
        return 0;
    }
    if (out_features <= 0) {   /* no outputs: din gets nothing (written: zeros) */
        return din && ctx->din_assign
                   ? thaw_cuda_zero(ctx, din, (size_t)n * in_features * sizeof(float), err)
                   : 0;
    }
    const float one = 1.0f, din_beta = ctx->din_assign ? 0.0f : 1.0f;
    if (din && in_features > 0) {
        THAW_CUBLAS_CHECK(cublasSgemm(ctx->cublas, CUBLAS_OP_N, CUBLAS_OP_N,
                                      in_features, n, out_features, &one, weight,
                                      in_features, dout, out_features, &din_beta, din,
                                      in_features));
    }
    if (dweight && in_features > 0) {
        THAW_CUBLAS_CHECK(cublasSgemm(ctx->cublas, CUBLAS_OP_N, CUBLAS_OP_T,
                                      in_features, out_features, n, &one, in,
                                      in_features, dout, out_features, &one,
                                      dweight, in_features));
    }
    if (dbias) {
        unsigned blocks = (unsigned)((out_features + THAW_CUDA_THREADS - 1) / THAW_CUDA_THREADS);
        add_column_sums<<<blocks, THAW_CUDA_THREADS, 0, ctx->stream>>>(
            dbias, dout, n, out_features);
        THAW_CUDA_CHECK_LAUNCH("add_column_sums");
    }
    return 0;
}
