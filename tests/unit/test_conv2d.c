/* conv2d forward/backward against PyTorch goldens (gen_conv2d.py). Every case
 * is checked four ways: plain backward into zeroed buffers; accumulation
 * (backward twice onto pre-filled buffers must give prefill + 2*grad);
 * din == NULL (weights only); dweight == dbias == NULL (input grad only).
 * All of it runs twice: with the default im2col chunking and with one
 * output row per chunk, so chunk boundaries inside and across images are
 * exercised even on small shapes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_internal.h"
#include "support/golden.h"

static const char *const required_cases[] = {
    "c3s1p1", "stem7s2p3", "pw1x1s1", "pw1x1s2", "c3s2p1", "dil2",
    "groups2", "dw3s1", "dw3s2", "dw5s1", "batch4", "wino128", "wino_odd", "wino_p0",
    "wino_batch", "wino64",
};

typedef struct {
    const SafeTensors *st;
    const char *name;
    const char *tag;      /* "" or "[chunk1]" */
    Conv2dShape shape;
    int has_bias;
    float *in, *weight, *bias, *dout;
    size_t n_in, n_w, n_out;
} Case;

static float *load(const Case *cs, const char *what, size_t *numel)
{
    char key[128];
    int64_t n = 0;
    snprintf(key, sizeof key, "%s.%s", cs->name, what);
    float *buf = golden_load(cs->st, key, &n);
    if (numel) {
        *numel = (size_t)n;
    }
    return buf;
}

static int check(const Case *cs, const char *what, const char *variant,
                 const float *got, const float *ref, size_t n)
{
    char label[160];
    snprintf(label, sizeof label, "%s.%s%s%s", cs->name, what, variant, cs->tag);
    return golden_compare(label, got, ref, n, GOLDEN_REL_TOL);
}

static float *zeros(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static float *prefilled(size_t n)
{
    float *p = zeros(n);
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)sin(0.37 * (double)i + 0.1);
    }
    return p;
}

/* got must equal prefill + 2 * ref. */
static int check_accumulated(const Case *cs, const char *what,
                             const float *got, const float *ref, size_t n)
{
    float *pre = prefilled(n), *want = zeros(n);
    for (size_t i = 0; i < n; i++) {
        want[i] = pre[i] + 2.0f * ref[i];
    }
    int ok = check(cs, what, "[accumulate x2]", got, want, n);
    free(pre);
    free(want);
    return ok;
}

