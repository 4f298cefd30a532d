/* im2col / col2im for NHWC and the weight reorders the GEMM path needs.
 * Layouts are described in conv2d_internal.h. */
#include <string.h>

#include "conv2d_internal.h"

#include <cblas.h>
#include <omp.h>

static size_t chunk_budget = CONV2D_COL_BUDGET;

void conv2d_set_chunk_budget(size_t floats)
{
    chunk_budget = floats ? floats : CONV2D_COL_BUDGET;
}

size_t conv2d_chunk_budget(void)
{
    return chunk_budget;
}

int conv2d_threads(void)
{
    int nt = omp_get_max_threads();
    return nt < 1 ? 1 : nt;
}

int conv2d_blas_single_begin(void)
{
    int saved = openblas_get_num_threads();
    if (saved != 1) {
        openblas_set_num_threads(1);
    }
    return saved;
}

void conv2d_blas_single_end(int saved)
{
    if (saved != 1) {
        openblas_set_num_threads(saved);
    }
}

int conv2d_balance_chunk(long long rows, long long per)
{
    long long nt = conv2d_threads();
    if (per < 1) {
        per = 1;
    }
    long long chunks = (rows + per - 1) / per;
    /* Equal chunks, a multiple of the thread count of them: a short last
     * chunk would leave a thread idle at the end. */
    if (rows >= nt) {
        chunks = (chunks + nt - 1) / nt * nt;
    }
    if (chunks > rows) {
        chunks = rows;
    }
    return (int)((rows + chunks - 1) / chunks);
}

int conv2d_rows_per_chunk(const Conv2dShape *s, size_t budget)
{
    size_t row = (size_t)s->q * s->r * s->s * s->c;
    size_t per = budget / (row ? row : 1);
    /* Each GEMM call packs the whole weight matrix again: give it enough
     * rows (M for the forward, the reduction for dW) to pay for that. */
    size_t min_rows = (CONV2D_MIN_GEMM_ROWS + s->q - 1) / s->q;
    if (budget >= CONV2D_COL_BUDGET / 4 && per < min_rows) {
        per = min_rows;
    }
    int rows = conv2d_balance_chunk((long long)s->n * s->p, (long long)per);
    /* The strided data gradient runs chunks i and i+2 at once: a chunk must
     * be taller than the input-row overlap of its neighbours. */
    int overlap = (s->r - 1) * s->dil_h / s->stride_h;
    return rows < overlap ? overlap : rows;
}

/* One output pixel's column row when groups == 1: for each kernel row r the
 * s taps with unit dilation are one contiguous run of s*c input floats. */
static void im2col_pixel_g1(float *d, const float *in, const Conv2dShape *s,
                            int n, int ih0, int iw0)
{
    const int c = s->c;
    const size_t tap_row = (size_t)s->s * c;
    int s_lo = 0, s_hi = s->s;
    if (s->dil_w == 1) {
        s_lo = iw0 < 0 ? -iw0 : 0;
        s_hi = s->w - iw0 < s->s ? s->w - iw0 : s->s;
        if (s_hi < s_lo) {
            s_hi = s_lo;
        }
    }
    for (int r = 0; r < s->r; r++, d += tap_row) {
        int ih = ih0 + r * s->dil_h;
        if (ih < 0 || ih >= s->h) {
            memset(d, 0, tap_row * sizeof(float));
            continue;
        }
        const float *src = in + ((size_t)n * s->h + ih) * s->w * c;
        if (s->dil_w == 1) {
            memset(d, 0, (size_t)s_lo * c * sizeof(float));
            memcpy(d + (size_t)s_lo * c, src + (size_t)(iw0 + s_lo) * c,
                   (size_t)(s_hi - s_lo) * c * sizeof(float));
            memset(d + (size_t)s_hi * c, 0,
                   (size_t)(s->s - s_hi) * c * sizeof(float));
            continue;
        }
        for (int t = 0; t < s->s; t++) {
            int iw = iw0 + t * s->dil_w;
            if (iw < 0 || iw >= s->w) {
                memset(d + (size_t)t * c, 0, (size_t)c * sizeof(float));
            } else {
                memcpy(d + (size_t)t * c, src + (size_t)iw * c,
                       (size_t)c * sizeof(float));
            }
        }
    }
}

static void im2col_pixel_grouped(float *d, const float *in,
                                 const Conv2dShape *s, int n, int ih0, int iw0)
{
    const int cg = s->c / s->groups;
    for (int g = 0; g < s->groups; g++) {
        for (int r = 0; r < s->r; r++) {
            int ih = ih0 + r * s->dil_h;
            for (int t = 0; t < s->s; t++, d += cg) {
                int iw = iw0 + t * s->dil_w;
                if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) {
                    memset(d, 0, (size_t)cg * sizeof(float));
                } else {
                    memcpy(d, in + (((size_t)n * s->h + ih) * s->w + iw) * s->c
                                  + (size_t)g * cg,
                           (size_t)cg * sizeof(float));
                }
            }
        }
    }
}

void conv2d_im2col(float *col, const float *in, const Conv2dShape *s,
                   int row0, int row1, int part, int nparts)
{
    const size_t rsc = (size_t)s->r * s->s * s->c;
    int a, b;
    conv2d_split(row1 - row0, part, nparts, &a, &b);
    for (int gr = row0 + a; gr < row0 + b; gr++) {
        int n = gr / s->p, p = gr % s->p;
        int ih0 = p * s->stride_h - s->pad_h;
        float *dst = col + (size_t)(gr - row0) * s->q * rsc;
        for (int q = 0; q < s->q; q++) {
            int iw0 = q * s->stride_w - s->pad_w;
            if (s->groups == 1) {
                im2col_pixel_g1(dst + q * rsc, in, s, n, ih0, iw0);
            } else {
                im2col_pixel_grouped(dst + q * rsc, in, s, n, ih0, iw0);
            }
        }
    }
}

