/* The exact (erf) GELU's value and slope with branch-free approximations,
 * shared by the CPU op (engine/ops/gelu.c, vectorised with `omp simd`) and
 * its CUDA twin, so both compute the same formula:
 *   Phi(x) = 0.5 erfc(-x / sqrt 2), erfc(z) for z >= 0 by Numerical
 *   Recipes' Chebyshev fit erfcc (relative error < 1.2e-7 everywhere, so
 *   the left tail keeps its relative accuracy, no 1 - erf cancellation),
 *   and erfc(-z) = 2 - erfc(z);
 *   exp by range reduction to [-ln2/2, ln2/2], a degree-6 polynomial and
 *   an exponent built in the float bits (relative error ~2e-7).
 * glibc's erff/expf are scalar calls GCC does not vectorise without
 * -ffast-math; they were ~15% of a MiniLM training step. */
#ifndef THAW_OP_GELU_MATH_H
#define THAW_OP_GELU_MATH_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define THAW_GELU_FN __host__ __device__ static inline
#else
#define THAW_GELU_FN static inline
#endif

#define THAW_GELU_INV_SQRT2 0.70710678118654752440f
#define THAW_GELU_INV_SQRT_2PI 0.39894228040143267794f

#ifndef __CUDACC__
#pragma omp declare simd notinbranch
#endif
THAW_GELU_FN float thaw_gelu_exp(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* k = round(x / ln2): adding 1.5 * 2^23 rounds to an integer */
    const float shifter = 12582912.0f;
    float k = (x * 1.44269504088896341f + shifter) - shifter;
    float r = x - k * 0.693145751953125f - k * 1.42860682030941723e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f
              + r * (0.0083333338f + r * 0.0013888889f)))));
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Phi(x), the standard normal CDF. */
#ifndef __CUDACC__
#pragma omp declare simd notinbranch
#endif
THAW_GELU_FN float thaw_gelu_cdf(float x)
{
    float z = (x < 0.0f ? -x : x) * THAW_GELU_INV_SQRT2;
    float t = 1.0f / (1.0f + 0.5f * z);
    float poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f
                 + t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f
                 + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
    float tail = 0.5f * t * thaw_gelu_exp(-z * z + poly);   /* Phi(-|x|) */
    return x < 0.0f ? tail : 1.0f - tail;
}

/* gelu(x) = x Phi(x) */
#ifndef __CUDACC__
#pragma omp declare simd notinbranch
#endif
THAW_GELU_FN float thaw_gelu_value(float x)
{
    return x * thaw_gelu_cdf(x);
}

/* gelu'(x) = Phi(x) + x phi(x) */
#ifndef __CUDACC__
#pragma omp declare simd notinbranch
#endif
THAW_GELU_FN float thaw_gelu_slope(float x)
{
    float pdf = THAW_GELU_INV_SQRT_2PI * thaw_gelu_exp(-0.5f * x * x);
    return thaw_gelu_cdf(x) + x * pdf;
}

#endif
