/* What the training job, its checkpoint code, its feature caches and its
 * live control share: the job state and helpers. Private to engine/run. */
#ifndef THAW_TRAIN_JOB_INTERNAL_H
#define THAW_TRAIN_JOB_INTERNAL_H

#include "job_core.h"
#include "journal.h"
#include "train_ctl_internal.h"
#include "train_job.h"

#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/graph/feature_cache.h"
#include "engine/models/model.h"
#include "engine/optim/optimizer.h"

#define CKPT_FORMAT "thaw-checkpoint-1"

typedef struct {
    JobCore core;              /* first: a TrainCtl's job is also a JobCore */
    Model model;
    ThawDataset *source, *subset, *train, *val;
    ThawLoader *train_loader, *val_loader;
    int classes;
    int train_batch;
    int64_t *confusion;
    float *eval_buf;
    FeatureCache cache;        /* frozen-boundary activations per train item */
    char cache_note[320];      /* the last cache on/off line logged */
    /* The train cache's binding: a new one (boundary moved) bumps cache_gen
     * and starts at cache_origin (global step); a resume refills from there. */
    uint64_t cache_gen;
    int64_t cache_origin;
    FeatureCache val_cache;    /* the same boundary, per validation item */
    uint64_t val_gen;          /* cache_gen the val rows belong to */
    int64_t val_hits, val_seen;        /* last validation */
    struct JobGpu *gpu;        /* set while training on a CUDA device */
} Job;

/* Dataset, split and loaders; model, strategy, groups, optimizer and
 * schedule (train_setup.c). */
int job_open_data(Job *j);
int job_setup_model(Job *j);

/* Plans the graph for training (batch train_batch) or validation. */
int job_plan(Job *j, int training);
/* Number of weights that train now (0: steps skip backward). */
size_t job_trainable_weights(const Job *j);

/* Weights, optimizer state, progress and the journal, atomically
 * (checkpoint format CKPT_FORMAT); and the reverse, for --resume. */
int train_save_checkpoint(Job *j, const char *path);
int train_load_checkpoint(Job *j, const char *path);

/* ---- feature caches (train_cache.c) ---- */

/* Binds the train cache to the training plan; a new binding starts at
 * global step origin. Logs state changes unless quiet. */
void train_cache_bind(Job *j, int64_t origin, int quiet);
/* After an epoch's batches: stores the rows of the items they did not draw
 * (when the binding began in this epoch and a later epoch will read them). */
int train_cache_fill(Job *j);
/* After a resume: refills the rows as the uninterrupted run filled them,
 * from the binding's origin up to the current step. */
int train_cache_replay(Job *j);
/* Training forward of one batch; 1 when it came from the cache. */
int train_cache_forward(Job *j, const ThawBatch *b);
/* Validation forward of one (padded) batch in the eval plan: the val cache
 * follows the train cache's binding. begin before the first batch. */
void val_cache_begin(Job *j);
void val_cache_forward(Job *j, const ThawBatch *b, const float *input);
/* The state line for snapshots (train and val rows). */
void train_cache_describe(const Job *j, char *out, size_t cap);

/* ---- the GPU path (train_job_gpu.c) ---- */

/* With opt->device cuda: context, executor, the host weights and optimizer
 * state uploaded; logs the device line. No-op on cpu. */
int job_gpu_open(Job *j);
void job_gpu_close(Job *j);
/* After every model_plan (job_plan does it). */
int job_gpu_plan(Job *j);
/* Training: forward and loss of b; *logits valid until the next call. */
int job_gpu_forward_loss(Job *j, const ThawBatch *b, float *loss, const float **logits);
/* Backward from that loss and the optimizer step (asynchronous). */
int job_gpu_backward_step(Job *j);
/* Validation: logits of one padded eval batch (input NCHW, cfg->batch). */
int job_gpu_eval(Job *j, const float *input, const float **logits);
/* "cuda:N <GPU name>" while the job trains on a GPU, else NULL. */
const char *job_gpu_name(const Job *j);
/* Weights, BN buffers and optimizer state back into the host tables
 * (before a checkpoint). No-op on cpu. */
int job_gpu_sync_host(Job *j);

/* ---- journal (train_journal.c) ---- */

/* Re-applies j->journal to the freshly built job (after a resume). */
int train_journal_reapply(Job *j);

/* ---- live surgery shared by control and the journal (train_control.c) ---- */

/* Freezes/thaws group g, re-plans and rebinds the cache (origin: step).
 * On failure the previous state is restored. */
int job_set_frozen(Job *j, int g, int frozen, int64_t step, int quiet, ThawError *err);
/* The same for one layer (module name); an unknown name is an error. */
int job_set_layer_frozen(Job *j, const char *layer, int frozen, int64_t step, int quiet,
                         ThawError *err);

#endif