static inline void add_run(float *restrict d, const float *restrict x, int len)
{
    for (int i = 0; i < len; i++) {
        d[i] += x[i];
    }
}

/* Input rows [lo, hi) of image n that output rows [pa, pb) touch. */
static void touched_rows(const Conv2dShape *s, int pa, int pb, int *lo, int *hi)
{
    int a = pa * s->stride_h - s->pad_h;
    int b = (pb - 1) * s->stride_h - s->pad_h + (s->r - 1) * s->dil_h + 1;
    *lo = a < 0 ? 0 : a;
    *hi = b > s->h ? s->h : b;
    if (*hi < *lo) {
        *hi = *lo;
    }
}

void conv2d_col2im_add(float *din, const float *dcol, const Conv2dShape *s,
                       int row0, int row1, int part, int nparts)
{
    const int c = s->c, cg = s->c / s->groups, ntap = s->r * s->s;
    const size_t rsc = (size_t)ntap * c;
    const int n_first = row0 / s->p, n_last = (row1 - 1) / s->p;
    /* Tasks are the touched input rows, first image, full middle images,
     * last image, so every share gets real work. */
    int lo_f, hi_f, lo_l, hi_l;
    touched_rows(s, row0 - n_first * s->p,
                 n_first == n_last ? row1 - n_first * s->p : s->p, &lo_f, &hi_f);
    touched_rows(s, 0, row1 - n_last * s->p, &lo_l, &hi_l);
    const int first = hi_f - lo_f;
    const int middle = n_last > n_first + 1 ? (n_last - n_first - 1) * s->h : 0;
    const int tasks = first + middle + (n_last > n_first ? hi_l - lo_l : 0);
    int a, b;
    conv2d_split(tasks, part, nparts, &a, &b);
    for (int task = a; task < b; task++) {
        int n, ih;
        if (task < first) {
            n = n_first;
            ih = lo_f + task;
        } else if (task < first + middle) {
            n = n_first + 1 + (task - first) / s->h;
            ih = (task - first) % s->h;
        } else {
            n = n_last;
            ih = lo_l + task - first - middle;
        }
        int pa = n * s->p < row0 ? row0 - n * s->p : 0;
        int pb = (n + 1) * s->p > row1 ? row1 - n * s->p : s->p;
        float *drow = din + ((size_t)n * s->h + ih) * s->w * c;
        for (int r = 0; r < s->r; r++) {
            int t = ih + s->pad_h - r * s->dil_h;
            if (t < 0 || t % s->stride_h) {
                continue;
            }
            int p = t / s->stride_h;
            if (p < pa || p >= pb) {
                continue;
            }
            const float *src = dcol + ((size_t)(n * s->p + p) - row0) * s->q * rsc;
            for (int q = 0; q < s->q; q++) {
                int iw0 = q * s->stride_w - s->pad_w;
                const float *x = src + q * rsc;
                if (s->groups == 1 && s->dil_w == 1) {
                    /* The taps of kernel row r cover consecutive pixels:
                     * one run of (valid taps) * c floats. */
                    int lo = iw0 < 0 ? -iw0 : 0;
                    int hi = s->w - iw0 < s->s ? s->w - iw0 : s->s;
                    if (hi > lo) {
                        add_run(drow + (size_t)(iw0 + lo) * c,
                                x + ((size_t)r * s->s + lo) * c, (hi - lo) * c);
                    }
                    continue;
                }
                for (int g = 0; g < s->groups; g++) {
                    for (int u = 0; u < s->s; u++) {
                        int iw = iw0 + u * s->dil_w;
                        if (iw < 0 || iw >= s->w) {
                            continue;
                        }
                        add_run(drow + (size_t)iw * c + (size_t)g * cg,
                                x + ((size_t)g * ntap + (size_t)r * s->s + u) * cg,
                                cg);
                    }
                }
            }
        }
    }
}

void conv2d_reorder_weight(float *wr, const float *w, const Conv2dShape *s)
{
    const int cg = s->c / s->groups, ntap = s->r * s->s;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < s->k; k++) {
        for (int j = 0; j < cg; j++) {
            for (int t = 0; t < ntap; t++) {
                wr[((size_t)k * ntap + t) * cg + j] = w[((size_t)k * cg + j) * ntap + t];
            }
        }
    }
}

void conv2d_unreorder_add(float *dw, const float *dwr, const Conv2dShape *s)
{
    const int cg = s->c / s->groups, ntap = s->r * s->s;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < s->k; k++) {
        for (int j = 0; j < cg; j++) {
            for (int t = 0; t < ntap; t++) {
                dw[((size_t)k * cg + j) * ntap + t] += dwr[((size_t)k * ntap + t) * cg + j];
            }
        }
    }
}

void conv2d_flip_weight(float *wt, const float *w, const Conv2dShape *s)
{
    const int G = s->groups, cg = s->c / G, kg = s->k / G;
    const int R = s->r, S = s->s;
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < s->c; ci++) {
        int g = ci / cg, cj = ci % cg;
        for (int r = 0; r < R; r++) {
            for (int u = 0; u < S; u++) {
                float *dst = wt + (((size_t)ci * R + r) * S + u) * kg;
                for (int kk = 0; kk < kg; kk++) {
                    size_t k = (size_t)g * kg + kk;
                    dst[kk] = w[((k * cg + cj) * R + (R - 1 - r)) * S + (S - 1 - u)];
                }
            }
        }
    }
}
