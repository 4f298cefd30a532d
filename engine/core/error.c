#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int thaw_fail(ThawError *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void thaw_error_clear(ThawError *err)
{
    if (err) {
        err->code = THAW_OK;
        err->msg[0] = '\0';
    }
}

const char *thaw_error_name(int code)
{
    switch (code) {
    case THAW_OK: return "THAW_OK";
    case THAW_ERR_IO: return "THAW_ERR_IO";
    case THAW_ERR_FORMAT: return "THAW_ERR_FORMAT";
    case THAW_ERR_MISMATCH: return "THAW_ERR_MISMATCH";
    case THAW_ERR_ARG: return "THAW_ERR_ARG";
    case THAW_ERR_NOMEM: return "THAW_ERR_NOMEM";
    case THAW_ERR_CUDA: return "THAW_ERR_CUDA";
    default: return "THAW_ERR_?";
    }
}
