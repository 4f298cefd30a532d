/* Elementwise kernels (relu, relu6, residual add) and global average
 * pooling, grid-stride loops over flat arrays of the context's activation
 * storage (float or bf16, cuda_storage.h). Same compare-and-select as
 * engine/ops/activation.c, so NaN propagates the same way. */
#include "engine/cuda/cuda_channel_grid.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"

/* The flat kernels take n in units of V elements: V = 4 (16-byte loads
 * and stores of floats, 8-byte of bf16) when n % 4 == 0 and every pointer
 * is 16-byte aligned. */
template <int V, typename S>
__global__ static void relu_fwd(S *out, const S *in, unsigned n)
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
template <int V, bool SIX, typename S>
__device__ __forceinline__ static void gate_bwd(S *din, const S *dout, const S *out,
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

template <int V, typename S>
__global__ static void relu_bwd(S *din, const S *dout, const S *out, int assign, unsigned n)
{
    gate_bwd<V, false>(din, dout, out, assign, n);
}

template <int V, typename S>
__global__ static void relu6_bwd(S *din, const S *dout, const S *out, int assign, unsigned n)
{
    gate_bwd<V, true>(din, dout, out, assign, n);
}

template <int V, typename S>
__global__ static void relu6_fwd(S *out, const S *in, unsigned n)
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

template <int V, typename S>
__global__ static void add_fwd(S *out, const S *a, const S *b, int act, unsigned n)
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
template <int V, typename S>
__global__ static void accumulate(S *dst, S *dst2, const S *src, const S *gate, int act,
                                  int assign, unsigned n)
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
        S *outs[2] = {dst, dst2};
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

/* Launches kernel<4, S> over n / 4 groups of 4 or kernel<1, S> over n
 * elements (the count is passed last); p0..p3 are the pointers that must
 * be aligned. */
#define FLAT_LAUNCH(kernel, S, n, p0, p1, p2, p3, ...)                         \
    do {                                                                       \
        const size_t n_ = (n);                                                 \
        if (n_ >= THAW_CUDA_MAX_FLAT) {                                        \
            return thaw_fail(err, THAW_ERR_ARG, "%s: %zu elements is over the "  \
                             "GPU backend's 32-bit index limit", #kernel, n_); \
        }                                                                      \
        if (n_ == 0) {                                                         \
            break;                                                             \
        }                                                                      \
        if (n_ % 4 == 0 && thaw_chan_aligned(p0) && thaw_chan_aligned(p1) &&   \
            thaw_chan_aligned(p2) && thaw_chan_aligned(p3)) {                  \
            kernel<4, S><<<thaw_cuda_blocks(n_ / 4), THAW_CUDA_THREADS, 0,      \
                           ctx->stream>>>(__VA_ARGS__, (unsigned)(n_ / 4));    \
        } else {                                                               \
            kernel<1, S><<<thaw_cuda_blocks(n_), THAW_CUDA_THREADS, 0,          \
                           ctx->stream>>>(__VA_ARGS__, (unsigned)n_);          \
        }                                                                      \
        THAW_CUDA_CHECK_LAUNCH(#kernel);                                       \
    } while (0)

/* One thread per (image, channel): consecutive threads read consecutive
 * channels, so NHWC loads coalesce. Summed in pixel order like the CPU. */
template <typename S>
__global__ static void avgpool_fwd(S *out, const S *in, int n, int hw, int c)
{
    GRID_STRIDE(i, (size_t)n * c) {
        unsigned b = i / (unsigned)c, j = i % (unsigned)c;
        const S *p = in + (size_t)b * hw * c + j;
        float sum = 0.0f;
        for (int k = 0; k < hw; k++) {
            sum += thaw_ld(p[(size_t)k * c]);
        }
        out[i] = thaw_st<S>(sum * (1.0f / (float)hw));
    }
}

template <typename S>
__global__ static void avgpool_bwd(S *din, const S *dout, int hw, int c, int assign,
                                   size_t total)
{
    GRID_STRIDE(i, total) {
        unsigned j = i % (unsigned)c, b = i / ((unsigned)hw * (unsigned)c);
        din[i] = thaw_st<S>((assign ? 0.0f : thaw_ld(din[i])) +
                            thaw_ld(dout[(size_t)b * c + j]) * (1.0f / (float)hw));
    }
}

/* The launches, one per storage type (THAW_BY_STORAGE picks). */
template <typename S>
static int relu_fwd_on(ThawCudaContext *ctx, void *out, const void *in, size_t n, int six,
                       ThawError *err)
{
    if (six) {
        FLAT_LAUNCH(relu6_fwd, S, n, out, in, NULL, NULL, (S *)out, (const S *)in);
    } else {
        FLAT_LAUNCH(relu_fwd, S, n, out, in, NULL, NULL, (S *)out, (const S *)in);
    }
    return 0;
}

template <typename S>
static int relu_bwd_on(ThawCudaContext *ctx, void *din, const void *dout, const void *out,
                       size_t n, int six, ThawError *err)
{
    if (six) {
        FLAT_LAUNCH(relu6_bwd, S, n, din, dout, out, NULL, (S *)din, (const S *)dout,
                    (const S *)out, ctx->din_assign);
    } else {
        FLAT_LAUNCH(relu_bwd, S, n, din, dout, out, NULL, (S *)din, (const S *)dout,
                    (const S *)out, ctx->din_assign);
    }
    return 0;
}

template <typename S>
static int add_fwd_on(ThawCudaContext *ctx, void *out, const void *a, const void *b, size_t n,
                      int act, ThawError *err)
{
    FLAT_LAUNCH(add_fwd, S, n, out, a, b, NULL, (S *)out, (const S *)a, (const S *)b, act);
    return 0;
}

template <typename S>
static int accumulate_on(ThawCudaContext *ctx, void *da, void *db, const void *dout,
                         const void *gate, int act, size_t n, ThawError *err)
{
    FLAT_LAUNCH(accumulate, S, n, da, db, dout, gate, (S *)da, (S *)db, (const S *)dout,
                (const S *)gate, act, ctx->din_assign);
    return 0;
}

template <typename S>
static int avgpool_fwd_on(ThawCudaContext *ctx, void *out, const void *in, int n, int hw, int c,
                          ThawError *err)
{
    LAUNCH(avgpool_fwd<S>, (size_t)n * c, (S *)out, (const S *)in, n, hw, c);
    return 0;
}

template <typename S>
static int avgpool_bwd_on(ThawCudaContext *ctx, void *din, const void *dout, int hw, int c,
                          size_t total, ThawError *err)
{
    LAUNCH(avgpool_bwd<S>, total, (S *)din, (const S *)dout, hw, c, ctx->din_assign, total);
    return 0;
}

extern "C" {

int thaw_cuda_relu_forward(ThawCudaContext *ctx, void *out, const void *in, size_t n,
                           ThawError *err)
{
    return THAW_BY_STORAGE(ctx, relu_fwd_on, ctx, out, in, n, 0, err);
}

int thaw_cuda_relu_backward(ThawCudaContext *ctx, void *din, const void *dout,
                            const void *out, size_t n, ThawError *err)
{
    return THAW_BY_STORAGE(ctx, relu_bwd_on, ctx, din, dout, out, n, 0, err);
}

int thaw_cuda_relu6_forward(ThawCudaContext *ctx, void *out, const void *in, size_t n,
                            ThawError *err)
{
    return THAW_BY_STORAGE(ctx, relu_fwd_on, ctx, out, in, n, 1, err);
}

int thaw_cuda_relu6_backward(ThawCudaContext *ctx, void *din, const void *dout,
                             const void *out, size_t n, ThawError *err)
{
    return THAW_BY_STORAGE(ctx, relu_bwd_on, ctx, din, dout, out, n, 1, err);
}

int thaw_cuda_add_forward(ThawCudaContext *ctx, void *out, const void *a, const void *b,
                          size_t n, ThawCudaAct act, ThawError *err)
{
    return THAW_BY_STORAGE(ctx, add_fwd_on, ctx, out, a, b, n, (int)act, err);
}

int thaw_cuda_add_backward(ThawCudaContext *ctx, void *da, void *db, const void *dout,
                           size_t n, ThawError *err)
{
    return thaw_cuda_add_backward_gated(ctx, da, db, dout, NULL, THAW_CUDA_ACT_NONE, n, err);
}

int thaw_cuda_add_backward_gated(ThawCudaContext *ctx, void *da, void *db, const void *dout,
                                 const void *act_out, ThawCudaAct act, size_t n,
                                 ThawError *err)
{
    if (!da) {
        da = db;
        db = NULL;
    }
    const void *gate = act == THAW_CUDA_ACT_NONE ? NULL : act_out;
    return da ? THAW_BY_STORAGE(ctx, accumulate_on, ctx, da, db, dout, gate, (int)act, n, err)
              : 0;
}

int thaw_cuda_global_avgpool_forward(ThawCudaContext *ctx, void *out, const void *in, int n,
                                     int h, int w, int c, ThawError *err)
{
    if (h * w <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "global average pool of an empty %dx%d map", h, w);
    }
    return THAW_BY_STORAGE(ctx, avgpool_fwd_on, ctx, out, in, n, h * w, c, err);
}

int thaw_cuda_global_avgpool_backward(ThawCudaContext *ctx, void *din, const void *dout, int n,
                                      int h, int w, int c, ThawError *err)
{
    if (h * w <= 0) {
        return thaw_fail(err, THAW_ERR_ARG, "global average pool of an empty %dx%d map", h, w);
    }
    return THAW_BY_STORAGE(ctx, avgpool_bwd_on, ctx, din, dout, h * w, c,
                           (size_t)n * h * w * c, err);
}

} /* extern "C" */
