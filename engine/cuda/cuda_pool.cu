/* Max pooling (with the CPU's argmax) and adaptive average pooling on NHWC
 * maps. Backward passes gather instead of scatter: each input element adds
 * the gradients of the windows that chose it (or contain it), in the order
 * the CPU adds them (output row, then column), so the results match the
 * CPU's bit for bit without atomics. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_pool_body.h"

template <typename S>
__global__ static void maxpool_fwd(S *out, int32_t *argmax, const S *in, Pool2dShape s,
                                   size_t total)
{
    GRID_STRIDE(i, total) {
        int j = (int)(i % s.c);
        unsigned t = i / (unsigned)s.c;
        int oq = (int)(t % s.q);
        t /= s.q;
        int op = (int)(t % s.p);
        int b = (int)(t / s.p);
        int h0 = op * s.stride_h - s.pad_h, w0 = oq * s.stride_w - s.pad_w;
        int h1 = min(h0 + s.kh, s.h), w1 = min(w0 + s.kw, s.w);
        h0 = max(h0, 0);
        w0 = max(w0, 0);
        float best = 0.0f;
        int32_t where = 0;
        int first = 1;
        /* Row, then column, first maximum kept; NaN wins (PyTorch). */
        for (int ih = h0; ih < h1; ih++) {
            for (int iw = w0; iw < w1; iw++) {
                int32_t idx = (int32_t)((((size_t)b * s.h + ih) * s.w + iw) * s.c + j);
                float v = thaw_ld(in[idx]);
                if (first || v > best || v != v) {
                    best = v;
                    where = idx;
                    first = 0;
                }
            }
        }
        out[i] = thaw_st<S>(best);   /* a value of in: exact in S */
        argmax[i] = where;
    }
}

/* Thread g of the backward (cuda_pool_body.h). */
template <int V, typename S>
__global__ static void maxpool_bwd(S *din, const S *dout, const int32_t *argmax,
                                   Pool2dShape s, int assign, unsigned groups)
{
    GRID_STRIDE(g, groups) {
        thaw_maxpool_backward_at<V>(din, dout, argmax, s, assign, g);
    }
}

/* PyTorch's adaptive bins: [floor(i*size/out), ceil((i+1)*size/out)). */
__device__ static void adaptive_bin(int i, int size, int outsize, int *lo, int *hi)
{
    *lo = (int)(((long)i * size) / outsize);
    *hi = (int)((((long)i + 1) * size + outsize - 1) / outsize);
}

template <typename S>
__global__ static void adaptive_fwd(S *out, const S *in, int h, int w, int c, int oh, int ow,
                                    size_t total)
{
    GRID_STRIDE(i, total) {
        int j = (int)(i % c);
        unsigned t = i / (unsigned)c;
        int oj = (int)(t % ow);
        t /= ow;
        int oi = (int)(t % oh);
        int b = (int)(t / oh);
        int h0, h1, w0, w1;
        adaptive_bin(oi, h, oh, &h0, &h1);
        adaptive_bin(oj, w, ow, &w0, &w1);
        float sum = 0.0f;
        for (int ih = h0; ih < h1; ih++) {
            for (int iw = w0; iw < w1; iw++) {
                sum += thaw_ld(in[(((size_t)b * h + ih) * w + iw) * c + j]);
            }
        }
        out[i] = thaw_st<S>(sum * (1.0f / (float)((h1 - h0) * (w1 - w0))));
    }
}

template <typename S>
__global__ static void adaptive_bwd(S *din, const S *dout, int h, int w, int c, int oh, int ow,
                                    int assign, size_t total)
{
    GRID_STRIDE(i, total) {
        int j = (int)(i % c);
        unsigned t = i / (unsigned)c;
        int iw = (int)(t % w);
        t /= w;
        int ih = (int)(t % h);
        int b = (int)(t / h);
        float acc = assign ? 0.0f : thaw_ld(din[i]);
        /* Bins overlap when sizes do not divide: test each (oh, ow are small). */
        for (int oi = 0; oi < oh; oi++) {
            int h0, h1;
            adaptive_bin(oi, h, oh, &h0, &h1);
            if (ih < h0 || ih >= h1) {
                continue;
            }
            for (int oj = 0; oj < ow; oj++) {
                int w0, w1;
                adaptive_bin(oj, w, ow, &w0, &w1);
                if (iw < w0 || iw >= w1) {
                    continue;
                }
                float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));
                acc += thaw_ld(dout[(((size_t)b * oh + oi) * ow + oj) * c + j]) * inv;
            }
        }
        din[i] = thaw_st<S>(acc);
    }
}

