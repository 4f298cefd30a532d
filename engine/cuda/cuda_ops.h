/* CUDA twins of the CPU ops (engine/ops/): same arguments plus a context
 * (its stream), same semantics: NHWC activations, PyTorch weight layout,
 * backward accumulates (+=) and a NULL gradient is skipped. Every pointer
 * is device memory. Calls are asynchronous; each returns 0 or THAW_ERR_CUDA
 * with the failing call in err (launch errors show at once, faults inside a
 * kernel at the next thaw_cuda_synchronize). */
#ifndef THAW_CUDA_OPS_H
#define THAW_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"
#include "engine/cuda/cuda_context.h"

/* engine/ops/linear.h: out[n, o] = in[n, i] W[o, i]^T + b (cuBLAS). */
int thaw_cuda_linear_forward(ThawCudaContext *ctx, float *out, const float *in,
                             const float *weight, const float *bias, int n,
                             int in_features, int out_features, ThawError *err);
/* din += dout W; dW += dout^T in; db += column sums of dout. */
int thaw_cuda_linear_backward(ThawCudaContext *ctx, float *din, float *dweight,
                              float *dbias, const float *dout, const float *in,
                              const float *weight, int n, int in_features,
                              int out_features, ThawError *err);

/* engine/ops/activation.h: backward reads the forward output. */
int thaw_cuda_relu_forward(ThawCudaContext *ctx, float *out, const float *in,
                           size_t n, ThawError *err);
int thaw_cuda_relu_backward(ThawCudaContext *ctx, float *din, const float *dout,
                            const float *out, size_t n, ThawError *err);
int thaw_cuda_relu6_forward(ThawCudaContext *ctx, float *out, const float *in,
                            size_t n, ThawError *err);
int thaw_cuda_relu6_backward(ThawCudaContext *ctx, float *din, const float *dout,
                             const float *out, size_t n, ThawError *err);

/* engine/ops/elementwise.h: out = a + b; da += dout, db += dout. */
int thaw_cuda_add_forward(ThawCudaContext *ctx, float *out, const float *a,
                          const float *b, size_t n, ThawError *err);
int thaw_cuda_add_backward(ThawCudaContext *ctx, float *da, float *db,
                           const float *dout, size_t n, ThawError *err);

/* Global average pooling [n, h, w, c] -> [n, c]: adaptive_avgpool2d with a
 * 1x1 output (engine/ops/pool.h). Backward spreads dout / (h*w). */
int thaw_cuda_global_avgpool_forward(ThawCudaContext *ctx, float *out,
                                     const float *in, int n, int h, int w, int c,
                                     ThawError *err);
int thaw_cuda_global_avgpool_backward(ThawCudaContext *ctx, float *din,
                                      const float *dout, int n, int h, int w,
                                      int c, ThawError *err);

/* engine/ops/cross_entropy.h, with label smoothing. probs[n, classes] keeps
 * the softmax for backward, row_loss[n] is scratch, *loss (one device
 * float) receives the mean loss. labels are int32 on the device. */
int thaw_cuda_cross_entropy_forward(ThawCudaContext *ctx, float *loss,
                                    float *probs, float *row_loss,
                                    const float *logits, const int32_t *labels,
                                    int n, int classes, float smoothing,
                                    ThawError *err);
int thaw_cuda_cross_entropy_backward(ThawCudaContext *ctx, float *dlogits,
                                     const float *probs, const int32_t *labels,
                                     int n, int classes, float smoothing,
                                     float dloss, ThawError *err);

#ifdef __cplusplus
}
#endif

#endif
