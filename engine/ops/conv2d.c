/* 2-D convolution on the CPU: im2col + OpenBLAS GEMM over the whole batch.
 *
 * With NHWC activations the output of a group is one row-major matrix
 * out[n*p*q, k] (ldc = k), so each group is a single GEMM per im2col chunk:
 *   out[m, kg] = col[m, r*s*cg] x wr_g^T        (wr: [k][r][s][cg])
 * 1x1 stride-1 unpadded convs need no im2col: col is the input itself.
 * Backward:
 *   dW_g  += dout_g^T x col_g   (chunk by chunk, GEMM beta=1 across chunks)
 *   din   += for stride 1: a stride-1 convolution of dout with flipped,
 *            transposed weights, accumulated by the GEMM itself (beta=1);
 *            otherwise dcol = dout x wr, then a gather col2im.
 * im2col is chunked over output rows (CONV2D_COL_BUDGET) so the workspace
 * stays a few MB whatever the batch. Depthwise convs take a direct NHWC
 * kernel (conv2d_depthwise.c). BLAS calls sit outside OpenMP regions:
 * OpenBLAS threads itself. */
#include "conv2d.h"

#include <cblas.h>
#include <string.h>

#include "conv2d_internal.h"

int conv2d_shape_init(Conv2dShape *s, int n, int h, int w, int c, int k,
                      int r, int kernel_s, int stride, int pad, int dilation,
                      int groups)
{
    memset(s, 0, sizeof *s);
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || k <= 0 || r <= 0 ||
        kernel_s <= 0 || stride <= 0 || pad < 0 || dilation <= 0 ||
        groups <= 0 || c % groups || k % groups) {
        return -1;
    }
    s->n = n; s->h = h; s->w = w; s->c = c; s->k = k;
    s->r = r; s->s = kernel_s;
    s->stride_h = s->stride_w = stride;
    s->pad_h = s->pad_w = pad;
    s->dil_h = s->dil_w = dilation;
    s->groups = groups;
    int eh = h + 2 * pad - dilation * (r - 1);
    int ew = w + 2 * pad - dilation * (kernel_s - 1);
    if (eh <= 0 || ew <= 0) {
        return -1;
    }
    s->p = (eh - 1) / stride + 1;
    s->q = (ew - 1) / stride + 1;
    return 0;
}

/* 1x1, stride 1, no padding: the input already is the column matrix. */
static int is_pointwise(const Conv2dShape *s)
{
    return s->r == 1 && s->s == 1 && s->stride_h == 1 && s->stride_w == 1 &&
           s->pad_h == 0 && s->pad_w == 0;
}

/* din as a forward conv of dout works for unit stride when the implied
 * padding dil*(r-1) - pad is not negative. */
static int bwd_data_as_conv(const Conv2dShape *s)
{
    return s->stride_h == 1 && s->stride_w == 1 && s->r * s->s > 1 &&
           s->pad_h <= s->dil_h * (s->r - 1) && s->pad_w <= s->dil_w * (s->s - 1);
}

/* Shape of that transposed convolution: dout [n,p,q,k] -> din [n,h,w,c]. */
static Conv2dShape transposed_shape(const Conv2dShape *s)
{
    Conv2dShape t = *s;
    t.h = s->p; t.w = s->q; t.c = s->k; t.k = s->c;
    t.pad_h = s->dil_h * (s->r - 1) - s->pad_h;
    t.pad_w = s->dil_w * (s->s - 1) - s->pad_w;
    t.p = s->h; t.q = s->w;
    return t;
}

static size_t weight_floats(const Conv2dShape *s)
{
    if (s->r * s->s == 1) {
        return 0;   /* 1x1 weights need no reorder */
    }
    return (size_t)s->k * s->r * s->s * (s->c / s->groups);
}

static size_t col_floats(const Conv2dShape *s)
{
    return (size_t)conv2d_rows_per_chunk(s) * s->q * s->r * s->s * s->c;
}

