/* Per-row maths of layer norm and softmax, shared by the CPU ops
 * (engine/ops/layernorm.c, attention.c); the CUDA kernels compute the same
 * formulas with a warp per row (engine/cuda/cuda_warp_rows.h), which only
 * changes the order of the sums. `assign` writes (=) a gradient instead of adding to it; the
 * executor's assign mode uses it, the CPU ops add.
 *
 *   layer norm: xhat = (x - mean) * rstd,  y = xhat * gamma + beta,
 *               dx = rstd * (dy gamma - mean(dy gamma) - xhat mean(dy gamma xhat))
 *   softmax:    y = exp(x - max) / sum,  dx = y * (dy - <dy, y>) */
#ifndef THAW_OP_ROW_MATH_H
#define THAW_OP_ROW_MATH_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define THAW_ROW_FN __host__ __device__ static inline
#else
#define THAW_ROW_FN static inline
#endif

/* One row of c values: y, and the row's mean and rstd for the backward.
 * Sums in double, two passes (no cancellation for large means). */
THAW_ROW_FN void thaw_layernorm_row_forward(float *y, float *mean, float *rstd,
                                            const float *x, const float *gamma,
                                            const float *beta, int c, float eps)
{
    double sum = 0.0;
    for (int j = 0; j < c; j++) {
        sum += x[j];
    }
    float m = (float)(sum / c);
    double var = 0.0;
    for (int j = 0; j < c; j++) {
        float d = x[j] - m;
        var += (double)d * d;
    }
    float r = (float)(1.0 / sqrt(var / c + eps));
    for (int j = 0; j < c; j++) {
        y[j] = (x[j] - m) * r * gamma[j] + beta[j];
    }
    *mean = m;
    *rstd = r;
}

/* One row's input gradient from its saved mean m and rstd r. */
THAW_ROW_FN void thaw_layernorm_row_din(float *dx, const float *dy, const float *x, float m,
                                        float r, const float *gamma, int c, int assign)
{
    float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
    for (int j = 0; j < c; j++) {
        float dxhat = dy[j] * gamma[j];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * (x[j] - m) * r;
    }
    float a = sum_dxhat / c, b = sum_dxhat_xhat / c;
    for (int j = 0; j < c; j++) {
        float xhat = (x[j] - m) * r;
        dx[j] = (assign ? 0.0f : dx[j]) + r * (dy[j] * gamma[j] - a - xhat * b);
    }
}

/* Softmax of one row of cols values; y may alias x. */
THAW_ROW_FN void thaw_softmax_row_forward(float *y, const float *x, int cols)
{
    float mx = x[0];
    for (int j = 1; j < cols; j++) {
        mx = x[j] > mx ? x[j] : mx;
    }
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
        y[j] = expf(x[j] - mx);
        sum += y[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < cols; j++) {
        y[j] *= inv;
    }
}

/* Softmax of one score row in place over the keys mask keeps (mask[j] 1;
 * the rest get 0; NULL keeps all); a row with no key attends uniformly,
 * as BERT's additive mask gives. */
THAW_ROW_FN void thaw_masked_softmax_row(float *row, const int32_t *mask, int cols)
{
    if (!mask) {
        thaw_softmax_row_forward(row, row, cols);
        return;
    }
    float mx = -INFINITY;
    for (int j = 0; j < cols; j++) {
        if (mask[j] && row[j] > mx) {
            mx = row[j];
        }
    }
    if (mx == -INFINITY) {
        for (int j = 0; j < cols; j++) {
            row[j] = 1.0f / cols;
        }
        return;
    }
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
        row[j] = mask[j] ? expf(row[j] - mx) : 0.0f;
        sum += row[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < cols; j++) {
        row[j] *= inv;
    }
}

/* dx (+)= y * (dy - <dy, y>) for one row; dx may alias dy (each element
 * is read before it is written, after the dot product is complete). */
THAW_ROW_FN void thaw_softmax_row_backward(float *dx, const float *dy, const float *y,
                                           int cols, int assign)
{
    float dot = 0.0f;
    for (int j = 0; j < cols; j++) {
        dot += dy[j] * y[j];
    }
    for (int j = 0; j < cols; j++) {
        dx[j] = (assign ? 0.0f : dx[j]) + y[j] * (dy[j] - dot);
    }
}

#endif
