/* What the text job's files share (text_job.c, text_job_setup.c,
 * text_job_checkpoint.c). Private to engine/run. */
#ifndef THAW_RUN_TEXT_JOB_INTERNAL_H
#define THAW_RUN_TEXT_JOB_INTERNAL_H

#include "job_core.h"
#include "journal.h"
#include "text_job.h"
#include "train_ctl_internal.h"

#include "engine/data/text_dataset.h"
#include "engine/models/bert.h"
#include "engine/optim/optimizer.h"
#include "engine/run/text_data.h"
#include "engine/text/wordpiece.h"

typedef struct {
    JobCore core;              /* first: a TrainCtl's job is also a JobCore */
    BertConfig bcfg;           /* config.json of model.weights */
    BertModel model;
    ThawWordPiece *wp;         /* vocab.txt of model.weights */
    ThawTextDataset *source, *subset, *train, *val;
    TextTokens train_tok, val_tok;
    int classes;
    /* batch buffers: [batch, max_length] */
    int32_t *ids, *mask, *labels;
    int64_t *order;            /* this epoch's shuffled train items */
    int64_t *confusion;
    struct TextGpu *gpu;       /* set while training on a CUDA device */
} TextJob;

/* Dataset, split and token ids (text_job_setup.c). */
int text_job_open_data(TextJob *j);
/* Encoder, head, weights, strategy and groups, optimizer, schedule; emits
 * TRAIN_EV_START. After text_job_open_data (needs the classes and steps). */
int text_job_setup_model(TextJob *j);
void text_job_free(TextJob *j);

/* Checkpoints (text_job_checkpoint.c). */
int text_save_checkpoint(TextJob *j, const char *path);
int text_load_checkpoint(TextJob *j, const char *path);

/* Live control (text_control.c): train_text_ctl_ops, and the journal of a
 * resumed checkpoint re-applied to the freshly built job. */
int text_journal_reapply(TextJob *j);

/* The GPU path (text_job_gpu.c). open: nothing for a CPU run (a TF32
 * note); on cuda the executor with the job's current weights and moments
 * (after a resume). plan: mirrors the batch's bert_plan. The step and eval
 * calls read the staged batch (ids, mask, labels). sync_host: the device's
 * weights and moments into the host tables (no-op on the CPU). */
int text_gpu_open(TextJob *j);
void text_gpu_close(TextJob *j);
const char *text_gpu_name(const TextJob *j);
int text_gpu_plan(TextJob *j);
int text_gpu_forward_loss(TextJob *j, float smoothing, float *loss, const float **logits);
int text_gpu_backward_step(TextJob *j, float smoothing);
int text_gpu_eval(TextJob *j, const float **logits);
int text_gpu_sync_host(TextJob *j);

#endif
