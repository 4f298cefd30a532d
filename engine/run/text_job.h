/* The text classification job behind `thaw train` for text encoders
 * (model.arch minilm or bert): a BERT-family encoder (engine/models/bert.h)
 * with a classifier on mean pooling or [CLS], fine-tuned on labelled texts
 * (engine/data/text_dataset.h) tokenized once by WordPiece (the vocab.txt
 * next to the weights). train_run sends text run files here; the events,
 * checkpoints (format thaw-checkpoint-1, Hugging Face parameter names,
 * optimizer state, run file and progress in __metadata__, plus
 * "task": "text_classification" and "classes": a JSON list of the class
 * names), --resume (byte-identical), the stop flag and the NaN stop are the
 * image job's (train_job.h).
 *
 * Batches: the training items are shuffled per epoch (seed, epoch), the
 * last batch may be smaller (nothing is dropped), and each batch is padded
 * to its longest text (at most dataset.max_length tokens).
 *
 * Live control: on_boundary is called before the first step and after
 * every optimizer step, with a TrainCtl of this job (text_control.c):
 * snapshots, group and module (Hugging Face name) freezes, lr, save; the
 * checkpoints store the journal of changes and --resume re-applies it.
 * The run file's frozen_layers/trainable_layers name modules the same way. */
#ifndef THAW_RUN_TEXT_JOB_H
#define THAW_RUN_TEXT_JOB_H

#include "engine/run/train_job.h"

/* 1 when the run file's model is a text encoder (cfg->text). */
int text_run_config(const RunConfig *cfg);
/* 1 when model.arch names a text encoder: minilm, bert. */
int text_arch(const char *arch);

/* As train_run, for a text run file. */
int text_train_run(const RunConfig *cfg, const TrainOptions *opt, TrainResult *res,
                   ThawError *err);

#endif
