/* IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed
 * (zlib reads both transparently). Big-endian header: two zero bytes, a type
 * byte (0x08 = unsigned byte, the only type accepted here), the number of
 * dimensions, then one u32 per dimension; the payload follows. */
#ifndef THAW_DATA_IDX_H
#define THAW_DATA_IDX_H

#include <stdint.h>

#include "engine/core/error.h"

typedef struct ThawIdx {
    int ndim;          /* 1 (labels) or 3 (images) */
    int64_t dims[3];   /* dims[0] is the item count */
    uint8_t *data;     /* product(dims) bytes, malloc'd */
} ThawIdx;

/* Reads an unsigned-byte IDX file with `want_ndim` dimensions (1 or 3).
 * Checks the magic, the dimension count, non-zero sizes, that the payload is
 * complete and that nothing follows it. Errors name the file. */
int thaw_idx_read(const char *path, int want_ndim, ThawIdx *out,
                  ThawError *err);

void thaw_idx_free(ThawIdx *idx);

#endif
