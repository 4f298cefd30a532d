/* What the image job (Job) and the text job (TextJob) share: the run's
 * settings, optimizer, schedule, journal and progress (JobCore, the first
 * member of both, so a TrainCtl's job pointer is also a JobCore pointer),
 * and the logic that is the same for both: events and log lines, lrs from
 * the schedule, the live set_lr/save/step bodies, optimizer and schedule
 * setup, group settings from the run file, the journal re-applied after a
 * resume. Private to engine/run. */
#ifndef THAW_RUN_JOB_CORE_H
#define THAW_RUN_JOB_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "train_ctl_internal.h"
#include "train_job.h"

#include "engine/core/params.h"
#include "engine/optim/optimizer.h"

typedef struct {
    const RunConfig *cfg;
    const TrainOptions *opt;
    ThawError *err;
    Optimizer optim;
    Schedule sched;
    double base_lr[MAX_GROUPS];
    int64_t steps_per_epoch, total_steps;
    /* progress, saved in checkpoints */
    int epoch;                 /* 0-based epoch in progress */
    int64_t epoch_step;        /* batches done in this epoch */
    int64_t global_step;
    double loss_sum;
    int64_t correct, seen;
    double best;
    int bad_epochs;
    Journal journal;           /* live changes, saved in checkpoints */
    int metrics_started;       /* metrics.csv begun (at the first finished epoch) */
    int metrics_off;           /* metrics.csv could not be written: warned once */
} JobCore;

/* A zeroed core for a run (best = +inf). */
void job_core_init(JobCore *c, const RunConfig *cfg, const TrainOptions *opt, ThawError *err);

/* An event to opt->on_event (epochs and total_steps filled in). */
void job_core_emit(const JobCore *c, TrainEvent *ev);
/* A log line as a TRAIN_EV_LOG event. */
void job_core_log(const JobCore *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic seconds, for rates and ETAs. */
double job_core_now_s(void);
/* Index of the largest of x[0..n) (the first on ties). */
int job_core_argmax(const float *x, int n);
/* Number of weights of t that train now (0: steps skip backward). */
size_t job_core_trainable_weights(const ParamTable *t);

/* Every group's lr: its base lr times the schedule at global_step. */
void job_core_set_lrs(const JobCore *c, ParamTable *t);

/* Group settings from the run file: frozen = !trainable, base lr
 * default_lr, weight decay, then the run's groups.<name> overrides. */
void job_core_group_settings(JobCore *c, ParamTable *t, int g, int trainable,
                             double default_lr);
/* Checks that trainable[] and groups.<name> name groups of t. */
int job_core_check_group_names(JobCore *c, const ParamTable *t);
/* The run file's layer choices (frozen_layers, trainable_layers) on top of
 * the groups' settings; a name that is no module of t is an error naming
 * the key, with `examples` as the hint ("layer4.0.conv1, fc.0"). */
int job_core_apply_layer_choices(JobCore *c, ParamTable *t, const char *examples);
/* The optimizer over t (momentum and nesterov for SGD) and the schedule
 * over total_steps. */
int job_core_setup_optimizer(JobCore *c, ParamTable *t);

/* A finished epoch's row in out_dir/metrics.csv (metrics_log.h). The first
 * one of a run starts the file (keeping the rows of the epochs before it,
 * after a resume), so a run stopped before its first epoch ends leaves no
 * file. A file that cannot be written gives one warning line, not a failed
 * run: the checkpoints are what must not be lost, and they report their
 * own failures. */
void job_core_metrics_epoch(JobCore *c, const TrainEvent *ev);

/* ---- live control bodies (train_control.h), for either job ---- */

/* set_lr of the group named group: journal entry, new base lr, logged. */
int job_core_ctl_set_lr(JobCore *c, ParamTable *t, const char *group, double lr,
                        ThawError *err);
/* save: step-NNNNNN.safetensors in out_dir written by save_checkpoint(job,
 * path) with err as the job's error; path_out gets the path. */
int job_core_ctl_save(JobCore *c, void *job, int (*save_checkpoint)(void *job, const char *path),
                      char *path_out, size_t cap, ThawError *err);
/* step: the job's global step (ctl->job points at a struct whose first
 * member is its JobCore). */
int64_t job_core_ctl_step(const TrainCtl *ctl);

/* ---- the training loop ---- */

/* Writes <out_dir>/<name> with save_checkpoint(job, path); on success
 * res->checkpoint names it. */
int job_core_checkpoint(const JobCore *c, void *job,
                        int (*save_checkpoint)(void *job, const char *path), TrainResult *res,
                        const char *name);
/* One step boundary: on_boundary decides (a TrainCtl over job and ops),
 * then the stop flag. Anything but TRAIN_CONTINUE marks res interrupted at
 * this step; the caller writes interrupted.safetensors on TRAIN_STOP_SAVE. */
TrainBoundaryAction job_core_boundary(const JobCore *c, const TrainCtlOps *ops, void *job,
                                      int at_start, TrainResult *res);
/* After an epoch's validation: early-stopping bookkeeping on monitor, then
 * the progress moves to the start of the next epoch (what its checkpoint
 * saves). */
void job_core_end_epoch(JobCore *c, double monitor);
/* With patience set and used up: res->stopped_early, a log line naming
 * epoch (1-based), and 1. */
int job_core_early_stop(const JobCore *c, TrainResult *res, int epoch);

/* ---- snapshots ---- */

/* Numbers the groups of t that own weights: index[k] their slot in
 * snap->groups or -1; sets snap->n_groups (snap zeroed first). */
void job_core_snapshot_begin(const ParamTable *t, TrainSnapshot *snap, int index[MAX_GROUPS]);
/* Allocates snap->groups and snap->layers (n_layers set by the caller) and
 * fills the progress and the groups. */
int job_core_snapshot_fill(const JobCore *c, const ParamTable *t, const int *index,
                           int at_start, TrainSnapshot *snap, ThawError *err);

/* ---- the journal after a resume ---- */

typedef struct {
    /* A layer (module) freeze/thaw, an entry made at step. */
    int (*set_layer_frozen)(void *job, const char *layer, int frozen, int64_t step);
    /* A group freeze/thaw. */
    int (*set_group_frozen)(void *job, int g, int frozen, int64_t step);
} JournalApplyOps;

/* Re-applies c->journal in order: an unknown layer or group, or an lr not
 * > 0, is an error; lrs go to base_lr, freezes through ops. Logs the
 * count when all applied. */
int job_core_journal_reapply(JobCore *c, const ParamTable *t, const JournalApplyOps *ops,
                             void *job);

#endif
