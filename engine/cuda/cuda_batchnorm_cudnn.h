/* Train-mode batch norm on cuDNN's NHWC kernels, when the context asks for
 * them (thaw_cuda_context_set_cudnn_batchnorm); cuda_batchnorm.cu calls
 * these first and runs its own kernels when *done is 0. Semantics of
 * thaw_cuda_batchnorm_forward_train / backward_train (cuda_ops.h). */
#ifndef THAW_CUDA_BATCHNORM_CUDNN_H
#define THAW_CUDA_BATCHNORM_CUDNN_H

#include "engine/cuda/cuda_context_internal.h"

int thaw_cuda_bn_cudnn_forward_train(ThawCudaContext *ctx, float *y, float *mean, float *rstd,
                                     const float *x, const float *gamma, const float *beta,
                                     float *running_mean, float *running_var, float momentum,
                                     float eps, int m, int c, int *done, ThawError *err);
int thaw_cuda_bn_cudnn_backward_train(ThawCudaContext *ctx, float *dx, float *dgamma,
                                      float *dbeta, const float *dy, const float *x,
                                      const float *mean, const float *rstd, const float *gamma,
                                      float eps, int m, int c, int *done, ThawError *err);

#endif
