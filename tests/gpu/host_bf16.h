/* bf16 helpers of the host_*.cu tests (after host_check.h): maps in the
 * storage type a kernel body reads (float or thaw_bf16), made from float
 * arrays that are first rounded to bf16 so the CPU op sees the same
 * values. */
#ifndef THAW_TESTS_GPU_HOST_BF16_H
#define THAW_TESTS_GPU_HOST_BF16_H

#include "engine/cuda/cuda_storage.h"

/* Rounds p[0..n) to bf16 values in place (S float: unchanged). */
template <typename S> static inline void host_round_to(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = thaw_ld(thaw_st<S>(p[i]));
    }
}

/* A 16-byte aligned S copy of n floats (each rounded once). */
template <typename S> static inline S *host_stored(const float *src, size_t n)
{
    S *p = (S *)aligned_alloc(16, ((n * sizeof(S) + 15) / 16) * 16 + 16);
    for (size_t i = 0; i < n; i++) {
        p[i] = thaw_st<S>(src[i]);
    }
    return p;
}

/* n S values widened to a new float array. */
template <typename S> static inline float *host_widened(const S *src, size_t n)
{
    float *p = host_alloc_floats(n);
    for (size_t i = 0; i < n; i++) {
        p[i] = thaw_ld(src[i]);
    }
    return p;
}

static inline const char *host_storage_name(float)
{
    return "fp32";
}

static inline const char *host_storage_name(thaw_bf16)
{
    return "bf16";
}

#endif
