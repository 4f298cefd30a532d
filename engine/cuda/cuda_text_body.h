/* The per-thread work of the text ops' flat CUDA kernels (cuda_text_ops.cu):
 * GELU and layer norm's parameter gradients, as __host__ __device__
 * functions over the same per-value maths as the CPU ops (gelu_math.h), so
 * tests/gpu/host_text_ops.cu can run them on the CPU over every index of
 * the real launches and compare with the CPU ops on any machine. The row
 * ops (layer norm, softmax) run a warp per row: cuda_warp_rows.h. `assign`
 * writes (=) an input gradient instead of adding, as the executor's assign
 * mode does. */
#ifndef THAW_CUDA_TEXT_BODY_H
#define THAW_CUDA_TEXT_BODY_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

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

/* Layer norm's parameter gradients: rows cut into at most this many chunks
 * of at least 32 rows. */
static inline int thaw_layernorm_chunks(long rows)
{
    long chunks = (rows + 31) / 32;
    chunks = chunks > 256 ? 256 : chunks;
    return chunks < 1 ? 1 : (int)chunks;
}

#endif
