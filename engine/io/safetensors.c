/* safetensors read: mmap plus full header validation (writer in
 * safetensors_write.c). The parser trusts nothing in the file: every
 * offset, size and shape is checked before a pointer into the mapping is
 * handed out, so callers can read st_data() without further bounds checks. */
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (the format is little-endian)"
#endif

/* Real headers are a few hundred KB even for large LLMs; anything bigger
 * is a corrupt length field, not a header worth allocating for. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)
/* Largest integer a JSON double holds exactly. */
#define ST_MAX_JSON_INT 9007199254740992.0

struct SafeTensors {
    char *path;
    const uint8_t *data;   /* byte buffer after the header */
    uint64_t data_len;
    void *map;             /* NULL for st_open_memory */
    size_t map_len;
    void *owned;           /* st_open_memory_owned: freed by st_close */
    int n;
    StTensorInfo *t;       /* header order */
    const StTensorInfo **by_name;  /* t sorted by name, for st_find */
    int n_meta;
    char **meta_key, **meta_val;
};

static const struct { const char *name; int size; } DTYPES[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_F64] = {"F64", 8}, [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},   [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

const char *st_dtype_name(StDtype dtype)
{
    if ((int)dtype < 0 || (int)dtype >= N_DTYPES) {
        return "?";
    }
    return DTYPES[dtype].name;
}

int st_dtype_size(StDtype dtype)
{
    return ((int)dtype < 0 || (int)dtype >= N_DTYPES) ? 0 : DTYPES[dtype].size;
}

static int dtype_parse(const char *s, StDtype *out)
{
    for (int i = 0; i < N_DTYPES; i++) {
        if (strcmp(s, DTYPES[i].name) == 0) {
            *out = (StDtype)i;
            return 1;
        }
    }
    return 0;
}

char *st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    if (!buf || cap == 0) {
        return buf;
    }
    size_t used = 0;
    buf[0] = '\0';
    int n = snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n >= 0; i++) {
        used += (size_t)n;
        if (used >= cap) {
            return buf;
        }
        n = snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "",
                     (long long)shape[i]);
    }
    if (n >= 0 && used + (size_t)n < cap) {
        used += (size_t)n;
        snprintf(buf + used, cap - used, "]");
    }
    return buf;
}

/* ---- opening and validation ---------------------------------------- */

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

/* A non-negative integer JSON number that a double represents exactly. */
static int json_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item)) {
        return 0;
    }
    double d = item->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_JSON_INT) || d != (double)(uint64_t)d) {
        return 0;
    }
    *out = (uint64_t)d;
    return 1;
}

static int parse_shape(const char *file, const char *key, const cJSON *shape,
                       StTensorInfo *ti, ThawError *err)
{
    if (!cJSON_IsArray(shape)) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': 'shape' missing or not an array",
                         file, key);
    }
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': %d dims, at most %d supported",
                         file, key, ndim, ST_MAX_DIMS);
    }
    int has_zero = 0, d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t v;
        if (!json_uint(dim, &v)) {
            return thaw_fail(err, THAW_ERR_FORMAT,
                             "%s: tensor '%s': dim %d is not a non-negative "
                             "integer", file, key, d);
        }
        ti->shape[d++] = (int64_t)v;
        has_zero |= v == 0;
    }
    ti->ndim = ndim;
    /* A zero dim makes the tensor empty whatever the others say. */
    int64_t numel = has_zero ? 0 : 1;
    for (int i = 0; i < ndim && !has_zero; i++) {
        if (numel > INT64_MAX / ti->shape[i]) {
            return thaw_fail(err, THAW_ERR_FORMAT,
                             "%s: tensor '%s': element count overflows",
                             file, key);
        }
        numel *= ti->shape[i];
    }
    ti->numel = numel;
    return 0;
}

static int parse_entry(const char *file, const cJSON *entry, StTensorInfo *ti,
                       uint64_t data_len, ThawError *err)
{
    const char *key = entry->string;
    if (!cJSON_IsObject(entry)) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': entry is not an object", file, key);
    }
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dtype)) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': 'dtype' missing or not a string",
                         file, key);
    }
    if (!dtype_parse(dtype->valuestring, &ti->dtype)) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': unsupported dtype '%s'",
                         file, key, dtype->valuestring);
    }
    int rc = parse_shape(file, key,
                         cJSON_GetObjectItemCaseSensitive(entry, "shape"), ti,
                         err);
    if (rc) {
        return rc;
    }
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    uint64_t b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &b) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &e)) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': 'data_offsets' must be "
                         "[begin, end] of non-negative integers", file, key);
    }
    if (b > e) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] begin "
                         "after end", file, key, (unsigned long long)b,
                         (unsigned long long)e);
    }
    if (e > data_len) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] outside "
                         "the %llu-byte data buffer", file, key,
                         (unsigned long long)b, (unsigned long long)e,
                         (unsigned long long)data_len);
    }
    int size = st_dtype_size(ti->dtype);
    if (ti->numel > INT64_MAX / size) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': byte size overflows", file, key);
    }
    if (e - b != (uint64_t)ti->numel * (uint64_t)size) {
        char shp[160];
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: tensor '%s': %llu bytes in data_offsets but "
                         "%s %s needs %llu", file, key,
                         (unsigned long long)(e - b),
                         st_dtype_name(ti->dtype),
                         st_shape_str(shp, sizeof shp, ti->ndim, ti->shape),
                         (unsigned long long)ti->numel * (unsigned long long)size);
    }
    ti->begin = b;
    ti->end = e;
    ti->name = strdup(key);
    if (!ti->name) {
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", file);
    }
    return 0;
}

