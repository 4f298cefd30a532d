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

#endif
