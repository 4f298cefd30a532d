/* CUDA twins of the text ops (cuda_ops.h): GELU, layer norm, row softmax.
 * The per-thread work is cuda_text_body.h's and the per-lane work of the
 * warp-per-row kernels cuda_warp_rows.h's (both run on the CPU by
 * tests/gpu/host_text_ops.cu); here are the launches. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_text_body.h"
#include "engine/cuda/cuda_warp_rows.h"

__global__ static void gelu_fwd(float *out, const float *in, unsigned n)
{
    GRID_STRIDE(i, n) {
        thaw_gelu_forward_at(out, in, i);
    }
}

__global__ static void gelu_bwd(float *din, const float *dout, const float *in, int assign,
                                unsigned n)
{
    GRID_STRIDE(i, n) {
        thaw_gelu_backward_at(din, dout, in, assign, i);
    }
}

__global__ static void layernorm_fwd(float *out, float *mean, float *rstd, const float *in,
                                     const float *gamma, const float *beta, int c, float eps,
                                     unsigned rows)
{
    WARP_ROWS(i, lane, rows) {
        const float *x = in + (size_t)i * c;
        const float m = thaw_ln_mean(thaw_warp_sum_d(thaw_ln_lane_sum(x, c, lane)), c);
        const float r = thaw_ln_rstd(thaw_warp_sum_d(thaw_ln_lane_sq(x, c, m, lane)), c, eps);
        thaw_ln_lane_write(out + (size_t)i * c, x, gamma, beta, c, m, r, lane);
        if (lane == 0) {
            mean[i] = m;
            rstd[i] = r;
        }
    }
}

__global__ static void layernorm_din(float *din, const float *dout, const float *in,
                                     const float *mean, const float *rstd,
                                     const float *gamma, int c, int assign, unsigned rows)
{
    WARP_ROWS(i, lane, rows) {
        const size_t o = (size_t)i * c;
        float a, b;
        thaw_ln_lane_dsums(&a, &b, dout + o, in + o, gamma, mean[i], rstd[i], c, lane);
        a = thaw_warp_sum_f(a) / c;
        b = thaw_warp_sum_f(b) / c;
        thaw_ln_lane_din(din + o, dout + o, in + o, gamma, mean[i], rstd[i], a, b, c, assign,
                         lane);
    }
}

/* One thread per (chunk, column): i = chunk * c + j. */
__global__ static void layernorm_param_partial(float *part, const float *dout,
                                               const float *in, const float *mean,
                                               const float *rstd, long rows, int c,
                                               long rows_per_chunk, int chunks, unsigned n)
{
    GRID_STRIDE(i, n) {
        thaw_layernorm_param_partial(part, dout, in, mean, rstd, rows, c, rows_per_chunk,
                                     chunks, (int)(i / (unsigned)c), (int)(i % (unsigned)c));
    }
}

__global__ static void layernorm_param_total(float *dgamma, float *dbeta, const float *part,
                                             int chunks, int c, unsigned n)
{
    GRID_STRIDE(j, n) {
        thaw_layernorm_param_total(dgamma, dbeta, part, chunks, c, (int)j);
    }
}

__global__ static void softmax_fwd(float *out, const float *in, int cols, unsigned rows)
{
    WARP_ROWS(i, lane, rows) {
        const size_t o = (size_t)i * cols;
        thaw_warp_softmax_row(out + o, in + o, NULL, cols, lane);
    }
}

__global__ static void softmax_bwd(float *din, const float *dout, const float *out, int cols,
                                   int assign, unsigned rows)
{
    WARP_ROWS(i, lane, rows) {
        const size_t o = (size_t)i * cols;
        thaw_warp_softmax_din_row(din + o, dout + o, out + o, NULL, cols, assign, lane);
    }
}

extern "C" {

int thaw_cuda_gelu_forward(ThawCudaContext *ctx, float *out, const float *in, size_t n,
                           ThawError *err)
{
    LAUNCH(gelu_fwd, n, out, in, (unsigned)n);
    return 0;
}

int thaw_cuda_gelu_backward(ThawCudaContext *ctx, float *din, const float *dout,
                            const float *in, size_t n, ThawError *err)
{
    if (din) {
        LAUNCH(gelu_bwd, n, din, dout, in, ctx->din_assign, (unsigned)n);
    }
    return 0;
}

int thaw_cuda_layernorm_forward(ThawCudaContext *ctx, float *out, float *mean, float *rstd,
                                const float *in, const float *gamma, const float *beta,
                                int rows, int c, float eps, ThawError *err)
{
    if (rows <= 0 || c <= 0) {
        return 0;
    }
    LAUNCH_ROWS(layernorm_fwd, rows, out, mean, rstd, in, gamma, beta, c, eps, (unsigned)rows);
    return 0;
}

int thaw_cuda_layernorm_backward(ThawCudaContext *ctx, float *din, float *dgamma,
                                 float *dbeta, const float *dout, const float *in,
                                 const float *mean, const float *rstd, const float *gamma,
                                 int rows, int c, ThawError *err)
{
    if (rows <= 0 || c <= 0) {
        return 0;
    }
    if (dgamma || dbeta) {
        const int chunks = thaw_layernorm_chunks(rows);
        const long per = ((long)rows + chunks - 1) / chunks;
        void *part = NULL;
        int rc = thaw_cuda_scratch(ctx, 2 * (size_t)chunks * c * sizeof(float), &part, err);
        if (rc) {
            return rc;
        }
        const size_t n = (size_t)chunks * c;
        LAUNCH(layernorm_param_partial, n, (float *)part, dout, in, mean, rstd, (long)rows, c,
               per, chunks, (unsigned)n);
        LAUNCH(layernorm_param_total, (size_t)c, dgamma, dbeta, (const float *)part, chunks, c,
               (unsigned)c);
    }
    if (din) {
        LAUNCH_ROWS(layernorm_din, rows, din, dout, in, mean, rstd, gamma, c, ctx->din_assign,
                    (unsigned)rows);
    }
    return 0;
}

int thaw_cuda_softmax_rows_forward(ThawCudaContext *ctx, float *out, const float *in,
                                   int rows, int cols, ThawError *err)
{
    if (rows <= 0 || cols <= 0) {
        return 0;
    }
    LAUNCH_ROWS(softmax_fwd, rows, out, in, cols, (unsigned)rows);
    return 0;
}

int thaw_cuda_softmax_rows_backward(ThawCudaContext *ctx, float *din, const float *dout,
                                    const float *out, int rows, int cols, ThawError *err)
{
    if (!din || rows <= 0 || cols <= 0) {
        return 0;
    }
    LAUNCH_ROWS(softmax_bwd, rows, din, dout, out, cols, ctx->din_assign, (unsigned)rows);
    return 0;
}

} /* extern "C" */
