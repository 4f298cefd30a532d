/* The bf16 storage helpers of the bf16 mode (engine/cuda/cuda_storage.h,
 * cuda_channel_grid.h) on the CPU: rounding to nearest even against an
 * independent bit-level reference (PyTorch's float -> bfloat16 rule) over
 * special values and a million random bit patterns, exact widening, and
 * the 4-lane and 1-lane loads and stores the kernels use. Runs without a
 * GPU. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include <cmocka.h>
}

#include "tests/gpu/host_check.h"
#include "tests/gpu/host_bf16.h"
#include "engine/cuda/cuda_channel_grid.h"

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint16_t bf16_bits(thaw_bf16 b)
{
    uint16_t u;
    memcpy(&u, &b, 2);
    return u;
}

/* Round to nearest, ties to even, on the bits (NaN handled by the caller). */
static uint16_t reference_bits(float f)
{
    uint32_t u = float_bits(f);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static void check_one(float f)
{
    const thaw_bf16 b = thaw_st<thaw_bf16>(f);
    if (isnan(f)) {
        assert_true(isnan(thaw_ld(b)));
        return;
    }
    if (bf16_bits(b) != reference_bits(f)) {
        printf("  %a (0x%08x): got 0x%04x, want 0x%04x\n", (double)f, float_bits(f), bf16_bits(b),
               reference_bits(f));
    }
    assert_int_equal(bf16_bits(b), reference_bits(f));
    /* widening is exact: the high 16 bits */
    assert_int_equal(float_bits(thaw_ld(b)), (uint32_t)bf16_bits(b) << 16);
}

static void rounding_matches_reference(void **state)
{
    (void)state;
    const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN,
                              1.00390625f,     /* 1 + 2^-8: a tie, stays 1 (even) */
                              1.01171875f,     /* 1 + 3 * 2^-8: a tie, rounds up */
                              1.0f + 1.0f / 512, 3.4028235e38f /* FLT_MAX: inf */,
                              1e-40f /* subnormal */, -1e-45f, 65504.0f, 0.1f};
    for (size_t i = 0; i < sizeof specials / sizeof *specials; i++) {
        check_one(specials[i]);
    }
    assert_int_equal(bf16_bits(thaw_st<thaw_bf16>(1.00390625f)), 0x3F80);
    assert_int_equal(bf16_bits(thaw_st<thaw_bf16>(1.01171875f)), 0x3F82);
    uint32_t seed = 2463534242u;
    for (int i = 0; i < 1000000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        float f;
        memcpy(&f, &seed, 4);
        check_one(f);
    }
    printf("  rounding: 1,000,015 values as the bit-level reference\n");
}

template <int V> static void lanes_round_trip(void)
{
    float src[8], back[8];
    alignas(16) thaw_bf16 stored[8];
    unsigned seed = 99u;
    float *r = host_random_floats(8, &seed, -3, 3);
    memcpy(src, r, sizeof src);
    free(r);
    for (int at = 0; at < 8; at += V) {
        thaw_vstore<V>(stored + at, src + at);
    }
    for (int k = 0; k < 8; k++) {   /* each lane rounded once, in its place */
        assert_int_equal(bf16_bits(stored[k]), reference_bits(src[k]));
    }
    for (int at = 0; at < 8; at += V) {
        thaw_vload<V>(back + at, stored + at);
    }
    for (int k = 0; k < 8; k++) {
        assert_int_equal(float_bits(back[k]), (uint32_t)bf16_bits(stored[k]) << 16);
    }
    float acc[V];
    thaw_vload_acc<V>(acc, stored, 1);
    for (int k = 0; k < V; k++) {
        assert_true(acc[k] == 0.0f);
    }
    thaw_vload_acc<V>(acc, stored, 0);
    for (int k = 0; k < V; k++) {
        assert_true(acc[k] == back[k]);
    }
}

static void vector_loads_and_stores(void **state)
{
    (void)state;
    lanes_round_trip<4>();
    lanes_round_trip<1>();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rounding_matches_reference),
        cmocka_unit_test(vector_loads_and_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
