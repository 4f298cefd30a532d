/* Linear against PyTorch goldens (gen_linear.py): forward with and without
 * bias, backward for every gradient, += accumulation, NULL skipping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/linear.h"
#include "support/golden.h"

typedef struct {
    const char *name;
    int n, in, out, bias;
} LinCase;

static const LinCase CASES[] = {
    {"head", 32, 512, 10, 1},
    {"nobias", 7, 33, 17, 0},
    {"wide", 16, 2048, 1000, 1},
    {"one", 1, 5, 3, 1},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static float *load(const SafeTensors *st, const LinCase *k, const char *key,
                   size_t want)
{
    return golden_load_n(st, k->name, key, want);
}

/* scale 0.5 checks a buffer that received the gradient twice */
static int check(const SafeTensors *st, const LinCase *k, const char *key,
                 const float *got, size_t n, float scale)
{
    return golden_check_scaled(st, k->name, key, got, n, scale);
}

static void linear_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("linear.safetensors");
    int ok = 1;
    for (size_t t = 0; t < NCASES; t++) {
        const LinCase *k = &CASES[t];
        size_t nx = (size_t)k->n * k->in, nw = (size_t)k->out * k->in;
        size_t ny = (size_t)k->n * k->out;
        float *x = load(st, k, "x", nx), *w = load(st, k, "w", nw);
        float *dy = load(st, k, "dy", ny);
        float *b = k->bias ? load(st, k, "b", k->out) : NULL;
        float *y = malloc(ny * sizeof(float));
        float *dx = calloc(nx, sizeof(float)), *dw = calloc(nw, sizeof(float));
        float *db = calloc((size_t)k->out, sizeof(float));
        assert_true(y && dx && dw && db);
        /* stale values in out must not leak into the result */
        for (size_t i = 0; i < ny; i++) {
            y[i] = 1e3f;
        }

        linear_forward(y, x, w, b, k->n, k->in, k->out);
        ok &= check(st, k, "y", y, ny, 1.0f);

        linear_backward(dx, dw, b ? db : NULL, dy, x, w, k->n, k->in, k->out);
        ok &= check(st, k, "dx", dx, nx, 1.0f);
        ok &= check(st, k, "dw", dw, nw, 1.0f);
        if (b) {
            ok &= check(st, k, "db", db, k->out, 1.0f);
        }
        linear_backward(dx, dw, b ? db : NULL, dy, x, w, k->n, k->in, k->out);
        ok &= check(st, k, "dx", dx, nx, 0.5f);
        ok &= check(st, k, "dw", dw, nw, 0.5f);
        if (b) {
            ok &= check(st, k, "db", db, k->out, 0.5f);
        }

        /* NULL skips: only din (frozen layer), then only the weights */
        memset(dx, 0, nx * sizeof(float));
        linear_backward(dx, NULL, NULL, dy, x, w, k->n, k->in, k->out);
        ok &= check(st, k, "dx", dx, nx, 1.0f);
        memset(dw, 0, nw * sizeof(float));
        memset(db, 0, (size_t)k->out * sizeof(float));
        linear_backward(NULL, dw, b ? db : NULL, dy, x, w, k->n, k->in, k->out);
        ok &= check(st, k, "dw", dw, nw, 1.0f);
        if (b) {
            ok &= check(st, k, "db", db, k->out, 1.0f);
        }

        free(x); free(w); free(dy); free(b); free(y); free(dx); free(dw);
        free(db);
    }
    st_close(st);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
