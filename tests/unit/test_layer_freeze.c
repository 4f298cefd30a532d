/* Per-layer (per-module) freezing:
 *  - the parameter table: module membership by name (no prefix accidents),
 *    a layer's own choice over its group's flag, a group change clearing
 *    the choices of its layers, trainable counts;
 *  - the planner: a frozen BN between trainable layers runs backward for
 *    its input only, in eval mode; train_bn keeps batch statistics;
 *  - run files: frozen_layers / trainable_layers parsed strictly, an
 *    unknown layer named with its key at setup, the result equal to the
 *    same freeze made live at the start;
 *  - live surgery through train_ctl_set_layer_frozen on a tiny resnet18 run
 *    (32x32 Fashion-MNIST, 30 train items, batch 8): snapshot partial
 *    groups, frozen layers not updated (BN running statistics too), a
 *    layer thawed inside a frozen group trains, log lines, the journal,
 *    errors; and the journal resume: runs resumed after layer changes end
 *    byte-identical to the straight run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/io/safetensors.h"
#include "engine/models/model.h"
#include "engine/run/run_config.h"
#include "engine/run/train_control.h"
#include "engine/run/train_job.h"
#include "support/train_fixture.h"

static char g_tmp[256];

/* ---- parameter table and planner (no data needed) ---- */

static void module_membership(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create_with_head(&m, "resnet18", 10, 256, 1, &err), 0);
    ParamTable *t = &m.params;
    int l4 = params_find_group(t, "layer4");
    params_set_group_frozen(t, l4, 0);
    assert_int_equal(params_module_frozen(t, "layer4.0.bn1"), 0);
    assert_int_equal(params_module_frozen(t, "layer4"), -1);        /* a group */
    assert_int_equal(params_module_frozen(t, "layer4.0"), -1);      /* a block */
    assert_int_equal(params_module_frozen(t, "layer4.0.bn"), -1);   /* a prefix */
    assert_int_equal(params_module_frozen(t, "layer4.0.bn1.weight"), -1);
    assert_int_equal(params_set_module_frozen(t, "layer4.0.conv", 1), 0);
    assert_int_equal(params_set_module_frozen(t, "layer4.0.bn1", 1), 5);   /* w, b, stats, count */
    assert_int_equal(params_set_module_frozen(t, "fc.0", 1), 2);
    assert_int_equal(params_module_frozen(t, "layer4.0.bn1"), 1);
    assert_int_equal(params_module_frozen(t, "layer4.0.bn2"), 0);
    assert_false(params_trainable(t, params_find(t, "layer4.0.bn1.bias")));
    assert_true(params_trainable(t, params_find(t, "layer4.0.conv1.weight")));
    assert_true(params_group_has_overrides(t, l4));
    size_t all = params_count_weights(t, l4, 0);
    assert_int_equal(params_count_weights(t, l4, 1), all - 1024);
    /* a layer of a frozen group thaws on its own */
    int l3 = params_find_group(t, "layer3");
    params_set_group_frozen(t, l3, 1);
    assert_int_equal(params_set_module_frozen(t, "layer3.1.conv2", 0), 1);
    assert_int_equal(params_count_weights(t, l3, 1), 256 * 256 * 9);
    /* setting the group sets every layer again */
    params_set_group_frozen(t, l4, 0);
    assert_false(params_group_has_overrides(t, l4));
    assert_int_equal(params_module_frozen(t, "layer4.0.bn1"), 0);
    assert_int_equal(params_count_weights(t, l4, 1), all);
    /* a choice equal to the group's flag is no override */
    assert_int_equal(params_set_module_frozen(t, "layer4.1.conv1", 0), 1);
    assert_false(params_group_has_overrides(t, l4));
    char name[PARAM_NAME_MAX];
    params_module_name(t, params_find(t, "layer4.0.downsample.1.running_var"), name,
                       sizeof name);
    assert_string_equal(name, "layer4.0.downsample.1");
    model_free(&m);
}

static const Op *op_of(const Model *m, const char *weight)
{
    int p = params_find(&m->params, weight);
    for (int i = 0; i < m->graph.n_ops; i++) {
        if (m->graph.ops[i].weight == p) {
            return &m->graph.ops[i];
        }
    }
    fail_msg("no op for %s", weight);
    return NULL;
}

