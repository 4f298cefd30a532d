/* --device parsing and the default choice (see device_select.h). */
#include "engine/cuda/device_select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_device.h"

int thaw_device_parse(const char *text, ThawDevice *out, ThawError *err)
{
    memset(out, 0, sizeof *out);
    if (text && strcmp(text, "cpu") == 0) {
        return 0;
    }
    if (text && strcmp(text, "cuda") == 0) {
        out->cuda = 1;
        return 0;
    }
    if (text && strncmp(text, "cuda:", 5) == 0 && text[5] >= '0' && text[5] <= '9') {
        char *end = NULL;
        long n = strtol(text + 5, &end, 10);
        if (*end == '\0' && n >= 0 && n < 1024) {
            out->cuda = 1;
            out->index = (int)n;
            return 0;
        }
    }
    return thaw_fail(err, THAW_ERR_ARG, "--device '%s': expected cpu, cuda or cuda:N",
                     text ? text : "");
}

void thaw_device_default(ThawDevice *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    int count = 0;
    char reason[256] = "";
    thaw_cuda_device_count(&count, reason, sizeof reason);
    out->cuda = count > 0;
    if (why && cap) {
        snprintf(why, cap, "%s", count > 0 ? "" : reason);
    }
}

int thaw_device_check(const ThawDevice *d, ThawError *err)
{
    if (!d->cuda) {
        return 0;
    }
    int count = 0;
    char reason[256] = "";
    thaw_cuda_device_count(&count, reason, sizeof reason);
    if (count == 0) {
        return thaw_fail(err, THAW_ERR_CUDA, "--device cuda:%d: no usable CUDA device: %s",
                         d->index, reason);
    }
    if (d->index >= count) {
        return thaw_fail(err, THAW_ERR_CUDA,
                         "--device cuda:%d: the driver reports %d CUDA device(s) "
                         "(cuda:0 to cuda:%d)", d->index, count, count - 1);
    }
    return 0;
}

int thaw_device_from_arg(const char *arg, ThawDevice *out, ThawError *err)
{
    if (!arg) {
        thaw_device_default(out, NULL, 0);
        return 0;
    }
    int rc = thaw_device_parse(arg, out, err);
    return rc ? rc : thaw_device_check(out, err);
}

const char *thaw_device_text(const ThawDevice *d, char *buf, size_t cap)
{
    if (d->cuda) {
        snprintf(buf, cap, "cuda:%d", d->index);
    } else {
        snprintf(buf, cap, "cpu");
    }
    return buf;
}
