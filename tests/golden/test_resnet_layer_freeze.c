/* Per-layer freezing against PyTorch (gen_resnet_layer_freeze.py): a
 * ResNet-18 with modules frozen on their own across group lines (a thawed
 * conv inside a frozen group, a frozen BN and a frozen conv inside training
 * groups). Checks the plan (where backward stops, which frozen ops only
 * pass gradients, BN modes), logits and loss, the gradient of every
 * trainable parameter, that frozen gradients are never written, and every
 * parameter, buffer and counter after one AdamW step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/models/model.h"
#include "engine/optim/optimizer.h"
#include "support/golden.h"

#define BATCH 2
#define SIZE 64
#define CLASSES 10
#define SMOOTHING 0.1f
#define SENTINEL 12345.0f

static const char *const FROZEN_GROUPS[] = {"stem", "layer1", "layer2"};
static const char *const FROZEN_LAYERS[] = {"layer3.1.bn2", "layer4.0.conv1",
                                            "layer4.0.downsample.1"};
static const char *const THAWED_LAYER = "layer2.1.conv2";

static void setup_model(Model *m)
{
    char path[1024];
    ThawError err = {0};
    if (model_create(m, "resnet18", CLASSES, 0, &err) != 0 ||
        model_load_safetensors(m, golden_path(path, sizeof path,
                                              "resnet18_layer_freeze_weights.safetensors"),
                               &err) != 0) {
        fail_msg("%s", err.msg);
    }
    ParamTable *t = &m->params;
    for (int g = 0; g < t->n_groups; g++) {
        int head = strcmp(t->groups[g].name, "head") == 0;
        t->groups[g].lr = head ? 1e-3f : 1e-6f;
        t->groups[g].weight_decay = head ? 5e-2f : 1e-2f;
        params_set_group_frozen(t, g, 0);
    }
    for (int i = 0; i < 3; i++) {
        int g = params_find_group(t, FROZEN_GROUPS[i]);
        assert_true(g >= 0);
        params_set_group_frozen(t, g, 1);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(params_set_module_frozen(t, FROZEN_LAYERS[i], 1),
                         strstr(FROZEN_LAYERS[i], "conv") ? 1 : 5);
    }
    assert_int_equal(params_set_module_frozen(t, THAWED_LAYER, 0), 1);
    GraphMode mode = {.training = 1};
    if (model_plan(m, BATCH, SIZE, SIZE, &mode, &err) != 0) {
        fail_msg("%s", err.msg);
    }
}

/* The op whose weight is <module>.weight. */
static const Op *module_op(const Model *m, const char *module)
{
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.weight", module);
    int p = params_find(&m->params, name);
    for (int i = 0; p >= 0 && i < m->graph.n_ops; i++) {
        if (m->graph.ops[i].weight == p) {
            return &m->graph.ops[i];
        }
    }
    fail_msg("no op for %s", module);
    return NULL;
}

static int check_plan(const Model *m)
{
    const Graph *g = &m->graph;
    int first = -1;
    for (int i = 0; i < g->n_ops && first < 0; i++) {
        first = g->ops[i].runs_backward ? i : -1;
    }
    const Op *low = module_op(m, THAWED_LAYER);
    int ok = first >= 0 && &g->ops[first] == low && low->trainable &&
             !g->values[low->in[0]].needs_grad && g->values[g->input].grad == NULL;
    printf("%-4s backward starts at %s (op %d), no gradient below it\n", ok ? "OK" : "FAIL",
           THAWED_LAYER, first);
    const Op *bn = module_op(m, "layer2.1.bn2");
    int pass = bn->runs_backward && !bn->trainable && !bn->bn_batch_stats;
    for (int i = 0; i < 3; i++) {
        const Op *op = module_op(m, FROZEN_LAYERS[i]);
        pass &= op->runs_backward && !op->trainable &&
                !(op->type == OP_BATCHNORM && op->bn_batch_stats);
    }
    const Op *bn_train = module_op(m, "layer3.1.bn1");
    pass &= bn_train->trainable && bn_train->bn_batch_stats;
    printf("%-4s frozen layers pass gradients only, their BN in eval\n", pass ? "OK" : "FAIL");
    return ok && pass;
}

/* Train-mode forward taking the float64 reference's side on the ReLU inputs
 * within rounding of zero (see tests/golden/test_resnet.c). */
