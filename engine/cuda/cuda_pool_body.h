/* The max pool backward's per-thread work (cuda_pool.cu), __host__
 * __device__ so tests/gpu/host_pool.cu can run every thread of its launch
 * on the CPU against the CPU op, bit for bit. */
#ifndef THAW_CUDA_POOL_BODY_H
#define THAW_CUDA_POOL_BODY_H

#include <stdint.h>

#include "engine/cuda/cuda_channel_grid.h"

extern "C" {
#include "engine/ops/pool.h"
}

/* Output rows whose window [o*stride - pad, o*stride - pad + k) holds i. */
__host__ __device__ static inline void thaw_windows_holding(int i, int stride, int pad, int k, int outsize,
                                       int *lo, int *hi)
{
    int a = i + pad - k + 1;
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    int b = (i + pad) / stride;
    *hi = b < outsize - 1 ? b : outsize - 1;
}

/* Thread g gathers V neighbouring channels of one input pixel (flat input
 * index g * V onwards; V divides c): the pixel's index arithmetic once for
 * V values and 16-byte loads of argmax and dout (on the H100 the
 * one-channel version took 1.4 ms for ResNet-50's max pool backward at
 * batch 128, its forward 0.35). The windows in the CPU's order, each
 * channel's sum as before: the CPU op's bits. S: float or bf16 maps
 * (cuda_storage.h; the sums in float, one rounding at the store). */
template <int V, typename S>
__host__ __device__ __forceinline__ void thaw_maxpool_backward_at(S *din, const S *dout,
                                                                  const int32_t *argmax,
                                                                  const Pool2dShape &s,
                                                                  int assign, unsigned g)
{
    const unsigned cv = (unsigned)s.c / V;
    const unsigned i = g * V;
    const int j = (int)(g % cv) * V;
    unsigned t = g / cv;
    int iw = (int)(t % s.w);
    t /= s.w;
    int ih = (int)(t % s.h);
    int b = (int)(t / s.h);
    int p0, p1, q0, q1;
    thaw_windows_holding(ih, s.stride_h, s.pad_h, s.kh, s.p, &p0, &p1);
    thaw_windows_holding(iw, s.stride_w, s.pad_w, s.kw, s.q, &q0, &q1);
    float acc[V];
    thaw_vload_acc<V>(acc, din + i, assign);
    for (int op = p0; op <= p1; op++) {
        for (int oq = q0; oq <= q1; oq++) {
            size_t o = (((size_t)b * s.p + op) * s.q + oq) * s.c + j;
            int32_t am[V];
            float d[V];
            thaw_vload<V>(am, argmax + o);
            thaw_vload<V>(d, dout + o);
            for (int k = 0; k < V; k++) {
                if ((unsigned)am[k] == i + (unsigned)k) {
                    acc[k] += d[k];
                }
            }
        }
    }
    thaw_vstore<V>(din + i, acc);
}

#endif
