/* Per-channel sums over the rows of an NHWC map viewed as [m, c], for the
 * backend's .cu files (batch norm statistics and gradients, conv bias
 * gradients). Deterministic: rows are cut into fixed chunks, each chunk is
 * summed in a fixed order, chunks are added in order, all in double. */
#ifndef THAW_CUDA_CHANNEL_SUMS_H
#define THAW_CUDA_CHANNEL_SUMS_H

#include "engine/cuda/cuda_context_internal.h"
#include "engine/cuda/cuda_storage.h"

/* Bytes of device scratch thaw_cuda_channel_sums needs for m x c. */
size_t thaw_cuda_channel_sums_scratch(int m, int c);

/* s1[j] = sum_i (a[i,j] - ka[j]),  s2[j] = sum_i (a[i,j] - ka[j]) (b[i,j] - kb[j])
 * (s1, s2: c doubles on the device). ka, kb: per-channel shifts, NULL for
 * zero (passing the map itself as ka shifts by its first row, which keeps
 * the variance free of cancellation). b NULL: s2 is not computed (s2 may
 * be NULL). scratch: thaw_cuda_channel_sums_scratch(m, c) bytes. S: the
 * maps' storage (float or thaw_bf16), K: the shifts' (float, or S when a
 * map shifts itself); instantiated for (float, float), (bf16, bf16) and
 * (bf16, float). */
template <typename S, typename K>
int thaw_cuda_channel_sums(ThawCudaContext *ctx, double *s1, double *s2, const S *a,
                           const K *ka, const S *b, const K *kb, int m, int c, void *scratch,
                           ThawError *err);

/* dst[j] += sum_i a[i, j] over the m rows (bias gradients of convolutions
 * and linear layers), through thaw_cuda_channel_sums in the context's
 * scratch; a in the context's activation storage. */
int thaw_cuda_add_column_sums(ThawCudaContext *ctx, float *dst, const void *a, int m, int c,
                              ThawError *err);

#endif
