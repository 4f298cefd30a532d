/* Pooling over NHWC activations. */
#ifndef THAW_OP_POOL_H
#define THAW_OP_POOL_H

#include <stdint.h>

typedef struct {
    int n, h, w, c;
    int kh, kw, stride_h, stride_w, pad_h, pad_w;
    int p, q;                /* output size (computed, floor mode) */
} Pool2dShape;

int pool2d_shape_init(Pool2dShape *s, int n, int h, int w, int c, int kernel,
                      int stride, int pad);

/* Max pooling; padding counts as -inf (PyTorch). argmax[n*p*q*c] receives the
 * flat index into in for backward. Ties pick the first maximum. */
void maxpool2d_forward(float *out, int32_t *argmax, const float *in,
                       const Pool2dShape *s);
void maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                        const Pool2dShape *s);

/* Adaptive average pooling to [n, oh, ow, c] with PyTorch's bins:
 * start = floor(i*h/oh), end = ceil((i+1)*h/oh). */
void adaptive_avgpool2d_forward(float *out, const float *in, int n, int h,
                                int w, int c, int oh, int ow);
void adaptive_avgpool2d_backward(float *din, const float *dout, int n, int h,
                                 int w, int c, int oh, int ow);

#endif
