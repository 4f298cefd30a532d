/* The model's parameter arenas on the device, mirroring ParamTable's layout
 * (engine/core/params.h): weights, gradients (same offsets) and float
 * buffers, each one allocation, so an entry's device address is its arena
 * plus its ParamInfo offset. int64 counters (num_batches_tracked) stay on the
 * host. ThawCudaStaging is pinned host memory for asynchronous copies. */
#ifndef THAW_CUDA_ARENA_H
#define THAW_CUDA_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/core/error.h"
#include "engine/core/params.h"
#include "engine/cuda/cuda_context.h"

typedef struct {
    float *weights, *grads, *buffers;   /* device */
    size_t n_weights, n_buffers;
} ThawCudaArena;

/* Allocates (zeroed) arenas sized for t. */
int thaw_cuda_arena_init(ThawCudaContext *ctx, ThawCudaArena *a,
                         const ParamTable *t, ThawError *err);
void thaw_cuda_arena_free(ThawCudaArena *a);

/* Host -> device: weights and buffers (asynchronous on ctx's stream). */
int thaw_cuda_arena_upload(ThawCudaContext *ctx, ThawCudaArena *a,
                           const ParamTable *t, ThawError *err);
/* Device -> host: weights and buffers; returns once they are in t. */
int thaw_cuda_arena_download(ThawCudaContext *ctx, const ThawCudaArena *a,
                             ParamTable *t, ThawError *err);
/* Device -> host: gradients into t->grads; returns once they are there. */
int thaw_cuda_arena_download_grads(ThawCudaContext *ctx, const ThawCudaArena *a,
                                   ParamTable *t, ThawError *err);
/* Zeroes the gradients of trainable entries, like params_zero_grad: a
 * frozen entry's gradient is left as it is. */
int thaw_cuda_arena_zero_grad(ThawCudaContext *ctx, ThawCudaArena *a,
                              const ParamTable *t, ThawError *err);

/* Device address of entry index: weight or buffer; its gradient (NULL
 * unless a weight). */
float *thaw_cuda_arena_data(const ThawCudaArena *a, const ParamTable *t, int index);
float *thaw_cuda_arena_grad(const ThawCudaArena *a, const ParamTable *t, int index);

/* Pinned (page-locked) host memory: the source of asynchronous uploads. */
typedef struct {
    void *host;
    size_t bytes;
} ThawCudaStaging;

int thaw_cuda_staging_init(ThawCudaStaging *s, size_t bytes, ThawError *err);
void thaw_cuda_staging_free(ThawCudaStaging *s);

#ifdef __cplusplus
}
#endif

#endif