static void forward_with_kinks(Model *m, const float *x, const SafeTensors *ref)
{
    Graph *g = &m->graph;
    int call = 0, flipped = 0;
    model_set_input(m, x);
    for (int i = 0; i < g->n_ops; i++) {
        graph_forward_op(g, &m->params, i);
        if (g->ops[i].type != OP_RELU) {
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
            if (rows[2 * r + 1] && y[at] <= 0.0f) {
                y[at] = 1e-30f;
                flipped++;
            } else if (!rows[2 * r + 1] && y[at] > 0.0f) {
                y[at] = 0.0f;
                flipped++;
            }
        }
        free(rows);
    }
    printf("     %d ReLU masks taken from the reference\n", flipped);
}

/* Trainable: gradient against the reference; frozen: never written. */
static int check_grads(const Model *m, const SafeTensors *ref, int *n_frozen)
{
    const ParamTable *t = &m->params;
    int ok = 1;
    *n_frozen = 0;
    for (int i = 0; i < t->count; i++) {
        if (t->items[i].kind != PARAM_WEIGHT) {
            continue;
        }
        char key[160];
        snprintf(key, sizeof key, "grad.%s", t->items[i].name);
        if (params_trainable(t, i)) {
            ok &= golden_check(ref, key, params_grad(t, i), t->items[i].numel, GOLDEN_REL_TOL);
            continue;
        }
        const float *gr = params_grad(t, i);
        int untouched = !st_find(ref, key);
        for (size_t k = 0; k < t->items[i].numel; k++) {
            untouched &= gr[k] == SENTINEL;
        }
        if (!untouched) {
            printf("FAIL %s: frozen, but its gradient was written (or PyTorch has one)\n",
                   t->items[i].name);
        }
        ok &= untouched;
        (*n_frozen)++;
    }
    printf("%-4s %d frozen weights: no gradient written (PyTorch: None)\n", ok ? "OK" : "FAIL",
           *n_frozen);
    return ok;
}

static int check_after(const Model *m, const SafeTensors *ref)
{
    const ParamTable *t = &m->params;
    int ok = 1;
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->items[i];
        char key[160];
        snprintf(key, sizeof key, "after.%s", p->name);
        if (p->kind == PARAM_COUNTER) {
            int32_t *want = golden_load_i32(ref, key, NULL);
            int same = *params_counter(t, i) == want[0];
            if (!same) {
                printf("FAIL %s = %lld (want %d)\n", key, (long long)*params_counter(t, i),
                       want[0]);
            }
            ok &= same;
            free(want);
        } else {
            ok &= golden_check(ref, key, params_data(t, i), p->numel, GOLDEN_REL_TOL);
        }
    }
    return ok;
}

static void layer_freeze_golden(void **state)
{
    (void)state;
    SafeTensors *ref = golden_open("resnet18_layer_freeze.safetensors");
    float *x = golden_load(ref, "input", NULL);
    int32_t *labels = golden_load_i32(ref, "labels", NULL);
    Model m;
    setup_model(&m);
    int ok = check_plan(&m);

    for (size_t k = 0; k < m.params.n_weights; k++) {
        m.params.grads[k] = SENTINEL;
    }
    params_zero_grad(&m.params);
    forward_with_kinks(&m, x, ref);
    ok &= golden_check(ref, "logits", model_logits(&m), BATCH * CLASSES, GOLDEN_REL_TOL);
    float loss = model_loss(&m, labels, SMOOTHING);
    ok &= golden_check(ref, "loss", &loss, 1, GOLDEN_REL_TOL);
    model_backward(&m, labels, SMOOTHING);
    int n_frozen = 0;
    ok &= check_grads(&m, ref, &n_frozen);
    assert_true(n_frozen > 0);

    Optimizer opt;
    ThawError err = {0};
    assert_int_equal(optimizer_init(&opt, OPT_ADAMW, &m.params, &err), 0);
    optimizer_step(&opt, &m.params);
    printf("== after one AdamW step (frozen layers: no update, no weight decay)\n");
    ok &= check_after(&m, ref);
    /* the optimizer kept no state for frozen entries */
    for (int i = 0; i < m.params.count; i++) {
        ok &= opt.steps[i] == (int64_t)params_trainable(&m.params, i);
    }
    optimizer_free(&opt);
    model_free(&m);
    free(x);
    free(labels);
    st_close(ref);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layer_freeze_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
