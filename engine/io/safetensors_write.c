/* safetensors atomic writer: the header is built and validated in memory,
 * the file goes to path.tmp.<pid>, is fsync'd and renamed over path, then
 * the directory is fsync'd. Any failure before the rename leaves the
 * previous file untouched and removes the temporary. */
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors_write.c assumes a little-endian host"
#endif

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static cJSON *json_int(int64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return cJSON_CreateRaw(num);
}

/* Validates the tensors and builds the padded header text. sizes[i] gets
 * each tensor's byte count. */
static int build_header(const char *path, const StWriteTensor *t, int n,
                        const StMeta *meta, int n_meta, uint64_t *sizes,
                        char **out_text, size_t *out_len, ThawError *err)
{
    int rc = 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *md = n_meta > 0 ? cJSON_AddObjectToObject(root, "__metadata__")
                           : NULL;
    if (!root || (n_meta > 0 && !md)) {
        cJSON_Delete(root);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < n_meta && !rc; i++) {
        if (!meta[i].key || !meta[i].value) {
            rc = thaw_fail(err, THAW_ERR_ARG, "%s: metadata %d has a NULL "
                           "key or value", path, i);
        } else if (cJSON_GetObjectItemCaseSensitive(md, meta[i].key)) {
            rc = thaw_fail(err, THAW_ERR_ARG, "%s: metadata key '%s' given "
                           "twice", path, meta[i].key);
        } else if (!cJSON_AddStringToObject(md, meta[i].key, meta[i].value)) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    uint64_t offset = 0;
    for (int i = 0; i < n && !rc; i++) {
        const char *key = t[i].name ? t[i].name : "(null)";
        int size = st_dtype_size(t[i].dtype);
        if (!t[i].name || !t[i].name[0] ||
            strcmp(t[i].name, "__metadata__") == 0) {
            rc = thaw_fail(err, THAW_ERR_ARG, "%s: tensor %d has an invalid "
                           "name '%s'", path, i, key);
            break;
        }
        if (cJSON_GetObjectItemCaseSensitive(root, t[i].name)) {
            rc = thaw_fail(err, THAW_ERR_ARG, "%s: tensor '%s' given twice",
                           path, key);
            break;
        }
        if (!size || t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS) {
            rc = thaw_fail(err, THAW_ERR_ARG, "%s: tensor '%s' has a bad "
                           "dtype (%d) or ndim (%d)", path, key,
                           (int)t[i].dtype, t[i].ndim);
            break;
        }
        uint64_t bytes = (uint64_t)size;
        for (int d = 0; d < t[i].ndim && !rc; d++) {
            int64_t dim = t[i].shape[d];
            if (dim < 0 || (dim > 0 && bytes > (UINT64_MAX >> 2) / (uint64_t)dim)) {
                rc = thaw_fail(err, THAW_ERR_ARG, "%s: tensor '%s' has a "
                               "negative or too large dim %d", path, key, d);
            }
            bytes *= (uint64_t)(dim > 0 ? dim : 0);
        }
        if (!rc && bytes > 0 && !t[i].data) {
            rc = thaw_fail(err, THAW_ERR_ARG, "%s: tensor '%s' has no data",
                           path, key);
        }
        if (rc) {
            break;
        }
        sizes[i] = bytes;
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = e ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        int ok = e && shape && offs &&
                 cJSON_AddStringToObject(e, "dtype", st_dtype_name(t[i].dtype));
        for (int d = 0; ok && d < t[i].ndim; d++) {
            ok = cJSON_AddItemToArray(shape, json_int(t[i].shape[d]));
        }
        ok = ok && cJSON_AddItemToArray(offs, json_int((int64_t)offset)) &&
             cJSON_AddItemToArray(offs, json_int((int64_t)(offset + bytes)));
        if (!ok) {
            rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
        }
        offset += bytes;
    }
    char *text = rc ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (rc) {
        return rc;
    }
    if (!text) {
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
    }
    /* Pad with spaces so the byte buffer starts 8-aligned in the file. */
    size_t len = strlen(text), padded = (len + 7) & ~(size_t)7;
    char *buf = realloc(text, padded + 1);
    if (!buf) {
        free(text);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
    }
    memset(buf + len, ' ', padded - len);
    buf[padded] = '\0';
    *out_text = buf;
    *out_len = padded;
    return 0;
}

static int fsync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : strdup(".");
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int st_write(const char *path, const StWriteTensor *tensors, int n_tensors,
             const StMeta *meta, int n_meta, ThawError *err)
{
    if (!path || !path[0] || n_tensors < 0 || n_meta < 0 ||
        (n_tensors > 0 && !tensors) || (n_meta > 0 && !meta)) {
        return thaw_fail(err, THAW_ERR_ARG, "st_write: bad argument");
    }
    uint64_t *sizes = calloc((size_t)n_tensors + 1, sizeof *sizes);
    if (!sizes) {
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
    }
    char *header = NULL;
    size_t hlen = 0;
    int rc = build_header(path, tensors, n_tensors, meta, n_meta, sizes,
                          &header, &hlen, err);
    if (rc) {
        free(sizes);
        return rc;
    }
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(sizes);
        free(header);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                  0644);
    if (fd < 0) {
        rc = thaw_fail(err, THAW_ERR_IO, "%s: cannot create temporary file "
                       "%s: %s", path, tmp, strerror(errno));
        goto out;
    }
    uint64_t hlen64 = hlen;
    const char *step = "write";
    int bad = write_all(fd, &hlen64, 8) || write_all(fd, header, hlen);
    for (int i = 0; i < n_tensors && !bad; i++) {
        bad = sizes[i] && write_all(fd, tensors[i].data, (size_t)sizes[i]);
    }
    if (!bad) {
        step = "fsync";
        bad = fsync(fd) != 0;
    }
    int e = errno;
    if (close(fd) != 0 && !bad) {
        step = "close";
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(tmp);
        /* The cause comes first: an 80-column screen cuts the rest. */
        rc = thaw_fail(err, THAW_ERR_IO, "%s: %s (%s of the temporary file "
                       "failed; previous file left unchanged)", path,
                       strerror(e), step);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        rc = thaw_fail(err, THAW_ERR_IO, "%s: cannot rename %s into place: "
                       "%s (previous file left unchanged)", path, tmp,
                       strerror(e));
        goto out;
    }
    /* The rename is only durable once the directory entry is on disk. */
    if (fsync_parent_dir(path) != 0) {
        rc = thaw_fail(err, THAW_ERR_IO, "%s: written, but fsync of its "
                       "directory failed: %s", path, strerror(errno));
    }
out:
    free(tmp);
    free(sizes);
    free(header);
    return rc;
}
