/* Embedding against PyTorch (gen_embedding.py): lookup, lookup-and-add,
 * and the scatter-add gradient with repeated ids, accumulated twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/embedding.h"
#include "support/golden.h"

typedef struct {
    const char *name;
    int rows, dim, n;
} EmbCase;

static const EmbCase CASES[] = {
    {"small", 50, 24, 70},
    {"wide", 300, 384, 2048},
    {"odd", 3, 65, 5},
};

static void embedding_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("embedding.safetensors");
    int ok = 1;
    for (size_t t = 0; t < sizeof CASES / sizeof CASES[0]; t++) {
        const EmbCase *k = &CASES[t];
        char key[64];
        size_t ny = (size_t)k->n * k->dim, nw = (size_t)k->rows * k->dim;
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", k->name, s), key)
        float *w = golden_load(st, KEY("w"), NULL);
        float *dy = golden_load(st, KEY("dy"), NULL);
        int32_t *ids = golden_load_i32(st, KEY("ids"), NULL);
        float *y = malloc(ny * sizeof(float));
        float *dw = calloc(nw, sizeof(float));
        for (size_t i = 0; i < ny; i++) {
            y[i] = 1e3f;
        }
        embedding_forward(y, ids, w, k->n, k->dim);
        ok &= golden_check(st, KEY("y"), y, ny, GOLDEN_REL_TOL);
        /* y + table[ids] = 2 y */
        embedding_forward_add(y, ids, w, k->n, k->dim);
        for (size_t i = 0; i < ny; i++) {
            y[i] *= 0.5f;
        }
        ok &= golden_check(st, KEY("y"), y, ny, GOLDEN_REL_TOL);
        embedding_backward(dw, dy, ids, k->n, k->dim);
        ok &= golden_check(st, KEY("dw"), dw, nw, GOLDEN_REL_TOL);
        embedding_backward(dw, dy, ids, k->n, k->dim);
        for (size_t i = 0; i < nw; i++) {
            dw[i] *= 0.5f;
        }
        ok &= golden_check(st, KEY("dw"), dw, nw, GOLDEN_REL_TOL);
#undef KEY
        free(w); free(dy); free(ids); free(y); free(dw);
    }
    st_close(st);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embedding_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
