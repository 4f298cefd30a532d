/* Image transforms on decoded uint8 HWC images, matching torchvision 0.14's
 * tensor path (transforms.functional on uint8 tensors, antialias=False):
 *
 *  - resize: bilinear, align_corners=False (half-pixel centres, source
 *    coordinate clamped at 0), computed in float32 in PyTorch's order
 *    (upsample_bilinear2d CPU), then rounded half-to-even back to uint8, as
 *    torchvision does for uint8 tensors. No antialiasing when shrinking.
 *  - resize_short: Resize(int): the shorter side becomes `size`, the longer
 *    one int(size * long / short) (truncated), as torchvision.
 *  - center_crop: top = round((h - ch) / 2) with Python's half-to-even round.
 *  - random_resized_crop: torchvision's RandomResizedCrop.get_params (10
 *    tries of area ~ U(scale) and log-ratio ~ U(log ratio), w/h rounded
 *    half-to-even, then the central fallback), drawing from our own seeded
 *    ThawRng instead of torch's generator, then crop + bilinear resize.
 *  - to_float_nchw: x / 255 then (x - mean) / std in float32, grey expanded
 *    to 3 channels, written as [3, H, W].
 */
#ifndef THAW_DATA_TRANSFORMS_H
#define THAW_DATA_TRANSFORMS_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/data/image.h"

/* Small deterministic RNG (splitmix64 seeding + xoshiro256**). */
typedef struct ThawRng {
    uint64_t s[4];
} ThawRng;

void thaw_rng_seed(ThawRng *r, uint64_t seed);
uint64_t thaw_rng_u64(ThawRng *r);
double thaw_rng_uniform(ThawRng *r);              /* [0, 1), 53 bits */
int64_t thaw_rng_below(ThawRng *r, int64_t n);    /* [0, n), unbiased */
/* Mixes two 64-bit values into a seed (for per-epoch, per-item seeds). */
uint64_t thaw_seed_mix(uint64_t a, uint64_t b);

/* A full pipeline from a decoded image to a float [3, out_h, out_w]. */
typedef struct ThawTransform {
    int out_h, out_w;
    /* Eval path (random_resized_crop == 0): resize_short > 0 resizes the
     * shorter side to it and then centre-crops out_h x out_w; resize_short
     * == 0 resizes straight to out_h x out_w. */
    int resize_short;
    int random_resized_crop;         /* train: RandomResizedCrop(out) */
    float scale_min, scale_max;      /* (0.08, 1) */
    float ratio_min, ratio_max;      /* (3/4, 4/3) */
    int hflip;                       /* random horizontal flip, p = 0.5 */
    float mean[3], std[3];
} ThawTransform;

/* Eval: Resize(resize_short) + CenterCrop(crop) + Normalize (ImageNet
 * mean/std). resize_short 0 means resize straight to crop x crop. */
ThawTransform thaw_transform_eval(int resize_short, int crop);
/* Train: RandomResizedCrop(size, (0.08, 1), (3/4, 4/3)) + RandomHorizontalFlip
 * + Normalize (ImageNet mean/std). */
ThawTransform thaw_transform_train(int size);

/* Steps (each allocates `out`; the input is left alone). */
int thaw_resize_bilinear(const ThawImage *in, int oh, int ow, ThawImage *out,
                         ThawError *err);
int thaw_resize_short(const ThawImage *in, int size, ThawImage *out,
                      ThawError *err);
int thaw_crop(const ThawImage *in, int top, int left, int h, int w,
              ThawImage *out, ThawError *err);
int thaw_center_crop(const ThawImage *in, int h, int w, ThawImage *out,
                     ThawError *err);
int thaw_grey_to_rgb(const ThawImage *in, ThawImage *out, ThawError *err);
void thaw_hflip_inplace(ThawImage *img);
/* RandomResizedCrop.get_params: fills top, left, h, w of the crop box. */
void thaw_rrc_params(ThawRng *rng, int img_h, int img_w, float scale_min,
                     float scale_max, float ratio_min, float ratio_max,
                     int *top, int *left, int *h, int *w);
/* Writes [3, h, w] floats; 1-channel images are repeated on 3 channels. */
void thaw_to_float_nchw(const ThawImage *img, const float mean[3],
                        const float std[3], float *dst);

/* Runs the whole pipeline; `seed` drives the random steps (ignored by an
 * eval transform). dst holds 3 * out_h * out_w floats. */
int thaw_transform_apply(const ThawTransform *t, const ThawImage *img,
                         uint64_t seed, float *dst, ThawError *err);

#endif
