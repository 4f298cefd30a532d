#include "transforms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- RNG ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void thaw_rng_seed(ThawRng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t thaw_rng_u64(ThawRng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double thaw_rng_uniform(ThawRng *r)
{
    return (double)(thaw_rng_u64(r) >> 11) * 0x1.0p-53;
}

int64_t thaw_rng_below(ThawRng *r, int64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t un = (uint64_t)n;
    uint64_t limit = UINT64_MAX - UINT64_MAX % un;
    uint64_t v;
    do {
        v = thaw_rng_u64(r);
    } while (v >= limit);
    return (int64_t)(v % un);
}

uint64_t thaw_seed_mix(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ (b * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
    splitmix64(&x);
    return splitmix64(&x);
}

/* ---- presets ------------------------------------------------------------ */

static void imagenet_norm(ThawTransform *t)
{
    const float mean[3] = {0.485f, 0.456f, 0.406f};
    const float std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(t->mean, mean, sizeof mean);
    memcpy(t->std, std, sizeof std);
}

ThawTransform thaw_transform_eval(int resize_short, int crop)
{
    ThawTransform t;
    memset(&t, 0, sizeof t);
    t.out_h = t.out_w = crop;
    t.resize_short = resize_short;
    imagenet_norm(&t);
    return t;
}

ThawTransform thaw_transform_train(int size)
{
    ThawTransform t;
    memset(&t, 0, sizeof t);
    t.out_h = t.out_w = size;
    t.random_resized_crop = 1;
    t.scale_min = 0.08f;
    t.scale_max = 1.0f;
    t.ratio_min = 3.0f / 4.0f;
    t.ratio_max = 4.0f / 3.0f;
    t.hflip = 1;
    imagenet_norm(&t);
    return t;
}

/* ---- geometric steps ---------------------------------------------------- */

/* One axis of PyTorch's bilinear (align_corners=False) source indices and
 * weights, in float32 as upsample_bilinear2d computes them. */
static void axis_weights(int in, int out, int *i0, int *i1, float *l0,
                         float *l1)
{
    float scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0.0f)
            src = 0.0f;
        int a = (int)src;
        int off = a < in - 1 ? 1 : 0;
        float lam = src - (float)a;
        if (lam < 0.0f)
            lam = 0.0f;
        if (lam > 1.0f)
            lam = 1.0f;
        i0[d] = a;
        i1[d] = a + off;
        l1[d] = lam;
        l0[d] = 1.0f - lam;
    }
}

int thaw_resize_bilinear(const ThawImage *in, int oh, int ow, ThawImage *out,
                         ThawError *err)
{
    int rc = thaw_image_alloc(out, oh, ow, in->c, err);
    if (rc)
        return rc;
    size_t nh = (size_t)oh, nw = (size_t)ow;
    int *hi = malloc(2 * (nh + nw) * sizeof(int));
    float *hl = malloc(2 * (nh + nw) * sizeof(float));
    if (!hi || !hl) {
        free(hi);
        free(hl);
        thaw_image_free(out);
        return thaw_fail(err, THAW_ERR_NOMEM, "resize: out of memory");
    }
    int *h0 = hi, *h1 = hi + nh, *w0 = hi + 2 * nh, *w1 = hi + 2 * nh + nw;
    float *hl0 = hl, *hl1 = hl + nh, *wl0 = hl + 2 * nh,
          *wl1 = hl + 2 * nh + nw;
    axis_weights(in->h, oh, h0, h1, hl0, hl1);
    axis_weights(in->w, ow, w0, w1, wl0, wl1);
    const int c = in->c;
    const size_t row = (size_t)in->w * (size_t)c;
    for (int y = 0; y < oh; y++) {
        const uint8_t *r0 = in->px + (size_t)h0[y] * row;
        const uint8_t *r1 = in->px + (size_t)h1[y] * row;
        uint8_t *o = out->px + (size_t)y * nw * (size_t)c;
        for (int x = 0; x < ow; x++) {
            size_t a = (size_t)w0[x] * (size_t)c, b = (size_t)w1[x] * (size_t)c;
            for (int k = 0; k < c; k++) {
                float t0 = (float)r0[a + k] * wl0[x] + (float)r0[b + k] * wl1[x];
                float t1 = (float)r1[a + k] * wl0[x] + (float)r1[b + k] * wl1[x];
                float v = t0 * hl0[y] + t1 * hl1[y];
                float r = nearbyintf(v); /* half to even, like torch.round */
                if (r < 0.0f)
                    r = 0.0f;
                if (r > 255.0f)
                    r = 255.0f;
                o[(size_t)x * (size_t)c + (size_t)k] = (uint8_t)r;
            }
        }
    }
    free(hi);
    free(hl);
    return THAW_OK;
}