size_t conv2d_workspace_floats(const Conv2dShape *s)
{
    if (conv2d_is_depthwise(s)) {
        return conv2d_dw_workspace_floats(s);
    }
    size_t col = is_pointwise(s) ? 0 : col_floats(s);
    if (bwd_data_as_conv(s)) {
        Conv2dShape t = transposed_shape(s);
        size_t ct = col_floats(&t);
        col = col > ct ? col : ct;
    }
    return weight_floats(s) + col;
}

/* out = beta*out + conv(in, wr); wr in [k][r][s][cg] order. */
static void gemm_conv(float *out, float beta, const float *in, const float *wr,
                      const Conv2dShape *s, float *col)
{
    const int G = s->groups, cg = s->c / G, kg = s->k / G;
    const int kdim = s->r * s->s * cg, lda = s->r * s->s * s->c;
    if (is_pointwise(s)) {
        int m = s->n * s->h * s->w;
        for (int g = 0; g < G; g++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, kg, cg,
                        1.0f, in + (size_t)g * cg, s->c,
                        wr + (size_t)g * kg * cg, cg, beta,
                        out + (size_t)g * kg, s->k);
        }
        return;
    }
    const int rows = s->n * s->p, rpc = conv2d_rows_per_chunk(s);
    for (int row0 = 0; row0 < rows; row0 += rpc) {
        int row1 = row0 + rpc < rows ? row0 + rpc : rows;
        int m = (row1 - row0) * s->q;
        conv2d_im2col(col, in, s, row0, row1);
        float *o = out + (size_t)row0 * s->q * s->k;
        for (int g = 0; g < G; g++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, kg, kdim,
                        1.0f, col + (size_t)g * kdim, lda,
                        wr + (size_t)g * kg * kdim, kdim, beta,
                        o + (size_t)g * kg, s->k);
        }
    }
}

static void add_bias(float *out, const float *bias, size_t m, int k)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < m; i++) {
        float *o = out + i * k;
        for (int j = 0; j < k; j++) {
            o[j] += bias[j];
        }
    }
}

void conv2d_forward(float *out, const float *in, const float *weight,
                    const float *bias, const Conv2dShape *s, float *workspace)
{
    if (conv2d_is_depthwise(s)) {
        conv2d_dw_forward(out, in, weight, bias, s, workspace);
        return;
    }
    const float *wr = weight;
    if (weight_floats(s)) {
        conv2d_reorder_weight(workspace, weight, s);
        wr = workspace;
    }
    gemm_conv(out, 0.0f, in, wr, s, workspace + weight_floats(s));
    if (bias) {
        add_bias(out, bias, (size_t)s->n * s->p * s->q, s->k);
    }
}

/* dbias[j] += sum over rows of dout[:, j]; rows split over threads, each
 * with a private partial per block of channels. */
static void bias_grad(float *dbias, const float *dout, size_t m, int k)
{
    enum { KB = 256 };
    for (int k0 = 0; k0 < k; k0 += KB) {
        int kn = k - k0 < KB ? k - k0 : KB;
#pragma omp parallel
        {
            float acc[KB];
            memset(acc, 0, sizeof acc);
#pragma omp for schedule(static) nowait
            for (size_t i = 0; i < m; i++) {
                const float *d = dout + i * k + k0;
                for (int j = 0; j < kn; j++) {
                    acc[j] += d[j];
                }
            }
#pragma omp critical(conv2d_bias_grad)
            for (int j = 0; j < kn; j++) {
                dbias[k0 + j] += acc[j];
            }
        }
    }
}

