/* The text ops' CUDA kernel bodies (engine/cuda/cuda_text_body.h, and the
 * warp-per-row phases of cuda_warp_rows.h replayed lane by lane through
 * host_warp_rows.h) run on the CPU over every index their launches cover,
 * against the CPU ops: GELU, layer norm (forward, input gradient += and
 * assign, dgamma/dbeta through the chunk partials), row softmax (forward
 * in place, backward += and assign). Checks the formulas and indexing on
 * any machine; tests/gpu/test_gpu_text_ops runs the real kernels on a
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

#include "engine/ops/attention.h"
#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
}

#include "tests/gpu/host_check.h"
#include "tests/gpu/host_warp_rows.h"
#include "engine/cuda/cuda_text_body.h"

static void gelu_bodies(void **state)
{
    (void)state;
    const size_t n = 5003;
    unsigned seed = 7;
    float *x = host_random_floats(n, &seed, -9, 9), *dy = host_random_floats(n, &seed, -1, 1);
    float *din0 = host_random_floats(n, &seed, -1, 1);
    float *ref = (float *)malloc(n * sizeof(float)), *got = host_random_floats(n, &seed, 5, 6);
    gelu_forward(ref, x, n);
    for (size_t i = 0; i < n; i++) {
        thaw_gelu_forward_at(got, x, i);
    }
    host_assert_close("gelu forward", got, ref, n, 1e-5);
    float *dref = host_copy_floats(din0, n), *dgot = host_copy_floats(din0, n);
    gelu_backward(dref, dy, x, n);
    for (size_t i = 0; i < n; i++) {
        thaw_gelu_backward_at(dgot, dy, x, 0, i);
    }
    host_assert_close("gelu backward (+=)", dgot, dref, n, 1e-5);
    for (size_t i = 0; i < n; i++) {
        dref[i] -= din0[i];
        dgot[i] = NAN;
        thaw_gelu_backward_at(dgot, dy, x, 1, i);
    }
    host_assert_close("gelu backward (=, assign)", dgot, dref, n, 1e-5);
    float *all[] = {x, dy, din0, ref, got, dref, dgot};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        free(all[i]);
    }
}

static void layernorm_case(int rows, int c)
{
    printf("layernorm %d x %d (%d chunks)\n", rows, c, thaw_layernorm_chunks(rows));
    const size_t n = (size_t)rows * c;
    const float eps = 1e-12f;
    unsigned seed = 11u + (unsigned)rows;
    float *x = host_random_floats(n, &seed, -2, 3), *g = host_random_floats(c, &seed, 0.5f, 1.5f);
    float *b = host_random_floats(c, &seed, -1, 1), *dy = host_random_floats(n, &seed, -1, 1);
    float *din0 = host_random_floats(n, &seed, -1, 1), *dg0 = host_random_floats(c, &seed, -1, 1);
    float *db0 = host_random_floats(c, &seed, -1, 1);
    float *y = (float *)malloc(n * sizeof(float)), *mean = (float *)malloc(rows * sizeof(float));
    float *rstd = (float *)malloc(rows * sizeof(float));
    float *y2 = host_random_floats(n, &seed, 5, 6), *mean2 = host_random_floats(rows, &seed, 5, 6);
    float *rstd2 = host_random_floats(rows, &seed, 5, 6);
    layernorm_forward(y, mean, rstd, x, g, b, rows, c, eps);
    for (long i = 0; i < rows; i++) {
        host_ln_forward_row(y2, mean2, rstd2, x, g, b, c, eps, i);
    }
    host_assert_close("layernorm forward", y2, y, n, 1e-5);
    host_assert_close("layernorm mean", mean2, mean, rows, 1e-5);
    host_assert_close("layernorm rstd", rstd2, rstd, rows, 1e-5);

    float *din = host_copy_floats(din0, n), *dg = host_copy_floats(dg0, c), *db = host_copy_floats(db0, c);
    layernorm_backward(din, dg, db, dy, x, mean, rstd, g, rows, c);
    float *din2 = host_copy_floats(din0, n), *dg2 = host_copy_floats(dg0, c), *db2 = host_copy_floats(db0, c);
    const int chunks = thaw_layernorm_chunks(rows);
    const long per = ((long)rows + chunks - 1) / chunks;
    float *part = host_random_floats(2 * (size_t)chunks * c, &seed, 7, 8);   /* all overwritten */
    for (long i = 0; i < (long)chunks * c; i++) {
        thaw_layernorm_param_partial(part, dy, x, mean, rstd, rows, c, per, chunks,
                                     (int)(i / c), (int)(i % c));
    }
    for (int j = 0; j < c; j++) {
        thaw_layernorm_param_total(dg2, db2, part, chunks, c, j);
    }
    for (long i = 0; i < rows; i++) {
        host_ln_din_row(din2, dy, x, mean, rstd, g, c, 0, i);
    }
    host_assert_close("layernorm din (+=)", din2, din, n, 1e-5);
    host_assert_close("layernorm dgamma (+=)", dg2, dg, c, 1e-5);
    host_assert_close("layernorm dbeta (+=)", db2, db, c, 1e-5);
    for (size_t i = 0; i < n; i++) {
        din[i] -= din0[i];
        din2[i] = NAN;
    }
    for (long i = 0; i < rows; i++) {
        host_ln_din_row(din2, dy, x, mean, rstd, g, c, 1, i);
    }
    host_assert_close("layernorm din (=, assign)", din2, din, n, 1e-5);
    float *all[] = {x, g, b, dy, din0, dg0, db0, y, mean, rstd, y2, mean2, rstd2, din, dg, db,
                    din2, dg2, db2, part};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        free(all[i]);
    }
}

