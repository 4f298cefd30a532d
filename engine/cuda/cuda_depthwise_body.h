/* The per-thread work of the depthwise convolution kernels
 * (cuda_depthwise.cu), as __host__ __device__ functions: the kernels call
 * them with their block and thread, and tests/gpu/host_depthwise.cu calls
 * them on the CPU, looping over every block and thread of the same grids,
 * so the index arithmetic is checked against the CPU op on any machine.
 * NHWC maps; weights [c][r][s] (PyTorch's [c, 1, r, s]) are first copied
 * to [r][s][c] so a thread's 4 channels are one 16-byte load. Maps in
 * the activation storage S (float or bf16, cuda_storage.h), weights and
 * sums in float. */
#ifndef THAW_CUDA_DEPTHWISE_BODY_H
#define THAW_CUDA_DEPTHWISE_BODY_H

#include "engine/cuda/cuda_channel_grid.h"
extern "C" {
#include "engine/ops/conv2d.h"
}

#define THAW_DW_MAX_S 7         /* kernel width a filter-gradient thread holds */
#define THAW_DW_TOTAL_LANES 16  /* partial rows added per column, first pass */
#define THAW_DW_ROWS_PER_LANE 2          /* output pixels a thread, forward/data */
#define THAW_DW_FILTER_ROWS_PER_LANE 16  /* output pixels a thread, filter */
#define THAW_DW_MAX_PARTIAL_ROWS 4096    /* chunks * lanes of the filter gradient */
#define THAW_DW_MAX_PARTIALS ((long)1 << 22)   /* partial floats, bounds scratch */

/* One depthwise convolution (channel multiplier 1). */
struct ThawDwShape {
    int n, h, w, c;             /* input */
    int p, q;                   /* output height, width */
    int r, s;                   /* kernel */
    int sh, sw, ph, pw, dh, dw; /* stride, padding, dilation */
};

static inline ThawDwShape thaw_dw_shape(const Conv2dShape *s)
{
    ThawDwShape d = {s->n, s->h, s->w, s->c, s->p, s->q, s->r, s->s, s->stride_h,
                     s->stride_w, s->pad_h, s->pad_w, s->dil_h, s->dil_w};
    return d;
}

/* The filter gradient's grid (blockIdx.z: the kernel row): its partial
 * rows (chunks * lanes) are capped so the partials stay within
 * THAW_DW_MAX_PARTIALS floats. */
static inline ThawChanGrid thaw_dw_filter_grid(const Conv2dShape *s, int vec4)
{
    const int m = s->n * s->p * s->q, taps = s->r * s->s;
    ThawChanGrid g = thaw_chan_grid(m, s->c, vec4, THAW_DW_FILTER_ROWS_PER_LANE, 65535);
    long rows_cap = THAW_DW_MAX_PARTIALS / ((long)taps * s->c);
    rows_cap = rows_cap < THAW_DW_MAX_PARTIAL_ROWS ? rows_cap : THAW_DW_MAX_PARTIAL_ROWS;
    long chunks_cap = rows_cap / g.lanes;
    if (g.chunks > chunks_cap) {
        g = thaw_chan_grid(m, s->c, vec4, THAW_DW_FILTER_ROWS_PER_LANE,
                           (int)(chunks_cap < 1 ? 1 : chunks_cap));
    }
    return g;
}

/* w_rsc[tap][c] = w[c][tap], one element per index (w in the activation
 * storage S, as the executor passes convolution weights; w_rsc float). */
template <typename S>
__host__ __device__ inline void thaw_dw_weights_rsc_at(float *w_rsc, const S *w, int c,
                                                      int taps, unsigned i)
{
    unsigned tap = i / (unsigned)c, ch = i % (unsigned)c;
    w_rsc[i] = thaw_ld(w[(size_t)ch * taps + tap]);
}

/* Row `row` of an NHWC map with h x w pixels an image: image n, y, x. */
__host__ __device__ __forceinline__ void thaw_dw_pixel(long row, int h, int w, int *n, int *y,
                                                       int *x)
{
    *x = (int)(row % w);
    const long t = row / w;
    *y = (int)(t % h);
    *n = (int)(t / h);
}

/* out[n, p, q, ch..] over the thread's output rows (pixels n*p*q). */
template <int V, typename S>
__host__ __device__ inline void thaw_dw_forward_rows(const ThawChanGrid &g, const ThawChanSpan &sp,
                                                     S *out, const S *in,
                                                     const float *w_rsc, const ThawDwShape &d)
{
    if (sp.ch < 0) {
        return;
    }
    for (long row = sp.r; row < sp.r1; row += g.lanes) {
        int n, p, q;
        thaw_dw_pixel(row, d.p, d.q, &n, &p, &q);
        float acc[V];
        for (int v = 0; v < V; v++) {
            acc[v] = 0.0f;
        }
        for (int r = 0; r < d.r; r++) {
            const int y = p * d.sh - d.ph + r * d.dh;
            if (y < 0 || y >= d.h) {
                continue;
            }
            for (int s = 0; s < d.s; s++) {
                const int x = q * d.sw - d.pw + s * d.dw;
                if (x < 0 || x >= d.w) {
                    continue;
                }
                float xv[V], wv[V];
                thaw_vload<V>(xv, in + (((size_t)n * d.h + y) * d.w + x) * d.c + sp.ch);
                thaw_vload<V>(wv, w_rsc + (size_t)(r * d.s + s) * d.c + sp.ch);
                for (int v = 0; v < V; v++) {
                    acc[v] += xv[v] * wv[v];
                }
            }
        }
        thaw_vstore<V>(out + (size_t)row * d.c + sp.ch, acc);
    }
}

