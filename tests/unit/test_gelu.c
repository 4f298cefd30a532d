/* Exact (erf) GELU against PyTorch (gen_gelu.py): forward on -8..8 and
 * random values, backward with += accumulation, forward in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/gelu.h"
#include "support/golden.h"

static void gelu_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("gelu.safetensors");
    int64_t n = 0;
    float *x = golden_load(st, "x", &n), *dy = golden_load(st, "dy", NULL);
    float *y = malloc((size_t)n * sizeof(float));
    float *dx = calloc((size_t)n, sizeof(float));
    int ok = 1;
    gelu_forward(y, x, (size_t)n);
    ok &= golden_check(st, "y", y, (size_t)n, GOLDEN_REL_TOL);
    gelu_backward(dx, dy, x, (size_t)n);
    ok &= golden_check(st, "dx", dx, (size_t)n, GOLDEN_REL_TOL);
    gelu_backward(dx, dy, x, (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        dx[i] *= 0.5f;
    }
    ok &= golden_check(st, "dx", dx, (size_t)n, GOLDEN_REL_TOL);
    /* tails: GELU(-8) is -8 Phi(-8) ~ -5e-15, not a flushed 0 or a NaN */
    float *ref = golden_load(st, "y", NULL);
    for (int64_t i = 0; i < n; i++) {
        ok &= y[i] == y[i];
    }
    memcpy(y, x, (size_t)n * sizeof(float));
    gelu_forward(y, y, (size_t)n);
    ok &= golden_compare("y (in place)", y, ref, (size_t)n, GOLDEN_REL_TOL);
    free(ref); free(x); free(dy); free(y); free(dx);
    st_close(st);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gelu_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
