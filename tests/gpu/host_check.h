/* Helpers of the host_*.cu tests, which run CUDA kernel bodies on the CPU
 * against the CPU ops: seeded random arrays (16-byte aligned, for the
 * bodies' float4 loads), copies, and a value-scaled comparison that prints
 * what it measured. Included after cmocka.h. */
#ifndef THAW_TESTS_GPU_HOST_CHECK_H
#define THAW_TESTS_GPU_HOST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline float *host_alloc_floats(size_t n)
{
    return (float *)aligned_alloc(16, ((n * sizeof(float) + 15) / 16) * 16 + 16);
}

/* n floats uniform in [lo, hi) from an LCG seeded by *seed (advanced). */
static inline float *host_random_floats(size_t n, unsigned *seed, float lo, float hi)
{
    float *p = host_alloc_floats(n);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)(*seed >> 8) / (float)(1u << 24);
    }
    return p;
}

static inline float *host_copy_floats(const float *src, size_t n)
{
    float *p = host_alloc_floats(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

/* max |got - ref| <= rel x max |ref| (1 when ref is all zeros); a NaN
 * where ref has a number fails (fmax alone would skip it). */
static inline void host_assert_close(const char *what, const float *got, const float *ref,
                                     size_t n, double rel)
{
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - ref[i]);
        worst = isnan(diff) ? INFINITY : fmax(worst, diff);
        scale = fmax(scale, fabs((double)ref[i]));
    }
    printf("  %-44s max|diff| %.3e  max|ref| %.3e\n", what, worst, scale);
    assert_true(worst <= rel * (scale > 0 ? scale : 1.0));
}

#endif
