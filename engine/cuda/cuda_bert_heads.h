/* The small pieces of BERT's pooling and head that are not engine ops on
 * the CPU either (bert_forward.c / bert_backward.c write them inline): the
 * masked mean over tokens, tanh in place and its gradient, and a gradient
 * scaled in place by a dropout mask. Same formulas and summation order as
 * the CPU loops; device pointers; asynchronous on ctx's stream. */
#ifndef THAW_CUDA_BERT_HEADS_H
#define THAW_CUDA_BERT_HEADS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"
#include "engine/cuda/cuda_context.h"

/* out[b, j] = sum over tokens t with key_mask[b, t] of h[b, t, j], in t
 * order, times 1 / count (0 when a row has no token). */
int thaw_cuda_masked_mean_forward(ThawCudaContext *ctx, float *out, const float *h,
                                  const int32_t *key_mask, int batch, int seq, int c,
                                  ThawError *err);
/* dh[b, t, j] = key_mask[b, t] ? dfeat[b, j] / count : 0 (written, =). */
int thaw_cuda_masked_mean_backward(ThawCudaContext *ctx, float *dh, const float *dfeat,
                                   const int32_t *key_mask, int batch, int seq, int c,
                                   ThawError *err);
/* x = tanh(x); d *= 1 - y * y (y the tanh output); x *= mask. */
int thaw_cuda_tanh_inplace(ThawCudaContext *ctx, float *x, size_t n, ThawError *err);
int thaw_cuda_tanh_backward_inplace(ThawCudaContext *ctx, float *d, const float *y, size_t n,
                                    ThawError *err);
int thaw_cuda_scale_inplace(ThawCudaContext *ctx, float *x, const float *mask, size_t n,
                            ThawError *err);

#ifdef __cplusplus
}
#endif

#endif
