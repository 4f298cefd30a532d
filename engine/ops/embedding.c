/* Row gather and scatter-add. Backward runs in parallel over the columns of
 * the embedding (every thread sees every id, in order, and owns a slice of
 * columns), so repeated ids need no atomics and the sum order is fixed. */
#include "engine/ops/embedding.h"

#include <stddef.h>
#include <string.h>

#define EMB_PAR_MIN (1 << 14)   /* n * dim below which one thread is faster */

void embedding_forward(float *out, const int32_t *ids, const float *table,
                       int n, int dim)
{
#pragma omp parallel for schedule(static) if ((long)n * dim >= EMB_PAR_MIN)
    for (int i = 0; i < n; i++) {
        memcpy(out + (size_t)i * dim, table + (size_t)ids[i] * dim,
               (size_t)dim * sizeof(float));
    }
}

void embedding_forward_add(float *out, const int32_t *ids,
                           const float *table, int n, int dim)
{
#pragma omp parallel for schedule(static) if ((long)n * dim >= EMB_PAR_MIN)
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * dim;
        const float *row = table + (size_t)ids[i] * dim;
        for (int j = 0; j < dim; j++) {
            o[j] += row[j];
        }
    }
}

void embedding_backward(float *dtable, const float *dout, const int32_t *ids,
                        int n, int dim)
{
    const int slice = 64;   /* columns per task: whole cache lines */
    int slices = (dim + slice - 1) / slice;
#pragma omp parallel for schedule(static) if ((long)n * dim >= EMB_PAR_MIN)
    for (int s = 0; s < slices; s++) {
        int lo = s * slice, hi = lo + slice < dim ? lo + slice : dim;
        for (int i = 0; i < n; i++) {
            float *d = dtable + (size_t)ids[i] * dim;
            const float *g = dout + (size_t)i * dim;
            for (int j = lo; j < hi; j++) {
                d[j] += g[j];
            }
        }
    }
}