static int parse_metadata(const char *file, const cJSON *meta, SafeTensors *st,
                          ThawError *err)
{
    if (!cJSON_IsObject(meta)) {
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: '__metadata__' is not an object", file);
    }
    int n = cJSON_GetArraySize(meta);
    st->meta_key = calloc((size_t)n + 1, sizeof *st->meta_key);
    st->meta_val = calloc((size_t)n + 1, sizeof *st->meta_val);
    if (!st->meta_key || !st->meta_val) {
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", file);
    }
    const cJSON *kv;
    cJSON_ArrayForEach(kv, meta) {
        if (!cJSON_IsString(kv)) {
            return thaw_fail(err, THAW_ERR_FORMAT,
                             "%s: metadata '%s' is not a string", file,
                             kv->string);
        }
        for (int i = 0; i < st->n_meta; i++) {
            if (strcmp(st->meta_key[i], kv->string) == 0) {
                return thaw_fail(err, THAW_ERR_FORMAT,
                                 "%s: metadata key '%s' appears twice", file,
                                 kv->string);
            }
        }
        char *k = strdup(kv->string), *v = strdup(kv->valuestring);
        if (!k || !v) {
            free(k);
            free(v);
            return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", file);
        }
        st->meta_key[st->n_meta] = k;
        st->meta_val[st->n_meta] = v;
        st->n_meta++;
    }
    return 0;
}

/* Sorting pointers keeps the comparators free of shared state, so files
 * can be opened from several threads. */
static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const StTensorInfo *const *)a)->name,
                  (*(const StTensorInfo *const *)b)->name);
}

static int cmp_begin(const void *a, const void *b)
{
    const StTensorInfo *x = *(const StTensorInfo *const *)a;
    const StTensorInfo *y = *(const StTensorInfo *const *)b;
    if (x->begin != y->begin) {
        return x->begin < y->begin ? -1 : 1;
    }
    return (x->end > y->end) - (x->end < y->end);
}

/* Builds the name index, then rejects duplicate names and overlapping
 * byte ranges (empty tensors occupy no bytes and never overlap). */
static int check_table(const char *file, SafeTensors *st, ThawError *err)
{
    int n = st->n;
    const StTensorInfo **order = malloc(((size_t)n + 1) * sizeof *order);
    st->by_name = malloc(((size_t)n + 1) * sizeof *st->by_name);
    if (!order || !st->by_name) {
        free(order);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", file);
    }
    for (int i = 0; i < n; i++) {
        st->by_name[i] = order[i] = &st->t[i];
    }
    qsort(st->by_name, (size_t)n, sizeof *st->by_name, cmp_name);
    qsort(order, (size_t)n, sizeof *order, cmp_begin);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++) {
        const char *a = st->by_name[i - 1]->name;
        if (strcmp(a, st->by_name[i]->name) == 0) {
            rc = thaw_fail(err, THAW_ERR_FORMAT,
                           "%s: tensor '%s' appears twice in the header",
                           file, a);
        }
    }
    const StTensorInfo *last = NULL;   /* non-empty tensor reaching furthest */
    for (int i = 0; i < n && !rc; i++) {
        const StTensorInfo *ti = order[i];
        if (ti->begin == ti->end) {
            continue;
        }
        if (last && ti->begin < last->end) {
            rc = thaw_fail(err, THAW_ERR_FORMAT,
                           "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, "
                           "%llu] overlap", file, last->name,
                           (unsigned long long)last->begin,
                           (unsigned long long)last->end, ti->name,
                           (unsigned long long)ti->begin,
                           (unsigned long long)ti->end);
        }
        if (!last || ti->end > last->end) {
            last = ti;
        }
    }
    free(order);
    return rc;
}

