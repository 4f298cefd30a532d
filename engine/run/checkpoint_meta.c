#include "checkpoint_meta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int checkpoint_meta_i64(const SafeTensors *st, const char *path, const char *key,
                        int64_t *out, ThawError *err)
{
    const char *s = st_metadata(st, key);
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || errno || end == s || *end) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: metadata key '%s' missing or not an integer",
                         path, key);
    }
    *out = v;
    return 0;
}

int checkpoint_meta_double(const SafeTensors *st, const char *path, const char *key,
                           double *out, ThawError *err)
{
    const char *s = st_metadata(st, key);
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end) {
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: metadata key '%s' missing or not a number",
                         path, key);
    }
    *out = v;
    return 0;
}

int checkpoint_read_i64(const SafeTensors *st, const char *path, const char *key,
                        int64_t *out, ThawError *err)
{
    const StTensorInfo *info = st_find(st, key);
    if (!info || info->dtype != ST_I64 || info->numel != 1) {
        return thaw_fail(err, THAW_ERR_MISMATCH, "%s: key '%s' missing or not one int64", path,
                         key);
    }
    memcpy(out, st_data(st, info), sizeof *out);
    return 0;
}
