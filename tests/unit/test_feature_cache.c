/* The feature cache: a forward that starts at the frozen boundary from
 * stored rows gives bit-for-bit the logits and gradients of the full
 * forward; the boundary follows the freeze state and input size (stored
 * rows are dropped when it moves); no cache where ops below the boundary
 * are not deterministic (train_bn, active dropout); the fill pass's order
 * of missing items, and its zero-padded last batch giving the rows a full
 * batch gives up to float rounding. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/graph/feature_cache.h"
#include "engine/models/model.h"

#define N 4
#define S 32
#define K 5

static void freeze_all_but(Model *m, const char *const *trainable, int n)
{
    for (int g = 0; g < m->params.n_groups; g++) {
        m->params.groups[g].frozen = 1;
        for (int i = 0; i < n; i++) {
            if (strcmp(m->params.groups[g].name, trainable[i]) == 0) {
                m->params.groups[g].frozen = 0;
            }
        }
    }
}

static void plan(Model *m, int size, int train_bn)
{
    ThawError err = {0};
    GraphMode mode = {.training = 1, .train_bn = train_bn};
    assert_int_equal(model_plan(m, N, size, size, &mode, &err), 0);
}

static float *random_input(int size, uint64_t seed)
{
    size_t n = (size_t)N * 3 * size * size;
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((seed >> 40) & 0xFFFF) / 32768.0f - 1.0f;
    }
    return x;
}

static void cached_forward_is_bit_identical(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "resnet18", K, 7, &err), 0);
    static const char *const head[] = {"head"};
    freeze_all_but(&m, head, 1);
    plan(&m, S, 0);

    FeatureCache fc;
    feature_cache_init(&fc);
    char why[256];
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 1);
    assert_true(fc.b.first_op > 0);
    assert_int_equal(fc.b.row, 512);   /* pooled resnet18 features */

    float *x = random_input(S, 3);
    int32_t labels[N] = {0, 3, 1, 4};
    int64_t items[N] = {7, 2, 9, 0};
    size_t nw = m.params.n_weights;
    float *logits_ref = malloc(N * K * sizeof(float));
    float *grads_ref = malloc(nw * sizeof(float));
    assert_non_null(logits_ref);
    assert_non_null(grads_ref);

    /* the plain forward */
    model_forward(&m, x);
    memcpy(logits_ref, model_logits(&m), N * K * sizeof(float));
    float loss_ref = model_loss(&m, labels, 0.1f);
    params_zero_grad(&m.params);
    model_backward(&m, labels, 0.1f);
    memcpy(grads_ref, m.params.grads, nw * sizeof(float));

    /* the filling forward: ops up to the boundary, store, the rest */
    assert_false(feature_cache_has_all(&fc, items, N));
    model_set_input(&m, x);
    graph_forward_range(&m.graph, &m.params, 0, fc.b.first_op);
    feature_cache_store(&fc, &m.graph, items, N);
    graph_forward_from(&m.graph, &m.params, fc.b.first_op);
    assert_memory_equal(model_logits(&m), logits_ref, N * K * sizeof(float));
    assert_int_equal(fc.n_filled, N);
    assert_true(feature_cache_has_all(&fc, items, N));
    int64_t missing[N] = {7, 2, 9, 1};
    assert_false(feature_cache_has_all(&fc, missing, N));

    /* the cached forward, after the boundary buffer was clobbered */
    memset(m.graph.values[fc.b.value].data, 0xFF,
           m.graph.values[fc.b.value].numel * sizeof(float));
    memset(m.graph.values[m.graph.output].data, 0, N * K * sizeof(float));
    feature_cache_load(&fc, &m.graph, items, N);
    graph_forward_from(&m.graph, &m.params, fc.b.first_op);
    assert_memory_equal(model_logits(&m), logits_ref, N * K * sizeof(float));
    float loss = model_loss(&m, labels, 0.1f);
    assert_memory_equal(&loss, &loss_ref, sizeof loss);
    params_zero_grad(&m.params);
    model_backward(&m, labels, 0.1f);
    assert_memory_equal(m.params.grads, grads_ref, nw * sizeof(float));

    free(x);
    free(logits_ref);
    free(grads_ref);
    feature_cache_free(&fc);
    model_free(&m);
}

