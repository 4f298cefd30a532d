/* Depthwise convolution (groups == c == k), direct NHWC kernels.
 * A GEMM per channel would have a 1-wide inner dimension, so instead every
 * inner loop runs over contiguous channels (vectorised by the compiler),
 * with weights reordered to [r][s][c] so a tap's weights are contiguous too.
 *
 * Workspace: wr[r*s*c], then per thread a partial dW [r*s*c] and dbias [c]
 * (backward weight reduces across threads at the end, in thread order, so
 * the same bits on every run; no atomics). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "conv2d_internal.h"

int conv2d_is_depthwise(const Conv2dShape *s)
{
    return s->groups > 1 && s->groups == s->c && s->k == s->c;
}

/* Thread count the workspace was sized for; kernels use exactly this. */
static int dw_threads(void)
{
    int nt = omp_get_max_threads();
    return nt < 1 ? 1 : nt;
}

size_t conv2d_dw_workspace_floats(const Conv2dShape *s)
{
    size_t taps = (size_t)s->r * s->s * s->c;
    return taps + (size_t)dw_threads() * (taps + s->c);
}

static void dw_reorder(float *wr, const float *w, const Conv2dShape *s)
{
    const int ntap = s->r * s->s;
    for (int ch = 0; ch < s->c; ch++) {
        for (int t = 0; t < ntap; t++) {
            wr[(size_t)t * s->c + ch] = w[(size_t)ch * ntap + t];
        }
    }
}

static inline void fma_run(float *restrict o, const float *restrict x,
                           const float *restrict w, int c)
{
    for (int i = 0; i < c; i++) {
        o[i] = fmaf(x[i], w[i], o[i]);
    }
}

/* Channels per register tile: 4 AVX2 vectors of accumulators that stay in
 * registers across all taps (the row-streaming form reloaded and stored the
 * output once per tap). */
enum { DW_CB = 32 };

/* One output pixel, channels [c0, c0 + n) (n == DW_CB lets the compiler
 * unroll the tile into registers). */