int thaw_resize_short(const ThawImage *in, int size, ThawImage *out,
                      ThawError *err)
{
    if (size <= 0)
        return thaw_fail(err, THAW_ERR_ARG, "resize: size %d", size);
    int oh, ow;
    if (in->w <= in->h) {
        ow = size;
        oh = (int)((int64_t)size * in->h / in->w);
    } else {
        oh = size;
        ow = (int)((int64_t)size * in->w / in->h);
    }
    return thaw_resize_bilinear(in, oh, ow, out, err);
}

int thaw_crop(const ThawImage *in, int top, int left, int h, int w,
              ThawImage *out, ThawError *err)
{
    if (top < 0 || left < 0 || h <= 0 || w <= 0 || top + h > in->h ||
        left + w > in->w)
        return thaw_fail(err, THAW_ERR_ARG,
                         "crop: box %dx%d at (%d,%d) outside a %dx%d image", h,
                         w, top, left, in->h, in->w);
    int rc = thaw_image_alloc(out, h, w, in->c, err);
    if (rc)
        return rc;
    size_t rowb = (size_t)w * (size_t)in->c;
    for (int y = 0; y < h; y++)
        memcpy(out->px + (size_t)y * rowb,
               in->px + ((size_t)(top + y) * (size_t)in->w + (size_t)left) *
                            (size_t)in->c,
               rowb);
    return THAW_OK;
}

/* Python's round(d / 2) for a non-negative integer d (half to even). */
static int half_round_even(int d)
{
    int q = d / 2;
    if ((d & 1) && (q & 1))
        q++;
    return q;
}

int thaw_center_crop(const ThawImage *in, int h, int w, ThawImage *out,
                     ThawError *err)
{
    if (h > in->h || w > in->w)
        return thaw_fail(err, THAW_ERR_ARG,
                         "center crop: %dx%d larger than the %dx%d image", h,
                         w, in->h, in->w);
    return thaw_crop(in, half_round_even(in->h - h), half_round_even(in->w - w),
                     h, w, out, err);
}

int thaw_grey_to_rgb(const ThawImage *in, ThawImage *out, ThawError *err)
{
    if (in->c != 1)
        return thaw_fail(err, THAW_ERR_ARG, "grey_to_rgb: %d channels", in->c);
    int rc = thaw_image_alloc(out, in->h, in->w, 3, err);
    if (rc)
        return rc;
    size_t n = (size_t)in->h * (size_t)in->w;
    for (size_t i = 0; i < n; i++)
        out->px[3 * i] = out->px[3 * i + 1] = out->px[3 * i + 2] = in->px[i];
    return THAW_OK;
}

void thaw_hflip_inplace(ThawImage *img)
{
    const int c = img->c;
    for (int y = 0; y < img->h; y++) {
        uint8_t *row = img->px + (size_t)y * (size_t)img->w * (size_t)c;
        for (int a = 0, b = img->w - 1; a < b; a++, b--)
            for (int k = 0; k < c; k++) {
                uint8_t t = row[a * c + k];
                row[a * c + k] = row[b * c + k];
                row[b * c + k] = t;
            }
    }
}

