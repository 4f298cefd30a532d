/* What the safetensors reader's files share: the handle (safetensors.c
 * opens, closes and answers queries), the header parser
 * (safetensors_header.c) and the dtype table and float32 conversion
 * (safetensors_dtype.c). Private to engine/io. */
#ifndef THAW_IO_SAFETENSORS_INTERNAL_H
#define THAW_IO_SAFETENSORS_INTERNAL_H

#include "safetensors.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader assumes a little-endian host (the format is little-endian)"
#endif

struct SafeTensors {
    char *path;
    const uint8_t *data;   /* byte buffer after the header */
    uint64_t data_len;
    void *map;             /* NULL for st_open_memory */
    size_t map_len;
    void *owned;           /* st_open_memory_owned: freed by st_close */
    int n;
    StTensorInfo *t;       /* header order */
    const StTensorInfo **by_name;  /* t sorted by name, for st_find */
    int n_meta;
    char **meta_key, **meta_val;
};

/* Parses and validates the len-byte header JSON at json into st (tensor
 * table, name index, metadata); st->path, st->data and st->data_len must be
 * set. On failure st holds what was parsed so far, for st_close. */
int st_parse_header(SafeTensors *st, const char *json, size_t len,
                    ThawError *err);

/* Dtype named s ("F32", "BF16", ...): 1 and *out set, or 0. */
int st_dtype_parse(const char *s, StDtype *out);

#endif
