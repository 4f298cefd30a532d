/* LayerNorm against PyTorch goldens (gen_layernorm.py): forward, backward
 * for input, weight and bias, += accumulation, NULL skipping, and a large
 * mean (variance without cancellation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/layernorm.h"
#include "support/golden.h"

typedef struct {
    const char *name;
    int rows, c;
    float eps;
} LnCase;

static const LnCase CASES[] = {
    {"small", 7, 33, 1e-5f},
    {"bert", 130, 384, 1e-12f},
    {"offset", 9, 64, 1e-5f},
    {"one", 1, 3, 1e-5f},
};

static float *load(const SafeTensors *st, const char *c, const char *key)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", c, key);
    return golden_load(st, full, NULL);
}

/* scale 0.5: the buffer received the gradient twice */
static int check(const SafeTensors *st, const char *c, const char *key,
                 const float *got, size_t n, float scale)
{
    return golden_check_scaled(st, c, key, got, n, scale);
}

static void layernorm_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("layernorm.safetensors");
    int ok = 1;
    for (size_t t = 0; t < sizeof CASES / sizeof CASES[0]; t++) {
        const LnCase *k = &CASES[t];
        size_t n = (size_t)k->rows * k->c;
        float *x = load(st, k->name, "x"), *w = load(st, k->name, "w");
        float *b = load(st, k->name, "b"), *dy = load(st, k->name, "dy");
        float *y = malloc(n * sizeof(float));
        float *mean = malloc(k->rows * sizeof(float));
        float *rstd = malloc(k->rows * sizeof(float));
        float *dx = calloc(n, sizeof(float));
        float *dw = calloc(k->c, sizeof(float)), *db = calloc(k->c, sizeof(float));
        for (size_t i = 0; i < n; i++) {
            y[i] = 1e3f;   /* stale values must not leak */
        }
        layernorm_forward(y, mean, rstd, x, w, b, k->rows, k->c, k->eps);
        ok &= check(st, k->name, "y", y, n, 1.0f);
        for (int rep = 1; rep <= 2; rep++) {
            layernorm_backward(dx, dw, db, dy, x, mean, rstd, w, k->rows, k->c);
            float s = 1.0f / rep;
            ok &= check(st, k->name, "dx", dx, n, s);
            ok &= check(st, k->name, "dw", dw, k->c, s);
            ok &= check(st, k->name, "db", db, k->c, s);
        }
        memset(dx, 0, n * sizeof(float));
        layernorm_backward(dx, NULL, NULL, dy, x, mean, rstd, w, k->rows, k->c);
        ok &= check(st, k->name, "dx", dx, n, 1.0f);
        memset(dw, 0, k->c * sizeof(float));
        memset(db, 0, k->c * sizeof(float));
        layernorm_backward(NULL, dw, db, dy, x, mean, rstd, w, k->rows, k->c);
        ok &= check(st, k->name, "dw", dw, k->c, 1.0f);
        ok &= check(st, k->name, "db", db, k->c, 1.0f);
        memset(db, 0, k->c * sizeof(float));
        layernorm_backward(NULL, NULL, db, dy, x, mean, rstd, w, k->rows, k->c);
        ok &= check(st, k->name, "db", db, k->c, 1.0f);
        free(x); free(w); free(b); free(dy); free(y); free(mean); free(rstd);
        free(dx); free(dw); free(db);
    }
    st_close(st);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layernorm_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
