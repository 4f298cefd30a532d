/* The per-thread work of the embedding kernels (cuda_embedding.cu) as
 * __host__ __device__ functions, so tests/gpu/host_embedding.cu runs them
 * on the CPU over every index of the real launches against the CPU op.
 * Both add in the CPU op's order (engine/ops/embedding.c): the same bits. */
#ifndef THAW_CUDA_EMBEDDING_BODY_H
#define THAW_CUDA_EMBEDDING_BODY_H

#include <stddef.h>
#include <stdint.h>

#define THAW_EMB_FN __host__ __device__ static inline

/* out[i, j] = table[ids[i], j], or += with add; e = i * dim + j. */
THAW_EMB_FN void thaw_embedding_forward_at(float *out, const int32_t *ids, const float *table,
                                           int dim, int add, size_t e)
{
    size_t i = e / (size_t)dim, j = e % (size_t)dim;
    float v = table[(size_t)ids[i] * dim + j];
    out[e] = add ? out[e] + v : v;
}

/* Column j of group g (engine/ops/embedding_groups.h): dtable[id[g], j] +=
 * the rows of the group's tokens in token order; e = g * dim + j. Groups
 * own distinct rows, so no two threads write one element. */
THAW_EMB_FN void thaw_embedding_backward_at(float *dtable, const float *dout,
                                            const int32_t *group_id, const int32_t *start,
                                            const int32_t *order, int dim, size_t e)
{
    size_t g = e / (size_t)dim, j = e % (size_t)dim;
    float *d = dtable + (size_t)group_id[g] * dim + j;
    float acc = *d;
    for (int32_t k = start[g]; k < start[g + 1]; k++) {
        acc += dout[(size_t)order[k] * dim + j];
    }
    *d = acc;
}

#endif
