/* Reading the progress fields of a training checkpoint (image and text
 * jobs): integers and numbers from __metadata__, one-element int64 tensors.
 * Each fails with a message naming the file and the key. */
#ifndef THAW_RUN_CHECKPOINT_META_H
#define THAW_RUN_CHECKPOINT_META_H

#include <stdint.h>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"

int checkpoint_meta_i64(const SafeTensors *st, const char *path, const char *key,
                        int64_t *out, ThawError *err);
int checkpoint_meta_double(const SafeTensors *st, const char *path, const char *key,
                           double *out, ThawError *err);
int checkpoint_read_i64(const SafeTensors *st, const char *path, const char *key,
                        int64_t *out, ThawError *err);

#endif
