/* BERT's pooling and head pieces on the device (cuda_bert_heads.h). */
#include "engine/cuda/cuda_bert_heads.h"
#include "engine/cuda/cuda_context_internal.h"

/* One thread per (b, j): the tokens in order, as the CPU loop adds them. */
__global__ static void masked_mean_fwd(float *out, const float *h, const int32_t *km, int seq,
                                       int c, unsigned n)
{
    GRID_STRIDE(i, n) {
        unsigned b = i / (unsigned)c, j = i % (unsigned)c;
        float acc = 0.0f;
        int count = 0;
        for (int t = 0; t < seq; t++) {
            if (km[b * seq + t]) {
                count++;
                acc += h[((size_t)b * seq + t) * c + j];
            }
        }
        float inv = count > 0 ? 1.0f / (float)count : 0.0f;
        out[i] = acc * inv;
    }
}

/* One thread per (b, t, j); each recounts its row's tokens (seq reads of
 * an int, cached: cheaper than a second kernel for a head this small). */
__global__ static void masked_mean_bwd(float *dh, const float *dfeat, const int32_t *km,
                                       int seq, int c, unsigned n)
{
    GRID_STRIDE(i, n) {
        unsigned j = i % (unsigned)c, bt = i / (unsigned)c;
        unsigned b = bt / (unsigned)seq;
        float v = 0.0f;
        if (km[bt]) {
            int count = 0;
            for (int t = 0; t < seq; t++) {
                count += km[b * seq + t];
            }
            v = dfeat[(size_t)b * c + j] * (1.0f / (float)count);
        }
        dh[i] = v;
    }
}

__global__ static void tanh_inplace(float *x, unsigned n)
{
    GRID_STRIDE(i, n) {
        x[i] = tanhf(x[i]);
    }
}

__global__ static void tanh_bwd_inplace(float *d, const float *y, unsigned n)
{
    GRID_STRIDE(i, n) {
        d[i] *= 1.0f - y[i] * y[i];
    }
}

__global__ static void scale_inplace(float *x, const float *mask, unsigned n)
{
    GRID_STRIDE(i, n) {
        x[i] *= mask[i];
    }
}

extern "C" {

int thaw_cuda_masked_mean_forward(ThawCudaContext *ctx, float *out, const float *h,
                                  const int32_t *key_mask, int batch, int seq, int c,
                                  ThawError *err)
{
    size_t n = (size_t)batch * c;
    LAUNCH(masked_mean_fwd, n, out, h, key_mask, seq, c, (unsigned)n);
    return 0;
}

int thaw_cuda_masked_mean_backward(ThawCudaContext *ctx, float *dh, const float *dfeat,
                                   const int32_t *key_mask, int batch, int seq, int c,
                                   ThawError *err)
{
    size_t n = (size_t)batch * seq * c;
    LAUNCH(masked_mean_bwd, n, dh, dfeat, key_mask, seq, c, (unsigned)n);
    return 0;
}

int thaw_cuda_tanh_inplace(ThawCudaContext *ctx, float *x, size_t n, ThawError *err)
{
    LAUNCH(tanh_inplace, n, x, (unsigned)n);
    return 0;
}

int thaw_cuda_tanh_backward_inplace(ThawCudaContext *ctx, float *d, const float *y, size_t n,
                                    ThawError *err)
{
    LAUNCH(tanh_bwd_inplace, n, d, y, (unsigned)n);
    return 0;
}

int thaw_cuda_scale_inplace(ThawCudaContext *ctx, float *x, const float *mask, size_t n,
                            ThawError *err)
{
    LAUNCH(scale_inplace, n, x, mask, (unsigned)n);
    return 0;
}

}
