#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Images larger than this many pixels are refused (a corrupt header claiming
 * 60000x60000 should not make us allocate 10 GB). */
#define MAX_PIXELS ((int64_t)1 << 28)

int thaw_image_alloc(ThawImage *img, int h, int w, int c, ThawError *err)
{
    memset(img, 0, sizeof *img);
    if (h <= 0 || w <= 0 || (c != 1 && c != 3))
        return thaw_fail(err, THAW_ERR_ARG, "image: bad size %dx%dx%d", h, w,
                         c);
    img->px = malloc((size_t)h * (size_t)w * (size_t)c);
    if (!img->px)
        return thaw_fail(err, THAW_ERR_NOMEM, "image: out of memory");
    img->h = h;
    img->w = w;
    img->c = c;
    return THAW_OK;
}

void thaw_image_free(ThawImage *img)
{
    if (!img)
        return;
    free(img->px);
    memset(img, 0, sizeof *img);
}

static int open_check(const char *path, ThawError *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open image", path);
    fclose(f);
    return THAW_OK;
}

int thaw_image_probe(const char *path, int *h, int *w, int *c, ThawError *err)
{
    int rc = open_check(path, err);
    if (rc)
        return rc;
    int fw = 0, fh = 0, fc = 0;
    const char *reason = "unknown";
    if (!thaw_stb_info(path, &fw, &fh, &fc, &reason))
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: not a readable image (%s)",
                         path, reason);
    if (fw <= 0 || fh <= 0 || (int64_t)fw * fh > MAX_PIXELS)
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: image size %dx%d refused",
                         path, fw, fh);
    *h = fh;
    *w = fw;
    *c = fc >= 3 ? 3 : 1;
    return THAW_OK;
}

int thaw_image_load(const char *path, ThawImage *out, ThawError *err)
{
    memset(out, 0, sizeof *out);
    int h = 0, w = 0, c = 0;
    int rc = thaw_image_probe(path, &h, &w, &c, err);
    if (rc)
        return rc;
    int fw = 0, fh = 0, fc = 0;
    const char *reason = "unknown";
    uint8_t *p = thaw_stb_load(path, &fw, &fh, &fc, c, &reason);
    if (!p)
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: corrupt or truncated image (%s)", path, reason);
    rc = thaw_image_alloc(out, fh, fw, c, err);
    if (rc == THAW_OK)
        memcpy(out->px, p, (size_t)fh * (size_t)fw * (size_t)c);
    thaw_stb_free(p);
    return rc;
}
