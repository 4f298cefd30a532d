/* Live control of the training job (engine/run/train_control.h), through
 * train_run with an on_boundary callback on a tiny resnet18 run (32x32
 * Fashion-MNIST, 4 per class: 30 train items, batch 8: 3 steps per epoch):
 *  - the snapshot: group and layer names, per-sample shapes, counts that sum
 *    to the model's parameters, frozen flags, lr;
 *  - freeze/thaw surgery: weights of a thawed group start changing, of a
 *    frozen one stop; the optimizer state of a staying group is untouched;
 *    the log line says where backward stops;
 *  - set_lr reaches the next step; bad group / lr are errors changing nothing;
 *  - save writes a loadable checkpoint with the journal; TRAIN_ABANDON writes
 *    nothing; TRAIN_STOP_SAVE writes interrupted.safetensors;
 *  - journal resume: runs with live changes resumed after them (mid-epoch and
 *    from an epoch checkpoint, the feature caches moving with the boundary)
 *    end byte-identical to the straight run; a callback that changes nothing
 *    leaves the checkpoints byte-identical to a headless run's. */
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

/* ---- helpers ---- */

static void make_config(RunConfig *cfg, const char *strategy, int epochs)
{
    char settings[512];
    snprintf(settings, sizeof settings,
             "\"strategy\": \"%s\"%s, \"epochs\": %d, \"batch\": 8, \"seed\": 3,"
             " \"threads\": 2, \"workers\": 1",
             strategy, strcmp(strategy, "fine_tune") == 0 ? ", \"trainable\": [\"layer4\"]" : "",
             epochs);
    ThawError err = {0};
    if (fixture_tiny_resnet_config(cfg, "control.json", settings, &err) != 0) {
        fail_msg("%s", err.msg);
    }
}

static void out_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_tmp, name);
}

/* ---- the surgery script ---- */

typedef struct {
    char logs[8192];
    double step_lr[64];        /* head lr of each STEP event, by step */
    float *w3, *w4, *m4;
    size_t n3, n4, nm4;
    int calls, checks;
    char saved[1100];
} Surgery;

static void record_event(const TrainEvent *ev, void *user)
{
    Surgery *s = user;
    if (ev->kind == TRAIN_EV_LOG) {
        fixture_append_log(s->logs, sizeof s->logs, ev->msg);
    }
    if (ev->kind == TRAIN_EV_STEP && ev->step < 64) {
        s->step_lr[ev->step] = ev->lr;
    }
}

static void check_start_snapshot(TrainCtl *ctl)
{
    TrainSnapshot snap;
    ThawError err = {0};
    assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
    assert_true(snap.at_start);
    assert_int_equal(snap.step, 0);
    assert_int_equal(snap.epoch, 1);
    assert_int_equal(snap.epochs, 2);
    assert_int_equal(snap.total_steps, 6);
    static const char *const groups[] = {"stem", "layer1", "layer2", "layer3", "layer4",
                                         "head"};
    assert_int_equal(snap.n_groups, 6);
    for (int g = 0; g < 6; g++) {
        assert_string_equal(snap.groups[g].name, groups[g]);
        assert_int_equal(snap.groups[g].frozen, g < 4);
        assert_false(snap.groups[g].partial);
        assert_int_equal(snap.groups[g].trainable_params, g < 4 ? 0 : snap.groups[g].params);
        assert_true(snap.groups[g].base_lr == 0.001);
        assert_true(snap.groups[g].lr == (double)0.001f);
    }
    assert_true(snap.groups[4].bn_batch_stats);   /* layer4 trains: batch stats */
    assert_false(snap.groups[3].bn_batch_stats);
    /* names, shapes per sample (32x32 input) and counts */
    const TrainSnapLayer *l = fixture_find_layer(&snap, "conv1");
    assert_int_equal(l->out_h, 16);
    assert_int_equal(l->out_c, 64);
    assert_int_equal(l->group, 0);
    assert_true(l->frozen);
    assert_int_equal(l->params, 64 * 3 * 7 * 7);
    l = fixture_find_layer(&snap, "layer4.1.conv2");
    assert_int_equal(l->out_h, 1);
    assert_int_equal(l->out_w, 1);
    assert_int_equal(l->out_c, 512);
    assert_int_equal(l->params, 512 * 512 * 9);
    assert_false(l->frozen);
    assert_int_equal(fixture_find_layer(&snap, "layer4.1.bn2")->params, 1024);
    l = fixture_find_layer(&snap, "fc.0");
    assert_int_equal(l->out_c, 256);
    assert_int_equal(l->params, 512 * 256 + 256);
    assert_int_equal(l->group, 5);
    assert_int_equal(fixture_find_layer(&snap, "fc.3")->out_c, 10);
    Model m;
    assert_int_equal(model_create_with_head(&m, "resnet18", 10, 256, 1, &err), 0);
    int64_t sum_layers = 0, sum_groups = 0;
    for (int i = 0; i < snap.n_layers; i++) {
        sum_layers += snap.layers[i].params;
    }
    for (int g = 0; g < snap.n_groups; g++) {
        sum_groups += snap.groups[g].params;
    }
    assert_int_equal(sum_layers, (int64_t)m.params.n_weights);
    assert_int_equal(sum_groups, (int64_t)m.params.n_weights);
    assert_int_equal(snap.trainable_params,
                     snap.groups[4].params + snap.groups[5].params);
    model_free(&m);
    assert_non_null(strstr(snap.cache, "feature cache on"));
    train_snapshot_free(&snap);
}

