/* Depthwise convolutions (groups == channels, one filter per channel, as
 * in EfficientNet and MobileNet) with the backend's own NHWC kernels
 * instead of cuDNN's. Why: on an H100 (bench/README.md) cuDNN's legacy
 * API picked kernels for these shapes that moved memory at a tenth of the
 * bandwidth (3.1 ms for a [128,113,113,96] 3x3 s2 forward that reads and
 * writes 0.8 GB), and depthwise layers were most of Lite0's step. On by
 * default since they ran on an H100 (parity in test_gpu_cnn_ops and
 * test_gpu_models; thaw_cuda_context_set_own_depthwise(ctx, 0) goes back
 * to cuDNN). */
#ifndef THAW_CUDA_DEPTHWISE_H
#define THAW_CUDA_DEPTHWISE_H

#include "engine/cuda/cuda_context_internal.h"
#include "engine/ops/conv2d.h"

/* Whether s goes through these kernels on ctx. */
int thaw_cuda_depthwise_applies(const ThawCudaContext *ctx, const Conv2dShape *s);
/* out = conv(in) (no bias: the caller adds it). Maps and weights in the
 * context's activation storage (cuda_ops.h), dweight float. */
int thaw_cuda_depthwise_forward(ThawCudaContext *ctx, void *out, const void *in,
                                const void *weight, const Conv2dShape *s, ThawError *err);
/* din (+)= (ctx's assign flag) and dweight += (either may be NULL). The
 * filter gradient is summed in a fixed order: deterministic. */
int thaw_cuda_depthwise_backward(ThawCudaContext *ctx, void *din, float *dweight,
                                 const void *dout, const void *in, const void *weight,
                                 const Conv2dShape *s, ThawError *err);

#endif
