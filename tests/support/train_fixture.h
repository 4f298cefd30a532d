/* Shared set-up and checks for the training-control unit tests (tiny runs
 * driven through train_run with an on_boundary callback). The helpers that
 * can only go wrong through a broken engine call fail the running cmocka
 * test themselves; the comparisons return 1/0 so the tests keep their own
 * assert_true / assert_false. */
#ifndef THAW_TEST_TRAIN_FIXTURE_H
#define THAW_TEST_TRAIN_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/error.h"
#include "engine/run/run_config.h"
#include "engine/run/train_control.h"
#include "engine/run/train_job.h"

#define FIXTURE_FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

/* 1 when the Fashion-MNIST training images are installed. */
int fixture_have_fmnist(void);

/* Wraps test fn as fn_or_skip, which skips when Fashion-MNIST is missing
 * (expand it where cmocka.h is included). */
#define FIXTURE_NEEDS_FMNIST(fn)                                                        \
    static void fn##_or_skip(void **state)                                              \
    {                                                                                   \
        if (!fixture_have_fmnist()) {                                                   \
            skip();                                                                     \
        }                                                                               \
        fn(state);                                                                      \
    }

/* Group setup for tests that need the data: makes /tmp/<prefix>.XXXXXX in
 * tmp when Fashion-MNIST is installed (tmp stays "" otherwise, the tests
 * skip). Returns 0, or -1 when mkdtemp fails. */
int fixture_make_tmp(char *tmp, size_t cap, const char *prefix);

/* Group teardown: removes the (by then empty) folder fixture_make_tmp made. */
int fixture_remove_tmp(const char *tmp);

/* Parses the tiny resnet18 run (32x32 Fashion-MNIST, 4 per class, 20%
 * validation: 30 train items; AdamW lr 0.001) with `settings`, the rest of
 * the JSON object (strategy, epochs, batch, seed...), as file `file_name`.
 * Returns run_config_parse's code. */
int fixture_tiny_resnet_config(RunConfig *cfg, const char *file_name, const char *settings,
                               ThawError *err);

/* Writes text to dir/name (fails the test when it cannot). */
void fixture_write_file(const char *dir, const char *name, const char *text);

int fixture_file_exists(const char *path);

/* 1 when both files open and hold the same bytes. */
int fixture_files_equal(const char *a, const char *b);

/* Removes every regular file in dir, then dir (a run's output folder). */
void fixture_remove_dir(const char *dir);

/* Runs cfg into out_dir (resume may be NULL), failing the test with
 * "<out_dir>: <message>" when train_run fails. */
void fixture_run(const RunConfig *cfg, const char *out_dir, const char *resume,
                 TrainBoundaryFn on_boundary, TrainEventFn on_event, void *user,
                 TrainResult *res);

/* At the boundary after step save_at: train_ctl_save (must succeed). */
void fixture_save_if_at(TrainCtl *ctl, int64_t save_at);

/* Appends msg and a newline to the log buffer while it fits. */
void fixture_append_log(char *logs, size_t cap, const char *msg);

/* A malloc'd copy of the job's tensor name; *n its element count. */
float *fixture_copy_tensor(TrainCtl *ctl, const char *name, size_t *n);

/* 1 when the job's tensor name holds exactly ref[0..n) (its size must be n). */
int fixture_tensor_equals(TrainCtl *ctl, const char *name, const float *ref, size_t n);

/* The snapshot's group / layer of that name (fails the test when absent). */
const TrainSnapGroup *fixture_find_group(const TrainSnapshot *s, const char *name);
const TrainSnapLayer *fixture_find_layer(const TrainSnapshot *s, const char *name);

/* The checkpoint's metadata "journal" (malloc'd), NULL when absent. */
char *fixture_checkpoint_journal(const char *path);

#endif
