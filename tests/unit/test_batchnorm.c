/* BatchNorm against PyTorch goldens (gen_batchnorm.py): train and eval
 * forward, both backwards, running-stat update, += accumulation and NULL
 * gradient skipping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/batchnorm.h"
#include "support/golden.h"

#define MOMENTUM 0.1f
#define EPS 1e-5f

typedef struct {
    const char *name;
    int n, c, h, w;
} BnCase;

static const BnCase CASES[] = {
    {"big", 8, 32, 80, 80},
    {"wide", 2, 300, 5, 7},
    {"tiles", 4, 640, 7, 7},
    {"mid", 4, 64, 14, 14},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static float *load(const SafeTensors *st, const BnCase *k, const char *key,
                   size_t want)
{
    return golden_load_n(st, k->name, key, want);
}

static int check(const SafeTensors *st, const BnCase *k, const char *key,
                 const float *got, size_t n)
{
    return golden_check_scaled(st, k->name, key, got, n, 1.0f);
}

/* After two identical backward calls a += buffer holds exactly twice the
 * gradient; halve it and compare, so "=" instead of "+=" fails. */
static int check_twice(const SafeTensors *st, const BnCase *k, const char *key,
                       const float *got, size_t n)
{
    char full[128], label[160];
    snprintf(full, sizeof full, "%s.%s", k->name, key);
    snprintf(label, sizeof label, "%s (accumulated x2)", full);
    float *half = malloc(n * sizeof(float));
    assert_non_null(half);
    for (size_t i = 0; i < n; i++) {
        half[i] = 0.5f * got[i];
    }
    float *ref = golden_load(st, full, NULL);
    int ok = golden_compare(label, half, ref, n, GOLDEN_REL_TOL);
    free(ref);
    free(half);
    return ok;
}

static float *zeros(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static void train_forward_and_backward(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("batchnorm.safetensors");
    int ok = 1;
    for (size_t t = 0; t < NCASES; t++) {
        const BnCase *k = &CASES[t];
        int m = k->n * k->h * k->w, c = k->c;
        size_t mc = (size_t)m * c;
        float *x = load(st, k, "x", mc), *dy = load(st, k, "dy", mc);
        float *gamma = load(st, k, "gamma", c), *beta = load(st, k, "beta", c);
        float *rm = load(st, k, "rm0", c), *rv = load(st, k, "rv0", c);
        float *y = zeros(mc), *y2 = zeros(mc), *mean = zeros(c),
              *rstd = zeros(c);

        batchnorm_forward_train(y, mean, rstd, x, gamma, beta, rm, rv,
                                MOMENTUM, EPS, m, c);
        ok &= check(st, k, "y", y, mc);
        ok &= check(st, k, "mean", mean, c);
        ok &= check(st, k, "rstd", rstd, c);
        ok &= check(st, k, "rm", rm, c);
        ok &= check(st, k, "rv", rv, c);

        /* without running stats: same output, nothing else touched */
        batchnorm_forward_train(y2, mean, rstd, x, gamma, beta, NULL, NULL,
                                MOMENTUM, EPS, m, c);
        int same = memcmp(y, y2, mc * sizeof(float)) == 0;
        printf("%-4s %s.y without running stats is bit-identical\n",
               same ? "OK" : "FAIL", k->name);
        ok &= same;

        float *dx = zeros(mc), *dg = zeros(c), *db = zeros(c);
        batchnorm_backward_train(dx, dg, db, dy, x, mean, rstd, gamma, m, c);
        ok &= check(st, k, "dx", dx, mc);
        ok &= check(st, k, "dgamma", dg, c);
        ok &= check(st, k, "dbeta", db, c);
        batchnorm_backward_train(dx, dg, db, dy, x, mean, rstd, gamma, m, c);
        ok &= check_twice(st, k, "dx", dx, mc);
        ok &= check_twice(st, k, "dgamma", dg, c);
        ok &= check_twice(st, k, "dbeta", db, c);

        /* NULL skips: input gradient only, then parameter gradients only */
        memset(dx, 0, mc * sizeof(float));
        batchnorm_backward_train(dx, NULL, NULL, dy, x, mean, rstd, gamma, m, c);
        ok &= check(st, k, "dx", dx, mc);
        memset(dg, 0, c * sizeof(float));
        memset(db, 0, c * sizeof(float));
        batchnorm_backward_train(NULL, dg, db, dy, x, mean, rstd, gamma, m, c);
        ok &= check(st, k, "dgamma", dg, c);
        ok &= check(st, k, "dbeta", db, c);

        free(x); free(dy); free(gamma); free(beta); free(rm); free(rv);
        free(y); free(y2); free(mean); free(rstd); free(dx); free(dg); free(db);
    }
    st_close(st);
    assert_true(ok);
}

static void eval_forward_and_backward(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("batchnorm.safetensors");
    int ok = 1;
    for (size_t t = 0; t < NCASES; t++) {
        const BnCase *k = &CASES[t];
        int m = k->n * k->h * k->w, c = k->c;
        size_t mc = (size_t)m * c;
        float *x = load(st, k, "x", mc), *dy = load(st, k, "dy", mc);
        float *gamma = load(st, k, "gamma", c), *beta = load(st, k, "beta", c);
        float *rm = load(st, k, "rm0", c), *rv = load(st, k, "rv0", c);
        float *y = zeros(mc);

        batchnorm_forward_eval(y, x, gamma, beta, rm, rv, EPS, m, c);
        ok &= check(st, k, "y_eval", y, mc);

        float *dx = zeros(mc), *dg = zeros(c), *db = zeros(c);
        batchnorm_backward_eval(dx, dg, db, dy, x, gamma, rm, rv, EPS, m, c);
        ok &= check(st, k, "dx_eval", dx, mc);
        ok &= check(st, k, "dgamma_eval", dg, c);
        ok &= check(st, k, "dbeta_eval", db, c);
        batchnorm_backward_eval(dx, dg, db, dy, x, gamma, rm, rv, EPS, m, c);
        ok &= check_twice(st, k, "dx_eval", dx, mc);
        ok &= check_twice(st, k, "dgamma_eval", dg, c);
        ok &= check_twice(st, k, "dbeta_eval", db, c);

        memset(dx, 0, mc * sizeof(float));
        batchnorm_backward_eval(dx, NULL, NULL, dy, x, gamma, rm, rv, EPS, m, c);
        ok &= check(st, k, "dx_eval", dx, mc);
        memset(dg, 0, c * sizeof(float));
        batchnorm_backward_eval(NULL, dg, NULL, dy, x, gamma, rm, rv, EPS, m, c);
        ok &= check(st, k, "dgamma_eval", dg, c);

        free(x); free(dy); free(gamma); free(beta); free(rm); free(rv);
        free(y); free(dx); free(dg); free(db);
    }
    st_close(st);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_forward_and_backward),
        cmocka_unit_test(eval_forward_and_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
