/* What the text job's files share (text_job.c, text_job_setup.c,
 * text_job_checkpoint.c). Private to engine/run. */
#ifndef THAW_RUN_TEXT_JOB_INTERNAL_H
#define THAW_RUN_TEXT_JOB_INTERNAL_H

#include "journal.h"
#include "text_job.h"
#include "train_ctl_internal.h"

#include "engine/data/text_dataset.h"
#include "engine/models/bert.h"
#include "engine/optim/optimizer.h"
#include "engine/run/text_data.h"
#include "engine/text/wordpiece.h"

typedef struct {
    const RunConfig *cfg;
    const TrainOptions *opt;
    ThawError *err;
    BertConfig bcfg;           /* config.json of model.weights */
    BertModel model;
    ThawWordPiece *wp;         /* vocab.txt of model.weights */
    Optimizer optim;
    Schedule sched;
    double base_lr[MAX_GROUPS];
    ThawTextDataset *source, *subset, *train, *val;
    TextTokens train_tok, val_tok;
    int classes;
    int64_t steps_per_epoch, total_steps;
    /* batch buffers: [batch, max_length] */
    int32_t *ids, *mask, *labels;
    int64_t *order;            /* this epoch's shuffled train items */
    /* progress, saved in checkpoints */
    int epoch;                 /* 0-based epoch in progress */
    int64_t epoch_step;
    int64_t global_step;
    double loss_sum;
    int64_t correct, seen;
    double best;
    int bad_epochs;
    int64_t *confusion;
    Journal journal;           /* live changes, saved in checkpoints */
} TextJob;

void text_emit(TextJob *j, TrainEvent *ev);
void text_log(TextJob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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

#endif
