/* The CPU ops a training step runs give the same bits run to run with
 * several OpenMP threads: same seed, same losses, and the GPU parity tests
 * compare against a fixed oracle. Each op runs REPEATS times on the same
 * inputs with more threads than cores (so the threads' timing varies) and
 * small im2col chunks (many chunks per thread); every result must equal
 * the first run's bit for bit. The ops' values are checked against
 * PyTorch elsewhere (test_conv2d, test_cross_entropy); this test is about
 * the order of their sums. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "engine/ops/conv2d.h"
#include "engine/ops/cross_entropy.h"

enum { REPEATS = 25, THREADS = 4 };

static float *random_floats(size_t n, unsigned *seed)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

static float *zeros(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

/* The number of floats that differ from the first run's (0: same bits). */
static size_t differing(const float *a, const float *b, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    }
    return bad;
}

/* max |a - b| / max |b| */
static double max_rel(const float *a, const float *b, size_t n)
{
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        worst = d > worst ? d : worst;
        scale = fabs((double)b[i]) > scale ? fabs((double)b[i]) : scale;
    }
    return worst / (scale > 0 ? scale : 1.0);
}

/* conv2d_backward REPEATS times into zeroed buffers: din, dweight and
 * dbias each the same bits every time. */
static void conv_case(int n, int h, int w, int c, int k, int r, int stride, int pad,
                      int groups, size_t budget)
{
    Conv2dShape s;
    assert_int_equal(conv2d_shape_init(&s, n, h, w, c, k, r, r, stride, pad, 1, groups), 0);
    printf("conv %dx%dx%dx%d -> %d, %dx%d s%d p%d g%d, chunk budget %zu\n", n, h, w, c, k,
           r, r, stride, pad, groups, budget);
    conv2d_set_chunk_budget(budget);
    const size_t nin = (size_t)n * h * w * c, nout = (size_t)n * s.p * s.q * k;
    const size_t nw = (size_t)k * (c / groups) * r * r;
    unsigned seed = 7u + (unsigned)(c * k + r);
    float *in = random_floats(nin, &seed), *weight = random_floats(nw, &seed);
    float *dout = random_floats(nout, &seed);
    float *ws = zeros(conv2d_workspace_floats(&s));
    float *din0 = zeros(nin), *dw0 = zeros(nw), *db0 = zeros((size_t)k);
    conv2d_backward(din0, dw0, db0, dout, in, weight, &s, ws);
    size_t bad_in = 0, bad_w = 0, bad_b = 0;
    for (int rep = 1; rep < REPEATS; rep++) {
        float *din = zeros(nin), *dw = zeros(nw), *db = zeros((size_t)k);
        conv2d_backward(din, dw, db, dout, in, weight, &s, ws);
        bad_in += differing(din, din0, nin);
        bad_w += differing(dw, dw0, nw);
        bad_b += differing(db, db0, (size_t)k);
        free(din);
        free(dw);
        free(db);
    }
    printf("  differing floats over %d reruns: din %zu, dweight %zu, dbias %zu\n",
           REPEATS - 1, bad_in, bad_w, bad_b);
    assert_int_equal(bad_in, 0);
    assert_int_equal(bad_w, 0);
    assert_int_equal(bad_b, 0);
    /* and the sums themselves: one thread (one partial, every chunk in
     * order) agrees up to rounding, so no chunk is lost or counted twice */
    omp_set_num_threads(1);
    float *ws1 = zeros(conv2d_workspace_floats(&s));
    float *din1 = zeros(nin), *dw1 = zeros(nw), *db1 = zeros((size_t)k);
    conv2d_backward(din1, dw1, db1, dout, in, weight, &s, ws1);
    omp_set_num_threads(THREADS);
    double rel_in = max_rel(din0, din1, nin), rel_w = max_rel(dw0, dw1, nw);
    double rel_b = max_rel(db0, db1, (size_t)k);
    printf("  against one thread: max rel diff din %.1e, dweight %.1e, dbias %.1e\n", rel_in,
           rel_w, rel_b);
    assert_true(rel_in < 1e-5 && rel_w < 1e-5 && rel_b < 1e-5);
    free(ws1);
    free(din1);
    free(dw1);
    free(db1);
    conv2d_set_chunk_budget(0);
    free(in);
    free(weight);
    free(dout);
    free(ws);
    free(din0);
    free(dw0);
    free(db0);
}

static void conv_3x3_same_bits(void **state)
{
    (void)state;
    conv_case(4, 14, 14, 16, 24, 3, 1, 1, 1, 4096);
    /* 128 channels: the data gradient through Winograd, in chunks of tiles */
    conv_case(2, 12, 12, 128, 128, 3, 1, 1, 1, 4096);
}

/* 12 chunks for 4 threads: too few to cut into two runs per thread, so one
 * run per thread (the other path of the weight gradient's partials); and 3
 * output rows for 4 threads: one run per row. */
static void conv_few_chunks_same_bits(void **state)
{
    (void)state;
    conv_case(2, 12, 12, 8, 16, 3, 1, 1, 1, 1800);
    conv_case(1, 3, 9, 8, 16, 3, 1, 1, 1, 256);
}

static void conv_strided_same_bits(void **state)
{
    (void)state;
    conv_case(4, 15, 15, 8, 16, 3, 2, 1, 1, 4096);
}

static void conv_1x1_same_bits(void **state)
{
    (void)state;
    conv_case(4, 16, 16, 32, 48, 1, 1, 0, 1, 2048);
}

static void conv_grouped_same_bits(void **state)
{
    (void)state;
    conv_case(2, 12, 12, 16, 16, 3, 1, 1, 4, 2048);
}

static void depthwise_same_bits(void **state)
{
    (void)state;
    conv_case(4, 20, 20, 32, 32, 3, 1, 1, 32, 0);
    conv_case(4, 21, 21, 24, 24, 5, 2, 2, 24, 0);
}

/* The mean loss's sum over rows: same bits on every run. Wide enough
 * (n * classes >= 65536) to run in parallel. */
static void cross_entropy_same_bits(void **state)
{
    (void)state;
    const int n = 256, classes = 1000;
    unsigned seed = 99u;
    float *logits = random_floats((size_t)n * classes, &seed);
    for (size_t i = 0; i < (size_t)n * classes; i++) {
        logits[i] *= 7.0f;
    }
    int32_t labels[256];
    for (int i = 0; i < n; i++) {
        labels[i] = (i * 37) % classes;
    }
    float *probs = zeros((size_t)n * classes);
    float first = cross_entropy_forward(probs, logits, labels, n, classes, 0.1f);
    int bad = 0;
    for (int rep = 1; rep < REPEATS * 4; rep++) {
        float loss = cross_entropy_forward(probs, logits, labels, n, classes, 0.1f);
        bad += memcmp(&loss, &first, sizeof loss) != 0;
    }
    printf("cross-entropy %dx%d: loss %.9g, differing reruns %d\n", n, classes, first, bad);
    assert_int_equal(bad, 0);
    free(logits);
    free(probs);
}

int main(void)
{
    omp_set_num_threads(THREADS);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_3x3_same_bits),
        cmocka_unit_test(conv_few_chunks_same_bits),
        cmocka_unit_test(conv_strided_same_bits),
        cmocka_unit_test(conv_1x1_same_bits),
        cmocka_unit_test(conv_grouped_same_bits),
        cmocka_unit_test(depthwise_same_bits),
        cmocka_unit_test(cross_entropy_same_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
