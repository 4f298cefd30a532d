/* Multi-head self-attention on the GPU (cuda_ops.h), the CPU op's phases:
 * cuBLAS strided-batched products over the heads of each batch element
 * (cuda_attention_gemms.h describes them; tests/gpu/host_attention.cu
 * checks those descriptions on the CPU) and warp-per-row kernels for the
 * masked softmax and the scores' gradient (cuda_warp_rows.h). */
#include "engine/cuda/cuda_attention_gemms.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_warp_rows.h"

#include <math.h>

/* Score row r of [B, H, T] rows: the masked softmax in place, with batch
 * element b's key mask (NULL: every key), as attention_probs_forward. */
__global__ static void softmax_rows(float *probs, const int32_t *key_mask, int seq, int heads,
                                    unsigned rows)
{
    WARP_ROWS(r, lane, rows) {
        float *row = probs + (size_t)r * seq;
        const int32_t *mk = key_mask ? key_mask + (size_t)(r / ((unsigned)heads * seq)) * seq
                                     : NULL;
        thaw_warp_softmax_row(row, row, mk, seq, lane);
    }
}

/* Row r of ds (the gradient of the probabilities v was multiplied by):
 * times the dropout scale when there is one, then through the softmax's
 * backward with probs, written in place, as attention_backward. */
__global__ static void ds_rows(float *ds, const float *probs, const float *drop_mask, int seq,
                               unsigned rows)
{
    WARP_ROWS(r, lane, rows) {
        const size_t o = (size_t)r * seq;
        const float *mk = drop_mask ? drop_mask + o : NULL;
        thaw_warp_softmax_din_row(ds + o, ds + o, probs + o, mk, seq, 1, lane);
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
    const int launches = thaw_attn_launches(&s);
    int rc = check_shape(s, err);
    if (rc) {
        return rc;
    }
    const float scale = 1.0f / sqrtf((float)(channels / heads));
    for (int i = 0; i < launches && !rc; i++) {
        rc = run_gemm(ctx, thaw_attn_scores(&s, probs, q, k, scale, i), err);
    }
    if (rc) {
        return rc;
    }
    const unsigned rows = (unsigned)((size_t)batch * heads * seq);
    LAUNCH_ROWS(softmax_rows, rows, probs, key_mask, seq, heads, rows);
    return 0;
}

int thaw_cuda_attention_context_forward(ThawCudaContext *ctx, float *out,
                                        const float *probs_used, const float *v, int batch,
                                        int seq, int channels, int heads, ThawError *err)
{
    const ThawAttnShape s = {batch, seq, channels, heads};
    const int launches = thaw_attn_launches(&s);
    int rc = check_shape(s, err);
    for (int i = 0; i < launches && !rc; i++) {
        rc = run_gemm(ctx, thaw_attn_context(&s, out, probs_used, v, i), err);
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
    const int launches = thaw_attn_launches(&s);
    int rc = check_shape(s, err);
    if (rc) {
        return rc;
    }
    const float scale = 1.0f / sqrtf((float)(channels / heads));
    const float beta = ctx->din_assign ? 0.0f : 1.0f;   /* one flag for dq, dk and dv */
    for (int i = 0; i < launches && !rc && dv; i++) {
        rc = run_gemm(ctx, thaw_attn_dv(&s, dv, probs_used, dout, beta, i), err);
    }
    if (rc || (!dq && !dk)) {
        return rc;
    }
    const size_t rows = (size_t)batch * heads * seq;
    float *ds = NULL;
    rc = thaw_cuda_scratch(ctx, rows * seq * sizeof(float), (void **)&ds, err);
    for (int i = 0; i < launches && !rc; i++) {
        rc = run_gemm(ctx, thaw_attn_ds(&s, ds, dout, v, i), err);
    }
    if (rc) {
        return rc;
    }
    LAUNCH_ROWS(ds_rows, rows, ds, probs, drop_mask, seq, (unsigned)rows);
    for (int i = 0; i < launches && !rc && dq; i++) {
        rc = run_gemm(ctx, thaw_attn_dq(&s, dq, ds, k, scale, beta, i), err);
    }
    for (int i = 0; i < launches && !rc && dk; i++) {
        rc = run_gemm(ctx, thaw_attn_dk(&s, dk, ds, q, scale, beta, i), err);
    }
    return rc;
}

} /* extern "C" */