static void check_bad_calls(TrainCtl *ctl)
{
    ThawError err = {0};
    assert_int_not_equal(train_ctl_set_frozen(ctl, "layer9", 0, &err), 0);
    assert_non_null(strstr(err.msg, "layer9"));
    assert_int_not_equal(train_ctl_set_layer_frozen(ctl, "layer4.9.conv1", 1, &err), 0);
    assert_non_null(strstr(err.msg, "layer4.9.conv1"));
    assert_int_not_equal(train_ctl_set_lr(ctl, "nope", 0.1, &err), 0);
    assert_non_null(strstr(err.msg, "nope"));
    assert_int_not_equal(train_ctl_set_lr(ctl, "head", -1.0, &err), 0);
    assert_non_null(strstr(err.msg, "head"));
    assert_int_not_equal(train_ctl_set_lr(ctl, "head", 0.0 / 0.0, &err), 0);
    TrainSnapshot snap;
    assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
    assert_true(snap.groups[5].base_lr == 0.001);
    assert_true(snap.groups[3].frozen);
    train_snapshot_free(&snap);
}

static TrainBoundaryAction surgery_script(TrainCtl *ctl, void *user)
{
    Surgery *s = user;
    ThawError err = {0};
    TrainSnapshot snap;
    int64_t step = train_ctl_step(ctl);
    s->calls++;
    if (train_ctl_at_start(ctl)) {
        check_start_snapshot(ctl);
        check_bad_calls(ctl);
        s->checks++;
    } else if (step == 1) {
        /* thaw layer3: it starts training; layer4's Adam state stays */
        s->w3 = fixture_copy_tensor(ctl, "layer3.0.conv1.weight", &s->n3);
        s->m4 = fixture_copy_tensor(ctl, "opt.exp_avg.layer4.0.conv1.weight", &s->nm4);
        assert_int_equal(train_ctl_set_frozen(ctl, "layer3", 0, &err), 0);
        assert_true(fixture_tensor_equals(ctl, "opt.exp_avg.layer4.0.conv1.weight", s->m4, s->nm4));
        assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
        assert_false(fixture_find_group(&snap, "layer3")->frozen);
        assert_false(fixture_find_layer(&snap, "layer3.1.conv2")->frozen);
        assert_true(fixture_find_layer(&snap, "layer2.1.conv2")->frozen);
        train_snapshot_free(&snap);
        s->checks++;
    } else if (step == 3) {
        assert_false(fixture_tensor_equals(ctl, "layer3.0.conv1.weight", s->w3, s->n3));
        /* freeze layer4: it stops; its state is kept */
        s->w4 = fixture_copy_tensor(ctl, "layer4.1.conv2.weight", &s->n4);
        assert_int_equal(train_ctl_set_frozen(ctl, "layer4", 1, &err), 0);
        s->checks++;
    } else if (step == 4) {
        assert_true(fixture_tensor_equals(ctl, "layer4.1.conv2.weight", s->w4, s->n4));
        assert_int_equal(train_ctl_set_lr(ctl, "head", 0.0005, &err), 0);
        assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
        assert_true(snap.groups[5].base_lr == 0.0005);
        assert_true(snap.groups[5].lr == (double)0.0005f);
        assert_true(snap.groups[4].frozen);
        assert_true(fixture_find_layer(&snap, "layer4.0.conv1")->frozen);
        train_snapshot_free(&snap);
        s->checks++;
    } else if (step == 5) {
        assert_int_equal(train_ctl_save(ctl, s->saved, sizeof s->saved, &err), 0);
        s->checks++;
    }
    return TRAIN_CONTINUE;
}

