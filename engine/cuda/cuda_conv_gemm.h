/* 1x1 convolutions (groups 1, no padding) as cuBLAS matrix products: on
 * NHWC maps such a convolution is the linear op over n*p*q rows, so
 * forward, backward data and backward filter are one GEMM each, through
 * cuda_linear.cu. Strided ones (ResNet's downsample) first gather the
 * sampled pixels into scratch; backward data scatters back. Measured on an
 * H100 (bench/README.md): cuDNN's fp32 (FMA) backward kernels for these
 * shapes took 20-70 ms each at batch 128, the GEMMs a few. */
#ifndef THAW_CUDA_CONV_GEMM_H
#define THAW_CUDA_CONV_GEMM_H

#include "engine/cuda/cuda_context_internal.h"
#include "engine/ops/conv2d.h"

/* Whether s can go through the GEMM path on ctx (gemm_1x1 on and a 1x1
 * shape); in timed mode the plan then picks the path per direction. */
int thaw_cuda_conv1x1_applies(const ThawCudaContext *ctx, const Conv2dShape *s);
/* Milliseconds of the GEMM path's forward, backward data and backward
 * filter for s (per call, the fastest of 3 runs of 5 calls after a warm-up), on buffers
 * allocated for the timing and freed after it, as cuDNN's Find does.
 * Returns 0 with ms[] filled, or an error; *timed = 0 (no error) when the
 * buffers do not fit in device memory. */
int thaw_cuda_conv1x1_time(ThawCudaContext *ctx, const Conv2dShape *s, float ms[3],
                           int *timed, ThawError *err);
/* out = conv(in) (no bias: the caller adds it). Maps and weights in the
 * context's activation storage (cuda_ops.h), dweight float. */
int thaw_cuda_conv1x1_forward(ThawCudaContext *ctx, void *out, const void *in,
                              const void *weight, const Conv2dShape *s, ThawError *err);
/* din += and dweight += (either may be NULL), like the cuDNN path. */
int thaw_cuda_conv1x1_backward(ThawCudaContext *ctx, void *din, float *dweight,
                               const void *dout, const void *in, const void *weight,
                               const Conv2dShape *s, ThawError *err);

#endif
