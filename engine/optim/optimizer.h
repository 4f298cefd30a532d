/* Optimizers over the parameter arena, one flat loop per parameter, with
 * PyTorch's exact update rules (torch.optim.SGD and AdamW, 1.13). Each group
 * brings its lr and weight decay; a frozen group is skipped entirely: no
 * update, no weight decay, its state kept for when it thaws. */
#ifndef THAW_OPTIMIZER_H
#define THAW_OPTIMIZER_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/core/params.h"

typedef enum { OPT_SGD, OPT_ADAMW } OptimizerKind;

typedef struct {
    OptimizerKind kind;
    float momentum, dampening;   /* SGD */
    int nesterov;
    float beta1, beta2, eps;     /* AdamW */
    float *exp_avg;              /* SGD momentum buffer / Adam first moment */
    float *exp_avg_sq;           /* Adam second moment */
    int64_t *steps;              /* per parameter entry */
    size_t n_weights;
    int n_params;
} Optimizer;

/* Defaults: SGD momentum 0, dampening 0; AdamW betas (0.9, 0.999), eps 1e-8. */
int optimizer_init(Optimizer *o, OptimizerKind kind, const ParamTable *t,
                   ThawError *err);
void optimizer_free(Optimizer *o);

/* One step for every trainable parameter, from t->grads. */
void optimizer_step(Optimizer *o, ParamTable *t);

const char *optimizer_name(OptimizerKind kind);
int optimizer_parse(const char *name, OptimizerKind *kind);

#endif
