/* The CUDA backend's memory, copies, parameter arena and optimizer as
 * host stand-ins ("device" memory is host memory), for the host_*.cu tests
 * that run an executor's own code on the CPU (host_bert_executor,
 * host_graph_executor). Blocks grow filled with NaN, so a read before a
 * write shows; the parameter arena is cuda_arena.cu's own code over these
 * stand-ins; the optimizer is the CPU optimizer_step over the arena.
 * Include once, after the executor's sources. */
#ifndef THAW_TESTS_GPU_HOST_BACKEND_H
#define THAW_TESTS_GPU_HOST_BACKEND_H

#include "engine/cuda/cuda_arena.h"
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_optim.h"

/* (C++ linkage, as cuda_context_internal.h declares it.) Growing fills the new block with NaN: a read before a write shows. */
int thaw_cuda_block_grow(ThawCudaContext *ctx, DevBlock *b, size_t bytes, ThawError *err)
{
    (void)ctx;
    (void)err;
    if (bytes <= b->bytes && b->ptr) {
        return 0;
    }
    free(b->ptr);
    b->ptr = malloc(bytes ? bytes : 16);
    memset(b->ptr, 0xff, bytes ? bytes : 16);
    b->bytes = bytes;
    return 0;
}


extern "C" {

int thaw_cuda_synchronize(ThawCudaContext *ctx, ThawError *err)
{
    (void)ctx;
    (void)err;
    return 0;
}


int thaw_cuda_alloc(void **ptr, size_t bytes, ThawError *err)
{
    (void)err;
    *ptr = calloc(1, bytes ? bytes : 1);
    return 0;
}

void thaw_cuda_release(void *ptr)
{
    free(ptr);
}

int thaw_cuda_upload(ThawCudaContext *c, void *dst, const void *src, size_t bytes, ThawError *err)
{
    (void)c;
    (void)err;
    if (bytes) {
        memcpy(dst, src, bytes);
    }
    return 0;
}

int thaw_cuda_download(ThawCudaContext *c, void *dst, const void *src, size_t bytes,
                       ThawError *err)
{
    return thaw_cuda_upload(c, dst, src, bytes, err);
}

int thaw_cuda_zero(ThawCudaContext *c, void *dst, size_t bytes, ThawError *err)
{
    (void)c;
    (void)err;
    if (bytes) {
        memset(dst, 0, bytes);
    }
    return 0;
}

} /* extern "C" */

/* The arena and staging code itself (cuda_arena.cu) over the stand-ins
 * above; pinned host memory is plain host memory here. */
static inline cudaError_t host_malloc_host(void **p, size_t bytes)
{
    *p = calloc(1, bytes ? bytes : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

static inline cudaError_t host_free_host(void *p)
{
    free(p);
    return cudaSuccess;
}

#define cudaMallocHost host_malloc_host
#define cudaFreeHost host_free_host
#include "engine/cuda/cuda_arena.cu"
#undef cudaMallocHost
#undef cudaFreeHost

extern "C" {

/* The optimizer: the CPU optimizer_step over the arena. */
int thaw_cuda_optimizer_init(ThawCudaContext *ctx, ThawCudaOptimizer *o, OptimizerKind kind,
                             const ParamTable *t, ThawError *err)
{
    (void)ctx;
    Optimizer h;
    int rc = optimizer_init(&h, kind, t, err);
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->momentum = h.momentum;
    o->dampening = h.dampening;
    o->nesterov = h.nesterov;
    o->beta1 = h.beta1;
    o->beta2 = h.beta2;
    o->eps = h.eps;
    o->exp_avg = h.exp_avg;
    o->exp_avg_sq = h.exp_avg_sq;
    o->steps = h.steps;
    o->n_weights = h.n_weights;
    o->n_params = h.n_params;
    return rc;
}

void thaw_cuda_optimizer_free(ThawCudaOptimizer *o)
{
    Optimizer h = {};
    h.exp_avg = o->exp_avg;
    h.exp_avg_sq = o->exp_avg_sq;
    h.steps = o->steps;
    optimizer_free(&h);
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

int thaw_cuda_optimizer_step(ThawCudaContext *ctx, ThawCudaOptimizer *o, ThawCudaArena *a,
                             const ParamTable *t, ThawError *err)
{
    (void)ctx;
    (void)err;
    ParamTable view = *t;
    view.weights = a->weights;
    view.grads = a->grads;
    Optimizer h = {};
    h.kind = o->kind;
    h.momentum = o->momentum;
    h.dampening = o->dampening;
    h.nesterov = o->nesterov;
    h.beta1 = o->beta1;
    h.beta2 = o->beta2;
    h.eps = o->eps;
    h.exp_avg = o->exp_avg;
    h.exp_avg_sq = o->exp_avg_sq;
    h.steps = o->steps;
    h.n_weights = o->n_weights;
    h.n_params = o->n_params;
    optimizer_step(&h, &view);
    return 0;
}

int thaw_cuda_optimizer_download(ThawCudaContext *ctx, const ThawCudaOptimizer *o,
                                 Optimizer *host, ThawError *err)
{
    (void)ctx;
    (void)err;
    memcpy(host->exp_avg, o->exp_avg, o->n_weights * sizeof(float));
    if (o->exp_avg_sq) {
        memcpy(host->exp_avg_sq, o->exp_avg_sq, o->n_weights * sizeof(float));
    }
    memcpy(host->steps, o->steps, (size_t)o->n_params * sizeof(int64_t));
    return 0;
}

int thaw_cuda_optimizer_upload(ThawCudaContext *ctx, ThawCudaOptimizer *o,
                               const Optimizer *host, ThawError *err)
{
    (void)ctx;
    (void)err;
    memcpy(o->exp_avg, host->exp_avg, o->n_weights * sizeof(float));
    if (o->exp_avg_sq) {
        memcpy(o->exp_avg_sq, host->exp_avg_sq, o->n_weights * sizeof(float));
    }
    memcpy(o->steps, host->steps, (size_t)o->n_params * sizeof(int64_t));
    return 0;
}

} /* extern "C" */

#endif
