/* A training checkpoint as a model: reads the run file stored in its
 * metadata, builds the architecture with the run's head and the classes of
 * the stored classifier, and loads every parameter and buffer strictly (the
 * only other keys allowed are the optimizer state, opt.*). Used by thaw
 * export and thaw eval. */
#ifndef THAW_RUN_CHECKPOINT_MODEL_H
#define THAW_RUN_CHECKPOINT_MODEL_H

#include "engine/core/error.h"
#include "engine/models/model.h"
#include "engine/run/run_config.h"

#define CHECKPOINT_FORMAT "thaw-checkpoint-1"

typedef struct {
    int classes;
    char epoch[32];        /* metadata 'epoch', "" when absent */
} CheckpointModelInfo;

/* On success m and cfg are filled (model_free, run_config_free); on error
 * both are left empty and err names the file and key. */
int checkpoint_open_model(const char *path, Model *m, RunConfig *cfg,
                          CheckpointModelInfo *info, ThawError *err);

#endif
