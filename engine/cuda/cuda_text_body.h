/* The per-thread work of the text ops' CUDA kernels (cuda_text_ops.cu):
 * GELU, layer norm and row softmax, as __host__ __device__ functions that
 * mirror the CPU ops (engine/ops/gelu.c, layernorm.c, attention.c) line by
 * line, so tests/gpu/host_text_ops.cu can run them on the CPU over every
 * index of the real launches and compare with the CPU ops on any machine.
 * Rows are one thread each (layer norm over c <= 1024 channels, softmax
 * over T keys): simple and deterministic; a warp per row is the next step
 * once they have run on a GPU. `assign` writes (=) an input gradient
 * instead of adding, as the executor's assign mode does. */
#ifndef THAW_CUDA_TEXT_BODY_H
#define THAW_CUDA_TEXT_BODY_H

#include <math.h>
#include <stddef.h>

#include "engine/ops/gelu_math.h"

#define THAW_TEXT_FN __host__ __device__ static inline

THAW_TEXT_FN void thaw_gelu_forward_at(float *out, const float *in, size_t i)
{
    out[i] = thaw_gelu_value(in[i]);
}

THAW_TEXT_FN void thaw_gelu_backward_at(float *din, const float *dout, const float *in,
                                        int assign, size_t i)
{
    din[i] = (assign ? 0.0f : din[i]) + dout[i] * thaw_gelu_slope(in[i]);
}

/* Row i of layer norm: mean and rstd saved, as layernorm_forward. */
THAW_TEXT_FN void thaw_layernorm_forward_row(float *out, float *mean, float *rstd,
                                             const float *in, const float *gamma,
                                             const float *beta, int c, float eps, long i)
{
    const float *x = in + (size_t)i * c;
    float *y = out + (size_t)i * c;
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
    mean[i] = m;
    rstd[i] = r;
}

/* Row i of layer norm's input gradient, as layernorm_backward. */
THAW_TEXT_FN void thaw_layernorm_din_row(float *din, const float *dout, const float *in,
                                         const float *mean, const float *rstd,
                                         const float *gamma, int c, int assign, long i)
{
    const float *x = in + (size_t)i * c, *dy = dout + (size_t)i * c;
    float *dx = din + (size_t)i * c;
    float m = mean[i], r = rstd[i];
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

/* dgamma / dbeta partials of column j over the rows of one chunk:
 * part[chunk][j] = sum dy xhat, part[chunks + chunk][j] = sum dy (float, in
 * row order, as the CPU's per-thread partials). */
THAW_TEXT_FN void thaw_layernorm_param_partial(float *part, const float *dout,
                                               const float *in, const float *mean,
                                               const float *rstd, long rows, int c,
                                               long rows_per_chunk, int chunks, int chunk,
                                               int j)
{
    float g = 0.0f, b = 0.0f;
    long r1 = (chunk + 1) * rows_per_chunk < rows ? (chunk + 1) * rows_per_chunk : rows;
    for (long i = chunk * rows_per_chunk; i < r1; i++) {
        float dy = dout[(size_t)i * c + j];
        g += dy * (in[(size_t)i * c + j] - mean[i]) * rstd[i];
        b += dy;
    }
    part[(size_t)chunk * c + j] = g;
    part[((size_t)chunks + chunk) * c + j] = b;
}

/* dgamma[j] += the chunks' partials, in chunk order; NULL skips one. */
THAW_TEXT_FN void thaw_layernorm_param_total(float *dgamma, float *dbeta, const float *part,
                                             int chunks, int c, int j)
{
    float g = 0.0f, b = 0.0f;
    for (int k = 0; k < chunks; k++) {
        g += part[(size_t)k * c + j];
        b += part[((size_t)chunks + k) * c + j];
    }
    if (dgamma) {
        dgamma[j] += g;
    }
    if (dbeta) {
        dbeta[j] += b;
    }
}

/* Row i of a softmax over cols (out may alias in), as softmax_rows_forward. */
THAW_TEXT_FN void thaw_softmax_forward_row(float *out, const float *in, int cols, long i)
{
    const float *x = in + (size_t)i * cols;
    float *y = out + (size_t)i * cols;
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

/* din (+)= out * (dout - <dout, out>), row i, as softmax_rows_backward. */
THAW_TEXT_FN void thaw_softmax_backward_row(float *din, const float *dout, const float *out,
                                            int cols, int assign, long i)
{
    const float *o = out + (size_t)i * cols, *g = dout + (size_t)i * cols;
    float *d = din + (size_t)i * cols;
    float dot = 0.0f;
    for (int j = 0; j < cols; j++) {
        dot += g[j] * o[j];
    }
    for (int j = 0; j < cols; j++) {
        d[j] = (assign ? 0.0f : d[j]) + o[j] * (g[j] - dot);
    }
}

/* Layer norm's parameter gradients: rows cut into at most this many chunks
 * of at least 32 rows. */
static inline int thaw_layernorm_chunks(long rows)
{
    long chunks = (rows + 31) / 32;
    chunks = chunks > 256 ? 256 : chunks;
    return chunks < 1 ? 1 : (int)chunks;
}

#endif