static void boundary_moves_with_freeze_and_size(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "resnet18", K, 7, &err), 0);
    static const char *const head[] = {"head"};
    freeze_all_but(&m, head, 1);
    plan(&m, S, 0);
    FeatureCache fc;
    feature_cache_init(&fc);
    char why[256];
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 1);
    int head_first = fc.b.first_op;
    float *x = random_input(S, 5);
    int64_t items[N] = {0, 1, 2, 3};
    model_set_input(&m, x);
    graph_forward_range(&m.graph, &m.params, 0, fc.b.first_op);
    feature_cache_store(&fc, &m.graph, items, N);
    assert_int_equal(fc.n_filled, N);

    /* same plan again: rows kept */
    plan(&m, S, 0);
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 1);
    assert_int_equal(fc.n_filled, N);
    assert_int_equal(fc.dropped, 0);

    /* unfreeze layer4: the boundary moves down to layer4's input and the
     * stored head features are dropped */
    static const char *const l4[] = {"layer4", "head"};
    freeze_all_but(&m, l4, 2);
    plan(&m, S, 0);
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 1);
    assert_true(fc.b.first_op < head_first);
    const Op *first = &m.graph.ops[fc.b.first_op];
    assert_int_equal(first->type, OP_CONV);
    assert_string_equal(m.params.items[first->weight].name, "layer4.0.conv1.weight");
    assert_int_equal(fc.h * fc.w * fc.c, 2 * 2 * 256);   /* layer3 out at 32 px */
    assert_int_equal(fc.n_filled, 0);
    assert_int_equal(fc.dropped, 1);
    assert_false(feature_cache_has_all(&fc, items, N));

    /* the layer4 boundary is exact too (skip connection inside layer4) */
    float *ref = malloc(N * K * sizeof(float));
    assert_non_null(ref);
    model_forward(&m, x);
    memcpy(ref, model_logits(&m), N * K * sizeof(float));
    model_set_input(&m, x);
    graph_forward_range(&m.graph, &m.params, 0, fc.b.first_op);
    feature_cache_store(&fc, &m.graph, items, N);
    graph_forward_from(&m.graph, &m.params, fc.b.first_op);
    feature_cache_load(&fc, &m.graph, items, N);
    graph_forward_from(&m.graph, &m.params, fc.b.first_op);
    assert_memory_equal(model_logits(&m), ref, N * K * sizeof(float));

    /* another input size drops the rows */
    plan(&m, 64, 0);
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 1);
    assert_int_equal(fc.n_filled, 0);
    assert_int_equal(fc.dropped, 2);
    assert_int_equal(fc.h * fc.w * fc.c, 4 * 4 * 256);

    /* over the memory limit: refused with a note */
    FeatureCache small;
    feature_cache_init(&small);
    assert_int_equal(feature_cache_bind(&small, &m.graph, 10, 1000, why, sizeof why), 0);
    assert_non_null(strstr(why, "limit"));
    assert_int_equal(small.active, 0);
    feature_cache_free(&small);

    free(ref);
    free(x);
    feature_cache_free(&fc);
    model_free(&m);
}

static void no_cache_when_not_deterministic(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "resnet18", K, 7, &err), 0);
    static const char *const head[] = {"head"};
    freeze_all_but(&m, head, 1);
    FeatureCache fc;
    feature_cache_init(&fc);
    char why[256];

    plan(&m, S, 1);   /* train_bn: frozen BN uses batch statistics */
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 0);
    assert_non_null(strstr(why, "train_bn"));
    assert_int_equal(fc.active, 0);

    /* evaluation plan: nothing to train, no cache */
    ThawError e2 = {0};
    GraphMode eval = {.training = 0};
    assert_int_equal(model_plan(&m, N, S, S, &eval, &e2), 0);
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 0);

    /* everything trainable: the boundary would be the input itself */
    for (int g = 0; g < m.params.n_groups; g++) {
        m.params.groups[g].frozen = 0;
    }
    plan(&m, S, 0);
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 0);
    feature_cache_free(&fc);
    model_free(&m);

    /* active dropout below the trainable op stays above the cut: frozen
     * linear, dropout, trainable linear (a hand-built graph) gives the cut
     * at the dropout's input when p > 0; with the dropout first (p2 = 1)
     * nothing below it can be cached */
    for (int p = 0; p < 3; p++) {
        ParamTable t;
        params_init(&t);
        int ga = params_group(&t, "a"), gb = params_group(&t, "b");
        int64_t shape[2] = {4, 4};
        int wa = params_add(&t, "a.weight", PARAM_WEIGHT, ga, 2, shape);
        int wb = params_add(&t, "b.weight", PARAM_WEIGHT, gb, 2, shape);
        assert_int_equal(params_allocate(&t, &e2), 0);
        t.groups[ga].frozen = 1;
        Graph g;
        graph_init(&g);
        int x = graph_add_value(&g, 2, 1, 1, 4, -1);
        g.input = x;
        int in = x;
        int weights[2] = {wa, wb};
        for (int i = 0; i < 3; i++) {
            Op op;
            memset(&op, 0, sizeof op);
            op.in[0] = in;
            op.n_in = 1;
            op.bias = op.running_mean = op.running_var = op.counter = -1;
            if (i == (p == 2 ? 0 : 1)) {
                op.type = OP_DROPOUT;
                op.u.dropout_p = p ? 0.5f : 0.0f;
                op.weight = -1;
                op.weight = -1;
                op.group = ga;
            } else {
                op.type = OP_LINEAR;
                op.weight = weights[i == 2];
                op.group = i == 2 ? gb : ga;
                op.u.linear.in_features = op.u.linear.out_features = 4;
            }
            op.out = graph_add_value(&g, 2, 1, 1, 4, g.n_ops);
            in = op.out;
            assert_true(graph_add_op(&g, &op) >= 0);
        }
        g.output = in;
        GraphMode mode = {.training = 1};
        assert_int_equal(graph_plan(&g, &t, &mode, &e2), 0);
        FeatureBoundary b;
        if (p == 2) {
            assert_int_equal(feature_boundary_find(&g, &b, why, sizeof why), -1);
            assert_non_null(strstr(why, "dropout"));
        } else {
            /* p 0: the dropout is the identity, the cut is at the trainable
             * linear; p 0.5: the cut moves below the dropout */
            assert_int_equal(feature_boundary_find(&g, &b, why, sizeof why), 0);
            assert_int_equal(b.first_op, p ? 1 : 2);
            assert_int_equal(g.ops[b.first_op].type, p ? OP_DROPOUT : OP_LINEAR);
        }
        graph_free(&g);
        params_free(&t);
    }
}

