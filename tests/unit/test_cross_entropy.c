/* Softmax cross-entropy against PyTorch goldens (gen_cross_entropy.py):
 * loss, softmax and dlogits with label smoothing 0 and 0.1, large logits,
 * += accumulation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/cross_entropy.h"
#include "support/golden.h"

#define DLOSS 0.75f

typedef struct {
    const char *name;
    int n, classes;
    float smoothing;
} CeCase;

static const CeCase CASES[] = {
    {"plain", 32, 10, 0.0f}, {"smooth", 32, 10, 0.1f},
    {"imagenet", 8, 1000, 0.1f}, {"big", 5, 7, 0.1f}, {"one", 1, 2, 0.0f},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static int check(const SafeTensors *st, const CeCase *k, const char *key,
                 const float *got, size_t n, float scale)
{
    return golden_check_scaled(st, k->name, key, got, n, scale);
}

static void cross_entropy_matches_torch(void **state)
{
    (void)state;
    SafeTensors *st = golden_open("cross_entropy.safetensors");
    int ok = 1;
    for (size_t t = 0; t < NCASES; t++) {
        const CeCase *k = &CASES[t];
        size_t nz = (size_t)k->n * k->classes;
        char key[128];
        int64_t numel = 0;
        snprintf(key, sizeof key, "%s.logits", k->name);
        float *z = golden_load(st, key, &numel);
        assert_int_equal((size_t)numel, nz);
        snprintf(key, sizeof key, "%s.labels", k->name);
        int32_t *labels = golden_load_i32(st, key, &numel);
        assert_int_equal(numel, k->n);
        float *probs = malloc(nz * sizeof(float));
        float *dz = calloc(nz, sizeof(float));
        assert_true(probs && dz);

        float loss = cross_entropy_forward(probs, z, labels, k->n, k->classes,
                                           k->smoothing);
        ok &= check(st, k, "loss", &loss, 1, 1.0f);
        ok &= check(st, k, "probs", probs, nz, 1.0f);
        cross_entropy_backward(dz, probs, labels, k->n, k->classes,
                               k->smoothing, DLOSS);
        ok &= check(st, k, "dlogits", dz, nz, 1.0f);
        cross_entropy_backward(dz, probs, labels, k->n, k->classes,
                               k->smoothing, DLOSS);
        ok &= check(st, k, "dlogits", dz, nz, 0.5f);

        free(z); free(labels); free(probs); free(dz);
    }
    st_close(st);
    assert_true(ok);
}

/* Uniform logits: loss is log(C) whatever the smoothing. */
static void uniform_logits_give_log_classes(void **state)
{
    (void)state;
    float z[2 * 4] = {0};
    float p[2 * 4];
    int32_t y[2] = {1, 3};
    float l0 = cross_entropy_forward(p, z, y, 2, 4, 0.0f);
    float l1 = cross_entropy_forward(p, z, y, 2, 4, 0.3f);
    assert_float_equal(l0, 1.3862944f, 1e-6f);
    assert_float_equal(l1, 1.3862944f, 1e-6f);
    assert_float_equal(p[5], 0.25f, 1e-7f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cross_entropy_matches_torch),
        cmocka_unit_test(uniform_logits_give_log_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
