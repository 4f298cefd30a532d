/* libFuzzer harness for the safetensors reader. Inputs go through
 * st_open_memory, the parser st_open uses, so the fuzz buffer is exactly
 * the file image and ASan sees any read past it. Every accepted file must
 * be safe to use through the public API; every rejected one must give a
 * message that names the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/safetensors.h"

#define NAME "fuzz.safetensors"

static void check_tensor(const SafeTensors *st, const StTensorInfo *ti)
{
    if (st_find(st, ti->name) != ti || ti->begin > ti->end ||
        ti->ndim < 0 || ti->ndim > ST_MAX_DIMS || ti->numel < 0) {
        abort();
    }
    /* Touch every byte the reader vouched for. */
    uint64_t bytes = ti->end - ti->begin;
    if (bytes != (uint64_t)ti->numel * (uint64_t)st_dtype_size(ti->dtype)) {
        abort();
    }
    const volatile uint8_t *p = st_data(st, ti);
    uint8_t sum = 0;
    for (uint64_t i = 0; i < bytes; i++) {
        sum ^= p[i];
    }
    (void)sum;

    float *dst = malloc((size_t)ti->numel * sizeof(float) + 1);
    if (!dst) {
        return;
    }
    ThawError err;
    int rc = st_load_f32(st, ti->name, ti->ndim, ti->shape, dst, &err);
    int is_float = ti->dtype == ST_F32 || ti->dtype == ST_F16 ||
                   ti->dtype == ST_BF16 || ti->dtype == ST_F64;
    if ((rc == 0) != is_float) {
        abort();
    }
    int64_t other[ST_MAX_DIMS + 1] = {0};
    memcpy(other, ti->shape, sizeof ti->shape);
    other[0] += 1;
    if (st_load_f32(st, ti->name, ti->ndim ? ti->ndim : 1, other, dst,
                    &err) != THAW_ERR_MISMATCH) {
        abort();
    }
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    SafeTensors *st = NULL;
    ThawError err = {0};
    if (st_open_memory(&st, data, size, NAME, &err) != 0) {
        if (st || err.code == 0 || strncmp(err.msg, NAME ": ", sizeof NAME + 1) != 0) {
            abort();
        }
        return 0;
    }
    int n = st_count(st);
    for (int i = 0; i < n; i++) {
        check_tensor(st, st_info(st, i));
    }
    (void)st_metadata(st, "format");
    (void)st_find(st, "");
    st_close(st);
    return 0;
}
