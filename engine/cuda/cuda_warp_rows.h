/* Row ops of the text models with one warp per row: layer norm (forward,
 * input gradient) and softmax (forward with an optional key mask, backward
 * with an optional dropout mask), split into the phases between the
 * warp's reductions. Lane l of THAW_WARP_LANES owns columns l, l + 32, ...:
 * neighbouring lanes read neighbouring floats, so each load is one
 * coalesced transaction where a thread per row (the first version) made 32.
 * The phases are __host__ __device__ so tests/gpu/host_text_ops.cu can run
 * every lane of every row on the CPU and combine the partials in the
 * butterfly order the kernels' shuffles use (thaw_lanes_sum below), i.e.
 * the kernels' own sums; the maths is row_math.h's (the CPU ops'), only the
 * order of the sums differs. `assign` writes (=) an input gradient instead
 * of adding to it (the executor's assign mode). */
#ifndef THAW_CUDA_WARP_ROWS_H
#define THAW_CUDA_WARP_ROWS_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define THAW_WARP_FN __host__ __device__ static inline
#else
#define THAW_WARP_FN static inline
#endif

#define THAW_WARP_LANES 32

/* The butterfly of xor shuffles over THAW_WARP_LANES partials, as the
 * kernels combine them (every lane ends with the same total); on the host
 * the lanes are an array. */
#define THAW_LANES_BUTTERFLY(T, name, op)                                      \
    THAW_WARP_FN T name(const T *v)                                            \
    {                                                                          \
        T a[THAW_WARP_LANES], b[THAW_WARP_LANES];                              \
        for (int l = 0; l < THAW_WARP_LANES; l++) {                            \
            a[l] = v[l];                                                       \
        }                                                                      \
        for (int o = THAW_WARP_LANES / 2; o > 0; o >>= 1) {                    \
            for (int l = 0; l < THAW_WARP_LANES; l++) {                        \
                b[l] = op(a[l], a[l ^ o]);                                     \
            }                                                                  \
            for (int l = 0; l < THAW_WARP_LANES; l++) {                        \
                a[l] = b[l];                                                   \
            }                                                                  \
        }                                                                      \
        return a[0];                                                           \
    }
#define THAW_ADD_(x, y) ((x) + (y))
#define THAW_MAX_(x, y) ((x) > (y) ? (x) : (y))
THAW_LANES_BUTTERFLY(double, thaw_lanes_sum_d, THAW_ADD_)
THAW_LANES_BUTTERFLY(float, thaw_lanes_sum_f, THAW_ADD_)
THAW_LANES_BUTTERFLY(float, thaw_lanes_max_f, THAW_MAX_)

/* ---- layer norm forward: sum, then squared deviations, then y ---- */

THAW_WARP_FN double thaw_ln_lane_sum(const float *x, int c, int lane)
{
    double s = 0.0;
    for (int j = lane; j < c; j += THAW_WARP_LANES) {
        s += x[j];
    }
    return s;
}

THAW_WARP_FN double thaw_ln_lane_sq(const float *x, int c, float m, int lane)
{
    double s = 0.0;
    for (int j = lane; j < c; j += THAW_WARP_LANES) {
        float d = x[j] - m;
        s += (double)d * d;
    }
    return s;
}

THAW_WARP_FN float thaw_ln_mean(double sum, int c)
{
    return (float)(sum / c);
}

THAW_WARP_FN float thaw_ln_rstd(double sq, int c, float eps)
{
    return (float)(1.0 / sqrt(sq / c + eps));
}

THAW_WARP_FN void thaw_ln_lane_write(float *y, const float *x, const float *gamma,
                                     const float *beta, int c, float m, float r, int lane)
{
    for (int j = lane; j < c; j += THAW_WARP_LANES) {
        y[j] = (x[j] - m) * r * gamma[j] + beta[j];
    }
}

/* ---- layer norm input gradient: the two row sums, then dx ---- */

THAW_WARP_FN void thaw_ln_lane_dsums(float *sum_dxhat, float *sum_dxhat_xhat, const float *dy,
                                     const float *x, const float *gamma, float m, float r,
                                     int c, int lane)
{
    float a = 0.0f, b = 0.0f;
    for (int j = lane; j < c; j += THAW_WARP_LANES) {
        float dxhat = dy[j] * gamma[j];
        a += dxhat;
        b += dxhat * (x[j] - m) * r;
    }
    *sum_dxhat = a;
    *sum_dxhat_xhat = b;
}

/* a, b: the row's sums divided by c. */
THAW_WARP_FN void thaw_ln_lane_din(float *dx, const float *dy, const float *x,
                                   const float *gamma, float m, float r, float a, float b,
                                   int c, int assign, int lane)
{
    for (int j = lane; j < c; j += THAW_WARP_LANES) {
        float xhat = (x[j] - m) * r;
        dx[j] = (assign ? 0.0f : dx[j]) + r * (dy[j] * gamma[j] - a - xhat * b);
    }
}

/* ---- softmax forward (y may alias x): max over the kept keys, exp and
 * sum, scale. mask NULL keeps every key; a row that keeps none attends
 * uniformly (the max is -INFINITY then), as thaw_masked_softmax_row. ---- */

