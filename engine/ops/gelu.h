/* GELU with the exact erf form (torch.nn.functional.gelu, approximate
 * "none"; BERT's hidden_act "gelu"): out = x * Phi(x) = 0.5 x (1 + erf(x/√2)).
 * Backward reads the forward INPUT and accumulates (+=) into din. */
#ifndef THAW_OP_GELU_H
#define THAW_OP_GELU_H

#include <stddef.h>

void gelu_forward(float *out, const float *in, size_t n);

/* din += dout * (Phi(x) + x * phi(x)) */
void gelu_backward(float *din, const float *dout, const float *in, size_t n);

#endif
