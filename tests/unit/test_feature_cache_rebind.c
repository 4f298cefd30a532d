/* The train cache's fill pass when the boundary moves mid-run (a live
 * thaw of layer4), on 30 Fashion-MNIST train items in batches of 7 (4 per
 * epoch, 2 never drawn in an epoch):
 *  - thawed inside epoch 1: the fill pass after epoch 1 stores the rows
 *    epoch 1's later batches did not, so epoch 2 hits on every batch;
 *  - thawed at the boundary after epoch 1's last step: that epoch's fill
 *    pass skips the new binding (a resumed run makes the same change after
 *    it), epoch 2 fills from its batches and its own fill pass, epoch 3 hits
 *    on every batch;
 *  - resumed from the epoch-1 checkpoint and from a mid-epoch-2 checkpoint,
 *    both end byte-identical to the straight run (the fill passes are
 *    replayed where the straight run made them). */
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

#include "engine/run/run_config.h"
#include "engine/run/train_control.h"
#include "engine/run/train_job.h"
#include "support/train_fixture.h"

static char g_tmp[256];

typedef struct {
    int64_t thaw_at;    /* boundary after this step thaws layer4 */
    int64_t save_at;    /* boundary after this step saves step-NNNNNN */
    char logs[64][256];
    int n_logs;
} Script;

static void make_config(RunConfig *cfg)
{
    ThawError err = {0};
    if (fixture_tiny_resnet_config(cfg, "rebind.json",
                                   "\"strategy\": \"feature_extraction\", \"epochs\": 3,"
                                   " \"batch\": 7, \"seed\": 4, \"threads\": 1, \"workers\": 1",
                                   &err) != 0) {
        fail_msg("%s", err.msg);
    }
}

static void record_logs(const TrainEvent *ev, void *user)
{
    Script *s = user;
    if (ev->kind == TRAIN_EV_LOG && s->n_logs < 64) {
        snprintf(s->logs[s->n_logs++], sizeof s->logs[0], "%s", ev->msg);
    }
}

static int logged(const Script *s, const char *prefix)
{
    for (int i = 0; i < s->n_logs; i++) {
        if (strncmp(s->logs[i], prefix, strlen(prefix)) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Fails, showing the run's log, unless a line starts with prefix. */
static void expect_log(const Script *s, const char *prefix)
{
    if (logged(s, prefix)) {
        return;
    }
    print_message("no log line starts with '%s'; the run logged:\n", prefix);
    for (int i = 0; i < s->n_logs; i++) {
        print_message("  %s\n", s->logs[i]);
    }
    fail();
}

static TrainBoundaryAction script(TrainCtl *ctl, void *user)
{
    Script *s = user;
    ThawError err = {0};
    int64_t step = train_ctl_step(ctl);
    if (!train_ctl_at_start(ctl) && step == s->thaw_at) {
        assert_int_equal(train_ctl_set_frozen(ctl, "layer4", 0, &err), 0);
    }
    fixture_save_if_at(ctl, s->save_at);
    return TRAIN_CONTINUE;
}

static void run(const RunConfig *cfg, const char *name, const char *resume, Script *s)
{
    char dir[sizeof g_tmp + 80];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
    TrainResult res;
    fixture_run(cfg, dir, resume, script, record_logs, s, &res);
    assert_int_equal(res.epochs_done, 3);
}

/* The straight run thawing at thaw_at (saving at step 6, mid-epoch 2), then
 * resumes from `resumes`; every one ends with the straight run's bytes. */
static void check_resumes(int64_t thaw_at, const char *const *resumes, int n,
                          const char *straight_name, Script *straight)
{
    RunConfig cfg;
    make_config(&cfg);
    *straight = (Script){.thaw_at = thaw_at, .save_at = 6};
    run(&cfg, straight_name, NULL, straight);
    char want[600], got[600], from[600];
    snprintf(want, sizeof want, "%s/%s/epoch-003.safetensors", g_tmp, straight_name);
    for (int i = 0; i < n; i++) {
        Script s = {.thaw_at = thaw_at, .save_at = -1};
        char name[64];
        snprintf(name, sizeof name, "%s_from_%d", straight_name, i);
        snprintf(from, sizeof from, "%s/%s/%s", g_tmp, straight_name, resumes[i]);
        run(&cfg, name, from, &s);
        expect_log(&s, "epoch 3: feature cache 100% (28 of 28 samples");
        snprintf(got, sizeof got, "%s/%s/epoch-003.safetensors", g_tmp, name);
        if (!fixture_files_equal(want, got)) {
            fail_msg("resumed from %s: epoch 3 differs from the straight run", resumes[i]);
        }
        snprintf(from, sizeof from, "%s/%s", g_tmp, name);
        fixture_remove_dir(from);
    }
    snprintf(from, sizeof from, "%s/%s", g_tmp, straight_name);
    fixture_remove_dir(from);
    run_config_free(&cfg);
}

static void thaw_inside_epoch_one(void **state)
{
    (void)state;
    static const char *const resumes[] = {"step-000006.safetensors"};
    Script s;
    check_resumes(2, resumes, 1, "inside", &s);
    /* epoch 1's batches 3-4 stored 14 rows; the fill pass the other 16 */
    expect_log(&s, "epoch 1: feature cache filled 16 rows its batches did not draw "
                           "(3 batches,");
    expect_log(&s, "epoch 2: feature cache 100% (28 of 28 samples");
    assert_false(logged(&s, "epoch 2: feature cache filled"));
}

static void thaw_at_epoch_end(void **state)
{
    (void)state;
    static const char *const resumes[] = {"epoch-001.safetensors",
                                          "step-000006.safetensors"};
    Script s;
    check_resumes(4, resumes, 2, "at_end", &s);
    assert_false(logged(&s, "epoch 1: feature cache filled"));
    expect_log(&s, "epoch 2: feature cache 0% (0 of 28 samples");
    expect_log(&s, "epoch 2: feature cache filled 2 rows its batches did not draw "
                           "(1 batch,");
    expect_log(&s, "epoch 3: feature cache 100% (28 of 28 samples");
    assert_false(logged(&s, "epoch 3: feature cache filled"));   /* no later epoch */
}

static int setup(void **state)
{
    (void)state;
    return fixture_make_tmp(g_tmp, sizeof g_tmp, "thaw_cache_rebind");
}

static int teardown(void **state)
{
    (void)state;
    return fixture_remove_tmp(g_tmp);
}

FIXTURE_NEEDS_FMNIST(thaw_inside_epoch_one)
FIXTURE_NEEDS_FMNIST(thaw_at_epoch_end)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thaw_inside_epoch_one_or_skip),
        cmocka_unit_test(thaw_at_epoch_end_or_skip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
