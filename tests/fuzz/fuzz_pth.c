/* libFuzzer harness for the PyTorch checkpoint reader (engine/io/pth.c):
 * the pickle machine, the legacy stream layout and the zip directory.
 * Inputs go through pth_open_memory, so the fuzz buffer is exactly the file
 * image and ASan sees any read past it. An accepted checkpoint must be a
 * valid safetensors image whose every byte can be read; a refused one must
 * give a message that starts with the file name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/pth.h"

#define NAME "fuzz.pth"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    SafeTensors *st = NULL;
    ThawError err = {0};
    if (pth_open_memory(&st, data, size, NAME, &err) != 0) {
        if (st || err.code == 0 ||
            strncmp(err.msg, NAME ": ", sizeof NAME + 1) != 0) {
            abort();
        }
        return 0;
    }
    for (int i = 0; i < st_count(st); i++) {
        const StTensorInfo *ti = st_info(st, i);
        uint64_t bytes = ti->end - ti->begin;
        if (bytes != (uint64_t)ti->numel * (uint64_t)st_dtype_size(ti->dtype)) {
            abort();
        }
        const volatile uint8_t *p = st_data(st, ti);
        uint8_t sum = 0;
        for (uint64_t k = 0; k < bytes; k++) {
            sum ^= p[k];
        }
        (void)sum;
        if (ti->dtype == ST_F32 || ti->dtype == ST_F16 ||
            ti->dtype == ST_BF16 || ti->dtype == ST_F64) {
            float *dst = malloc((size_t)ti->numel * sizeof(float) + 1);
            if (dst && st_read_f32(st, ti, dst, ti->numel, &err) != 0) {
                abort();
            }
            free(dst);
        }
    }
    st_close(st);
    return 0;
}
