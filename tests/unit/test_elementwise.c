/* Residual add, flatten and layout conversion against PyTorch goldens
 * (gen_elementwise.py); dropout by its properties: p = 0 is the identity,
 * mask values, keep rate, reproducibility from a seed, thread-count
 * independence, backward through the mask. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "engine/ops/elementwise.h"
#include "support/golden.h"

typedef struct {
    const char *name;
    int n, c, h, w;
} FlatCase;

static const FlatCase FLAT_CASES[] = {
    {"small", 2, 37, 5, 3}, {"head", 4, 512, 7, 7}, {"tall", 3, 1, 40, 33},
};
#define NFLAT (sizeof FLAT_CASES / sizeof FLAT_CASES[0])

static float *load(const SafeTensors *st, const char *key, size_t want)
{
    return golden_load_n(st, NULL, key, want);
}

static int check_scaled(const SafeTensors *st, const char *key,
                        const float *got, size_t n, float scale)
{
    char label[160];
    snprintf(label, sizeof label, "%s%s", key,
             scale != 1.0f ? " (accumulated x2)" : "");
    float *ref = golden_load(st, key, NULL);
    float *g = malloc(n * sizeof(float));
    assert_non_null(g);
    for (size_t i = 0; i < n; i++) {
        g[i] = got[i] * scale;
    }
    int ok = golden_compare(label, g, ref, n, GOLDEN_REL_TOL);
    free(g);
    free(ref);
    return ok;
}

static void add_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("elementwise.safetensors");
    const size_t n = 70001;
    float *a = load(st, "add.a", n), *b = load(st, "add.b", n);
    float *y = malloc(n * sizeof(float));
    assert_non_null(y);
    int ok = 1;
    add_forward(y, a, b, n);
    ok &= golden_check(st, "add.y", y, n, GOLDEN_REL_TOL);
    /* in place into a (the residual pattern) */
    add_forward(a, a, b, n);
    ok &= golden_check(st, "add.y", a, n, GOLDEN_REL_TOL);

    float *da = calloc(n, sizeof(float)), *db = calloc(n, sizeof(float));
    assert_true(da && db);
    add_backward(da, db, b, n);
    add_backward(da, NULL, b, n);
    for (size_t i = 0; i < n; i++) {
        ok &= da[i] == 2.0f * b[i] && db[i] == b[i];
    }
    st_close(st);
    free(a); free(b); free(y); free(da); free(db);
    assert_true(ok);
}

static void flatten_and_layout_match_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("elementwise.safetensors");
    int ok = 1;
    for (size_t t = 0; t < NFLAT; t++) {
        const FlatCase *k = &FLAT_CASES[t];
        size_t sz = (size_t)k->n * k->c * k->h * k->w;
        char key[128];
        snprintf(key, sizeof key, "flat.%s.x", k->name);
        float *x = load(st, key, sz);
        snprintf(key, sizeof key, "flat.%s.x_nchw", k->name);
        float *x_nchw = load(st, key, sz);
        snprintf(key, sizeof key, "flat.%s.dy", k->name);
        float *dy = load(st, key, sz);
        float *y = malloc(sz * sizeof(float)), *dx = calloc(sz, sizeof(float));
        float *conv = malloc(sz * sizeof(float));
        assert_true(y && dx && conv);

        flatten_forward(y, x, k->n, k->h, k->w, k->c);
        snprintf(key, sizeof key, "flat.%s.y", k->name);
        ok &= golden_check(st, key, y, sz, GOLDEN_REL_TOL);
        flatten_backward(dx, dy, k->n, k->h, k->w, k->c);
        snprintf(key, sizeof key, "flat.%s.dx", k->name);
        ok &= check_scaled(st, key, dx, sz, 1.0f);
        flatten_backward(dx, dy, k->n, k->h, k->w, k->c);
        ok &= check_scaled(st, key, dx, sz, 0.5f);

        /* layout conversion both ways */
        nchw_to_nhwc(conv, x_nchw, k->n, k->c, k->h, k->w);
        snprintf(key, sizeof key, "flat.%s.x", k->name);
        ok &= golden_check(st, key, conv, sz, GOLDEN_REL_TOL);
        nhwc_to_nchw(conv, x, k->n, k->h, k->w, k->c);
        snprintf(key, sizeof key, "flat.%s.x_nchw", k->name);
        ok &= golden_check(st, key, conv, sz, GOLDEN_REL_TOL);

        free(x); free(x_nchw); free(dy); free(y); free(dx); free(conv);
    }
    st_close(st);
    assert_true(ok);
}

