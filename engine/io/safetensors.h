/* safetensors files: read (mmap, F32/F16/BF16 converted to F32; integer
 * tensors such as num_batches_tracked accepted) and write (atomic: temporary
 * name, fsync, rename). Format: u64 little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__":
 * {str: str}}, then the byte buffer. Every error names the file and key. */
#ifndef THAW_SAFETENSORS_H
#define THAW_SAFETENSORS_H

#include <stdint.h>
#include <stddef.h>

#include "../core/error.h"

#define ST_MAX_DIMS 8

typedef enum {
    ST_F32, ST_F16, ST_BF16, ST_F64,
    ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
} StDtype;

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;   /* byte offsets into the data buffer */
} StTensorInfo;

typedef struct SafeTensors SafeTensors;

/* Maps the file and validates the whole header: JSON, dtypes, shapes,
 * offsets inside the buffer, sizes matching dtype x numel, no overlaps. */
int st_open(SafeTensors **out, const char *path, ThawError *err);
void st_close(SafeTensors *st);

/* Same checks on an image already in memory (used by st_open and the
 * fuzzer, so parsing is tested without file I/O). buf is not copied and
 * must outlive the handle; name is what error messages call the file. */
int st_open_memory(SafeTensors **out, const void *buf, size_t len,
                   const char *name, ThawError *err);

/* Like st_open_memory, but takes ownership of buf (from malloc) in every
 * case: st_close frees it, and it is freed at once when opening fails. */
int st_open_memory_owned(SafeTensors **out, void *buf, size_t len,
                         const char *name, ThawError *err);

const char *st_path(const SafeTensors *st);
int st_count(const SafeTensors *st);
const StTensorInfo *st_info(const SafeTensors *st, int index);
const StTensorInfo *st_find(const SafeTensors *st, const char *name);
/* Raw bytes of a tensor inside the mapping. */
const void *st_data(const SafeTensors *st, const StTensorInfo *info);
/* Value of a __metadata__ key, or NULL. */
const char *st_metadata(const SafeTensors *st, const char *key);

/* Copies a float tensor (F32, F16, BF16 or F64) into dst as float32;
 * count must equal info->numel. Integer dtypes are refused with an error
 * naming the key. */
int st_read_f32(const SafeTensors *st, const StTensorInfo *info, float *dst,
                int64_t count, ThawError *err);

/* Finds name, checks the shape equals want_shape[0..want_ndim) and reads it
 * as float32. Errors name the file, the key and both shapes. */
int st_load_f32(const SafeTensors *st, const char *name, int want_ndim,
                const int64_t *want_shape, float *dst, ThawError *err);

const char *st_dtype_name(StDtype dtype);
/* Bytes per element, 0 for a value outside StDtype. */
int st_dtype_size(StDtype dtype);
/* "[2, 3, 4]" into buf; returns buf. */
char *st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);

typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;      /* numel x dtype size bytes, little-endian */
} StWriteTensor;

typedef struct {
    const char *key;
    const char *value;
} StMeta;

/* Writes path atomically: path.tmp.<pid>, fsync, rename, fsync of the
 * directory. On any failure the previous file at path is left intact and
 * the temporary is removed. */
int st_write(const char *path, const StWriteTensor *tensors, int n_tensors,
             const StMeta *meta, int n_meta, ThawError *err);

#endif
