/* ReLU / ReLU6 against PyTorch goldens (gen_activation.py): values at the
 * kinks, in-place forward, backward from the output, += accumulation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/activation.h"
#include "support/golden.h"

typedef void (*FwdFn)(float *, const float *, size_t);
typedef void (*BwdFn)(float *, const float *, const float *, size_t);

static int run_family(const SafeTensors *st, const char *name, FwdFn fwd,
                      BwdFn bwd)
{
    int64_t n = 0;
    float *x = golden_load(st, "x", &n);
    float *dy = golden_load(st, "dy", NULL);
    float *y = malloc((size_t)n * sizeof(float));
    float *dx = calloc((size_t)n, sizeof(float));
    float *inplace = malloc((size_t)n * sizeof(float));
    assert_true(y && dx && inplace);
    char key[64];
    int ok = 1;

    fwd(y, x, (size_t)n);
    snprintf(key, sizeof key, "%s.y", name);
    ok &= golden_check(st, key, y, (size_t)n, GOLDEN_REL_TOL);

    memcpy(inplace, x, (size_t)n * sizeof(float));
    fwd(inplace, inplace, (size_t)n);
    int same = memcmp(inplace, y, (size_t)n * sizeof(float)) == 0;
    printf("%-4s %s in-place forward matches out-of-place\n",
           same ? "OK" : "FAIL", name);
    ok &= same;

    bwd(dx, dy, y, (size_t)n);
    snprintf(key, sizeof key, "%s.dx", name);
    ok &= golden_check(st, key, dx, (size_t)n, GOLDEN_REL_TOL);

    /* second call must add: dx == 2 * grad exactly */
    bwd(dx, dy, y, (size_t)n);
    float *ref = golden_load(st, key, NULL);
    for (int64_t i = 0; i < n; i++) {
        dx[i] *= 0.5f;
    }
    snprintf(key, sizeof key, "%s.dx (accumulated x2)", name);
    ok &= golden_compare(key, dx, ref, (size_t)n, GOLDEN_REL_TOL);

    free(ref); free(x); free(dy); free(y); free(dx); free(inplace);
    return ok;
}

static void relu_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("activation.safetensors");
    int ok = run_family(st, "relu", relu_forward, relu_backward);
    st_close(st);
    assert_true(ok);
}

static void relu6_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("activation.safetensors");
    int ok = run_family(st, "relu6", relu6_forward, relu6_backward);
    st_close(st);
    assert_true(ok);
}

static void kinks_have_zero_gradient(void **state)
{
    (void)state;
    const float x[] = {0.0f, 6.0f, -2.0f, 3.0f, 7.0f};
    const float dy[] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
    float y[5], dx[5] = {0};
    relu6_forward(y, x, 5);
    relu6_backward(dx, dy, y, 5);
    const float want6[] = {0.0f, 0.0f, 0.0f, 1.0f, 0.0f};
    for (int i = 0; i < 5; i++) {
        assert_true(dx[i] == want6[i]);
    }
    float dr[5] = {0};
    relu_forward(y, x, 5);
    relu_backward(dr, dy, y, 5);
    const float wantr[] = {0.0f, 1.0f, 0.0f, 1.0f, 1.0f};
    for (int i = 0; i < 5; i++) {
        assert_true(dr[i] == wantr[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relu_matches_torch),
        cmocka_unit_test(relu6_matches_torch),
        cmocka_unit_test(kinks_have_zero_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