static void surgery(void **state)
{
    (void)state;
    RunConfig cfg;
    make_config(&cfg, "fine_tune", 2);
    char dir[300];
    out_dir(dir, sizeof dir, "surgery");
    Surgery *s = calloc(1, sizeof *s);
    assert_non_null(s);
    TrainResult res;
    ThawError err = {0};
    fixture_run(&cfg, dir, NULL, surgery_script, record_event, s, &res);
    assert_int_equal(s->calls, 7);     /* the start and 6 steps */
    assert_int_equal(s->checks, 5);
    assert_false(res.interrupted);
    assert_int_equal(res.steps_done, 6);
    /* the lr change reaches the next step, not the one before */
    assert_true(s->step_lr[4] == (double)0.001f);
    assert_true(s->step_lr[5] == (double)0.0005f);
    assert_non_null(strstr(s->logs, "step 1: layer3 trainable; backward now stops at "
                                    "layer3.0.conv1"));
    assert_non_null(strstr(s->logs, "step 3: layer4 frozen; backward now stops at "
                                    "layer3.0.conv1"));
    assert_non_null(strstr(s->logs, "step 4: head lr 0.0005 (was 0.001)"));
    /* the saved checkpoint loads and holds the journal in order */
    assert_true(fixture_file_exists(s->saved));
    SafeTensors *st = NULL;
    assert_int_equal(st_open(&st, s->saved, &err), 0);
    assert_non_null(st_find(st, "layer4.1.conv2.weight"));
    const char *journal = st_metadata(st, "journal");
    assert_non_null(journal);
    assert_string_equal(journal,
                        "[{\"step\":1,\"kind\":\"unfreeze\",\"group\":\"layer3\",\"value\":0},"
                        "{\"step\":3,\"kind\":\"freeze\",\"group\":\"layer4\",\"value\":1},"
                        "{\"step\":4,\"kind\":\"lr\",\"group\":\"head\",\"value\":0.0005}]");
    assert_string_equal(st_metadata(st, "global_step"), "5");
    st_close(st);
    free(s->w3);
    free(s->w4);
    free(s->m4);
    free(s);
    fixture_remove_dir(dir);
    run_config_free(&cfg);
}

/* ---- stop, abandon, freezing everything ---- */

typedef struct {
    int64_t at;
    TrainBoundaryAction act;
    int freeze_all;
    float *head;
    size_t n_head;
    int checked_frozen;
    char logs[4096];
} Stopper;

static void record_logs(const TrainEvent *ev, void *user)
{
    Stopper *s = user;
    if (ev->kind == TRAIN_EV_LOG) {
        fixture_append_log(s->logs, sizeof s->logs, ev->msg);
    }
}

static TrainBoundaryAction stopper_script(TrainCtl *ctl, void *user)
{
    Stopper *s = user;
    ThawError err = {0};
    if (s->freeze_all && train_ctl_at_start(ctl)) {
        assert_int_equal(train_ctl_set_frozen(ctl, "head", 1, &err), 0);
        TrainSnapshot snap;
        assert_int_equal(train_ctl_snapshot(ctl, &snap, &err), 0);
        assert_int_equal(snap.trainable_params, 0);
        train_snapshot_free(&snap);
        s->head = fixture_copy_tensor(ctl, "fc.3.weight", &s->n_head);
    }
    if (s->freeze_all && train_ctl_step(ctl) == 3) {
        assert_true(fixture_tensor_equals(ctl, "fc.3.weight", s->head, s->n_head));
        free(s->head);
        s->checked_frozen = 1;
    }
    return train_ctl_step(ctl) == s->at ? s->act : TRAIN_CONTINUE;
}

