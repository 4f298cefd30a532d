/* 1x1 convolutions as matrix products (cuda_conv_gemm.h). */
#include "engine/cuda/cuda_conv_gemm.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_storage.h"

/* Where sampled element i ([b, p, q, c] of the output grid) sits in the
 * full input map [b, p * sh, q * sw, c]. */
__device__ static size_t full_index(unsigned i, int h, int w, int c, int p, int q, int sh,
                                    int sw)
{
    unsigned j = i % (unsigned)c, t = i / (unsigned)c;
    unsigned oq = t % (unsigned)q;
    t /= (unsigned)q;
    unsigned op = t % (unsigned)p, b = t / (unsigned)p;
    return (((size_t)b * h + op * sh) * w + oq * sw) * c + j;
}

/* dst[b, p, q, :] = src[b, p * sh, q * sw, :]; i walks dst. */
template <typename S>
__global__ static void gather_strided(S *dst, const S *src, int h, int w, int c, int p, int q,
                                      int sh, int sw, size_t total)
{
    GRID_STRIDE(i, total) {
        dst[i] = src[full_index(i, h, w, c, p, q, sh, sw)];
    }
}

/* dst[b, p * sh, q * sw, :] += src[b, p, q, :]; each dst element has at
 * most one source, so no atomics. */
template <typename S>
__global__ static void scatter_add_strided(S *dst, const S *src, int h, int w, int c, int p,
                                           int q, int sh, int sw, size_t total)
{
    GRID_STRIDE(i, total) {
        const size_t at = full_index(i, h, w, c, p, q, sh, sw);
        dst[at] = thaw_st<S>(thaw_ld(dst[at]) + thaw_ld(src[i]));
    }
}

static int strided(const Conv2dShape *s)
{
    return s->stride_h != 1 || s->stride_w != 1;
}

/* The sampled input pixels in scratch (strided), or in itself. */
static int sampled_input(ThawCudaContext *ctx, const void *in, const Conv2dShape *s,
                         const void **out, ThawError *err)
{
    *out = in;
    if (!strided(s)) {
        return 0;
    }
    size_t total = (size_t)s->n * s->p * s->q * s->c;
    void *tmp = NULL;
    int rc = thaw_cuda_scratch(ctx, total * THAW_ACT_BYTES(ctx), &tmp, err);
    if (rc) {
        return rc;
    }
    if (ctx->act_bf16) {
        LAUNCH(gather_strided<thaw_bf16>, total, (thaw_bf16 *)tmp, (const thaw_bf16 *)in, s->h,
               s->w, s->c, s->p, s->q, s->stride_h, s->stride_w, total);
    } else {
        LAUNCH(gather_strided<float>, total, (float *)tmp, (const float *)in, s->h, s->w, s->c,
               s->p, s->q, s->stride_h, s->stride_w, total);
    }
    *out = tmp;
    return 0;
}

int thaw_cuda_conv1x1_applies(const ThawCudaContext *ctx, const Conv2dShape *s)
{
    return ctx->gemm_1x1 && s->r == 1 && s->s == 1 && s->groups == 1 && s->pad_h == 0 &&
           s->pad_w == 0 && (size_t)s->n * s->h * s->w * s->c < THAW_CUDA_MAX_FLAT;
}

/* Direction dir (0 forward, 1 backward data, 2 backward filter): the
 * fastest of 3 timed runs after a warm-up, each run 5 back-to-back calls
 * (per call), so host launch gaps between its kernels weigh little against
 * cuDNN's single-call time. */
static int time_direction(ThawCudaContext *ctx, const Conv2dShape *s, int dir, float *x,
                          float *y, float *w, float *dw, cudaEvent_t ev[2], float *best,
                          ThawError *err)
{
    *best = 1e30f;
    for (int run = 0; run < 4; run++) {
        const int calls = run > 0 ? 5 : 1;
        THAW_CUDA_CHECK(cudaEventRecord(ev[0], ctx->stream));
        for (int call = 0; call < calls; call++) {
            int rc = dir == 0   ? thaw_cuda_conv1x1_forward(ctx, y, x, w, s, err)
                     : dir == 1 ? thaw_cuda_conv1x1_backward(ctx, x, NULL, y, NULL, w, s, err)
                                : thaw_cuda_conv1x1_backward(ctx, NULL, dw, y, x, w, s, err);
            if (rc) {
                return rc;
            }
        }
        THAW_CUDA_CHECK(cudaEventRecord(ev[1], ctx->stream));
        THAW_CUDA_CHECK(cudaEventSynchronize(ev[1]));
        float ms = 0.0f;
        THAW_CUDA_CHECK(cudaEventElapsedTime(&ms, ev[0], ev[1]));
        ms /= (float)calls;
        if (run > 0 && ms < *best) {   /* run 0 warms cuBLAS up */
            *best = ms;
        }
    }
    return 0;
}

