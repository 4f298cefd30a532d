/* Elementwise kernels (relu, relu6, residual add) and global average
 * pooling, grid-stride loops over flat arrays. Same compare-and-select as
 * engine/ops/activation.c, so NaN propagates the same way. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"

__global__ static void relu_fwd(float *out, const float *in, size_t n)
{
    GRID_STRIDE(i, n) {
        float v = in[i];
        out[i] = v < 0.0f ? 0.0f : v;
    }
}

__global__ static void relu_bwd(float *din, const float *dout, const float *out,
                                int assign, size_t n)
{
    GRID_STRIDE(i, n) {
        din[i] = (assign ? 0.0f : din[i]) + (out[i] > 0.0f ? dout[i] : 0.0f);
    }
}

__global__ static void relu6_fwd(float *out, const float *in, size_t n)
{
    GRID_STRIDE(i, n) {
        float v = in[i];
        v = v < 0.0f ? 0.0f : v;
        out[i] = v > 6.0f ? 6.0f : v;
    }
}

__global__ static void relu6_bwd(float *din, const float *dout, const float *out,
                                 int assign, size_t n)
{
    GRID_STRIDE(i, n) {
        float o = out[i];
        din[i] = (assign ? 0.0f : din[i]) + ((o > 0.0f && o < 6.0f) ? dout[i] : 0.0f);
    }
}

__global__ static void add_fwd(float *out, const float *a, const float *b, size_t n)
{
    GRID_STRIDE(i, n) {
        out[i] = a[i] + b[i];
    }
}

__global__ static void accumulate(float *dst, const float *src, int assign, size_t n)
{
    GRID_STRIDE(i, n) {
        dst[i] = (assign ? 0.0f : dst[i]) + src[i];
    }
}

/* One thread per (image, channel): consecutive threads read consecutive
 * channels, so NHWC loads coalesce. Summed in pixel order like the CPU. */
__global__ static void avgpool_fwd(float *out, const float *in, int n, int hw, int c)
{
    GRID_STRIDE(i, (size_t)n * c) {
        unsigned b = i / (unsigned)c, j = i % (unsigned)c;
        const float *p = in + (size_t)b * hw * c + j;
        float sum = 0.0f;
        for (int k = 0; k < hw; k++) {
            sum += p[(size_t)k * c];
        }
        out[i] = sum * (1.0f / (float)hw);
    }
}

__global__ static void avgpool_bwd(float *din, const float *dout, int hw, int c,
                                   int assign, size_t total)
{
    GRID_STRIDE(i, total) {
        unsigned j = i % (unsigned)c, b = i / ((unsigned)hw * (unsigned)c);
        din[i] = (assign ? 0.0f : din[i]) + dout[(size_t)b * c + j] * (1.0f / (float)hw);
    }
}

extern "C" {

int thaw_cuda_relu_forward(ThawCudaContext *ctx, float *out, const float *in,
                           size_t n, ThawError *err)
{
    LAUNCH(relu_fwd, n, out, in, n);
    return 0;
}

int thaw_cuda_relu_backward(ThawCudaContext *ctx, float *din, const float *dout,
                            const float *out, size_t n, ThawError *err)
{
    LAUNCH(relu_bwd, n, din, dout, out, ctx->din_assign, n);
    return 0;
}

int thaw_cuda_relu6_forward(ThawCudaContext *ctx, float *out, const float *in,
                            size_t n, ThawError *err)
{
    LAUNCH(relu6_fwd, n, out, in, n);
    return 0;
}

int thaw_cuda_relu6_backward(ThawCudaContext *ctx, float *din, const float *dout,
                             const float *out, size_t n, ThawError *err)
{
    LAUNCH(relu6_bwd, n, din, dout, out, ctx->din_assign, n);
    return 0;
}

int thaw_cuda_add_forward(ThawCudaContext *ctx, float *out, const float *a,
                          const float *b, size_t n, ThawError *err)
{
    LAUNCH(add_fwd, n, out, a, b, n);
    return 0;
}

int thaw_cuda_add_backward(ThawCudaContext *ctx, float *da, float *db,
                           const float *dout, size_t n, ThawError *err)
{
    if (da) {
        LAUNCH(accumulate, n, da, dout, ctx->din_assign, n);
    }
    if (db) {
        LAUNCH(accumulate, n, db, dout, ctx->din_assign, n);
    }
    return 0;
}

int thaw_cuda_global_avgpool_forward(ThawCudaContext *ctx, float *out,
                                     const float *in, int n, int h, int w, int c,
                                     ThawError *err)
{
    if (h * w <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "global average pool of an empty %dx%d map", h, w);
    }
    LAUNCH(avgpool_fwd, (size_t)n * c, out, in, n, h * w, c);
    return 0;
}

int thaw_cuda_global_avgpool_backward(ThawCudaContext *ctx, float *din,
                                      const float *dout, int n, int h, int w,
                                      int c, ThawError *err)
{
    if (h * w <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "global average pool of an empty %dx%d map", h, w);
    }
    size_t total = (size_t)n * h * w * c;
    LAUNCH(avgpool_bwd, total, din, dout, h * w, c, ctx->din_assign, total);
    return 0;
}

} /* extern "C" */
