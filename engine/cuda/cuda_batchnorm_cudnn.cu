/* Train-mode batch norm through cuDNN's NHWC kernels
 * (cudnnBatchNormalization*Ex, CUDNN_BATCHNORM_SPATIAL_PERSISTENT, what
 * PyTorch runs for channels_last): an option beside the own kernels of
 * cuda_batchnorm.cu, which stay for eval mode, for the fused activations and
 * wherever cuDNN cannot take a call (epsilon under CUDNN_BN_MIN_EPSILON, a
 * workspace over the limit, a reserve space to keep between passes, no dx).
 * Same results up to rounding: cuDNN saves the batch mean and
 * 1 / sqrt(var + eps) as the own kernels do and updates the running
 * variance with the unbiased estimate, as PyTorch. [m, c] rows are
 * described as the NHWC tensor n 1, h m, w 1 (as [m, c, 1, 1] it would read
 * as NCHW too, where the persistent mode is the atomic, overflow-prone
 * one). Fewer than 2 rows stay on ours: cuDNN's unbiased running variance
 * divides by m - 1. */
#include "engine/cuda/cuda_batchnorm_cudnn.h"

#include "engine/cuda/cuda_ops.h"

static const cudnnBatchNormMode_t kMode = CUDNN_BATCHNORM_SPATIAL_PERSISTENT;

/* cuDNN 9 says "not supported" with sub-codes (shape, layout, ...). */
static int unsupported(cudnnStatus_t st)
{
    return CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_NOT_SUPPORTED;
}

static int describe(ThawCudaContext *ctx, int m, int c, ThawError *err)
{
    THAW_CUDNN_CHECK(cudnnSetTensor4dDescriptor(ctx->bn_x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT,
                                                1, c, m, 1));
    THAW_CUDNN_CHECK(cudnnSetTensor4dDescriptor(ctx->bn_param, CUDNN_TENSOR_NCHW,
                                                CUDNN_DATA_FLOAT, 1, c, 1, 1));
    return 0;
}

/* Whether cuDNN can take the call: the option on, epsilon allowed, and no
 * reserve space (it would have to live from forward to backward); the
 * descriptors are set for [m, c] when it can. */
static int usable(ThawCudaContext *ctx, float eps, int m, int c, int *ok, ThawError *err)
{
    *ok = 0;
    if (!ctx->cudnn_batchnorm || (double)eps < CUDNN_BN_MIN_EPSILON || m < 2) {
        return 0;
    }
    int rc = describe(ctx, m, c, err);
    if (rc) {
        return rc;
    }
    size_t reserve = 0;
    cudnnStatus_t st = cudnnGetBatchNormalizationTrainingExReserveSpaceSize(
        ctx->cudnn, kMode, CUDNN_BATCHNORM_OPS_BN, NULL, ctx->bn_x, &reserve);
    if (unsupported(st)) {
        return 0;
    }
    THAW_CUDNN_CHECK(st);
    *ok = reserve == 0;
    return 0;
}

/* After a workspace-size query that returned st and bytes: the workspace
 * holds bytes, or *ok = 0 when cuDNN does not support the call or bytes is
 * over the limit. */
static int take_workspace(ThawCudaContext *ctx, cudnnStatus_t st, size_t bytes, int *ok,
                          ThawError *err)
{
    *ok = 0;
    if (unsupported(st)) {
        return 0;
    }
    THAW_CUDNN_CHECK(st);
    *ok = bytes <= ctx->workspace_limit;
    return *ok ? thaw_cuda_workspace_reserve(ctx, bytes, err) : 0;
}

/* A shape cuDNN does not support is left to the own kernels (*done 0,
 * nothing written); any other failure is an error. */
