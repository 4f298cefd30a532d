#include "pad.h"

#include <stddef.h>
#include <string.h>

void pad2d_forward(float *out, const float *in, const Pad2dShape *s)
{
    const int oh = s->h + s->top + s->bottom, ow = s->w + s->left + s->right;
    const size_t c = (size_t)s->c, orow = (size_t)ow * c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < s->n; n++) {
        for (int y = 0; y < oh; y++) {
            float *dst = out + ((size_t)n * oh + y) * orow;
            int iy = y - s->top;
            if (iy < 0 || iy >= s->h) {
                memset(dst, 0, orow * sizeof(float));
                continue;
            }
            const float *src = in + ((size_t)n * s->h + iy) * s->w * c;
            memset(dst, 0, (size_t)s->left * c * sizeof(float));
            memcpy(dst + (size_t)s->left * c, src, (size_t)s->w * c * sizeof(float));
            memset(dst + (size_t)(s->left + s->w) * c, 0,
                   (size_t)s->right * c * sizeof(float));
        }
    }
}

void pad2d_backward(float *din, const float *dout, const Pad2dShape *s)
{
    const int oh = s->h + s->top + s->bottom, ow = s->w + s->left + s->right;
    const size_t c = (size_t)s->c, row = (size_t)s->w * c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < s->n; n++) {
        for (int y = 0; y < s->h; y++) {
            float *dst = din + ((size_t)n * s->h + y) * row;
            const float *src = dout + (((size_t)n * oh + y + s->top) * ow + s->left) * c;
            for (size_t k = 0; k < row; k++) {
                dst[k] += src[k];
            }
        }
    }
}
