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

#define FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

static char g_tmp[256];

typedef struct {
    int64_t thaw_at;    /* boundary after this step thaws layer4 */
    int64_t save_at;    /* boundary after this step saves step-NNNNNN */
    char logs[64][256];
    int n_logs;
} Script;

static void make_config(RunConfig *cfg)
{
    static const char text[] =
        "{\"model\": {\"arch\": \"resnet18\"},"
        " \"dataset\": {\"type\": \"fashion_mnist\", \"subset_per_class\": 4,"
        "  \"val_fraction\": 0.2, \"image_size\": 32, \"augment\": false},"
        " \"strategy\": \"feature_extraction\","
        " \"optimizer\": {\"name\": \"adamw\", \"lr\": 0.001},"
        " \"epochs\": 3, \"batch\": 7, \"seed\": 4, \"threads\": 1, \"workers\": 1}";
    ThawError err = {0};
    run_config_defaults(cfg);
    if (run_config_parse(cfg, "rebind.json", text, &err) != 0) {
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
    if (step == s->save_at) {
        char path[1100];
        assert_int_equal(train_ctl_save(ctl, path, sizeof path, &err), 0);
    }
    return TRAIN_CONTINUE;
}

static void run(const RunConfig *cfg, const char *name, const char *resume, Script *s)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
    TrainOptions opt = {.out_dir = dir, .resume = resume, .user = s,
                        .on_boundary = script, .on_event = record_logs};
    TrainResult res;
    ThawError err = {0};
    if (train_run(cfg, &opt, &res, &err) != 0) {
        fail_msg("%s: %s", name, err.msg);
    }
    assert_int_equal(res.epochs_done, 3);
}

static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF) {
            break;
        }
    }
    if (fa) {
        fclose(fa);
    }
    if (fb) {
        fclose(fb);
    }
    return same;
}

static void remove_dir(const char *name)
{
    static const char *const files[] = {"epoch-001.safetensors", "epoch-002.safetensors",
                                        "epoch-003.safetensors", "step-000006.safetensors"};
    char path[600];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", g_tmp, name, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    rmdir(path);
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
        if (!same_file(want, got)) {
            fail_msg("resumed from %s: epoch 3 differs from the straight run", resumes[i]);
        }
        remove_dir(name);
    }
    remove_dir(straight_name);
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
    if (access(FMNIST, R_OK) != 0) {
        return 0;
    }
    snprintf(g_tmp, sizeof g_tmp, "/tmp/thaw_cache_rebind.XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (g_tmp[0]) {
        rmdir(g_tmp);
    }
    return 0;
}

#define NEEDS_DATA(fn)                                                                  \
    static void fn##_or_skip(void **state)                                              \
    {                                                                                   \
        if (access(FMNIST, R_OK) != 0) {                                                \
            skip();                                                                     \
        }                                                                               \
        fn(state);                                                                      \
    }

NEEDS_DATA(thaw_inside_epoch_one)
NEEDS_DATA(thaw_at_epoch_end)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thaw_inside_epoch_one_or_skip),
        cmocka_unit_test(thaw_at_epoch_end_or_skip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
