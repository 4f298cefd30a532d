/* Exact (erf) GELU, elementwise, OpenMP over chunks and SIMD within; the
 * formula (branch-free approximations of Phi and exp) is in gelu_math.h,
 * shared with the CUDA twin. */
/* Float compares in selects may not trap here, so GCC can if-convert the
 * clamps and the tail select into vector blends (no traps are ever enabled
 * in the engine). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "engine/ops/gelu.h"
#include "engine/ops/gelu_math.h"

#define GELU_PAR_MIN ((size_t)1 << 15)

void gelu_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= GELU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        out[i] = thaw_gelu_value(in[i]);
    }
}

void gelu_backward(float *din, const float *dout, const float *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= GELU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        din[i] += dout[i] * thaw_gelu_slope(in[i]);
    }
}
