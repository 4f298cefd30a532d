/* PyTorch .pth reader: see pth.h. Written from the pickle protocol
 * description (Python's pickletools), torch.save's documented layout and
 * the zip APPNOTE; nothing here executes anything from the file.
 * This file: the legacy stream format, the safetensors image both formats
 * become, and the entry points; see pth_internal.h for the other parts. */
#include "pth_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- building the safetensors image --------------------------------- */

static const Value *dict_get(const Value *d, const char *key)
{
    for (size_t k = 0; k + 1 < d->n; k += 2) {
        if (d->items[k]->kind == V_STR && strcmp(d->items[k]->s, key) == 0) {
            return d->items[k + 1];
        }
    }
    return NULL;
}

static int64_t tensor_numel(const Value *t)
{
    for (int d = 0; d < t->ndim; d++) {
        if (t->size[d] == 0) {
            return 0;
        }
    }
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        n *= t->size[d];   /* at most 2^50: checked by rebuild_tensor */
    }
    return n;
}

/* Copies tensor t's elements in row-major order into dst. */
static void gather(const Value *t, const Storage *s, uint8_t *dst)
{
    size_t es = (size_t)st_dtype_size(s->dtype);
    int64_t numel = tensor_numel(t);
    if (numel == 0) {
        return;
    }
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && t->stride[d] != expect) {
            contiguous = 0;
        }
        expect *= t->size[d];
    }
    const uint8_t *src = s->data + (size_t)t->offset * es;
    if (contiguous) {
        memcpy(dst, src, (size_t)numel * es);
        return;
    }
    int64_t idx[ST_MAX_DIMS] = {0};
    int64_t off = 0;
    int last = t->ndim - 1;
    for (int64_t k = 0; k < numel; k++) {
        memcpy(dst + (size_t)k * es, src + (size_t)off * es, es);
        for (int d = last; d >= 0; d--) {
            if (++idx[d] < t->size[d]) {
                off += t->stride[d];
                break;
            }
            off -= (idx[d] - 1) * t->stride[d];
            idx[d] = 0;
        }
    }
}

