/* Which device a run trains on: `--device cpu|cuda[:N]`. Plain C, no CUDA
 * headers (engine/cuda/cuda_device.h answers "not compiled in" in builds
 * without the backend), so app/ and engine/run use it in every build. */
#ifndef THAW_DEVICE_SELECT_H
#define THAW_DEVICE_SELECT_H

#include <stddef.h>

#include "engine/core/error.h"

typedef struct {
    int cuda;      /* 0: the CPU engine (the zero value); 1: CUDA device index */
    int index;
} ThawDevice;

/* "cpu", "cuda" (device 0) or "cuda:N"; anything else is THAW_ERR_ARG with
 * a line naming the accepted forms. */
int thaw_device_parse(const char *text, ThawDevice *out, ThawError *err);

/* The default: cuda:0 when this build has CUDA and the driver reports a
 * device, else cpu; why (may be NULL) gets the reason for cpu ("" for cuda). */
void thaw_device_default(ThawDevice *out, char *why, size_t cap);

/* 0 when d can be used now; else THAW_ERR_CUDA with one line giving the
 * driver's (or the build's) reason. cpu always passes. */
int thaw_device_check(const ThawDevice *d, ThawError *err);

/* The device a command runs on: arg (may be NULL) parsed and checked, or,
 * without one, the default. 0, or an error with one line (bad form, or the
 * driver's reason the asked-for GPU cannot be used). */
int thaw_device_from_arg(const char *arg, ThawDevice *out, ThawError *err);

/* "cpu" or "cuda:N". */
const char *thaw_device_text(const ThawDevice *d, char *buf, size_t cap);

#endif
