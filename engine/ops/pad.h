/* Constant zero padding of NHWC activations with separate amounts on each
 * side, as TensorFlow's "SAME" padding needs for stride-2 convolutions on
 * even sizes (one more row/column after than before). Backward crops the
 * output gradient and accumulates (+=) it into din. */
#ifndef THAW_OP_PAD_H
#define THAW_OP_PAD_H

typedef struct {
    int n, h, w, c;
    int top, bottom, left, right;
} Pad2dShape;

/* out is [n, h + top + bottom, w + left + right, c]. */
void pad2d_forward(float *out, const float *in, const Pad2dShape *s);
void pad2d_backward(float *din, const float *dout, const Pad2dShape *s);

#endif
