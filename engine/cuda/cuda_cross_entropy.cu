/* Softmax cross-entropy with label smoothing on the device, the CPU op's
 * arithmetic (engine/ops/cross_entropy.c): per row m = max z,
 * lse = m + log sum exp(z - m), loss = (1-eps)(lse - z_y) + eps(lse - mean z),
 * sums in double. One block per row; a second one-block kernel takes the
 * mean so the loss never leaves the device unless asked for. Logits and
 * their gradient in the context's storage (bf16: read into float, the
 * probabilities and the loss stay float). */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_storage.h"

#define CE_THREADS 256

/* Block-wide reductions over CE_THREADS threads through shared memory. */
__device__ static float block_max(float v, float *shared)
{
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int s = CE_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) {
            shared[threadIdx.x] = fmaxf(shared[threadIdx.x], shared[threadIdx.x + s]);
        }
        __syncthreads();
    }
    float r = shared[0];
    __syncthreads();
    return r;
}

__device__ static double block_sum(double v, double *shared)
{
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int s = CE_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) {
            shared[threadIdx.x] += shared[threadIdx.x + s];
        }
        __syncthreads();
    }
    double r = shared[0];
    __syncthreads();
    return r;
}

template <typename S>
__global__ static void ce_rows(float *probs, float *row_loss, const S *logits,
                               const int32_t *labels, int classes, float smoothing)
{
    __shared__ float fshared[CE_THREADS];
    __shared__ double dshared[CE_THREADS];
    const S *z = logits + (size_t)blockIdx.x * classes;
    float *p = probs + (size_t)blockIdx.x * classes;

    float zmax = -INFINITY;
    for (int k = threadIdx.x; k < classes; k += CE_THREADS) {
        zmax = fmaxf(zmax, thaw_ld(z[k]));
    }
    zmax = block_max(zmax, fshared);

    double sumexp = 0.0, sumz = 0.0;
    for (int k = threadIdx.x; k < classes; k += CE_THREADS) {
        const float zk = thaw_ld(z[k]);
        float e = expf(zk - zmax);
        p[k] = e;
        sumexp += e;
        sumz += zk;
    }
    sumexp = block_sum(sumexp, dshared);
    sumz = block_sum(sumz, dshared);

    const float inv = (float)(1.0 / sumexp);
    for (int k = threadIdx.x; k < classes; k += CE_THREADS) {
        p[k] *= inv;
    }
    if (threadIdx.x == 0) {
        double lse = zmax + log(sumexp);
        double nll = lse - thaw_ld(z[labels[blockIdx.x]]);
        double smooth = lse - sumz / classes;
        row_loss[blockIdx.x] = (float)((1.0 - smoothing) * nll + smoothing * smooth);
    }
}

__global__ static void mean_of(float *loss, const float *row_loss, int n)
{
    __shared__ double dshared[CE_THREADS];
    double sum = 0.0;
    for (int i = threadIdx.x; i < n; i += CE_THREADS) {
        sum += row_loss[i];
    }
    sum = block_sum(sum, dshared);
    if (threadIdx.x == 0) {
        *loss = (float)(sum / n);
    }
}

/* d loss_i / d z_k = (p_k - (1-eps)[k == y_i] - eps/C) * dloss / n */
template <typename S>
__global__ static void ce_grad(S *dlogits, const float *probs,
                               const int32_t *labels, size_t total, int classes,
                               float scale, float uniform, float hit)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / classes;
        int k = (int)(i % classes);
        float d = thaw_ld(dlogits[i]) + scale * (probs[i] - uniform);
        if (k == labels[row]) {
            d -= scale * hit;
        }
        dlogits[i] = thaw_st<S>(d);
    }
}

int thaw_cuda_cross_entropy_forward(ThawCudaContext *ctx, float *loss,
                                    float *probs, float *row_loss,
                                    const void *logits, const int32_t *labels,
                                    int n, int classes, float smoothing,
                                    ThawError *err)
{
    if (n <= 0 || classes <= 0) {
        return thaw_cuda_zero(ctx, loss, sizeof(float), err);
    }
    if (ctx->act_bf16) {
        ce_rows<<<n, CE_THREADS, 0, ctx->stream>>>(probs, row_loss, (const thaw_bf16 *)logits,
                                                   labels, classes, smoothing);
    } else {
        ce_rows<<<n, CE_THREADS, 0, ctx->stream>>>(probs, row_loss, (const float *)logits,
                                                   labels, classes, smoothing);
    }
    THAW_CUDA_CHECK_LAUNCH("ce_rows");
    mean_of<<<1, CE_THREADS, 0, ctx->stream>>>(loss, row_loss, n);
    THAW_CUDA_CHECK_LAUNCH("mean_of");
    return 0;
}

int thaw_cuda_cross_entropy_backward(ThawCudaContext *ctx, void *dlogits,
                                     const float *probs, const int32_t *labels,
                                     int n, int classes, float smoothing,
                                     float dloss, ThawError *err)
{
    if (n <= 0 || classes <= 0) {
        return 0;
    }
    const size_t total = (size_t)n * classes;
    const float scale = dloss / (float)n, uniform = smoothing / (float)classes;
    if (ctx->act_bf16) {
        ce_grad<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
            (thaw_bf16 *)dlogits, probs, labels, total, classes, scale, uniform,
            1.0f - smoothing);
    } else {
        ce_grad<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
            (float *)dlogits, probs, labels, total, classes, scale, uniform, 1.0f - smoothing);
    }
    THAW_CUDA_CHECK_LAUNCH("ce_grad");
    return 0;
}
