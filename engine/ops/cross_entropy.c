/* Softmax cross-entropy with label smoothing (PyTorch semantics, mean over
 * the batch). Per row: m = max z, lse = m + log sum exp(z - m), so
 * -log p_k = lse - z_k never overflows. Sums run in double; the softmax is
 * kept in float for backward. */
#include "engine/ops/cross_entropy.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>

float cross_entropy_forward(float *probs, const float *logits,
                            const int32_t *labels, int n, int classes,
                            float smoothing)
{
    if (n <= 0 || classes <= 0) {
        return 0.0f;
    }
    /* Rows in fixed blocks per thread, the blocks' sums added in thread
     * order: the same loss bits on every run (a reduction clause adds them
     * in whatever order the threads finish). */
    double total = 0.0;
#pragma omp parallel if ((long)n * classes >= 65536)
    {
        double mine = 0.0;
#pragma omp for schedule(static) nowait
        for (int i = 0; i < n; i++) {
            const float *z = logits + (size_t)i * classes;
            float *p = probs + (size_t)i * classes;
            float zmax = z[0];
            for (int k = 1; k < classes; k++) {
                zmax = z[k] > zmax ? z[k] : zmax;
            }
            double sumexp = 0.0, sumz = 0.0;
            for (int k = 0; k < classes; k++) {
                float e = expf(z[k] - zmax);
                p[k] = e;
                sumexp += e;
                sumz += z[k];
            }
            double lse = zmax + log(sumexp);
            float inv = (float)(1.0 / sumexp);
            for (int k = 0; k < classes; k++) {
                p[k] *= inv;
            }
            double nll = lse - z[labels[i]];
            /* mean_k(-log p_k) = lse - mean_k z_k */
            double smooth = lse - sumz / classes;
            mine += (1.0 - smoothing) * nll + smoothing * smooth;
        }
        /* iteration t runs on thread t */
#pragma omp for ordered schedule(static, 1)
        for (int t = 0; t < omp_get_num_threads(); t++) {
#pragma omp ordered
            total += mine;
        }
    }
    return (float)(total / n);
}

/* d loss_i / d z_k = p_k - (1-eps) [k == y_i] - eps / C */
void cross_entropy_backward(float *dlogits, const float *probs,
                            const int32_t *labels, int n, int classes,
                            float smoothing, float dloss)
{
    if (n <= 0 || classes <= 0) {
        return;
    }
    const float scale = dloss / (float)n;
    const float uniform = smoothing / (float)classes;
    const float hit = 1.0f - smoothing;
#pragma omp parallel for schedule(static) if ((long)n * classes >= 65536)
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * classes;
        float *d = dlogits + (size_t)i * classes;
#pragma omp simd
        for (int k = 0; k < classes; k++) {
            d[k] += scale * (p[k] - uniform);
        }
        d[labels[i]] -= scale * hit;
    }
}
