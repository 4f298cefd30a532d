/* Launch geometry for per-channel kernels over an NHWC map viewed as
 * [m rows, c channels], for the backend's .cu files (batch norm, channel
 * sums). Each thread owns V consecutive channels (V = 4: one float4 per row
 * when c % 4 == 0 and the maps are 16-byte aligned, else V = 1) and walks
 * the rows of one chunk with a stride of `lanes`. Owning fixed channels
 * means the per-channel constants are loaded once per thread, not once per
 * element, and there is no index division in the loop: the flat kernels
 * this replaced spent more on `i % c` and scalar loads than on memory. */
#ifndef THAW_CUDA_CHANNEL_GRID_H
#define THAW_CUDA_CHANNEL_GRID_H

#include <stdint.h>
#include <string.h>

#define THAW_CHAN_BLOCK 256     /* threads per block, at most */

typedef struct {
    int m, c;
    int vec;                    /* channels per thread: 4 or 1 */
    int groups;                 /* c / vec */
    int groups_per_block;       /* threads of a block across channels */
    int lanes;                  /* threads of a block down the rows */
    int rows_per_chunk;         /* rows of one blockIdx.y */
    int chunks;                 /* gridDim.y */
    unsigned blocks_x;          /* gridDim.x */
} ThawChanGrid;

static inline int thaw_chan_aligned(const void *p)
{
    return p == NULL || ((uintptr_t)p & 15u) == 0;
}

/* vec4: the caller checked c % 4 == 0 and the maps' alignment. rows_per_lane
 * sets the work of one thread (elementwise passes); max_chunks caps
 * gridDim.y (reductions keep a partial per chunk and channel). */
static inline ThawChanGrid thaw_chan_grid(int m, int c, int vec4, int rows_per_lane,
                                          int max_chunks)
{
    ThawChanGrid g;
    g.m = m;
    g.c = c;
    g.vec = vec4 && c % 4 == 0 ? 4 : 1;
    g.groups = c / g.vec;
    int bx = (g.groups + THAW_CHAN_BLOCK - 1) / THAW_CHAN_BLOCK;
    g.groups_per_block = (g.groups + bx - 1) / bx;
    g.lanes = THAW_CHAN_BLOCK / g.groups_per_block;
    g.lanes = g.lanes < 1 ? 1 : g.lanes;
    g.blocks_x = (unsigned)bx;
    long rows = (long)g.lanes * rows_per_lane;
    long chunks = (m + rows - 1) / rows;
    if (chunks > max_chunks) {
        chunks = max_chunks;
    }
    if (chunks > 65535) {
        chunks = 65535;
    }
    g.chunks = chunks < 1 ? 1 : (int)chunks;
    g.rows_per_chunk = (int)((m + g.chunks - 1) / g.chunks);
    return g;
}

#ifdef __CUDACC__
#include "engine/cuda/cuda_storage.h"

/* Where thread tx of block (bx, by) works: its first channel (-1: none),
 * its rows [r, r1) with stride g.lanes. Host code can call it too (tests
 * run kernel bodies on the CPU by looping over blocks and threads). */
struct ThawChanSpan {
    int ch, lane;
    long r, r1;
};

__host__ __device__ __forceinline__ ThawChanSpan thaw_chan_span_at(const ThawChanGrid &g,
                                                                   unsigned bx, unsigned by,
                                                                   unsigned tx)
{
    ThawChanSpan s;
    int in_block = (int)tx % g.groups_per_block;
    s.lane = (int)tx / g.groups_per_block;
    int group = (int)bx * g.groups_per_block + in_block;
    s.ch = (group < g.groups && s.lane < g.lanes) ? group * g.vec : -1;
    long r0 = (long)by * g.rows_per_chunk;
    s.r1 = r0 + g.rows_per_chunk < g.m ? r0 + g.rows_per_chunk : g.m;
    s.r = r0 + s.lane;
    return s;
}

__device__ __forceinline__ ThawChanSpan thaw_chan_span(const ThawChanGrid &g)
{
    return thaw_chan_span_at(g, blockIdx.x, blockIdx.y, threadIdx.x);
}