static int run_case(const SafeTensors *st, const char *name, const char *tag)
{
    Case cs = {.st = st, .name = name, .tag = tag};
    char key[128];
    int64_t ncfg = 0;
    snprintf(key, sizeof key, "%s.cfg", name);
    int32_t *cfg = golden_load_i32(st, key, &ncfg);
    assert_int_equal(ncfg, 12);
    assert_int_equal(conv2d_shape_init(&cs.shape, cfg[0], cfg[1], cfg[2],
                                       cfg[3], cfg[4], cfg[5], cfg[6], cfg[7],
                                       cfg[8], cfg[9], cfg[10]), 0);
    cs.has_bias = cfg[11];
    free(cfg);
    const Conv2dShape *s = &cs.shape;

    cs.in = load(&cs, "in", &cs.n_in);
    cs.weight = load(&cs, "weight", &cs.n_w);
    cs.dout = load(&cs, "dout", &cs.n_out);
    cs.bias = cs.has_bias ? load(&cs, "bias", NULL) : NULL;
    float *ref_out = load(&cs, "out", NULL);
    float *ref_din = load(&cs, "din", NULL);
    float *ref_dw = load(&cs, "dweight", NULL);
    float *ref_db = cs.has_bias ? load(&cs, "dbias", NULL) : NULL;
    assert_int_equal(cs.n_in, (size_t)s->n * s->h * s->w * s->c);
    assert_int_equal(cs.n_out, (size_t)s->n * s->p * s->q * s->k);
    const size_t nk = (size_t)s->k;

    float *ws = zeros(conv2d_workspace_floats(s));
    int ok = 1;

    /* Forward must overwrite whatever the output buffer held. */
    float *out = zeros(cs.n_out);
    for (size_t i = 0; i < cs.n_out; i++) {
        out[i] = NAN;
    }
    conv2d_forward(out, cs.in, cs.weight, cs.bias, s, ws);
    ok &= check(&cs, "out", "", out, ref_out, cs.n_out);

    float *din = zeros(cs.n_in), *dw = zeros(cs.n_w), *db = zeros(nk);
    conv2d_backward(din, dw, cs.has_bias ? db : NULL, cs.dout, cs.in,
                    cs.weight, s, ws);
    ok &= check(&cs, "din", "", din, ref_din, cs.n_in);
    ok &= check(&cs, "dweight", "", dw, ref_dw, cs.n_w);
    if (cs.has_bias) {
        ok &= check(&cs, "dbias", "", db, ref_db, nk);
    }
    free(din);
    free(dw);
    free(db);

    din = prefilled(cs.n_in);
    dw = prefilled(cs.n_w);
    db = prefilled(nk);
    for (int rep = 0; rep < 2; rep++) {
        conv2d_backward(din, dw, cs.has_bias ? db : NULL, cs.dout, cs.in,
                        cs.weight, s, ws);
    }
    ok &= check_accumulated(&cs, "din", din, ref_din, cs.n_in);
    ok &= check_accumulated(&cs, "dweight", dw, ref_dw, cs.n_w);
    if (cs.has_bias) {
        ok &= check_accumulated(&cs, "dbias", db, ref_db, nk);
    }
    free(din);
    free(dw);
    free(db);

    /* Lowest trainable op: no input gradient. */
    dw = zeros(cs.n_w);
    db = zeros(nk);
    conv2d_backward(NULL, dw, cs.has_bias ? db : NULL, cs.dout, cs.in,
                    cs.weight, s, ws);
    ok &= check(&cs, "dweight", "[din=NULL]", dw, ref_dw, cs.n_w);
    if (cs.has_bias) {
        ok &= check(&cs, "dbias", "[din=NULL]", db, ref_db, nk);
    }
    free(dw);
    free(db);

    /* Frozen layer: input gradient only. */
    din = zeros(cs.n_in);
    conv2d_backward(din, NULL, NULL, cs.dout, cs.in, cs.weight, s, ws);
    ok &= check(&cs, "din", "[dweight=NULL]", din, ref_din, cs.n_in);
    free(din);

    free(ws);
    free(out);
    free(cs.in);
    free(cs.weight);
    free(cs.bias);
    free(cs.dout);
    free(ref_out);
    free(ref_din);
    free(ref_dw);
    free(ref_db);
    return ok;
}

