/* Max pooling and adaptive average pooling on NHWC data. Every inner loop
 * runs over the c contiguous channels of one pixel, so it vectorises and
 * streams memory; threads split images (and output rows in forward, where
 * outputs never overlap). */
#include "engine/ops/pool.h"

#include <stddef.h>

int pool2d_shape_init(Pool2dShape *s, int n, int h, int w, int c, int kernel,
                      int stride, int pad)
{
    if (!s || n <= 0 || h <= 0 || w <= 0 || c <= 0 || kernel <= 0 ||
        stride <= 0 || pad < 0 || pad > kernel / 2) {
        return -1;   /* PyTorch also refuses pad > kernel/2 */
    }
    int p = (h + 2 * pad - kernel) / stride + 1;
    int q = (w + 2 * pad - kernel) / stride + 1;
    if (h + 2 * pad < kernel || w + 2 * pad < kernel || p <= 0 || q <= 0) {
        return -1;
    }
    *s = (Pool2dShape){
        .n = n, .h = h, .w = w, .c = c,
        .kh = kernel, .kw = kernel,
        .stride_h = stride, .stride_w = stride,
        .pad_h = pad, .pad_w = pad,
        .p = p, .q = q,
    };
    return 0;
}

/* Window [lo, hi) along one axis, clipped to the image: padding is -inf for
 * max pooling, so clipped cells can never win and are simply skipped. */
static void clip_window(int o, int stride, int pad, int k, int size, int *lo,
                        int *hi)
{
    int a = o * stride - pad;
    int b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > size ? size : b;
}

void maxpool2d_forward(float *out, int32_t *argmax, const float *in,
                       const Pool2dShape *s)
{
    const int h = s->h, w = s->w, c = s->c, P = s->p, Q = s->q;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < s->n; b++) {
        for (int op = 0; op < P; op++) {
            int h0, h1;
            clip_window(op, s->stride_h, s->pad_h, s->kh, h, &h0, &h1);
            for (int oq = 0; oq < Q; oq++) {
                int w0, w1;
                clip_window(oq, s->stride_w, s->pad_w, s->kw, w, &w0, &w1);
                size_t o = (((size_t)b * P + op) * Q + oq) * c;
                float *ro = out + o;
                int32_t *ra = argmax + o;
                /* Scan in PyTorch's order (row, then column); the first cell
                 * seeds the maximum so ties keep the first index. */
                int first = 1;
                for (int ih = h0; ih < h1; ih++) {
                    for (int iw = w0; iw < w1; iw++) {
                        size_t base = (((size_t)b * h + ih) * w + iw) * c;
                        const float *ri = in + base;
                        int32_t ib = (int32_t)base;
                        if (first) {
                            for (int j = 0; j < c; j++) {
                                ro[j] = ri[j];
                                ra[j] = ib + j;
                            }
                            first = 0;
                            continue;
                        }
#pragma omp simd
                        for (int j = 0; j < c; j++) {
                            float v = ri[j];
                            /* NaN wins, as in PyTorch */
                            int up = (v > ro[j]) | (v != v);
                            ro[j] = up ? v : ro[j];
                            ra[j] = up ? ib + j : ra[j];
                        }
                    }
                }
            }
        }
    }
}

void maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                        const Pool2dShape *s)
{
    const size_t per_out = (size_t)s->p * s->q * s->c;
    /* Windows overlap within an image, never across images. */
#pragma omp parallel for schedule(static)
    for (int b = 0; b < s->n; b++) {
        const float *d = dout + b * per_out;
        const int32_t *a = argmax + b * per_out;
        for (size_t i = 0; i < per_out; i++) {
            din[a[i]] += d[i];
        }
    }
}

/* PyTorch's adaptive bins: [floor(i*size/out), ceil((i+1)*size/out)). */
static void adaptive_bin(int i, int size, int outsize, int *lo, int *hi)
{
    *lo = (int)(((long)i * size) / outsize);
    *hi = (int)((((long)i + 1) * size + outsize - 1) / outsize);
}

void adaptive_avgpool2d_forward(float *out, const float *in, int n, int h,
                                int w, int c, int oh, int ow)
{
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++) {
        for (int oi = 0; oi < oh; oi++) {
            int h0, h1;
            adaptive_bin(oi, h, oh, &h0, &h1);
            for (int oj = 0; oj < ow; oj++) {
                int w0, w1;
                adaptive_bin(oj, w, ow, &w0, &w1);
                float *ro = out + (((size_t)b * oh + oi) * ow + oj) * c;
                for (int j = 0; j < c; j++) {
                    ro[j] = 0.0f;
                }
                for (int ih = h0; ih < h1; ih++) {
                    for (int iw = w0; iw < w1; iw++) {
                        const float *ri = in + (((size_t)b * h + ih) * w + iw) * c;
#pragma omp simd
                        for (int j = 0; j < c; j++) {
                            ro[j] += ri[j];
                        }
                    }
                }
                float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));
#pragma omp simd
                for (int j = 0; j < c; j++) {
                    ro[j] *= inv;
                }
            }
        }
    }
}

void adaptive_avgpool2d_backward(float *din, const float *dout, int n, int h,
                                 int w, int c, int oh, int ow)
{
    /* Bins overlap when sizes do not divide, so threads split images only. */
#pragma omp parallel for schedule(static)
    for (int b = 0; b < n; b++) {
        for (int oi = 0; oi < oh; oi++) {
            int h0, h1;
            adaptive_bin(oi, h, oh, &h0, &h1);
            for (int oj = 0; oj < ow; oj++) {
                int w0, w1;
                adaptive_bin(oj, w, ow, &w0, &w1);
                const float *rd = dout + (((size_t)b * oh + oi) * ow + oj) * c;
                float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));
                for (int ih = h0; ih < h1; ih++) {
                    for (int iw = w0; iw < w1; iw++) {
                        float *ri = din + (((size_t)b * h + ih) * w + iw) * c;
#pragma omp simd
                        for (int j = 0; j < c; j++) {
                            ri[j] += rd[j] * inv;
                        }
                    }
                }
            }
        }
    }
}
