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
