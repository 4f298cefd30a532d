/* The training job behind `thaw train`: builds the model and its new head,
 * applies the strategy and group settings, the optimizer and schedule, the
 * data loaders, and runs epochs step by step. Progress leaves as events
 * through a callback (headless printing today, the TUI bus later); a stop
 * flag is read at step boundaries. Checkpoints (one safetensors file per
 * epoch, and one on stop) hold weights with PyTorch names, the optimizer
 * state (opt.exp_avg.<name>, opt.exp_avg_sq.<name>, opt.step.<name>) and in
 * __metadata__ the run file, epoch, steps and RNG state; resuming from one
 * continues bit for bit where it stopped. */
#ifndef THAW_RUN_TRAIN_JOB_H
#define THAW_RUN_TRAIN_JOB_H

#include <signal.h>
#include <stdint.h>

#include "engine/core/error.h"
#include "engine/cuda/device_select.h"
#include "engine/run/run_config.h"
#include "engine/run/train_control.h"

typedef enum {
    TRAIN_EV_START,   /* model built; msg says what is trained */
    TRAIN_EV_STEP,    /* after each optimizer step */
    TRAIN_EV_EPOCH,   /* after each epoch's validation */
    TRAIN_EV_LOG,     /* a line for the user (msg) */
    TRAIN_EV_DONE,    /* confusion matrix of the last validation */
} TrainEventKind;

typedef struct {
    TrainEventKind kind;
    int epoch;                 /* 1-based */
    int epochs;
    int64_t step, total_steps; /* global optimizer steps done / planned */
    double loss, lr;           /* STEP: batch loss, head group lr */
    double train_loss, train_acc, val_loss, val_acc; /* EPOCH */
    int has_val;
    double samples_per_s, eta_s;
    const char *msg;           /* START, LOG, DONE: checkpoint path or "" */
    int num_classes;           /* DONE */
    const int64_t *confusion;  /* DONE: [true][predicted], num_classes^2 */
    const char *const *class_names;
} TrainEvent;

typedef void (*TrainEventFn)(const TrainEvent *ev, void *user);

typedef struct {
    const char *out_dir;       /* checkpoints go here (created if missing) */
    const char *resume;        /* checkpoint to continue from, or NULL */
    TrainEventFn on_event;     /* may be NULL */
    void *user;
    volatile sig_atomic_t *stop; /* non-zero: save a checkpoint and return */
    /* NULL: headless. Else called on the training thread once the model is
     * built (before the first step) and after every optimizer step, with
     * `user`; see train_control.h. *stop is still honoured after it. */
    TrainBoundaryFn on_boundary;
    /* Where the image job trains: zero (cpu) by default; cuda:N runs the
     * training steps and validation on the GPU executor (feature cache
     * off; text runs stay on the CPU). */
    ThawDevice device;
} TrainOptions;

typedef struct {
    int epochs_done;
    int64_t steps_done;
    int interrupted;           /* stopped by *stop or by on_boundary */
    int stopped_early;         /* early stopping */
    double train_loss, train_acc, val_loss, val_acc;
    char checkpoint[1100];     /* the last checkpoint written ("" if none) */
} TrainResult;

/* Runs the job. 0 on success (also when stopped by the flag or by
 * on_boundary: then res->interrupted is set and, unless it returned
 * TRAIN_ABANDON, a checkpoint was written); else an error code
 * with err naming the file and key, or the step whose loss was not finite
 * (the last good checkpoint is kept). */
int train_run(const RunConfig *cfg, const TrainOptions *opt, TrainResult *res,
              ThawError *err);

#endif
