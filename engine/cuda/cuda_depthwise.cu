/* Depthwise convolution kernels (cuda_depthwise.h): the per-thread work is
 * in cuda_depthwise_body.h; here are the grids and launches. Each thread
 * owns 4 channels (a float4) where c % 4 == 0 and the maps are aligned. */
#include "engine/cuda/cuda_depthwise.h"
#include "engine/cuda/cuda_depthwise_body.h"

template <typename S>
__global__ static void weights_rsc(float *w_rsc, const S *w, int c, int taps, unsigned n)
{
    GRID_STRIDE(i, n) {
        thaw_dw_weights_rsc_at(w_rsc, w, c, taps, i);
    }
}

template <int V, typename S>
__global__ static void forward_kernel(S *out, const S *in, const float *w_rsc,
                                      ThawDwShape d, ThawChanGrid g)
{
    thaw_dw_forward_rows<V>(g, thaw_chan_span(g), out, in, w_rsc, d);
}

template <int V, typename S>
__global__ static void data_kernel(S *din, const S *dout, const float *w_rsc,
                                   int assign, ThawDwShape d, ThawChanGrid g)
{
    thaw_dw_data_rows<V>(g, thaw_chan_span(g), din, dout, w_rsc, assign, d);
}

template <int V, typename S>
__global__ static void filter_kernel(float *part, const S *dout, const S *in,
                                     ThawDwShape d, ThawChanGrid g)
{
    thaw_dw_filter_rows<V>(g, thaw_chan_span(g), blockIdx.y, (int)blockIdx.z, part, dout, in,
                           d);
}

__global__ static void total_lanes(double *lanes, const float *part, long rows, size_t cols,
                                   unsigned n)
{
    GRID_STRIDE(i, n) {
        thaw_dw_total_lanes_at(lanes, part, rows, cols, i);
    }
}

__global__ static void total_add(float *dweight, const double *lanes, int c, int taps,
                                 unsigned n)
{
    GRID_STRIDE(i, n) {
        thaw_dw_total_add_at(dweight, lanes, c, taps, i);
    }
}

static int aligned4(const void *a, const void *b, const void *c)
{
    return thaw_chan_aligned(a) && thaw_chan_aligned(b) && thaw_chan_aligned(c);
}

/* Scratch: the [r][s][c] weights, then (filter gradient) the partials and
 * the lane totals. */
template <typename S>
static int weights_to_rsc(ThawCudaContext *ctx, const Conv2dShape *s, const S *weight,
                          size_t extra, float **w_rsc, ThawError *err)
{
    const size_t n = (size_t)s->c * s->r * s->s;
    void *tmp = NULL;
    int rc = thaw_cuda_scratch(ctx, ((n + 63) & ~(size_t)63) * sizeof(float) + extra, &tmp,
                               err);
    if (rc) {
        return rc;
    }
    *w_rsc = (float *)tmp;
    LAUNCH(weights_rsc<S>, n, *w_rsc, weight, s->c, s->r * s->s, (unsigned)n);
    return 0;
}

int thaw_cuda_depthwise_applies(const ThawCudaContext *ctx, const Conv2dShape *s)
{
    return ctx->own_depthwise && s->groups == s->c && s->k == s->c && s->c > 0 &&
           s->s <= THAW_DW_MAX_S && s->stride_h > 0 && s->stride_w > 0;
}

template <typename S>
static int forward_on(ThawCudaContext *ctx, S *out, const S *in, const S *weight,
                      const Conv2dShape *s, ThawError *err)
{
    float *w_rsc = NULL;
    int rc = weights_to_rsc(ctx, s, weight, 0, &w_rsc, err);
    if (rc) {
        return rc;
    }
    const ThawChanGrid g = thaw_chan_grid(s->n * s->p * s->q, s->c, aligned4(out, in, NULL),
                                          THAW_DW_ROWS_PER_LANE, 65535);
    THAW_CHAN_LAUNCH(forward_kernel, S, g, out, in, w_rsc, thaw_dw_shape(s), g);
    return 0;
}

template <typename S>
static int backward_on(ThawCudaContext *ctx, S *din, float *dweight, const S *dout,
                       const S *in, const S *weight, const Conv2dShape *s, ThawError *err)
{
    if (!din && !dweight) {
        return 0;
    }
    const ThawDwShape d = thaw_dw_shape(s);
    const size_t taps = (size_t)s->r * s->s, cols = taps * s->c;
    const ThawChanGrid fg = thaw_dw_filter_grid(s, aligned4(dout, in, NULL));
    const long rows = (long)fg.chunks * fg.lanes;
    const size_t part_bytes = ((size_t)rows * cols * sizeof(float) + 255) & ~(size_t)255;
    const size_t extra = dweight ? part_bytes + THAW_DW_TOTAL_LANES * cols * sizeof(double) : 0;
    float *w_rsc = NULL;
    int rc = weights_to_rsc(ctx, s, weight, extra, &w_rsc, err);
    if (rc) {
        return rc;
    }
    if (dweight) {
        float *part = w_rsc + ((cols + 63) & ~(size_t)63);
        double *lanes = (double *)((char *)part + part_bytes);
        dim3 grid(fg.blocks_x, (unsigned)fg.chunks, (unsigned)s->r);
        unsigned threads = (unsigned)(fg.groups_per_block * fg.lanes);
        if (fg.vec == 4) {
            filter_kernel<4, S><<<grid, threads, 0, ctx->stream>>>(part, dout, in, d, fg);
        } else {
            filter_kernel<1, S><<<grid, threads, 0, ctx->stream>>>(part, dout, in, d, fg);
        }
        THAW_CUDA_CHECK_LAUNCH("filter_kernel");
        const size_t lane_n = THAW_DW_TOTAL_LANES * cols;
        LAUNCH(total_lanes, lane_n, lanes, part, rows, cols, (unsigned)lane_n);
        LAUNCH(total_add, cols, dweight, lanes, s->c, (int)taps, (unsigned)cols);
    }
    if (din) {
        const ThawChanGrid g = thaw_chan_grid(s->n * s->h * s->w, s->c,
                                              aligned4(din, dout, NULL), THAW_DW_ROWS_PER_LANE, 65535);
        THAW_CHAN_LAUNCH(data_kernel, S, g, din, dout, w_rsc, ctx->din_assign, d, g);
    }
    return 0;
}

int thaw_cuda_depthwise_forward(ThawCudaContext *ctx, void *out, const void *in,
                                const void *weight, const Conv2dShape *s, ThawError *err)
{
    return ctx->act_bf16 ? forward_on(ctx, (thaw_bf16 *)out, (const thaw_bf16 *)in,
                                      (const thaw_bf16 *)weight, s, err)
                         : forward_on(ctx, (float *)out, (const float *)in,
                                      (const float *)weight, s, err);
}

int thaw_cuda_depthwise_backward(ThawCudaContext *ctx, void *din, float *dweight,
                                 const void *dout, const void *in, const void *weight,
                                 const Conv2dShape *s, ThawError *err)
{
    return ctx->act_bf16 ? backward_on(ctx, (thaw_bf16 *)din, dweight, (const thaw_bf16 *)dout,
                                       (const thaw_bf16 *)in, (const thaw_bf16 *)weight, s, err)
                         : backward_on(ctx, (float *)din, dweight, (const float *)dout,
                                       (const float *)in, (const float *)weight, s, err);
}