/* din[n, y, x, ch..] (+)= the taps that read it, over the thread's input
 * rows (pixels n*h*w): a gather, so no two threads write one element. */
template <int V, typename S>
__host__ __device__ inline void thaw_dw_data_rows(const ThawChanGrid &g, const ThawChanSpan &sp,
                                                  S *din, const S *dout,
                                                  const float *w_rsc, int assign,
                                                  const ThawDwShape &d)
{
    if (sp.ch < 0) {
        return;
    }
    for (long row = sp.r; row < sp.r1; row += g.lanes) {
        int n, y, x;
        thaw_dw_pixel(row, d.h, d.w, &n, &y, &x);
        float acc[V];
        thaw_vload_acc<V>(acc, din + (size_t)row * d.c + sp.ch, assign);
        for (int r = 0; r < d.r; r++) {
            const int py = y + d.ph - r * d.dh;
            if (py < 0 || py % d.sh != 0 || py / d.sh >= d.p) {
                continue;
            }
            const int p = py / d.sh;
            for (int s = 0; s < d.s; s++) {
                const int qx = x + d.pw - s * d.dw;
                if (qx < 0 || qx % d.sw != 0 || qx / d.sw >= d.q) {
                    continue;
                }
                const int q = qx / d.sw;
                float gv[V], wv[V];
                thaw_vload<V>(gv, dout + (((size_t)n * d.p + p) * d.q + q) * d.c + sp.ch);
                thaw_vload<V>(wv, w_rsc + (size_t)(r * d.s + s) * d.c + sp.ch);
                for (int v = 0; v < V; v++) {
                    acc[v] += gv[v] * wv[v];
                }
            }
        }
        thaw_vstore<V>(din + (size_t)row * d.c + sp.ch, acc);
    }
}

/* The filter gradient of kernel row r, over the thread's output rows:
 * part[(chunk * lanes + lane)][r * s + s'][ch..] = sum dout * in (float, one
 * thread's rows; every entry written, zeros included). */
template <int V, typename S>
__host__ __device__ inline void thaw_dw_filter_rows(const ThawChanGrid &g, const ThawChanSpan &sp,
                                                    unsigned chunk, int r, float *part,
                                                    const S *dout, const S *in,
                                                    const ThawDwShape &d)
{
    if (sp.ch < 0) {
        return;
    }
    float acc[THAW_DW_MAX_S][V];
    for (int s = 0; s < THAW_DW_MAX_S; s++) {
        for (int v = 0; v < V; v++) {
            acc[s][v] = 0.0f;
        }
    }
    for (long row = sp.r; row < sp.r1; row += g.lanes) {
        int n, p, q;
        thaw_dw_pixel(row, d.p, d.q, &n, &p, &q);
        const int y = p * d.sh - d.ph + r * d.dh;
        if (y < 0 || y >= d.h) {
            continue;
        }
        float gv[V];
        thaw_vload<V>(gv, dout + (size_t)row * d.c + sp.ch);
        for (int s = 0; s < d.s; s++) {
            const int x = q * d.sw - d.pw + s * d.dw;
            if (x < 0 || x >= d.w) {
                continue;
            }
            float xv[V];
            thaw_vload<V>(xv, in + (((size_t)n * d.h + y) * d.w + x) * d.c + sp.ch);
            for (int v = 0; v < V; v++) {
                acc[s][v] += gv[v] * xv[v];
            }
        }
    }
    const size_t taps = (size_t)d.r * d.s;
    const size_t base = ((size_t)chunk * g.lanes + sp.lane) * taps;
    for (int s = 0; s < d.s; s++) {
        thaw_vstore<V>(part + (base + (size_t)r * d.s + s) * d.c + sp.ch, acc[s]);
    }
}

/* First pass over the partial rows: lane L of column col (one of taps * c)
 * adds rows L, L + 16, ... in double, in order. */
__host__ __device__ inline void thaw_dw_total_lanes_at(double *lanes, const float *part,
                                                       long rows, size_t cols, size_t i)
{
    const size_t col = i % cols, lane = i / cols;
    double t = 0.0;
    for (long row = (long)lane; row < rows; row += THAW_DW_TOTAL_LANES) {
        t += part[(size_t)row * cols + col];
    }
    lanes[lane * cols + col] = t;
}

/* Second pass: dweight[ch][tap] += the 16 lanes of column tap * c + ch, in
 * order. */
__host__ __device__ inline void thaw_dw_total_add_at(float *dweight, const double *lanes,
                                                     int c, int taps, size_t col)
{
    const size_t cols = (size_t)c * taps;
    double t = 0.0;
    for (int lane = 0; lane < THAW_DW_TOTAL_LANES; lane++) {
        t += lanes[lane * cols + col];
    }
    const size_t tap = col / (size_t)c, ch = col % (size_t)c;
    dweight[ch * taps + tap] += (float)t;
}

#endif
