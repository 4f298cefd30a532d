/* EfficientNet-Lite0/1/2 against PyTorch on the real ImageNet checkpoints
 * (goldens from gen_efficientnet.py): eval logits on real photos at each
 * variant's native size, with the top-1 class of each photo equal to the
 * reference's; for Lite0 also a train-mode step (batch 2 at 96x96, dropout
 * off): logits, loss, every parameter gradient, the input gradient and the
 * BatchNorm running statistics. The photo logits are also checked when the
 * model loads the cached PyTorch .pth directly (native reader). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/models/model.h"
#include "support/golden.h"

#define CLASSES 1000
#define SMOOTHING 0.1f

static void load_model(Model *m, const char *arch)
{
    char file[128], path[1024];
    ThawError err = {0};
    snprintf(file, sizeof file, "%s_weights.safetensors", arch);
    if (model_create(m, arch, CLASSES, 0, &err) != 0 ||
        model_load_safetensors(m, golden_path(path, sizeof path, file), &err) != 0) {
        fail_msg("%s", err.msg);
    }
}

/* The checkpoint gen_efficientnet.py fetched: $THAW_CACHE/weights/
 * efficientnet-liteN.pth (THAW_CACHE defaults to ~/.cache/thaw). */
static const char *pth_path(char *buf, size_t cap, const char *arch)
{
    const char *cache = getenv("THAW_CACHE");
    const char *home = getenv("HOME");
    const char *variant = arch + strlen("efficientnet_");
    if (cache && *cache) {
        snprintf(buf, cap, "%s/weights/efficientnet-%s.pth", cache, variant);
    } else {
        snprintf(buf, cap, "%s/.cache/thaw/weights/efficientnet-%s.pth",
                 home ? home : ".", variant);
    }
    return buf;
}

static void plan(Model *m, int n, int size, int training)
{
    ThawError err = {0};
    GraphMode mode = {.training = training, .want_input_grad = training};
    if (model_plan(m, n, size, size, &mode, &err) != 0) {
        fail_msg("%s", err.msg);
    }
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (x[i] > x[best]) {
            best = i;
        }
    }
    return best;
}

static int check_photos(const char *arch)
{
    char file[128];
    snprintf(file, sizeof file, "%s_photos.safetensors", arch);
    SafeTensors *ref = golden_open(file);
    int64_t shape[4];
    golden_shape(ref, "input", shape);
    int n = (int)shape[0], size = (int)shape[2];
    float *x = golden_load(ref, "input", NULL);
    int32_t *top1 = golden_load_i32(ref, "top1", NULL);
    Model m;
    load_model(&m, arch);
    plan(&m, n, size, 0);
    model_forward(&m, x);
    const float *logits = model_logits(&m);
    int ok = golden_check(ref, "logits", logits, (size_t)n * CLASSES, GOLDEN_REL_TOL);
    for (int i = 0; i < n; i++) {
        int got = argmax(logits + (size_t)i * CLASSES, CLASSES);
        printf("%-4s %s photo %d at %dx%d: top-1 %d (reference %d)\n",
               got == top1[i] ? "OK" : "FAIL", arch, i, size, size, got, top1[i]);
        ok &= got == top1[i];
    }
    model_free(&m);

    /* The same logits straight from the PyTorch .pth (native reader). */
    char pth[1024];
    ThawError err = {0};
    FILE *f = fopen(pth_path(pth, sizeof pth, arch), "rb");
    if (f) {
        fclose(f);
        if (model_create(&m, arch, CLASSES, 0, &err) != 0 ||
            model_load_safetensors(&m, pth, &err) != 0) {
            fail_msg("%s", err.msg);
        }
        plan(&m, n, size, 0);
        model_forward(&m, x);
        char key[64];
        snprintf(key, sizeof key, "logits");
        printf("     from %s:\n", pth);
        ok &= golden_check(ref, key, model_logits(&m), (size_t)n * CLASSES, GOLDEN_REL_TOL);
        model_free(&m);
    } else {
        printf("SKIP %s not found (loading the .pth directly)\n", pth);
    }
    free(x);
    free(top1);
    st_close(ref);
    return ok;
}

/* Train-mode forward that takes the float64 reference's side on ReLU6
 * inputs within rounding of a kink ("kink.train.<call>", rows of [NHWC index,
 * code]: 0/1 near 0 with the reference input <= 0 / > 0, 2/3 near 6 with it
 * < 6 / >= 6). Everywhere else our own results stand. */
static int forward_with_kinks(Model *m, const float *x, const SafeTensors *ref)
{
    Graph *g = &m->graph;
    int call = 0, flipped = 0, ambiguous = 0;
    const float below6 = nextafterf(6.0f, 0.0f);
    model_set_input(m, x);
    for (int i = 0; i < g->n_ops; i++) {
        graph_forward_op(g, &m->params, i);
        if (g->ops[i].type != OP_RELU6) {
            continue;
        }
        char key[64];
        snprintf(key, sizeof key, "kink.train.%d", call++);
        if (!st_find(ref, key)) {
            continue;
        }
        int64_t n = 0;
        int32_t *rows = golden_load_i32(ref, key, &n);
        float *y = g->values[g->ops[i].out].data;
        for (int64_t r = 0; r < n / 2; r++) {
            int32_t at = rows[2 * r];
            int code = rows[2 * r + 1];
            float want = y[at];
            if (code == 0 && y[at] > 0.0f) {
                want = 0.0f;
            } else if (code == 1 && y[at] <= 0.0f) {
                want = 1e-30f;
            } else if (code == 2 && y[at] >= 6.0f) {
                want = below6;
            } else if (code == 3 && y[at] < 6.0f) {
                want = 6.0f;
            }
            ambiguous++;
            flipped += want != y[at];
            y[at] = want;
        }
        free(rows);
    }
    printf("     %d ReLU6 inputs within rounding of a kink, %d taken from the reference\n",
           ambiguous, flipped);
    return flipped;
}