int thaw_cuda_conv1x1_time(ThawCudaContext *ctx, const Conv2dShape *s, float ms[3],
                           int *timed, ThawError *err)
{
    const size_t nx = (size_t)s->n * s->h * s->w * s->c, ny = (size_t)s->n * s->p * s->q * s->k;
    const size_t nw = (size_t)s->k * s->c;
    float *buf = NULL;
    *timed = 0;
    if (cudaMalloc((void **)&buf, (nx + ny + 2 * nw) * sizeof(float)) != cudaSuccess) {
        (void)cudaGetLastError();   /* out of memory is not an error here */
        return 0;
    }
    float *x = buf, *y = x + nx, *w = y + ny, *dw = w + nw;
    cudaEvent_t ev[2] = {NULL, NULL};
    int rc = thaw_cuda_zero(ctx, buf, (nx + ny + 2 * nw) * sizeof(float), err);
    if (!rc && (cudaEventCreate(&ev[0]) != cudaSuccess || cudaEventCreate(&ev[1]) != cudaSuccess)) {
        rc = thaw_fail(err, THAW_ERR_CUDA, "cuda: cannot create the events that time a 1x1 "
                       "convolution");
    }
    for (int dir = 0; dir < 3 && !rc; dir++) {
        rc = time_direction(ctx, s, dir, x, y, w, dw, ev, &ms[dir], err);
    }
    cudaStreamSynchronize(ctx->stream);
    for (int i = 0; i < 2; i++) {
        if (ev[i]) {
            cudaEventDestroy(ev[i]);
        }
    }
    cudaFree(buf);
    *timed = rc == 0;
    return rc;
}

int thaw_cuda_conv1x1_forward(ThawCudaContext *ctx, void *out, const void *in,
                              const void *weight, const Conv2dShape *s, ThawError *err)
{
    const void *x = NULL;
    int rc = sampled_input(ctx, in, s, &x, err);
    return rc ? rc
              : thaw_cuda_linear_forward(ctx, out, x, weight, NULL, s->n * s->p * s->q, s->c,
                                         s->k, err);
}

int thaw_cuda_conv1x1_backward(ThawCudaContext *ctx, void *din, float *dweight,
                               const void *dout, const void *in, const void *weight,
                               const Conv2dShape *s, ThawError *err)
{
    const int rows = s->n * s->p * s->q;
    int rc = 0;
    if (dweight) {
        const void *x = NULL;
        rc = sampled_input(ctx, in, s, &x, err);
        rc = rc ? rc
                : thaw_cuda_linear_backward(ctx, NULL, dweight, NULL, dout, x, weight, rows,
                                            s->c, s->k, err);
    }
    if (rc || !din) {
        return rc;
    }
    if (!strided(s)) {
        return thaw_cuda_linear_backward(ctx, din, NULL, NULL, dout, NULL, weight, rows, s->c,
                                         s->k, err);
    }
    /* The sampled pixels' gradient in scratch (stream order: after the
     * filter pass above read its gathered input there), then back. */
    size_t total = (size_t)rows * s->c;
    const size_t elem = THAW_ACT_BYTES(ctx);
    void *tmp = NULL;
    rc = thaw_cuda_scratch(ctx, total * elem, &tmp, err);
    rc = rc ? rc : thaw_cuda_zero(ctx, tmp, total * elem, err);
    rc = rc ? rc
            : thaw_cuda_linear_backward(ctx, tmp, NULL, NULL, dout, NULL, weight, rows, s->c,
                                        s->k, err);
    if (rc == 0 && ctx->din_assign) {   /* pixels no output sampled get zeros */
        rc = thaw_cuda_zero(ctx, din, (size_t)s->n * s->h * s->w * s->c * elem, err);
    }
    if (rc) {
        return rc;
    }
    if (ctx->act_bf16) {
        LAUNCH(scatter_add_strided<thaw_bf16>, total, (thaw_bf16 *)din, (const thaw_bf16 *)tmp,
               s->h, s->w, s->c, s->p, s->q, s->stride_h, s->stride_w, total);
    } else {
        LAUNCH(scatter_add_strided<float>, total, (float *)din, (const float *)tmp, s->h, s->w,
               s->c, s->p, s->q, s->stride_h, s->stride_w, total);
    }
    return 0;
}

