/* Reading the progress fields of a training checkpoint (image and text
 * jobs): integers and numbers from __metadata__, one-element int64 tensors.
 * Each fails with a message naming the file and the key. And what both
 * jobs' checkpoints share (checkpoint_tensors.c): the tensor list with the
 * optimizer state, the progress metadata, the journal. */
#ifndef THAW_RUN_CHECKPOINT_META_H
#define THAW_RUN_CHECKPOINT_META_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/core/params.h"
#include "engine/io/safetensors.h"
#include "engine/optim/optimizer.h"
#include "job_core.h"

int checkpoint_meta_i64(const SafeTensors *st, const char *path, const char *key,
                        int64_t *out, ThawError *err);
int checkpoint_meta_double(const SafeTensors *st, const char *path, const char *key,
                           double *out, ThawError *err);
int checkpoint_read_i64(const SafeTensors *st, const char *path, const char *key,
                        int64_t *out, ThawError *err);

/* Every parameter of t (counters as int64) and, per weight, its optimizer
 * state: opt.exp_avg.<name>, opt.exp_avg_sq.<name> (when the optimizer
 * keeps it), opt.step.<name>. The tensors point into t and o. */
typedef struct {
    StWriteTensor *tensors;
    char (*names)[PARAM_NAME_MAX + 16];
    int count;
} CheckpointTensors;

int checkpoint_tensors_collect(CheckpointTensors *ct, const ParamTable *t, const Optimizer *o,
                               const char *path, ThawError *err);
void checkpoint_tensors_free(CheckpointTensors *ct);
/* The reverse: t's parameters and o's state from st. */
int checkpoint_tensors_load(const SafeTensors *st, const char *path, const ParamTable *t,
                            Optimizer *o, ThawError *err);

/* The progress keys, in file order: epoch .. early.bad_epochs, optimizer.
 * meta points into v: fill in place, do not copy. */
#define CHECKPOINT_PROGRESS_KEYS 11
typedef struct {
    char v[9][64];
    StMeta meta[CHECKPOINT_PROGRESS_KEYS];
} CheckpointProgress;

void checkpoint_progress_meta(CheckpointProgress *p, const JobCore *c, uint64_t dropout_rng);
/* Reads the progress and the journal back into c (with c->err), checked
 * against c->steps_per_epoch; logs "resumed from ...". */
int checkpoint_progress_read(JobCore *c, const SafeTensors *st, const char *path,
                             uint64_t *dropout_rng);

/* st_write of the tensors and meta, plus "journal" when c->journal has
 * live changes (a run without them writes the bytes it always did). */
int checkpoint_write(const JobCore *c, const char *path, const CheckpointTensors *ct,
                     const StMeta *meta, int n_meta);

#endif
