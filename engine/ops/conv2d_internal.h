/* Helpers shared by the conv2d files; not part of the op contract.
 *
 * Column layout ("col"): one row per output pixel (n, p, q), columns ordered
 * [group][r][s][c_in_group], so every copy is a contiguous run of channels
 * and a group's block is contiguous inside a row (lda = r*s*c). Reordered
 * weights ("wr") are [k][r][s][c_in_group], so group g's block is the
 * row-major matrix [k/groups, r*s*cg] starting at row g*k/groups. */
#ifndef THAW_OP_CONV2D_INTERNAL_H
#define THAW_OP_CONV2D_INTERNAL_H

#include <stddef.h>

#include "conv2d.h"

/* Threading: OpenMP owns the cores. Inside our parallel regions OpenBLAS is
 * set to one thread, and each thread runs its own GEMMs; two thread pools
 * spinning against each other on few cores halved throughput otherwise.
 * The workspace is sized for conv2d_threads() threads. */
int conv2d_threads(void);
/* OpenBLAS set to one thread around such a region: begin returns the old
 * count, end restores it. */
int conv2d_blas_single_begin(void);
void conv2d_blas_single_end(int saved);

/* Floats of im2col scratch per thread and chunk: enough rows for the GEMM
 * to run at full speed, small enough to stay near the core's L2. */
#define CONV2D_COL_BUDGET ((size_t)1 << 18)
size_t conv2d_chunk_budget(void);

/* Fewest GEMM rows per chunk (output pixels) with the default budget. */
#define CONV2D_MIN_GEMM_ROWS 512

/* Rows per chunk near `per` that split `rows` into equal chunks, a multiple
 * of conv2d_threads() of them where possible. */
int conv2d_balance_chunk(long long rows, long long per);

/* Output rows (of q pixels) per chunk when a chunk may use budget floats. */
int conv2d_rows_per_chunk(const Conv2dShape *s, size_t budget);

/* Splits [0, total) into nparts near-equal ranges; range part -> [*a, *b). */
static inline void conv2d_split(int total, int part, int nparts, int *a, int *b)
{
    *a = (int)((long long)total * part / nparts);
    *b = (int)((long long)total * (part + 1) / nparts);
}

/* col[(rows of chunk) * q][r*s*c] for global output rows [row0, row1) where
 * a global row is n*p + p_index. Out-of-image taps are zero. Fills only
 * the rows of share `part` out of `nparts` (0, 1 for all of them), so the
 * threads of a region can build one chunk together. */
void conv2d_im2col(float *col, const float *in, const Conv2dShape *s,
                   int row0, int row1, int part, int nparts);

/* din += col2im(dcol) for the same rows, gather form: share `part` owns
 * whole input rows, so threads never add into the same input pixel. */
void conv2d_col2im_add(float *din, const float *dcol, const Conv2dShape *s,
                       int row0, int row1, int part, int nparts);

/* wr[k][r][s][cg] = w[k][cg][r][s]. */
void conv2d_reorder_weight(float *wr, const float *w, const Conv2dShape *s);

/* dw[k][cg][r][s] += dwr[k][r][s][cg]. */
void conv2d_unreorder_add(float *dw, const float *dwr, const Conv2dShape *s);

/* Weights for computing din as a stride-1 convolution of dout:
 * wt[g][cg][r'][s'][kg] = w[g*kg + kk][cj][r-1-r'][s-1-s']. */
void conv2d_flip_weight(float *wt, const float *w, const Conv2dShape *s);

/* Winograd F(2x2, 3x3) (conv2d_winograd.c) for 3x3 stride-1 ungrouped
 * convs with 64 or more channels in and out, in multiples of 8, and
 * outputs of 6x6 or more; wr in
 * [k][3][3][c] order. Its workspace: the transformed weights, a row of
 * zeros and per-thread tile buffers (0 when it does not apply). */
int conv2d_wino_applies(const Conv2dShape *s);
size_t conv2d_wino_workspace_floats(const Conv2dShape *s);
void conv2d_wino_forward(float *out, float beta, const float *in, const float *wr,
                         const float *bias, const Conv2dShape *s, float *ws);

/* Depthwise (groups == c == k). */
int conv2d_is_depthwise(const Conv2dShape *s);
size_t conv2d_dw_workspace_floats(const Conv2dShape *s);
void conv2d_dw_forward(float *out, const float *in, const float *weight,
                       const float *bias, const Conv2dShape *s, float *ws);
void conv2d_dw_backward(float *din, float *dweight, float *dbias,
                        const float *dout, const float *in,
                        const float *weight, const Conv2dShape *s, float *ws);

#endif
