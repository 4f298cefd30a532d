/* What the training job and its checkpoint code share: the job state and
 * the log helper. Private to engine/run. */
#ifndef THAW_TRAIN_JOB_INTERNAL_H
#define THAW_TRAIN_JOB_INTERNAL_H

#include "train_job.h"

#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/graph/feature_cache.h"
#include "engine/models/model.h"
#include "engine/optim/optimizer.h"

#define CKPT_FORMAT "thaw-checkpoint-1"

typedef struct {
    const RunConfig *cfg;
    const TrainOptions *opt;
    ThawError *err;
    Model model;
    Optimizer optim;
    Schedule sched;
    double base_lr[MAX_GROUPS];
    ThawDataset *source, *subset, *train, *val;
    ThawLoader *train_loader, *val_loader;
    int classes;
    int train_batch;
    int64_t steps_per_epoch, total_steps;
    /* progress, saved in checkpoints */
    int epoch;                 /* 0-based epoch in progress */
    int64_t epoch_step;        /* batches done in this epoch */
    int64_t global_step;
    double loss_sum;
    int64_t correct, seen;
    double best;
    int bad_epochs;
    int64_t *confusion;
    float *eval_buf;
    FeatureCache cache;        /* frozen-boundary activations per train item */
    char cache_note[320];      /* the last cache on/off line logged */
} Job;

/* A log line as a TRAIN_EV_LOG event. */
void logf_event(Job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Weights, optimizer state and progress, atomically (checkpoint format
 * CKPT_FORMAT); and the reverse, for --resume. */
int train_save_checkpoint(Job *j, const char *path);
int train_load_checkpoint(Job *j, const char *path);

#endif
