/* Small shape-free ops: residual add, dropout, flatten (NHWC -> PyTorch's
 * NCHW order, so a following Linear matches PyTorch weights). Backward
 * accumulates (+=) into its outputs. */
#ifndef THAW_OP_ELEMENTWISE_H
#define THAW_OP_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

/* out = a + b (out may alias a or b). */
void add_forward(float *out, const float *a, const float *b, size_t n);
/* da += dout; db += dout (either may be NULL). */
void add_backward(float *da, float *db, const float *dout, size_t n);

/* Inverted dropout: keeps each element with probability 1-p and scales it by
 * 1/(1-p); mask receives the scale (0 or 1/(1-p)). *rng_state is a
 * splitmix64/xorshift state advanced by the call, so runs are reproducible
 * from a seed. p == 0 copies. */
void dropout_forward(float *out, float *mask, const float *in, float p,
                     size_t n, uint64_t *rng_state);
void dropout_backward(float *din, const float *dout, const float *mask,
                      size_t n);

/* [n, h, w, c] -> [n, c*h*w] in PyTorch's (c, h, w) order. */
void flatten_forward(float *out, const float *in, int n, int h, int w, int c);
void flatten_backward(float *din, const float *dout, int n, int h, int w,
                      int c);

/* NCHW <-> NHWC layout conversion (model input and input gradient). */
void nchw_to_nhwc(float *out, const float *in, int n, int c, int h, int w);
void nhwc_to_nchw(float *out, const float *in, int n, int h, int w, int c);

#endif
