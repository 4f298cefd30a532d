/* Pointwise activations. Backward reads the forward OUTPUT, so forward may
 * run in place (out == in). Backward accumulates (+=) into din. */
#ifndef THAW_OP_ACTIVATION_H
#define THAW_OP_ACTIVATION_H

#include <stddef.h>

void relu_forward(float *out, const float *in, size_t n);
void relu_backward(float *din, const float *dout, const float *out, size_t n);

/* min(max(x, 0), 6); gradient passes where 0 < out < 6. */
void relu6_forward(float *out, const float *in, size_t n);
void relu6_backward(float *din, const float *dout, const float *out, size_t n);

#endif
