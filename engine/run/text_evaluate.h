/* Evaluation of a text checkpoint (text_checkpoint_model.h) in eval mode
 * (no dropout): the texts (the run's validation split recreated from its
 * seed, all of its dataset, or another CSV/TSV/JSONL file), the logits in
 * batches padded to their longest text exactly as training's validation
 * makes them, and the image evaluation's report (EvalResult: loss,
 * accuracy, confusion matrix). */
#ifndef THAW_RUN_TEXT_EVALUATE_H
#define THAW_RUN_TEXT_EVALUATE_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/run/evaluate.h"
#include "engine/run/text_checkpoint_model.h"
#include "engine/run/text_data.h"

typedef struct {
    TextTokens tok;                /* labels are the checkpoint's class indices */
    int64_t skipped_empty;         /* texts the reader skipped */
    int64_t invalid_utf8;          /* texts kept with invalid bytes dropped */
    int64_t truncated;             /* texts cut to dataset.max_length */
} TextEvalSet;

/* The texts to evaluate. data NULL: the run's own dataset (dataset.type,
 * path, topics, columns); else a file with the run's column names, JSON
 * lines for a .jsonl or .json name, else CSV (TSV for .tsv). val_split 1:
 * the run's validation split of it (subset_per_class, val_fraction, seed,
 * as training made it; an empty split is an error); 0: every text. Labels
 * are matched to the checkpoint's classes by name: a label that is not one
 * of them is an error naming the file and the label. */
int text_eval_open_set(const TextCheckpoint *tc, int val_split, const char *data,
                       TextEvalSet *set, ThawError *err);
void text_eval_set_free(TextEvalSet *set);

/* Eval-mode logits of every item of tok, in order, batch items per forward
 * (training's validation uses the run's batch). logits (NULL: not kept):
 * [tok->n, classes]. res (NULL: not scored): loss, accuracy and confusion
 * against tok->labels; eval_result_free. */
int text_eval_run(TextCheckpoint *tc, const TextTokens *tok, int batch, float *logits,
                  EvalResult *res, ThawError *err);

/* A safetensors file with what a reference needs to recompute the logits:
 * input_ids and attention_mask [n, T] (I32, padded with pad to the longest
 * text), labels [n] (I32) and logits [n, classes] (F32). Atomic. */
int text_eval_write_logits(const char *path, const TextTokens *tok, int32_t pad,
                           const float *logits, int classes, ThawError *err);

#endif
