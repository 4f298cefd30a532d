/* Optimizer updates over the device arena, the rules of
 * engine/optim/optimizer.c exactly: per-group lr and weight decay, frozen
 * entries skipped (no update, no decay, state kept), per-entry step counts.
 * The hyperparameter fields mean what they mean in Optimizer and start at
 * the same defaults. Moments live on the device, step counts on the host. */
#ifndef THAW_CUDA_OPTIM_H
#define THAW_CUDA_OPTIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"
#include "engine/core/params.h"
#include "engine/cuda/cuda_arena.h"
#include "engine/cuda/cuda_context.h"
#include "engine/optim/optimizer.h"

typedef struct {
    OptimizerKind kind;
    float momentum, dampening;   /* SGD */
    int nesterov;
    float beta1, beta2, eps;     /* AdamW */
    float *exp_avg;              /* device: SGD momentum / Adam first moment */
    float *exp_avg_sq;           /* device: Adam second moment */
    int64_t *steps;              /* host, per parameter entry */
    size_t n_weights;
    int n_params;
} ThawCudaOptimizer;

int thaw_cuda_optimizer_init(ThawCudaContext *ctx, ThawCudaOptimizer *o,
                             OptimizerKind kind, const ParamTable *t,
                             ThawError *err);
void thaw_cuda_optimizer_free(ThawCudaOptimizer *o);

/* One step for every trainable entry of t, from a->grads into a->weights.
 * Reads t only for its layout, groups and freezing. */
int thaw_cuda_optimizer_step(ThawCudaContext *ctx, ThawCudaOptimizer *o,
                             ThawCudaArena *a, const ParamTable *t,
                             ThawError *err);

/* Takes hyper's SGD momentum, dampening, nesterov and AdamW betas and eps
 * (the host Optimizer the run edits); NULL keeps the current ones. */
void thaw_cuda_optimizer_set_hyper(ThawCudaOptimizer *o, const Optimizer *hyper);

/* Moments and step counts to / from a host Optimizer of the same kind and
 * layout (checkpoints, resume); both wait for the copies. */
int thaw_cuda_optimizer_download(ThawCudaContext *ctx, const ThawCudaOptimizer *o,
                                 Optimizer *host, ThawError *err);
int thaw_cuda_optimizer_upload(ThawCudaContext *ctx, ThawCudaOptimizer *o,
                               const Optimizer *host, ThawError *err);

#ifdef __cplusplus
}
#endif

#endif
