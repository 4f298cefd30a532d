/* Linear layer through cuBLAS. cuBLAS is column-major; a row-major [r, c]
 * matrix is its column-major transpose, so each row-major product
 * C = A B is computed as C^T = B^T A^T with the operands swapped:
 *   forward:  out^T[o, n]  = W^T'[o, i] in^T[i, n]   (W stored [o, i]: op T)
 *   din:      din^T[i, n] += W^T[i, o] dout^T[o, n]
 *   dW:       dW^T[i, o]  += in^T[i, n] dout[n, o]     (dout^T stored: op T)
 * Bias: broadcast into out first, then GEMM with beta = 1; its gradient is
 * the column sums of dout (the chunked double sums of cuda_channel_sums.h:
 * a thread per column summing every row in order, the first version, kept
 * a few hundred threads busy for a whole BERT-sized batch). */
#include "engine/cuda/cuda_channel_sums.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"

__global__ static void broadcast_rows(float *out, const float *bias, unsigned n, unsigned cols)
{
    GRID_STRIDE(i, n) {
        out[i] = bias[i % cols];
    }
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
        LAUNCH(broadcast_rows, total, out, bias, (unsigned)total, (unsigned)out_features);
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
    return dbias ? thaw_cuda_add_column_sums(ctx, dbias, dout, n, out_features, err) : 0;
}
