/* Error reporting for the engine: functions return 0 on success or a non-zero
 * code, and fill a ThawError with one human line (file, key, shapes, hint).
 * Only app/ decides to exit. */
#ifndef THAW_ERROR_H
#define THAW_ERROR_H

#include <stddef.h>

enum {
    THAW_OK = 0,
    THAW_ERR_IO = 1,      /* open/read/write/fsync/rename failed */
    THAW_ERR_FORMAT = 2,  /* malformed file: header, offsets, dtype */
    THAW_ERR_MISMATCH = 3,/* missing/extra/misshapen keys, wrong sizes */
    THAW_ERR_ARG = 4,     /* bad argument from the caller */
    THAW_ERR_NOMEM = 5,
    THAW_ERR_CUDA = 16,   /* a CUDA, cuBLAS or cuDNN call failed */
};

typedef struct ThawError {
    int code;
    char msg[512];
} ThawError;

/* Sets err (when non-NULL) to code and a printf-style message; returns code. */
int thaw_fail(ThawError *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void thaw_error_clear(ThawError *err);

/* The code's name ("THAW_ERR_CUDA"), for logs and tests; "THAW_ERR_?" when
 * unknown. */
const char *thaw_error_name(int code);

#endif
