/* safetensors header parsing: the JSON after the length field, checked
 * entry by entry (dtype, shape, offsets inside the buffer, size matching
 * dtype x numel), then as a table (no duplicate names, no overlapping byte
 * ranges), plus __metadata__. Nothing in the file is trusted. */
#include "safetensors_internal.h"

#include <cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Largest integer a JSON double holds exactly. */
#define ST_MAX_JSON_INT 9007199254740992.0

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
    if (!st_dtype_parse(dtype->valuestring, &ti->dtype)) {
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

int st_parse_header(SafeTensors *st, const char *json, size_t len,
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
