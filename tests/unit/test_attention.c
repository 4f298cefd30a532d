/* Masked multi-head attention against PyTorch (gen_attention.py): probs and
 * output, dq/dk/dv with += accumulation and NULL skipping; padded keys, an
 * all-padding sequence (uniform rows), no mask, and dropout given as a
 * fixed scale mask (two-phase forward). Plus row softmax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/attention.h"
#include "support/golden.h"

typedef struct {
    const char *name;
    int b, t, c, h, masked, dropout;
} AttCase;

static const AttCase CASES[] = {
    {"masked", 3, 9, 12, 3, 1, 0},
    {"nomask", 2, 7, 16, 4, 0, 0},
    {"dropout", 2, 6, 8, 2, 1, 1},
    {"bertish", 2, 33, 96, 3, 1, 0},
};

static int check_scaled(const SafeTensors *st, const char *key,
                        const float *got, size_t n, float scale)
{
    float *g = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        g[i] = got[i] * scale;
    }
    int ok = golden_check(st, key, g, n, GOLDEN_REL_TOL);
    free(g);
    return ok;
}

static int run_case(const SafeTensors *st, const AttCase *k)
{
    char key[64];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", k->name, s), key)
    size_t btc = (size_t)k->b * k->t * k->c;
    size_t bhtt = (size_t)k->b * k->h * k->t * k->t;
    float *q = golden_load(st, KEY("q"), NULL), *kk = golden_load(st, KEY("k"), NULL);
    float *v = golden_load(st, KEY("v"), NULL), *dy = golden_load(st, KEY("dy"), NULL);
    int32_t *mask = k->masked ? golden_load_i32(st, KEY("mask"), NULL) : NULL;
    float *drop = k->dropout ? golden_load(st, KEY("drop_mask"), NULL) : NULL;
    float *probs = malloc(bhtt * sizeof(float)), *used = probs;
    float *y = malloc(btc * sizeof(float));
    float *dq = calloc(btc, sizeof(float)), *dk = calloc(btc, sizeof(float));
    float *dv = calloc(btc, sizeof(float));
    float *ws = malloc(attention_workspace_floats(k->t) * sizeof(float));
    for (size_t i = 0; i < btc; i++) {
        y[i] = 1e3f;
    }
    int ok = 1;
    if (drop) {
        used = malloc(bhtt * sizeof(float));
        attention_probs_forward(probs, q, kk, mask, k->b, k->t, k->c, k->h);
        for (size_t i = 0; i < bhtt; i++) {
            used[i] = probs[i] * drop[i];
        }
        attention_context_forward(y, used, v, k->b, k->t, k->c, k->h);
    } else {
        attention_forward(y, probs, q, kk, v, mask, k->b, k->t, k->c, k->h);
    }
    ok &= golden_check(st, KEY("probs"), probs, bhtt, GOLDEN_REL_TOL);
    ok &= golden_check(st, KEY("y"), y, btc, GOLDEN_REL_TOL);
    for (int rep = 1; rep <= 2; rep++) {
        attention_backward(dq, dk, dv, dy, q, kk, v, probs, used, drop, ws, k->b,
                           k->t, k->c, k->h);
        ok &= check_scaled(st, KEY("dq"), dq, btc, 1.0f / rep);
        ok &= check_scaled(st, KEY("dk"), dk, btc, 1.0f / rep);
        ok &= check_scaled(st, KEY("dv"), dv, btc, 1.0f / rep);
    }
    /* NULL skips: only dv (a frozen q/k path), then only dq and dk */
    memset(dv, 0, btc * sizeof(float));
    attention_backward(NULL, NULL, dv, dy, q, kk, v, probs, used, drop, ws, k->b,
                       k->t, k->c, k->h);
    ok &= golden_check(st, KEY("dv"), dv, btc, GOLDEN_REL_TOL);
    memset(dq, 0, btc * sizeof(float));
    memset(dk, 0, btc * sizeof(float));
    attention_backward(dq, dk, NULL, dy, q, kk, v, probs, used, drop, ws, k->b,
                       k->t, k->c, k->h);
    ok &= golden_check(st, KEY("dq"), dq, btc, GOLDEN_REL_TOL);
    ok &= golden_check(st, KEY("dk"), dk, btc, GOLDEN_REL_TOL);
#undef KEY
    if (used != probs) {
        free(used);
    }
    free(q); free(kk); free(v); free(dy); free(mask); free(drop); free(probs);
    free(y); free(dq); free(dk); free(dv); free(ws);
    return ok;
}

static void attention_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("attention.safetensors");
    int ok = 1;
    for (size_t t = 0; t < sizeof CASES / sizeof CASES[0]; t++) {
        ok &= run_case(st, &CASES[t]);
    }
    st_close(st);
    assert_true(ok);
}

static void softmax_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("attention.safetensors");
    float *x = golden_load(st, "softmax.x", NULL), *dy = golden_load(st, "softmax.dy", NULL);
    float y[5 * 17], dx[5 * 17] = {0};
    int ok = 1;
    softmax_rows_forward(y, x, 5, 17);
    ok &= golden_check(st, "softmax.y", y, 85, GOLDEN_REL_TOL);
    softmax_rows_backward(dx, dy, y, 5, 17);
    softmax_rows_backward(dx, dy, y, 5, 17);
    ok &= check_scaled(st, "softmax.dx", dx, 85, 0.5f);
    softmax_rows_forward(x, x, 5, 17);   /* in place */
    ok &= golden_check(st, "softmax.y", x, 85, GOLDEN_REL_TOL);
    free(x);
    free(dy);
    st_close(st);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_matches_torch),
        cmocka_unit_test(softmax_matches_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
