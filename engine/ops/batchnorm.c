/* BatchNorm2d on NHWC data viewed as x[m, c].
 *
 * Layout of the work: channels are processed in tiles of BN_TILE. For each
 * tile, a reduction pass sums over all m rows (rows split into a fixed number
 * of chunks, one per thread, partial sums in double, then reduced in chunk
 * order so results do not depend on scheduling), then an apply pass walks
 * the rows again in blocks. For the usual c <= BN_TILE there is one tile and
 * both passes stream contiguous memory; for wide layers (c = 2048, small m)
 * each row contributes a 512-byte run per tile, which prefetches well.
 *
 * Statistics are accumulated in double around a per-channel shift (the first
 * row): sums of (x - K) and (x - K)^2 give the variance without the
 * cancellation of E[x^2] - E[x]^2, in a single pass over x.
 *
 * Scratch lives on the stack (BN_MAXT * 2 * BN_TILE doubles = 32 KiB), so
 * these functions never allocate and cannot fail. gamma and beta are
 * required (PyTorch's affine=True). */
#include "engine/ops/batchnorm.h"

#include <math.h>
#include <stddef.h>

#include <omp.h>

#define BN_TILE 128
#define BN_MAXT 16
#define BN_ROWBLOCK 64
/* Below this many elements a parallel region costs more than it saves. */
#define BN_PAR_MIN 32768

typedef struct {
    double s1[BN_TILE];   /* sum of a */
    double s2[BN_TILE];   /* sum of a * b */
} BnPartial;

static int bn_chunks(int m, int ct)
{
    if ((long)m * ct < BN_PAR_MIN) {
        return 1;
    }
    int t = omp_get_max_threads();
    if (t > BN_MAXT) {
        t = BN_MAXT;
    }
    if (t > m) {
        t = m;
    }
    return t < 1 ? 1 : t;
}

/* For channels [c0, c0+ct): s1 = sum_i (pa - ka), s2 = sum_i (pa - ka)(pb - kb),
 * where pa, pb are x[m, c]-shaped and ka, kb per-channel constants. */
static void bn_reduce(double *s1, double *s2, const float *pa,
                      const double *ka, const float *pb, const double *kb,
                      int m, int c, int c0, int ct)
{
    BnPartial part[BN_MAXT];
    int nt = bn_chunks(m, ct);

#pragma omp parallel for schedule(static, 1) num_threads(nt) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        double a1[BN_TILE] = {0}, a2[BN_TILE] = {0};
        long r0 = (long)m * t / nt, r1 = (long)m * (t + 1) / nt;
        for (long i = r0; i < r1; i++) {
            const float *ra = pa + i * c + c0;
            const float *rb = pb + i * c + c0;
#pragma omp simd
            for (int j = 0; j < ct; j++) {
                double a = (double)ra[j] - ka[j];
                double b = (double)rb[j] - kb[j];
                a1[j] += a;
                a2[j] += a * b;
            }
        }
        for (int j = 0; j < ct; j++) {
            part[t].s1[j] = a1[j];
            part[t].s2[j] = a2[j];
        }
    }
    for (int j = 0; j < ct; j++) {
        double x1 = 0.0, x2 = 0.0;
        for (int t = 0; t < nt; t++) {
            x1 += part[t].s1[j];
            x2 += part[t].s2[j];
        }
        s1[j] = x1;
        s2[j] = x2;
    }
}

/* y[:, c0:c0+ct] = x * k + b, row blocks in parallel. */
static void bn_apply_affine(float *y, const float *x, const float *k,
                            const float *b, int m, int c, int c0, int ct)
{
    int nt = bn_chunks(m, ct);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (long i = 0; i < m; i++) {
        const float *rx = x + i * c + c0;
        float *ry = y + i * c + c0;
#pragma omp simd
        for (int j = 0; j < ct; j++) {
            ry[j] = rx[j] * k[j] + b[j];
        }
    }
}

void batchnorm_forward_train(float *y, float *mean, float *rstd,
                             const float *x, const float *gamma,
                             const float *beta, float *running_mean,
                             float *running_var, float momentum, float eps,
                             int m, int c)
{
    if (m <= 0 || c <= 0) {
        return;
    }
    for (int c0 = 0; c0 < c; c0 += BN_TILE) {
        int ct = c - c0 < BN_TILE ? c - c0 : BN_TILE;
        double shift[BN_TILE], s1[BN_TILE], s2[BN_TILE];
        float k[BN_TILE], b[BN_TILE];
        for (int j = 0; j < ct; j++) {
            shift[j] = x[c0 + j];
        }
        bn_reduce(s1, s2, x, shift, x, shift, m, c, c0, ct);
        for (int j = 0; j < ct; j++) {
            int ch = c0 + j;
            double d = s1[j] / m;
            double mu = shift[j] + d;
            double var = s2[j] / m - d * d;
            if (var < 0.0) {
                var = 0.0;
            }
            double rs = 1.0 / sqrt(var + (double)eps);
            mean[ch] = (float)mu;
            rstd[ch] = (float)rs;
            double kk = rs * gamma[ch];
            k[j] = (float)kk;
            b[j] = (float)(beta[ch] - mu * kk);
            if (running_mean) {
                running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch]
                                           + (double)momentum * mu);
            }
            if (running_var) {
                /* PyTorch tracks the unbiased variance; with one row there
                 * is none, so keep the biased one (0) rather than inf. */
                double unb = m > 1 ? var * m / (m - 1) : var;
                running_var[ch] = (float)((1.0 - momentum) * running_var[ch]
                                          + (double)momentum * unb);
            }
        }
        bn_apply_affine(y, x, k, b, m, c, c0, ct);
    }
}

