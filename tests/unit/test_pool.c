/* Max pooling and adaptive average pooling against PyTorch goldens
 * (gen_pool.py): outputs, argmax indices (ties pick the first maximum),
 * input gradients with += accumulation, and shape rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/pool.h"
#include "support/golden.h"

typedef struct {
    const char *name;
    int n, c, h, w, k, s, p;
} MaxCase;

static const MaxCase MAX_CASES[] = {
    {"odd", 2, 5, 11, 11, 3, 2, 1},   {"even", 3, 16, 12, 10, 3, 2, 1},
    {"ties", 2, 8, 9, 8, 3, 2, 1},    {"neg", 1, 4, 7, 6, 3, 2, 1},
    {"k2s2", 2, 3, 8, 9, 2, 2, 0},    {"resnet", 2, 64, 112, 112, 3, 2, 1},
};

typedef struct {
    const char *name;
    int n, c, h, w, oh, ow;
} AvgCase;

static const AvgCase AVG_CASES[] = {
    {"global", 3, 40, 7, 7, 1, 1}, {"odd", 2, 6, 7, 5, 3, 2},
    {"nondiv", 2, 9, 10, 10, 4, 4}, {"div", 1, 16, 6, 6, 3, 3},
    {"up", 2, 3, 2, 3, 5, 4},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static float *load(const SafeTensors *st, const char *pre, const char *name,
                   const char *key, size_t want)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s.%s", pre, name);
    return golden_load_n(st, prefix, key, want);
}

static int check(const SafeTensors *st, const char *pre, const char *name,
                 const char *key, const float *got, size_t n, int halve)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s.%s", pre, name);
    return golden_check_scaled(st, prefix, key, got, n, halve ? 0.5f : 1.0f);
}

static void maxpool_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("pool.safetensors");
    int ok = 1;
    for (size_t t = 0; t < COUNT(MAX_CASES); t++) {
        const MaxCase *k = &MAX_CASES[t];
        Pool2dShape s;
        assert_int_equal(pool2d_shape_init(&s, k->n, k->h, k->w, k->c, k->k,
                                           k->s, k->p), 0);
        size_t nin = (size_t)k->n * k->h * k->w * k->c;
        size_t nout = (size_t)k->n * s.p * s.q * k->c;
        float *x = load(st, "max", k->name, "x", nin);
        float *dy = load(st, "max", k->name, "dy", nout);
        float *y = malloc(nout * sizeof(float));
        int32_t *am = malloc(nout * sizeof(int32_t));
        float *dx = calloc(nin, sizeof(float));
        assert_true(y && am && dx);

        maxpool2d_forward(y, am, x, &s);
        ok &= check(st, "max", k->name, "y", y, nout, 0);

        char key[128];
        snprintf(key, sizeof key, "max.%s.argmax", k->name);
        int64_t na = 0;
        int32_t *ref_am = golden_load_i32(st, key, &na);
        size_t bad = 0;
        for (size_t i = 0; i < nout && (size_t)na == nout; i++) {
            bad += am[i] != ref_am[i];
        }
        int am_ok = (size_t)na == nout && bad == 0;
        printf("%-4s %-40s n=%-9zu mismatches=%zu\n", am_ok ? "OK" : "FAIL",
               key, nout, bad);
        ok &= am_ok;

        maxpool2d_backward(dx, dy, am, &s);
        ok &= check(st, "max", k->name, "dx", dx, nin, 0);
        maxpool2d_backward(dx, dy, am, &s);
        ok &= check(st, "max", k->name, "dx", dx, nin, 1);

        free(ref_am); free(x); free(dy); free(y); free(am); free(dx);
    }
    st_close(st);
    assert_true(ok);
}

static void adaptive_avgpool_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("pool.safetensors");
    int ok = 1;
    for (size_t t = 0; t < COUNT(AVG_CASES); t++) {
        const AvgCase *k = &AVG_CASES[t];
        size_t nin = (size_t)k->n * k->h * k->w * k->c;
        size_t nout = (size_t)k->n * k->oh * k->ow * k->c;
        float *x = load(st, "avg", k->name, "x", nin);
        float *dy = load(st, "avg", k->name, "dy", nout);
        float *y = malloc(nout * sizeof(float));
        float *dx = calloc(nin, sizeof(float));
        assert_true(y && dx);

        adaptive_avgpool2d_forward(y, x, k->n, k->h, k->w, k->c, k->oh, k->ow);
        ok &= check(st, "avg", k->name, "y", y, nout, 0);
        adaptive_avgpool2d_backward(dx, dy, k->n, k->h, k->w, k->c, k->oh,
                                    k->ow);
        ok &= check(st, "avg", k->name, "dx", dx, nin, 0);
        adaptive_avgpool2d_backward(dx, dy, k->n, k->h, k->w, k->c, k->oh,
                                    k->ow);
        ok &= check(st, "avg", k->name, "dx", dx, nin, 1);
        free(x); free(dy); free(y); free(dx);
    }
    st_close(st);
    assert_true(ok);
}

static void shape_rules(void **state)
{
    (void)state;
    Pool2dShape s;
    assert_int_equal(pool2d_shape_init(&s, 1, 112, 112, 64, 3, 2, 1), 0);
    assert_int_equal(s.p, 56);
    assert_int_equal(s.q, 56);
    assert_int_equal(pool2d_shape_init(&s, 1, 11, 10, 1, 3, 2, 1), 0);
    assert_int_equal(s.p, 6);
    assert_int_equal(s.q, 5);
    /* floor mode */
    assert_int_equal(pool2d_shape_init(&s, 1, 8, 9, 1, 2, 2, 0), 0);
    assert_int_equal(s.q, 4);
    /* PyTorch refuses pad > kernel/2, bad sizes, windows larger than input */
    assert_int_equal(pool2d_shape_init(&s, 1, 8, 8, 1, 3, 2, 2), -1);
    assert_int_equal(pool2d_shape_init(&s, 1, 8, 8, 1, 3, 0, 1), -1);
    assert_int_equal(pool2d_shape_init(&s, 1, 2, 2, 1, 5, 1, 1), -1);
    assert_int_equal(pool2d_shape_init(&s, 0, 8, 8, 1, 3, 2, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(maxpool_matches_torch),
        cmocka_unit_test(adaptive_avgpool_matches_torch),
        cmocka_unit_test(shape_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