THAW_WARP_FN float thaw_sm_lane_max(const float *x, const int32_t *mask, int cols, int lane)
{
    float mx = -INFINITY;
    for (int j = lane; j < cols; j += THAW_WARP_LANES) {
        if ((!mask || mask[j]) && x[j] > mx) {
            mx = x[j];
        }
    }
    return mx;
}

/* Writes exp(x - mx) (0 for a dropped key), returns the lane's sum; with
 * mx -INFINITY writes the uniform row and returns 0. */
THAW_WARP_FN float thaw_sm_lane_exp(float *y, const float *x, const int32_t *mask, int cols,
                                    float mx, int lane)
{
    float s = 0.0f;
    for (int j = lane; j < cols; j += THAW_WARP_LANES) {
        if (mx == -INFINITY) {
            y[j] = 1.0f / cols;
            continue;
        }
        y[j] = !mask || mask[j] ? expf(x[j] - mx) : 0.0f;
        s += y[j];
    }
    return s;
}

THAW_WARP_FN void thaw_sm_lane_scale(float *y, int cols, float mx, float sum, int lane)
{
    if (mx == -INFINITY) {
        return;
    }
    float inv = 1.0f / sum;
    for (int j = lane; j < cols; j += THAW_WARP_LANES) {
        y[j] *= inv;
    }
}

/* ---- softmax backward: dx (+)= y * (g - <g, y>) with g = dy, or dy times
 * the dropout mask drop (the scale the probabilities were multiplied by)
 * when drop is not NULL. dx may alias dy: a lane reads its own columns
 * before it writes them. ---- */

THAW_WARP_FN float thaw_sm_lane_dot(const float *dy, const float *y, const float *drop,
                                    int cols, int lane)
{
    float s = 0.0f;
    for (int j = lane; j < cols; j += THAW_WARP_LANES) {
        float g = drop ? dy[j] * drop[j] : dy[j];
        s += g * y[j];
    }
    return s;
}

THAW_WARP_FN void thaw_sm_lane_din(float *dx, const float *dy, const float *y,
                                   const float *drop, int cols, float dot, int assign, int lane)
{
    for (int j = lane; j < cols; j += THAW_WARP_LANES) {
        float g = drop ? dy[j] * drop[j] : dy[j];
        dx[j] = (assign ? 0.0f : dx[j]) + y[j] * (g - dot);
    }
}

#ifdef __CUDACC__
/* The warp's butterfly (thaw_lanes_* is its host twin). */
__device__ __forceinline__ double thaw_warp_sum_d(double v)
{
    for (int o = THAW_WARP_LANES / 2; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ __forceinline__ float thaw_warp_sum_f(float v)
{
    for (int o = THAW_WARP_LANES / 2; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ __forceinline__ float thaw_warp_max_f(float v)
{
    for (int o = THAW_WARP_LANES / 2; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

/* One warp's softmax row (mask NULL: every key; y may alias x) and
 * softmax backward row (drop NULL: no dropout scale; dx may alias dy):
 * the phases above joined by the warp's reductions. The kernels of
 * cuda_text_ops.cu and cuda_attention.cu call these;
 * tests/gpu/host_warp_rows.h replays them lane by lane. */
__device__ __forceinline__ void thaw_warp_softmax_row(float *y, const float *x,
                                                      const int32_t *mask, int cols, int lane)
{
    const float mx = thaw_warp_max_f(thaw_sm_lane_max(x, mask, cols, lane));
    const float sum = thaw_warp_sum_f(thaw_sm_lane_exp(y, x, mask, cols, mx, lane));
    thaw_sm_lane_scale(y, cols, mx, sum, lane);
}

__device__ __forceinline__ void thaw_warp_softmax_din_row(float *dx, const float *dy,
                                                          const float *y, const float *drop,
                                                          int cols, int assign, int lane)
{
    const float dot = thaw_warp_sum_f(thaw_sm_lane_dot(dy, y, drop, cols, lane));
    thaw_sm_lane_din(dx, dy, y, drop, cols, dot, assign, lane);
}

/* A grid-stride loop over rows with one warp per row; every lane of a warp
 * runs the same iterations, so the shuffles see the whole warp. */
#define WARP_ROWS(row, lane, rows)                                              \
    const int lane = (int)(threadIdx.x % THAW_WARP_LANES);                      \
    for (unsigned row = (blockIdx.x * blockDim.x + threadIdx.x) / THAW_WARP_LANES; \
         row < (rows); row += gridDim.x * blockDim.x / THAW_WARP_LANES)

/* Launches a warp-per-row kernel over rows on ctx->stream. */
#define LAUNCH_ROWS(kernel, rows, ...)                                          \
    do {                                                                        \
        if ((size_t)(rows) * THAW_WARP_LANES >= THAW_CUDA_MAX_FLAT) {           \
            return thaw_fail(err, THAW_ERR_ARG, "%s: %zu rows is over the GPU "  \
                             "backend's 32-bit index limit", #kernel, (size_t)(rows)); \
        }                                                                       \
        if ((rows) > 0) {                                                       \
            kernel<<<thaw_cuda_blocks((size_t)(rows) * THAW_WARP_LANES), THAW_CUDA_THREADS, \
                     0, ctx->stream>>>(__VA_ARGS__);                            \
            THAW_CUDA_CHECK_LAUNCH(#kernel);                                    \
        }                                                                       \
    } while (0)
#endif

#endif
