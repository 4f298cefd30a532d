/* The zip container of torch >= 1.6 checkpoints (APPNOTE subset: stored
 * entries, zip64 records): finds <name>/data.pkl and each storage's
 * <name>/data/<key>, then builds the safetensors image (pth.c). */
#include "pth_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- zip format ------------------------------------------------------ */

typedef struct {
    const char *name;      /* not NUL-terminated */
    size_t name_len;
    const uint8_t *data;
    uint64_t size;
} ZipEntry;

static int zip_fail(Machine *m, const char *what)
{
    return thaw_fail(m->err, THAW_ERR_FORMAT, "%s: malformed zip: %s",
                     m->file, what);
}

static int zip_entries(Machine *m, const uint8_t *buf, size_t len,
                       ZipEntry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (len < 22) {
        return zip_fail(m, "too short for an end-of-directory record");
    }
    size_t eocd = SIZE_MAX;
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t p = len - 22 + 1; p-- > lo;) {
        if (pth_rd_le(buf + p, 4) == 0x06054b50) {
            eocd = p;
            break;
        }
    }
    if (eocd == SIZE_MAX) {
        return zip_fail(m, "no end-of-central-directory record (file "
                        "truncated?)");
    }
    uint64_t n = pth_rd_le(buf + eocd + 10, 2);
    uint64_t cd_size = pth_rd_le(buf + eocd + 12, 4);
    uint64_t cd_off = pth_rd_le(buf + eocd + 16, 4);
    if (n == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        /* zip64: locator just before the EOCD points at the zip64 record */
        if (eocd < 20 || pth_rd_le(buf + eocd - 20, 4) != 0x07064b50) {
            return zip_fail(m, "zip64 locator missing");
        }
        uint64_t z = pth_rd_le(buf + eocd - 20 + 8, 8);
        if (z > len || len - z < 56 || pth_rd_le(buf + z, 4) != 0x06064b50) {
            return zip_fail(m, "zip64 end-of-directory record missing");
        }
        n = pth_rd_le(buf + z + 32, 8);
        cd_size = pth_rd_le(buf + z + 40, 8);
        cd_off = pth_rd_le(buf + z + 48, 8);
    }
    if (cd_off > len || cd_size > len - cd_off || n > cd_size / 46) {
        return zip_fail(m, "central directory outside the file");
    }
    ZipEntry *e = calloc(n ? n : 1, sizeof *e);
    if (!e) {
        return pth_nomem(m);
    }
    const uint8_t *cd = buf + cd_off;
    uint64_t p = 0;
    for (uint64_t k = 0; k < n; k++) {
        if (cd_size - p < 46 || pth_rd_le(cd + p, 4) != 0x02014b50) {
            free(e);
            return zip_fail(m, "bad central directory entry");
        }
        const uint8_t *h = cd + p;
        uint64_t method = pth_rd_le(h + 10, 2);
        uint64_t csize = pth_rd_le(h + 20, 4), usize = pth_rd_le(h + 24, 4);
        uint64_t nlen = pth_rd_le(h + 28, 2), xlen = pth_rd_le(h + 30, 2);
        uint64_t clen = pth_rd_le(h + 32, 2), loff = pth_rd_le(h + 42, 4);
        if (cd_size - p - 46 < nlen + xlen + clen) {
            free(e);
            return zip_fail(m, "central directory entry runs past its end");
        }
        /* zip64 extra field: present values in order usize, csize, loff */
        const uint8_t *x = h + 46 + nlen;
        for (uint64_t q = 0; q + 4 <= xlen;) {
            uint64_t id = pth_rd_le(x + q, 2), sz = pth_rd_le(x + q + 2, 2);
            if (q + 4 + sz > xlen) {
                break;
            }
            if (id == 1) {
                const uint8_t *f = x + q + 4;
                uint64_t left = sz;
                uint64_t *vals[3] = {&usize, &csize, &loff};
                for (int i = 0; i < 3; i++) {
                    if (*vals[i] == 0xffffffffu && left >= 8) {
                        *vals[i] = pth_rd_le(f, 8);
                        f += 8;
                        left -= 8;
                    }
                }
            }
            q += 4 + sz;
        }
        e[k].name = (const char *)h + 46;
        e[k].name_len = (size_t)nlen;
        if (method != 0 || csize != usize) {
            free(e);
            return zip_fail(m, "an entry is compressed (torch.save stores "
                            "entries uncompressed)");
        }
        if (loff > len || len - loff < 30 || pth_rd_le(buf + loff, 4) != 0x04034b50) {
            free(e);
            return zip_fail(m, "bad local file header");
        }
        uint64_t lskip = 30 + pth_rd_le(buf + loff + 26, 2) + pth_rd_le(buf + loff + 28, 2);
        if (len - loff < lskip || len - loff - lskip < usize) {
            free(e);
            return zip_fail(m, "an entry's data runs past the end of the "
                            "file (truncated?)");
        }
        e[k].data = buf + loff + lskip;
        e[k].size = usize;
        p += 46 + nlen + xlen + clen;
    }
    *out = e;
    *count = (size_t)n;
    return 0;
}

