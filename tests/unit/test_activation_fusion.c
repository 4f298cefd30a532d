/* The activation fusion plan (engine/graph/activation_fusion.h): which
 * relu / relu6 ops the GPU executor may fold into the batch norm or add
 * before them. Real models' plans (every such activation folds, for
 * training, fine-tuning and eval plans), and hand-built graphs for each
 * reason to refuse: a second consumer, the graph output, a partial
 * overlap of buffers, an activation not fed by batch norm or add. Then
 * which fused adds may also take their activation's backward
 * (graph_add_backward_folds): in real training plans only in assign mode,
 * and on hand-built buffers each rule (exact alias, partial overlap of the
 * activation's output or gradient, x + x, an input read later, zero-then-
 * add). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/graph/activation_fusion.h"
#include "engine/models/model.h"

/* Activations right after the batch norm or add that feeds them. */
static int candidates(const Graph *g)
{
    int n = 0;
    for (int i = 1; i < g->n_ops; i++) {
        const Op *op = &g->ops[i], *prev = &g->ops[i - 1];
        n += (op->type == OP_RELU || op->type == OP_RELU6) &&
             (prev->type == OP_BATCHNORM || prev->type == OP_ADD) && op->in[0] == prev->out;
    }
    return n;
}

/* Fused adds of a planned graph that may take their activation's
 * backward, over the CPU plan's data and gradient buffers. */
static int add_folds(const Graph *g, const unsigned char *fuse, int assign)
{
    const float **data = malloc((size_t)g->n_values * sizeof *data);
    const float **grad = malloc((size_t)g->n_values * sizeof *grad);
    assert_true(data && grad);
    for (int v = 0; v < g->n_values; v++) {
        data[v] = g->values[v].data;
        grad[v] = g->values[v].grad;
    }
    int n = 0;
    for (int i = 0; i < g->n_ops; i++) {
        n += g->ops[i].type == OP_ADD && graph_add_backward_folds(g, data, grad, fuse, i, assign);
    }
    free(data);
    free(grad);
    return n;
}

static int plan_model(Model *m, const GraphMode *mode, unsigned char **fuse)
{
    ThawError err = {0};
    assert_int_equal(model_plan(m, 2, 64, 64, mode, &err), 0);
    const Graph *g = &m->graph;
    const float **data = malloc((size_t)g->n_values * sizeof *data);
    assert_non_null(data);
    for (int v = 0; v < g->n_values; v++) {
        data[v] = g->values[v].data;
    }
    *fuse = realloc(*fuse, (size_t)g->n_ops);
    int folded = graph_plan_activation_fusion(g, data, *fuse);
    free(data);
    /* every fold pairs a producer with the activation right after it */
    int marked = 0;
    for (int i = 0; i < g->n_ops; i++) {
        if ((*fuse)[i] == GRAPH_FUSE_ACT_AFTER) {
            assert_true(i + 1 < g->n_ops);
            assert_int_equal((*fuse)[i + 1], GRAPH_FUSE_DONE_BEFORE);
            assert_true(g->ops[i].type == OP_BATCHNORM || g->ops[i].type == OP_ADD);
            assert_int_equal(g->ops[i + 1].in[0], g->ops[i].out);
            marked++;
        }
    }
    assert_int_equal(marked, folded);
    return folded;
}

static void every_activation_folds_in_real_models(void **state)
{
    (void)state;
    static const struct {
        const char *arch;
        int expected;          /* relu / relu6 ops after a batch norm or add */
        int adds, adds_folding; /* residual adds + relu; those that fold backward too */
    } cases[] = {{"resnet18", 17, 8, 8}, {"resnet50", 49, 16, 16},
                 {"efficientnet_lite0", 33, 0, 0}};
    unsigned char *fuse = NULL;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Model m;
        ThawError err = {0};
        assert_int_equal(model_create(&m, cases[k].arch, 10, 1, &err), 0);
        GraphMode train = {.training = 1}, eval = {.training = 0};
        assert_int_equal(plan_model(&m, &train, &fuse), cases[k].expected);
        assert_int_equal(candidates(&m.graph), cases[k].expected);   /* built by the plan */
        /* the fused adds that take their relu's backward: in assign mode
         * only (zero-then-add would clear what they read) */
        const int folds = add_folds(&m.graph, fuse, 1);
        printf("%s: %d of %d fused adds take their activation's backward\n", cases[k].arch,
               folds, cases[k].adds);
        assert_int_equal(folds, cases[k].adds_folding);
        assert_int_equal(add_folds(&m.graph, fuse, 0), 0);
        assert_int_equal(plan_model(&m, &eval, &fuse), cases[k].expected);
        /* fine-tuning: the first groups frozen (their BN in eval mode) */
        for (int g = 0; g < m.params.n_groups / 2; g++) {
            params_set_group_frozen(&m.params, g, 1);
        }
        assert_int_equal(plan_model(&m, &train, &fuse), cases[k].expected);
        model_free(&m);
    }
    free(fuse);
}

/* A hand-built graph: ops of the given types, each reading the value
 * before it (in[1] for the adds: the graph input); value v's buffer at
 * base + offset[v] floats. */
typedef struct {
    Graph g;
    float base[4096];
    const float *data[16];
    unsigned char fuse[16];
} Tiny;

