#include "pil_resize.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- Pillow's resampling (Image.resize, BICUBIC, 8-bit) ----------------
 * Separable: horizontal pass into uint8 rows, then vertical. Each output
 * pixel is a normalised bicubic (a = -0.5) kernel whose support grows with
 * the shrink factor (antialiasing), applied in 22-bit fixed point. */

#define PIL_PRECISION_BITS (32 - 8 - 2)

static double pil_bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0) {
        x = -x;
    }
    if (x < 1.0) {
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    }
    if (x < 2.0) {
        return (((x - 5) * x + 8) * x - 4) * a;
    }
    return 0.0;
}

/* Fills bounds[2 * out] (first input, count) and fixed-point weights
 * kk[out * ksize]; returns ksize, or 0 when out of memory. */
static int pil_coeffs(int in_size, int out_size, int **bounds_out, int32_t **kk_out)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc((size_t)out_size * 2 * sizeof(int));
    int32_t *kk = malloc((size_t)out_size * (size_t)ksize * sizeof(int32_t));
    double *k = malloc((size_t)ksize * sizeof(double));
    if (!bounds || !kk || !k) {
        free(bounds);
        free(kk);
        free(k);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) {
            xmin = 0;
        }
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) {
            xmax = in_size;
        }
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            k[x] = pil_bicubic((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < ksize; x++) {
            double w = x < xmax && ww != 0.0 ? k[x] / ww : 0.0;
            double f = w * (1 << PIL_PRECISION_BITS);
            kk[xx * ksize + x] = (int32_t)(w < 0 ? -0.5 + f : 0.5 + f);
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static uint8_t pil_clip8(int32_t v)
{
    if (v >= (1 << PIL_PRECISION_BITS << 8)) {
        return 255;
    }
    return v <= 0 ? 0 : (uint8_t)(v >> PIL_PRECISION_BITS);
}

/* Resizes an RGB image to oh x ow as Pillow's Image.resize(BICUBIC). */
int pil_resize_bicubic(const ThawImage *in, int oh, int ow,
                              ThawImage *out, ThawError *err)
{
    int *bh = NULL, *bv = NULL;
    int32_t *kh = NULL, *kv = NULL;
    int ksh = pil_coeffs(in->w, ow, &bh, &kh);
    int ksv = ksh ? pil_coeffs(in->h, oh, &bv, &kv) : 0;
    ThawImage tmp = {0};
    int rc = ksv ? 0 : thaw_fail(err, THAW_ERR_NOMEM, "out of memory resizing");
    /* Rows of the input the vertical pass reads. */
    int y0 = rc == 0 ? bv[0] : 0;
    int y1 = rc == 0 ? bv[2 * oh - 2] + bv[2 * oh - 1] : 0;
    const int c = in->c;
    if (rc == 0) {
        rc = thaw_image_alloc(&tmp, y1 - y0, ow, c, err);
    }
    if (rc == 0) {
        for (int y = 0; y < tmp.h; y++) {
            const uint8_t *src = in->px + (size_t)(y + y0) * in->w * c;
            uint8_t *dst = tmp.px + (size_t)y * ow * c;
            for (int xx = 0; xx < ow; xx++) {
                const int32_t *k = kh + (size_t)xx * ksh;
                int xmin = bh[2 * xx], xn = bh[2 * xx + 1];
                for (int ch = 0; ch < c; ch++) {
                    int32_t ss = 1 << (PIL_PRECISION_BITS - 1);
                    for (int x = 0; x < xn; x++) {
                        ss += src[(x + xmin) * c + ch] * k[x];
                    }
                    dst[xx * c + ch] = pil_clip8(ss);
                }
            }
        }
        rc = thaw_image_alloc(out, oh, ow, c, err);
    }
    if (rc == 0) {
        for (int yy = 0; yy < oh; yy++) {
            const int32_t *k = kv + (size_t)yy * ksv;
            int ymin = bv[2 * yy] - y0, yn = bv[2 * yy + 1];
            uint8_t *dst = out->px + (size_t)yy * ow * c;
            for (int i = 0; i < ow * c; i++) {
                int32_t ss = 1 << (PIL_PRECISION_BITS - 1);
                for (int y = 0; y < yn; y++) {
                    ss += tmp.px[(size_t)(y + ymin) * ow * c + i] * k[y];
                }
                dst[i] = pil_clip8(ss);
            }
        }
    }
    thaw_image_free(&tmp);
    free(bh);
    free(bv);
    free(kh);
    free(kv);
    return rc;
}
