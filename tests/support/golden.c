#include "golden.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

const char *golden_path(char *buf, size_t cap, const char *file)
{
    const char *dir = getenv("THAW_GOLDEN_DIR");
    snprintf(buf, cap, "%s/%s", dir ? dir : "goldens", file);
    return buf;
}

SafeTensors *golden_open(const char *file)
{
    char path[1024];
    ThawError err = {0};
    SafeTensors *st = NULL;
    golden_path(path, sizeof path, file);
    if (st_open(&st, path, &err) != 0) {
        fail_msg("cannot open golden %s: %s", path, err.msg);
    }
    return st;
}

float *golden_load(const SafeTensors *st, const char *key, int64_t *numel)
{
    const StTensorInfo *info = st_find(st, key);
    if (!info) {
        fail_msg("golden %s has no tensor '%s'", st_path(st), key);
        return NULL;
    }
    float *buf = malloc((size_t)(info->numel ? info->numel : 1) * sizeof(float));
    assert_non_null(buf);
    ThawError err = {0};
    if (st_read_f32(st, info, buf, info->numel, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    if (numel) {
        *numel = info->numel;
    }
    return buf;
}

int golden_shape(const SafeTensors *st, const char *key, int64_t *shape)
{
    const StTensorInfo *info = st_find(st, key);
    if (!info) {
        fail_msg("golden %s has no tensor '%s'", st_path(st), key);
        return 0;
    }
    for (int i = 0; i < info->ndim; i++) {
        shape[i] = info->shape[i];
    }
    return info->ndim;
}

int32_t *golden_load_i32(const SafeTensors *st, const char *key, int64_t *numel)
{
    const StTensorInfo *info = st_find(st, key);
    if (!info) {
        fail_msg("golden %s has no tensor '%s'", st_path(st), key);
        return NULL;
    }
    int32_t *out = malloc((size_t)(info->numel ? info->numel : 1) * sizeof(int32_t));
    assert_non_null(out);
    const void *raw = st_data(st, info);
    for (int64_t i = 0; i < info->numel; i++) {
        if (info->dtype == ST_I64) {
            int64_t v;
            memcpy(&v, (const char *)raw + 8 * i, 8);
            out[i] = (int32_t)v;
        } else if (info->dtype == ST_I32) {
            memcpy(&out[i], (const char *)raw + 4 * i, 4);
        } else {
            fail_msg("golden %s: '%s' is not an integer tensor", st_path(st), key);
        }
    }
    if (numel) {
        *numel = info->numel;
    }
    return out;
}

int golden_compare(const char *name, const float *got, const float *ref,
                   size_t n, double rel_tol)
{
    double maxdiff = 0.0, maxref = 0.0;
    size_t worst = 0;
    int nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (!isfinite(got[i])) {
            nonfinite = 1;
        }
        if (d > maxdiff) {
            maxdiff = d;
            worst = i;
        }
        if (fabs(ref[i]) > maxref) {
            maxref = fabs(ref[i]);
        }
    }
    double limit = rel_tol * maxref + 1e-30;
    int ok = !nonfinite && maxdiff <= limit;
    printf("%-4s %-40s n=%-9zu maxdiff=%.3e maxref=%.3e rel=%.2e%s\n",
           ok ? "OK" : "FAIL", name, n, maxdiff, maxref,
           maxref > 0 ? maxdiff / maxref : maxdiff,
           nonfinite ? " (non-finite values)" : "");
    if (!ok && n > 0) {
        printf("     worst at %zu: got %.8g ref %.8g\n", worst,
               (double)got[worst], (double)ref[worst]);
    }
    fflush(stdout);
    return ok;
}

int golden_check(const SafeTensors *st, const char *key, const float *got,
                 size_t n, double rel_tol)
{
    int64_t numel = 0;
    float *ref = golden_load(st, key, &numel);
    if ((size_t)numel != n) {
        printf("FAIL %s: size %zu, golden has %lld\n", key, n, (long long)numel);
        free(ref);
        return 0;
    }
    int ok = golden_compare(key, got, ref, n, rel_tol);
    free(ref);
    return ok;
}

static const char *full_key(char *buf, size_t cap, const char *prefix, const char *key)
{
    if (prefix) {
        snprintf(buf, cap, "%s.%s", prefix, key);
    } else {
        snprintf(buf, cap, "%s", key);
    }
    return buf;
}

float *golden_load_n(const SafeTensors *st, const char *prefix, const char *key,
                     size_t want)
{
    char full[160];
    int64_t numel = 0;
    float *p = golden_load(st, full_key(full, sizeof full, prefix, key), &numel);
    if ((size_t)numel != want) {
        fail_msg("golden %s: '%s' has %lld floats, the test expects %zu", st_path(st), full,
                 (long long)numel, want);
    }
    return p;
}

int golden_check_scaled(const SafeTensors *st, const char *prefix, const char *key,
                        const float *got, size_t n, float scale)
{
    char full[160], label[192];
    full_key(full, sizeof full, prefix, key);
    if (scale == 1.0f) {
        return golden_check(st, full, got, n, GOLDEN_REL_TOL);
    }
    snprintf(label, sizeof label, "%s (accumulated x%g)", full, 1.0 / scale);
    int64_t numel = 0;
    float *ref = golden_load(st, full, &numel);
    float *g = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(g);
    for (size_t i = 0; i < n; i++) {
        g[i] = got[i] * scale;
    }
    int ok = (size_t)numel == n && golden_compare(label, g, ref, n, GOLDEN_REL_TOL);
    if ((size_t)numel != n) {
        printf("FAIL %s: size %zu, golden has %lld\n", label, n, (long long)numel);
    }
    free(g);
    free(ref);
    return ok;
}