static void tiny_build(Tiny *t, const OpType *types, int n_ops)
{
    graph_init(&t->g);
    t->g.input = graph_add_value(&t->g, 1, 4, 4, 8, -1);
    int x = t->g.input;
    for (int i = 0; i < n_ops; i++) {
        Op op;
        memset(&op, 0, sizeof op);
        op.type = types[i];
        op.in[0] = x;
        op.n_in = 1;
        if (types[i] == OP_ADD) {
            op.in[1] = t->g.input;
            op.n_in = 2;
        }
        op.weight = op.bias = op.running_mean = op.running_var = op.counter = -1;
        op.out = graph_add_value(&t->g, 1, 4, 4, 8, i);
        assert_int_equal(graph_add_op(&t->g, &op), i);
        x = op.out;
    }
    t->g.output = x;
    for (int v = 0; v < t->g.n_values; v++) {   /* apart: 128 floats each, 256 apart */
        t->data[v] = t->base + 256 * (v + 1);
    }
}

static int tiny_plan(Tiny *t)
{
    return graph_plan_activation_fusion(&t->g, t->data, t->fuse);
}

static void refusals_and_buffer_rules(void **state)
{
    (void)state;
    Tiny *t = calloc(1, sizeof *t);
    assert_non_null(t);
    const OpType bn_relu[] = {OP_BATCHNORM, OP_RELU};
    const OpType add_relu6[] = {OP_ADD, OP_RELU6};
    const OpType conv_relu_relu[] = {OP_CONV, OP_RELU, OP_RELU};
    const OpType bn_relu_add[] = {OP_BATCHNORM, OP_RELU, OP_ADD};

    /* apart buffers: folds */
    tiny_build(t, bn_relu, 2);
    assert_int_equal(tiny_plan(t), 1);
    assert_int_equal(t->fuse[0], GRAPH_FUSE_ACT_AFTER);
    assert_int_equal(t->fuse[1], GRAPH_FUSE_DONE_BEFORE);
    /* the activation's output in the batch norm input's own buffer: folds */
    t->data[2] = t->data[0];
    assert_int_equal(tiny_plan(t), 1);
    /* half over it: refused */
    t->data[2] = t->data[0] + 64;
    assert_int_equal(tiny_plan(t), 0);
    assert_int_equal(t->fuse[0], GRAPH_FUSE_NONE);
    assert_int_equal(t->fuse[1], GRAPH_FUSE_NONE);
    graph_free(&t->g);

    /* add + relu6, and a partial overlap with the add's second input */
    tiny_build(t, add_relu6, 2);
    assert_int_equal(tiny_plan(t), 1);
    t->data[2] = t->data[0] - 32;
    assert_int_equal(tiny_plan(t), 0);
    graph_free(&t->g);

    /* a relu after a conv or after a relu: not ours */
    tiny_build(t, conv_relu_relu, 3);
    assert_int_equal(tiny_plan(t), 0);
    graph_free(&t->g);

    /* the batch norm output read twice (relu and a later add): refused */
    tiny_build(t, bn_relu_add, 3);
    t->g.ops[2].in[1] = t->g.ops[0].out;
    assert_int_equal(tiny_plan(t), 0);
    t->g.ops[2].in[1] = t->g.input;
    assert_int_equal(tiny_plan(t), 1);
    /* the batch norm output is also the graph output: refused */
    t->g.output = t->g.ops[0].out;
    assert_int_equal(tiny_plan(t), 0);
    graph_free(&t->g);
    free(t);
}

/* conv -> add(conv out, graph input) -> relu, every value needing a
 * gradient, the add the last consumer of both inputs; data and gradient
 * buffers apart (128 floats each, 256 apart). */
static void add_backward_rules(void **state)
{
    (void)state;
    Tiny *t = calloc(1, sizeof *t);
    const float *grad[16];
    assert_non_null(t);
    const OpType conv_add_relu[] = {OP_CONV, OP_ADD, OP_RELU};
    tiny_build(t, conv_add_relu, 3);
    Graph *g = &t->g;
    for (int v = 0; v < g->n_values; v++) {
        g->values[v].needs_grad = 1;
        g->values[v].last_consumer = v == g->input ? 1 : v;   /* conv out (1): the add */
        grad[v] = t->base + 256 * (g->n_values + v + 1);
    }
    const int x = g->input, conv_out = g->ops[0].out, relu_out = g->ops[2].out;
    assert_int_equal(tiny_plan(t), 1);
    assert_int_equal(t->fuse[1], GRAPH_FUSE_ACT_AFTER);
    assert_true(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    /* zero-then-add: never (the zeroing would clear what the add reads) */
    assert_false(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 0));
    /* an input gradient exactly on the relu's gradient or output: folds */
    grad[conv_out] = grad[relu_out];
    assert_true(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    grad[conv_out] = t->data[relu_out];
    assert_true(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    /* half over either: refused */
    grad[conv_out] = grad[relu_out] + 64;
    assert_false(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    grad[conv_out] = t->data[relu_out] - 32;
    assert_false(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    grad[conv_out] = t->base + 256 * (g->n_values + conv_out + 1);
    /* an input read again earlier in the graph than the add (its first
     * gradient write is not the add's): refused; not needing one: fine */
    g->values[x].last_consumer = 0;
    assert_false(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    g->values[x].needs_grad = 0;
    assert_true(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    g->values[x].needs_grad = 1;
    g->values[x].last_consumer = 1;
    /* x + x: the second input is not a first write */
    g->ops[1].in[1] = conv_out;
    assert_false(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    g->ops[1].in[1] = x;
    /* not a fused add */
    assert_false(graph_add_backward_folds(g, t->data, grad, t->fuse, 0, 1));
    t->fuse[1] = GRAPH_FUSE_NONE;
    assert_false(graph_add_backward_folds(g, t->data, grad, t->fuse, 1, 1));
    graph_free(g);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_activation_folds_in_real_models),
        cmocka_unit_test(refusals_and_buffer_rules),
        cmocka_unit_test(add_backward_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
