/* Exact (erf) GELU, elementwise over n floats, OpenMP over chunks. */
#include "engine/ops/gelu.h"

#include <math.h>

#define GELU_PAR_MIN ((size_t)1 << 15)
#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

void gelu_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= GELU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    }
}

void gelu_backward(float *din, const float *dout, const float *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= GELU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
        din[i] += dout[i] * (cdf + x * pdf);
    }
}
