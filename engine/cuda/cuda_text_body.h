/* The per-thread work of the text ops' CUDA kernels (cuda_text_ops.cu):
 * GELU, layer norm and row softmax, as __host__ __device__ functions over
 * the same per-value and per-row maths as the CPU ops (gelu_math.h,
 * row_math.h), so tests/gpu/host_text_ops.cu can run them on the CPU over every
 * index of the real launches and compare with the CPU ops on any machine.
 * Rows are one thread each (layer norm over c <= 1024 channels, softmax
 * over T keys): simple and deterministic; a warp per row is the next step
 * once they have run on a GPU. `assign` writes (=) an input gradient
 * instead of adding, as the executor's assign mode does. */
#ifndef THAW_CUDA_TEXT_BODY_H
#define THAW_CUDA_TEXT_BODY_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/ops/gelu_math.h"
#include "engine/ops/row_math.h"

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
    thaw_layernorm_row_forward(out + (size_t)i * c, &mean[i], &rstd[i], in + (size_t)i * c,
                               gamma, beta, c, eps);
}

/* Row i of layer norm's input gradient, as layernorm_backward. */
THAW_TEXT_FN void thaw_layernorm_din_row(float *din, const float *dout, const float *in,
                                         const float *mean, const float *rstd,
                                         const float *gamma, int c, int assign, long i)
{
    thaw_layernorm_row_din(din + (size_t)i * c, dout + (size_t)i * c, in + (size_t)i * c,
                           mean[i], rstd[i], gamma, c, assign);
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
    thaw_softmax_row_forward(out + (size_t)i * cols, in + (size_t)i * cols, cols);
}

/* din (+)= out * (dout - <dout, out>), row i, as softmax_rows_backward. */
THAW_TEXT_FN void thaw_softmax_backward_row(float *din, const float *dout, const float *out,
                                            int cols, int assign, long i)
{
    thaw_softmax_row_backward(din + (size_t)i * cols, dout + (size_t)i * cols,
                              out + (size_t)i * cols, cols, assign);
}

/* Score row r of [B, H, T] rows: the masked softmax in place, with batch
 * element b's key mask (NULL: every key), as attention_probs_forward. */
THAW_TEXT_FN void thaw_attention_softmax_row(float *probs, const int32_t *key_mask, int seq,
                                             int heads, long r)
{
    long b = r / ((long)heads * seq);
    thaw_masked_softmax_row(probs + (size_t)r * seq,
                            key_mask ? key_mask + (size_t)b * seq : NULL, seq);
}

/* Row r of ds (the gradient of the probabilities v was multiplied by):
 * times the dropout scale when there is one, then through the softmax's
 * backward with probs, written in place, as attention_backward. */
THAW_TEXT_FN void thaw_attention_ds_row(float *ds, const float *probs, const float *drop_mask,
                                        int seq, long r)
{
    float *row = ds + (size_t)r * seq;
    if (drop_mask) {
        const float *mk = drop_mask + (size_t)r * seq;
        for (int j = 0; j < seq; j++) {
            row[j] *= mk[j];
        }
    }
    thaw_softmax_row_backward(row, row, probs + (size_t)r * seq, seq, 1);
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