static inline void dw_pixel(float *restrict o, const float *restrict in,
                            const float *restrict wr, const float *bias,
                            const Conv2dShape *s, int n_img, int p, int q,
                            int c0, int n)
{
    const int C = s->c;
    float acc[DW_CB];
    for (int i = 0; i < n; i++) {
        acc[i] = bias ? bias[c0 + i] : 0.0f;
    }
    for (int r = 0; r < s->r; r++) {
        int ih = p * s->stride_h - s->pad_h + r * s->dil_h;
        if (ih < 0 || ih >= s->h) {
            continue;
        }
        const float *x = in + ((size_t)n_img * s->h + ih) * s->w * C + c0;
        const float *w = wr + (size_t)r * s->s * C + c0;
        for (int u = 0; u < s->s; u++) {
            int iw = q * s->stride_w - s->pad_w + u * s->dil_w;
            if (iw < 0 || iw >= s->w) {
                continue;
            }
            const float *xv = x + (size_t)iw * C, *wv = w + (size_t)u * C;
            for (int i = 0; i < n; i++) {
                acc[i] = fmaf(xv[i], wv[i], acc[i]);
            }
        }
    }
    for (int i = 0; i < n; i++) {
        o[c0 + i] = acc[i];
    }
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define DW_HAVE_QUAD 1

/* Four output pixels of one row, 16 channels, every tap inside the image:
 * each weight vector loaded once serves four pixels, and the eight
 * accumulators stay in registers (a plain C tile got spilled to the stack). */
static inline void dw_quad(float *restrict o, const float *restrict in,
                           const float *restrict wr, const float *bias,
                           const Conv2dShape *s, int n_img, int p, int q0,
                           int c0)
{
    const int C = s->c;
    __m256 b0 = bias ? _mm256_loadu_ps(bias + c0) : _mm256_setzero_ps();
    __m256 b1 = bias ? _mm256_loadu_ps(bias + c0 + 8) : _mm256_setzero_ps();
    __m256 a00 = b0, a01 = b1, a10 = b0, a11 = b1;
    __m256 a20 = b0, a21 = b1, a30 = b0, a31 = b1;
    const size_t step = (size_t)s->stride_w * C;
    for (int r = 0; r < s->r; r++) {
        int ih = p * s->stride_h - s->pad_h + r * s->dil_h;
        if (ih < 0 || ih >= s->h) {
            continue;
        }
        const float *x = in + (((size_t)n_img * s->h + ih) * s->w +
                               (size_t)(q0 * s->stride_w - s->pad_w)) * C + c0;
        const float *w = wr + (size_t)r * s->s * C + c0;
        for (int u = 0; u < s->s; u++) {
            const float *xv = x + (size_t)u * s->dil_w * C;
            __m256 w0 = _mm256_loadu_ps(w + (size_t)u * C);
            __m256 w1 = _mm256_loadu_ps(w + (size_t)u * C + 8);
            a00 = _mm256_fmadd_ps(_mm256_loadu_ps(xv), w0, a00);
            a01 = _mm256_fmadd_ps(_mm256_loadu_ps(xv + 8), w1, a01);
            a10 = _mm256_fmadd_ps(_mm256_loadu_ps(xv + step), w0, a10);
            a11 = _mm256_fmadd_ps(_mm256_loadu_ps(xv + step + 8), w1, a11);
            a20 = _mm256_fmadd_ps(_mm256_loadu_ps(xv + 2 * step), w0, a20);
            a21 = _mm256_fmadd_ps(_mm256_loadu_ps(xv + 2 * step + 8), w1, a21);
            a30 = _mm256_fmadd_ps(_mm256_loadu_ps(xv + 3 * step), w0, a30);
            a31 = _mm256_fmadd_ps(_mm256_loadu_ps(xv + 3 * step + 8), w1, a31);
        }
    }
    float *d = o + c0;
    _mm256_storeu_ps(d, a00);
    _mm256_storeu_ps(d + 8, a01);
    _mm256_storeu_ps(d + C, a10);
    _mm256_storeu_ps(d + C + 8, a11);
    _mm256_storeu_ps(d + 2 * (size_t)C, a20);
    _mm256_storeu_ps(d + 2 * (size_t)C + 8, a21);
    _mm256_storeu_ps(d + 3 * (size_t)C, a30);
    _mm256_storeu_ps(d + 3 * (size_t)C + 8, a31);
}
#else
#define DW_HAVE_QUAD 0
#endif

/* Output pixels [qa, qb) of row p, one pixel at a time. */
static void dw_pixels(float *orow, const float *in, const float *wr,
                      const float *bias, const Conv2dShape *s, int n, int p,
                      int qa, int qb)
{
    const int C = s->c, full = C / DW_CB * DW_CB;
    for (int q = qa; q < qb; q++) {
        float *o = orow + (size_t)q * C;
        for (int c0 = 0; c0 < full; c0 += DW_CB) {
            dw_pixel(o, in, wr, bias, s, n, p, q, c0, DW_CB);
        }
        if (full < C) {
            dw_pixel(o, in, wr, bias, s, n, p, q, full, C - full);
        }
    }
}

void conv2d_dw_forward(float *out, const float *in, const float *weight,
                       const float *bias, const Conv2dShape *s, float *ws)
{
    const int C = s->c, rows = s->n * s->p;
    /* Output columns whose taps all fall inside the image. */
    int q_lo = (s->pad_w + s->stride_w - 1) / s->stride_w;
    int last = s->w - 1 + s->pad_w - (s->s - 1) * s->dil_w;
    int q_hi = last < 0 ? 0 : last / s->stride_w + 1;
    if (q_hi > s->q) {
        q_hi = s->q;
    }
    /* The 4-pixel tile paid off for 5x5 kernels only; 3x3 depthwise is
     * bound by memory traffic, where it measured slower (stride 2: 2x). */
    const int quad = DW_HAVE_QUAD && C % 16 == 0 && s->r * s->s >= 25 &&
                     q_hi - q_lo >= 4;
    float *wr = ws;
    dw_reorder(wr, weight, s);
#pragma omp parallel for schedule(static)
    for (int row = 0; row < rows; row++) {
        int n = row / s->p, p = row % s->p;
        float *orow = out + (size_t)row * s->q * C;
        /* [qa, qb): pixels done four at a time */
        int qa = quad ? q_lo : s->q;
        int qb = quad ? q_lo + (q_hi - q_lo) / 4 * 4 : s->q;
#if DW_HAVE_QUAD
        if (quad) {
            for (int q = qa; q < qb; q += 4) {
                for (int c0 = 0; c0 < C; c0 += 16) {
                    dw_quad(orow + (size_t)q * C, in, wr, bias, s, n, p, q, c0);
                }
            }
        }
#endif
        dw_pixels(orow, in, wr, bias, s, n, p, 0, qa);
        dw_pixels(orow, in, wr, bias, s, n, p, qb, s->q);
    }
}

static void dw_data_grad(float *din, const float *dout, const float *wr,
                         const Conv2dShape *s)
{
    const int C = s->c, tasks = s->n * s->h;
    /* Parallel over input rows (gather), so no two threads share a row. */
#pragma omp parallel for schedule(static)
    for (int task = 0; task < tasks; task++) {
        int n = task / s->h, ih = task % s->h;
        float *d = din + (size_t)task * s->w * C;
        for (int r = 0; r < s->r; r++) {
            int t = ih + s->pad_h - r * s->dil_h;
            if (t < 0 || t % s->stride_h || t / s->stride_h >= s->p) {
                continue;
            }
            const float *g = dout + ((size_t)n * s->p + t / s->stride_h) * s->q * C;
            for (int u = 0; u < s->s; u++) {
                const float *w = wr + ((size_t)r * s->s + u) * C;
                for (int q = 0; q < s->q; q++) {
                    int iw = q * s->stride_w - s->pad_w + u * s->dil_w;
                    if (iw >= 0 && iw < s->w) {
                        fma_run(d + (size_t)iw * C, g + (size_t)q * C, w, C);
                    }
                }
            }
        }
    }
}

static void dw_weight_grad(float *dweight, float *dbias, const float *dout,
                           const float *in, const Conv2dShape *s, float *part)
{
    const int C = s->c, ntap = s->r * s->s, rows = s->n * s->p;
    const size_t taps = (size_t)ntap * C;
#pragma omp parallel num_threads(dw_threads())
    {
        float *dw = part + (size_t)omp_get_thread_num() * (taps + C);
        float *db = dw + taps;
        memset(dw, 0, (taps + C) * sizeof(float));
#pragma omp for schedule(static)
        for (int row = 0; row < rows; row++) {
            int n = row / s->p, p = row % s->p;
            const float *g = dout + (size_t)row * s->q * C;
            if (dbias) {
                for (int q = 0; q < s->q; q++) {
                    const float *gq = g + (size_t)q * C;
                    for (int i = 0; i < C; i++) {
                        db[i] += gq[i];
                    }
                }
            }
            if (!dweight) {
                continue;
            }
            for (int r = 0; r < s->r; r++) {
                int ih = p * s->stride_h - s->pad_h + r * s->dil_h;
                if (ih < 0 || ih >= s->h) {
                    continue;
                }
                const float *x = in + ((size_t)n * s->h + ih) * s->w * C;
                for (int u = 0; u < s->s; u++) {
                    float *acc = dw + ((size_t)r * s->s + u) * C;
                    for (int q = 0; q < s->q; q++) {
                        int iw = q * s->stride_w - s->pad_w + u * s->dil_w;
                        if (iw >= 0 && iw < s->w) {
                            fma_run(acc, g + (size_t)q * C, x + (size_t)iw * C, C);
                        }
                    }
                }
            }
        }
        /* iteration t runs on thread t; ordered adds the partials 0, 1, ... */
#pragma omp for ordered schedule(static, 1)
        for (int th = 0; th < omp_get_num_threads(); th++) {
#pragma omp ordered
            {
                if (dweight) {
                    for (int ch = 0; ch < C; ch++) {
                        for (int t = 0; t < ntap; t++) {
                            dweight[(size_t)ch * ntap + t] += dw[(size_t)t * C + ch];
                        }
                    }
                }
                if (dbias) {
                    for (int i = 0; i < C; i++) {
                        dbias[i] += db[i];
                    }
                }
            }
        }
    }
}

void conv2d_dw_backward(float *din, float *dweight, float *dbias,
                        const float *dout, const float *in,
                        const float *weight, const Conv2dShape *s, float *ws)
{
    const size_t taps = (size_t)s->r * s->s * s->c;
    if (dweight || dbias) {
        dw_weight_grad(dweight, dbias, dout, in, s, ws + taps);
    }
    if (din) {
        dw_reorder(ws, weight, s);
        dw_data_grad(din, dout, ws, s);
    }
}