static int finished(ThawCudaContext *ctx, cudnnStatus_t st, int *done, const char *call,
                    ThawError *err)
{
    *done = st == CUDNN_STATUS_SUCCESS;
    ctx->cudnn_bn_calls += *done;
    if (st == CUDNN_STATUS_SUCCESS || unsupported(st)) {
        return 0;
    }
    return thaw_cuda_fail_cudnn(err, st, call, __FILE__, __LINE__);
}

int thaw_cuda_bn_cudnn_forward_train(ThawCudaContext *ctx, float *y, float *mean, float *rstd,
                                     const float *x, const float *gamma, const float *beta,
                                     float *running_mean, float *running_var, float momentum,
                                     float eps, int m, int c, int *done, ThawError *err)
{
    *done = 0;
    int ok = 0;
    int rc = usable(ctx, eps, m, c, &ok, err);
    if (rc || !ok || (running_mean == NULL) != (running_var == NULL)) {
        return rc;
    }
    size_t bytes = 0;
    cudnnStatus_t st = cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
        ctx->cudnn, kMode, CUDNN_BATCHNORM_OPS_BN, ctx->bn_x, NULL, ctx->bn_x, ctx->bn_param,
        NULL, &bytes);
    rc = take_workspace(ctx, st, bytes, &ok, err);
    if (rc || !ok) {
        return rc;
    }
    const float one = 1.0f, zero = 0.0f;
    st = cudnnBatchNormalizationForwardTrainingEx(
        ctx->cudnn, kMode, CUDNN_BATCHNORM_OPS_BN, &one, &zero, ctx->bn_x, x, NULL, NULL,
        ctx->bn_x, y, ctx->bn_param, gamma, beta, (double)momentum, running_mean, running_var,
        (double)eps, mean, rstd, NULL, ctx->workspace, bytes, NULL, 0);
    return finished(ctx, st, done, "cudnnBatchNormalizationForwardTrainingEx", err);
}

int thaw_cuda_bn_cudnn_backward_train(ThawCudaContext *ctx, float *dx, float *dgamma,
                                      float *dbeta, const float *dy, const float *x,
                                      const float *mean, const float *rstd, const float *gamma,
                                      float eps, int m, int c, int *done, ThawError *err)
{
    *done = 0;
    int ok = 0;
    int rc = usable(ctx, eps, m, c, &ok, err);
    if (rc || !ok || !dx) {
        return rc;
    }
    size_t bytes = 0;
    cudnnStatus_t st = cudnnGetBatchNormalizationBackwardExWorkspaceSize(
        ctx->cudnn, kMode, CUDNN_BATCHNORM_OPS_BN, ctx->bn_x, NULL, ctx->bn_x, NULL, ctx->bn_x,
        ctx->bn_param, NULL, &bytes);
    rc = take_workspace(ctx, st, bytes, &ok, err);
    if (rc || !ok) {
        return rc;
    }
    /* cuDNN always writes both parameter gradients: a frozen one goes to
     * scratch (2c floats) and is dropped. */
    float *sink = NULL;
    if (!dgamma || !dbeta) {
        rc = thaw_cuda_scratch(ctx, 2 * (size_t)c * sizeof(float), (void **)&sink, err);
        rc = rc ? rc : thaw_cuda_zero(ctx, sink, 2 * (size_t)c * sizeof(float), err);
        if (rc) {
            return rc;
        }
    }
    const float one = 1.0f, zero = 0.0f;
    st = cudnnBatchNormalizationBackwardEx(
        ctx->cudnn, kMode, CUDNN_BATCHNORM_OPS_BN, &one, ctx->din_assign ? &zero : &one, &one,
        &one, ctx->bn_x, x, NULL, NULL, ctx->bn_x, dy, NULL, NULL, ctx->bn_x, dx, ctx->bn_param,
        gamma, NULL, dgamma ? dgamma : sink, dbeta ? dbeta : sink + c, (double)eps, mean, rstd,
        NULL, ctx->workspace, bytes, NULL, 0);
    return finished(ctx, st, done, "cudnnBatchNormalizationBackwardEx", err);
}
