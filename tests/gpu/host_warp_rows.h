/* The warp-per-row kernels of cuda_text_ops.cu and cuda_attention.cu
 * replayed on the CPU (tests/gpu/host_text_ops.cu, host_attention.cu):
 * each row's 32 lanes run their phase of engine/cuda/cuda_warp_rows.h in
 * turn, and their partials are combined by the same butterfly as the
 * kernels' shuffles before the next phase. The glue here is the kernels'
 * (layernorm_fwd, layernorm_din; thaw_warp_softmax_row and
 * thaw_warp_softmax_din_row) line for line. */
#ifndef THAW_HOST_WARP_ROWS_H
#define THAW_HOST_WARP_ROWS_H

#include "engine/cuda/cuda_warp_rows.h"

/* layernorm_fwd's row i */
static inline void host_ln_forward_row(float *out, float *mean, float *rstd, const float *in,
                                       const float *gamma, const float *beta, int c, float eps,
                                       long i)
{
    const float *x = in + (size_t)i * c;
    double p[THAW_WARP_LANES];
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        p[l] = thaw_ln_lane_sum(x, c, l);
    }
    const float m = thaw_ln_mean(thaw_lanes_sum_d(p), c);
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        p[l] = thaw_ln_lane_sq(x, c, m, l);
    }
    const float r = thaw_ln_rstd(thaw_lanes_sum_d(p), c, eps);
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        thaw_ln_lane_write(out + (size_t)i * c, x, gamma, beta, c, m, r, l);
    }
    mean[i] = m;
    rstd[i] = r;
}

/* layernorm_din's row i */
static inline void host_ln_din_row(float *din, const float *dout, const float *in,
                                   const float *mean, const float *rstd, const float *gamma,
                                   int c, int assign, long i)
{
    const size_t o = (size_t)i * c;
    float pa[THAW_WARP_LANES], pb[THAW_WARP_LANES];
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        thaw_ln_lane_dsums(&pa[l], &pb[l], dout + o, in + o, gamma, mean[i], rstd[i], c, l);
    }
    const float a = thaw_lanes_sum_f(pa) / c, b = thaw_lanes_sum_f(pb) / c;
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        thaw_ln_lane_din(din + o, dout + o, in + o, gamma, mean[i], rstd[i], a, b, c, assign, l);
    }
}

/* softmax_fwd's / softmax_rows' row: y from x (may alias) over cols with
 * the key mask mk (NULL: every key) */
static inline void host_softmax_row(float *y, const float *x, const int32_t *mk, int cols)
{
    float p[THAW_WARP_LANES];
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        p[l] = thaw_sm_lane_max(x, mk, cols, l);
    }
    const float mx = thaw_lanes_max_f(p);
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        p[l] = thaw_sm_lane_exp(y, x, mk, cols, mx, l);
    }
    const float sum = thaw_lanes_sum_f(p);
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        thaw_sm_lane_scale(y, cols, mx, sum, l);
    }
}

/* softmax_bwd's / ds_rows' row: dx (may alias dy) from dy, y and the
 * dropout scale drop (NULL: none) */
static inline void host_softmax_din_row(float *dx, const float *dy, const float *y,
                                        const float *drop, int cols, int assign)
{
    float p[THAW_WARP_LANES];
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        p[l] = thaw_sm_lane_dot(dy, y, drop, cols, l);
    }
    const float dot = thaw_lanes_sum_f(p);
    for (int l = 0; l < THAW_WARP_LANES; l++) {
        thaw_sm_lane_din(dx, dy, y, drop, cols, dot, assign, l);
    }
}

#endif
