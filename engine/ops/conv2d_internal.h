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

/* Floats of im2col scratch we aim for per chunk: large enough that the GEMM
 * runs at full speed (thousands of rows), small enough to stay in L3. */
#define CONV2D_COL_BUDGET ((size_t)1 << 21)

/* Output rows (of q pixels) per im2col chunk for shape s. */
int conv2d_rows_per_chunk(const Conv2dShape *s);

/* col[(rows of chunk) * q][r*s*c] for global output rows [row0, row1) where
 * a global row is n*p + p_index. Out-of-image taps are zero. */
void conv2d_im2col(float *col, const float *in, const Conv2dShape *s,
                   int row0, int row1);

/* din += col2im(dcol) for the same rows; parallel over input rows, so no
 * two threads ever add into the same input pixel. */
void conv2d_col2im_add(float *din, const float *dcol, const Conv2dShape *s,
                       int row0, int row1);

/* wr[k][r][s][cg] = w[k][cg][r][s]. */
void conv2d_reorder_weight(float *wr, const float *w, const Conv2dShape *s);

/* dw[k][cg][r][s] += dwr[k][r][s][cg]. */
void conv2d_unreorder_add(float *dw, const float *dwr, const Conv2dShape *s);

/* Weights for computing din as a stride-1 convolution of dout:
 * wt[g][cg][r'][s'][kg] = w[g*kg + kk][cj][r-1-r'][s-1-s']. */
void conv2d_flip_weight(float *wt, const float *w, const Conv2dShape *s);

/* Depthwise (groups == c == k). */
int conv2d_is_depthwise(const Conv2dShape *s);
size_t conv2d_dw_workspace_floats(const Conv2dShape *s);
void conv2d_dw_forward(float *out, const float *in, const float *weight,
                       const float *bias, const Conv2dShape *s, float *ws);
void conv2d_dw_backward(float *din, float *dweight, float *dbias,
                        const float *dout, const float *in,
                        const float *weight, const Conv2dShape *s, float *ws);

#endif