void thaw_rrc_params(ThawRng *rng, int img_h, int img_w, float scale_min,
                     float scale_max, float ratio_min, float ratio_max,
                     int *top, int *left, int *h, int *w)
{
    double area = (double)img_h * (double)img_w;
    /* torchvision takes the logs of the float32 ratio tensor. */
    double lr0 = (double)logf(ratio_min), lr1 = (double)logf(ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * ((double)scale_min +
                                 thaw_rng_uniform(rng) *
                                     ((double)scale_max - (double)scale_min));
        double aspect = exp(lr0 + thaw_rng_uniform(rng) * (lr1 - lr0));
        int cw = (int)nearbyint(sqrt(target * aspect));
        int ch = (int)nearbyint(sqrt(target / aspect));
        if (cw > 0 && cw <= img_w && ch > 0 && ch <= img_h) {
            *top = (int)thaw_rng_below(rng, img_h - ch + 1);
            *left = (int)thaw_rng_below(rng, img_w - cw + 1);
            *h = ch;
            *w = cw;
            return;
        }
    }
    double in_ratio = (double)img_w / (double)img_h;
    int cw, ch;
    if (in_ratio < (double)ratio_min) {
        cw = img_w;
        ch = (int)nearbyint(cw / (double)ratio_min);
    } else if (in_ratio > (double)ratio_max) {
        ch = img_h;
        cw = (int)nearbyint(ch * (double)ratio_max);
    } else {
        cw = img_w;
        ch = img_h;
    }
    *top = (img_h - ch) / 2;
    *left = (img_w - cw) / 2;
    *h = ch;
    *w = cw;
}

void thaw_to_float_nchw(const ThawImage *img, const float mean[3],
                        const float std[3], float *dst)
{
    size_t n = (size_t)img->h * (size_t)img->w;
    for (int ch = 0; ch < 3; ch++) {
        int src_c = img->c == 3 ? ch : 0;
        float *o = dst + (size_t)ch * n;
        for (size_t i = 0; i < n; i++) {
            float v = (float)img->px[i * (size_t)img->c + (size_t)src_c] / 255.0f;
            o[i] = (v - mean[ch]) / std[ch];
        }
    }
}

/* ---- the pipeline ------------------------------------------------------- */

int thaw_transform_apply(const ThawTransform *t, const ThawImage *img,
                         uint64_t seed, float *dst, ThawError *err)
{
    if (t->out_h <= 0 || t->out_w <= 0)
        return thaw_fail(err, THAW_ERR_ARG, "transform: output size %dx%d",
                         t->out_h, t->out_w);
    ThawRng rng;
    thaw_rng_seed(&rng, seed);
    ThawImage a = {0}, b = {0};
    int rc;
    if (t->random_resized_crop) {
        int top, left, h, w;
        thaw_rrc_params(&rng, img->h, img->w, t->scale_min, t->scale_max,
                        t->ratio_min, t->ratio_max, &top, &left, &h, &w);
        rc = thaw_crop(img, top, left, h, w, &a, err);
        if (rc == THAW_OK)
            rc = thaw_resize_bilinear(&a, t->out_h, t->out_w, &b, err);
    } else if (t->resize_short > 0) {
        rc = thaw_resize_short(img, t->resize_short, &a, err);
        if (rc == THAW_OK)
            rc = thaw_center_crop(&a, t->out_h, t->out_w, &b, err);
    } else if (img->h == t->out_h && img->w == t->out_w) {
        rc = thaw_crop(img, 0, 0, img->h, img->w, &b, err);
    } else {
        rc = thaw_resize_bilinear(img, t->out_h, t->out_w, &b, err);
    }
    thaw_image_free(&a);
    if (rc)
        return rc;
    if (t->hflip && (thaw_rng_u64(&rng) >> 63))
        thaw_hflip_inplace(&b);
    thaw_to_float_nchw(&b, t->mean, t->std, dst);
    thaw_image_free(&b);
    return THAW_OK;
}
