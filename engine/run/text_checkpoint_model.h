/* A text classification checkpoint (thaw train with model.arch minilm or
 * bert) as a model: the run file from its metadata, the encoder's
 * config.json and WordPiece vocab.txt from the run's model.weights folder,
 * the class names from metadata "classes", and every parameter (Hugging
 * Face BertModel names + classifier.weight/bias) loaded strictly: each with
 * its shape, and no other key but the optimizer state (opt.*). Used by
 * thaw eval, export and predict. */
#ifndef THAW_RUN_TEXT_CHECKPOINT_MODEL_H
#define THAW_RUN_TEXT_CHECKPOINT_MODEL_H

#include <stddef.h>

#include "engine/core/error.h"
#include "engine/models/bert.h"
#include "engine/run/run_config.h"
#include "engine/text/wordpiece.h"

#define TEXT_TASK "text_classification"

typedef enum {
    CHECKPOINT_NOT_THAW,   /* unreadable, or no thaw-checkpoint-1 metadata */
    CHECKPOINT_IMAGE,      /* a thaw checkpoint of an image run */
    CHECKPOINT_TEXT,       /* metadata "task": "text_classification" */
} CheckpointTask;

/* What kind of checkpoint path is, from its metadata alone (errors are left
 * to the opener of that kind). */
CheckpointTask checkpoint_task(const char *path);

typedef struct {
    RunConfig cfg;          /* the run file stored in the checkpoint */
    BertConfig bcfg;        /* config.json of the run's model.weights */
    BertModel model;        /* eval use: plan with training = 0 */
    ThawWordPiece *wp;      /* vocab.txt of the run's model.weights */
    int classes;
    char **class_names;     /* [classes], metadata "classes" */
    char epoch[32];         /* metadata "epoch", "" when absent */
    char config_path[RUN_PATH_MAX + 16];
    char vocab_path[RUN_PATH_MAX + 16];
} TextCheckpoint;

/* On success tc owns everything (text_checkpoint_free); on error it is left
 * empty and err is one line naming the file (the checkpoint, config.json or
 * vocab.txt) and the key. A vocab with more tokens than the embedding rows
 * is an error naming vocab.txt. */
int text_checkpoint_open(TextCheckpoint *tc, const char *path, ThawError *err);
void text_checkpoint_free(TextCheckpoint *tc);

#endif
