/* The matrix products of multi-head attention (engine/ops/attention.h) as
 * cuBLAS strided-batched GEMM descriptions. A product covers batch x
 * heads slices; each description is one launch over the longer of the two
 * (thaw_attn_launches of them, one per element of the shorter), so that
 * BERT-sized batches (32 sequences, 12 heads) take 12 launches, not 32.
 * cuda_attention.cu hands them to cublasSgemmStridedBatched;
 * tests/gpu/host_attention.cu runs the same descriptions through a plain
 * column-major GEMM on the CPU against the CPU op, so every transpose,
 * leading dimension and stride here is checked on any machine, both ways
 * of batching.
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
    long long stride_a, stride_b, stride_c;   /* between slices */
    int count;                   /* slices */
} ThawStridedGemm;

typedef struct {
    int batch, seq, channels, heads;
} ThawAttnShape;

/* Batched over the batch elements (one launch per head) when there are
 * more of them than heads; else over the heads (one launch per element). */
static inline int thaw_attn_by_head(const ThawAttnShape *s)
{
    return s->batch > s->heads;
}

/* How many launches a product takes; i in [0, that) below. */
static inline int thaw_attn_launches(const ThawAttnShape *s)
{
    return thaw_attn_by_head(s) ? s->heads : s->batch;
}

/* Launch i's first [T, D] slice of a [B, T, C] tensor, the stride between
 * its slices, and their count. */
static inline size_t thaw_attn_tc(const ThawAttnShape *s, int i)
{
    return thaw_attn_by_head(s) ? (size_t)i * (s->channels / s->heads)
                                : (size_t)i * s->seq * s->channels;
}

static inline long long thaw_attn_tc_stride(const ThawAttnShape *s)
{
    return thaw_attn_by_head(s) ? (long long)s->seq * s->channels : s->channels / s->heads;
}

static inline int thaw_attn_count(const ThawAttnShape *s)
{
    return thaw_attn_by_head(s) ? s->batch : s->heads;
}

/* The same for a [B, H, T, T] tensor's T x T slices. */
static inline size_t thaw_attn_tt(const ThawAttnShape *s, int i)
{
    return thaw_attn_by_head(s) ? (size_t)i * s->seq * s->seq
                                : (size_t)i * s->heads * s->seq * s->seq;
}

static inline long long thaw_attn_tt_stride(const ThawAttnShape *s)
{
    return thaw_attn_by_head(s) ? (long long)s->heads * s->seq * s->seq
                                : (long long)s->seq * s->seq;
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

/* probs = scale q k^T, before the masked softmax. */
static inline ThawStridedGemm thaw_attn_scores(const ThawAttnShape *s, float *probs,
                                               const float *q, const float *k, float scale,
                                               int i)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    const long long tcs = thaw_attn_tc_stride(s), tts = thaw_attn_tt_stride(s);
    return thaw_attn_gemm(1, 0, t, t, d, scale, k + thaw_attn_tc(s, i), c, tcs,
                          q + thaw_attn_tc(s, i), c, tcs, 0.0f, probs + thaw_attn_tt(s, i), t, tts,
                          thaw_attn_count(s));
}

/* out = probs_used v (written, as the CPU op). */
static inline ThawStridedGemm thaw_attn_context(const ThawAttnShape *s, float *out,
                                                const float *probs_used, const float *v, int i)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    const long long tcs = thaw_attn_tc_stride(s), tts = thaw_attn_tt_stride(s);
    return thaw_attn_gemm(0, 0, d, t, t, 1.0f, v + thaw_attn_tc(s, i), c, tcs,
                          probs_used + thaw_attn_tt(s, i), t, tts, 0.0f,
                          out + thaw_attn_tc(s, i), c, tcs, thaw_attn_count(s));
}

/* dv = beta dv + probs_used^T dout. */
static inline ThawStridedGemm thaw_attn_dv(const ThawAttnShape *s, float *dv,
                                           const float *probs_used, const float *dout,
                                           float beta, int i)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    const long long tcs = thaw_attn_tc_stride(s), tts = thaw_attn_tt_stride(s);
    return thaw_attn_gemm(0, 1, d, t, t, 1.0f, dout + thaw_attn_tc(s, i), c, tcs,
                          probs_used + thaw_attn_tt(s, i), t, tts, beta,
                          dv + thaw_attn_tc(s, i), c, tcs, thaw_attn_count(s));
}

/* ds = dout v^T (the gradient of probs_used). */
static inline ThawStridedGemm thaw_attn_ds(const ThawAttnShape *s, float *ds,
                                           const float *dout, const float *v, int i)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    const long long tcs = thaw_attn_tc_stride(s), tts = thaw_attn_tt_stride(s);
    return thaw_attn_gemm(1, 0, t, t, d, 1.0f, v + thaw_attn_tc(s, i), c, tcs,
                          dout + thaw_attn_tc(s, i), c, tcs, 0.0f, ds + thaw_attn_tt(s, i), t, tts,
                          thaw_attn_count(s));
}

/* dq = beta dq + scale ds k (ds: the scores' gradient by now). */
static inline ThawStridedGemm thaw_attn_dq(const ThawAttnShape *s, float *dq, const float *ds,
                                           const float *k, float scale, float beta, int i)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    const long long tcs = thaw_attn_tc_stride(s), tts = thaw_attn_tt_stride(s);
    return thaw_attn_gemm(0, 0, d, t, t, scale, k + thaw_attn_tc(s, i), c, tcs,
                          ds + thaw_attn_tt(s, i), t, tts, beta,
                          dq + thaw_attn_tc(s, i), c, tcs, thaw_attn_count(s));
}

/* dk = beta dk + scale ds^T q. */
static inline ThawStridedGemm thaw_attn_dk(const ThawAttnShape *s, float *dk, const float *ds,
                                           const float *q, float scale, float beta, int i)
{
    const int t = s->seq, c = s->channels, d = c / s->heads;
    const long long tcs = thaw_attn_tc_stride(s), tts = thaw_attn_tt_stride(s);
    return thaw_attn_gemm(0, 1, d, t, t, scale, q + thaw_attn_tc(s, i), c, tcs,
                          ds + thaw_attn_tt(s, i), t, tts, beta,
                          dk + thaw_attn_tc(s, i), c, tcs, thaw_attn_count(s));
}

#endif
