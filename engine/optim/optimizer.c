#include "optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int optimizer_init(Optimizer *o, OptimizerKind kind, const ParamTable *t,
                   ThawError *err)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->n_weights = t->n_weights;
    o->n_params = t->count;
    o->exp_avg = calloc(t->n_weights + 1, sizeof(float));
    o->exp_avg_sq = kind == OPT_ADAMW ? calloc(t->n_weights + 1, sizeof(float)) : NULL;
    o->steps = calloc((size_t)t->count + 1, sizeof(int64_t));
    if (!o->exp_avg || !o->steps || (kind == OPT_ADAMW && !o->exp_avg_sq)) {
        optimizer_free(o);
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for optimizer state");
    }
    return 0;
}

void optimizer_free(Optimizer *o)
{
    free(o->exp_avg);
    free(o->exp_avg_sq);
    free(o->steps);
    memset(o, 0, sizeof *o);
}

static void sgd_update(const Optimizer *o, float *p, const float *g, float *buf,
                       size_t n, float lr, float wd, int first)
{
    const float mom = o->momentum, damp = 1.0f - o->dampening;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        if (mom != 0.0f) {
            buf[i] = first ? d : mom * buf[i] + damp * d;
            d = o->nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

static void adamw_update(const Optimizer *o, float *p, const float *g,
                         float *m, float *v, size_t n, float lr, float wd,
                         int64_t step)
{
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const double bc1 = 1.0 - pow(b1, (double)step);
    const double bc2 = 1.0 - pow(b2, (double)step);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float decay = 1.0f - lr * wd;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        p[i] *= decay;
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * m[i] / denom;
    }
}

void optimizer_step(Optimizer *o, ParamTable *t)
{
    for (int i = 0; i < t->count; i++) {
        if (!params_trainable(t, i)) {
            continue;
        }
        const ParamInfo *info = &t->items[i];
        const ParamGroup *grp = &t->groups[info->group];
        float *p = params_data(t, i);
        const float *g = params_grad(t, i);
        float *m = o->exp_avg + info->offset;
        int64_t step = ++o->steps[i];
        if (o->kind == OPT_SGD) {
            sgd_update(o, p, g, m, info->numel, grp->lr, grp->weight_decay,
                       step == 1);
        } else {
            adamw_update(o, p, g, m, o->exp_avg_sq + info->offset, info->numel,
                         grp->lr, grp->weight_decay, step);
        }
    }
}

const char *optimizer_name(OptimizerKind kind)
{
    return kind == OPT_SGD ? "sgd" : "adamw";
}

int optimizer_parse(const char *name, OptimizerKind *kind)
{
    if (strcmp(name, "sgd") == 0) {
        *kind = OPT_SGD;
    } else if (strcmp(name, "adamw") == 0) {
        *kind = OPT_ADAMW;
    } else {
        return -1;
    }
    return 0;
}
