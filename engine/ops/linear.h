/* Fully connected layer, PyTorch layout: out[n, o] = in[n, i] W[o, i]^T + b.
 * Matrix products through OpenBLAS. Backward accumulates (+=); NULL skips. */
#ifndef THAW_OP_LINEAR_H
#define THAW_OP_LINEAR_H

void linear_forward(float *out, const float *in, const float *weight,
                    const float *bias, int n, int in_features,
                    int out_features);

void linear_backward(float *din, float *dweight, float *dbias,
                     const float *dout, const float *in, const float *weight,
                     int n, int in_features, int out_features);

#endif
