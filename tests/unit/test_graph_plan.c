/* The planner: freezing decides which ops run backward, what is kept for
 * backward, and therefore how much activation memory a step needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/models/model.h"

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

static size_t plan_floats(Model *m, int training, int want_input_grad)
{
    ThawError err = {0};
    GraphMode mode = {.training = training, .want_input_grad = want_input_grad};
    assert_int_equal(model_plan(m, 2, 64, 64, &mode, &err), 0);
    return m->graph.arena_floats;
}

static int first_backward_op(const Model *m)
{
    for (int i = 0; i < m->graph.n_ops; i++) {
        if (m->graph.ops[i].runs_backward) {
            return i;
        }
    }
    return -1;
}

static void freezing_shrinks_backward_and_memory(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "resnet18", 5, 1, &err), 0);

    size_t full = plan_floats(&m, 1, 1);
    assert_int_equal(first_backward_op(&m), 0);
    assert_non_null(m.graph.values[m.graph.input].grad);

    static const char *const layer4_head[] = {"layer4", "head"};
    freeze_all_but(&m, layer4_head, 2);
    size_t fine_tune = plan_floats(&m, 1, 0);
    const Op *first = &m.graph.ops[first_backward_op(&m)];
    assert_int_equal(first->type, OP_CONV);
    assert_string_equal(m.params.items[first->weight].name, "layer4.0.conv1.weight");
    assert_null(m.graph.values[m.graph.input].grad);
    /* frozen BN runs on running statistics; trainable BN on batch stats */
    for (int i = 0; i < m.graph.n_ops; i++) {
        const Op *op = &m.graph.ops[i];
        if (op->type == OP_BATCHNORM) {
            int frozen = m.params.groups[op->group].frozen;
            assert_int_equal(op->bn_batch_stats, !frozen);
            assert_int_equal(op->trainable, !frozen);
        }
    }

    static const char *const head[] = {"head"};
    freeze_all_but(&m, head, 1);
    size_t feature_extraction = plan_floats(&m, 1, 0);
    assert_int_equal(m.graph.ops[first_backward_op(&m)].type, OP_LINEAR);

    size_t eval = plan_floats(&m, 0, 0);
    assert_int_equal(first_backward_op(&m), -1);

    printf("activation arena floats: full %zu, layer4+head %zu, head %zu, eval %zu\n",
           full, fine_tune, feature_extraction, eval);
    assert_true(fine_tune < full / 2);
    assert_true(feature_extraction <= fine_tune);
    assert_true(eval <= feature_extraction);
    model_free(&m);
}

/* train_bn: frozen groups keep their weights but BN uses (and updates)
 * batch statistics, like a model left in train() mode in PyTorch. */
static void train_bn_uses_batch_stats_in_frozen_groups(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "resnet18", 5, 1, &err), 0);
    static const char *const head[] = {"head"};
    freeze_all_but(&m, head, 1);
    GraphMode mode = {.training = 1, .train_bn = 1};
    assert_int_equal(model_plan(&m, 2, 64, 64, &mode, &err), 0);
    int bn = 0;
    for (int i = 0; i < m.graph.n_ops; i++) {
        const Op *op = &m.graph.ops[i];
        if (op->type == OP_BATCHNORM) {
            assert_true(op->bn_batch_stats);
            assert_false(op->trainable);
            assert_false(op->runs_backward);
            bn++;
        }
    }
    assert_int_equal(bn, 20);
    model_free(&m);
}

static void bad_sizes_are_refused(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "resnet50", 3, 1, &err), 0);
    GraphMode mode = {0};
    assert_int_not_equal(model_plan(&m, 1, 16, 16, &mode, &err), 0);
    assert_non_null(strstr(err.msg, "32x32"));
    assert_int_not_equal(model_plan(&m, 0, 64, 64, &mode, &err), 0);
    model_free(&m);
    assert_int_not_equal(model_create(&m, "vgg16", 3, 1, &err), 0);
    assert_non_null(strstr(err.msg, "vgg16"));
    assert_non_null(strstr(err.msg, "resnet50"));
    model_free(&m);
}

static void parameter_names_follow_torchvision(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create(&m, "resnet50", 1000, 1, &err), 0);
    /* 25,557,032 parameters in torchvision's resnet50 */
    assert_int_equal(params_count_weights(&m.params, -1, 0), 25557032);
    assert_true(params_find(&m.params, "layer4.2.bn3.running_var") >= 0);
    assert_true(params_find(&m.params, "layer1.0.downsample.1.num_batches_tracked") >= 0);
    assert_true(params_find(&m.params, "fc.bias") >= 0);
    int g = params_find_group(&m.params, "layer3");
    assert_true(g >= 0);
    model_free(&m);
    assert_int_equal(model_create(&m, "resnet18", 1000, 1, &err), 0);
    assert_int_equal(params_count_weights(&m.params, -1, 0), 11689512);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(freezing_shrinks_backward_and_memory),
        cmocka_unit_test(train_bn_uses_batch_stats_in_frozen_groups),
        cmocka_unit_test(bad_sizes_are_refused),
        cmocka_unit_test(parameter_names_follow_torchvision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