static void weight_grad(float *dweight, const float *dout, const float *in,
                        const Conv2dShape *s, float *wbuf, float *col)
{
    const int G = s->groups, cg = s->c / G, kg = s->k / G;
    const int kdim = s->r * s->s * cg, lda = s->r * s->s * s->c;
    if (is_pointwise(s)) {
        int m = s->n * s->h * s->w;
        for (int g = 0; g < G; g++) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kg, cg, m,
                        1.0f, dout + (size_t)g * kg, s->k,
                        in + (size_t)g * cg, s->c, 1.0f,
                        dweight + (size_t)g * kg * cg, cg);
        }
        return;
    }
    /* 1x1 strided weights share PyTorch's layout: accumulate in place.
     * Otherwise accumulate [k][r][s][cg] in wbuf, then add once. */
    float *acc = weight_floats(s) ? wbuf : dweight;
    const int rows = s->n * s->p, rpc = conv2d_rows_per_chunk(s);
    for (int row0 = 0; row0 < rows; row0 += rpc) {
        int row1 = row0 + rpc < rows ? row0 + rpc : rows;
        int m = (row1 - row0) * s->q;
        float beta = (acc == wbuf && row0 == 0) ? 0.0f : 1.0f;
        conv2d_im2col(col, in, s, row0, row1);
        const float *d = dout + (size_t)row0 * s->q * s->k;
        for (int g = 0; g < G; g++) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kg, kdim, m,
                        1.0f, d + (size_t)g * kg, s->k,
                        col + (size_t)g * kdim, lda, beta,
                        acc + (size_t)g * kg * kdim, kdim);
        }
    }
    if (acc == wbuf) {
        conv2d_unreorder_add(dweight, wbuf, s);
    }
}

static void data_grad(float *din, const float *dout, const float *weight,
                      const Conv2dShape *s, float *wbuf, float *col)
{
    const int G = s->groups, cg = s->c / G, kg = s->k / G;
    const int kdim = s->r * s->s * cg, lda = s->r * s->s * s->c;
    if (is_pointwise(s)) {
        int m = s->n * s->h * s->w;
        for (int g = 0; g < G; g++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, cg, kg,
                        1.0f, dout + (size_t)g * kg, s->k,
                        weight + (size_t)g * kg * cg, cg, 1.0f,
                        din + (size_t)g * cg, s->c);
        }
        return;
    }
    if (bwd_data_as_conv(s)) {
        Conv2dShape t = transposed_shape(s);
        conv2d_flip_weight(wbuf, weight, s);
        gemm_conv(din, 1.0f, dout, wbuf, &t, col);
        return;
    }
    const float *wr = weight;
    if (weight_floats(s)) {
        conv2d_reorder_weight(wbuf, weight, s);
        wr = wbuf;
    }
    const int rows = s->n * s->p, rpc = conv2d_rows_per_chunk(s);
    for (int row0 = 0; row0 < rows; row0 += rpc) {
        int row1 = row0 + rpc < rows ? row0 + rpc : rows;
        int m = (row1 - row0) * s->q;
        const float *d = dout + (size_t)row0 * s->q * s->k;
        for (int g = 0; g < G; g++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, kdim, kg,
                        1.0f, d + (size_t)g * kg, s->k,
                        wr + (size_t)g * kg * kdim, kdim, 0.0f,
                        col + (size_t)g * kdim, lda);
        }
        conv2d_col2im_add(din, col, s, row0, row1);
    }
}

void conv2d_backward(float *din, float *dweight, float *dbias,
                     const float *dout, const float *in, const float *weight,
                     const Conv2dShape *s, float *workspace)
{
    if (conv2d_is_depthwise(s)) {
        conv2d_dw_backward(din, dweight, dbias, dout, in, weight, s, workspace);
        return;
    }
    if (dbias) {
        bias_grad(dbias, dout, (size_t)s->n * s->p * s->q, s->k);
    }
    /* Weight grad first: it and the data grad reuse the same weight-sized
     * buffer one after the other. */
    float *wbuf = workspace, *col = workspace + weight_floats(s);
    if (dweight) {
        weight_grad(dweight, dout, in, s, wbuf, col);
    }
    if (din) {
        data_grad(din, dout, weight, s, wbuf, col);
    }
}