static const ZipEntry *zip_find(const ZipEntry *e, size_t n, const char *prefix,
                                size_t plen, const char *mid, const char *tail)
{
    size_t mlen = strlen(mid), tlen = strlen(tail);
    for (size_t k = 0; k < n; k++) {
        if (e[k].name_len == plen + mlen + tlen &&
            memcmp(e[k].name, prefix, plen) == 0 &&
            memcmp(e[k].name + plen, mid, mlen) == 0 &&
            memcmp(e[k].name + plen + mlen, tail, tlen) == 0) {
            return &e[k];
        }
    }
    return NULL;
}

int pth_convert_zip(Machine *m, const uint8_t *buf, size_t len,
                    SafeTensors **out)
{
    ZipEntry *e = NULL;
    size_t n = 0;
    int rc = zip_entries(m, buf, len, &e, &n);
    if (rc) {
        return rc;
    }
    /* <prefix>data.pkl where prefix is one directory "name/". */
    const ZipEntry *pkl = NULL;
    size_t plen = 0;
    for (size_t k = 0; k < n && !pkl; k++) {
        const char *slash = memchr(e[k].name, '/', e[k].name_len);
        if (slash && (size_t)(slash - e[k].name) + 1 + 8 == e[k].name_len &&
            memcmp(slash + 1, "data.pkl", 8) == 0) {
            pkl = &e[k];
            plen = (size_t)(slash - e[k].name) + 1;
        }
    }
    if (!pkl) {
        free(e);
        return pth_fmt_err(m, "a zip without <name>/data.pkl - not a PyTorch "
                           "checkpoint%s%s", NULL, NULL);
    }
    const char *prefix = pkl->name;
    const ZipEntry *bo = zip_find(e, n, prefix, plen, "byteorder", "");
    if (bo && !(bo->size == 6 && memcmp(bo->data, "little", 6) == 0)) {
        free(e);
        return pth_fmt_err(m, "the checkpoint's byteorder is not 'little'%s%s",
                           NULL, NULL);
    }
    Reader r = {pkl->data, (size_t)pkl->size, 0};
    Value *root = NULL;
    rc = pth_unpickle(m, &r, &root);
    for (int k = 0; rc == 0 && k < m->nst; k++) {
        Storage *s = &m->st[k];
        const ZipEntry *f = zip_find(e, n, prefix, plen, "data/", s->key);
        uint64_t bytes = (uint64_t)s->numel * (uint64_t)st_dtype_size(s->dtype);
        if (!f) {
            rc = pth_fmt_err(m, "storage '%s' has no data/ entry in the zip%s",
                             s->key, NULL);
        } else if (f->size != bytes) {
            rc = thaw_fail(m->err, THAW_ERR_FORMAT, "%s: storage '%s' has "
                           "%llu bytes, expected %llu", m->file, s->key,
                           (unsigned long long)f->size,
                           (unsigned long long)bytes);
        } else {
            s->data = f->data;
        }
    }
    if (rc == 0) {
        rc = pth_build_image(m, root, len, "pytorch-zip", out);
    }
    free(e);
    return rc;
}
