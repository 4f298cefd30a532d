/* Pillow's Image.resize(BICUBIC) on 8-bit RGB images, reproduced bit for
 * bit (antialiased support that grows with the shrink factor, 22-bit fixed
 * point): the EfficientNet-Lite eval preprocessing of thaw predict. */
#ifndef THAW_PIL_RESIZE_H
#define THAW_PIL_RESIZE_H

#include "engine/core/error.h"
#include "engine/data/image.h"

/* Resizes in to oh x ow into out (thaw_image_free). */
int pil_resize_bicubic(const ThawImage *in, int oh, int ow, ThawImage *out, ThawError *err);

#endif
