/* Masked multi-head attention, one (batch, head) pair per OpenMP task and
 * three or four small GEMMs per pair through OpenBLAS (single-threaded
 * inside the region). For a pair, with P = probs, U = probs_used:
 *   forward:  S = scale Q K^T, P = softmax(S masked), O = U V
 *   backward: dU = dO V^T, dV += U^T dO, dP = dU * drop_mask,
 *             dS = P * (dP - rowsum(dP * P)), dQ += scale dS K,
 *             dK += scale dS^T Q */
#include "engine/ops/attention.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "engine/ops/row_math.h"

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

static int blas_single_begin(void)
{
    int saved = openblas_get_num_threads();
    if (saved != 1) {
        openblas_set_num_threads(1);
    }
    return saved;
}

static void blas_single_end(int saved)
{
    if (saved != 1) {
        openblas_set_num_threads(saved);
    }
}

void softmax_rows_forward(float *out, const float *in, int rows, int cols)
{
#pragma omp parallel for schedule(static) if ((long)rows * cols >= 65536)
    for (int i = 0; i < rows; i++) {
        thaw_softmax_row_forward(out + (size_t)i * cols, in + (size_t)i * cols, cols);
    }
}

void softmax_rows_backward(float *din, const float *dout, const float *out,
                           int rows, int cols)
{
#pragma omp parallel for schedule(static) if ((long)rows * cols >= 65536)
    for (int i = 0; i < rows; i++) {
        thaw_softmax_row_backward(din + (size_t)i * cols, dout + (size_t)i * cols,
                                  out + (size_t)i * cols, cols, 0);
    }
}

void attention_probs_forward(float *probs, const float *q, const float *k,
                             const int32_t *key_mask, int batch, int seq,
                             int channels, int heads)
{
    const int d = channels / heads, pairs = batch * heads;
    const float scale = 1.0f / sqrtf((float)d);
    const size_t tt = (size_t)seq * seq, tc = (size_t)seq * channels;
    int saved = blas_single_begin();
#pragma omp parallel for schedule(static)
    for (int p = 0; p < pairs; p++) {
        int b = p / heads, h = p % heads;
        float *s = probs + (size_t)p * tt;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, seq, seq, d,
                    scale, q + b * tc + (size_t)h * d, channels,
                    k + b * tc + (size_t)h * d, channels, 0.0f, s, seq);
        const int32_t *m = key_mask ? key_mask + (size_t)b * seq : NULL;
        for (int i = 0; i < seq; i++) {
            thaw_masked_softmax_row(s + (size_t)i * seq, m, seq);
        }
    }
    blas_single_end(saved);
}

void attention_context_forward(float *out, const float *probs_used,
                               const float *v, int batch, int seq,
                               int channels, int heads)
{
    const int d = channels / heads, pairs = batch * heads;
    const size_t tt = (size_t)seq * seq, tc = (size_t)seq * channels;
    int saved = blas_single_begin();
#pragma omp parallel for schedule(static)
    for (int p = 0; p < pairs; p++) {
        int b = p / heads, h = p % heads;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, seq, d, seq,
                    1.0f, probs_used + (size_t)p * tt, seq,
                    v + b * tc + (size_t)h * d, channels, 0.0f,
                    out + b * tc + (size_t)h * d, channels);
    }
    blas_single_end(saved);
}

void attention_forward(float *out, float *probs, const float *q,
                       const float *k, const float *v,
                       const int32_t *key_mask, int batch, int seq,
                       int channels, int heads)
{
    attention_probs_forward(probs, q, k, key_mask, batch, seq, channels,
                            heads);
    attention_context_forward(out, probs, v, batch, seq, channels, heads);
}

size_t attention_workspace_floats(int seq)
{
    return (size_t)omp_get_max_threads() * seq * seq;
}

void attention_backward(float *dq, float *dk, float *dv, const float *dout,
                        const float *q, const float *k, const float *v,
                        const float *probs, const float *probs_used,
                        const float *drop_mask, float *workspace, int batch,
                        int seq, int channels, int heads)
{
    const int d = channels / heads, pairs = batch * heads;
    const float scale = 1.0f / sqrtf((float)d);
    const size_t tt = (size_t)seq * seq, tc = (size_t)seq * channels;
    int saved = blas_single_begin();
#pragma omp parallel
    {
        float *ds = workspace + (size_t)omp_get_thread_num() * tt;
#pragma omp for schedule(static)
        for (int p = 0; p < pairs; p++) {
            int b = p / heads, h = p % heads;
            size_t off = b * tc + (size_t)h * d;
            const float *pr = probs + (size_t)p * tt;
            const float *used = probs_used + (size_t)p * tt;
            if (dv) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, seq, d,
                            seq, 1.0f, used, seq, dout + off, channels, 1.0f,
                            dv + off, channels);
            }
            if (!dq && !dk) {
                continue;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, seq, seq, d,
                        1.0f, dout + off, channels, v + off, channels, 0.0f,
                        ds, seq);
            if (drop_mask) {
                const float *mk = drop_mask + (size_t)p * tt;
                for (size_t i = 0; i < tt; i++) {
                    ds[i] *= mk[i];
                }
            }
            for (int i = 0; i < seq; i++) {
                thaw_softmax_row_backward(ds + (size_t)i * seq, ds + (size_t)i * seq,
                                          pr + (size_t)i * seq, seq, 1);
            }
            if (dq) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, seq, d,
                            seq, scale, ds, seq, k + off, channels, 1.0f,
                            dq + off, channels);
            }
            if (dk) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, seq, d,
                            seq, scale, ds, seq, q + off, channels, 1.0f,
                            dk + off, channels);
            }
        }
    }
    blas_single_end(saved);
}
