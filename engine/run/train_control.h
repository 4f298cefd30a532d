/* Live control of a running training job, image or text (text_job.h):
 * the seam the workbench uses. The job calls TrainOptions.on_boundary at every step boundary (after the
 * model is built and before the first step, then after every optimizer
 * step) on the engine thread; inside that call, and only there, the caller
 * may read a snapshot of the job and change it through the train_ctl_*
 * functions. Changes are "live surgery": a freeze change re-plans the
 * graph, keeps the optimizer state of every parameter (a group that thaws
 * again continues from its state; one never trained starts at zero, as in
 * torch.optim), rebinds the feature cache (dropped when its boundary
 * moves), is logged as a TRAIN_EV_LOG event and appended to the journal
 * that checkpoints store, so --resume reproduces it.
 *
 * Freezing every group (the head included) is allowed: steps then run the
 * forward and the loss only (no backward, no optimizer update, the
 * schedule still advances) until a group thaws; the log line says so.
 *
 * A layer (a module with weights: "layer4.0.bn1", "fc.0") can also freeze
 * or thaw on its own, with the same surgery; a group change afterwards sets
 * every layer of the group again. A frozen layer gets no gradient, no
 * weight decay and no update; its BatchNorm runs in eval mode (unless
 * train_bn); gradients still flow through it to trainable layers below.
 *
 * Text jobs (minilm, bert) have the groups embeddings, encoder.layer.0..N-1,
 * pooler, classifier and the layers of Hugging Face's module names
 * ("embeddings.word_embeddings", "encoder.layer.3.attention.self.query",
 * "classifier"); their changes need no re-plan and they have no feature
 * cache (snapshot's cache line says so). */
#ifndef THAW_RUN_TRAIN_CONTROL_H
#define THAW_RUN_TRAIN_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/error.h"

typedef struct TrainCtl TrainCtl;   /* the job, seen at a step boundary */

/* What on_boundary returns. */
typedef enum {
    TRAIN_CONTINUE = 0,   /* go on with the next step */
    TRAIN_STOP_SAVE,      /* write interrupted.safetensors and return */
    TRAIN_ABANDON,        /* return at once, nothing written (run rebuilt) */
} TrainBoundaryAction;

/* May block (a paused workbench waits here for its next command). */
typedef TrainBoundaryAction (*TrainBoundaryFn)(TrainCtl *ctl, void *user);

#define TRAIN_SNAP_NAME 96

typedef struct {
    char name[TRAIN_SNAP_NAME];
    int frozen;            /* no weight of the group trains */
    int partial;           /* some of its layers train and some are frozen */
    int64_t trainable_params;  /* weights of the group that train now */
    double base_lr;        /* what set_lr sets; the schedule multiplies it */
    double lr;             /* the lr of the next step */
    double weight_decay;
    int64_t params;        /* weights in the group */
    int bn_batch_stats;    /* its BatchNorm layers use batch statistics */
} TrainSnapGroup;

/* out_h of a layer whose output is one vector per token ([T, out_c]: the
 * embeddings and encoder modules of a text encoder; out_w is 1). */
#define TRAIN_SNAP_PER_TOKEN (-1)

typedef struct {
    char name[TRAIN_SNAP_NAME];  /* module name: "layer4.1.conv2", "fc.0",
                                    "encoder.layer.3.attention.self.query" */
    int group;             /* index into groups */
    int out_h, out_w, out_c;     /* output shape per sample (NHWC), or
                                    TRAIN_SNAP_PER_TOKEN x 1 x C */
    int64_t params;
    int frozen;            /* its own state (a layer freeze, else its group's) */
} TrainSnapLayer;

typedef struct {
    int epoch, epochs;     /* 1-based epoch in progress */
    int64_t step, total_steps;
    int n_groups, n_layers;
    TrainSnapGroup *groups;      /* owned: train_snapshot_free */
    TrainSnapLayer *layers;
    char cache[320];       /* the feature cache's state line */
    int at_start;          /* the call before this run's first step */
    int64_t trainable_params;    /* weights that train now (0: none) */
    char device[320];      /* "cuda:0 H100 80GB HBM3" on a GPU; "" on the CPU */
} TrainSnapshot;

/* Fills snap with the job's current state (allocates its arrays). */
int train_ctl_snapshot(TrainCtl *ctl, TrainSnapshot *snap, ThawError *err);
void train_snapshot_free(TrainSnapshot *snap);

/* Freezes or thaws a group by name, every layer of it (clearing layer
 * choices); an unknown name is an error naming it. */
int train_ctl_set_frozen(TrainCtl *ctl, const char *group, int frozen, ThawError *err);
/* Freezes or thaws one layer by module name ("layer4.0.bn1"); an unknown
 * name is an error naming it. Journaled as layer_freeze / layer_unfreeze. */
int train_ctl_set_layer_frozen(TrainCtl *ctl, const char *layer, int frozen, ThawError *err);
/* Sets a group's base lr (> 0); the schedule still applies on top. */
int train_ctl_set_lr(TrainCtl *ctl, const char *group, double lr, ThawError *err);
/* Writes a checkpoint now (DIR/step-NNNNNN.safetensors), path into path_out. */
int train_ctl_save(TrainCtl *ctl, char *path_out, size_t cap, ThawError *err);

/* Global optimizer steps done. */
int64_t train_ctl_step(const TrainCtl *ctl);
/* 1 in the call before this run's first step (also after --resume, where
 * the step is the checkpoint's and its journal is already re-applied). */
int train_ctl_at_start(const TrainCtl *ctl);
/* The values of a parameter or buffer by PyTorch name, or of its optimizer
 * state ("opt.exp_avg.<name>", "opt.exp_avg_sq.<name>"): a view into the
 * job, valid until on_boundary returns (tests, diagnostics). */
int train_ctl_tensor(TrainCtl *ctl, const char *name, const float **data, size_t *numel,
                     ThawError *err);

#endif
