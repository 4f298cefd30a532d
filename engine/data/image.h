/* Decoded images: uint8, HWC, 1 or 3 channels (grey stays grey; RGBA and
 * grey+alpha drop alpha). Decoding goes through stb_image (JPEG, PNG, BMP). */
#ifndef THAW_DATA_IMAGE_H
#define THAW_DATA_IMAGE_H

#include <stdint.h>

#include "engine/core/error.h"

typedef struct ThawImage {
    int h, w, c;     /* c is 1 or 3 */
    uint8_t *px;     /* h*w*c bytes, row-major HWC, malloc'd */
} ThawImage;

/* Allocates an h x w x c image (contents undefined). */
int thaw_image_alloc(ThawImage *img, int h, int w, int c, ThawError *err);
void thaw_image_free(ThawImage *img);

/* Decodes a file. THAW_ERR_IO when it cannot be opened, THAW_ERR_FORMAT for
 * a corrupt or truncated image (message names the file and stb's reason). */
int thaw_image_load(const char *path, ThawImage *out, ThawError *err);

/* Cheap header check (no pixel decode): fills h, w, c (1 or 3) on success. */
int thaw_image_probe(const char *path, int *h, int *w, int *c, ThawError *err);

/* Decoder entry points implemented in stb_impl.c (the one file compiled with
 * STB_IMAGE_IMPLEMENTATION). Return pixels with `want` channels or NULL and a
 * reason. */
uint8_t *thaw_stb_load(const char *path, int *w, int *h, int *file_channels,
                       int want, const char **reason);
int thaw_stb_info(const char *path, int *w, int *h, int *file_channels,
                  const char **reason);
void thaw_stb_free(void *p);

#endif