void batchnorm_forward_eval(float *y, const float *x, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float eps, int m, int c)
{
    if (m <= 0 || c <= 0) {
        return;
    }
    for (int c0 = 0; c0 < c; c0 += BN_TILE) {
        int ct = c - c0 < BN_TILE ? c - c0 : BN_TILE;
        float k[BN_TILE], b[BN_TILE];
        for (int j = 0; j < ct; j++) {
            int ch = c0 + j;
            double kk = gamma[ch] / sqrt((double)running_var[ch] + eps);
            k[j] = (float)kk;
            b[j] = (float)(beta[ch] - running_mean[ch] * kk);
        }
        bn_apply_affine(y, x, k, b, m, c, c0, ct);
    }
}

/* Train-mode backward, with xhat = (x - mean) * rstd:
 *   dbeta  = sum dy,  dgamma = sum dy * xhat
 *   dx     = gamma * rstd * (dy - dbeta/m - xhat * dgamma/m)
 * written as dx += k * (dy - a - (x - mean) * q) so the per-element work is
 * one fused pass with per-channel constants. */
void batchnorm_backward_train(float *dx, float *dgamma, float *dbeta,
                              const float *dy, const float *x,
                              const float *mean, const float *rstd,
                              const float *gamma, int m, int c)
{
    if (m <= 0 || c <= 0 || (!dx && !dgamma && !dbeta)) {
        return;
    }
    for (int c0 = 0; c0 < c; c0 += BN_TILE) {
        int ct = c - c0 < BN_TILE ? c - c0 : BN_TILE;
        double zero[BN_TILE], mu[BN_TILE], s1[BN_TILE], s2[BN_TILE];
        float k[BN_TILE], a[BN_TILE], q[BN_TILE], mf[BN_TILE];
        for (int j = 0; j < ct; j++) {
            zero[j] = 0.0;
            mu[j] = mean[c0 + j];
        }
        /* s1 = sum dy, s2 = sum dy * (x - mean) */
        bn_reduce(s1, s2, dy, zero, x, mu, m, c, c0, ct);
        for (int j = 0; j < ct; j++) {
            int ch = c0 + j;
            double rs = rstd[ch];
            if (dbeta) {
                dbeta[ch] += (float)s1[j];
            }
            if (dgamma) {
                dgamma[ch] += (float)(s2[j] * rs);
            }
            k[j] = (float)(gamma[ch] * rs);
            a[j] = (float)(s1[j] / m);
            q[j] = (float)(s2[j] * rs * rs / m);
            mf[j] = mean[ch];
        }
        if (!dx) {
            continue;
        }
        int nt = bn_chunks(m, ct);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (long i = 0; i < m; i++) {
            const float *rdy = dy + i * c + c0;
            const float *rx = x + i * c + c0;
            float *rdx = dx + i * c + c0;
#pragma omp simd
            for (int j = 0; j < ct; j++) {
                rdx[j] += k[j] * (rdy[j] - a[j] - (rx[j] - mf[j]) * q[j]);
            }
        }
    }
}

/* Eval-mode backward: the statistics are constants, so
 *   dx = dy * gamma / sqrt(running_var + eps). */
void batchnorm_backward_eval(float *dx, float *dgamma, float *dbeta,
                             const float *dy, const float *x,
                             const float *gamma, const float *running_mean,
                             const float *running_var, float eps, int m, int c)
{
    if (m <= 0 || c <= 0 || (!dx && !dgamma && !dbeta)) {
        return;
    }
    for (int c0 = 0; c0 < c; c0 += BN_TILE) {
        int ct = c - c0 < BN_TILE ? c - c0 : BN_TILE;
        float k[BN_TILE];
        double rs[BN_TILE];
        for (int j = 0; j < ct; j++) {
            int ch = c0 + j;
            rs[j] = 1.0 / sqrt((double)running_var[ch] + eps);
            k[j] = (float)(gamma[ch] * rs[j]);
        }
        if (dgamma || dbeta) {
            double zero[BN_TILE], mu[BN_TILE], s1[BN_TILE], s2[BN_TILE];
            for (int j = 0; j < ct; j++) {
                zero[j] = 0.0;
                mu[j] = running_mean[c0 + j];
            }
            bn_reduce(s1, s2, dy, zero, x, mu, m, c, c0, ct);
            for (int j = 0; j < ct; j++) {
                if (dbeta) {
                    dbeta[c0 + j] += (float)s1[j];
                }
                if (dgamma) {
                    dgamma[c0 + j] += (float)(s2[j] * rs[j]);
                }
            }
        }
        if (!dx) {
            continue;
        }
        int nt = bn_chunks(m, ct);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (long i = 0; i < m; i++) {
            const float *rdy = dy + i * c + c0;
            float *rdx = dx + i * c + c0;
#pragma omp simd
            for (int j = 0; j < ct; j++) {
                rdx[j] += rdy[j] * k[j];
            }
        }
    }
}