static void plan_through_frozen_layers(void **state)
{
    (void)state;
    Model m;
    ThawError err = {0};
    assert_int_equal(model_create_with_head(&m, "resnet18", 10, 0, 1, &err), 0);
    ParamTable *t = &m.params;
    for (int g = 0; g < t->n_groups; g++) {
        params_set_group_frozen(t, g, strcmp(t->groups[g].name, "layer4") != 0 &&
                                          strcmp(t->groups[g].name, "head") != 0);
    }
    params_set_module_frozen(t, "layer4.0.bn1", 1);
    GraphMode mode = {.training = 1};
    assert_int_equal(model_plan(&m, 2, 32, 32, &mode, &err), 0);
    const Op *bn = op_of(&m, "layer4.0.bn1.weight");
    assert_true(bn->runs_backward);       /* conv1 below it trains */
    assert_false(bn->trainable);
    assert_false(bn->bn_batch_stats);     /* eval mode */
    assert_true(op_of(&m, "layer4.0.bn2.weight")->bn_batch_stats);
    const Op *conv = op_of(&m, "layer4.0.conv1.weight");
    assert_true(conv->trainable);
    assert_false(m.graph.values[conv->in[0]].needs_grad);   /* backward stops here */
    /* freezing the whole stack below the head: layer4 passes nothing */
    params_set_module_frozen(t, "layer4.0.conv1", 1);
    assert_int_equal(model_plan(&m, 2, 32, 32, &mode, &err), 0);
    assert_false(op_of(&m, "layer4.0.conv1.weight")->runs_backward);
    assert_false(op_of(&m, "layer4.0.bn1.weight")->runs_backward);
    /* train_bn: a frozen layer's BN keeps batch statistics */
    mode.train_bn = 1;
    assert_int_equal(model_plan(&m, 2, 32, 32, &mode, &err), 0);
    assert_true(op_of(&m, "layer4.0.bn1.weight")->bn_batch_stats);
    model_free(&m);
}

/* ---- run files ---- */

static int parse_epochs(RunConfig *cfg, int epochs, const char *extra, ThawError *err)
{
    char settings[1024];
    snprintf(settings, sizeof settings,
             "\"strategy\": \"fine_tune\", \"trainable\": [\"layer4\"],"
             " \"epochs\": %d, \"batch\": 8, \"seed\": 3, \"threads\": 2, \"workers\": 1%s",
             epochs, extra);
    return fixture_tiny_resnet_config(cfg, "layers.json", settings, err);
}

static int parse(RunConfig *cfg, const char *extra, ThawError *err)
{
    return parse_epochs(cfg, 1, extra, err);
}