int pth_build_image(Machine *m, const Value *root, size_t in_len,
                    const char *fmt_name, SafeTensors **out)
{
    const char *file = m->file;
    if (root->kind != V_DICT) {
        return pth_fmt_err(m, "the checkpoint is not a dict of tensors (save "
                           "model.state_dict())%s%s", NULL, NULL);
    }
    const Value *d = root;
    const Value *inner = dict_get(root, "state_dict");
    if (inner && inner->kind == V_DICT) {
        d = inner;   /* {'state_dict': ..., 'epoch': ...} training checkpoints */
    }
    /* Output size: bounded so stride-0 views cannot blow up memory. */
    uint64_t limit = 8 * (uint64_t)in_len + ((uint64_t)16 << 20);
    uint64_t total = 0;
    for (size_t k = 0; k + 1 < d->n; k += 2) {
        const Value *key = d->items[k], *t = d->items[k + 1];
        if (key->kind != V_STR || strlen(key->s) != key->slen ||
            key->slen == 0 || key->slen > PTH_MAX_KEY) {
            return pth_fmt_err(m, "a state_dict key is not a usable string%s%s",
                               NULL, NULL);
        }
        if (t->kind != V_TENSOR) {
            return pth_fmt_err(m, "key '%s' holds something other than a "
                               "tensor%s", key->s, NULL);
        }
        const Storage *s = &m->st[t->storage];
        if (!s->data && s->numel > 0) {
            return thaw_fail(m->err, THAW_ERR_FORMAT, "%s: key '%s': the "
                             "bytes of storage '%s' are missing", file,
                             key->s, s->key);
        }
        total += (uint64_t)tensor_numel(t) * (uint64_t)st_dtype_size(s->dtype);
        if (total > limit) {
            return thaw_fail(m->err, THAW_ERR_FORMAT, "%s: key '%s': the "
                             "tensors would need more than %llu bytes "
                             "(expanded views?)", file, key->s,
                             (unsigned long long)limit);
        }
    }
    cJSON *hdr = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(hdr, "__metadata__");
    int ok = hdr && meta && cJSON_AddStringToObject(meta, "format", "pt") &&
             cJSON_AddStringToObject(meta, "converted_from", fmt_name);
    uint64_t pos = 0;
    for (size_t k = 0; ok && k + 1 < d->n; k += 2) {
        const Value *key = d->items[k], *t = d->items[k + 1];
        const Storage *s = &m->st[t->storage];
        uint64_t bytes = (uint64_t)tensor_numel(t) * (uint64_t)st_dtype_size(s->dtype);
        cJSON *e = cJSON_CreateObject();
        cJSON *shape = cJSON_CreateArray();
        cJSON *offs = cJSON_CreateArray();
        ok = e && shape && offs;
        for (int i = 0; ok && i < t->ndim; i++) {
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->size[i]));
        }
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)pos)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(pos + bytes))) &&
             cJSON_AddStringToObject(e, "dtype", st_dtype_name(s->dtype));
        if (ok) {
            cJSON_AddItemToObject(e, "shape", shape);
            cJSON_AddItemToObject(e, "data_offsets", offs);
            cJSON_AddItemToObject(hdr, key->s, e);
        } else {
            cJSON_Delete(e);
            cJSON_Delete(shape);
            cJSON_Delete(offs);
        }
        pos += bytes;
    }
    char *json = ok ? cJSON_PrintUnformatted(hdr) : NULL;
    cJSON_Delete(hdr);
    if (!json) {
        return pth_nomem(m);
    }
    size_t jlen = strlen(json);
    size_t hlen = jlen + (8 - jlen % 8) % 8;
    size_t len = 8 + hlen + (size_t)total;
    uint8_t *img = malloc(len ? len : 1);
    if (!img) {
        free(json);
        return pth_nomem(m);
    }
    uint64_t h64 = hlen;
    memcpy(img, &h64, 8);
    memcpy(img + 8, json, jlen);
    memset(img + 8 + jlen, ' ', hlen - jlen);
    free(json);
    uint8_t *dst = img + 8 + hlen;
    for (size_t k = 0; k + 1 < d->n; k += 2) {
        const Value *t = d->items[k + 1];
        const Storage *s = &m->st[t->storage];
        gather(t, s, dst);
        dst += (size_t)tensor_numel(t) * (size_t)st_dtype_size(s->dtype);
    }
    return st_open_memory_owned(out, img, len, file, m->err);
}

/* ---- legacy stream format ------------------------------------------- */

static const uint8_t MAGIC[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                  0x20, 0x6a, 0xa8, 0x50, 0x19};