static void abandon_and_stop(void **state)
{
    (void)state;
    RunConfig cfg;
    make_config(&cfg, "feature_extraction", 2);
    char dir[300], path[400];
    TrainResult res;
    ThawError err = {0};
    Stopper s = {.at = 2, .act = TRAIN_ABANDON};   /* the run is rebuilt: nothing written */
    out_dir(dir, sizeof dir, "abandon");
    TrainOptions opt = {.out_dir = dir, .on_event = record_logs, .user = &s,
                        .on_boundary = stopper_script};
    assert_int_equal(train_run(&cfg, &opt, &res, &err), 0);
    assert_true(res.interrupted);
    assert_int_equal(res.steps_done, 2);
    assert_string_equal(res.checkpoint, "");
    snprintf(path, sizeof path, "%s/interrupted.safetensors", dir);
    assert_false(fixture_file_exists(path));
    fixture_remove_dir(dir);

    s = (Stopper){.at = 2, .act = TRAIN_STOP_SAVE};
    out_dir(dir, sizeof dir, "stop");
    assert_int_equal(train_run(&cfg, &opt, &res, &err), 0);
    assert_true(res.interrupted);
    assert_int_equal(res.steps_done, 2);
    snprintf(path, sizeof path, "%s/interrupted.safetensors", dir);
    assert_string_equal(res.checkpoint, path);
    SafeTensors *st = NULL;
    assert_int_equal(st_open(&st, path, &err), 0);
    assert_string_equal(st_metadata(st, "global_step"), "2");
    assert_null(st_metadata(st, "journal"));   /* no live change */
    st_close(st);
    fixture_remove_dir(dir);

    /* everything frozen: forward and loss only, the weights stay (the
     * cache then ends at the head's dropout) */
    s = (Stopper){.at = 3, .act = TRAIN_ABANDON, .freeze_all = 1};
    out_dir(dir, sizeof dir, "frozen");
    assert_int_equal(train_run(&cfg, &opt, &res, &err), 0);
    assert_true(res.interrupted);
    assert_non_null(strstr(s.logs, "step 0: head frozen; nothing trains now"));
    assert_true(s.checked_frozen);
    fixture_remove_dir(dir);
    run_config_free(&cfg);
}

/* ---- journal resume equivalence ---- */

typedef struct {
    int64_t save_at;
    int changes;
} Journal;

/* Thaw layer4 at step 2 (the cache boundary moves down), its lr at 3,
 * freeze it again at 5 (back up: rows refilled with the new weights). */
