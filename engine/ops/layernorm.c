/* LayerNorm over rows of c contiguous floats. Rows are independent, so
 * forward and din run in parallel over rows; dgamma/dbeta sum over rows,
 * done per thread into a private vector and added once at the end.
 *
 *   xhat = (x - mean) * rstd,  y = xhat * gamma + beta
 *   dxhat = dy * gamma
 *   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
#include "engine/ops/layernorm.h"

#include "engine/ops/row_math.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define LN_PAR_MIN 64   /* rows below which threads cost more than they save */

void layernorm_forward(float *out, float *mean, float *rstd, const float *in,
                       const float *gamma, const float *beta, int rows,
                       int c, float eps)
{
#pragma omp parallel for schedule(static) if (rows >= LN_PAR_MIN)
    for (int i = 0; i < rows; i++) {
        thaw_layernorm_row_forward(out + (size_t)i * c, &mean[i], &rstd[i],
                                   in + (size_t)i * c, gamma, beta, c, eps);
    }
}

/* dgamma += sum_i dy_i * xhat_i, dbeta += sum_i dy_i over rows lo..hi. */
static void param_grads_rows(float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *mean,
                             const float *rstd, int lo, int hi, int c)
{
    for (int i = lo; i < hi; i++) {
        const float *x = in + (size_t)i * c;
        const float *dy = dout + (size_t)i * c;
        float m = mean[i], r = rstd[i];
        for (int j = 0; j < c; j++) {
            dgamma[j] += dy[j] * (x[j] - m) * r;
            dbeta[j] += dy[j];
        }
    }
}

static void param_grads(float *dgamma, float *dbeta, const float *dout,
                        const float *in, const float *mean, const float *rstd,
                        int rows, int c)
{
    int threads = rows >= LN_PAR_MIN ? omp_get_max_threads() : 1;
    /* per thread: its dgamma and dbeta partial sums */
    float *part = calloc((size_t)threads * 2 * c, sizeof(float));
    if (!part) {   /* no scratch: serial, straight into the outputs */
        float *tmp_g = dgamma, *tmp_b = dbeta;
        float sink_g = 0.0f, sink_b = 0.0f;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < c; j++) {
                float dy = dout[(size_t)i * c + j];
                float xh = (in[(size_t)i * c + j] - mean[i]) * rstd[i];
                *(tmp_g ? &tmp_g[j] : &sink_g) += dy * xh;
                *(tmp_b ? &tmp_b[j] : &sink_b) += dy;
            }
        }
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int lo = (int)((long)rows * t / nt);
        int hi = (int)((long)rows * (t + 1) / nt);
        float *dg = part + (size_t)t * 2 * c;
        param_grads_rows(dg, dg + c, dout, in, mean, rstd, lo, hi, c);
    }
    for (int t = 0; t < threads; t++) {
        const float *dg = part + (size_t)t * 2 * c, *db = dg + c;
        for (int j = 0; j < c; j++) {
            if (dgamma) {
                dgamma[j] += dg[j];
            }
            if (dbeta) {
                dbeta[j] += db[j];
            }
        }
    }
    free(part);
}

void layernorm_backward(float *din, float *dgamma, float *dbeta,
                        const float *dout, const float *in, const float *mean,
                        const float *rstd, const float *gamma, int rows,
                        int c)
{
    if (rows <= 0 || c <= 0) {
        return;
    }
    if (dgamma || dbeta) {
        param_grads(dgamma, dbeta, dout, in, mean, rstd, rows, c);
    }
    if (!din) {
        return;
    }
#pragma omp parallel for schedule(static) if (rows >= LN_PAR_MIN)
    for (int i = 0; i < rows; i++) {
        thaw_layernorm_row_din(din + (size_t)i * c, dout + (size_t)i * c, in + (size_t)i * c,
                               mean[i], rstd[i], gamma, c, 0);
    }
}