static int convert_legacy(Machine *m, const uint8_t *buf, size_t len,
                          SafeTensors **out)
{
    Reader r = {buf, len, 0};
    Value *v = NULL;
    int rc = pth_unpickle(m, &r, &v);
    if (rc) {
        return rc;
    }
    if (v->kind != V_BIGINT || v->slen != 10 || memcmp(v->s, MAGIC, 10)) {
        return pth_fmt_err(m, "not a PyTorch checkpoint (wrong magic number)%s%s",
                           NULL, NULL);
    }
    if ((rc = pth_unpickle(m, &r, &v)) != 0) {
        return rc;
    }
    if (v->kind != V_INT || v->i != 1001) {
        return pth_fmt_err(m, "unsupported legacy protocol version (want "
                           "1001)%s%s", NULL, NULL);
    }
    if ((rc = pth_unpickle(m, &r, &v)) != 0) {
        return rc;
    }
    const Value *le = v->kind == V_DICT ? dict_get(v, "little_endian") : NULL;
    if (!le || le->kind != V_BOOL || le->i != 1) {
        return pth_fmt_err(m, "the checkpoint was not saved on a little-endian "
                           "machine (or its sys_info is malformed)%s%s",
                           NULL, NULL);
    }
    Value *root = NULL;
    if ((rc = pth_unpickle(m, &r, &root)) != 0) {
        return rc;
    }
    /* The object pickle's values must outlive the key list's parse, so the
     * key list runs on a second machine. */
    Machine m2 = {.file = m->file, .err = m->err};
    Value *keys = NULL;
    rc = pth_unpickle(&m2, &r, &keys);
    if (rc == 0 && keys->kind != V_LIST) {
        rc = pth_fmt_err(m, "the storage key list is not a list%s%s", NULL, NULL);
    }
    for (size_t k = 0; rc == 0 && k < keys->n; k++) {
        const Value *key = keys->items[k];
        int idx = -1;
        for (int j = 0; key->kind == V_STR && j < m->nst; j++) {
            if (strcmp(m->st[j].key, key->s) == 0) {
                idx = j;
                break;
            }
        }
        if (idx < 0) {
            rc = pth_fmt_err(m, "the storage key list names a storage no tensor "
                             "uses%s%s", NULL, NULL);
            break;
        }
        Storage *s = &m->st[idx];
        if (s->data) {
            rc = pth_fmt_err(m, "storage '%s' appears twice in the key list%s",
                             s->key, NULL);
            break;
        }
        if (len - r.pos < 8) {
            rc = pth_fmt_err(m, "storage '%s': the file ends before its size "
                             "(file truncated?)%s", s->key, NULL);
            break;
        }
        uint64_t count = pth_rd_le(buf + r.pos, 8);
        r.pos += 8;
        if (count != (uint64_t)s->numel) {
            rc = thaw_fail(m->err, THAW_ERR_FORMAT, "%s: storage '%s' holds "
                           "%llu elements but the pickle says %lld", m->file,
                           s->key, (unsigned long long)count,
                           (long long)s->numel);
            break;
        }
        uint64_t bytes = count * (uint64_t)st_dtype_size(s->dtype);
        if (bytes > len - r.pos) {
            rc = pth_fmt_err(m, "storage '%s': the file ends inside its bytes "
                             "(file truncated?)%s", s->key, NULL);
            break;
        }
        s->data = buf + r.pos;
        r.pos += (size_t)bytes;
    }
    pth_machine_free(&m2);
    pth_storages_free(&m2);
    if (rc == 0) {
        rc = pth_build_image(m, root, len, "pytorch-legacy", out);
    }
    return rc;
}

/* ---- entry points ----------------------------------------------------- */

int pth_open_memory(SafeTensors **out, const void *buf, size_t len,
                    const char *name, ThawError *err)
{
    if (!out || (!buf && len) || !name) {
        return thaw_fail(err, THAW_ERR_ARG, "pth_open_memory: bad argument");
    }
    *out = NULL;
    const uint8_t *b = buf ? buf : (const uint8_t *)"";
    Machine m = {.file = name, .err = err};
    int rc;
    if (len >= 4 && memcmp(b, "PK\x03\x04", 4) == 0) {
        rc = pth_convert_zip(&m, b, len, out);
    } else if (len >= 1 && b[0] == 0x80) {
        rc = convert_legacy(&m, b, len, out);
    } else {
        rc = thaw_fail(err, THAW_ERR_FORMAT, "%s: not a PyTorch checkpoint "
                       "(neither a zip nor a pickle stream)", name);
    }
    pth_machine_free(&m);
    pth_storages_free(&m);
    return rc;
}

int pth_open(SafeTensors **out, const char *path, ThawError *err)
{
    if (!out || !path) {
        return thaw_fail(err, THAW_ERR_ARG, "pth_open: NULL argument");
    }
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return thaw_fail(err, THAW_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: the file is empty", path);
    }
    if ((unsigned long long)sb.st_size > SIZE_MAX) {
        close(fd);
        return thaw_fail(err, THAW_ERR_IO, "%s: too large to map", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot map: %s", path,
                         strerror(e));
    }
    int rc = pth_open_memory(out, map, len, path, err);
    munmap(map, len);
    return rc;
}
