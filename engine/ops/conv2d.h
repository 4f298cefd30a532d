/* 2-D convolution, CPU. Activations are NHWC: in [n, h, w, c], out [n, p, q, k].
 * Weights keep PyTorch's layout [k, c/groups, r, s] so state_dict names and
 * bytes are the interop contract. Supports stride, padding, dilation and
 * groups (depthwise when groups == c). Matrix products go through OpenBLAS.
 *
 * Backward rule (as in llm.c): every gradient output ACCUMULATES (+=) into
 * its buffer; callers zero buffers first. Any of din, dweight, dbias may be
 * NULL to skip that gradient (frozen weights, or the lowest trainable op,
 * which needs no input gradient). */
#ifndef THAW_OP_CONV2D_H
#define THAW_OP_CONV2D_H

#include <stddef.h>

typedef struct {
    int n, h, w, c;          /* input */
    int k, r, s;             /* output channels, kernel height, width */
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dil_h, dil_w;
    int groups;
    int p, q;                /* output height, width (computed) */
} Conv2dShape;

/* Fills s and computes p, q. Returns 0, or -1 when the configuration is
 * invalid (channels not divisible by groups, empty output). */
int conv2d_shape_init(Conv2dShape *s, int n, int h, int w, int c, int k,
                      int r, int kernel_s, int stride, int pad, int dilation,
                      int groups);

/* Scratch floats forward/backward need (reordered weights, an im2col chunk
 * per thread, a dW partial per extra thread). Sized for the OpenMP thread
 * count at the time of the call; do not raise omp_set_num_threads between
 * sizing and use. Independent of the batch size beyond the first chunk. */
size_t conv2d_workspace_floats(const Conv2dShape *s);

/* Both run OpenMP regions and, inside them, single-threaded OpenBLAS calls
 * (openblas_set_num_threads(1) for the duration, restored after): call them
 * from one thread at a time, as the engine thread does. */
void conv2d_forward(float *out, const float *in, const float *weight,
                    const float *bias, const Conv2dShape *s, float *workspace);

void conv2d_backward(float *din, float *dweight, float *dbias,
                     const float *dout, const float *in, const float *weight,
                     const Conv2dShape *s, float *workspace);

/* Tests and benchmarks only: floats of im2col scratch per thread chunk (0
 * restores the default, 1 MB; below a quarter of that the 512-row minimum is
 * dropped too, so tests can force one output row per chunk). Changes
 * conv2d_workspace_floats(), so size the workspace after calling it. */
void conv2d_set_chunk_budget(size_t floats);

/* Tests and benchmarks only: 0 turns the Winograd path for 3x3 stride-1
 * convs off (im2col + GEMM for every conv), 1 (the default) back on. */
void conv2d_set_winograd(int on);

#endif
