/* safetensors dtypes: names and sizes, shape strings for messages, and
 * reading a tensor as float32 (F16, BF16 and F64 converted; integer dtypes
 * refused). */
#include "safetensors_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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

int st_dtype_parse(const char *s, StDtype *out)
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