template <typename S>
static int maxpool_fwd_on(ThawCudaContext *ctx, void *out, int32_t *argmax, const void *in,
                          const Pool2dShape *s, ThawError *err)
{
    size_t total = (size_t)s->n * s->p * s->q * s->c;
    LAUNCH(maxpool_fwd<S>, total, (S *)out, argmax, (const S *)in, *s, total);
    return 0;
}

template <typename S>
static int maxpool_bwd_on(ThawCudaContext *ctx, void *din, const void *dout,
                          const int32_t *argmax, const Pool2dShape *s, ThawError *err)
{
    size_t total = (size_t)s->n * s->h * s->w * s->c;
    if (total >= THAW_CUDA_MAX_FLAT) {
        return thaw_fail(err, THAW_ERR_ARG, "maxpool_bwd: %zu elements is over the GPU "
                         "backend's 32-bit index limit", total);
    }
    if (total == 0) {
        return 0;
    }
    if (s->c % 4 == 0 && thaw_chan_aligned(din) && thaw_chan_aligned(dout) &&
        thaw_chan_aligned(argmax)) {
        maxpool_bwd<4, S><<<thaw_cuda_blocks(total / 4), THAW_CUDA_THREADS, 0, ctx->stream>>>(
            (S *)din, (const S *)dout, argmax, *s, ctx->din_assign, (unsigned)(total / 4));
    } else {
        maxpool_bwd<1, S><<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
            (S *)din, (const S *)dout, argmax, *s, ctx->din_assign, (unsigned)total);
    }
    THAW_CUDA_CHECK_LAUNCH("maxpool_bwd");
    return 0;
}

template <typename S>
static int adaptive_fwd_on(ThawCudaContext *ctx, void *out, const void *in, int n, int h, int w,
                           int c, int oh, int ow, ThawError *err)
{
    size_t total = (size_t)n * oh * ow * c;
    LAUNCH(adaptive_fwd<S>, total, (S *)out, (const S *)in, h, w, c, oh, ow, total);
    return 0;
}

template <typename S>
static int adaptive_bwd_on(ThawCudaContext *ctx, void *din, const void *dout, int n, int h,
                           int w, int c, int oh, int ow, ThawError *err)
{
    size_t total = (size_t)n * h * w * c;
    LAUNCH(adaptive_bwd<S>, total, (S *)din, (const S *)dout, h, w, c, oh, ow,
           ctx->din_assign, total);
    return 0;
}

extern "C" {

int thaw_cuda_maxpool2d_forward(ThawCudaContext *ctx, void *out, int32_t *argmax,
                                const void *in, const Pool2dShape *s, ThawError *err)
{
    return THAW_BY_STORAGE(ctx, maxpool_fwd_on, ctx, out, argmax, in, s, err);
}

int thaw_cuda_maxpool2d_backward(ThawCudaContext *ctx, void *din, const void *dout,
                                 const int32_t *argmax, const Pool2dShape *s,
                                 ThawError *err)
{
    return THAW_BY_STORAGE(ctx, maxpool_bwd_on, ctx, din, dout, argmax, s, err);
}

int thaw_cuda_adaptive_avgpool2d_forward(ThawCudaContext *ctx, void *out, const void *in,
                                         int n, int h, int w, int c, int oh, int ow,
                                         ThawError *err)
{
    if (h <= 0 || w <= 0 || oh <= 0 || ow <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "adaptive average pool %dx%d -> %dx%d", h, w, oh, ow);
    }
    return THAW_BY_STORAGE(ctx, adaptive_fwd_on, ctx, out, in, n, h, w, c, oh, ow, err);
}

int thaw_cuda_adaptive_avgpool2d_backward(ThawCudaContext *ctx, void *din, const void *dout,
                                          int n, int h, int w, int c, int oh, int ow,
                                          ThawError *err)
{
    if (h <= 0 || w <= 0 || oh <= 0 || ow <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "adaptive average pool %dx%d -> %dx%d", h, w, oh, ow);
    }
    return THAW_BY_STORAGE(ctx, adaptive_bwd_on, ctx, din, dout, n, h, w, c, oh, ow, err);
}

} /* extern "C" */
