/* CUDA twins of the text ops (cuda_ops.h): GELU, layer norm, row softmax.
 * The per-thread work is cuda_text_body.h's (tested on the CPU by
 * tests/gpu/host_text_ops.cu); here are the launches. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_text_body.h"

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
    GRID_STRIDE(i, rows) {
        thaw_layernorm_forward_row(out, mean, rstd, in, gamma, beta, c, eps, i);
    }
}

__global__ static void layernorm_din(float *din, const float *dout, const float *in,
                                     const float *mean, const float *rstd,
                                     const float *gamma, int c, int assign, unsigned rows)
{
    GRID_STRIDE(i, rows) {
        thaw_layernorm_din_row(din, dout, in, mean, rstd, gamma, c, assign, i);
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
    GRID_STRIDE(i, rows) {
        thaw_softmax_forward_row(out, in, cols, i);
    }
}

__global__ static void softmax_bwd(float *din, const float *dout, const float *out, int cols,
                                   int assign, unsigned rows)
{
    GRID_STRIDE(i, rows) {
        thaw_softmax_backward_row(din, dout, out, cols, assign, i);
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
    LAUNCH(layernorm_fwd, (size_t)rows, out, mean, rstd, in, gamma, beta, c, eps,
           (unsigned)rows);
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
        LAUNCH(layernorm_din, (size_t)rows, din, dout, in, mean, rstd, gamma, c,
               ctx->din_assign, (unsigned)rows);
    }
    return 0;
}

int thaw_cuda_softmax_rows_forward(ThawCudaContext *ctx, float *out, const float *in,
                                   int rows, int cols, ThawError *err)
{
    if (rows <= 0 || cols <= 0) {
        return 0;
    }
    LAUNCH(softmax_fwd, (size_t)rows, out, in, cols, (unsigned)rows);
    return 0;
}

int thaw_cuda_softmax_rows_backward(ThawCudaContext *ctx, float *din, const float *dout,
                                    const float *out, int rows, int cols, ThawError *err)
{
    if (!din || rows <= 0 || cols <= 0) {
        return 0;
    }
    LAUNCH(softmax_bwd, (size_t)rows, din, dout, out, cols, ctx->din_assign, (unsigned)rows);
    return 0;
}

} /* extern "C" */
