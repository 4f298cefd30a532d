/* Elementwise kernels (relu, relu6, residual add) and global average
 * pooling, grid-stride loops over flat arrays. Same compare-and-select as
 * engine/ops/activation.c, so NaN propagates the same way. */
#include "engine/cuda/cuda_channel_grid.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"

/* The flat kernels take n in units of V floats: V = 4 (16-byte loads and
 * stores) when n % 4 == 0 and every pointer is 16-byte aligned. */
template <int V>
__global__ static void relu_fwd(float *out, const float *in, unsigned n)
{
    GRID_STRIDE(i, n) {
        float v[V];
        thaw_vload<V>(v, in + (size_t)i * V);
        for (int k = 0; k < V; k++) {
            v[k] = v[k] < 0.0f ? 0.0f : v[k];
        }
        thaw_vstore<V>(out + (size_t)i * V, v);
    }
}

/* din (+)= dout where the output passed the gate. */
template <int V, bool SIX>
__device__ __forceinline__ static void gate_bwd(float *din, const float *dout, const float *out,
                                int assign, unsigned n)
{
    GRID_STRIDE(i, n) {
        const size_t at = (size_t)i * V;
        float d[V], o[V], acc[V];
        thaw_vload<V>(d, dout + at);
        thaw_vload<V>(o, out + at);
        thaw_vload_acc<V>(acc, din + at, assign);
        for (int k = 0; k < V; k++) {
            bool pass = SIX ? (o[k] > 0.0f && o[k] < 6.0f) : o[k] > 0.0f;
            acc[k] += pass ? d[k] : 0.0f;
        }
        thaw_vstore<V>(din + at, acc);
    }
}

template <int V>
__global__ static void relu_bwd(float *din, const float *dout, const float *out,
                                int assign, unsigned n)
{
    gate_bwd<V, false>(din, dout, out, assign, n);
}

template <int V>
__global__ static void relu6_bwd(float *din, const float *dout, const float *out,
                                 int assign, unsigned n)
{
    gate_bwd<V, true>(din, dout, out, assign, n);
}

template <int V>
__global__ static void relu6_fwd(float *out, const float *in, unsigned n)
{
    GRID_STRIDE(i, n) {
        float v[V];
        thaw_vload<V>(v, in + (size_t)i * V);
        for (int k = 0; k < V; k++) {
            float t = v[k] < 0.0f ? 0.0f : v[k];
            v[k] = t > 6.0f ? 6.0f : t;
        }
        thaw_vstore<V>(out + (size_t)i * V, v);
    }
}

template <int V>
__global__ static void add_fwd(float *out, const float *a, const float *b, int act, unsigned n)
{
    GRID_STRIDE(i, n) {
        const size_t at = (size_t)i * V;
        float va[V], vb[V];
        thaw_vload<V>(va, a + at);
        thaw_vload<V>(vb, b + at);
        for (int k = 0; k < V; k++) {
            va[k] = thaw_cuda_act(va[k] + vb[k], act);
        }
        thaw_vstore<V>(out + at, va);
    }
}

/* dst (+)= src, and dst2 (+)= src when dst2 is given: an add's backward
 * reads its output gradient once for both inputs. With gate (the output
 * of a relu / relu6 the add fed, fused), src first goes through that
 * activation's backward as gate_bwd computes it in assign mode,
 * 0 + (pass ? src : 0), so the sums are the same bits. */
template <int V>
__global__ static void accumulate(float *dst, float *dst2, const float *src,
                                  const float *gate, int act, int assign, unsigned n)
{
    GRID_STRIDE(i, n) {
        const size_t at = (size_t)i * V;
        float v[V], acc[V];
        thaw_vload<V>(v, src + at);
        if (gate) {
            float o[V];
            thaw_vload<V>(o, gate + at);
            for (int k = 0; k < V; k++) {
                bool pass = act == 2 ? (o[k] > 0.0f && o[k] < 6.0f) : o[k] > 0.0f;
                v[k] = 0.0f + (pass ? v[k] : 0.0f);
            }
        }
        float *outs[2] = {dst, dst2};
        for (int d = 0; d < 2; d++) {
            if (!outs[d]) {
                continue;
            }
            thaw_vload_acc<V>(acc, outs[d] + at, assign);
            for (int k = 0; k < V; k++) {
                acc[k] += v[k];
            }
            thaw_vstore<V>(outs[d] + at, acc);
        }
    }
}

/* Launches kernel<4> over n / 4 float4s or kernel<1> over n floats (the
 * count is passed last); p0..p3 are the pointers that must be aligned. */
#define FLAT_LAUNCH(kernel, n, p0, p1, p2, p3, ...)                            \
    do {                                                                       \
        const size_t n_ = (n);                                                 \
        if (n_ % 4 == 0 && thaw_chan_aligned(p0) && thaw_chan_aligned(p1) &&   \
            thaw_chan_aligned(p2) && thaw_chan_aligned(p3)) {                  \
            LAUNCH(kernel<4>, n_ / 4, __VA_ARGS__, (unsigned)(n_ / 4));        \
        } else {                                                               \
            LAUNCH(kernel<1>, n_, __VA_ARGS__, (unsigned)n_);                  \
        }                                                                      \
    } while (0)

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
    FLAT_LAUNCH(relu_fwd, n, out, in, NULL, NULL, out, in);
    return 0;
}

int thaw_cuda_relu_backward(ThawCudaContext *ctx, float *din, const float *dout,
                            const float *out, size_t n, ThawError *err)
{
    FLAT_LAUNCH(relu_bwd, n, din, dout, out, NULL, din, dout, out, ctx->din_assign);
    return 0;
}

int thaw_cuda_relu6_forward(ThawCudaContext *ctx, float *out, const float *in,
                            size_t n, ThawError *err)
{
    FLAT_LAUNCH(relu6_fwd, n, out, in, NULL, NULL, out, in);
    return 0;
}

int thaw_cuda_relu6_backward(ThawCudaContext *ctx, float *din, const float *dout,
                             const float *out, size_t n, ThawError *err)
{
    FLAT_LAUNCH(relu6_bwd, n, din, dout, out, NULL, din, dout, out, ctx->din_assign);
    return 0;
}

int thaw_cuda_add_forward(ThawCudaContext *ctx, float *out, const float *a,
                          const float *b, size_t n, ThawCudaAct act, ThawError *err)
{
    FLAT_LAUNCH(add_fwd, n, out, a, b, NULL, out, a, b, (int)act);
    return 0;
}

int thaw_cuda_add_backward(ThawCudaContext *ctx, float *da, float *db,
                           const float *dout, size_t n, ThawError *err)
{
    return thaw_cuda_add_backward_gated(ctx, da, db, dout, NULL, THAW_CUDA_ACT_NONE, n, err);
}

int thaw_cuda_add_backward_gated(ThawCudaContext *ctx, float *da, float *db,
                                 const float *dout, const float *act_out, ThawCudaAct act,
                                 size_t n, ThawError *err)
{
    if (!da) {
        da = db;
        db = NULL;
    }
    const float *gate = act == THAW_CUDA_ACT_NONE ? NULL : act_out;
    if (da) {
        FLAT_LAUNCH(accumulate, n, da, db, dout, gate, da, db, dout, gate, (int)act,
                    ctx->din_assign);
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
