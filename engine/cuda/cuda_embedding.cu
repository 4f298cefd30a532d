/* CUDA twins of the embedding op (cuda_ops.h): a flat gather, and a
 * scatter-add over token groups built on the host
 * (engine/ops/embedding_groups.h), deterministic and the CPU op's bits.
 * The per-thread work is cuda_embedding_body.h's. */
#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_embedding_body.h"
#include "engine/cuda/cuda_ops.h"

__global__ static void embedding_fwd(float *out, const int32_t *ids, const float *table,
                                     int dim, int add, unsigned n)
{
    GRID_STRIDE(e, n) {
        thaw_embedding_forward_at(out, ids, table, dim, add, e);
    }
}

__global__ static void embedding_bwd(float *dtable, const float *dout, const int32_t *group_id,
                                     const int32_t *start, const int32_t *order, int dim,
                                     unsigned n)
{
    GRID_STRIDE(e, n) {
        thaw_embedding_backward_at(dtable, dout, group_id, start, order, dim, e);
    }
}

static int too_big(size_t total, ThawError *err)
{
    return total >= THAW_CUDA_MAX_FLAT
               ? thaw_fail(err, THAW_ERR_ARG, "embedding: %zu elements over the kernels' "
                           "32-bit index", total)
               : 0;
}

extern "C" {

int thaw_cuda_embedding_forward(ThawCudaContext *ctx, float *out, const int32_t *ids,
                                const float *table, int n, int dim, int add, ThawError *err)
{
    const size_t total = (size_t)n * dim;
    if (total == 0) {
        return 0;
    }
    int rc = too_big(total, err);
    if (rc) {
        return rc;
    }
    embedding_fwd<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
        out, ids, table, dim, add != 0, (unsigned)total);
    THAW_CUDA_CHECK_LAUNCH("embedding_fwd");
    return 0;
}

int thaw_cuda_embedding_backward(ThawCudaContext *ctx, float *dtable, const float *dout,
                                 const ThawCudaEmbeddingGroups *groups, int dim,
                                 ThawError *err)
{
    const size_t total = (size_t)groups->n_groups * dim;
    if (total == 0) {
        return 0;
    }
    int rc = too_big(total, err);
    if (rc) {
        return rc;
    }
    embedding_bwd<<<thaw_cuda_blocks(total), THAW_CUDA_THREADS, 0, ctx->stream>>>(
        dtable, dout, groups->id, groups->start, groups->order, dim, (unsigned)total);
    THAW_CUDA_CHECK_LAUNCH("embedding_bwd");
    return 0;
}

} /* extern "C" */