/* The items a fill pass takes: the lowest without a row, ascending; a
 * zero-padded batch stores the rows a full batch does (up to rounding). */
static void fill_pass_takes_missing_items_in_order(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "resnet18", K, 7, &err), 0);
    static const char *const l4[] = {"layer4", "head"};
    freeze_all_but(&m, l4, 2);   /* a spatial boundary: layer3's output */
    plan(&m, S, 0);
    FeatureCache fc;
    feature_cache_init(&fc);
    int64_t got[N];
    assert_int_equal(feature_cache_next_missing(&fc, got, N), 0);   /* not bound */
    char why[256];
    assert_int_equal(feature_cache_bind(&fc, &m.graph, 10, 0, why, sizeof why), 1);

    /* a training batch drew 7, 2, 9, 0 */
    float *x = random_input(S, 11);
    int64_t drawn[N] = {7, 2, 9, 0};
    model_set_input(&m, x);
    graph_forward_range(&m.graph, &m.params, 0, fc.b.first_op);
    feature_cache_store(&fc, &m.graph, drawn, N);
    assert_int_equal(feature_cache_next_missing(&fc, got, N), N);
    int64_t want1[N] = {1, 3, 4, 5};
    assert_memory_equal(got, want1, sizeof want1);
    assert_int_equal(feature_cache_next_missing(&fc, got, 2), 2);   /* at most max */
    assert_memory_equal(got, want1, 2 * sizeof *got);

    /* the fill pass: a full batch, then 6 and 8 in a zero-padded one */
    model_set_input(&m, x);
    graph_forward_range(&m.graph, &m.params, 0, fc.b.first_op);
    feature_cache_store(&fc, &m.graph, want1, N);
    assert_int_equal(feature_cache_next_missing(&fc, got, N), 2);
    assert_int_equal(got[0], 6);
    assert_int_equal(got[1], 8);
    size_t per = (size_t)3 * S * S;
    float *padded = calloc((size_t)N * per, sizeof *padded);
    assert_non_null(padded);
    memcpy(padded, x, 2 * per * sizeof *padded);   /* the images of x's samples 0, 1 */
    model_set_input(&m, padded);
    graph_forward_range(&m.graph, &m.params, 0, fc.b.first_op);
    feature_cache_store(&fc, &m.graph, got, 2);
    assert_int_equal(fc.n_filled, 10);
    assert_int_equal(feature_cache_next_missing(&fc, got, N), 0);
    int64_t all[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_true(feature_cache_has_all(&fc, all, 10));

    /* item 6 holds sample 0 of x from the padded batch, item 7 the same
     * sample from the full batch */
    const float *r6 = fc.rows + 6 * fc.b.row, *r7 = fc.rows + 7 * fc.b.row;
    double worst = 0, scale = 0;
    for (size_t i = 0; i < fc.b.row; i++) {
        double d = fabs((double)r6[i] - (double)r7[i]);
        worst = d > worst ? d : worst;
        scale = fabs((double)r7[i]) > scale ? fabs((double)r7[i]) : scale;
    }
    assert_true(scale > 0);
    assert_true(worst <= 1e-5 * scale);

    free(padded);
    free(x);
    feature_cache_free(&fc);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cached_forward_is_bit_identical),
        cmocka_unit_test(boundary_moves_with_freeze_and_size),
        cmocka_unit_test(no_cache_when_not_deterministic),
        cmocka_unit_test(fill_pass_takes_missing_items_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
