/* The max pool backward kernel's per-thread work (engine/cuda/
 * cuda_pool_body.h) run on the CPU over every thread of its launch, both
 * the 4-channel and the 1-channel path, against the CPU op: the same bits
 * (+= onto a random din, and assign over NaN). ResNet's 3x3 s2 pad 1 stem
 * pool, a ragged size, a window without padding; fp32 and bf16 maps.
 * tests/gpu/test_gpu_cnn_ops runs the real kernel on a GPU. */
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
#include "engine/cuda/cuda_pool_body.h"

template <int V, typename S>
static void gpu_backward(S *din, const S *dout, const int32_t *argmax, const Pool2dShape &s,
                         int assign)
{
    const unsigned groups = (unsigned)((size_t)s.n * s.h * s.w * s.c / V);
    for (unsigned g = 0; g < groups; g++) {
        thaw_maxpool_backward_at<V>(din, dout, argmax, s, assign, g);
    }
}

/* One shape in storage S: dout and din rounded to S first, so the CPU op
 * sees what the kernel reads; the kernel sums in float and rounds once, so
 * its result is the CPU op's rounded to S, bit for bit. */
template <typename S>
static void pool_case(int n, int h, int w, int c, int k, int stride, int pad)
{
    printf("maxpool backward %s %dx%dx%dx%d k%d s%d p%d\n", host_storage_name(S()), n, h, w, c,
           k, stride, pad);
    Pool2dShape s;
    assert_int_equal(pool2d_shape_init(&s, n, h, w, c, k, stride, pad), 0);
    const size_t nin = (size_t)n * h * w * c, nout = (size_t)n * s.p * s.q * c;
    unsigned seed = 17u + (unsigned)(h * c);
    /* few distinct values so ties (first maximum wins) happen */
    float *x = host_random_floats(nin, &seed, -2, 2);
    for (size_t i = 0; i < nin; i++) {
        x[i] = roundf(x[i] * 2.0f) / 2.0f;
    }
    float *out = host_alloc_floats(nout), *dout = host_random_floats(nout, &seed, -1, 1);
    host_round_to<S>(dout, nout);
    int32_t *am = (int32_t *)aligned_alloc(16, (nout * sizeof(int32_t) + 15) / 16 * 16);
    assert_non_null(am);
    maxpool2d_forward(out, am, x, &s);
    float *din0 = host_random_floats(nin, &seed, -1, 1);
    host_round_to<S>(din0, nin);
    float *ref = host_copy_floats(din0, nin);
    maxpool2d_backward(ref, dout, am, &s);
    host_round_to<S>(ref, nin);
    float *zero = host_alloc_floats(nin);
    memset(zero, 0, nin * sizeof(float));
    maxpool2d_backward(zero, dout, am, &s);
    host_round_to<S>(zero, nin);
    S *dout_s = host_stored<S>(dout, nout);
    for (int v = 0; v < 2; v++) {
        if (v == 0 && c % 4) {
            continue;
        }
        S *got = host_stored<S>(din0, nin);
        v == 0 ? gpu_backward<4>(got, dout_s, am, s, 0) : gpu_backward<1>(got, dout_s, am, s, 0);
        float *wide = host_widened(got, nin);
        assert_memory_equal(wide, ref, nin * sizeof(float));
        free(wide);
        /* assign: what din held does not count */
        for (size_t i = 0; i < nin; i++) {
            got[i] = thaw_st<S>(NAN);
        }
        v == 0 ? gpu_backward<4>(got, dout_s, am, s, 1) : gpu_backward<1>(got, dout_s, am, s, 1);
        wide = host_widened(got, nin);
        assert_memory_equal(wide, zero, nin * sizeof(float));
        free(wide);
        free(got);
    }
    free(x);
    free(out);
    free(dout);
    free(dout_s);
    free(am);
    free(din0);
    free(ref);
    free(zero);
}

static void maxpool_backward_bodies(void **state)
{
    (void)state;
    pool_case<float>(2, 16, 16, 64, 3, 2, 1);   /* ResNet's stem pool */
    pool_case<float>(2, 17, 13, 40, 3, 2, 1);   /* ragged */
    pool_case<float>(1, 9, 9, 6, 3, 2, 1);      /* 6 channels: the 1-channel path only */
    pool_case<float>(2, 8, 8, 8, 2, 2, 0);      /* 2x2 s2, no padding: one window each */
    /* bf16 maps (the bf16 mode's 8-byte loads and stores) */
    pool_case<thaw_bf16>(2, 16, 16, 64, 3, 2, 1);
    pool_case<thaw_bf16>(1, 9, 9, 6, 3, 2, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(maxpool_backward_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
