/* The matrix products of multi-head attention (engine/ops/attention.h) as
 * cuBLAS strided-batched GEMM descriptions, one per batch element, batched
 * over the heads. cuda_attention.cu hands them to cublasSgemmStridedBatched;
 * tests/gpu/host_attention.cu runs the same descriptions through a plain
 * column-major GEMM on the CPU against the CPU op, so every transpose,
 * leading dimension and stride here is checked on any machine.
 *
 * Row-major [T, D] head slices with row stride C are column-major D x T
 * matrices with ld C (X^T); row-major T x T scores with ld T are their
 * transposes. So, per head (q, k, v, out, dq, dk, dv: [B, T, C]; probs,
 * ds: [B, H, T, T]):
 *   scores^T = K_c^T Q_c      (S = scale Q K^T)
 *   out^T    = V_c P_c        (out = P V)
 *   dv^T     = dO_c P_c^T     (dv += P^T dO)
 *   ds^T     = V_c^T dO_c     (ds = dO V^T)
 *   dq^T     = K_c ds_c       (dq += scale ds K)
 *   dk^T     = Q_c ds_c^T     (dk += scale ds^T Q) */
#ifndef THAW_CUDA_ATTENTION_GEMMS_H
#define THAW_CUDA_ATTENTION_GEMMS_H

#include <stddef.h>

typedef struct {
    int trans_a, trans_b;        /* op(A) = A^T when set */
    int m, n, k;                 /* C (m x n) = alpha op(A) op(B) + beta C */
    float alpha, beta;
    const float *a, *b;
    float *c;
    int lda, ldb, ldc;
    long long stride_a, stride_b, stride_c;   /* between heads */
    int count;                   /* heads */
} ThawStridedGemm;

typedef struct {
    int batch, seq, channels, heads;
} ThawAttnShape;

static inline size_t thaw_attn_tc(const ThawAttnShape *s, int b)
{
    return (size_t)b * s->seq * s->channels;   /* batch element b of [B, T, C] */
}

static inline size_t thaw_attn_tt(const ThawAttnShape *s, int b)
{
    return (size_t)b * s->heads * s->seq * s->seq;   /* of [B, H, T, T] */
}

static inline ThawStridedGemm thaw_attn_gemm(int ta, int tb, int m, int n, int k, float alpha,
                                             const float *a, int lda, long long sa,
                                             const float *b, int ldb, long long sb,
                                             float beta, float *c, int ldc, long long sc,
                                             int count)
{
    ThawStridedGemm g = {ta, tb, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc, sa, sb, sc,
                         count};
    return g;
}

/* probs[b] = scale q k^T, before the masked softmax. */
static inline ThawStridedGemm thaw_attn_scores(const ThawAttnShape *s, float *probs,
                                               const float *q, const float *k, float scale,
                                               int b)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    return thaw_attn_gemm(1, 0, t, t, d, scale, k + thaw_attn_tc(s, b), c, d,
                          q + thaw_attn_tc(s, b), c, d, 0.0f, probs + thaw_attn_tt(s, b), t,
                          (long long)t * t, s->heads);
}

/* out[b] = probs_used v (written, as the CPU op). */
static inline ThawStridedGemm thaw_attn_context(const ThawAttnShape *s, float *out,
                                                const float *probs_used, const float *v, int b)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    return thaw_attn_gemm(0, 0, d, t, t, 1.0f, v + thaw_attn_tc(s, b), c, d,
                          probs_used + thaw_attn_tt(s, b), t, (long long)t * t, 0.0f,
                          out + thaw_attn_tc(s, b), c, d, s->heads);
}

/* dv[b] = beta dv + probs_used^T dout. */
static inline ThawStridedGemm thaw_attn_dv(const ThawAttnShape *s, float *dv,
                                           const float *probs_used, const float *dout,
                                           float beta, int b)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    return thaw_attn_gemm(0, 1, d, t, t, 1.0f, dout + thaw_attn_tc(s, b), c, d,
                          probs_used + thaw_attn_tt(s, b), t, (long long)t * t, beta,
                          dv + thaw_attn_tc(s, b), c, d, s->heads);
}

/* ds[b] = dout v^T (the gradient of probs_used). */
static inline ThawStridedGemm thaw_attn_ds(const ThawAttnShape *s, float *ds,
                                           const float *dout, const float *v, int b)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    return thaw_attn_gemm(1, 0, t, t, d, 1.0f, v + thaw_attn_tc(s, b), c, d,
                          dout + thaw_attn_tc(s, b), c, d, 0.0f, ds + thaw_attn_tt(s, b), t,
                          (long long)t * t, s->heads);
}

/* dq[b] = beta dq + scale ds k (ds: the scores' gradient by now). */
static inline ThawStridedGemm thaw_attn_dq(const ThawAttnShape *s, float *dq, const float *ds,
                                           const float *k, float scale, float beta, int b)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    return thaw_attn_gemm(0, 0, d, t, t, scale, k + thaw_attn_tc(s, b), c, d,
                          ds + thaw_attn_tt(s, b), t, (long long)t * t, beta,
                          dq + thaw_attn_tc(s, b), c, d, s->heads);
}

/* dk[b] = beta dk + scale ds^T q. */
static inline ThawStridedGemm thaw_attn_dk(const ThawAttnShape *s, float *dk, const float *ds,
                                           const float *q, float scale, float beta, int b)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    return thaw_attn_gemm(0, 1, d, t, t, scale, q + thaw_attn_tc(s, b), c, d,
                          ds + thaw_attn_tt(s, b), t, (long long)t * t, beta,
                          dk + thaw_attn_tc(s, b), c, d, s->heads);
}

#endif
