/* Layout ops on NHWC maps: constant zero padding with separate amounts per
 * side (TF "same" padding before the Lite models' stride-2 depthwise
 * convolutions; engine/ops/pad.h) and flatten to PyTorch's (c, h, w) order
 * (engine/ops/elementwise.h). One thread per destination element, so
 * backward needs no atomics. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_storage.h"

template <typename S>
__global__ static void pad_fwd(S *out, const S *in, Pad2dShape s, int oh, int ow, size_t total)
{
    GRID_STRIDE(i, total) {
        unsigned j = i % (unsigned)s.c, t = i / (unsigned)s.c;
        int x = (int)(t % (unsigned)ow) - s.left;
        t /= (unsigned)ow;
        int y = (int)(t % (unsigned)oh) - s.top;
        unsigned b = t / (unsigned)oh;
        out[i] = (y >= 0 && y < s.h && x >= 0 && x < s.w)
                     ? in[((b * s.h + y) * s.w + x) * s.c + j]
                     : thaw_st<S>(0.0f);
    }
}

template <typename S>
__global__ static void pad_bwd(S *din, const S *dout, Pad2dShape s, int oh, int ow, int assign,
                               size_t total)
{
    GRID_STRIDE(i, total) {
        unsigned j = i % (unsigned)s.c, t = i / (unsigned)s.c;
        unsigned x = t % (unsigned)s.w;
        t /= (unsigned)s.w;
        unsigned y = t % (unsigned)s.h, b = t / (unsigned)s.h;
        din[i] = thaw_st<S>((assign ? 0.0f : thaw_ld(din[i])) +
                            thaw_ld(dout[((b * oh + y + s.top) * ow + x + s.left) * s.c + j]));
    }
}

/* dst[b, col, row] (=|+=) src[b, row, col] for rows x cols matrices. */
template <typename S>
__global__ static void transpose_batch(S *dst, const S *src, size_t rows, size_t cols,
                                       int accumulate, size_t total)
{
    GRID_STRIDE(i, total) {
        unsigned r = i % (unsigned)rows, t = i / (unsigned)rows;
        unsigned col = t % (unsigned)cols, b = t / (unsigned)cols;
        S v = src[((size_t)b * rows + r) * cols + col];
        dst[i] = accumulate ? thaw_st<S>(thaw_ld(dst[i]) + thaw_ld(v)) : v;
    }
}

template <typename S>
static int pad_fwd_on(ThawCudaContext *ctx, void *out, const void *in, const Pad2dShape *s,
                      ThawError *err)
{
    int oh = s->h + s->top + s->bottom, ow = s->w + s->left + s->right;
    size_t total = (size_t)s->n * oh * ow * s->c;
    LAUNCH(pad_fwd<S>, total, (S *)out, (const S *)in, *s, oh, ow, total);
    return 0;
}

template <typename S>
static int pad_bwd_on(ThawCudaContext *ctx, void *din, const void *dout, const Pad2dShape *s,
                      ThawError *err)
{
    int oh = s->h + s->top + s->bottom, ow = s->w + s->left + s->right;
    size_t total = (size_t)s->n * s->h * s->w * s->c;
    LAUNCH(pad_bwd<S>, total, (S *)din, (const S *)dout, *s, oh, ow, ctx->din_assign, total);
    return 0;
}

template <typename S>
static int transpose_on(ThawCudaContext *ctx, void *dst, const void *src, size_t rows,
                        size_t cols, int accumulate, size_t total, ThawError *err)
{
    LAUNCH(transpose_batch<S>, total, (S *)dst, (const S *)src, rows, cols, accumulate, total);
    return 0;
}

extern "C" {

int thaw_cuda_pad2d_forward(ThawCudaContext *ctx, void *out, const void *in,
                            const Pad2dShape *s, ThawError *err)
{
    return THAW_BY_STORAGE(ctx, pad_fwd_on, ctx, out, in, s, err);
}

int thaw_cuda_pad2d_backward(ThawCudaContext *ctx, void *din, const void *dout,
                             const Pad2dShape *s, ThawError *err)
{
    return THAW_BY_STORAGE(ctx, pad_bwd_on, ctx, din, dout, s, err);
}

int thaw_cuda_flatten_forward(ThawCudaContext *ctx, void *out, const void *in, int n, int h,
                              int w, int c, ThawError *err)
{
    size_t total = (size_t)n * h * w * c;
    return THAW_BY_STORAGE(ctx, transpose_on, ctx, out, in, (size_t)h * w, (size_t)c, 0, total,
                           err);
}

int thaw_cuda_flatten_backward(ThawCudaContext *ctx, void *din, const void *dout, int n,
                               int h, int w, int c, ThawError *err)
{
    size_t total = (size_t)n * h * w * c;
    return THAW_BY_STORAGE(ctx, transpose_on, ctx, din, dout, (size_t)c, (size_t)h * w,
                           !ctx->din_assign, total, err);
}

} /* extern "C" */
