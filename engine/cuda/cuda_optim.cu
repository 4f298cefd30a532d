/* SGD and AdamW on the device: one fused kernel per trainable entry (read
 * p, g and the moments once, write them once). Step-dependent constants
 * (bias corrections) are computed on the host in double exactly as in
 * engine/optim/optimizer.c, so the per-element arithmetic is the same. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

__global__ static void sgd_kernel(float *p, const float *g, float *buf, size_t n,
                                  float lr, float wd, float mom, float damp,
                                  int nesterov, int first)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float d = g[i] + wd * p[i];
        if (mom != 0.0f) {
            buf[i] = first ? d : mom * buf[i] + damp * d;
            d = nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

__global__ static void adamw_kernel(float *p, const float *g, float *m, float *v,
                                    size_t n, float b1, float b2, float eps,
                                    float step_size, float bc2_sqrt, float decay)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float pi = p[i] * decay;
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi - step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

int thaw_cuda_optimizer_init(ThawCudaContext *ctx, ThawCudaOptimizer *o,
                             OptimizerKind kind, const ParamTable *t,
                             ThawError *err)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->n_weights = t->n_weights;
    o->n_params = t->count;
    o->steps = (int64_t *)calloc((size_t)t->count + 1, sizeof(int64_t));
    if (!o->steps) {
        return thaw_fail(err, THAW_ERR_NOMEM, "out of memory for optimizer steps");
    }
    const size_t bytes = (t->n_weights + 1) * sizeof(float);
    int rc = thaw_cuda_alloc((void **)&o->exp_avg, bytes, err);
    rc = rc ? rc : thaw_cuda_zero(ctx, o->exp_avg, bytes, err);
    if (!rc && kind == OPT_ADAMW) {
        rc = thaw_cuda_alloc((void **)&o->exp_avg_sq, bytes, err);
        rc = rc ? rc : thaw_cuda_zero(ctx, o->exp_avg_sq, bytes, err);
    }
    if (rc) {
        thaw_cuda_optimizer_free(o);
    }
    return rc;
}

void thaw_cuda_optimizer_free(ThawCudaOptimizer *o)
{
    thaw_cuda_release(o->exp_avg);
    thaw_cuda_release(o->exp_avg_sq);
    free(o->steps);
    memset(o, 0, sizeof *o);
}

int thaw_cuda_optimizer_step(ThawCudaContext *ctx, ThawCudaOptimizer *o,
                             ThawCudaArena *a, const ParamTable *t,
                             ThawError *err)
{
    if (t->count != o->n_params || t->n_weights != o->n_weights) {
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "optimizer made for %d entries / %zu weights, table has "
                         "%d / %zu", o->n_params, o->n_weights, t->count, t->n_weights);
    }
    for (int i = 0; i < t->count; i++) {
        if (!params_trainable(t, i)) {
            continue;
        }
        const ParamInfo *info = &t->items[i];
        const ParamGroup *grp = &t->groups[info->group];
        float *p = a->weights + info->offset;
        const float *g = a->grads + info->offset;
        float *m = o->exp_avg + info->offset;
        const int64_t step = ++o->steps[i];
        const size_t n = info->numel;
        const unsigned blocks = thaw_cuda_blocks(n);
        if (n == 0) {
            continue;
        }
        if (o->kind == OPT_SGD) {
            sgd_kernel<<<blocks, THAW_CUDA_THREADS, 0, ctx->stream>>>(
                p, g, m, n, grp->lr, grp->weight_decay, o->momentum,
                1.0f - o->dampening, o->nesterov, step == 1);
            THAW_CUDA_CHECK_LAUNCH("sgd_kernel");
        } else {
            const double bc1 = 1.0 - pow(o->beta1, (double)step);
            const double bc2 = 1.0 - pow(o->beta2, (double)step);
            adamw_kernel<<<blocks, THAW_CUDA_THREADS, 0, ctx->stream>>>(
                p, g, m, o->exp_avg_sq + info->offset, n, o->beta1, o->beta2,
                o->eps, (float)(grp->lr / bc1), (float)sqrt(bc2),
                1.0f - grp->lr * grp->weight_decay);
            THAW_CUDA_CHECK_LAUNCH("adamw_kernel");
        }
    }
    return 0;
}

void thaw_cuda_optimizer_set_hyper(ThawCudaOptimizer *o, const Optimizer *hyper)
{
    if (hyper) {
        o->momentum = hyper->momentum;
        o->dampening = hyper->dampening;
        o->nesterov = hyper->nesterov;
        o->beta1 = hyper->beta1;
        o->beta2 = hyper->beta2;
        o->eps = hyper->eps;
    }
}

static int same_layout(const ThawCudaOptimizer *d, const Optimizer *h, ThawError *err)
{
    if (d->kind != h->kind || d->n_weights != h->n_weights || d->n_params != h->n_params) {
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "GPU optimizer (%s, %zu weights, %d entries) and host optimizer "
                         "(%s, %zu, %d) differ",
                         optimizer_name(d->kind), d->n_weights, d->n_params,
                         optimizer_name(h->kind), h->n_weights, h->n_params);
    }
    return 0;
}

int thaw_cuda_optimizer_download(ThawCudaContext *ctx, const ThawCudaOptimizer *o,
                                 Optimizer *host, ThawError *err)
{
    const size_t bytes = o->n_weights * sizeof(float);
    int rc = same_layout(o, host, err);
    rc = rc ? rc : thaw_cuda_download(ctx, host->exp_avg, o->exp_avg, bytes, err);
    if (rc == 0 && o->kind == OPT_ADAMW) {
        rc = thaw_cuda_download(ctx, host->exp_avg_sq, o->exp_avg_sq, bytes, err);
    }
    rc = rc ? rc : thaw_cuda_synchronize(ctx, err);
    if (rc == 0) {
        memcpy(host->steps, o->steps, (size_t)o->n_params * sizeof(int64_t));
    }
    return rc;
}

int thaw_cuda_optimizer_upload(ThawCudaContext *ctx, ThawCudaOptimizer *o,
                               const Optimizer *host, ThawError *err)
{
    const size_t bytes = o->n_weights * sizeof(float);
    int rc = same_layout(o, host, err);
    rc = rc ? rc : thaw_cuda_upload(ctx, o->exp_avg, host->exp_avg, bytes, err);
    if (rc == 0 && o->kind == OPT_ADAMW) {
        rc = thaw_cuda_upload(ctx, o->exp_avg_sq, host->exp_avg_sq, bytes, err);
    }
    /* pageable sources: the copies may still read them after return */
    rc = rc ? rc : thaw_cuda_synchronize(ctx, err);
    if (rc == 0) {
        memcpy(o->steps, host->steps, (size_t)o->n_params * sizeof(int64_t));
    }
    return rc;
}
