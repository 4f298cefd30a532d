/* Parameter arenas on the device and pinned staging memory. */
#include "engine/cuda/cuda_arena.h"
#include "engine/cuda/cuda_context_internal.h"

#include <string.h>

int thaw_cuda_arena_init(ThawCudaContext *ctx, ThawCudaArena *a,
                         const ParamTable *t, ThawError *err)
{
    memset(a, 0, sizeof *a);
    a->n_weights = t->n_weights;
    a->n_buffers = t->n_buffers;
    const size_t wb = a->n_weights * sizeof(float), bb = a->n_buffers * sizeof(float);
    int rc = thaw_cuda_alloc((void **)&a->weights, wb, err);
    rc = rc ? rc : thaw_cuda_alloc((void **)&a->grads, wb, err);
    rc = rc ? rc : thaw_cuda_alloc((void **)&a->buffers, bb, err);
    rc = rc ? rc : thaw_cuda_zero(ctx, a->weights, wb, err);
    rc = rc ? rc : thaw_cuda_zero(ctx, a->grads, wb, err);
    rc = rc ? rc : thaw_cuda_zero(ctx, a->buffers, bb, err);
    if (rc) {
        thaw_cuda_arena_free(a);
    }
    return rc;
}

void thaw_cuda_arena_free(ThawCudaArena *a)
{
    thaw_cuda_release(a->weights);
    thaw_cuda_release(a->grads);
    thaw_cuda_release(a->buffers);
    memset(a, 0, sizeof *a);
}

static int check_sizes(const ThawCudaArena *a, const ParamTable *t, ThawError *err)
{
    if (a->n_weights != t->n_weights || a->n_buffers != t->n_buffers) {
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "device arena holds %zu weights and %zu buffers, the "
                         "table %zu and %zu",
                         a->n_weights, a->n_buffers, t->n_weights, t->n_buffers);
    }
    return 0;
}

int thaw_cuda_arena_upload(ThawCudaContext *ctx, ThawCudaArena *a,
                           const ParamTable *t, ThawError *err)
{
    int rc = check_sizes(a, t, err);
    rc = rc ? rc : thaw_cuda_upload(ctx, a->weights, t->weights,
                                    t->n_weights * sizeof(float), err);
    rc = rc ? rc : thaw_cuda_upload(ctx, a->buffers, t->buffers,
                                    t->n_buffers * sizeof(float), err);
    return rc;
}

int thaw_cuda_arena_download(ThawCudaContext *ctx, const ThawCudaArena *a,
                             ParamTable *t, ThawError *err)
{
    int rc = check_sizes(a, t, err);
    rc = rc ? rc : thaw_cuda_download(ctx, t->weights, a->weights,
                                      t->n_weights * sizeof(float), err);
    rc = rc ? rc : thaw_cuda_download(ctx, t->buffers, a->buffers,
                                      t->n_buffers * sizeof(float), err);
    return rc ? rc : thaw_cuda_synchronize(ctx, err);
}

int thaw_cuda_arena_download_grads(ThawCudaContext *ctx, const ThawCudaArena *a,
                                   ParamTable *t, ThawError *err)
{
    int rc = check_sizes(a, t, err);
    rc = rc ? rc : thaw_cuda_download(ctx, t->grads, a->grads,
                                      t->n_weights * sizeof(float), err);
    return rc ? rc : thaw_cuda_synchronize(ctx, err);
}

int thaw_cuda_arena_zero_grad(ThawCudaContext *ctx, ThawCudaArena *a,
                              const ParamTable *t, ThawError *err)
{
    for (int i = 0; i < t->count; i++) {
        if (params_trainable(t, i)) {
            int rc = thaw_cuda_zero(ctx, thaw_cuda_arena_grad(a, t, i),
                                    t->items[i].numel * sizeof(float), err);
            if (rc) {
                return rc;
            }
        }
    }
    return 0;
}

float *thaw_cuda_arena_data(const ThawCudaArena *a, const ParamTable *t, int index)
{
    const ParamInfo *p = &t->items[index];
    if (p->kind == PARAM_WEIGHT) {
        return a->weights + p->offset;
    }
    return p->kind == PARAM_BUFFER ? a->buffers + p->offset : NULL;
}

float *thaw_cuda_arena_grad(const ThawCudaArena *a, const ParamTable *t, int index)
{
    const ParamInfo *p = &t->items[index];
    return p->kind == PARAM_WEIGHT ? a->grads + p->offset : NULL;
}

int thaw_cuda_staging_init(ThawCudaStaging *s, size_t bytes, ThawError *err)
{
    memset(s, 0, sizeof *s);
    THAW_CUDA_CHECK(cudaMallocHost(&s->host, bytes ? bytes : 1));
    s->bytes = bytes;
    return 0;
}

void thaw_cuda_staging_free(ThawCudaStaging *s)
{
    cudaFreeHost(s->host);
    memset(s, 0, sizeof *s);
}