static void dropout_zero_is_identity(void **state)
{
    (void)state;
    float in[5] = {1, -2, 3, 0, 5}, out[5], mask[5];
    uint64_t rng = 42;
    dropout_forward(out, mask, in, 0.0f, 5, &rng);
    for (int i = 0; i < 5; i++) {
        assert_true(out[i] == in[i]);
        assert_true(mask[i] == 1.0f);
    }
    /* p = 1 drops everything, without inf or NaN */
    dropout_forward(out, mask, in, 1.0f, 5, &rng);
    for (int i = 0; i < 5; i++) {
        assert_true(out[i] == 0.0f && mask[i] == 0.0f);
    }
}

static void dropout_statistics_and_reproducibility(void **state)
{
    (void)state;
    const size_t n = 1000001;   /* odd: the last draw feeds one element */
    const float ps[] = {0.1f, 0.5f, 0.3f};
    float *in = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    float *mask = malloc(n * sizeof(float)), *mask2 = malloc(n * sizeof(float));
    float *din = calloc(n, sizeof(float));
    assert_true(in && out && mask && mask2 && din);
    for (size_t i = 0; i < n; i++) {
        in[i] = (float)(i % 97) - 48.0f;
    }
    for (size_t t = 0; t < sizeof ps / sizeof ps[0]; t++) {
        float p = ps[t], scale = 1.0f / (1.0f - p);
        uint64_t rng = 1234 + t, rng0 = rng;
        dropout_forward(out, mask, in, p, n, &rng);
        assert_true(rng != rng0);
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(mask[i] == 0.0f || mask[i] == scale);
            assert_true(out[i] == in[i] * mask[i]);
            kept += mask[i] != 0.0f;
        }
        double rate = (double)kept / n;
        /* binomial sd <= 0.0005 here; allow ~6 sd */
        printf("%-4s dropout p=%.1f keep rate %.5f (want %.5f)\n",
               fabs(rate - (1.0 - p)) < 3e-3 ? "OK" : "FAIL", p, rate, 1.0 - p);
        assert_true(fabs(rate - (1.0 - p)) < 3e-3);

        /* same seed, one thread: same mask; the stream continues after */
        int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        uint64_t again = rng0;
        dropout_forward(out, mask2, in, p, n, &again);
        omp_set_num_threads(threads);
        assert_true(again == rng);
        assert_memory_equal(mask, mask2, n * sizeof(float));
        dropout_forward(out, mask2, in, p, n, &again);
        assert_true(memcmp(mask, mask2, n * sizeof(float)) != 0);

        /* backward goes through the mask and accumulates */
        memset(din, 0, n * sizeof(float));
        dropout_backward(din, in, mask, n);
        dropout_backward(din, in, mask, n);
        for (size_t i = 0; i < n; i++) {
            assert_true(din[i] == 2.0f * (in[i] * mask[i]));
        }
    }
    /* in place */
    uint64_t rng = 99, rng2 = 99;
    memcpy(out, in, n * sizeof(float));
    dropout_forward(out, mask, out, 0.3f, n, &rng);
    dropout_forward(din, mask2, in, 0.3f, n, &rng2);
    assert_memory_equal(out, din, n * sizeof(float));
    free(in); free(out); free(mask); free(mask2); free(din);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_matches_torch),
        cmocka_unit_test(flatten_and_layout_match_torch),
        cmocka_unit_test(dropout_zero_is_identity),
        cmocka_unit_test(dropout_statistics_and_reproducibility),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