static int parse_header(SafeTensors *st, const char *json, size_t len,
                        ThawError *err)
{
    const char *file = st->path;
    /* cJSON gets a NUL-terminated copy so no bug of its can read past the
     * header into tensor bytes or past the end of the mapping. */
    char *copy = malloc(len + 1);
    if (!copy) {
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory for a "
                         "%zu-byte header", file, len);
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
    int rc = 0;
    if (!root) {
        size_t at = end && end >= copy ? (size_t)(end - copy) : 0;
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: header is not valid JSON (near byte %zu)", file,
                       at + 8);
        goto out;
    }
    /* Writers pad the header with spaces; anything else after the JSON is
     * a corrupt or truncated header. */
    for (const char *p = end; p < copy + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = thaw_fail(err, THAW_ERR_FORMAT,
                           "%s: unexpected bytes after the header JSON "
                           "(byte %zu)", file, (size_t)(p - copy) + 8);
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = thaw_fail(err, THAW_ERR_FORMAT,
                       "%s: header JSON is not an object", file);
        goto out;
    }
    int total = cJSON_GetArraySize(root);
    st->t = calloc((size_t)total + 1, sizeof *st->t);
    if (!st->t) {
        rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", file);
        goto out;
    }
    int seen_meta = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (seen_meta++) {
                rc = thaw_fail(err, THAW_ERR_FORMAT,
                               "%s: '__metadata__' appears twice", file);
            } else {
                rc = parse_metadata(file, item, st, err);
            }
        } else {
            rc = parse_entry(file, item, &st->t[st->n], st->data_len, err);
            st->n += rc == 0;
        }
        if (rc) {
            goto out;
        }
    }
    rc = check_table(file, st, err);
out:
    cJSON_Delete(root);
    free(copy);
    return rc;
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
    int rc = parse_header(st, (const char *)bytes + 8, (size_t)hlen, err);
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

/* ---- conversion to float32 ----------------------------------------- */

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float32 */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (exp == 31) {
        /* inf or nan; the payload is kept */
        return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    }
    return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* Out-of-range doubles become +-inf as IEEE rounding would, without a cast
 * that C leaves undefined. */
static float f64_to_f32(double d)
{
    if (d > FLT_MAX || d < -FLT_MAX) {
        double a = d < 0 ? -d : d;
        float v = a >= (double)FLT_MAX + 0x1p103 ? INFINITY : FLT_MAX;
        return d < 0 ? -v : v;
    }
    return (float)d;
}

int st_read_f32(const SafeTensors *st, const StTensorInfo *info, float *dst,
                int64_t count, ThawError *err)
{
    if (!st || !info || (!dst && count > 0)) {
        return thaw_fail(err, THAW_ERR_ARG, "st_read_f32: NULL argument");
    }
    if (count != info->numel) {
        return thaw_fail(err, THAW_ERR_ARG,
                         "%s: key '%s' has %lld elements, caller expected %lld",
                         st->path, info->name, (long long)info->numel,
                         (long long)count);
    }
    const uint8_t *src = st->data + info->begin;
    size_t n = (size_t)count;
    switch (info->dtype) {
    case ST_F32:
        if (n) {
            memcpy(dst, src, n * sizeof(float));
        }
        return 0;
    case ST_F16:
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = info->dtype == ST_F16 ? f16_to_f32(h)
                                           : f32_from_bits((uint32_t)h << 16);
        }
        return 0;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = f64_to_f32(d);
        }
        return 0;
    default:
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: key '%s' has dtype %s, expected a float tensor "
                         "(F32, F16, BF16 or F64)", st->path, info->name,
                         st_dtype_name(info->dtype));
    }
}

int st_load_f32(const SafeTensors *st, const char *name, int want_ndim,
                const int64_t *want_shape, float *dst, ThawError *err)
{
    if (!st || !name || want_ndim < 0 || (want_ndim > 0 && !want_shape)) {
        return thaw_fail(err, THAW_ERR_ARG, "st_load_f32: bad argument");
    }
    const StTensorInfo *ti = st_find(st, name);
    if (!ti) {
        return thaw_fail(err, THAW_ERR_MISMATCH, "%s: no tensor '%s'",
                         st->path, name);
    }
    int same = ti->ndim == want_ndim;
    for (int i = 0; same && i < want_ndim; i++) {
        same = ti->shape[i] == want_shape[i];
    }
    if (!same) {
        char have[160], want[160];
        return thaw_fail(err, THAW_ERR_MISMATCH,
                         "%s: key '%s' has shape %s, expected %s", st->path,
                         name, st_shape_str(have, sizeof have, ti->ndim,
                                            ti->shape),
                         st_shape_str(want, sizeof want, want_ndim,
                                      want_shape));
    }
    return st_read_f32(st, ti, dst, ti->numel, err);
}