static void layernorm_bodies(void **state)
{
    (void)state;
    layernorm_case(1, 7);      /* fewer columns than lanes */
    layernorm_case(5, 45);     /* a ragged last pass over the lanes */
    layernorm_case(33, 384);   /* a MiniLM row width, two chunks */
    layernorm_case(2048, 64);  /* batch 16 x 128 tokens: 64 chunks of 32 rows */
    layernorm_case(9000, 12);  /* more rows than 256 chunks of 32 */
}

static void softmax_case(int rows, int cols)
{
    printf("softmax %d x %d\n", rows, cols);
    const size_t n = (size_t)rows * cols;
    unsigned seed = 3;
    float *x = host_random_floats(n, &seed, -20, 20), *dy = host_random_floats(n, &seed, -1, 1);
    float *din0 = host_random_floats(n, &seed, -1, 1);
    float *ref = (float *)malloc(n * sizeof(float)), *got = host_copy_floats(x, n);
    softmax_rows_forward(ref, x, rows, cols);
    for (long i = 0; i < rows; i++) {
        host_softmax_row(got + i * cols, got + i * cols, NULL, cols);   /* in place */
    }
    host_assert_close("softmax forward (in place)", got, ref, n, 1e-5);
    float *dref = host_copy_floats(din0, n), *dgot = host_copy_floats(din0, n);
    softmax_rows_backward(dref, dy, ref, rows, cols);
    for (long i = 0; i < rows; i++) {
        host_softmax_din_row(dgot + i * cols, dy + i * cols, ref + i * cols, NULL, cols, 0);
    }
    host_assert_close("softmax backward (+=)", dgot, dref, n, 1e-5);
    for (size_t i = 0; i < n; i++) {
        dref[i] -= din0[i];
        dgot[i] = NAN;
    }
    for (long i = 0; i < rows; i++) {
        host_softmax_din_row(dgot + i * cols, dy + i * cols, ref + i * cols, NULL, cols, 1);
    }
    host_assert_close("softmax backward (=, assign)", dgot, dref, n, 1e-5);
    float *all[] = {x, dy, din0, ref, got, dref, dgot};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        free(all[i]);
    }
}

static void softmax_bodies(void **state)
{
    (void)state;
    softmax_case(37, 128);   /* 4 columns a lane */
    softmax_case(5, 7);      /* fewer columns than lanes */
    softmax_case(3, 45);     /* a ragged last pass */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gelu_bodies),
        cmocka_unit_test(layernorm_bodies),
        cmocka_unit_test(softmax_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
