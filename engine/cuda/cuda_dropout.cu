/* Inverted dropout with the CPU's generator (engine/ops/elementwise.c):
 * draw k of a call is splitmix64's mix(state + (k+1) * GOLDEN), a counter
 * hash, so one thread per draw reproduces the CPU's mask bit for bit and a
 * run is the same on either device from the same seed. It is not PyTorch's
 * Philox stream: masks never match PyTorch's. The state stays on the host
 * and advances exactly as on the CPU. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"

#define SPLITMIX_GOLDEN 0x9E3779B97F4A7C15ull

__device__ static unsigned long long splitmix_mix(unsigned long long z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Each draw feeds two elements: low 32 bits the even one, high the odd. */
__global__ static void dropout_fwd(float *out, float *mask, const float *in,
                                   unsigned long long s0, unsigned long long thr,
                                   float scale, size_t n, size_t draws)
{
    GRID_STRIDE(k, draws) {
        unsigned long long r = splitmix_mix(s0 + (unsigned long long)(k + 1) * SPLITMIX_GOLDEN);
        size_t i = 2 * k;
        float m0 = (r & 0xFFFFFFFFull) >= thr ? scale : 0.0f;
        mask[i] = m0;
        out[i] = in[i] * m0;
        if (i + 1 < n) {
            float m1 = (r >> 32) >= thr ? scale : 0.0f;
            mask[i + 1] = m1;
            out[i + 1] = in[i + 1] * m1;
        }
    }
}

__global__ static void fill_mask(float *out, float *mask, const float *in, float value,
                                 size_t n)
{
    GRID_STRIDE(i, n) {
        mask[i] = value;
        out[i] = value != 0.0f ? in[i] : 0.0f;
    }
}

__global__ static void dropout_bwd(float *din, const float *dout, const float *mask,
                                   int assign, size_t n)
{
    GRID_STRIDE(i, n) {
        din[i] = (assign ? 0.0f : din[i]) + dout[i] * mask[i];
    }
}

extern "C" {

int thaw_cuda_dropout_forward(ThawCudaContext *ctx, float *out, float *mask,
                              const float *in, float p, size_t n, uint64_t *rng_state,
                              ThawError *err)
{
    if (p <= 0.0f) {
        LAUNCH(fill_mask, n, out, mask, in, 1.0f, n);   /* copies */
        return 0;
    }
    size_t draws = (n + 1) / 2;
    uint64_t s0 = *rng_state;
    *rng_state = s0 + (uint64_t)draws * SPLITMIX_GOLDEN;
    if (p >= 1.0f) {
        /* PyTorch's p = 1 zeroes everything; 1/(1-p) would be inf. */
        LAUNCH(fill_mask, n, out, mask, in, 0.0f, n);
        return 0;
    }
    const uint64_t thr = (uint64_t)((double)p * 4294967296.0);
    const float scale = (float)(1.0 / (1.0 - (double)p));
    LAUNCH(dropout_fwd, draws, out, mask, in, (unsigned long long)s0,
           (unsigned long long)thr, scale, n, draws);
    return 0;
}

int thaw_cuda_dropout_backward(ThawCudaContext *ctx, float *din, const float *dout,
                               const float *mask, size_t n, ThawError *err)
{
    LAUNCH(dropout_bwd, n, din, dout, mask, ctx->din_assign, n);
    return 0;
}

} /* extern "C" */
