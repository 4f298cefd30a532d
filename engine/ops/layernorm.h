/* Layer normalisation over the last dimension, as torch.nn.LayerNorm(c):
 *   out[i, :] = (in[i, :] - mean_i) * rstd_i * gamma + beta,
 *   rstd_i = 1 / sqrt(biased variance_i + eps).
 * Forward saves mean and rstd per row for backward, which also reads the
 * forward input (not the output: gamma may be near zero). Backward
 * accumulates (+=) into din, dgamma, dbeta; NULL skips one. */
#ifndef THAW_OP_LAYERNORM_H
#define THAW_OP_LAYERNORM_H

void layernorm_forward(float *out, float *mean, float *rstd, const float *in,
                       const float *gamma, const float *beta, int rows,
                       int c, float eps);

void layernorm_backward(float *din, float *dgamma, float *dbeta,
                        const float *dout, const float *in, const float *mean,
                        const float *rstd, const float *gamma, int rows,
                        int c);

#endif
