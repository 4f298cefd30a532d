/* Evaluation of a model on a dataset in eval mode (BatchNorm running
 * statistics, no dropout): mean cross-entropy, accuracy and the confusion
 * matrix, in the dataset's order with the eval transform. */
#ifndef THAW_RUN_EVALUATE_H
#define THAW_RUN_EVALUATE_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/models/model.h"

typedef struct {
    int batch;             /* images per forward */
    int workers;           /* loader threads */
    int image_size;        /* square input side */
    int resize_short;      /* resize the shorter side first (0: straight to image_size) */
} EvalOptions;

typedef struct {
    int64_t count;
    double loss, accuracy;
    int classes;
    int64_t *confusion;    /* [true][predicted], classes^2; eval_result_free */
} EvalResult;

/* The dataset's classes must be the model's. */
int eval_model(Model *m, const ThawDataset *ds, const EvalOptions *opt, EvalResult *res,
               ThawError *err);
void eval_result_free(EvalResult *res);

/* Adds count rows of logits [count, k] to the sums: cross-entropy into
 * *loss_sum (log-sum-exp in double around the largest logit), one count
 * per row into confusion[label][argmax]; returns how many were right.
 * Shared by image and text evaluation. */
int64_t eval_score_logits(const float *logits, const int32_t *labels, int count, int k,
                          double *loss_sum, int64_t *confusion);

#endif