static void run_all(size_t budget, const char *tag)
{
    SafeTensors *st = golden_open("conv2d.safetensors");
    const char *list = st_metadata(st, "cases");
    assert_non_null(list);
    for (size_t i = 0; i < sizeof required_cases / sizeof *required_cases; i++) {
        if (!strstr(list, required_cases[i])) {
            fail_msg("golden lacks case %s", required_cases[i]);
        }
    }
    char *names = strdup(list);
    assert_non_null(names);
    conv2d_set_chunk_budget(budget);
    int ok = 1, count = 0;
    char *save = NULL;
    for (char *name = strtok_r(names, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        ok &= run_case(st, name, tag);
        count++;
    }
    conv2d_set_chunk_budget(0);
    free(names);
    st_close(st);
    printf("%d cases %s\n", count, ok ? "passed" : "FAILED");
    assert_true(ok);
}

static void matches_pytorch(void **state)
{
    (void)state;
    run_all(0, "");
}

static void matches_pytorch_one_row_chunks(void **state)
{
    (void)state;
    run_all(1, "[chunk1]");
}

/* Every case again with Winograd off: 3x3 stride-1 convs through im2col
 * and GEMM, the path every other conv takes. */
static void matches_pytorch_without_winograd(void **state)
{
    (void)state;
    conv2d_set_winograd(0);
    run_all(0, "[im2col]");
    conv2d_set_winograd(1);
}

/* Which convs take Winograd: 3x3, stride 1, no dilation or groups,
 * channels in multiples of 8 and at least 64, outputs of 6x6 or more. */
static void winograd_applies(void **state)
{
    (void)state;
    Conv2dShape s;
    assert_int_equal(conv2d_shape_init(&s, 32, 28, 28, 128, 128, 3, 3, 1, 1, 1, 1), 0);
    assert_true(conv2d_wino_applies(&s));
    assert_true(conv2d_wino_workspace_floats(&s) > 16u * 128 * 128);
    assert_int_equal(conv2d_shape_init(&s, 32, 56, 56, 128, 128, 3, 3, 2, 1, 1, 1), 0);
    assert_false(conv2d_wino_applies(&s));   /* stride 2 */
    assert_int_equal(conv2d_shape_init(&s, 32, 56, 56, 128, 128, 3, 3, 1, 2, 2, 1), 0);
    assert_false(conv2d_wino_applies(&s));   /* dilation 2 */
    assert_int_equal(conv2d_shape_init(&s, 32, 56, 56, 128, 128, 3, 3, 1, 1, 1, 2), 0);
    assert_false(conv2d_wino_applies(&s));   /* groups */
    assert_int_equal(conv2d_shape_init(&s, 32, 56, 56, 64, 64, 3, 3, 1, 1, 1, 1), 0);
    assert_true(conv2d_wino_applies(&s));    /* ResNet's layer1 */
    assert_int_equal(conv2d_shape_init(&s, 32, 56, 56, 32, 64, 3, 3, 1, 1, 1, 1), 0);
    assert_false(conv2d_wino_applies(&s));   /* 32 channels: GEMMs too thin */
    assert_int_equal(conv2d_shape_init(&s, 32, 28, 28, 128, 132, 3, 3, 1, 1, 1, 1), 0);
    assert_false(conv2d_wino_applies(&s));   /* not a multiple of 8 */
    assert_int_equal(conv2d_shape_init(&s, 32, 4, 4, 512, 512, 3, 3, 1, 1, 1, 1), 0);
    assert_false(conv2d_wino_applies(&s));   /* 4x4 output: too few tiles */
    assert_int_equal(conv2d_wino_workspace_floats(&s), 0);
    assert_int_equal(conv2d_shape_init(&s, 32, 56, 56, 64, 64, 1, 1, 1, 0, 1, 1), 0);
    assert_false(conv2d_wino_applies(&s));   /* 1x1 */
}

static void shape_init_validates(void **state)
{
    (void)state;
    Conv2dShape s;
    assert_int_equal(conv2d_shape_init(&s, 32, 224, 224, 3, 64, 7, 7, 2, 3, 1, 1), 0);
    assert_int_equal(s.p, 112);
    assert_int_equal(s.q, 112);
    assert_int_equal(conv2d_shape_init(&s, 1, 56, 56, 64, 128, 1, 1, 2, 0, 1, 1), 0);
    assert_int_equal(s.p, 28);
    assert_int_equal(conv2d_shape_init(&s, 1, 9, 9, 4, 4, 3, 3, 1, 2, 2, 1), 0);
    assert_int_equal(s.p, 9);
    assert_int_equal(conv2d_shape_init(&s, 1, 8, 8, 6, 8, 3, 3, 1, 1, 1, 4), -1);
    assert_int_equal(conv2d_shape_init(&s, 1, 8, 8, 8, 6, 3, 3, 1, 1, 1, 4), -1);
    assert_int_equal(conv2d_shape_init(&s, 1, 2, 2, 3, 4, 5, 5, 1, 0, 1, 1), -1);
    assert_int_equal(conv2d_shape_init(&s, 1, 8, 8, 3, 4, 3, 3, 0, 1, 1, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shape_init_validates),
        cmocka_unit_test(matches_pytorch),
        cmocka_unit_test(matches_pytorch_one_row_chunks),
        cmocka_unit_test(matches_pytorch_without_winograd),
        cmocka_unit_test(winograd_applies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
