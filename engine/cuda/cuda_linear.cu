/* Linear layer through cuBLAS. cuBLAS is column-major; a row-major [r, c]
 * matrix is its column-major transpose, so each row-major product
 * C = A B is computed as C^T = B^T A^T with the operands swapped:
 *   forward:  out^T[o, n]  = W^T'[o, i] in^T[i, n]   (W stored [o, i]: op T)
 *   din:      din^T[i, n] += W^T[i, o] dout^T[o, n]
 *   dW:       dW^T[i, o]  += in^T[i, n] dout[n, o]     (dout^T stored: op T)
 * Bias: broadcast into out first, then GEMM with beta = 1; its gradient is
 * the column sums of dout (the chunked double sums of cuda_channel_sums.h:
 * a thread per column summing every row in order, the first version, kept
 * a few hundred threads busy for a whole BERT-sized batch). On a bf16
 * context (cuda_context.h) the operands are bf16, the weight gradient
 * float. */
#include "engine/cuda/cuda_channel_sums.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_storage.h"

template <typename S>
__global__ static void broadcast_rows(S *out, const float *bias, unsigned n, unsigned cols)
{
    GRID_STRIDE(i, n) {
        out[i] = thaw_st<S>(bias[i % cols]);
    }
}

/* C = A B + beta C (cuBLAS's column-major terms, alpha 1): fp32 Sgemm on
 * an fp32 context (its math mode decides TF32); on a bf16 one A and B are
 * bf16 and C is bf16, or float where c_float (weight gradients, added to
 * the fp32 master gradients), accumulated in fp32 on tensor cores. */
static int gemm(ThawCudaContext *ctx, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                int k, const void *a, int lda, const void *b, int ldb, float beta, void *c,
                int c_float, int ldc, ThawError *err)
{
    const float one = 1.0f;
    if (!ctx->act_bf16) {
        THAW_CUBLAS_CHECK(cublasSgemm(ctx->cublas, ta, tb, m, n, k, &one, (const float *)a, lda,
                                      (const float *)b, ldb, &beta, (float *)c, ldc));
        return 0;
    }
    THAW_CUBLAS_CHECK(cublasGemmEx(ctx->cublas, ta, tb, m, n, k, &one, a, CUDA_R_16BF, lda, b,
                                   CUDA_R_16BF, ldb, &beta, c,
                                   c_float ? CUDA_R_32F : CUDA_R_16BF, ldc,
                                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}

int thaw_cuda_linear_forward(ThawCudaContext *ctx, void *out, const void *in,
                             const void *weight, const float *bias, int n,
                             int in_features, int out_features, ThawError *err)
{
    if (n <= 0 || out_features <= 0) {
        return 0;
    }
    const size_t total = (size_t)n * out_features;
    float beta = 0.0f;
    if (bias) {
        if (ctx->act_bf16) {
            LAUNCH(broadcast_rows<thaw_bf16>, total, (thaw_bf16 *)out, bias, (unsigned)total,
                   (unsigned)out_features);
        } else {
            LAUNCH(broadcast_rows<float>, total, (float *)out, bias, (unsigned)total,
                   (unsigned)out_features);
        }
        beta = 1.0f;
    }
    if (in_features <= 0) {
        return bias ? 0 : thaw_cuda_zero(ctx, out, total * THAW_ACT_BYTES(ctx), err);
    }
    return gemm(ctx, CUBLAS_OP_T, CUBLAS_OP_N, out_features, n, in_features, weight,
                in_features, in, in_features, beta, out, 0, out_features, err);
}

int thaw_cuda_linear_backward(ThawCudaContext *ctx, void *din, float *dweight,
                              float *dbias, const void *dout, const void *in,
                              const void *weight, int n, int in_features,
                              int out_features, ThawError *err)
{
    if (n <= 0 || in_features < 0) {
        return 0;
    }
    if (out_features <= 0) {   /* no outputs: din gets nothing (written: zeros) */
        return din && ctx->din_assign
                   ? thaw_cuda_zero(ctx, din, (size_t)n * in_features * THAW_ACT_BYTES(ctx),
                                    err)
                   : 0;
    }
    const float din_beta = ctx->din_assign ? 0.0f : 1.0f;
    int rc = 0;
    if (din && in_features > 0) {
        rc = gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_N, in_features, n, out_features, weight,
                  in_features, dout, out_features, din_beta, din, 0, in_features, err);
    }
    if (rc == 0 && dweight && in_features > 0) {
        rc = gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_T, in_features, out_features, n, in,
                  in_features, dout, out_features, 1.0f, dweight, 1, in_features, err);
    }
    return rc == 0 && dbias ? thaw_cuda_add_column_sums(ctx, dbias, dout, n, out_features, err)
                            : rc;
}
