/* safetensors read: mmap (or a buffer in memory) and the queries on an open
 * file. The header is parsed and validated in safetensors_header.c, dtypes
 * and float32 reads are in safetensors_dtype.c, the writer in
 * safetensors_write.c. The parser trusts nothing in the file: every
 * offset, size and shape is checked before a pointer into the mapping is
 * handed out, so callers can read st_data() without further bounds checks. */
#include "safetensors_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Real headers are a few hundred KB even for large LLMs; anything bigger
 * is a corrupt length field, not a header worth allocating for. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)

/* ---- opening and closing ------------------------------------------- */

void st_close(SafeTensors *st)
{
    if (!st) {
        return;
    }
    for (int i = 0; i < st->n; i++) {
        free(st->t[i].name);
    }
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_key[i]);
        free(st->meta_val[i]);
    }
    free(st->t);
    free(st->by_name);
    free(st->meta_key);
    free(st->meta_val);
    if (st->map) {
        munmap(st->map, st->map_len);
    }
    free(st->owned);
    free(st->path);
    free(st);
}

static int open_image(SafeTensors **out, const void *buf, size_t len,
                      const char *name, void *map, ThawError *err)
{
    *out = NULL;
    SafeTensors *st = calloc(1, sizeof *st);
    char *path = strdup(name);
    if (!st || !path) {
        free(st);
        free(path);
        if (map) {
            munmap(map, len);
        }
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", name);
    }
    st->path = path;
    st->map = map;
    st->map_len = len;
    const uint8_t *bytes = buf;
    if (len < 8) {
        st_close(st);
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: %zu bytes is too short for a safetensors file "
                         "(needs an 8-byte header length)", name, len);
    }
    uint64_t hlen;
    memcpy(&hlen, bytes, 8);
    if (hlen > ST_MAX_HEADER || hlen > len - 8) {
        st_close(st);
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: header length %llu is impossible for a "
                         "%zu-byte file (limit %llu) - not a safetensors "
                         "file?", name, (unsigned long long)hlen, len,
                         (unsigned long long)ST_MAX_HEADER);
    }
    st->data = bytes + 8 + hlen;
    st->data_len = len - 8 - hlen;
    int rc = st_parse_header(st, (const char *)bytes + 8, (size_t)hlen, err);
    if (rc) {
        st_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

int st_open_memory(SafeTensors **out, const void *buf, size_t len,
                   const char *name, ThawError *err)
{
    if (!out || (!buf && len) || !name) {
        return thaw_fail(err, THAW_ERR_ARG, "st_open_memory: bad argument");
    }
    return open_image(out, buf ? buf : "", len, name, NULL, err);
}

int st_open_memory_owned(SafeTensors **out, void *buf, size_t len,
                         const char *name, ThawError *err)
{
    int rc = st_open_memory(out, buf, len, name, err);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    (*out)->owned = buf;
    return 0;
}

int st_open(SafeTensors **out, const char *path, ThawError *err)
{
    if (!out || !path) {
        return thaw_fail(err, THAW_ERR_ARG, "st_open: NULL argument");
    }
    *out = NULL;
    /* O_NONBLOCK: a FIFO given by mistake must not hang the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot stat: %s", path,
                         strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return thaw_fail(err, THAW_ERR_IO, "%s: is a directory, not a "
                         "safetensors file", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return thaw_fail(err, THAW_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: %lld bytes is too short for a safetensors file "
                         "(needs an 8-byte header length)%s", path,
                         (long long)sb.st_size,
                         sb.st_size == 0 ? " - the file is empty" : "");
    }
    if ((unsigned long long)sb.st_size > SIZE_MAX) {
        close(fd);
        return thaw_fail(err, THAW_ERR_IO, "%s: too large to map", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);   /* the mapping keeps the file alive */
    if (map == MAP_FAILED) {
        return thaw_fail(err, THAW_ERR_IO, "%s: cannot mmap %zu bytes: %s",
                         path, len, strerror(e));
    }
    return open_image(out, map, len, path, map, err);
}

/* ---- queries -------------------------------------------------------- */

const char *st_path(const SafeTensors *st) { return st ? st->path : NULL; }

int st_count(const SafeTensors *st) { return st ? st->n : 0; }

const StTensorInfo *st_info(const SafeTensors *st, int index)
{
    if (!st || index < 0 || index >= st->n) {
        return NULL;
    }
    return &st->t[index];
}

const StTensorInfo *st_find(const SafeTensors *st, const char *name)
{
    if (!st || !name) {
        return NULL;
    }
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const StTensorInfo *ti = st->by_name[mid];
        int c = strcmp(name, ti->name);
        if (c == 0) {
            return ti;
        }
        if (c < 0) {
            hi = mid - 1;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const void *st_data(const SafeTensors *st, const StTensorInfo *info)
{
    if (!st || !info) {
        return NULL;
    }
    return st->data + info->begin;
}

const char *st_metadata(const SafeTensors *st, const char *key)
{
    if (!st || !key) {
        return NULL;
    }
    for (int i = 0; i < st->n_meta; i++) {
        if (strcmp(st->meta_key[i], key) == 0) {
            return st->meta_val[i];
        }
    }
    return NULL;
}
