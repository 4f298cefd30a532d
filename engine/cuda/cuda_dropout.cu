/* Inverted dropout with the CPU's generator (engine/ops/elementwise.c):
 * draw k of a call is splitmix64's mix(state + (k+1) * GOLDEN), a counter
 * hash, so one thread per draw reproduces the CPU's mask bit for bit and a
 * run is the same on either device from the same seed. It is not PyTorch's
 * Philox stream: masks never match PyTorch's. The state stays on the host
 * and advances exactly as on the CPU. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_storage.h"

#define SPLITMIX_GOLDEN 0x9E3779B97F4A7C15ull

__device__ static unsigned long long splitmix_mix(unsigned long long z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Each draw feeds two elements: low 32 bits the even one, high the odd. */
template <typename S>
__global__ static void dropout_fwd(S *out, float *mask, const S *in,
                                   unsigned long long s0, unsigned long long thr,
                                   float scale, size_t n, size_t draws)
{
    GRID_STRIDE(k, draws) {
        unsigned long long r = splitmix_mix(s0 + (unsigned long long)(k + 1) * SPLITMIX_GOLDEN);
        size_t i = 2 * k;
        float m0 = (r & 0xFFFFFFFFull) >= thr ? scale : 0.0f;
        mask[i] = m0;
        out[i] = thaw_st<S>(thaw_ld(in[i]) * m0);
        if (i + 1 < n) {
            float m1 = (r >> 32) >= thr ? scale : 0.0f;
            mask[i + 1] = m1;
            out[i + 1] = thaw_st<S>(thaw_ld(in[i + 1]) * m1);
        }
    }
}

template <typename S>
__global__ static void fill_mask(S *out, float *mask, const S *in, float value, size_t n)
{
    GRID_STRIDE(i, n) {
        mask[i] = value;
        out[i] = value != 0.0f ? in[i] : thaw_st<S>(0.0f);
    }
}

template <typename S>
__global__ static void dropout_bwd(S *din, const S *dout, const float *mask, int assign,
                                   size_t n)
{
    GRID_STRIDE(i, n) {
        din[i] = thaw_st<S>((assign ? 0.0f : thaw_ld(din[i])) + thaw_ld(dout[i]) * mask[i]);
    }
}

template <typename S>
static int dropout_fwd_on(ThawCudaContext *ctx, void *out_, float *mask, const void *in_,
                          float p, size_t n, uint64_t *rng_state, ThawError *err)
{
    S *out = (S *)out_;
    const S *in = (const S *)in_;
    if (p <= 0.0f) {
        LAUNCH(fill_mask<S>, n, out, mask, in, 1.0f, n);   /* copies */
        return 0;
    }
    size_t draws = (n + 1) / 2;
    uint64_t s0 = *rng_state;
    *rng_state = s0 + (uint64_t)draws * SPLITMIX_GOLDEN;
    if (p >= 1.0f) {
        /* PyTorch's p = 1 zeroes everything; 1/(1-p) would be inf. */
        LAUNCH(fill_mask<S>, n, out, mask, in, 0.0f, n);
        return 0;
    }
    const uint64_t thr = (uint64_t)((double)p * 4294967296.0);
    const float scale = (float)(1.0 / (1.0 - (double)p));
    LAUNCH(dropout_fwd<S>, draws, out, mask, in, (unsigned long long)s0,
           (unsigned long long)thr, scale, n, draws);
    return 0;
}

template <typename S>
static int dropout_bwd_on(ThawCudaContext *ctx, void *din, const void *dout, const float *mask,
                          size_t n, ThawError *err)
{
    LAUNCH(dropout_bwd<S>, n, (S *)din, (const S *)dout, mask, ctx->din_assign, n);
    return 0;
}

extern "C" {

int thaw_cuda_dropout_forward(ThawCudaContext *ctx, void *out, float *mask, const void *in,
                              float p, size_t n, uint64_t *rng_state, ThawError *err)
{
    return THAW_BY_STORAGE(ctx, dropout_fwd_on, ctx, out, mask, in, p, n, rng_state, err);
}

int thaw_cuda_dropout_backward(ThawCudaContext *ctx, void *din, const void *dout,
                               const float *mask, size_t n, ThawError *err)
{
    return THAW_BY_STORAGE(ctx, dropout_bwd_on, ctx, din, dout, mask, n, err);
}

} /* extern "C" */