/* CUDA's 4-vector of a 4-byte element type. */
template <typename T> struct ThawVec4;
template <> struct ThawVec4<float> { typedef float4 type; };
template <> struct ThawVec4<int32_t> { typedef int4 type; };

/* V elements (floats, or int32 such as max-pool argmax) at p into v
 * (V = 4: one 16-byte load). */
template <int V, typename T>
__host__ __device__ __forceinline__ void thaw_vload(T *v, const T *p)
{
    if constexpr (V == 4) {
        typename ThawVec4<T>::type t = *reinterpret_cast<const typename ThawVec4<T>::type *>(p);
        v[0] = t.x;
        v[1] = t.y;
        v[2] = t.z;
        v[3] = t.w;
    } else {
        v[0] = *p;
    }
}

/* Copies 8 bytes (4 bf16): one 8-byte access on the device; memcpy on the
 * host, where the cast would break strict aliasing (tests run the bodies
 * there). */
__host__ __device__ __forceinline__ void thaw_copy8(void *dst, const void *src)
{
#ifdef __CUDA_ARCH__
    *reinterpret_cast<uint2 *>(dst) = *reinterpret_cast<const uint2 *>(src);
#else
    memcpy(dst, src, 8);
#endif
}

/* V bf16 values at p widened into floats (V = 4: one 8-byte load). */
template <int V>
__host__ __device__ __forceinline__ void thaw_vload(float *v, const thaw_bf16 *p)
{
    if constexpr (V == 4) {
        alignas(8) thaw_bf16 t[4];
        thaw_copy8(t, p);
        for (int k = 0; k < 4; k++) {
            v[k] = thaw_ld(t[k]);
        }
    } else {
        v[0] = thaw_ld(*p);
    }
}

template <int V>
__host__ __device__ __forceinline__ void thaw_vstore(float *p, const float *v)
{
    if constexpr (V == 4) {
        *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        *p = v[0];
    }
}

/* V floats rounded to bf16 (nearest even) at p (V = 4: one 8-byte store). */
template <int V>
__host__ __device__ __forceinline__ void thaw_vstore(thaw_bf16 *p, const float *v)
{
    if constexpr (V == 4) {
        alignas(8) thaw_bf16 t[4];
        for (int k = 0; k < 4; k++) {
            t[k] = thaw_st<thaw_bf16>(v[k]);
        }
        thaw_copy8(p, t);
    } else {
        *p = thaw_st<thaw_bf16>(v[0]);
    }
}

/* What a gradient pass adds to: zeros in assign mode (the op writes the
 * gradient first, ThawCudaContext.din_assign), else what p holds. Adding
 * to 0.0f rather than storing keeps the bits of zero-then-add (-0 + 0 is
 * +0). p holds floats or bf16 (the context's activation storage). */
template <int V, typename S>
__host__ __device__ __forceinline__ void thaw_vload_acc(float *v, const S *p, int assign)
{
    if (assign) {
        for (int k = 0; k < V; k++) {
            v[k] = 0.0f;
        }
    } else {
        thaw_vload<V>(v, p);
    }
}

/* Launches kernel<4, S> or kernel<1, S> (S: the activation storage
 * type, float or thaw_bf16) on the grid g (a `ctx` and `err` in scope) and
 * checks the launch. */
#define THAW_CHAN_LAUNCH(kernel, S, g, ...)                                    \
    do {                                                                       \
        dim3 grid_((g).blocks_x, (unsigned)(g).chunks);                        \
        unsigned threads_ = (unsigned)((g).groups_per_block * (g).lanes);      \
        if ((g).vec == 4) {                                                    \
            kernel<4, S><<<grid_, threads_, 0, ctx->stream>>>(__VA_ARGS__);    \
        } else {                                                               \
            kernel<1, S><<<grid_, threads_, 0, ctx->stream>>>(__VA_ARGS__);    \
        }                                                                      \
        THAW_CUDA_CHECK_LAUNCH(#kernel);                                       \
    } while (0)
#endif

#endif