static void run_file_keys(void **state)
{
    (void)state;
    RunConfig cfg;
    ThawError err = {0};
    assert_int_equal(parse(&cfg, ", \"frozen_layers\": [\"layer4.0.bn1\", \"fc.0\"],"
                                 " \"trainable_layers\": [\"layer3.1.conv2\"]", &err), 0);
    assert_int_equal(cfg.n_layers, 3);
    assert_string_equal(cfg.layers[1].name, "fc.0");
    assert_true(cfg.layers[1].frozen);
    assert_false(cfg.layers[2].frozen);
    run_config_free(&cfg);
    static const struct {
        const char *extra, *want;
    } bad[] = {
        {", \"frozen_layers\": \"layer4.0.bn1\"", "key 'frozen_layers' must be a list"},
        {", \"trainable_layers\": [\"a\", 3]", "key 'trainable_layers[1]' must be a layer name"},
        {", \"frozen_layers\": [\"\"]", "key 'frozen_layers[0]' must be a layer name"},
        {", \"frozen_layers\": [\"fc.0\"], \"trainable_layers\": [\"fc.0\"]",
         "key 'trainable_layers[0]': layer 'fc.0' is already listed in the other"},
        {", \"frozen_layer\": [\"fc.0\"]", "unknown key 'frozen_layer'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_not_equal(parse(&cfg, bad[i].extra, &err), 0);
        if (!strstr(err.msg, bad[i].want) || !strstr(err.msg, "layers.json")) {
            fail_msg("'%s' gave '%s'", bad[i].extra, err.msg);
        }
        run_config_free(&cfg);
    }
}

/* ---- live surgery ---- */

typedef struct {
    char logs[8192];
    int calls, checks;
    float *bn_w, *bn_mean, *c3, *c3_bn;
    size_t n_bn, n_c3, n_c3_bn;
    char saved[1100];
    const char *freeze_at_start;   /* run-file equivalence: made live */
    float *final_w;
    size_t n_final;
} Live;

static void record(const TrainEvent *ev, void *user)
{
    Live *s = user;
    if (ev->kind == TRAIN_EV_LOG || ev->kind == TRAIN_EV_START) {
        fixture_append_log(s->logs, sizeof s->logs, ev->msg);
    }
}

static void check_errors(TrainCtl *ctl)
{
    ThawError err = {0};
    assert_int_not_equal(train_ctl_set_layer_frozen(ctl, "layer4.0.bn9", 1, &err), 0);
    assert_non_null(strstr(err.msg, "no layer 'layer4.0.bn9' in resnet18"));
    assert_int_not_equal(train_ctl_set_layer_frozen(ctl, "layer4", 1, &err), 0);
    assert_non_null(strstr(err.msg, "it is a group"));
    assert_int_not_equal(train_ctl_set_layer_frozen(ctl, NULL, 1, &err), 0);
    /* already in that state: nothing happens, nothing journaled */
    assert_int_equal(train_ctl_set_layer_frozen(ctl, "layer4.1.conv1", 0, &err), 0);
    assert_int_equal(train_ctl_set_layer_frozen(ctl, "layer1.0.conv1", 1, &err), 0);
}

static TrainBoundaryAction live_script(TrainCtl *ctl, void *user)
{
    Live *s = user;
    ThawError err = {0};
    TrainSnapshot snap;
    int64_t step = train_ctl_step(ctl);
    s->calls++;
    if (train_ctl_at_start(ctl)) {
        check_errors(ctl);
        assert_int_equal(train_ctl_set_layer_frozen(ctl, "layer4.0.bn1", 1, &err), 0);
        assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
        const TrainSnapGroup *l4 = &snap.groups[4];
        assert_string_equal(l4->name, "layer4");
        assert_false(l4->frozen);
        assert_true(l4->partial);
        assert_int_equal(l4->trainable_params, l4->params - 1024);
        assert_false(l4->bn_batch_stats == 0);   /* bn2, downsample.1... still train */
        assert_true(fixture_find_layer(&snap, "layer4.0.bn1")->frozen);
        assert_false(fixture_find_layer(&snap, "layer4.0.bn2")->frozen);
        assert_false(snap.groups[5].partial);
        assert_true(snap.groups[3].frozen);
        assert_false(snap.groups[3].partial);
        assert_int_equal(snap.trainable_params, l4->trainable_params + snap.groups[5].params);
        train_snapshot_free(&snap);
        s->bn_w = fixture_copy_tensor(ctl, "layer4.0.bn1.weight", &s->n_bn);
        s->bn_mean = fixture_copy_tensor(ctl, "layer4.0.bn1.running_mean", &s->n_bn);
        s->checks++;
    } else if (step == 1) {
        assert_true(fixture_tensor_equals(ctl, "layer4.0.bn1.weight", s->bn_w, s->n_bn));
        assert_true(fixture_tensor_equals(ctl, "layer4.0.bn1.running_mean", s->bn_mean, s->n_bn));
        /* thaw one conv inside the frozen layer3 */
        s->c3 = fixture_copy_tensor(ctl, "layer3.1.conv2.weight", &s->n_c3);
        s->c3_bn = fixture_copy_tensor(ctl, "layer3.1.bn2.weight", &s->n_c3_bn);
        assert_int_equal(train_ctl_set_layer_frozen(ctl, "layer3.1.conv2", 0, &err), 0);
        assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
        assert_true(snap.groups[3].partial);
        assert_false(snap.groups[3].frozen);
        assert_int_equal(snap.groups[3].trainable_params, 256 * 256 * 9);
        assert_false(snap.groups[3].bn_batch_stats);   /* its BNs stay frozen */
        train_snapshot_free(&snap);
        s->checks++;
    } else if (step == 2) {
        assert_false(fixture_tensor_equals(ctl, "layer3.1.conv2.weight", s->c3, s->n_c3));
        assert_true(fixture_tensor_equals(ctl, "layer3.1.bn2.weight", s->c3_bn, s->n_c3_bn));
        assert_true(fixture_tensor_equals(ctl, "layer4.0.bn1.running_mean", s->bn_mean, s->n_bn));
        /* a group change sets every layer of the group */
        assert_int_equal(train_ctl_set_frozen(ctl, "layer4", 0, &err), 0);
        assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
        assert_false(snap.groups[4].partial);
        assert_false(fixture_find_layer(&snap, "layer4.0.bn1")->frozen);
        train_snapshot_free(&snap);
        assert_int_equal(train_ctl_save(ctl, s->saved, sizeof s->saved, &err), 0);
        s->checks++;
    }
    return TRAIN_CONTINUE;
}

static void live_surgery(void **state)
{
    (void)state;
    RunConfig cfg;
    ThawError err = {0};
    assert_int_equal(parse(&cfg, "", &err), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/live", g_tmp);
    Live *s = calloc(1, sizeof *s);
    assert_non_null(s);
    TrainResult res;
    fixture_run(&cfg, dir, NULL, live_script, record, s, &res);
    assert_int_equal(s->checks, 3);
    assert_non_null(strstr(s->logs, "step 0: layer layer4.0.bn1 (layer4) frozen, BatchNorm "
                                    "in eval mode; backward now stops at layer4.0.conv1"));
    assert_non_null(strstr(s->logs, "step 1: layer layer3.1.conv2 (layer3) trainable; "
                                    "backward now stops at layer3.1.conv2; feature cache"));
    assert_non_null(strstr(s->logs, "step 2: layer4 trainable; backward now stops at "
                                    "layer3.1.conv2"));
    SafeTensors *st = NULL;
    assert_int_equal(st_open(&st, s->saved, &err), 0);
    assert_string_equal(st_metadata(st, "journal"),
                        "[{\"step\":0,\"kind\":\"layer_freeze\",\"layer\":\"layer4.0.bn1\","
                        "\"value\":1},{\"step\":1,\"kind\":\"layer_unfreeze\",\"layer\":"
                        "\"layer3.1.conv2\",\"value\":0},{\"step\":2,\"kind\":\"unfreeze\","
                        "\"group\":\"layer4\",\"value\":0}]");
    st_close(st);
    fixture_remove_dir(dir);
    free(s->bn_w);
    free(s->bn_mean);
    free(s->c3);
    free(s->c3_bn);
    free(s);
    run_config_free(&cfg);
}

/* ---- run file = the same freeze made live at the start ---- */

static TrainBoundaryAction start_script(TrainCtl *ctl, void *user)
{
    Live *s = user;
    ThawError err = {0};
    if (train_ctl_at_start(ctl)) {
        if (s->freeze_at_start) {
            assert_int_equal(train_ctl_set_layer_frozen(ctl, s->freeze_at_start, 1, &err), 0);
        }
        s->bn_mean = fixture_copy_tensor(ctl, "layer4.1.bn2.running_var", &s->n_bn);
    } else if (train_ctl_step(ctl) == 3) {
        assert_true(fixture_tensor_equals(ctl, "layer4.1.bn2.running_var", s->bn_mean, s->n_bn));
        s->final_w = fixture_copy_tensor(ctl, "layer4.1.conv2.weight", &s->n_final);
        s->checks++;
    }
    return TRAIN_CONTINUE;
}

static void run_file_equals_live(void **state)
{
    (void)state;
    RunConfig file, live;
    ThawError err = {0};
    assert_int_equal(parse(&file, ", \"frozen_layers\": [\"layer4.1.bn2\"]", &err), 0);
    assert_int_equal(parse(&live, "", &err), 0);
    Live a = {0}, b = {.freeze_at_start = "layer4.1.bn2"};
    char dir[300];
    snprintf(dir, sizeof dir, "%s/equal", g_tmp);
    TrainOptions opt = {.out_dir = dir, .on_event = record, .user = &a,
                        .on_boundary = start_script};
    TrainResult res;
    if (train_run(&file, &opt, &res, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_non_null(strstr(a.logs, "layer4(lr 0.001, some layers frozen)"));
    opt.user = &b;
    assert_int_equal(train_run(&live, &opt, &res, &err), 0);
    assert_int_equal(a.checks + b.checks, 2);
    assert_int_equal(a.n_final, b.n_final);
    assert_memory_equal(a.final_w, b.final_w, a.n_final * sizeof(float));
    free(a.bn_mean);
    free(b.bn_mean);
    free(a.final_w);
    free(b.final_w);
    run_config_free(&live);
    run_config_free(&file);
    opt.on_boundary = NULL;
    /* an unknown layer is named with its key when the model is built */
    assert_int_equal(parse(&file, ", \"frozen_layers\": [\"fc.0\", \"layer4.0.bn3\"]", &err),
                     0);
    assert_int_not_equal(train_run(&file, &opt, &res, &err), 0);
    assert_non_null(strstr(err.msg, "layers.json: key 'frozen_layers[1]' names no layer of "
                                    "resnet18: 'layer4.0.bn3'"));
    run_config_free(&file);
    fixture_remove_dir(dir);
}

/* ---- journal resume with layer changes ---- */

typedef struct {
    int64_t save_at;
    int changes;
} Journal;

/* freeze layer4.1.bn2 at 1, thaw layer3.1.conv2 at 2 (the cache boundary
 * moves down), freeze it again at 4 (back up) */
static TrainBoundaryAction journal_script(TrainCtl *ctl, void *user)
{
    Journal *s = user;
    ThawError err = {0};
    int64_t step = train_ctl_step(ctl);
    if (!train_ctl_at_start(ctl)) {
        const char *name = step == 1 ? "layer4.1.bn2" : step == 2 || step == 4 ? "layer3.1.conv2"
                                                                              : NULL;
        if (name) {
            assert_int_equal(train_ctl_set_layer_frozen(ctl, name, step != 2, &err), 0);
            s->changes++;
        }
    }
    fixture_save_if_at(ctl, s->save_at);
    return TRAIN_CONTINUE;
}

static void run_journal(const RunConfig *cfg, const char *name, const char *resume,
                        int64_t save_at, int expect_changes)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
    Journal s = {.save_at = save_at};
    TrainResult res;
    fixture_run(cfg, dir, resume, journal_script, NULL, &s, &res);
    assert_int_equal(s.changes, expect_changes);
}

static void journal_resume(void **state)
{
    (void)state;
    RunConfig cfg;
    ThawError err = {0};
    assert_int_equal(parse_epochs(&cfg, 2, "", &err), 0);
    char pa[600], pb[600], pc[600];
    run_journal(&cfg, "straight", NULL, 4, 3);
    snprintf(pa, sizeof pa, "%s/straight/step-000004.safetensors", g_tmp);
    run_journal(&cfg, "mid", pa, -1, 0);
    snprintf(pa, sizeof pa, "%s/straight/epoch-001.safetensors", g_tmp);
    run_journal(&cfg, "epoch", pa, -1, 1);   /* makes the step-4 change live */
    SafeTensors *st = NULL;
    assert_int_equal(st_open(&st, pa, &err), 0);
    assert_string_equal(st_metadata(st, "journal"),
                        "[{\"step\":1,\"kind\":\"layer_freeze\",\"layer\":\"layer4.1.bn2\","
                        "\"value\":1},{\"step\":2,\"kind\":\"layer_unfreeze\",\"layer\":"
                        "\"layer3.1.conv2\",\"value\":0}]");
    st_close(st);
    snprintf(pa, sizeof pa, "%s/straight/epoch-002.safetensors", g_tmp);
    snprintf(pb, sizeof pb, "%s/mid/epoch-002.safetensors", g_tmp);
    snprintf(pc, sizeof pc, "%s/epoch/epoch-002.safetensors", g_tmp);
    assert_true(fixture_files_equal(pa, pb));
    assert_true(fixture_files_equal(pa, pc));
    static const char *const runs[] = {"straight", "mid", "epoch"};
    for (int i = 0; i < 3; i++) {
        snprintf(pa, sizeof pa, "%s/%s", g_tmp, runs[i]);
        fixture_remove_dir(pa);
    }
    run_config_free(&cfg);
}

static int setup(void **state)
{
    (void)state;
    return fixture_make_tmp(g_tmp, sizeof g_tmp, "thaw_layer_freeze");
}

static int teardown(void **state)
{
    (void)state;
    return fixture_remove_tmp(g_tmp);
}

FIXTURE_NEEDS_FMNIST(live_surgery)
FIXTURE_NEEDS_FMNIST(run_file_equals_live)
FIXTURE_NEEDS_FMNIST(journal_resume)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(module_membership),
        cmocka_unit_test(plan_through_frozen_layers),
        cmocka_unit_test(run_file_keys),
        cmocka_unit_test(live_surgery_or_skip),
        cmocka_unit_test(run_file_equals_live_or_skip),
        cmocka_unit_test(journal_resume_or_skip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
