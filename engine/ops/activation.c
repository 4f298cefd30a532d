/* ReLU and ReLU6. Backward masks on the forward output, which equals the
 * input wherever the gradient is non-zero, so forward may run in place.
 * Written as compare-and-select so the loops vectorise; NaN propagates like
 * PyTorch (x < 0 is false for NaN). */
#include "engine/ops/activation.h"

/* Pointwise loops are memory-bound; two threads only pay off on big ones. */
#define ACT_PAR_MIN ((size_t)1 << 16)

void relu_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = in[i];
        out[i] = v < 0.0f ? 0.0f : v;
    }
}

void relu_backward(float *din, const float *dout, const float *out, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
    }
}

void relu6_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = in[i];
        v = v < 0.0f ? 0.0f : v;
        out[i] = v > 6.0f ? 6.0f : v;
    }
}

void relu6_backward(float *din, const float *dout, const float *out, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= ACT_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float o = out[i];
        din[i] += (o > 0.0f && o < 6.0f) ? dout[i] : 0.0f;
    }
}
