#include "idx.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Largest payload accepted: 4 GiB (ImageNet-sized IDX files do not exist). */
#define IDX_MAX_BYTES ((int64_t)1 << 32)

static int gz_read_all(gzFile f, uint8_t *dst, int64_t n)
{
    while (n > 0) {
        unsigned chunk = n > (1 << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, dst, chunk);
        if (got <= 0)
            return -1;
        dst += got;
        n -= got;
    }
    return 0;
}

int thaw_idx_read(const char *path, int want_ndim, ThawIdx *out,
                  ThawError *err)
{
    memset(out, 0, sizeof *out);
    if (want_ndim < 1 || want_ndim > 3)
        return thaw_fail(err, THAW_ERR_ARG, "%s: IDX: asked for %d dimensions",
                         path, want_ndim);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open IDX file", path);
    int rc = THAW_OK;
    uint8_t magic[4];
    if (gz_read_all(f, magic, 4) != 0) {
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: IDX: file shorter than its 4-byte magic", path);
        goto done;
    }
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08) {
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: IDX: bad magic %02x%02x%02x%02x (expected "
                       "000008%02x, unsigned bytes)",
                       path, magic[0], magic[1], magic[2], magic[3],
                       want_ndim);
        goto done;
    }
    if (magic[3] != want_ndim) {
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: IDX: %d dimensions, expected %d (%s)", path,
                       magic[3], want_ndim,
                       want_ndim == 1 ? "a labels file" : "an images file");
        goto done;
    }
    int64_t total = 1;
    for (int d = 0; d < want_ndim; d++) {
        uint8_t b[4];
        if (gz_read_all(f, b, 4) != 0) {
            rc = thaw_fail(err, THAW_ERR_FORMAT,
                           "%s: IDX: header truncated in dimension %d", path,
                           d);
            goto done;
        }
        int64_t v = ((int64_t)b[0] << 24) | ((int64_t)b[1] << 16) |
                    ((int64_t)b[2] << 8) | (int64_t)b[3];
        if (v == 0) {
            rc = thaw_fail(err, THAW_ERR_FORMAT,
                           "%s: IDX: dimension %d is zero", path, d);
            goto done;
        }
        out->dims[d] = v;
        total *= v;
        if (total > IDX_MAX_BYTES) {
            rc = thaw_fail(err, THAW_ERR_FORMAT,
                           "%s: IDX: payload larger than 4 GiB", path);
            goto done;
        }
    }
    out->ndim = want_ndim;
    out->data = malloc((size_t)total);
    if (!out->data) {
        rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: IDX: out of memory (%lld B)",
                       path, (long long)total);
        goto done;
    }
    if (gz_read_all(f, out->data, total) != 0) {
        int errnum = 0;
        const char *zmsg = gzerror(f, &errnum);
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: IDX: payload truncated (header says %lld bytes)%s%s",
                       path, (long long)total, errnum ? ": " : "",
                       errnum ? zmsg : "");
        goto done;
    }
    uint8_t extra;
    if (gzread(f, &extra, 1) != 0) {
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: IDX: trailing bytes after the %lld-byte payload",
                       path, (long long)total);
        goto done;
    }
done:
    gzclose(f);
    if (rc != THAW_OK)
        thaw_idx_free(out);
    return rc;
}

void thaw_idx_free(ThawIdx *idx)
{
    if (!idx)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
