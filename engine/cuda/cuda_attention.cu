/* Multi-head self-attention on the GPU (cuda_ops.h), the CPU op's phases:
 * cuBLAS strided-batched products over the heads of each batch element
 * (cuda_attention_gemms.h describes them; tests/gpu/host_attention.cu
 * checks those descriptions on the CPU) and row kernels for the masked
 * softmax and the scores' gradient (cuda_text_body.h). */
#include "engine/cuda/cuda_attention_gemms.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_text_body.h"

#include <math.h>

__global__ static void softmax_rows(float *probs, const int32_t *key_mask, int seq, int heads,
                                    unsigned rows)
{
    GRID_STRIDE(r, rows) {
        thaw_attention_softmax_row(probs, key_mask, seq, heads, r);
    }
}

__global__ static void ds_rows(float *ds, const float *probs, const float *drop_mask, int seq,
                               unsigned rows)
{
    GRID_STRIDE(r, rows) {
        thaw_attention_ds_row(ds, probs, drop_mask, seq, r);
    }
}

static int run_gemm(ThawCudaContext *ctx, const ThawStridedGemm &g, ThawError *err)
{
    THAW_CUBLAS_CHECK(cublasSgemmStridedBatched(
        ctx->cublas, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
        g.m, g.n, g.k, &g.alpha, g.a, g.lda, g.stride_a, g.b, g.ldb, g.stride_b, &g.beta, g.c,
        g.ldc, g.stride_c, g.count));
    return 0;
}

static int check_shape(const ThawAttnShape &s, ThawError *err)
{
    if (s.batch <= 0 || s.seq <= 0 || s.heads <= 0 || s.channels <= 0 || s.channels % s.heads ||
        (size_t)s.batch * s.heads * s.seq * s.seq >= THAW_CUDA_MAX_FLAT) {
        return thaw_fail(err, THAW_ERR_ARG, "attention: bad shape (batch %d, seq %d, "
                         "channels %d, heads %d)", s.batch, s.seq, s.channels, s.heads);
    }
    return 0;
}

extern "C" {

int thaw_cuda_attention_probs_forward(ThawCudaContext *ctx, float *probs, const float *q,
                                      const float *k, const int32_t *key_mask, int batch,
                                      int seq, int channels, int heads, ThawError *err)
{
    const ThawAttnShape s = {batch, seq, channels, heads};
    int rc = check_shape(s, err);
    if (rc) {
        return rc;
    }
    const float scale = 1.0f / sqrtf((float)(channels / heads));
    for (int b = 0; b < batch && !rc; b++) {
        rc = run_gemm(ctx, thaw_attn_scores(&s, probs, q, k, scale, b), err);
    }
    if (rc) {
        return rc;
    }
    const unsigned rows = (unsigned)((size_t)batch * heads * seq);
    softmax_rows<<<thaw_cuda_blocks(rows), THAW_CUDA_THREADS, 0, ctx->stream>>>(
        probs, key_mask, seq, heads, rows);
    THAW_CUDA_CHECK_LAUNCH("softmax_rows");
    return 0;
}

int thaw_cuda_attention_context_forward(ThawCudaContext *ctx, float *out,
                                        const float *probs_used, const float *v, int batch,
                                        int seq, int channels, int heads, ThawError *err)
{
    const ThawAttnShape s = {batch, seq, channels, heads};
    int rc = check_shape(s, err);
    for (int b = 0; b < batch && !rc; b++) {
        rc = run_gemm(ctx, thaw_attn_context(&s, out, probs_used, v, b), err);
    }
    return rc;
}

int thaw_cuda_attention_backward(ThawCudaContext *ctx, float *dq, float *dk, float *dv,
                                 const float *dout, const float *q, const float *k,
                                 const float *v, const float *probs, const float *probs_used,
                                 const float *drop_mask, int batch, int seq, int channels,
                                 int heads, ThawError *err)
{
    const ThawAttnShape s = {batch, seq, channels, heads};
    int rc = check_shape(s, err);
    if (rc) {
        return rc;
    }
    const float scale = 1.0f / sqrtf((float)(channels / heads));
    const float beta = ctx->din_assign ? 0.0f : 1.0f;   /* one flag for dq, dk and dv */
    for (int b = 0; b < batch && !rc && dv; b++) {
        rc = run_gemm(ctx, thaw_attn_dv(&s, dv, probs_used, dout, beta, b), err);
    }
    if (rc || (!dq && !dk)) {
        return rc;
    }
    const size_t rows = (size_t)batch * heads * seq;
    float *ds = NULL;
    rc = thaw_cuda_scratch(ctx, rows * seq * sizeof(float), (void **)&ds, err);
    for (int b = 0; b < batch && !rc; b++) {
        rc = run_gemm(ctx, thaw_attn_ds(&s, ds, dout, v, b), err);
    }
    if (rc) {
        return rc;
    }
    ds_rows<<<thaw_cuda_blocks(rows), THAW_CUDA_THREADS, 0, ctx->stream>>>(
        ds, probs, drop_mask, seq, (unsigned)rows);
    THAW_CUDA_CHECK_LAUNCH("ds_rows");
    for (int b = 0; b < batch && !rc && dq; b++) {
        rc = run_gemm(ctx, thaw_attn_dq(&s, dq, ds, k, scale, beta, b), err);
    }
    for (int b = 0; b < batch && !rc && dk; b++) {
        rc = run_gemm(ctx, thaw_attn_dk(&s, dk, ds, q, scale, beta, b), err);
    }
    return rc;
}

} /* extern "C" */
