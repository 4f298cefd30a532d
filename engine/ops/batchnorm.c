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
#define BN_FBLK 16
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
 * where pa, pb are x[m, c]-shaped and ka, kb per-channel constants. Blocks of
 * BN_FBLK rows are summed in float (8 lanes, no conversions; the shifted
 * terms are small so 16-term float sums lose nothing measurable), then
 * flushed into double accumulators. */
static void bn_reduce(double *s1, double *s2, const float *pa,
                      const float *ka, const float *pb, const float *kb,
                      int m, int c, int c0, int ct, int nt)
{
    BnPartial part[BN_MAXT];

#pragma omp parallel for schedule(static, 1) num_threads(nt) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        double a1[BN_TILE] = {0}, a2[BN_TILE] = {0};
        long r0 = (long)m * t / nt, r1 = (long)m * (t + 1) / nt;
        for (long i0 = r0; i0 < r1; i0 += BN_FBLK) {
            long i1 = i0 + BN_FBLK < r1 ? i0 + BN_FBLK : r1;
            float f1[BN_TILE] = {0}, f2[BN_TILE] = {0};
            for (long i = i0; i < i1; i++) {
                const float *ra = pa + i * c + c0;
                const float *rb = pb + i * c + c0;
#pragma omp simd
                for (int j = 0; j < ct; j++) {
                    float a = ra[j] - ka[j];
                    f1[j] += a;
                    f2[j] += a * (rb[j] - kb[j]);
                }
            }
#pragma omp simd
            for (int j = 0; j < ct; j++) {
                a1[j] += f1[j];
                a2[j] += f2[j];
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

/* Everything one channel tile needs; the public functions fill it and
 * bn_run hands tiles to workers. */
typedef struct {
    float *y, *dx, *dgamma, *dbeta, *mean, *rstd, *running_mean, *running_var;
    const float *x, *dy, *gamma, *beta, *saved_mean, *saved_rstd;
    const float *rmean, *rvar;
    float momentum, eps;
    int m, c;
} BnArgs;

typedef void (*BnTileFn)(const BnArgs *a, int c0, int ct, int nt);

/* Wide layers (at least one tile per thread) give each thread whole tiles:
 * one parallel region, no cross-thread reduction. Narrow layers walk their
 * tile(s) with the rows split across threads. */
static void bn_run(BnTileFn fn, const BnArgs *a)
{
    if (a->m <= 0 || a->c <= 0) {
        return;
    }
    int ntiles = (a->c + BN_TILE - 1) / BN_TILE;
    int threads = omp_get_max_threads();
    if (threads > 1 && ntiles >= threads && (long)a->m * a->c >= BN_PAR_MIN) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int t = 0; t < ntiles; t++) {
            int c0 = t * BN_TILE;
            fn(a, c0, a->c - c0 < BN_TILE ? a->c - c0 : BN_TILE, 1);
        }
        return;
    }
    for (int c0 = 0; c0 < a->c; c0 += BN_TILE) {
        int ct = a->c - c0 < BN_TILE ? a->c - c0 : BN_TILE;
        fn(a, c0, ct, bn_chunks(a->m, ct));
    }
}

/* y[:, c0:c0+ct] = (x - mu) * k + b. Subtracting the mean first (as
 * PyTorch does) keeps the rounding error at the scale of x - mu; folding it
 * into b = beta - mu*k loses digits whenever |mu| >> std, which is common in
 * a residual stream and flips ReLU masks downstream. */
static void bn_apply_affine(float *y, const float *x, const float *mu,
                            const float *k, const float *b, int m, int c,
                            int c0, int ct, int nt)
{
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (long i = 0; i < m; i++) {
        const float *rx = x + i * c + c0;
        float *ry = y + i * c + c0;
#pragma omp simd
        for (int j = 0; j < ct; j++) {
            ry[j] = (rx[j] - mu[j]) * k[j] + b[j];
        }
    }
}

static void bn_train_fwd_tile(const BnArgs *a, int c0, int ct, int nt)
{
    const int m = a->m;
    float shift[BN_TILE] = {0}, mu_f[BN_TILE] = {0}, k[BN_TILE], b[BN_TILE];
    double s1[BN_TILE], s2[BN_TILE];
    for (int j = 0; j < ct; j++) {
        shift[j] = a->x[c0 + j];
    }
    bn_reduce(s1, s2, a->x, shift, a->x, shift, m, a->c, c0, ct, nt);
    for (int j = 0; j < ct; j++) {
        int ch = c0 + j;
        double d = s1[j] / m;
        double mu = shift[j] + d;
        double var = s2[j] / m - d * d;
        if (var < 0.0) {
            var = 0.0;
        }
        double rs = 1.0 / sqrt(var + (double)a->eps);
        a->mean[ch] = (float)mu;
        a->rstd[ch] = (float)rs;
        mu_f[j] = (float)mu;
        k[j] = (float)(rs * a->gamma[ch]);
        b[j] = a->beta[ch];
        double mom = a->momentum;
        if (a->running_mean) {
            a->running_mean[ch] =
                (float)((1.0 - mom) * a->running_mean[ch] + mom * mu);
        }
        if (a->running_var) {
            /* PyTorch tracks the unbiased variance; with one row there is
             * none, so keep the biased one (0) rather than inf. */
            double unb = m > 1 ? var * m / (m - 1) : var;
            a->running_var[ch] =
                (float)((1.0 - mom) * a->running_var[ch] + mom * unb);
        }
    }
    bn_apply_affine(a->y, a->x, mu_f, k, b, m, a->c, c0, ct, nt);
}

void batchnorm_forward_train(float *y, float *mean, float *rstd,
                             const float *x, const float *gamma,
                             const float *beta, float *running_mean,
                             float *running_var, float momentum, float eps,
                             int m, int c)
{
    BnArgs a = {.y = y, .mean = mean, .rstd = rstd, .x = x, .gamma = gamma,
                .beta = beta, .running_mean = running_mean,
                .running_var = running_var, .momentum = momentum, .eps = eps,
                .m = m, .c = c};
    bn_run(bn_train_fwd_tile, &a);
}

static void bn_eval_fwd_tile(const BnArgs *a, int c0, int ct, int nt)
{
    float k[BN_TILE], b[BN_TILE];
    for (int j = 0; j < ct; j++) {
        int ch = c0 + j;
        k[j] = (float)(a->gamma[ch] / sqrt((double)a->rvar[ch] + a->eps));
        b[j] = a->beta[ch];
    }
    bn_apply_affine(a->y, a->x, a->rmean + c0, k, b, a->m, a->c, c0, ct, nt);
}

void batchnorm_forward_eval(float *y, const float *x, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float eps, int m, int c)
{
    BnArgs a = {.y = y, .x = x, .gamma = gamma, .beta = beta,
                .rmean = running_mean, .rvar = running_var, .eps = eps,
                .m = m, .c = c};
    bn_run(bn_eval_fwd_tile, &a);
}

/* Train-mode backward, with xhat = (x - mean) * rstd:
 *   dbeta  = sum dy,  dgamma = sum dy * xhat
 *   dx     = gamma * rstd * (dy - dbeta/m - xhat * dgamma/m)
 * written as dx += k * (dy - a - (x - mean) * q) so the per-element work is
 * one fused pass with per-channel constants. */
static void bn_train_bwd_tile(const BnArgs *a, int c0, int ct, int nt)
{
    const int m = a->m, c = a->c;
    float zero[BN_TILE] = {0}, k[BN_TILE], sub[BN_TILE], q[BN_TILE], mf[BN_TILE] = {0};
    double s1[BN_TILE], s2[BN_TILE];
    for (int j = 0; j < ct; j++) {
        zero[j] = 0.0f;
        mf[j] = a->saved_mean[c0 + j];
    }
    /* s1 = sum dy, s2 = sum dy * (x - mean) */
    bn_reduce(s1, s2, a->dy, zero, a->x, mf, m, c, c0, ct, nt);
    for (int j = 0; j < ct; j++) {
        int ch = c0 + j;
        double rs = a->saved_rstd[ch];
        if (a->dbeta) {
            a->dbeta[ch] += (float)s1[j];
        }
        if (a->dgamma) {
            a->dgamma[ch] += (float)(s2[j] * rs);
        }
        k[j] = (float)(a->gamma[ch] * rs);
        sub[j] = (float)(s1[j] / m);
        q[j] = (float)(s2[j] * rs * rs / m);
    }
    if (!a->dx) {
        return;
    }
    const float *dy = a->dy, *x = a->x;
    float *dx = a->dx;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (long i = 0; i < m; i++) {
        const float *rdy = dy + i * c + c0;
        const float *rx = x + i * c + c0;
        float *rdx = dx + i * c + c0;
#pragma omp simd
        for (int j = 0; j < ct; j++) {
            rdx[j] += k[j] * (rdy[j] - sub[j] - (rx[j] - mf[j]) * q[j]);
        }
    }
}

void batchnorm_backward_train(float *dx, float *dgamma, float *dbeta,
                              const float *dy, const float *x,
                              const float *mean, const float *rstd,
                              const float *gamma, int m, int c)
{
    if (!dx && !dgamma && !dbeta) {
        return;
    }
    BnArgs a = {.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .dy = dy, .x = x,
                .saved_mean = mean, .saved_rstd = rstd, .gamma = gamma,
                .m = m, .c = c};
    bn_run(bn_train_bwd_tile, &a);
}

/* Eval-mode backward: the statistics are constants, so
 *   dx = dy * gamma / sqrt(running_var + eps). */
static void bn_eval_bwd_tile(const BnArgs *a, int c0, int ct, int nt)
{
    const int m = a->m, c = a->c;
    float k[BN_TILE];
    double rs[BN_TILE];
    for (int j = 0; j < ct; j++) {
        int ch = c0 + j;
        rs[j] = 1.0 / sqrt((double)a->rvar[ch] + a->eps);
        k[j] = (float)(a->gamma[ch] * rs[j]);
    }
    if (a->dgamma || a->dbeta) {
        float zero[BN_TILE] = {0}, mf[BN_TILE] = {0};
        double s1[BN_TILE], s2[BN_TILE];
        for (int j = 0; j < ct; j++) {
            zero[j] = 0.0f;
            mf[j] = a->rmean[c0 + j];
        }
        bn_reduce(s1, s2, a->dy, zero, a->x, mf, m, c, c0, ct, nt);
        for (int j = 0; j < ct; j++) {
            if (a->dbeta) {
                a->dbeta[c0 + j] += (float)s1[j];
            }
            if (a->dgamma) {
                a->dgamma[c0 + j] += (float)(s2[j] * rs[j]);
            }
        }
    }
    if (!a->dx) {
        return;
    }
    const float *dy = a->dy;
    float *dx = a->dx;
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

void batchnorm_backward_eval(float *dx, float *dgamma, float *dbeta,
                             const float *dy, const float *x,
                             const float *gamma, const float *running_mean,
                             const float *running_var, float eps, int m, int c)
{
    if (!dx && !dgamma && !dbeta) {
        return;
    }
    BnArgs a = {.dx = dx, .dgamma = dgamma, .dbeta = dbeta, .dy = dy, .x = x,
                .gamma = gamma, .rmean = running_mean, .rvar = running_var,
                .eps = eps, .m = m, .c = c};
    bn_run(bn_eval_bwd_tile, &a);
}