static TrainBoundaryAction journal_script(TrainCtl *ctl, void *user)
{
    Journal *s = user;
    ThawError err = {0};
    int64_t step = train_ctl_step(ctl);
    if (!train_ctl_at_start(ctl)) {
        if (step == 2) {
            assert_int_equal(train_ctl_set_frozen(ctl, "layer4", 0, &err), 0);
            s->changes++;
        } else if (step == 3) {
            assert_int_equal(train_ctl_set_lr(ctl, "layer4", 0.0003, &err), 0);
            s->changes++;
        } else if (step == 5) {
            assert_int_equal(train_ctl_set_frozen(ctl, "layer4", 1, &err), 0);
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
    out_dir(dir, sizeof dir, name);
    Journal s = {.save_at = save_at};
    TrainResult res;
    fixture_run(cfg, dir, resume, journal_script, NULL, &s, &res);
    assert_int_equal(s.changes, expect_changes);
    assert_false(res.interrupted);
}

static void journal_resume(void **state)
{
    (void)state;
    RunConfig cfg;
    make_config(&cfg, "feature_extraction", 3);
    char a[300], c[300], d[300], pa[400], pb[400], pc[400], pd[400];
    /* the straight run also saves at step 5: mid-epoch 2, after the last
     * change (made at the same boundary) */
    run_journal(&cfg, "straight", NULL, 5, 3);
    out_dir(a, sizeof a, "straight");
    snprintf(pb, sizeof pb, "%s/step-000005.safetensors", a);
    run_journal(&cfg, "resumed_mid", pb, -1, 0);
    snprintf(pa, sizeof pa, "%s/epoch-001.safetensors", a);
    run_journal(&cfg, "resumed_epoch", pa, -1, 1);   /* makes the step-5 change live */

    /* the epoch checkpoint holds the changes made so far */
    SafeTensors *st = NULL;
    ThawError err = {0};
    assert_int_equal(st_open(&st, pa, &err), 0);
    assert_string_equal(st_metadata(st, "journal"),
                        "[{\"step\":2,\"kind\":\"unfreeze\",\"group\":\"layer4\",\"value\":0},"
                        "{\"step\":3,\"kind\":\"lr\",\"group\":\"layer4\",\"value\":0.0003}]");
    st_close(st);

    out_dir(c, sizeof c, "resumed_mid");
    out_dir(d, sizeof d, "resumed_epoch");
    snprintf(pa, sizeof pa, "%s/epoch-003.safetensors", a);
    snprintf(pc, sizeof pc, "%s/epoch-003.safetensors", c);
    snprintf(pd, sizeof pd, "%s/epoch-003.safetensors", d);
    assert_true(fixture_file_exists(pa));
    assert_true(fixture_files_equal(pa, pc));
    assert_true(fixture_files_equal(pa, pd));
    snprintf(pa, sizeof pa, "%s/epoch-002.safetensors", a);
    snprintf(pc, sizeof pc, "%s/epoch-002.safetensors", c);
    assert_true(fixture_files_equal(pa, pc));
    fixture_remove_dir(a);
    fixture_remove_dir(c);
    fixture_remove_dir(d);
    run_config_free(&cfg);
}

/* A callback that changes nothing: the checkpoints of a headless run. */
static TrainBoundaryAction idle_script(TrainCtl *ctl, void *user)
{
    (void)ctl;
    (*(int *)user)++;
    return TRAIN_CONTINUE;
}

static void idle_callback_is_headless(void **state)
{
    (void)state;
    RunConfig cfg;
    make_config(&cfg, "feature_extraction", 1);
    char a[300], b[300], pa[400], pb[400];
    out_dir(a, sizeof a, "headless");
    out_dir(b, sizeof b, "idle");
    int calls = 0;
    TrainOptions opt = {.out_dir = a};
    TrainResult res;
    ThawError err = {0};
    assert_int_equal(train_run(&cfg, &opt, &res, &err), 0);
    opt = (TrainOptions){.out_dir = b, .on_boundary = idle_script, .user = &calls};
    assert_int_equal(train_run(&cfg, &opt, &res, &err), 0);
    assert_int_equal(calls, 4);
    snprintf(pa, sizeof pa, "%s/epoch-001.safetensors", a);
    snprintf(pb, sizeof pb, "%s/epoch-001.safetensors", b);
    assert_true(fixture_files_equal(pa, pb));
    SafeTensors *st = NULL;
    assert_int_equal(st_open(&st, pa, &err), 0);
    assert_null(st_metadata(st, "journal"));
    st_close(st);
    fixture_remove_dir(a);
    fixture_remove_dir(b);
    run_config_free(&cfg);
}

static int setup(void **state)
{
    (void)state;
    return fixture_make_tmp(g_tmp, sizeof g_tmp, "thaw_train_control");
}

static int teardown(void **state)
{
    (void)state;
    return fixture_remove_tmp(g_tmp);
}

FIXTURE_NEEDS_FMNIST(surgery)
FIXTURE_NEEDS_FMNIST(abandon_and_stop)
FIXTURE_NEEDS_FMNIST(journal_resume)
FIXTURE_NEEDS_FMNIST(idle_callback_is_headless)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(surgery_or_skip),
        cmocka_unit_test(abandon_and_stop_or_skip),
        cmocka_unit_test(journal_resume_or_skip),
        cmocka_unit_test(idle_callback_is_headless_or_skip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