/* A BatchNorm bias whose output only reaches train-mode BatchNorms through
 * bias-free convolutions (every _bn2 of a block: the next layer's BN removes
 * any constant shift) has a gradient of exactly zero; the reference holds
 * ~1e-16 and ours float32 cancellation noise, so a scale relative to the
 * reference itself is meaningless. Such a tensor is held to 1e-4 of the
 * gradient scale of its own BN weight instead. */
static int check_zero_grad(const SafeTensors *ref, const char *key,
                           const char *weight_key, const float *got, size_t n)
{
    float *want = golden_load(ref, key, NULL);
    float *wscale = golden_load(ref, weight_key, NULL);
    double maxref = 0, scale = 0, maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        maxref = fmax(maxref, fabs(want[i]));
        scale = fmax(scale, fabs(wscale[i]));
        maxdiff = fmax(maxdiff, fabs((double)got[i] - want[i]));
    }
    int ok = maxdiff <= GOLDEN_REL_TOL * scale;
    printf("%-4s %-40s n=%-9zu maxdiff=%.3e maxref=%.3e (zero in exact arithmetic; "
           "scale of %s %.3e)\n", ok ? "OK" : "FAIL", key, n, maxdiff, maxref,
           weight_key, scale);
    free(want);
    free(wscale);
    return ok;
}

static int check_train(void)
{
    const char *arch = "efficientnet_lite0";
    SafeTensors *ref = golden_open("efficientnet_lite0_fwdbwd.safetensors");
    int64_t shape[4];
    golden_shape(ref, "input", shape);
    int n = (int)shape[0], size = (int)shape[2];
    float *x = golden_load(ref, "input", NULL);
    int32_t *labels = golden_load_i32(ref, "labels", NULL);
    Model m;
    load_model(&m, arch);
    plan(&m, n, size, 1);
    /* Dropout draws differ from PyTorch's; the reference ran without it. */
    for (int i = 0; i < m.graph.n_ops; i++) {
        if (m.graph.ops[i].type == OP_DROPOUT) {
            m.graph.ops[i].u.dropout_p = 0.0f;
        }
    }
    params_zero_grad(&m.params);
    forward_with_kinks(&m, x, ref);
    int ok = golden_check(ref, "logits_train", model_logits(&m), (size_t)n * CLASSES,
                          GOLDEN_REL_TOL);
    float loss = model_loss(&m, labels, SMOOTHING);
    ok &= golden_check(ref, "loss", &loss, 1, GOLDEN_REL_TOL);
    model_backward(&m, labels, SMOOTHING);
    ok &= golden_check(ref, "input_grad", model_input_grad(&m), (size_t)n * 3 * size * size,
                       GOLDEN_REL_TOL);
    const ParamTable *t = &m.params;
    int checked = 0;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        char key[160];
        if (p->kind == PARAM_WEIGHT) {
            snprintf(key, sizeof key, "grad.%s", p->name);
            size_t len = strlen(key);
            if (len > 9 && strcmp(key + len - 9, "_bn2.bias") == 0) {
                char wkey[160];
                snprintf(wkey, sizeof wkey, "%.*sweight", (int)(len - 4), key);
                ok &= check_zero_grad(ref, key, wkey, params_grad(t, i), p->numel);
            } else {
                ok &= golden_check(ref, key, params_grad(t, i), p->numel, GOLDEN_REL_TOL);
            }
            checked++;
        } else if (p->kind == PARAM_BUFFER) {
            snprintf(key, sizeof key, "running.%s", p->name);
            ok &= golden_check(ref, key, params_data(t, i), p->numel, GOLDEN_REL_TOL);
            checked++;
        }
    }
    printf("%-4s %d gradients and running statistics checked\n", ok ? "OK" : "FAIL", checked);
    model_free(&m);
    free(x);
    free(labels);
    st_close(ref);
    return ok;
}

/* The groups a fine-tuning run freezes and unfreezes by name. */
static void groups(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "efficientnet_lite0", 10, 1, &err), 0);
    static const char *names[] = {"stem", "stage1", "stage2", "stage3", "stage4",
                                  "stage5", "stage6", "stage7", "top", "head"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_true(params_find_group(&m.params, names[i]) >= 0);
    }
    int fc = params_find(&m.params, "_fc.weight");
    assert_true(fc >= 0);
    assert_int_equal(m.params.items[fc].group, params_find_group(&m.params, "head"));
    int b15 = params_find(&m.params, "_blocks.15._project_conv.weight");
    assert_int_equal(m.params.items[b15].group, params_find_group(&m.params, "stage7"));
    model_free(&m);
}

static void lite0(void **state)
{
    (void)state;
    printf("== efficientnet_lite0 photos (eval)\n");
    int ok = check_photos("efficientnet_lite0");
    printf("== efficientnet_lite0 train-mode forward/backward\n");
    ok &= check_train();
    assert_true(ok);
}

static void lite1(void **state)
{
    (void)state;
    printf("== efficientnet_lite1 photos (eval)\n");
    assert_true(check_photos("efficientnet_lite1"));
}

static void lite2(void **state)
{
    (void)state;
    printf("== efficientnet_lite2 photos (eval)\n");
    assert_true(check_photos("efficientnet_lite2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groups),
        cmocka_unit_test(lite0),
        cmocka_unit_test(lite1),
        cmocka_unit_test(lite2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
